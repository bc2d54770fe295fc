//! What azid reports under injected faults — half of them strike after the write was applied —
//! is compared item by item with the state read back: a create reported failed does not
//! exist, a delete reported failed left the identity in place, and a delete whose retry found
//! the identity gone still counts as deleted by this run.

use std::time::Duration;

use azid::emulator::EmulatorOptions;
use serde_json::Value;

use crate::harness::{Azid, Env};

/// Two emulators on one data file: azid talks to the faulty one, the test reads back
/// through the healthy one.
async fn faulty_and_healthy(seed: u64) -> (Env, Env, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.db");
    let faulty = Env::with(EmulatorOptions {
        data: Some(data.clone()),
        token: Some("shared".into()),
        fault_rate: 0.2,
        seed: Some(seed),
        group_delete_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    })
    .await;
    let healthy = Env::with(EmulatorOptions {
        data: Some(data),
        token: Some("shared".into()),
        ..EmulatorOptions::default()
    })
    .await;
    healthy.group("rg").await;
    (faulty, healthy, dir)
}

/// Runs `script` with one request in flight and this many retries; its JSON result.
async fn eval_one_at_a_time(env: &Env, script: &str, retries: &str) -> Value {
    Azid::at(
        env,
        &[
            "eval",
            script,
            "--max-retries",
            retries,
            "--concurrency",
            "1",
            "-o",
            "json",
        ],
    )
    .run()
    .await
    .ok()
    .json()
}

fn names(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

/// The ids of these identities in group `rg` of the emulator's subscription.
fn ids_in(env: &Env, names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            format!(
                "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}",
                env.sub
            )
        })
        .collect()
}

fn rhai_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(","))
}

#[tokio::test]
async fn creates_reported_failed_do_not_exist_and_reported_done_do() {
    let (faulty, healthy, _dir) = faulty_and_healthy(11).await;
    let wanted = names(40, "c-");
    let script = format!(
        r#"identity_create("rg", {}, #{{location: "eastus"}})"#,
        rhai_list(&wanted)
    );
    // No retries: every fault reaches the accounting.
    let out = eval_one_at_a_time(&faulty, &script, "0").await;
    let results = out.as_array().expect("one result per name");
    assert_eq!(results.len(), wanted.len());
    let existing = healthy.all_identity_names().await;
    let mut failed = 0;
    for r in results {
        let name = r["name"].as_str().expect("name");
        let exists = existing.iter().any(|n| n == name);
        if r["ok"] == Value::Bool(true) {
            assert!(exists, "{name} reported created but missing: {r}");
            assert_eq!(r["status"], 201, "{name} is new: {r}");
        } else {
            failed += 1;
            assert!(!exists, "{name} reported failed but exists: {r}");
        }
    }
    assert!(failed > 0, "faults struck some creates: {out}");
}

#[tokio::test]
async fn deletes_are_reported_as_they_happened() {
    let (faulty, healthy, _dir) = faulty_and_healthy(5).await;
    let all = names(40, "d-");
    for name in &all {
        healthy.identity("rg", name).await;
    }
    let ids = ids_in(&healthy, &all);
    let script = format!("identity_delete({})", rhai_list(&ids));
    let out = eval_one_at_a_time(&faulty, &script, "2").await;
    let results = out.as_array().expect("one result per id");
    assert_eq!(results.len(), all.len());
    let left = healthy.all_identity_names().await;
    let mut retried = 0;
    for r in results {
        let name = r["name"].as_str().expect("name");
        let exists = left.iter().any(|n| n == name);
        if r["attempts"].as_u64().unwrap_or(0) > 2 {
            retried += 1;
        }
        if r["ok"] == Value::Bool(true) {
            assert!(!exists, "{name} reported deleted but still there: {r}");
            assert_eq!(
                r["status"], 200,
                "every identity existed, so this run deleted it (not 'already gone'): {r}"
            );
        } else {
            assert!(exists, "{name} reported failed but gone: {r}");
        }
    }
    assert!(retried > 0, "faults made some deletes retry: {out}");
}

#[tokio::test]
async fn identity_delete_ids_reports_failed_only_what_is_still_there() {
    let (faulty, healthy, _dir) = faulty_and_healthy(23).await;
    let all = names(30, "g-");
    for name in &all {
        healthy.identity("rg", name).await;
    }
    let ids = ids_in(&healthy, &all);
    let mut args = vec![
        "identity",
        "delete",
        "--max-retries",
        "0",
        "--concurrency",
        "1",
        "--ids",
    ];
    args.extend(ids.iter().map(String::as_str));
    let run = Azid::at(&faulty, &args).run().await;
    let left = healthy.all_identity_names().await;
    let mut failed = 0;
    for name in &all {
        let exists = left.iter().any(|n| n == name);
        let reported = run.stderr.contains(&format!("ERROR: rg/{name}: "));
        failed += usize::from(reported);
        assert_eq!(
            exists, reported,
            "{name}: still there = {exists}, reported failed = {reported}; {run:?}"
        );
    }
    assert!(failed > 0, "faults struck some deletes: {run:?}");
}
