//! Management locks through the client: `lock_list` as ARM returns it, a `ScopeLocked` delete
//! that fails its own item once (never retried) and names the lock's scope, dry-run plans
//! that mark what locks would stop from one lock read per subscription, `audit::locked`, and
//! the safe delete of a locked identity, which detaches and unassigns nothing. Each outcome is
//! read back from the emulator.

use azid::arm::{ArmClient, ClientOptions, Credential, IdentityRef};
use azid::emulator::EmulatorOptions;
use azid::host::{Host, HostOptions, Limits};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env, quick};

const LOCKS: &str = "2020-05-01";

fn group_id(env: &Env, rg: &str) -> String {
    format!("/subscriptions/{}/resourceGroups/{rg}", env.sub)
}

fn identity_id(env: &Env, rg: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        group_id(env, rg)
    )
}

async fn lock(env: &Env, scope: &str, name: &str, level: &str) {
    let r = env
        .call(
            Method::PUT,
            &format!("{scope}/providers/Microsoft.Authorization/locks/{name}?api-version={LOCKS}"),
            Some(json!({"properties": {"level": level}})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
}

/// A site in `rg` carrying the identity `id`.
async fn attach(env: &Env, rg: &str, site: &str, id: &str) -> String {
    let path = format!(
        "{}/providers/Microsoft.Web/sites/{site}?api-version=2023-01-01",
        group_id(env, rg)
    );
    let body = json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {id: {}}}});
    let r = env.call(Method::PUT, &path, Some(body)).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    path
}

async fn exists(env: &Env, rg: &str, name: &str) -> bool {
    let r = env
        .call(Method::GET, &env.identity_path(rg, name), None)
        .await;
    r.status == StatusCode::OK
}

fn app1_of(env: &Env) -> String {
    identity_id(env, "rg", "app-1")
}

fn client(env: &Env) -> ArmClient {
    ArmClient::new(
        env.emu.url(),
        Credential::static_token(env.emu.token()),
        ClientOptions::default(),
    )
    .expect("client")
}

/// `lock_list(scope)` hands back every page of what ARM lists, maps as ARM shapes them; a
/// scope that is no subscription, group or resource id is refused before anything is sent.
#[tokio::test]
async fn lock_list_returns_the_locks_as_arm_lists_them() {
    let env = Env::with(EmulatorOptions {
        page_size: 1,
        ..quick()
    })
    .await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    let sub = format!("/subscriptions/{}", env.sub);
    lock(&env, &sub, "l-sub", "CanNotDelete").await;
    lock(&env, &group_id(&env, "rg"), "l-rg", "ReadOnly").await;
    lock(
        &env,
        &identity_id(&env, "rg", "app-1"),
        "l-app",
        "CanNotDelete",
    )
    .await;
    let run = Azid::at(
        &env,
        &[
            "-o",
            "json",
            "eval",
            &format!(r#"lock_list("{}")"#, group_id(&env, "rg")),
        ],
    )
    .run()
    .await
    .ok();
    let (expected, pages) = env
        .list_all(&format!(
            "{}/providers/Microsoft.Authorization/locks?api-version={LOCKS}",
            group_id(&env, "rg")
        ))
        .await;
    assert_eq!(pages, 3, "one lock a page");
    assert_eq!(run.json(), Value::Array(expected));

    let refused = Azid::at(&env, &["eval", r#"lock_list("rg")"#])
        .run()
        .await
        .fails(1);
    assert!(refused.stderr.contains("InvalidArgument"), "{refused:?}");
}

/// A delete a lock stops fails its own item with 409 `ScopeLocked` naming the locked scope,
/// after one request (it is never retried); the other items go on. Read back: only the
/// locked identity is left.
#[tokio::test]
async fn a_scope_locked_delete_fails_its_item_once() {
    let env = Env::start().await;
    env.group("rg").await;
    for name in ["app-1", "app-2", "app-3"] {
        env.identity("rg", name).await;
    }
    let locked = identity_id(&env, "rg", "app-2");
    lock(&env, &locked, "keep", "CanNotDelete").await;

    let client = client(&env);
    let before = client.stats();
    let err = client
        .identity_delete(&IdentityRef::new(&env.sub, "rg", "app-2").expect("ref"))
        .await
        .expect_err("locked");
    assert_eq!((err.status(), err.code()), (Some(409), "ScopeLocked"));
    assert!(err.message().contains(&format!("'{locked}'")), "{err}");
    assert_eq!((client.stats() - before).requests, 1, "never retried");

    let run = Azid::at(
        &env,
        &[
            "-o",
            "json",
            "eval",
            r#"identity_delete(identity_list("rg"))"#,
        ],
    )
    .run()
    .await
    .ok();
    let results = run.json();
    let oks: Vec<bool> = results
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["ok"].as_bool().expect("ok"))
        .collect();
    assert_eq!(oks, vec![true, false, true]);
    let failed = &results[1];
    assert_eq!(failed["status"], 409);
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["error"]["code"], "ScopeLocked");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains(&locked),
        "{failed}"
    );
    assert_eq!(env.all_identity_names().await, vec!["app-2"]);
}

