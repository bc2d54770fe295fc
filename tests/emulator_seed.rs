//! The tenant seed (`--seed-tenant SUBS:IDENTITIES`): what it loads, read back over HTTP through
//! ARM lists and Resource Graph queries, against counts the test computes itself from the
//! distribution the README documents (never from the library's own rules).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use azid::emulator::{Emulator, EmulatorOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env, MSI, RES, Spawned, seeded};

const N: usize = 5;
const M: usize = 200;
const GROUPS: usize = 4;
const GRAPH: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01";
const UAI_TYPE: &str = "microsoft.managedidentity/userassignedidentities";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const MI_OPERATOR: &str = "f1a07417-d97a-45cb-824c-7a7467783830";
const KINDS: [&str; 4] = [
    "microsoft.compute/virtualmachines",
    "microsoft.web/sites",
    "microsoft.containerservice/managedclusters",
    "microsoft.app/containerapps",
];
const TYPES: [&str; 4] = [
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Web/sites",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.App/containerApps",
];
const PREFIXES: [&str; 4] = ["vm", "app", "aks", "ca"];
/// The seeded management groups and their parents (`None`: the tenant's root).
const MGS: [(&str, Option<&str>); 4] = [
    ("mg-platform", None),
    ("mg-workloads", None),
    ("mg-prod", Some("mg-workloads")),
    ("mg-dev", Some("mg-workloads")),
];

/// The group a seeded subscription sits in (`None`: the root).
fn sub_group(s: usize) -> Option<&'static str> {
    [Some("mg-platform"), Some("mg-prod"), Some("mg-dev"), None][s % 4]
}

// The documented distribution, written out again here.

fn sub_id(s: usize) -> String {
    format!("00000000-5eed-4000-8000-{s:012}")
}

fn identity_home(i: usize) -> (usize, usize) {
    (i % N, (i / N) % GROUPS)
}

fn resource_home(r: usize) -> (usize, usize) {
    let s = if r.is_multiple_of(3) {
        (r + 1) % N
    } else {
        r % N
    };
    (s, (r / N) % GROUPS)
}

fn identity_id(i: usize) -> String {
    let (s, g) = identity_home(i);
    format!(
        "/subscriptions/{}/resourceGroups/rg-{g}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{i:06}",
        sub_id(s)
    )
}

fn expected_fics(i: usize) -> usize {
    if i % 50 == 3 {
        18 + (i / 50) % 3
    } else if i % 10 == 1 {
        1 + (i / 10) % 3
    } else {
        0
    }
}

fn expected_refs(r: usize) -> Vec<String> {
    match r % 10 {
        4 | 8 | 9 => vec![],
        1 if r + 1 < M => vec![identity_id(r), identity_id(r + 1)],
        _ => vec![identity_id(r)],
    }
}

fn is_orphan(i: usize) -> bool {
    i % 10 == 4 || i % 10 == 9
}

/// The index in a seeded name such as `id-000042` or `vm-000040`.
fn index_of(name: &str) -> usize {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name} ends in an index"))
}

