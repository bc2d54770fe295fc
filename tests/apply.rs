//! `azid apply`: exactly the planned steps run (state read back), drifted targets are left
//! untouched, a bad file is refused before anything is sent (the emulator's request log
//! shows it), and an apply killed with SIGKILL resumes from its journal without sending a
//! finished delete again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use azid::emulator::{EmulatorOptions, Latency};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Azid, Env, quick};

/// An emulator that logs every request to a file in `dir`.
async fn logged(dir: &Path) -> (Env, PathBuf) {
    let log = dir.join("requests.log");
    let env = Env::with(EmulatorOptions {
        request_log: Some(log.clone()),
        ..quick()
    })
    .await;
    (env, log)
}

/// The request log's lines.
fn requests(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn writes(lines: &[Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|l| l["method"] != "GET")
        .map(|l| {
            (
                l["method"].as_str().unwrap_or("").to_string(),
                l["path"].as_str().unwrap_or("").to_lowercase(),
            )
        })
        .collect()
}

/// Plans `script` as a dry-run into `dir/plan.json`.
async fn plan(env: &Env, dir: &Path, script: &str) -> PathBuf {
    let file = dir.join("plan.json");
    Azid::at(
        env,
        &[
            "eval",
            script,
            "--dry-run",
            "--plan-out",
            file.to_str().expect("utf-8"),
        ],
    )
    .run()
    .await
    .ok();
    file
}

/// `azid ARGS` aimed at the emulator, without `--subscription`: an apply takes its
/// subscriptions from the plan (and refuses the option).
fn at_without_subscription(env: &Env, args: &[&str]) -> Azid {
    let mut all = vec!["--endpoint", env.emu.url(), "--auth", "token"];
    all.extend_from_slice(args);
    Azid::new(&all).env("AZID_TOKEN", env.emu.token())
}

async fn apply(env: &Env, file: &Path, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec!["apply", file.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    at_without_subscription(env, &args).run().await
}

async fn site(env: &Env, name: &str, identity: &str) {
    let path = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites/{name}?api-version=2023-01-01",
        env.sub
    );
    let body = json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}}});
    let r = env.call(Method::PUT, &path, Some(body)).await;
    assert!(r.status.is_success(), "{:?}", r.body);
}

