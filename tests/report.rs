//! The identity report (`scripts/report.rhai` over `report::html`): its numbers against counts
//! computed here from the emulator's state, an HTML page that parses and references nothing
//! outside itself, and ARM values shown as text.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use scraper::{Html, Selector};
use serde_json::{Value, json};

use crate::harness::{Azid, Env, quick};

const HOSTILE: &str = "<script>alert('x')</script>";

fn select(doc: &Html, css: &str) -> Vec<String> {
    let sel = Selector::parse(css).expect("selector");
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

/// Two groups of identities: some attached to sites (one site also names a deleted identity),
/// one holding a role, one with 17 federated credentials, one tagged with markup.
async fn tenant(env: &Env) -> Vec<Value> {
    env.group("rg").await;
    env.group("other").await;
    let mut ids = Vec::new();
    for (rg, name) in [
        ("rg", "app-1"),
        ("rg", "app-2"),
        ("rg", "app-3"),
        ("other", "db-1"),
        ("other", "db-2"),
        ("other", "gone"),
    ] {
        ids.push(env.identity(rg, name).await);
    }
    let tag = |i: usize, tags: Value| {
        let path = env.identity_path(
            ids[i]["id"].as_str().unwrap().split('/').nth(4).unwrap(),
            ids[i]["name"].as_str().unwrap(),
        );
        (path, tags)
    };
    for (path, tags) in [
        tag(0, json!({"owner": "team-a"})),
        tag(1, json!({"owner": HOSTILE})),
        tag(3, json!({"owner": "team-b", "env": "prod"})),
    ] {
        let r = env
            .call(Method::PATCH, &path, Some(json!({"tags": tags})))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    for (site, id) in [("web-1", 0usize), ("web-2", 5)] {
        let path = format!(
            "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites/{site}?api-version=2023-01-01",
            env.sub
        );
        let body = json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {ids[id]["id"].as_str().unwrap(): {}}}});
        let r = env.call(Method::PUT, &path, Some(body)).await;
        assert!(r.status.is_success(), "{:?}", r.body);
    }
    let path = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        env.sub,
        uuid::Uuid::new_v4()
    );
    let role = format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
        env.sub
    );
    let principal = ids[4]["properties"]["principalId"].as_str().unwrap();
    let r = env
        .call(Method::PUT, &path, Some(json!({"properties": {"roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    for n in 0..17 {
        let path = format!(
            "{}/federatedIdentityCredentials/fic-{n}?api-version=2023-01-31",
            ids[2]["id"].as_str().unwrap()
        );
        let body = json!({"properties": {"issuer": "https://issuer.example", "subject": format!("s-{n}"), "audiences": ["api://AzureADTokenExchange"]}});
        let r = env.call(Method::PUT, &path, Some(body)).await;
        assert!(r.status.is_success(), "{:?}", r.body);
    }
    // The site web-2 keeps naming it: a dangling reference.
    let r = env
        .call(
            Method::DELETE,
            &format!("{}?api-version=2023-01-31", ids[5]["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    // A lock on group `other` holds db-1 and db-2.
    let lock = format!(
        "/subscriptions/{}/resourceGroups/other/providers/Microsoft.Authorization/locks/keep?api-version=2020-05-01",
        env.sub
    );
    let r = env
        .call(
            Method::PUT,
            &lock,
            Some(json!({"properties": {"level": "CanNotDelete"}})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    ids.pop();
    ids
}

/// The report's headline numbers computed from what the emulator holds.
async fn expected(env: &Env) -> BTreeMap<&'static str, u64> {
    let (identities, _) = env.list_all(&env.identities_in_sub()).await;
    let (resources, _) = env
        .list_all(&format!(
            "/subscriptions/{}/resources?api-version=2021-04-01",
            env.sub
        ))
        .await;
    let (assignments, _) = env
        .list_all(&format!("/subscriptions/{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", env.sub))
        .await;
    let known: BTreeSet<String> = identities
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_lowercase())
        .collect();
    let mut attached = BTreeSet::new();
    let mut dangling = 0;
    for r in &resources {
        let Some(uai) = r["identity"]["userAssignedIdentities"].as_object() else {
            continue;
        };
        let mut missing = false;
        for id in uai.keys() {
            if known.contains(&id.to_lowercase()) {
                attached.insert(id.to_lowercase());
            } else {
                missing = true;
            }
        }
        dangling += u64::from(missing);
    }
    let (locks, _) = env
        .list_all(&format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/locks?api-version=2020-05-01",
            env.sub
        ))
        .await;
    let locked_scopes: Vec<String> = locks
        .iter()
        .map(|l| {
            l["id"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .split("/providers/microsoft.authorization/locks/")
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let locked = identities
        .iter()
        .filter(|i| {
            let id = i["id"].as_str().unwrap().to_lowercase();
            locked_scopes
                .iter()
                .any(|s| id == *s || id.starts_with(&format!("{s}/")))
        })
        .count() as u64;
    let holders: BTreeSet<String> = assignments
        .iter()
        .map(|a| {
            a["properties"]["principalId"]
                .as_str()
                .unwrap()
                .to_lowercase()
        })
        .collect();
    let (mut orphans, mut untagged, mut near) = (0, 0, 0);
    for i in &identities {
        let id = i["id"].as_str().unwrap();
        let (fics, _) = env
            .list_all(&format!(
                "{id}/federatedIdentityCredentials?api-version=2023-01-31"
            ))
            .await;
        let principal = i["properties"]["principalId"]
            .as_str()
            .unwrap()
            .to_lowercase();
        if !attached.contains(&id.to_lowercase())
            && !holders.contains(&principal)
            && fics.is_empty()
        {
            orphans += 1;
        }
        if i["tags"].as_object().is_none_or(|t| t.is_empty()) {
            untagged += 1;
        }
        near += u64::from(fics.len() >= 16);
    }
    BTreeMap::from([
        ("identities", identities.len() as u64),
        ("orphans", orphans),
        ("dangling_references", dangling),
        ("untagged", untagged),
        ("locked", locked),
        ("near_credential_limit", near),
    ])
}

#[tokio::test]
async fn the_report_counts_what_the_emulator_holds_in_one_page_of_its_own() {
    let env = Env::with(EmulatorOptions {
        fic_write_delay: Duration::ZERO,
        ..quick()
    })
    .await;
    tenant(&env).await;
    let want = expected(&env).await;
    assert_eq!(want["identities"], 5);
    assert_eq!(want["locked"], 2);
    assert!(
        want["orphans"] > 0
            && want["dangling_references"] > 0
            && want["near_credential_limit"] == 1
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report.html");
    let json_out = dir.path().join("report.json");
    let root = dir.path().to_str().unwrap();
    let run = Azid::at(
        &env,
        &[
            "--allow-write",
            root,
            "run",
            "scripts/report.rhai",
            "--",
            "--out",
            out.to_str().unwrap(),
            "--json-out",
            json_out.to_str().unwrap(),
        ],
    )
    .cwd(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
    .run()
    .await
    .ok();
    assert!(run.stdout.contains("5 identities"), "{}", run.stdout);

    let data: Value = serde_json::from_str(&std::fs::read_to_string(&json_out).expect("json"))
        .expect("json parses");
    for (k, v) in &want {
        assert_eq!(
            data["numbers"][k].as_u64(),
            Some(*v),
            "{k}: {}",
            data["numbers"]
        );
    }
    assert_eq!(data["numbers"]["subscriptions"], 1);

    // Across the tenant (here one subscription) the report reads its identities through ARM
    // lists and counts the same.
    let wide = dir.path().join("wide.json");
    Azid::at(
        &env,
        &[
            "--all-subscriptions",
            "--allow-write",
            root,
            "run",
            "scripts/report.rhai",
            "--",
            "--out",
            dir.path().join("wide.html").to_str().unwrap(),
            "--json-out",
            wide.to_str().unwrap(),
        ],
    )
    .cwd(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
    .run()
    .await
    .ok();
    let wide: Value =
        serde_json::from_str(&std::fs::read_to_string(&wide).expect("json")).expect("json parses");
    assert_eq!(wide["numbers"], data["numbers"]);

    let html = std::fs::read_to_string(&out).expect("html");
    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "parse errors: {:?}", doc.errors);
    // The headline cards hold the same numbers.
    let values = select(&doc, "section.numbers .num .v");
    let labels = select(&doc, "section.numbers .num .l");
    let shown: BTreeMap<String, String> = labels.into_iter().zip(values).collect();
    assert_eq!(shown["identities"], want["identities"].to_string());
    assert_eq!(shown["orphans"], want["orphans"].to_string());
    assert_eq!(
        shown["dangling references"],
        want["dangling_references"].to_string()
    );
    assert_eq!(shown["untagged"], want["untagged"].to_string());
    assert_eq!(shown["locked"], want["locked"].to_string());
    // Sections and charts.
    let titles = select(&doc, "section h2");
    for t in [
        "At a glance",
        "Identities per subscription",
        "Identities per owner",
        "Orphans per subscription",
        "Federated credentials, most first",
    ] {
        assert!(titles.iter().any(|x| x == t), "{t} in {titles:?}");
    }
    assert_eq!(select(&doc, "section.bars svg").len(), 4);
    assert!(
        select(&doc, "section.bars svg text")
            .iter()
            .any(|t| t == "limit 20")
    );
    // Every identity is a row of the last table.
    let last = select(&doc, "section.table:last-of-type tbody tr");
    assert_eq!(last.len() as u64, want["identities"]);
    // Nothing outside the page: no src, no href, no url() or @import, one script (its own).
    for css in [
        "[src]", "[href]", "link", "iframe", "object", "embed", "img",
    ] {
        assert!(select(&doc, css).is_empty(), "{css} found");
    }
    assert!(!html.contains("url(") && !html.contains("@import"));
    assert_eq!(select(&doc, "script").len(), 1);
    // The hostile tag value is text in cells and chart labels, not markup.
    assert!(select(&doc, "td").iter().any(|t| t.contains(HOSTILE)));
    assert!(
        select(&doc, "svg text")
            .iter()
            .any(|t| t.contains("<script>"))
    );
}

#[tokio::test]
async fn the_report_refuses_bad_arguments_before_reading_anything() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().unwrap();
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = Azid::at(&env, &["--allow-write", root, "run", "scripts/report.rhai"])
        .cwd(manifest)
        .run()
        .await
        .fails(2);
    assert!(
        run.stderr.contains("--out FILE is required"),
        "{}",
        run.stderr
    );
    // A file outside --allow-write is refused at once.
    let run = Azid::at(
        &env,
        &[
            "--allow-write",
            root,
            "run",
            "scripts/report.rhai",
            "--",
            "--out",
            "/tmp/elsewhere.html",
        ],
    )
    .cwd(manifest)
    .run()
    .await;
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("allow-write"), "{}", run.stderr);
}