/// Every row of a Resource Graph query, 1,000 a page.
async fn graph(env: &Env, query: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let options = match &token {
            Some(t) => json!({"$top": 1000, "$skipToken": t}),
            None => json!({"$top": 1000}),
        };
        let r = env
            .call(
                Method::POST,
                GRAPH,
                Some(json!({"query": query, "options": options})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
        rows.extend(r.body["data"].as_array().expect("data").iter().cloned());
        token = r.body["$skipToken"].as_str().map(str::to_string);
        if token.is_none() {
            return rows;
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn arm_lists_show_the_documented_subscriptions_groups_and_identities() {
    let env = Env::seeded(N, M).await;
    let (subs, _) = env.list_all("/subscriptions?api-version=2022-12-01").await;
    let listed: BTreeSet<String> = subs.iter().map(|s| text(&s["subscriptionId"])).collect();
    let expected: BTreeSet<String> = (0..N).map(sub_id).collect();
    assert_eq!(listed, expected);

    for s in 0..N {
        let sub = sub_id(s);
        let (groups, _) = env
            .list_all(&format!(
                "/subscriptions/{sub}/resourcegroups?api-version={RES}"
            ))
            .await;
        let names: Vec<String> = groups.iter().map(|g| text(&g["name"])).collect();
        assert_eq!(names, ["rg-0", "rg-1", "rg-2", "rg-3"]);

        let (identities, _) = env
            .list_all(&format!(
                "/subscriptions/{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version={MSI}"
            ))
            .await;
        let mine: Vec<usize> = (0..M).filter(|i| i % N == s).collect();
        assert_eq!(identities.len(), mine.len(), "identities in {sub}");
        for identity in &identities {
            let i = index_of(&text(&identity["name"]));
            assert_eq!(i % N, s, "identity {i} is in subscription {s}");
            let (_, g) = identity_home(i);
            assert_eq!(
                identity["id"].as_str().map(str::to_ascii_lowercase),
                Some(identity_id(i).to_ascii_lowercase())
            );
            assert_eq!(
                identity["location"],
                ["eastus", "westeurope", "westus2"][i % 3]
            );
            let tags = identity["tags"].as_object().cloned().unwrap_or_default();
            match i % 7 {
                6 => assert!(tags.is_empty(), "identity {i} is untagged: {tags:?}"),
                5 => {
                    assert_eq!(tags.len(), 1, "identity {i}: {tags:?}");
                    assert_eq!(tags["env"], ["prod", "dev", "test"][i % 3]);
                }
                _ => assert_eq!(
                    tags.get("owner").and_then(Value::as_str),
                    Some(format!("team-{}", i % 5).as_str()),
                    "identity {i}"
                ),
            }
            assert!(g < GROUPS);
        }

        // The subscription's resource list holds its identities and its generic resources.
        let (all, _) = env
            .list_all(&format!(
                "/subscriptions/{sub}/resources?api-version=2021-04-01"
            ))
            .await;
        let generic = (0..M).filter(|r| resource_home(*r).0 == s).count();
        assert_eq!(all.len(), mine.len() + generic, "resources in {sub}");
    }
}

#[tokio::test]
async fn resource_graph_counts_match_the_documented_distribution() {
    let env = Env::seeded(N, M).await;
    let by_type = graph(&env, "resources | summarize n = count() by type").await;
    let counts: BTreeMap<String, u64> = by_type
        .iter()
        .map(|r| (text(&r["type"]), r["n"].as_u64().unwrap_or(0)))
        .collect();
    let mut expected = BTreeMap::from([(UAI_TYPE.to_string(), M as u64)]);
    for (k, kind) in KINDS.iter().enumerate() {
        expected.insert(
            kind.to_string(),
            (0..M).filter(|r| r % 4 == k).count() as u64,
        );
    }
    assert_eq!(counts, expected);

    let no_owner = graph(
        &env,
        &format!("resources | where type =~ '{UAI_TYPE}' | where isempty(tags.owner) | count"),
    )
    .await;
    let untagged = (0..M).filter(|i| i % 7 >= 5).count() as u64;
    assert_eq!(no_owner[0]["Count"], json!(untagged));

    let groups = graph(
        &env,
        "resourcecontainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups' | count",
    )
    .await;
    assert_eq!(groups[0]["Count"], json!(N * GROUPS));

    // Role assignments: one per identity by its index modulo 10, at every kind of scope.
    let principals: HashMap<String, usize> = graph(
        &env,
        &format!(
            "resources | where type =~ '{UAI_TYPE}' | project name, principal = tostring(properties.principalId)"
        ),
    )
    .await
    .iter()
    .map(|r| (text(&r["principal"]), index_of(&text(&r["name"]))))
    .collect();
    assert_eq!(principals.len(), M, "every principal id differs");
    let assignments = graph(
        &env,
        "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' \
         | project scope = tostring(properties.scope), principal = tostring(properties.principalId), \
           role = tostring(properties.roleDefinitionId)",
    )
    .await;
    let mut seen = BTreeSet::new();
    for a in &assignments {
        let i = principals[&text(&a["principal"])];
        assert!(seen.insert(i), "identity {i} holds one role assignment");
        let (s, g) = identity_home(i);
        let (rs, rg) = resource_home(i);
        let (scope, role) = match i % 10 {
            0 => (format!("/subscriptions/{}", sub_id((s + 1) % N)), READER),
            1 => (
                format!("/subscriptions/{}/resourceGroups/rg-{rg}", sub_id(rs)),
                CONTRIBUTOR,
            ),
            2 => (
                format!(
                    "/subscriptions/{}/resourceGroups/rg-{rg}/providers/{}/{}-{i:06}",
                    sub_id(rs),
                    TYPES[i % 4],
                    PREFIXES[i % 4]
                ),
                MI_OPERATOR,
            ),
            3 => (format!("/subscriptions/{}", sub_id(s)), READER),
            5 => (identity_id(i), MI_OPERATOR),
            8 => (
                format!("/subscriptions/{}/resourceGroups/rg-{g}", sub_id(s)),
                READER,
            ),
            7 if i % 100 == 7 => (
                format!(
                    "/providers/Microsoft.Management/managementGroups/{}",
                    MGS[(i / 100) % MGS.len()].0
                ),
                READER,
            ),
            k => panic!("identity {i} (class {k}) holds no role"),
        };
        assert_eq!(text(&a["scope"]), scope, "identity {i}");
        assert!(text(&a["role"]).ends_with(role), "identity {i}");
    }
    let expected: BTreeSet<usize> = (0..M)
        .filter(|i| matches!(i % 10, 0 | 1 | 2 | 3 | 5 | 8) || i % 100 == 7)
        .collect();
    assert_eq!(seen, expected);

    // Through ARM too: the list at a subscription shows what is at and below it, and what is
    // at the management groups above it (subscription 0 sits in mg-platform).
    let sub = sub_id(0);
    let (listed, _) = env
        .list_all(&format!(
            "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
        ))
        .await;
    let within = assignments
        .iter()
        .filter(|a| {
            let scope = text(&a["scope"]);
            scope.starts_with(&format!("/subscriptions/{sub}"))
                || scope == "/providers/Microsoft.Management/managementGroups/mg-platform"
        })
        .count();
    assert_eq!(listed.len(), within);
    assert!(
        listed
            .iter()
            .any(|a| text(&a["properties"]["scope"]).contains("managementGroups"))
    );
}

#[tokio::test]
async fn references_cross_subscriptions_some_dangle_and_orphans_are_unused() {
    let env = Env::seeded(N, M).await;
    let identities: HashMap<String, String> = graph(
        &env,
        &format!(
            "resources | where type =~ '{UAI_TYPE}' | project id, principal = tostring(properties.principalId)"
        ),
    )
    .await
    .iter()
    .map(|r| (text(&r["id"]).to_ascii_lowercase(), text(&r["principal"])))
    .collect();
    let resources = graph(
        &env,
        &format!("resources | where type !~ '{UAI_TYPE}' | project id, name, type, subscriptionId, identity"),
    )
    .await;
    assert_eq!(resources.len(), M);

    let mut referenced = BTreeSet::new();
    let (mut cross, mut dangling) = (0, 0);
    for res in &resources {
        let r = index_of(&text(&res["name"]));
        assert_eq!(text(&res["type"]), KINDS[r % 4]);
        assert_eq!(text(&res["subscriptionId"]), sub_id(resource_home(r).0));
        let block = &res["identity"];
        let user = block["userAssignedIdentities"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        match r % 10 {
            8 => assert!(block.is_null(), "resource {r} has no identity: {block}"),
            9 => {
                assert_eq!(block["type"], "SystemAssigned", "resource {r}");
                assert!(user.is_empty());
            }
            4 => {
                let (id, shown) = user.iter().next().expect("one reference");
                assert_eq!(user.len(), 1);
                assert!(id.ends_with(&format!("/ghost-{r:06}")), "{id}");
                assert_eq!(shown, &json!({}), "a dangling reference shows nothing");
                let gone = env
                    .call(Method::GET, &format!("{id}?api-version={MSI}"), None)
                    .await;
                assert_eq!(gone.status, StatusCode::NOT_FOUND, "{id}");
                dangling += 1;
            }
            _ => {
                let got: BTreeSet<String> = user.keys().map(|k| k.to_ascii_lowercase()).collect();
                let want: BTreeSet<String> = expected_refs(r)
                    .iter()
                    .map(|k| k.to_ascii_lowercase())
                    .collect();
                assert_eq!(got, want, "resource {r}");
                for (id, shown) in &user {
                    let key = id.to_ascii_lowercase();
                    assert_eq!(
                        shown["principalId"].as_str(),
                        identities.get(&key).map(String::as_str),
                        "resource {r} shows {id}'s principal"
                    );
                    referenced.insert(index_of(id));
                    let owner_sub = id.split('/').nth(2).unwrap_or_default();
                    if owner_sub != text(&res["subscriptionId"]) {
                        cross += 1;
                    }
                }
            }
        }
    }
    let want_cross = (0..M)
        .flat_map(|r| expected_refs(r).into_iter().map(move |id| (r, id)))
        .filter(|(r, id)| id.split('/').nth(2) != Some(sub_id(resource_home(*r).0).as_str()))
        .count();
    assert!(want_cross > M / 5, "a good share crosses subscriptions");
    assert_eq!(cross, want_cross);
    assert_eq!(dangling, (0..M).filter(|r| r % 10 == 4).count());

    // Orphans: nothing references them, they hold no role and have no credential.
    let assigned: BTreeSet<String> = graph(
        &env,
        "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' \
         | project principal = tostring(properties.principalId)",
    )
    .await
    .iter()
    .map(|a| text(&a["principal"]))
    .collect();
    let mut orphans = 0;
    for i in 0..M {
        let (s, g) = identity_home(i);
        let fics = env
            .list_all(&format!(
                "/subscriptions/{}/resourceGroups/rg-{g}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{i:06}/federatedIdentityCredentials?api-version={MSI}",
                sub_id(s)
            ))
            .await
            .0;
        assert_eq!(fics.len(), expected_fics(i), "credentials of identity {i}");
        let principal = &identities[&identity_id(i).to_ascii_lowercase()];
        let unused = !referenced.contains(&i) && !assigned.contains(principal) && fics.is_empty();
        assert_eq!(unused, is_orphan(i), "identity {i}");
        orphans += usize::from(unused);
    }
    assert_eq!(orphans, M / 5);

    // One near the limit is at it: a 21st credential is refused.
    let full = (0..M)
        .find(|i| expected_fics(*i) == 20)
        .expect("one has 20");
    let (s, g) = identity_home(full);
    let r = env
        .call(
            Method::PUT,
            &format!(
                "/subscriptions/{}/resourceGroups/rg-{g}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{full:06}/federatedIdentityCredentials/one-more?api-version={MSI}",
                sub_id(s)
            ),
            Some(json!({"properties": {"issuer": "https://example.test", "subject": "s", "audiences": ["api://AzureADTokenExchange"]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
}

#[tokio::test]
async fn a_seeded_data_file_is_not_seeded_again_and_keeps_its_subscriptions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("tenant.db");
    let options = |seed: bool| EmulatorOptions {
        data: Some(data.clone()),
        ..if seed {
            seeded(2, 10)
        } else {
            crate::harness::quick()
        }
    };
    drop(
        Emulator::start(options(true))
            .await
            .expect("first start seeds"),
    );

    let again = Emulator::start(options(true)).await;
    let message = again.err().expect("a second seed is refused").to_string();
    assert!(message.contains("already holds"), "{message}");

    let env = Env::with(options(false)).await;
    assert_eq!(env.emu.subscriptions(), [sub_id(0), sub_id(1)]);
    assert_eq!(env.all_identity_names().await.len(), 5, "nothing was added");
}

#[tokio::test]
async fn the_binary_seeds_refuses_bad_specs_and_local_serves_the_seeded_file() {
    let bad = Azid::new(&["emulator", "--seed-tenant", "0:5"]).run().await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("number of subscriptions"), "{bad:?}");
    let bad = Azid::new(&["emulator", "--seed-tenant", "5"]).run().await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("SUBS:IDENTITIES"), "{bad:?}");

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("emulator.db");
    let data_arg = data.to_string_lossy().to_string();
    let spawned = Spawned::start(&[
        "--listen",
        "127.0.0.1:0",
        "--data",
        &data_arg,
        "--seed-tenant",
        "3:30",
    ]);
    assert_eq!(
        spawned.all("SUBSCRIPTION"),
        [sub_id(0), sub_id(1), sub_id(2)]
    );
    spawned.kill9();

    // `--local=DIR` serves the same file: its first subscription holds identities 0, 3, 6, ...
    let local = format!("--local={}", dir.path().display());
    let listed = Azid::new(&[&local, "identity", "list"])
        .run()
        .await
        .ok()
        .json();
    let mut names: Vec<String> = listed
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|i| text(&i["name"]))
        .collect();
    names.sort();
    let want: Vec<String> = (0..30).step_by(3).map(|i| format!("id-{i:06}")).collect();
    assert_eq!(names, want);
}

#[tokio::test]
async fn the_seed_builds_a_management_group_tree_with_subscriptions_in_it() {
    let env = Env::seeded(N, M).await;
    let tenant = env.emu.tenant_id().to_string();
    let groups = graph(
        &env,
        "resourcecontainers | where type =~ 'microsoft.management/managementgroups' | project name",
    )
    .await;
    let names: BTreeSet<String> = groups.iter().map(|g| text(&g["name"])).collect();
    let mut want: BTreeSet<String> = MGS.iter().map(|(g, _)| g.to_string()).collect();
    want.insert(tenant.clone());
    assert_eq!(names, want);
    let subs = graph(
        &env,
        "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' \
         | project subscriptionId, chain = properties.managementGroupAncestorsChain",
    )
    .await;
    assert_eq!(subs.len(), N);
    for row in &subs {
        let id = text(&row["subscriptionId"]);
        let s = (0..N)
            .find(|s| sub_id(*s) == id)
            .expect("a seeded subscription");
        let chain: Vec<String> = row["chain"]
            .as_array()
            .expect("chain")
            .iter()
            .map(|c| text(&c["name"]))
            .collect();
        let mut expected = Vec::new();
        let mut at = sub_group(s);
        while let Some(g) = at {
            expected.push(g.to_string());
            at = MGS.iter().find(|(n, _)| *n == g).and_then(|(_, p)| *p);
        }
        expected.push(tenant.clone());
        assert_eq!(chain, expected, "subscription {s}");
    }
    // Through Microsoft.Management too: mg-workloads holds mg-prod and mg-dev.
    let r = env
        .call(
            Method::GET,
            "/providers/Microsoft.Management/managementGroups/mg-workloads?api-version=2023-04-01&$expand=children",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let children: BTreeSet<String> = r.body["properties"]["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| text(&c["name"]))
        .collect();
    let expected: BTreeSet<String> = ["mg-prod", "mg-dev"]
        .into_iter()
        .map(String::from)
        .chain((0..N).filter(|s| s % 4 == 1 || s % 4 == 2).map(sub_id))
        .filter(|n| n.starts_with("mg-"))
        .collect();
    assert!(expected.is_subset(&children), "{children:?}");
}
