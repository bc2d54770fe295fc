//! Plan files: `--plan-out` with `--dry-run` on scripts and az-style commands writes a sealed
//! JSON plan (steps, fingerprints read back from the emulator, scope, source), `azid plan
//! show` prints it, and an edited, truncated or foreign file is refused.

use serde_json::Value;

use crate::harness::{Azid, Env};

/// A group `rg` with identities of these names; returns their ARM objects.
async fn identities(env: &Env, names: &[&str]) -> Vec<Value> {
    env.group("rg").await;
    let mut out = Vec::new();
    for n in names {
        out.push(env.identity("rg", n).await);
    }
    out
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("plan file")).expect("JSON")
}

#[tokio::test]
async fn plan_out_without_dry_run_is_a_usage_error() {
    let env = Env::start().await;
    identities(&env, &["app-1"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.json");
    let path = file.to_str().expect("utf-8");
    for args in [
        vec![
            "eval",
            "identity_delete(\"rg\", \"app-1\")",
            "--plan-out",
            path,
        ],
        vec![
            "--plan-out",
            path,
            "identity",
            "delete",
            "-g",
            "rg",
            "-n",
            "app-1",
        ],
    ] {
        let run = Azid::at(&env, &args).run().await.fails(2);
        assert!(run.stderr.contains("--dry-run"), "{run:?}");
    }
    assert!(!file.exists());
    assert_eq!(
        env.all_identity_names().await,
        ["app-1"],
        "nothing was deleted"
    );
}

#[tokio::test]
async fn a_script_dry_run_writes_every_step_with_what_it_relied_on() {
    let env = Env::start().await;
    let made = identities(&env, &["app-1", "app-2", "keep-1"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("cleanup.rhai");
    std::fs::write(
        &script,
        r#"
        identity_delete(identity_list("rg").filter(|i| i.name.starts_with(ARGS[0])));
        identity_update("rg", "keep-1", #{tags: #{owner: "ops"}});
        identity_create("rg", "new-1", #{});
        "#,
    )
    .expect("script");
    let file = dir.path().join("plan.json");
    let run = Azid::at(
        &env,
        &[
            "run",
            script.to_str().expect("utf-8"),
            "--dry-run",
            "--plan-out",
            file.to_str().expect("utf-8"),
            "--",
            "app-",
        ],
    )
    .run()
    .await
    .ok();
    assert!(
        run.stdout
            .contains("Plan: 1 to create, 1 to update, 2 to delete"),
        "{run:?}"
    );
    let plan = read_json(&file);
    assert_eq!(plan["format"], "azid-plan");
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["azidVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(plan["scope"]["subscriptions"][0], env.sub.to_lowercase());
    assert_eq!(plan["source"]["command"], "run");
    assert_eq!(plan["source"]["args"][0], "app-");
    assert!(
        plan["createdAt"]
            .as_str()
            .expect("createdAt")
            .ends_with('Z')
    );
    assert!(
        plan["digest"]
            .as_str()
            .expect("digest")
            .starts_with("sha256:")
    );
    let steps = plan["steps"].as_array().expect("steps");
    let ops: Vec<&str> = steps
        .iter()
        .map(|s| s["op"].as_str().expect("op"))
        .collect();
    assert_eq!(
        ops,
        [
            "identity_delete",
            "identity_delete",
            "identity_tags",
            "identity_put"
        ]
    );
    // Each delete relied on the identity as the emulator has it.
    for (step, identity) in steps.iter().zip(&made).take(2) {
        assert_eq!(step["target"], identity["id"]);
        let fp = &step["fingerprint"];
        assert_eq!(fp["principalId"], identity["properties"]["principalId"]);
        assert_eq!(fp["clientId"], identity["properties"]["clientId"]);
        assert_eq!(fp["attached"], serde_json::json!([]));
    }
    assert_eq!(steps[2]["details"][0], "+ tag owner=ops");
    assert_eq!(steps[3]["fingerprint"]["kind"], "absent");
    assert_eq!(plan["counts"]["delete"], 2);
    // Nothing was sent.
    assert_eq!(env.all_identity_names().await, ["app-1", "app-2", "keep-1"]);

    let shown = Azid::new(&["plan", "show", file.to_str().expect("utf-8")])
        .run()
        .await
        .ok();
    assert!(
        shown
            .stdout
            .contains(&format!("- delete {}", made[0]["id"].as_str().expect("id"))),
        "{shown:?}"
    );
    assert!(shown.stdout.contains("    + tag owner=ops"), "{shown:?}");
    assert!(
        shown
            .stdout
            .contains("Plan: 1 to create, 1 to update, 2 to delete."),
        "{shown:?}"
    );
    let as_json = Azid::new(&["plan", "show", file.to_str().expect("utf-8"), "-o", "json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(as_json, plan);
    let table = Azid::new(&["plan", "show", file.to_str().expect("utf-8"), "-o", "table"])
        .run()
        .await
        .ok();
    assert!(table.stdout.contains("identity_tags"), "{table:?}");
}

#[tokio::test]
async fn an_az_style_dry_run_writes_a_plan_file_and_a_read_refuses_plan_out() {
    let env = Env::start().await;
    identities(&env, &["app-1"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.json");
    let path = file.to_str().expect("utf-8");
    Azid::at(
        &env,
        &[
            "--dry-run",
            "--plan-out",
            path,
            "identity",
            "delete",
            "-g",
            "rg",
            "-n",
            "app-1",
        ],
    )
    .run()
    .await
    .ok();
    let plan = read_json(&file);
    assert_eq!(plan["source"]["command"], "command");
    assert_eq!(plan["steps"][0]["op"], "identity_delete");
    assert_eq!(env.all_identity_names().await, ["app-1"]);
    let other = dir.path().join("q.json");
    let run = Azid::at(
        &env,
        &[
            "--dry-run",
            "--plan-out",
            other.to_str().expect("utf-8"),
            "identity",
            "list",
            "-g",
            "rg",
        ],
    )
    .run()
    .await
    .fails(2);
    assert!(run.stderr.contains("only reads"), "{run:?}");
    assert!(!other.exists());
}

#[tokio::test]
async fn an_edited_truncated_or_foreign_file_is_refused_by_plan_show() {
    let env = Env::start().await;
    identities(&env, &["app-1"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.json");
    let path = file.to_str().expect("utf-8");
    Azid::at(
        &env,
        &[
            "eval",
            "identity_delete(\"rg\", \"app-1\")",
            "--dry-run",
            "--plan-out",
            path,
        ],
    )
    .run()
    .await
    .ok();
    let good = std::fs::read_to_string(&file).expect("plan");
    let cases = [
        (good.replace("app-1", "app-2"), "digest"),
        (good[..good.len() / 2].to_string(), "truncated"),
        (
            good.replace("\"version\": 1", "\"version\": 2"),
            "version 2",
        ),
        ("{\"hello\": 1}".to_string(), "not an azid plan file"),
    ];
    for (text, why) in cases {
        std::fs::write(&file, text).expect("write");
        let run = Azid::new(&["plan", "show", path]).run().await.fails(1);
        assert!(run.stderr.contains(why), "{why}: {run:?}");
    }
}

#[tokio::test]
async fn a_plan_is_never_written_over_a_journal() {
    let env = Env::start().await;
    identities(&env, &["app-1"]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("p.json.journal");
    std::fs::write(&journal, "{\"event\":\"started\",\"step\":0}\n").expect("journal");
    for target in [journal.clone(), dir.path().join("other")] {
        if target != journal {
            std::fs::copy(&journal, &target).expect("copy");
        }
        let run = Azid::at(
            &env,
            &[
                "eval",
                "identity_delete(\"rg\", \"app-1\")",
                "--dry-run",
                "--plan-out",
                target.to_str().expect("utf-8"),
            ],
        )
        .run()
        .await
        .fails(1);
        assert!(run.stderr.contains("journal"), "{run:?}");
        assert_eq!(
            std::fs::read_to_string(&target).expect("kept"),
            "{\"event\":\"started\",\"step\":0}\n"
        );
    }
}

#[test]
fn the_repl_writes_the_plan_of_its_dry_run_with_dry_run_off_file() {
    use rexpect::session::spawn_command;
    let (local, home) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let file = home.path().join("repl-plan.json");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_azid"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("TERM", "xterm")
        .env("RUST_BACKTRACE", "0")
        .arg(format!("--local={}", local.path().display()));
    let mut s = spawn_command(cmd, Some(20_000)).expect("azid starts on a pty");
    let prompt = "> \r";
    s.exp_string(":help lists what you can do").expect("banner");
    s.exp_string(prompt).expect("prompt");
    let lines = [
        (r#"group_create("rg", "eastus").name"#, "rg"),
        (":dry-run on", "dry-run on"),
        (
            r#"identity_create("rg", "dry-2").clientId"#,
            "(known after apply)",
        ),
    ];
    for (line, expect) in lines {
        s.send_line(line).expect("send");
        s.exp_string(expect).expect("answer");
        s.exp_string(prompt).expect("prompt");
    }
    s.send_line(&format!(":dry-run off {}", file.display()))
        .expect("send");
    s.exp_string("Plan written to").expect("written");
    s.exp_string(prompt).expect("prompt");
    s.send_control('d').expect("ctrl-d");
    s.exp_eof().expect("ends");
    let plan = read_json(&file);
    assert_eq!(plan["source"]["command"], "repl");
    assert_eq!(plan["steps"][0]["op"], "identity_put");
    assert_eq!(plan["steps"][0]["fingerprint"]["kind"], "absent");
}