/// A dry run marks each planned change a lock would stop — deletes under `CanNotDelete`,
/// updates under `ReadOnly` — with the locked scope, counts them, exits 1 and changes nothing.
#[tokio::test]
async fn dry_run_plans_mark_what_locks_would_stop() {
    let env = Env::start().await;
    env.group("rg").await;
    env.group("frozen").await;
    env.identity("rg", "app-1").await;
    env.identity("rg", "app-2").await;
    env.identity("frozen", "app-3").await;
    let app2 = identity_id(&env, "rg", "app-2");
    let frozen = group_id(&env, "frozen");
    lock(&env, &app2, "keep", "CanNotDelete").await;
    lock(&env, &frozen, "ro", "ReadOnly").await;
    let script = r#"
        let r = identity_delete(identity_list("rg"));
        identity_update("frozen", "app-3", #{tags: #{owner: "me"}});
        print(to_json(r.map(|x| [x.ok, x.status])));
    "#;
    let run = Azid::at(&env, &["--dry-run", "eval", script])
        .run()
        .await
        .fails(1);
    // ARM spells the ids it lists in its own case; compare ignoring it, as ARM does.
    let (app1, app2) = (app1_of(&env).to_lowercase(), app2.to_lowercase());
    let (app3, frozen) = (
        identity_id(&env, "frozen", "app-3").to_lowercase(),
        frozen.to_lowercase(),
    );
    let stdout = run.stdout.to_lowercase();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.contains(&format!("- delete {app1}").as_str()),
        "{run:?}"
    );
    assert!(
        lines.contains(&format!("- delete {app2}  ! would fail: scopelocked ({app2})").as_str()),
        "{run:?}"
    );
    assert!(
        lines.contains(&format!("~ update {app3}  ! would fail: scopelocked ({frozen})").as_str()),
        "{run:?}"
    );
    assert!(stdout.contains("2 would fail with scopelocked."), "{run:?}");
    let compact: String = run.stdout.split_whitespace().collect();
    assert!(compact.contains("[[true,200],[false,409]]"), "{run:?}");
    assert_eq!(
        env.all_identity_names().await,
        vec!["app-1", "app-2", "app-3"],
        "a dry run changes nothing"
    );
}

/// `audit::locked(list)` names the identities a lock keeps, with the locks that apply.
#[tokio::test]
async fn audit_locked_lists_the_locked_identities() {
    let env = Env::start().await;
    env.group("rg").await;
    env.group("held").await;
    env.identity("rg", "free").await;
    env.identity("rg", "kept").await;
    env.identity("held", "inside").await;
    lock(
        &env,
        &identity_id(&env, "rg", "kept"),
        "keep",
        "CanNotDelete",
    )
    .await;
    lock(&env, &group_id(&env, "held"), "ro", "ReadOnly").await;
    lock(
        &env,
        &identity_id(&env, "rg", "free"),
        "note",
        "NotSpecified",
    )
    .await;
    let run = Azid::at(
        &env,
        &[
            "-o",
            "json",
            "eval",
            r#"import "audit" as audit; audit::locked(identity_list()).map(|f| [f.name, f.level, f.locks.map(|l| l.scope)])"#,
        ],
    )
    .run()
    .await
    .ok();
    let mut rows = run.json().as_array().expect("array").clone();
    rows.sort_by_key(|r| r[0].as_str().unwrap_or("").to_string());
    assert_eq!(
        Value::Array(rows),
        json!([
            ["inside", "ReadOnly", [group_id(&env, "held")]],
            ["kept", "CanNotDelete", [identity_id(&env, "rg", "kept")]],
        ])
    );
}

