//! azid across a tenant: scope (use_scope), Resource Graph reads with every page and the
//! quota paced, tenant-wide references for deletes, and drift caught before a delete of an
//! identity chosen from Resource Graph rows.

use std::time::Duration;

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env, MSI, RES, quick};

const SUB_A: &str = "0a0a0a0a-0000-4000-8000-00000000000a";
const SUB_B: &str = "0b0b0b0b-0000-4000-8000-00000000000b";
const WEB_VERSION: &str = "2023-01-01";

async fn tenant(options: EmulatorOptions) -> Env {
    Env::with(EmulatorOptions {
        subscriptions: vec![SUB_A.into(), SUB_B.into()],
        ..options
    })
    .await
}

async fn group_in(env: &Env, sub: &str, rg: &str) {
    let path = format!("/subscriptions/{sub}/resourcegroups/{rg}?api-version={RES}");
    let r = env
        .call(Method::PUT, &path, Some(json!({"location": "eastus"})))
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
}

fn identity_path(sub: &str, rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}?api-version={MSI}"
    )
}

async fn identity_in(env: &Env, sub: &str, rg: &str, name: &str) -> Value {
    let r = env
        .call(
            Method::PUT,
            &identity_path(sub, rg, name),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    r.body
}

async fn attach_in(env: &Env, sub: &str, site: &str, identity_id: &str) {
    let path = format!(
        "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Web/sites/{site}?api-version={WEB_VERSION}"
    );
    let body = json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {}}}});
    let r = env.call(Method::PUT, &path, Some(body)).await;
    assert!(r.status.is_success(), "{:?}", r.body);
}

/// `azid` at the emulator, with subscription A current.
fn azid(env: &Env, args: &[&str]) -> Azid {
    let mut all = vec![
        "--endpoint",
        env.emu.url(),
        "--auth",
        "token",
        "--subscription",
        SUB_A,
    ];
    all.extend_from_slice(args);
    Azid::new(&all).env("AZID_TOKEN", env.emu.token())
}