async fn site_identities(env: &Env, name: &str) -> Vec<String> {
    let path = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites/{name}?api-version=2023-01-01",
        env.sub
    );
    let r = env.call(Method::GET, &path, None).await;
    r.body["identity"]["userAssignedIdentities"]
        .as_object()
        .map(|m| m.keys().map(|k| k.to_lowercase()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn apply_runs_exactly_the_planned_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (env, log) = logged(dir.path()).await;
    env.group("rg").await;
    for n in ["old-1", "old-2", "old-3", "keep-1"] {
        env.identity("rg", n).await;
    }
    let file = plan(
        &env,
        dir.path(),
        r#"identity_delete(identity_list("rg").filter(|i| i.name.starts_with("old-")));
           identity_update("rg", "keep-1", #{tags: #{owner: "ops"}});
           identity_create("rg", "new-1", #{tags: #{made: "plan"}});"#,
    )
    .await;
    // Made after the plan: apply must not touch it, though the script would now delete it.
    env.identity("rg", "old-4").await;
    let before = requests(&log).len();
    let run = apply(&env, &file, &["--yes"]).await.ok();
    assert!(
        run.stdout
            .contains("Apply: 5 done, 0 already done, 0 drifted"),
        "{run:?}"
    );
    assert_eq!(env.all_identity_names().await, ["keep-1", "new-1", "old-4"]);
    let keep = env
        .call(Method::GET, &env.identity_path("rg", "keep-1"), None)
        .await;
    assert_eq!(keep.body["tags"], json!({"owner": "ops"}));
    let new = env
        .call(Method::GET, &env.identity_path("rg", "new-1"), None)
        .await;
    assert_eq!(new.body["tags"], json!({"made": "plan"}));
    let sent = writes(&requests(&log)[before..]);
    let deletes: Vec<&String> = sent
        .iter()
        .filter(|(m, _)| m == "DELETE")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(deletes.len(), 3, "{sent:?}");
    assert!(
        deletes
            .iter()
            .all(|p| p.contains("/old-") && !p.ends_with("/old-4")),
        "{sent:?}"
    );
    assert_eq!(sent.len(), 5, "one request per step: {sent:?}");
    // A second apply sends no write: every step is finished in the journal.
    let before = requests(&log).len();
    let again = apply(&env, &file, &["--yes"]).await.ok();
    assert!(again.stdout.contains("5 done"), "{again:?}");
    assert!(writes(&requests(&log)[before..]).is_empty());
    let status = apply(&env, &file, &["--status"]).await.ok();
    assert!(status.stdout.contains("Apply: 5 done"), "{status:?}");
}

#[tokio::test]
async fn drifted_targets_are_reported_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (env, log) = logged(dir.path()).await;
    env.group("rg").await;
    for n in ["recreated", "retagged", "attached", "unchanged"] {
        env.identity("rg", n).await;
    }
    let file = plan(&env, dir.path(), r#"identity_delete(identity_list("rg"))"#).await;
    // Between plan and apply: one identity is deleted and made again (a new principal), one
    // is retagged, one is attached to a site.
    let path = env.identity_path("rg", "recreated");
    env.call(Method::DELETE, &path, None).await;
    let recreated = env.identity("rg", "recreated").await;
    let r = env
        .call(
            Method::PATCH,
            &env.identity_path("rg", "retagged"),
            Some(json!({"tags": {"owner": "new"}})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let attached = env.identity("rg", "attached").await;
    site(&env, "web", attached["id"].as_str().expect("id")).await;
    let before = requests(&log).len();
    let run = apply(&env, &file, &["--yes"]).await.fails(1);
    assert!(
        run.stdout
            .contains("Apply: 1 done, 0 already done, 3 drifted"),
        "{run:?}"
    );
    assert!(run.stdout.contains("recreated: principalId"), "{run:?}");
    assert!(run.stdout.contains("retagged: + tag owner=new"), "{run:?}");
    assert!(run.stdout.contains("newly attached to"), "{run:?}");
    assert_eq!(
        env.all_identity_names().await,
        ["attached", "recreated", "retagged"]
    );
    let now = env
        .call(Method::GET, &env.identity_path("rg", "recreated"), None)
        .await;
    assert_eq!(
        now.body["properties"]["principalId"],
        recreated["properties"]["principalId"]
    );
    let sent = writes(&requests(&log)[before..]);
    assert_eq!(
        sent.len(),
        1,
        "only the unchanged identity is deleted: {sent:?}"
    );
    assert!(sent[0].1.ends_with("/unchanged"), "{sent:?}");
}

#[tokio::test]
async fn detach_runs_before_its_delete_and_is_skipped_with_a_drifted_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (env, log) = logged(dir.path()).await;
    env.group("rg").await;
    let a = env.identity("rg", "app-a").await;
    let b = env.identity("rg", "app-b").await;
    let (a_id, b_id) = (a["id"].as_str().expect("id"), b["id"].as_str().expect("id"));
    site(&env, "web-a", a_id).await;
    site(&env, "web-b", b_id).await;
    let file = plan(
        &env,
        dir.path(),
        r#"identity_delete(identity_list("rg"), #{detach: true})"#,
    )
    .await;
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("plan")).expect("json");
    let ops: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["op"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        ops,
        ["detach", "identity_delete", "detach", "identity_delete"],
        "{plan}"
    );
    assert_eq!(plan["steps"][0]["prepares"], 1);
    let r = env
        .call(
            Method::PATCH,
            &env.identity_path("rg", "app-b"),
            Some(json!({"tags": {"x": "1"}})),
        )
        .await;
    assert!(r.status.is_success());
    let before = requests(&log).len();
    let run = apply(&env, &file, &["--yes"]).await.fails(1);
    assert!(run.stdout.contains("1 drifted, 1 skipped"), "{run:?}");
    assert_eq!(env.all_identity_names().await, ["app-b"]);
    assert!(site_identities(&env, "web-a").await.is_empty());
    assert_eq!(site_identities(&env, "web-b").await, [b_id.to_lowercase()]);
    let sent = writes(&requests(&log)[before..]);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[0].0 == "PATCH" && sent[0].1.ends_with("/sites/web-a"),
        "{sent:?}"
    );
    assert!(
        sent[1].0 == "DELETE" && sent[1].1.ends_with("/app-a"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_bad_plan_file_is_refused_before_any_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (env, log) = logged(dir.path()).await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    let file = plan(&env, dir.path(), r#"identity_delete("rg", "app-1")"#).await;
    let good = std::fs::read_to_string(&file).expect("plan");
    for (text, why) in [
        (
            good.replace("\"tags\": {}", "\"tags\": {\"a\": \"b\"}"),
            "edited",
        ),
        (good[..good.len() - 40].to_string(), "truncated"),
        (
            good.replace("\"version\": 1", "\"version\": 7"),
            "version 7",
        ),
    ] {
        std::fs::write(&file, text).expect("write");
        let before = requests(&log).len();
        let run = apply(&env, &file, &["--yes"]).await.fails(1);
        assert!(run.stderr.contains(why), "{why}: {run:?}");
        assert_eq!(requests(&log).len(), before, "{why}: nothing was sent");
    }
    // A well-formed plan in a subscription these credentials cannot reach.
    std::fs::write(&file, &good).expect("write");
    let elsewhere = "00000000-0000-0000-0000-00000000beef";
    let mut foreign = azid::plan::file::PlanFile::parse(&good).expect("plan");
    let steps: Vec<_> = foreign
        .steps
        .drain(..)
        .map(|mut s| {
            s.target = s.target.replace(&env.sub.to_lowercase(), elsewhere);
            s
        })
        .collect();
    let foreign = azid::plan::file::PlanFile::seal(
        foreign.created_at,
        foreign.created_by,
        azid::plan::file::Scope {
            subscriptions: vec![elsewhere.into()],
        },
        foreign.source,
        steps,
    )
    .expect("sealed");
    let other = dir.path().join("foreign.json");
    foreign.write(&other).expect("written");
    let before = requests(&log).len();
    let run = apply(&env, &other, &["--yes"]).await.fails(1);
    assert!(run.stderr.contains("cannot reach"), "{run:?}");
    assert!(writes(&requests(&log)[before..]).is_empty());
    // --subscription names no subscription of a plan.
    let run = Azid::at(&env, &["apply", file.to_str().expect("utf-8"), "--yes"])
        .run()
        .await
        .fails(2);
    assert!(
        run.stderr.contains("does not apply to `azid apply"),
        "{run:?}"
    );
    // No terminal and no --yes: refused before anything is sent.
    let before = requests(&log).len();
    let run = apply(&env, &file, &[]).await.fails(2);
    assert!(run.stderr.contains("--yes"), "{run:?}");
    assert_eq!(requests(&log).len(), before);
    assert_eq!(env.all_identity_names().await, ["app-1"]);
}

#[tokio::test]
async fn an_apply_killed_mid_run_resumes_to_exactly_the_planned_state() {
    const PLANNED: usize = 2000;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.db");
    let log = dir.path().join("requests.log");
    // Two emulators on one data file: the apply talks to the faulty, slow one; setup and
    // read-back go through the healthy one.
    let faulty = Env::with(EmulatorOptions {
        data: Some(data.clone()),
        token: Some("shared".into()),
        fault_rate: 0.1,
        seed: Some(11),
        latency: Some(Latency {
            min: Duration::from_millis(2),
            max: Duration::from_millis(8),
        }),
        request_log: Some(log.clone()),
        ..quick()
    })
    .await;
    let healthy = Env::with(EmulatorOptions {
        data: Some(data),
        token: Some("shared".into()),
        ..quick()
    })
    .await;
    healthy.group("rg").await;
    let names: Vec<String> = (0..PLANNED + 20)
        .map(|i| format!("\"id-{i:05}\""))
        .collect();
    let create = format!(
        "identity_create(\"rg\", [{}], #{{}}).filter(|r| !r.ok).len()",
        names.join(",")
    );
    let failed = Azid::at(&healthy, &["eval", &create]).run().await.ok();
    assert_eq!(failed.stdout.trim(), "0", "{failed:?}");
    let file = plan(
        &healthy,
        dir.path(),
        &format!("identity_delete(identity_list(\"rg\").filter(|i| i.name < \"id-{PLANNED:05}\"))"),
    )
    .await;
    let journal = dir.path().join("plan.json.journal");
    let args = [
        "apply",
        file.to_str().expect("utf-8"),
        "--yes",
        "--max-retries",
        "10",
    ];
    let (mut child, _home) = at_without_subscription(&faulty, &args).spawn();
    // Killed once a fair share of the deletes has ended.
    let ended = |j: &Path| {
        std::fs::read_to_string(j)
            .unwrap_or_default()
            .matches("\"event\":\"ended\"")
            .count()
    };
    while ended(&journal) < PLANNED / 4 {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        // The emulators serve on this test's runtime: wait without blocking it.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let after_kill = ended(&journal);
    assert!(
        after_kill < PLANNED,
        "the kill came before the apply finished ({after_kill})"
    );
    let run = at_without_subscription(&faulty, &args).run().await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains(&format!("of {PLANNED})")), "{run:?}");
    let left = healthy.all_identity_names().await;
    let expected: Vec<String> = (PLANNED..PLANNED + 20)
        .map(|i| format!("id-{i:05}"))
        .collect();
    assert_eq!(left, expected, "exactly the planned identities are gone");
    // No identity got a DELETE after one of its DELETEs had answered 200.
    let mut deleted = std::collections::HashSet::new();
    let mut sent = std::collections::HashSet::new();
    for line in requests(&log) {
        if line["method"] != "DELETE" {
            continue;
        }
        let path = line["path"].as_str().expect("path").to_lowercase();
        assert!(
            !deleted.contains(&path),
            "a second DELETE of {path} after a 200"
        );
        if line["status"] == 200 {
            deleted.insert(path.clone());
        }
        sent.insert(path);
    }
    // Some 200s were replaced by injected faults; every planned identity was sent a DELETE.
    assert_eq!(sent.len(), PLANNED);
    assert!(!deleted.is_empty());
}