/// The safe delete of a locked identity plans only its delete (marked), and when run detaches
/// nothing: the site keeps carrying the identity and the identity stays.
#[tokio::test]
async fn the_safe_delete_of_a_locked_identity_touches_nothing_else() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    env.identity("rg", "app-2").await;
    let app1 = identity_id(&env, "rg", "app-1");
    let app2 = identity_id(&env, "rg", "app-2");
    let site1 = attach(&env, "rg", "web-1", &app1).await;
    let site2 = attach(&env, "rg", "web-2", &app2).await;
    lock(&env, &app1, "keep", "CanNotDelete").await;

    let dry = Azid::at(
        &env,
        &[
            "--dry-run",
            "eval",
            r#"identity_delete(identity_list("rg"), #{detach: true}); ()"#,
        ],
    )
    .run()
    .await
    .fails(1);
    let stdout = dry.stdout.to_lowercase();
    let site2_id = site2.split('?').next().expect("id").to_lowercase();
    let site1_id = site1.split('?').next().expect("id").to_lowercase();
    let app1_key = app1.to_lowercase();
    assert!(
        stdout.contains(&format!(
            "- delete {app1_key}  ! would fail: scopelocked ({app1_key})"
        )),
        "{dry:?}"
    );
    assert!(stdout.contains(&format!("~ update {site2_id}")), "{dry:?}");
    assert!(!stdout.contains(&site1_id), "no detach planned: {dry:?}");

    // One at a time, and then for real.
    let run = Azid::at(
        &env,
        &[
            "eval",
            r#"identity_delete(identity_show("rg", "app-1"), #{detach: true})"#,
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(run.stderr.contains("ScopeLocked"), "{run:?}");
    assert!(exists(&env, "rg", "app-1").await);
    let site = env.call(Method::GET, &site1, None).await;
    assert!(
        site.body["identity"]["userAssignedIdentities"]
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(&app1))),
        "the site still carries the locked identity: {:?}",
        site.body
    );
    let run = Azid::at(
        &env,
        &[
            "-o",
            "json",
            "eval",
            r#"identity_delete(identity_list("rg"), #{detach: true}).map(|r| r.ok)"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(run.json(), json!([false, true]));
    assert!(exists(&env, "rg", "app-1").await);
    assert!(!exists(&env, "rg", "app-2").await);
    let site = env.call(Method::GET, &site1, None).await;
    assert!(site.body["identity"]["userAssignedIdentities"].is_object());
}

/// A dry run reads the locks once per subscription, not once per item: planning the delete
/// of 24 identities sends as many requests as planning 8.
#[tokio::test]
async fn a_plan_reads_the_locks_once_per_subscription() {
    let env = Env::start().await;
    for rg in ["rg-a", "rg-b"] {
        env.group(rg).await;
        for i in 0..12 {
            env.identity(rg, &format!("app-{i:02}")).await;
        }
    }
    lock(&env, &group_id(&env, "rg-b"), "keep", "CanNotDelete").await;
    let url = env.emu.url().to_string();
    let token = env.emu.token().to_string();
    let sub = env.sub.clone();
    let runtime = tokio::runtime::Handle::current();
    let (few, many, plan) = tokio::task::spawn_blocking(move || {
        let client = ArmClient::new(&url, Credential::static_token(&token), ClientOptions::default())
            .expect("client");
        let host = Host::new(
            client.clone(),
            sub,
            runtime,
            HostOptions {
                limits: Limits::default(),
                dry_run: true,
                yes: false,
                interactive: false,
                script_dir: ".".into(),
                concurrency: 4,
                progress: false,
                permissions: Default::default(),
                local: false,
                scope: Default::default(),
            },
        );
        let mut requests = Vec::new();
        for take in [4, 12] {
            let script = format!(
                r#"let all = identity_list("rg-a").extract(0, {take}) + identity_list("rg-b").extract(0, {take});
                   identity_delete(all, #{{detach: true}}); ()"#
            );
            let mut scope = rhai::Scope::new();
            let before = client.stats();
            let _ = host.run(&mut scope, "plan", &script).expect("runs");
            requests.push((client.stats() - before).requests);
        }
        let plan = host.take_plan().to_string();
        (requests[0], requests[1], plan)
    })
    .await
    .expect("joins");
    assert_eq!(few, many, "the reads of a batch do not grow with the batch");
    assert_eq!(
        plan.matches("! would fail: ScopeLocked").count(),
        12,
        "{plan}"
    );
}

/// `azid lock list` as az prints it, at the subscription, a group (`-g`) or a resource
/// (`--resource ID`); a malformed resource id and `--concurrency` are refused.
#[tokio::test]
async fn lock_list_command_prints_what_az_prints() {
    let env = Env::start().await;
    env.group("rg").await;
    env.group("other").await;
    env.identity("rg", "app-1").await;
    let app = identity_id(&env, "rg", "app-1");
    lock(&env, &group_id(&env, "rg"), "l-rg", "CanNotDelete").await;
    lock(&env, &app, "l-app", "ReadOnly").await;
    lock(&env, &group_id(&env, "other"), "l-other", "ReadOnly").await;
    let names = |run: &crate::harness::Run| {
        let mut names: Vec<String> = run
            .json()
            .as_array()
            .expect("array")
            .iter()
            .map(|l| l["name"].as_str().unwrap_or("").to_string())
            .collect();
        names.sort();
        names
    };
    let all = Azid::at(&env, &["lock", "list"]).run().await.ok();
    assert_eq!(names(&all), vec!["l-app", "l-other", "l-rg"]);
    let in_rg = Azid::at(&env, &["lock", "list", "-g", "rg"])
        .run()
        .await
        .ok();
    assert_eq!(names(&in_rg), vec!["l-app", "l-rg"]);
    let on_app = Azid::at(&env, &["lock", "list", "--resource", &app])
        .run()
        .await
        .ok();
    assert_eq!(names(&on_app), vec!["l-app", "l-rg"]);
    let row = on_app
        .json()
        .as_array()
        .expect("array")
        .iter()
        .find(|l| l["name"] == "l-app")
        .cloned()
        .expect("l-app");
    assert_eq!(
        row,
        json!({
            "id": format!("{app}/providers/Microsoft.Authorization/locks/l-app"),
            "level": "ReadOnly",
            "name": "l-app",
            "notes": null,
            "owners": null,
            "resourceGroup": "rg",
            "type": "Microsoft.Authorization/locks",
        })
    );
    let bad = Azid::at(&env, &["lock", "list", "--resource", "app-1"])
        .run()
        .await;
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("scope"), "{bad:?}");
    let refused = Azid::at(&env, &["--concurrency", "4", "lock", "list"])
        .run()
        .await;
    assert_eq!(refused.code, 2, "{refused:?}");
}

/// The az-style commands do the same: `--dry-run` marks the delete of a locked identity and of
/// a group holding a lock (exit 1), `identity delete --detach` of a locked identity detaches
/// nothing and fails with `ScopeLocked`.
#[tokio::test]
async fn az_commands_plan_and_refuse_locked_deletes() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    let app1 = identity_id(&env, "rg", "app-1");
    let site = attach(&env, "rg", "web-1", &app1).await;
    lock(&env, &app1, "keep", "CanNotDelete").await;

    let dry = Azid::at(
        &env,
        &[
            "--dry-run",
            "identity",
            "delete",
            "-g",
            "rg",
            "-n",
            "app-1",
            "--detach",
        ],
    )
    .run()
    .await
    .fails(1);
    let stdout = dry.stdout.to_lowercase();
    let key = app1.to_lowercase();
    assert!(
        stdout.contains(&format!(
            "- delete {key}  ! would fail: scopelocked ({key})"
        )),
        "{dry:?}"
    );
    assert!(!stdout.contains("~ update"), "no detach planned: {dry:?}");
    let dry = Azid::at(&env, &["--dry-run", "group", "delete", "-n", "rg", "--yes"])
        .run()
        .await
        .fails(1);
    assert!(
        dry.stdout
            .to_lowercase()
            .contains(&format!("! would fail: scopelocked ({key})")),
        "{dry:?}"
    );

    let run = Azid::at(
        &env,
        &["identity", "delete", "-g", "rg", "-n", "app-1", "--detach"],
    )
    .run()
    .await
    .fails(1);
    assert!(run.stderr.contains("ScopeLocked"), "{run:?}");
    assert!(exists(&env, "rg", "app-1").await);
    let site = env.call(Method::GET, &site, None).await;
    assert!(
        site.body["identity"]["userAssignedIdentities"]
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(&app1))),
        "the site still carries the locked identity: {:?}",
        site.body
    );
}

#[tokio::test]
async fn a_plan_file_marks_what_locks_would_stop() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    env.identity("rg", "app-2").await;
    let app2 = identity_id(&env, "rg", "app-2");
    lock(&env, &app2, "keep", "CanNotDelete").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plan.json");
    Azid::at(
        &env,
        &[
            "--dry-run",
            "--plan-out",
            file.to_str().unwrap(),
            "eval",
            r#"identity_delete(identity_list("rg")); ()"#,
        ],
    )
    .run()
    .await
    .fails(1);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("plan file")).expect("json");
    let steps = plan["steps"].as_array().expect("steps");
    let marked: Vec<(String, String)> = steps
        .iter()
        .filter(|s| !s["wouldFail"].is_null())
        .map(|s| {
            (
                s["target"].as_str().unwrap().to_lowercase(),
                s["wouldFail"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        marked,
        vec![(app2.to_lowercase(), "ScopeLocked".to_string())],
        "{plan}"
    );
}