#[tokio::test]
async fn an_identity_attached_in_another_subscription_blocks_a_plain_delete() {
    let env = tenant(quick()).await;
    group_in(&env, SUB_A, "rg").await;
    group_in(&env, SUB_B, "rg").await;
    let held = identity_in(&env, SUB_A, "rg", "held").await;
    identity_in(&env, SUB_A, "rg", "free").await;
    attach_in(&env, SUB_B, "web-b", held["id"].as_str().expect("id")).await;
    // The bulk form and the single form both see the site of subscription B.
    let out = azid(
        &env,
        &[
            "eval",
            r#"identity_delete(identity_list("rg")).map(|r| [r.name, r.ok, if r.ok { "" } else { r.error.code }])"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(
        out.json(),
        json!([["free", true, ""], ["held", false, "IdentityInUse"]])
    );
    let single = azid(&env, &["eval", r#"identity_delete("rg", "held")"#])
        .run()
        .await
        .fails(1);
    assert!(
        single.stderr.contains("IdentityInUse") && single.stderr.contains("web-b"),
        "{}",
        single.stderr
    );
    let left = env
        .call(Method::GET, &identity_path(SUB_A, "rg", "held"), None)
        .await;
    assert_eq!(left.status, StatusCode::OK, "the held identity is kept");
}

#[tokio::test]
async fn use_scope_lists_identities_of_every_subscription_with_their_subscription() {
    let env = tenant(quick()).await;
    for (sub, name) in [(SUB_A, "a-1"), (SUB_A, "a-2"), (SUB_B, "b-1")] {
        group_in(&env, sub, "rg").await;
        identity_in(&env, sub, "rg", name).await;
    }
    group_in(&env, SUB_B, "other").await;
    identity_in(&env, SUB_B, "other", "b-2").await;
    let script = r#"
        let one = identity_list().map(|i| i.name);
        use_scope(#{subscriptions: [SUB_A, SUB_B]});
        let graph = identity_list().map(|i| [i.name, i.subscriptionId, i.resourceGroup]);
        let arm = identity_list(#{consistent: true}).map(|i| [i.name, i.subscriptionId, i.resourceGroup]);
        use_scope(#{tenant: true});
        let tenant = identity_list().len();
        use_scope(#{});
        #{one: one, graph: graph, arm: arm, tenant: tenant, scope: scope(),
          subs: subscriptions().map(|s| s.subscriptionId)}
    "#
    .replace("SUB_A", &format!("\"{SUB_A}\""))
    .replace("SUB_B", &format!("\"{SUB_B}\""));
    let out = azid(&env, &["eval", &script]).run().await.ok();
    let v = out.json();
    assert_eq!(
        v["one"],
        json!(["a-1", "a-2"]),
        "one subscription by default"
    );
    let mut graph: Vec<Value> = v["graph"].as_array().expect("rows").clone();
    graph.sort_by_key(|r| r.to_string());
    let mut arm: Vec<Value> = v["arm"].as_array().expect("rows").clone();
    arm.sort_by_key(|r| r.to_string());
    assert_eq!(
        graph,
        vec![
            json!(["a-1", SUB_A, "rg"]),
            json!(["a-2", SUB_A, "rg"]),
            json!(["b-1", SUB_B, "rg"]),
            json!(["b-2", SUB_B, "other"]),
        ]
    );
    assert_eq!(arm, graph, "the ARM fan-out finds the same identities");
    assert_eq!(v["tenant"], json!(4));
    assert_eq!(v["scope"], json!({}));
    assert_eq!(v["subs"], json!([SUB_A, SUB_B]));
}

#[tokio::test]
async fn bad_scopes_are_refused_before_anything_is_sent() {
    let env = tenant(quick()).await;
    for (script, expect) in [
        (
            r#"use_scope(#{subscriptions: ["nope"]})"#,
            "subscription id",
        ),
        (
            r#"use_scope(#{management_group: "a/b"})"#,
            "management group",
        ),
        (r#"use_scope(#{tenant: false})"#, "tenant takes true"),
        (r#"use_scope(#{galaxy: 1})"#, "use_scope takes one of"),
        (
            r#"graph_query("resources", #{first: 0})"#,
            "first is at least 1",
        ),
    ] {
        let out = azid(&env, &["eval", script, "-v"]).run().await;
        assert_ne!(out.code, 0, "{script}");
        assert!(out.stderr.contains(expect), "{script}: {}", out.stderr);
        assert!(
            !out.stderr.contains("ResourceGraph"),
            "{script}: nothing sent"
        );
    }
}

#[tokio::test]
async fn graph_queries_are_paced_by_the_quota_and_lose_no_rows() {
    let env = tenant(EmulatorOptions {
        graph_quota: "3/1".parse().expect("quota"),
        ..quick()
    })
    .await;
    group_in(&env, SUB_A, "rg").await;
    for i in 0..5 {
        identity_in(&env, SUB_A, "rg", &format!("id-{i}")).await;
    }
    // Twelve queries against three a second: the client waits for each window instead of
    // being refused, and every query returns every row.
    let out = azid(
        &env,
        &[
            "eval",
            r#"let n = []; for i in 0..12 { n.push(graph_query("resources | project id").len()) } n"#,
            "-v",
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(out.json(), json!([5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]));
    assert_eq!(out.stderr.matches("-> 429").count(), 0, "{}", out.stderr);
}

#[tokio::test]
async fn a_drifted_identity_from_resource_graph_rows_is_not_deleted() {
    let lag = Duration::from_secs(8);
    let env = tenant(EmulatorOptions {
        graph_lag: lag,
        ..quick()
    })
    .await;
    group_in(&env, SUB_A, "rg").await;
    group_in(&env, SUB_B, "rg").await;
    for name in ["same", "recreated", "attached", "gone"] {
        identity_in(&env, SUB_A, "rg", name).await;
    }
    identity_in(&env, SUB_B, "rg", "other").await;
    // Resource Graph shows the identities once the lag has passed; the changes below then
    // reach ARM at once and Resource Graph only a lag later.
    tokio::time::sleep(lag + Duration::from_millis(500)).await;
    let path = identity_path(SUB_A, "rg", "recreated");
    env.call(Method::DELETE, &path, None).await;
    identity_in(&env, SUB_A, "rg", "recreated").await;
    env.call(Method::DELETE, &identity_path(SUB_A, "rg", "gone"), None)
        .await;
    let attached = env
        .call(Method::GET, &identity_path(SUB_A, "rg", "attached"), None)
        .await;
    attach_in(
        &env,
        SUB_A,
        "web",
        attached.body["id"].as_str().expect("id"),
    )
    .await;
    let script = r#"
        use_scope(#{tenant: true});
        let rows = identity_list().filter(|i| i.subscriptionId == SUB_A);
        identity_delete(rows).map(|r| [r.name, r.ok, if r.ok { "" } else { r.error.code }])
    "#
    .replace("SUB_A", &format!("\"{SUB_A}\""));
    for dry in [true, false] {
        let mut args = vec!["eval", script.as_str()];
        if dry {
            args.insert(0, "--dry-run");
        }
        let out = azid(&env, &args).run().await;
        // The result, then (in a dry run) the plan.
        let parsed: Value = serde_json::Deserializer::from_str(&out.stdout)
            .into_iter::<Value>()
            .next()
            .and_then(Result::ok)
            .unwrap_or(Value::Null);
        let mut got: Vec<Value> = parsed.as_array().cloned().unwrap_or_default();
        got.sort_by_key(|r| r.to_string());
        assert_eq!(
            got,
            vec![
                json!(["attached", false, "Drifted"]),
                json!(["gone", false, "Drifted"]),
                json!(["recreated", false, "Drifted"]),
                json!(["same", true, ""]),
            ],
            "dry-run {dry}: {} {}",
            out.stdout,
            out.stderr
        );
    }
    let names: Vec<String> = env.all_identity_names().await;
    for kept in ["attached", "recreated"] {
        assert!(
            names.iter().any(|n| n == kept),
            "{kept} was kept: {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n == "same"), "{names:?}");
}

#[tokio::test]
async fn graph_query_prints_what_az_prints_with_paging_table_and_query() {
    let env = tenant(quick()).await;
    group_in(&env, SUB_A, "rg").await;
    for i in 0..3 {
        identity_in(&env, SUB_A, "rg", &format!("id-{i}")).await;
    }
    let kql = "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project id, name | order by name asc";
    let first = azid(&env, &["graph", "query", "-q", kql, "--first", "2"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(first["count"], json!(2));
    assert_eq!(first["total_records"], json!(3));
    assert_eq!(first["data"][1]["name"], json!("id-1"));
    let token = first["skip_token"].as_str().expect("a token for the rest");
    let next = azid(&env, &["graph", "query", "-q", kql, "--skip-token", token])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(
        next["data"],
        json!([{"id": next["data"][0]["id"], "name": "id-2"}])
    );
    assert_eq!(next["skip_token"], Value::Null);
    let skipped = azid(
        &env,
        &[
            "graph",
            "query",
            "-q",
            kql,
            "--skip",
            "2",
            "--subscriptions",
            SUB_A,
        ],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(skipped["count"], json!(1));
    let table = azid(&env, &["graph", "query", "-q", kql, "-o", "table"])
        .run()
        .await
        .ok();
    assert!(table.stdout.starts_with("Name"), "{}", table.stdout);
    assert_eq!(table.stdout.matches("id-").count(), 3, "{}", table.stdout);
    let names = azid(
        &env,
        &["graph", "query", "-q", kql, "--query", "data[].name"],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(names, json!(["id-0", "id-1", "id-2"]));
    let bad = azid(
        &env,
        &["graph", "query", "-q", kql, "--subscriptions", "nope", "-v"],
    )
    .run()
    .await
    .fails(2);
    assert!(
        bad.stderr.contains("subscription id") && !bad.stderr.contains("POST"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn scope_flags_reach_identity_list_and_scripts() {
    let env = tenant(quick()).await;
    for (sub, name) in [(SUB_A, "a-1"), (SUB_B, "b-1")] {
        group_in(&env, sub, "rg").await;
        identity_in(&env, sub, "rg", name).await;
    }
    let both = format!("{SUB_A},{SUB_B}");
    for args in [
        vec!["identity", "list", "--subscriptions", &both],
        vec!["--subscriptions", &both, "identity", "list"],
        vec!["identity", "list", "--all-subscriptions"],
    ] {
        let out = azid(&env, &args).run().await.ok().json();
        let mut got: Vec<(String, String)> = out
            .as_array()
            .expect("a list")
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap_or("").to_string(),
                    i["subscriptionId"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![("a-1".into(), SUB_A.into()), ("b-1".into(), SUB_B.into())],
            "{args:?}"
        );
    }
    // The table shows the subscription when more than one is in scope, and not otherwise.
    let wide = azid(
        &env,
        &["identity", "list", "--all-subscriptions", "-o", "table"],
    )
    .run()
    .await
    .ok();
    assert!(wide.stdout.contains("SubscriptionId"), "{}", wide.stdout);
    let one = azid(&env, &["identity", "list", "-o", "table"])
        .run()
        .await
        .ok();
    assert!(!one.stdout.contains("SubscriptionId"), "{}", one.stdout);
    // Scripts start in the scope the flags name, before or after the subcommand.
    for args in [
        vec![
            "--all-subscriptions",
            "eval",
            "[scope(), identity_list().len()]",
        ],
        vec![
            "eval",
            "[scope(), identity_list().len()]",
            "--all-subscriptions",
        ],
    ] {
        let out = azid(&env, &args).run().await.ok().json();
        assert_eq!(out, json!([{"tenant": true}, 2]), "{args:?}");
    }
    let root = env.emu.tenant_id().to_string();
    let out = azid(
        &env,
        &["--management-group", &root, "eval", "identity_list().len()"],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(out, json!(2), "the root group holds every subscription");
    let refused = azid(
        &env,
        &[
            "--all-subscriptions",
            "identity",
            "show",
            "-g",
            "rg",
            "-n",
            "a-1",
        ],
    )
    .run()
    .await
    .fails(2);
    assert!(
        refused.stderr.contains("does not apply to"),
        "{}",
        refused.stderr
    );
}

async fn assign_in(env: &Env, sub: &str, principal: &str) {
    let path = format!(
        "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        uuid::Uuid::new_v4()
    );
    let role = format!(
        "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    );
    let r = env
        .call(Method::PUT, &path, Some(json!({"properties": {"roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn audits_see_uses_and_identities_in_other_subscriptions() {
    let env = tenant(quick()).await;
    group_in(&env, SUB_A, "rg").await;
    group_in(&env, SUB_B, "rg").await;
    let roles = identity_in(&env, SUB_A, "rg", "has-role-in-b").await;
    identity_in(&env, SUB_A, "rg", "unused").await;
    assign_in(
        &env,
        SUB_B,
        roles["properties"]["principalId"]
            .as_str()
            .expect("principal"),
    )
    .await;
    // A site of subscription A carries an identity of subscription B: nothing dangles.
    let elsewhere = identity_in(&env, SUB_B, "rg", "from-b").await;
    attach_in(&env, SUB_A, "web-a", elsewhere["id"].as_str().expect("id")).await;
    let out = azid(
        &env,
        &[
            "eval",
            r#"import "audit" as audit;
               #{orphans: audit::orphans(identity_list("rg")).map(|f| f.name),
                 dangling: audit::dangling().resources.map(|r| r.name)}"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(out.json(), json!({"orphans": ["unused"], "dangling": []}));
    // The shipped script runs over the tenant with the flag.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/inventory.rhai");
    let inventory = azid(&env, &["--all-subscriptions", "run", script])
        .run()
        .await
        .ok();
    assert!(
        inventory.stdout.starts_with("3 identities in the tenant\n"),
        "{}",
        inventory.stdout
    );
}

#[tokio::test]
async fn graph_queries_batch_more_than_1000_subscriptions() {
    let env = tenant(quick()).await;
    for (sub, name) in [(SUB_A, "a-1"), (SUB_B, "b-1")] {
        group_in(&env, sub, "rg").await;
        identity_in(&env, sub, "rg", name).await;
    }
    // 1,200 subscriptions: A first, B in the second batch; the others are unknown.
    let mut subs: Vec<String> = (0..1200)
        .map(|i| format!("\"00000000-0000-4000-9000-{i:012}\""))
        .collect();
    subs[0] = format!("\"{SUB_A}\"");
    subs[1100] = format!("\"{SUB_B}\"");
    let script = format!(
        "graph_query(\"resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project name | order by name asc\", #{{subscriptions: [{}]}}).map(|r| r.name)",
        subs.join(",")
    );
    let out = azid(&env, &["eval", &script, "-v"]).run().await.ok();
    assert_eq!(out.json(), json!(["a-1", "b-1"]));
    assert_eq!(
        out.stderr
            .matches("Microsoft.ResourceGraph/resources?")
            .count(),
        2,
        "one request per batch of 1,000: {}",
        out.stderr
    );
}

#[tokio::test]
async fn a_large_batch_reads_the_tenant_references_whole_and_misses_none() {
    let env = tenant(quick()).await;
    group_in(&env, SUB_A, "rg").await;
    group_in(&env, SUB_B, "rg").await;
    let names: Vec<String> = (0..1010).map(|i| format!("\"n-{i:04}\"")).collect();
    azid(
        &env,
        &[
            "--concurrency",
            "64",
            "eval",
            &format!(
                "identity_create(\"rg\", [{}], #{{}}).len()",
                names.join(",")
            ),
        ],
    )
    .run()
    .await
    .ok();
    let attached = env
        .call(Method::GET, &identity_path(SUB_A, "rg", "n-0007"), None)
        .await;
    attach_in(
        &env,
        SUB_B,
        "web-b",
        attached.body["id"].as_str().expect("id"),
    )
    .await;
    let assigned = env
        .call(Method::GET, &identity_path(SUB_A, "rg", "n-1003"), None)
        .await;
    assign_in(
        &env,
        SUB_B,
        assigned.body["properties"]["principalId"]
            .as_str()
            .expect("principal"),
    )
    .await;
    // Id strings carry no principal: those are read from Resource Graph too, in chunks.
    let out = azid(
        &env,
        &[
            "--concurrency",
            "64",
            "-v",
            "eval",
            r#"identity_delete(identity_list("rg").map(|i| i.id)).filter(|r| !r.ok).map(|r| [r.name, r.error.code])"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(
        out.json(),
        json!([["n-0007", "IdentityInUse"], ["n-1003", "IdentityInUse"]])
    );
    let queries = out
        .stderr
        .matches("Microsoft.ResourceGraph/resources?")
        .count();
    assert!(
        queries <= 8,
        "{queries} Resource Graph requests for 1,010 identities"
    );
    assert_eq!(env.all_identity_names().await, ["n-0007", "n-1003"]);
}

#[tokio::test]
async fn one_subscription_in_scope_is_the_current_one_for_every_call() {
    let env = tenant(quick()).await;
    group_in(&env, SUB_B, "rg-b").await;
    identity_in(&env, SUB_B, "rg-b", "b-1").await;
    let out = azid(
        &env,
        &[
            "--subscriptions",
            SUB_B,
            "eval",
            "[subscription(), identity_list().len(), group_list().map(|g| g.name), resource_list().len()]",
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(out.json(), json!([SUB_B, 1, ["rg-b"], 1]));
}

#[test]
fn the_repl_starts_in_the_scope_of_the_flags_and_use_scope_changes_it() {
    use rexpect::session::spawn_command;
    let (local, home) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_azid"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("TERM", "xterm")
        .arg(format!("--local={}", local.path().display()))
        .arg("--all-subscriptions");
    let mut s = spawn_command(cmd, Some(20_000)).expect("azid starts on a pty");
    s.exp_string(":help lists what you can do").expect("banner");
    s.send_line("to_json(scope())").expect("send");
    s.exp_string("{\"tenant\":true}").expect("the tenant scope");
    s.send_line("use_scope(#{}); to_json(scope())")
        .expect("send");
    s.exp_string("{}").expect("one subscription again");
    s.send_line(":quit").expect("send");
    s.exp_eof().expect("ends");
}

#[tokio::test]
async fn the_readme_tenant_example_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let section = readme
        .split("## Across a tenant")
        .nth(1)
        .expect("the section");
    let block = section
        .split("```rhai\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("its example");
    let env = tenant(quick()).await;
    group_in(&env, SUB_B, "rg").await;
    identity_in(&env, SUB_B, "rg", "untagged").await;
    let out = azid(&env, &["--dry-run", "eval", block]).run().await.ok();
    assert!(
        out.stdout.contains("- delete /subscriptions/0b0b0b0b") && out.stdout.contains("untagged"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn the_orphan_audit_lists_credentials_only_of_identities_nothing_else_uses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("requests.jsonl");
    let env = tenant(EmulatorOptions {
        request_log: Some(log.clone()),
        fic_write_delay: Duration::ZERO,
        ..quick()
    })
    .await;
    group_in(&env, SUB_A, "rg").await;
    let attached = identity_in(&env, SUB_A, "rg", "attached").await;
    attach_in(&env, SUB_A, "web-a", attached["id"].as_str().expect("id")).await;
    let role = identity_in(&env, SUB_A, "rg", "has-role").await;
    assign_in(
        &env,
        SUB_A,
        role["properties"]["principalId"]
            .as_str()
            .expect("principal"),
    )
    .await;
    let credential = identity_in(&env, SUB_A, "rg", "has-credential").await;
    let path = format!(
        "{}/federatedIdentityCredentials/gh-main?api-version=2023-01-31",
        credential["id"].as_str().expect("id")
    );
    let body = json!({"properties": {"issuer": "https://issuer.example", "subject": "s", "audiences": ["api://AzureADTokenExchange"]}});
    let r = env.call(Method::PUT, &path, Some(body)).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    identity_in(&env, SUB_A, "rg", "unused").await;
    let before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count();
    let out = azid(
        &env,
        &[
            "eval",
            r#"import "audit" as audit; audit::orphans(identity_list("rg")).map(|f| f.name)"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(out.json(), json!(["unused"]));
    let text = std::fs::read_to_string(&log).expect("request log");
    let listed: Vec<String> = text
        .lines()
        .skip(before)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["method"] == "GET")
        .filter_map(|r| r["path"].as_str().map(str::to_lowercase))
        .filter(|p| p.ends_with("/federatedidentitycredentials"))
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|p| p.contains("/has-credential/") || p.contains("/unused/")),
        "{listed:?}"
    );
}

#[tokio::test]
async fn dangling_finds_role_assignments_left_at_a_management_group() {
    let env = tenant(EmulatorOptions {
        management_groups: vec!["mg-apps".parse().expect("group")],
        placements: vec![format!("{SUB_A}@mg-apps").parse().expect("placement")],
        ..quick()
    })
    .await;
    group_in(&env, SUB_A, "rg").await;
    let gone = identity_in(&env, SUB_A, "rg", "gone").await;
    let principal = gone["properties"]["principalId"]
        .as_str()
        .expect("principal");
    let path = format!(
        "/providers/Microsoft.Management/managementGroups/mg-apps/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        uuid::Uuid::new_v4()
    );
    let body = json!({"properties": {
        "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "principalId": principal, "principalType": "ServicePrincipal"}});
    let r = env.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = env
        .call(Method::DELETE, &identity_path(SUB_A, "rg", "gone"), None)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let script = r#"import "audit" as audit; audit::dangling().role_assignments.map(|a| a.scope)"#;
    // In the one subscription below the group, and across the tenant.
    for flags in [&[][..], &["--all-subscriptions"][..]] {
        let mut args = flags.to_vec();
        args.extend(["eval", script]);
        let out = azid(&env, &args).run().await.ok();
        assert_eq!(
            out.json(),
            json!(["/providers/Microsoft.Management/managementGroups/mg-apps"]),
            "{flags:?}"
        );
    }
}

#[tokio::test]
async fn tenant_references_are_read_once_for_audits_and_again_after_a_write() {
    let env = tenant(quick()).await;
    group_in(&env, SUB_A, "rg").await;
    group_in(&env, SUB_B, "rg").await;
    let used = identity_in(&env, SUB_A, "rg", "used").await;
    attach_in(&env, SUB_B, "web-b", used["id"].as_str().expect("id")).await;
    assign_in(
        &env,
        SUB_B,
        used["properties"]["principalId"]
            .as_str()
            .expect("principal"),
    )
    .await;
    // A site left naming an identity deleted after it was attached.
    let gone = identity_in(&env, SUB_B, "rg", "gone").await;
    attach_in(&env, SUB_B, "web-gone", gone["id"].as_str().expect("id")).await;
    let r = env
        .call(Method::DELETE, &identity_path(SUB_B, "rg", "gone"), None)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let out = azid(
        &env,
        &[
            "--all-subscriptions",
            "-v",
            "eval",
            r#"
            let first = tenant_references();
            let again = tenant_references();
            group_create("rg-new", "eastus");
            let after = tenant_references();
            #{resources: first.resources.map(|r| [r.name, r.type, r.resourceGroup, r.subscriptionId, r.identities]),
              assigned: first.role_assignments.map(|a| a.principalId),
              again: again.resources.len(), after: after.resources.len()}
            "#,
        ],
    )
    .run()
    .await
    .ok();
    let v = out.json();
    let principal = used["properties"]["principalId"].clone();
    assert_eq!(
        v["resources"],
        json!([
            ["web-b", "Microsoft.Web/sites", "rg", SUB_B, [used["id"]]],
            ["web-gone", "Microsoft.Web/sites", "rg", SUB_B, [gone["id"]]],
        ])
    );
    assert_eq!(v["assigned"], json!([principal]));
    assert_eq!(
        (v["again"].clone(), v["after"].clone()),
        (json!(2), json!(2))
    );
    // Two queries for the first read, none for the second, two after the write.
    let queries = out
        .stderr
        .lines()
        .filter(|l| l.contains(" POST ") && l.contains("/Microsoft.ResourceGraph/resources?"))
        .count();
    assert_eq!(queries, 4, "{}", out.stderr);
}

/// The tenant inventory through Resource Graph comes packed, many identities to a row, and
/// matches ARM field for field; when ARG finds a page too large the pages get smaller and
/// no identity is lost, and a single bucket too large for any page is a clear error.
#[tokio::test]
async fn the_tenant_inventory_comes_packed_and_pages_shrink_past_the_size_limit() {
    let env = tenant(EmulatorOptions {
        graph_response_limit: 12 * 1024,
        graph_quota: "10000/1".parse().expect("quota"),
        ..quick()
    })
    .await;
    let mut count = 0;
    for sub in [SUB_A, SUB_B] {
        for rg in ["rg-1", "rg-2"] {
            group_in(&env, sub, rg).await;
            for i in 0..40 {
                identity_in(&env, sub, rg, &format!("id-{i:02}")).await;
                count += 1;
            }
        }
    }
    let fields = "|i| [i.id, i.name, i.location, i.principalId, i.clientId, i.tenantId, i.subscriptionId, i.resourceGroup]";
    let script = format!(
        "#{{graph: identity_list().map({fields}), arm: identity_list(#{{consistent: true}}).map({fields})}}"
    );
    let out = azid(&env, &["--all-subscriptions", "-v", "eval", &script])
        .run()
        .await
        .ok();
    let v = out.json();
    let graph = v["graph"].as_array().expect("rows").clone();
    let mut arm = v["arm"].as_array().expect("rows").clone();
    arm.sort_by_key(|r| r[0].as_str().unwrap_or("").to_string());
    assert_eq!(graph.len(), count);
    assert_eq!(
        graph, arm,
        "Resource Graph shows what ARM lists, in id order"
    );
    let queries: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("Microsoft.ResourceGraph/resources?"))
        .collect();
    assert!(
        queries.iter().any(|l| l.contains("-> 400")),
        "a page past the limit was refused: {queries:?}"
    );
    let served = queries.iter().filter(|l| l.contains("-> 200")).count();
    assert!(
        served < count / 4,
        "{count} identities in {served} pages: {queries:?}"
    );

    let tiny = tenant(EmulatorOptions {
        graph_response_limit: 200,
        ..quick()
    })
    .await;
    group_in(&tiny, SUB_A, "rg").await;
    identity_in(&tiny, SUB_A, "rg", "one").await;
    let out = azid(
        &tiny,
        &["--all-subscriptions", "eval", "identity_list().len()"],
    )
    .run()
    .await
    .fails(1);
    assert!(
        out.stderr.contains("(ResponsePayloadTooLarge)") && out.stderr.contains("limit of 200"),
        "{}",
        out.stderr
    );
}

/// Resource Graph says what is wrong with a query only in its error's details; azid shows
/// them.
#[tokio::test]
async fn a_bad_query_is_reported_with_resource_graphs_details() {
    let env = tenant(quick()).await;
    let out = azid(&env, &["graph", "query", "-q", "resources | frobnicate"])
        .run()
        .await
        .fails(1);
    assert!(
        out.stderr.contains("(InvalidQuery)") && out.stderr.contains("frobnicate"),
        "{}",
        out.stderr
    );
}
