//! The README's first command, run as written (the debug binary in place of `cargo run
//! --release --`, and the user's data folder, where `--local` keeps its state, pointed at a
//! temporary folder), twice in a row: what it prints and what the emulator holds after.

use crate::harness::Azid;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

/// The README's code blocks, in order, without their language line.
fn blocks(readme: &str) -> Vec<String> {
    readme
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| b.split_once('\n').map_or("", |(_, body)| body).to_string())
        .collect()
}

/// The first line of the README's first code block.
fn first_command() -> String {
    let blocks = blocks(&readme());
    let line = blocks[0].lines().next().expect("the block has a command");
    line.split('#').next().unwrap_or(line).trim().to_string()
}

#[tokio::test]
async fn readme_first_command_runs_the_demo_twice_with_the_same_outcome() {
    let command = first_command();
    assert_eq!(
        command,
        "cargo run --release -- --local run scripts/demo.rhai"
    );
    let args: Vec<&str> = command
        .strip_prefix("cargo run --release -- ")
        .expect("a cargo run")
        .split(' ')
        .collect();
    let data = tempfile::tempdir().expect("tempdir");
    let data_home = data.path().to_str().expect("utf-8");
    let run = || {
        Azid::new(&args)
            .cwd(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
            .env("XDG_DATA_HOME", data_home)
            .run()
    };
    let first = run().await.ok();
    for line in [
        "== 1. Two resource groups and their identities (group_create, identity_create)\n33 identities in azid-demo (eastus) and azid-demo-eu (westeurope).\n",
        "azid-demo      Legacy_Batch   eastus      ops\n",
        "eastus      19\nwesteurope  11\nwestus2     3\n",
        "azid-demo      tmp-scratch-1  owner\n",
        "azid-demo      tmp-scratch-2  next-friday\n",
        "app-web-1  azid-demo, azid-demo-eu\n",
        "13 identities would be deleted:\n",
        "ci-run-305  azid-demo-eu   westeurope  env=test;expires-on=2025-01-01T00:00:00Z;owner=ci\n",
        "Deleted 13 of 13 identities: 0 already gone, 0 failed.\n",
        "20 identities are left:\nresourceGroup  count\n-------------  -----\nazid-demo      14\nazid-demo-eu   6\n",
    ] {
        assert!(
            first.stdout.contains(line),
            "{line}\nnot in:\n{}",
            first.stdout
        );
    }
    assert_eq!(first.stderr, "");
    // The README shows this output, abridged: each line it shows is printed, in order.
    let shown = &blocks(&readme())[1];
    let mut rest = first.stdout.as_str();
    for line in shown.lines().filter(|l| *l != "...") {
        let at = rest
            .find(&format!("{line}\n"))
            .unwrap_or_else(|| panic!("README line not printed (in order): {line}"));
        rest = &rest[at + line.len()..];
    }
    let second = run().await.ok();
    assert_eq!(second.stdout, first.stdout, "a second run prints the same");

    // What the emulator holds, through the az-compatible command, in the same data folder.
    let list = |rg: &'static str| {
        Azid::new(&["--local", "identity", "list", "-g", rg])
            .env("XDG_DATA_HOME", data_home)
            .run()
    };
    let names = |run: crate::harness::Run| -> Vec<String> {
        let mut names: Vec<String> = run
            .json()
            .as_array()
            .expect("array")
            .iter()
            .map(|i| i["name"].as_str().expect("name").to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(list("azid-demo").await.ok()),
        [
            "Legacy_Batch",
            "app-api-1",
            "app-api-2",
            "app-api-3",
            "app-web-1",
            "app-web-2",
            "app-web-3",
            "ci-run-201",
            "ci-run-202",
            "ci-run-203",
            "ci-run-204",
            "tmp-scratch-1",
            "tmp-scratch-2",
            "tmp-scratch-3"
        ]
    );
    assert_eq!(
        names(list("azid-demo-eu").await.ok()),
        [
            "app-eu-1",
            "app-eu-2",
            "app-eu-3",
            "app-web-1",
            "app-web-2",
            "ci-run-306"
        ]
    );
}

#[tokio::test]
async fn the_demo_refuses_a_real_endpoint() {
    let env = crate::harness::Env::start().await;
    let run = Azid::at(
        &env,
        &[
            "run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.rhai"),
        ],
    )
    .run()
    .await
    .fails(2);
    assert!(run.stderr.contains("with --local"), "{}", run.stderr);
    assert!(
        env.all_identity_names().await.is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn the_readme_workflow_example_runs() {
    let readme = readme();
    let example = blocks(&readme)
        .into_iter()
        .find(|b| b.starts_with("import \"audit\""))
        .expect("the Workflows example");
    let env = crate::harness::Env::start().await;
    env.group("rg-test").await;
    env.group("rg-ci").await;
    env.identity("rg-test", "ci-1").await;
    env.identity("rg-test", "app-1").await;
    let r = env
        .call(
            reqwest::Method::PUT,
            &env.identity_path("rg-ci", "old"),
            Some(serde_json::json!({"location": "eastus", "tags": {"expires-on": "2001-01-01"}})),
        )
        .await;
    assert!(r.status.is_success());
    let run = Azid::at(&env, &["--yes", "eval", &example])
        .run()
        .await
        .ok();
    assert!(
        run.stdout.contains("Deleted 2 of 2 identities"),
        "{}",
        run.stdout
    );
    assert_eq!(env.all_identity_names().await, ["app-1"]);
}

#[tokio::test]
async fn the_readme_scripting_example_runs() {
    let example = blocks(&readme())
        .into_iter()
        .find(|b| b.starts_with("// cleanup.rhai"))
        .expect("the Scripting example");
    let env = crate::harness::Env::start().await;
    env.group("rg-test").await;
    for name in ["ci-1", "ci-2", "app-1"] {
        env.identity("rg-test", name).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cleanup.rhai"), &example).expect("write");
    let run = Azid::at(
        &env,
        &["--yes", "run", "cleanup.rhai", "--", "ci-", "rg-test"],
    )
    .cwd(dir.path())
    .run()
    .await
    .ok();
    assert!(run.stdout.contains("2 deleted, 0 failed"), "{}", run.stdout);
    assert_eq!(env.all_identity_names().await, ["app-1"]);

    // The dry-run line of the README, as written: the plan, nothing deleted.
    env.identity("rg-test", "ci-3").await;
    let dry = Azid::at(&env, &["--dry-run", "run", "cleanup.rhai", "--", "ci-"])
        .cwd(dir.path())
        .run()
        .await
        .ok();
    assert!(
        dry.stdout.contains("1 deleted, 0 failed")
            && dry
                .stdout
                .contains("Plan: 0 to create, 0 to update, 1 to delete."),
        "{dry:?}"
    );
    // No terminal and no --yes: it says why nothing happened.
    let declined = Azid::at(&env, &["run", "cleanup.rhai", "--", "ci-", "rg-test"])
        .cwd(dir.path())
        .run()
        .await
        .ok();
    assert!(declined.stdout.contains("Not confirmed"), "{declined:?}");
    assert!(
        declined
            .stderr
            .contains("confirm: no terminal to answer \"Delete 1 identities?\"; taken as no"),
        "{declined:?}"
    );
    assert_eq!(env.all_identity_names().await, ["app-1", "ci-3"]);
}

#[tokio::test]
async fn the_readme_relationships_example_runs() {
    let example = blocks(&readme())
        .into_iter()
        .find(|b| b.starts_with("let app = identity_show(\"rg-prod\""))
        .expect("the example");
    let env = crate::harness::Env::start().await;
    env.group("rg-prod").await;
    let app = env.identity("rg-prod", "app-old").await;
    let site = format!(
        "/subscriptions/{}/resourceGroups/rg-prod/providers/Microsoft.Web/sites/web?api-version=2023-01-01",
        env.sub
    );
    let body = serde_json::json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {app["id"].as_str().expect("id"): {}}}});
    assert!(
        env.call(reqwest::Method::PUT, &site, Some(body))
            .await
            .status
            .is_success()
    );
    let run = Azid::at(&env, &["eval", &example]).run().await.ok();
    assert_eq!(
        run.stdout, "1\nIdentityInUse\ntrue\n",
        "eval prints the last value too"
    );
    assert!(env.all_identity_names().await.is_empty());
    let now = env.call(reqwest::Method::GET, &site, None).await.body;
    assert!(
        now["identity"]
            .get("userAssignedIdentities")
            .is_none_or(|m| m.as_object().is_some_and(|m| m.is_empty())),
        "{now}"
    );
}
