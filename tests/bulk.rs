//! Bulk work under realistic conditions: random faults, a crashed emulator, Ctrl-C, and
//! throttling. Every item is accounted for and the emulator's state is read back.

use std::time::Duration;

use azid::emulator::{EmulatorOptions, Latency};
use serde_json::Value;

use crate::harness::{Azid, Env, Spawned};

fn names(n: usize, prefix: &str) -> String {
    let items: Vec<String> = (0..n).map(|i| format!("\"{prefix}{i:03}\"")).collect();
    format!("[{}]", items.join(","))
}

#[tokio::test]
async fn faults_are_retried_until_every_item_is_ok() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.db");
    // Two emulators on one data file: the client talks to the faulty one; the test reads
    // back through the healthy one.
    let faulty = Env::with(EmulatorOptions {
        data: Some(data.clone()),
        token: Some("shared".into()),
        fault_rate: 0.1,
        seed: Some(7),
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

    let create = format!(
        r#"let r = identity_create("rg", {}, #{{}}); #{{failed: r.filter(|x| !x.ok).len(), summary: bulk_summary()}}"#,
        names(300, "f-")
    );
    let out = Azid::at(&faulty, &["eval", &create, "--max-retries", "8"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(out["failed"], 0, "{out}");
    assert!(
        out["summary"]["retries"].as_u64().expect("retries") > 0,
        "faults happened and were retried: {out}"
    );
    let names_now = healthy.all_identity_names().await;
    let expected: Vec<String> = (0..300).map(|i| format!("f-{i:03}")).collect();
    assert_eq!(names_now, expected, "nothing missing, nothing duplicated");

    let delete = r#"let r = identity_delete(identity_list("rg")); #{failed: r.filter(|x| !x.ok).len(), n: r.len()}"#;
    let out = Azid::at(&faulty, &["eval", delete, "--max-retries", "8"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(
        (out["failed"].as_u64(), out["n"].as_u64()),
        (Some(0), Some(300)),
        "{out}"
    );
    assert!(healthy.all_identity_names().await.is_empty());
}

#[tokio::test]
async fn a_rerun_after_the_emulator_crashed_converges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.db");
    let data = data.to_str().expect("utf-8").to_string();
    let args = [
        "--listen",
        ":0",
        "--data",
        &data,
        "--token",
        "t",
        "--latency",
        "50",
    ];
    let first = Spawned::start(&args);
    let (url, sub) = (
        first.get("URL").to_string(),
        first.get("SUBSCRIPTION").to_string(),
    );
    let script = dir.path().join("create.rhai");
    std::fs::write(
        &script,
        format!(
            "group_create(\"rg\", \"eastus\");\nlet r = identity_create(\"rg\", {}, #{{}});\nprint(to_json(r.filter(|x| x.ok).map(|x| x.name)));\n",
            names(200, "k-")
        ),
    )
    .expect("write");
    let script = script.to_str().expect("utf-8").to_string();
    let run = |url: String| {
        Azid::new(&[
            "--endpoint",
            &url,
            "--auth",
            "token",
            "--subscription",
            &sub,
            "--max-retries",
            "1",
            "run",
            &script,
        ])
        .env("AZID_TOKEN", "t")
    };
    let list = format!(
        "{url}/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2024-11-30"
    );
    let (child, _home) = run(url).spawn();
    // Let part of the batch land, then crash the emulator under it.
    let http = reqwest::Client::new();
    for _ in 0..400 {
        let landed = match http.get(&list).bearer_auth("t").send().await {
            Ok(r) => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v["value"].as_array().map(Vec::len))
                .unwrap_or(0),
            Err(_) => 0,
        };
        if landed >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    first.kill9();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("ends"))
        .await
        .expect("join");
    let reported: Vec<String> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the script ran to its end: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(reported.len() < 200, "the crash interrupted the batch");

    let second = Spawned::start(&args);
    let rerun = run(second.get("URL").to_string()).run().await.ok();
    let all: Vec<String> = serde_json::from_str(rerun.stdout.trim()).expect("a JSON list");
    assert_eq!(all.len(), 200, "the rerun reports every item ok");
    let listed = Azid::new(&[
        "--endpoint",
        second.get("URL"),
        "--auth",
        "token",
        "--subscription",
        &sub,
        "identity",
        "list",
        "-g",
        "rg",
        "--query",
        "[].name",
    ])
    .env("AZID_TOKEN", "t")
    .run()
    .await
    .ok()
    .json();
    let listed: Vec<String> = serde_json::from_value(listed).expect("names");
    assert_eq!(listed.len(), 200);
    for name in &reported {
        assert!(
            listed.contains(name),
            "{name} was reported done by the first run and is there"
        );
    }
}

#[tokio::test]
async fn ctrl_c_during_a_bulk_delete_accounts_for_every_item() {
    let env = Env::with(EmulatorOptions {
        latency: Some("20".parse::<Latency>().expect("latency")),
        group_delete_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    Azid::at(
        &env,
        &[
            "eval",
            &format!(
                r#"identity_create("rg", {}, #{{}}).len()"#,
                names(120, "c-")
            ),
            "--concurrency",
            "32",
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(env.all_identity_names().await.len(), 120);
    let (child, _home) = Azid::at(
        &env,
        &[
            "eval",
            r#"identity_delete(identity_list("rg")).len()"#,
            "--concurrency",
            "2",
        ],
    )
    .spawn();
    // Interrupt once the deletes are under way (polling, so a slow machine does not matter).
    for _ in 0..400 {
        if env.all_identity_names().await.len() <= 110 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("ends"))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let deleted: usize = stderr
        .split(", ")
        .find_map(|part| part.strip_suffix(" deleted"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a report: {stderr}"));
    let left = env.all_identity_names().await.len();
    assert!(
        deleted > 0 && left > 0,
        "stopped part-way: {deleted} deleted, {left} left"
    );
    assert_eq!(deleted + left, 120, "the report matches the emulator");
}

#[tokio::test]
async fn throttled_deletes_are_paced_not_failed() {
    let env = Env::with(EmulatorOptions {
        throttle: "deletes=20/40".parse().expect("profile"),
        group_delete_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    Azid::at(
        &env,
        &[
            "eval",
            &format!(
                r#"identity_create("rg", {}, #{{}}).len()"#,
                names(100, "t-")
            ),
        ],
    )
    .run()
    .await
    .ok();
    let out: Value = Azid::at(
        &env,
        &["eval", r#"let r = identity_delete(identity_list("rg")); #{failed: r.filter(|x| !x.ok).len(), s: bulk_summary()}"#],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(out["failed"], 0, "{out}");
    assert_eq!(out["s"]["done"], 100);
    assert!(
        // Unpaced, some 80 of the 100 deletes would be refused; a few 429s are the pacer learning the rate.
        out["s"]["throttled"].as_u64().expect("throttled") < 25,
        "paced, not hammered: {out}"
    );
    assert!(env.all_identity_names().await.is_empty());
}

#[tokio::test]
async fn cli_deletes_many_ids_and_exits_non_zero_on_a_failure() {
    let env = Env::start().await;
    env.group("rg").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            env.identity("rg", &format!("d-{i}")).await["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    let mut args = vec!["identity", "delete", "--ids"];
    args.extend(ids.iter().map(String::as_str));
    let ok = Azid::at(&env, &args).run().await.ok();
    assert!(
        ok.stderr.contains("5 done, 0 failed, 0 skipped"),
        "{}",
        ok.stderr
    );
    assert!(env.all_identity_names().await.is_empty());

    env.identity("rg", "d-9").await;
    let ghost = "/subscriptions/00000000-0000-0000-0000-0000000000ff/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ghost";
    let keep = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/d-9",
        env.sub
    );
    let run = Azid::at(&env, &["identity", "delete", "--ids", ghost, &keep])
        .run()
        .await
        .fails(1);
    assert!(
        run.stderr.contains("rg/ghost: (SubscriptionNotFound)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 done, 1 failed"), "{}", run.stderr);
    assert!(
        env.all_identity_names().await.is_empty(),
        "the good one went anyway"
    );
}

#[tokio::test]
async fn deleting_ids_costs_one_request_each_plus_a_few_reads() {
    let env = Env::start().await;
    env.group("rg").await;
    // A role assignment in the subscription: the deletes must learn each principal.
    env.group("rg-keep").await;
    let assign = r#"let k = identity_create("rg-keep", "keeper");
        role_assign(k, "Reader", "/subscriptions/" + subscription() + "/resourceGroups/rg-keep").name.len() > 0"#;
    let assigned = Azid::at(&env, &["eval", assign]).run().await.ok();
    assert_eq!(assigned.stdout, "true\n");
    for n in [40, 400] {
        let create = format!(
            r#"identity_create("rg", {}, #{{}}).filter(|r| r.ok).len()"#,
            names(n, "d-")
        );
        let made = Azid::at(&env, &["eval", &create]).run().await.ok();
        assert_eq!(made.stdout, format!("{n}\n"));
        let ids: Vec<String> = env
            .all_identity_names()
            .await
            .iter()
            .filter(|name| *name != "keeper")
            .map(|name| {
                format!(
                    "\"{}\"",
                    env.identity_path("rg", name)
                        .split('?')
                        .next()
                        .expect("a path")
                )
            })
            .collect();
        // Id strings carry no principal: the batch must not read each identity first.
        let delete = format!(
            "identity_delete([{}]).filter(|r| r.ok).len()",
            ids.join(",")
        );
        let run = Azid::at(&env, &["-v", "eval", &delete]).run().await.ok();
        assert_eq!(run.stdout, format!("{n}\n"), "{}", run.stderr);
        let count = |method: &str| {
            run.stderr
                .lines()
                .filter(|l| l.contains(&format!(" INFO {method} ")))
                .count()
        };
        assert_eq!(count("DELETE"), n, "one DELETE per item");
        // The reads are the references (resources, role assignments) and the group's pages
        // of at most 100 identities, not one per item.
        assert!(
            count("GET") <= 4 + 2 * n.div_ceil(100),
            "{n} items: {} reads\n{}",
            count("GET"),
            run.stderr
        );
        assert_eq!(env.all_identity_names().await, ["keeper"]);
    }
}
