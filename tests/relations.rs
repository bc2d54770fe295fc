//! Identity relationships through the client, the scripting API, the CLI and the scripts:
//! safe delete read back, refusal of a plain delete, serialised credential writes,
//! PrincipalNotFound waited out, and the orphan and dangling audits.

use std::time::Duration;

use azid::arm::federated::CredentialSpec;
use azid::arm::{ArmClient, ClientOptions, Credential, IdentityRef};
use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env};

const WEB_VERSION: &str = "2023-01-01";

fn web_path(env: &Env, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites/{name}?api-version={WEB_VERSION}",
        env.sub
    )
}

/// A site carrying the identity `id` (and a system-assigned identity of its own).
async fn attach(env: &Env, site: &str, id: &str) {
    let body = json!({"location": "eastus", "identity": {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {id: {}}}});
    let r = env
        .call(Method::PUT, &web_path(env, site), Some(body))
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
}

/// A Reader assignment of the principal at the group; returns the assignment id.
async fn assign(env: &Env, principal: &str) -> String {
    let path = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        env.sub,
        uuid::Uuid::new_v4()
    );
    let role = format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
        env.sub
    );
    let r = env
        .call(Method::PUT, &path, Some(json!({"properties": {"roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

async fn assignments_of(env: &Env, principal: &str) -> Vec<Value> {
    let path = format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'{principal}'",
        env.sub
    );
    env.list_all(&path).await.0
}

#[tokio::test]
async fn a_used_identity_is_refused_then_retired_safely() {
    let env = Env::start().await;
    env.group("rg").await;
    let identity = env.identity("rg", "app-1").await;
    let (id, principal) = (
        identity["id"].as_str().expect("id"),
        identity["properties"]["principalId"]
            .as_str()
            .expect("principal"),
    );
    attach(&env, "web", id).await;
    let assignment = assign(&env, principal).await;

    // A plain delete names what still uses it, and changes nothing.
    let refused = Azid::at(&env, &["eval", r#"identity_delete("rg", "app-1")"#])
        .run()
        .await
        .fails(1);
    assert!(
        refused
            .stderr
            .contains("(IdentityInUse) identity 'app-1' is still attached to"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("Microsoft.Web/sites/web")
            && refused.stderr.contains("assigned roles at"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.all_identity_names().await, ["app-1"]);

    // The dry-run plans every step and changes nothing.
    let safe = r#"identity_delete(identity_show("rg", "app-1"), #{detach: true, remove_role_assignments: true})"#;
    let plan = Azid::at(&env, &["eval", safe, "--dry-run"])
        .run()
        .await
        .ok();
    let site = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites/web",
        env.sub
    );
    assert!(
        plan.stdout.contains(&format!("~ update {site}")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!("- delete {assignment}")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!("- delete {id}")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 1 to update, 2 to delete."),
        "{}",
        plan.stdout
    );
    assert_eq!(env.all_identity_names().await, ["app-1"]);
    assert_eq!(assignments_of(&env, principal).await.len(), 1);

    // For real: detached (the site keeps its own identity), unassigned, deleted.
    let done = Azid::at(&env, &["eval", safe]).run().await.ok();
    assert_eq!(done.stdout.trim(), "true");
    assert!(env.all_identity_names().await.is_empty());
    assert!(
        assignments_of(&env, principal).await.is_empty(),
        "no role assignment remains"
    );
    let site_now = env
        .call(Method::GET, &web_path(&env, "web"), None)
        .await
        .body;
    assert_eq!(site_now["identity"]["type"], "SystemAssigned", "{site_now}");
    assert!(
        site_now["identity"]
            .get("userAssignedIdentities")
            .is_none_or(|m| m.as_object().is_some_and(|m| m.is_empty())),
        "{site_now}"
    );
}

#[tokio::test]
async fn bulk_deletes_check_references_once_and_fail_only_the_used() {
    let env = Env::start().await;
    env.group("rg").await;
    for name in ["free-1", "free-2", "held"] {
        env.identity("rg", name).await;
    }
    let held = env
        .call(Method::GET, &env.identity_path("rg", "held"), None)
        .await
        .body;
    attach(&env, "web", held["id"].as_str().expect("id")).await;
    let out = Azid::at(&env, &["eval", r#"identity_delete(identity_list("rg")).map(|r| [r.name, r.ok, if r.ok { "" } else { r.error.code }])"#, "-v"])
        .run()
        .await
        .ok();
    assert_eq!(
        out.json(),
        json!([
            ["free-1", true, ""],
            ["free-2", true, ""],
            ["held", false, "IdentityInUse"]
        ])
    );
    // Two Resource Graph queries for the batch, tenant-wide, not a list per identity or per
    // subscription.
    assert_eq!(
        out.stderr
            .matches("Microsoft.ResourceGraph/resources?")
            .count(),
        2,
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("roleAssignments?").count(),
        0,
        "{}",
        out.stderr
    );
    assert_eq!(env.all_identity_names().await, ["held"]);

    // force deletes it and leaves the site pointing at nothing, which the audit finds.
    let forced = Azid::at(
        &env,
        &[
            "eval",
            r#"identity_delete(identity_show("rg", "held"), #{force: true})"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(forced.stdout.trim(), "true");
    let dangling = Azid::at(
        &env,
        &[
            "eval",
            r#"import "audit" as audit; audit::dangling().resources.map(|r| r.name)"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(dangling.json(), json!(["web"]));
}

#[tokio::test]
async fn credential_writes_to_one_identity_are_serialised() {
    let env = Env::with(EmulatorOptions {
        fic_write_delay: Duration::from_millis(60),
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    let client = ArmClient::new(
        env.emu.url(),
        Credential::static_token(env.emu.token()),
        ClientOptions::default(),
    )
    .expect("client");
    let id = IdentityRef::new(&env.sub, "rg", "app-1").expect("ref");
    let writes = (0..8).map(|i| {
        let (client, id) = (client.clone(), id.clone());
        tokio::spawn(async move {
            let spec = CredentialSpec {
                issuer: "https://issuer.example".into(),
                subject: format!("subject-{i}"),
                audiences: vec![],
            };
            client.credential_put(&id, &format!("fic-{i}"), spec).await
        })
    });
    for w in writes.collect::<Vec<_>>() {
        let (made, created) = w
            .await
            .expect("join")
            .expect("no 409: writes were serialised");
        assert!(created);
        assert_eq!(made.properties.audiences, ["api://AzureADTokenExchange"]);
    }
    assert_eq!(client.stats().throttled, 0);
    assert_eq!(client.credential_list(&id).await.expect("list").len(), 8);
}

#[tokio::test]
async fn a_new_principal_is_assigned_once_the_directory_has_it() {
    let env = Env::with(EmulatorOptions {
        replication_delay: Duration::from_millis(1500),
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    let script = r#"let i = identity_create("rg", "fresh"); role_assign(i, "Reader", "/subscriptions/" + subscription() + "/resourceGroups/rg").role"#;
    let run = Azid::at(&env, &["eval", script, "-v"]).run().await.ok();
    assert_eq!(run.stdout.trim(), "\"Reader\"");
    assert!(
        run.stderr.contains("-> 400"),
        "the first try met PrincipalNotFound: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("is not replicated yet"),
        "{}",
        run.stderr
    );
    let fresh = env
        .call(Method::GET, &env.identity_path("rg", "fresh"), None)
        .await
        .body;
    assert_eq!(
        assignments_of(
            &env,
            fresh["properties"]["principalId"]
                .as_str()
                .expect("principal")
        )
        .await
        .len(),
        1
    );
}

#[tokio::test]
async fn the_orphan_audit_and_its_script() {
    let env = Env::start().await;
    env.group("rg").await;
    for name in ["bare", "with-fic", "on-site", "with-role"] {
        env.identity("rg", name).await;
    }
    let on_site = env
        .call(Method::GET, &env.identity_path("rg", "on-site"), None)
        .await
        .body;
    attach(&env, "web", on_site["id"].as_str().expect("id")).await;
    let with_role = env
        .call(Method::GET, &env.identity_path("rg", "with-role"), None)
        .await
        .body;
    assign(
        &env,
        with_role["properties"]["principalId"]
            .as_str()
            .expect("principal"),
    )
    .await;
    Azid::at(
        &env,
        &[
            "identity",
            "federated-credential",
            "create",
            "--identity-name",
            "with-fic",
            "-g",
            "rg",
            "-n",
            "gh-main",
            "--issuer",
            "https://token.actions.githubusercontent.com",
            "--subject",
            "repo:o/r:ref:refs/heads/main",
        ],
    )
    .run()
    .await
    .ok();

    let orphans = Azid::at(
        &env,
        &[
            "eval",
            r#"import "audit" as audit; audit::orphans(identity_list("rg")).map(|f| f.name)"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(orphans.json(), json!(["bare"]));
    let audit = Azid::at(&env, &["eval", r#"let a = identity_audit(identity_show("rg", "with-fic")); [a.orphan, a.federated_credentials.count, a.federated_credentials.limit]"#])
        .run()
        .await
        .ok();
    assert_eq!(audit.json(), json!([false, 1, 20]));

    let dir = env!("CARGO_MANIFEST_DIR");
    let report = Azid::at(
        &env,
        &[
            "run",
            &format!("{dir}/scripts/audit-orphans.rhai"),
            "--",
            "-g",
            "rg",
            "--strict",
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(
        report.stdout.contains("== Unused identities: 1 of 4") && report.stdout.contains("bare"),
        "{}",
        report.stdout
    );
    Azid::at(
        &env,
        &[
            "run",
            &format!("{dir}/scripts/audit-orphans.rhai"),
            "--",
            "-g",
            "rg",
        ],
    )
    .run()
    .await
    .ok();

    // retire.rhai: plan first, then for real with --yes; read back.
    let site_id = on_site["id"].as_str().expect("id");
    let planned = Azid::at(
        &env,
        &[
            "--dry-run",
            "run",
            &format!("{dir}/scripts/retire.rhai"),
            "--",
            site_id,
        ],
    )
    .run()
    .await
    .ok();
    assert!(
        planned.stdout.contains("attached to 1 resource(s)")
            && planned.stdout.contains("would be retired"),
        "{}",
        planned.stdout
    );
    assert!(
        env.all_identity_names()
            .await
            .contains(&"on-site".to_string())
    );
    let retired = Azid::at(
        &env,
        &[
            "--yes",
            "run",
            &format!("{dir}/scripts/retire.rhai"),
            "--",
            site_id,
        ],
    )
    .run()
    .await
    .ok();
    assert!(
        retired.stdout.contains("on-site: retired"),
        "{}",
        retired.stdout
    );
    assert!(
        !env.all_identity_names()
            .await
            .contains(&"on-site".to_string())
    );
    let site_now = env
        .call(Method::GET, &web_path(&env, "web"), None)
        .await
        .body;
    assert_eq!(site_now["identity"]["type"], "SystemAssigned");
}

#[tokio::test]
async fn credential_and_list_resources_commands() {
    let env = Env::start().await;
    env.group("rg").await;
    let identity = env.identity("rg", "app-1").await;
    attach(&env, "web", identity["id"].as_str().expect("id")).await;
    let base = ["--identity-name", "app-1", "-g", "rg", "-n", "gh-main"];
    let mut create = vec!["identity", "federated-credential", "create"];
    create.extend_from_slice(&base);
    create.extend_from_slice(&[
        "--issuer",
        "https://token.actions.githubusercontent.com",
        "--subject",
        "repo:o/r:ref:refs/heads/main",
    ]);
    let made = Azid::at(&env, &create).run().await.ok().json();
    let keys: Vec<&str> = made
        .as_object()
        .expect("map")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "audiences",
            "id",
            "issuer",
            "name",
            "resourceGroup",
            "subject",
            "type"
        ]
    );
    assert_eq!(made["audiences"], json!(["api://AzureADTokenExchange"]));
    let mut update = vec!["identity", "federated-credential", "update"];
    update.extend_from_slice(&base);
    update.extend_from_slice(&[
        "--issuer",
        "https://token.actions.githubusercontent.com",
        "--subject",
        "repo:o/r:environment:prod",
        "--audiences",
        "api://custom",
    ]);
    assert_eq!(
        Azid::at(&env, &update).run().await.ok().json()["subject"],
        "repo:o/r:environment:prod"
    );
    let listed = Azid::at(
        &env,
        &[
            "identity",
            "federated-credential",
            "list",
            "--identity-name",
            "app-1",
            "-g",
            "rg",
        ],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(listed[0]["audiences"], json!(["api://custom"]));
    let mut show = vec!["identity", "federated-credential", "show"];
    show.extend_from_slice(&base);
    Azid::at(&env, &show).run().await.ok();
    let mut delete = vec!["identity", "federated-credential", "delete"];
    delete.extend_from_slice(&base);
    Azid::at(&env, &delete).run().await.ok();
    Azid::at(&env, &show).run().await.fails(3);
    let bad = Azid::at(
        &env,
        &[
            "identity",
            "federated-credential",
            "create",
            "--identity-name",
            "app-1",
            "-g",
            "rg",
            "-n",
            "x",
            "--issuer",
            "ftp://nope",
            "--subject",
            "s",
        ],
    )
    .run()
    .await
    .fails(2);
    assert!(
        bad.stderr.contains("invalid federated credential name 'x'"),
        "{}",
        bad.stderr
    );

    let resources = Azid::at(
        &env,
        &["identity", "list-resources", "-g", "rg", "-n", "app-1"],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(resources[0]["name"], "web");
    assert_eq!(resources.as_array().expect("array").len(), 1);
}
