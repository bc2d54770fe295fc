//! The az-style commands' flags wherever they are given: `--dry-run` on every write (state
//! read back unchanged), every option shown as global against every subcommand, deletes
//! that say what still uses an identity, Ctrl-C during a bulk delete, and az parity details.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Azid, Env};

const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The tags of identity `name` in group rg, read back from the emulator.
async fn tags_of(env: &Env, name: &str) -> serde_json::Value {
    let r = env
        .call(Method::GET, &env.identity_path("rg", name), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["tags"].clone()
}

#[tokio::test]
async fn dry_run_sends_no_write_from_any_az_command() {
    let env = Env::start().await;
    env.group("rg").await;
    let id = env.identity("rg", "app").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    Azid::at(
        &env,
        &[
            "identity",
            "federated-credential",
            "create",
            "--identity-name",
            "app",
            "-g",
            "rg",
            "-n",
            "ghc",
            "--issuer",
            ISSUER,
            "--subject",
            "repo:o/r:ref:refs/heads/main",
        ],
    )
    .run()
    .await
    .ok();
    let before_tags = tags_of(&env, "app").await;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["group", "delete", "-n", "rg", "--yes"], "- delete"),
        (
            vec!["group", "create", "-n", "rg2", "-l", "eastus"],
            "+ create",
        ),
        (
            vec!["identity", "create", "-g", "rg", "-n", "new"],
            "+ create",
        ),
        (
            vec![
                "identity", "update", "-g", "rg", "-n", "app", "--tags", "k=v",
            ],
            "+ tag k=v",
        ),
        (
            vec!["identity", "delete", "-g", "rg", "-n", "app"],
            "- delete",
        ),
        (vec!["identity", "delete", "--ids", &id], "- delete"),
        (
            vec![
                "identity",
                "federated-credential",
                "create",
                "--identity-name",
                "app",
                "-g",
                "rg",
                "-n",
                "ghc2",
                "--issuer",
                ISSUER,
                "--subject",
                "s",
            ],
            "+ create",
        ),
        (
            vec![
                "identity",
                "federated-credential",
                "update",
                "--identity-name",
                "app",
                "-g",
                "rg",
                "-n",
                "ghc",
                "--issuer",
                ISSUER,
                "--subject",
                "other",
            ],
            "~ subject",
        ),
        (
            vec![
                "identity",
                "federated-credential",
                "delete",
                "--identity-name",
                "app",
                "-g",
                "rg",
                "-n",
                "ghc",
                "--yes",
            ],
            "- delete",
        ),
    ];
    for (args, line) in cases {
        // --dry-run before the subcommand, as `azid --help` shows it.
        let run = Azid::at(&env, &[&["--dry-run"][..], &args].concat())
            .run()
            .await
            .ok();
        assert!(run.stdout.contains(line), "{args:?}: {run:?}");
        assert!(
            run.stdout.contains("Nothing was changed (dry run)."),
            "{run:?}"
        );
    }
    // Everything is as it was.
    let group = env.call(Method::GET, &env.group_path("rg"), None).await;
    assert_eq!(group.status, StatusCode::OK, "the group is still there");
    assert_eq!(group.body["properties"]["provisioningState"], "Succeeded");
    let rg2 = env.call(Method::GET, &env.group_path("rg2"), None).await;
    assert_eq!(rg2.status, StatusCode::NOT_FOUND);
    assert_eq!(env.all_identity_names().await, ["app"]);
    assert_eq!(tags_of(&env, "app").await, before_tags);
    let fics = Azid::at(
        &env,
        &[
            "identity",
            "federated-credential",
            "list",
            "--identity-name",
            "app",
            "-g",
            "rg",
        ],
    )
    .run()
    .await
    .ok()
    .json();
    let names: Vec<&str> = fics
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ghc"]);
    assert_eq!(fics[0]["subject"], "repo:o/r:ref:refs/heads/main");
}

#[tokio::test]
async fn dry_run_update_plans_tag_changes_and_skips_no_ops() {
    let env = Env::start().await;
    env.group("rg").await;
    Azid::at(
        &env,
        &[
            "identity", "create", "-g", "rg", "-n", "app", "--tags", "a=1", "b=2",
        ],
    )
    .run()
    .await
    .ok();
    let changed = Azid::at(
        &env,
        &[
            "--dry-run",
            "identity",
            "update",
            "-g",
            "rg",
            "-n",
            "app",
            "--tags",
            "a=1",
            "b=3",
            "c=",
        ],
    )
    .run()
    .await
    .ok();
    assert!(changed.stdout.contains("~ update "), "{changed:?}");
    assert!(
        changed.stdout.contains("    ~ tag b: 2 -> 3"),
        "{changed:?}"
    );
    assert!(changed.stdout.contains("    + tag c="), "{changed:?}");
    assert!(
        changed
            .stdout
            .contains("Plan: 0 to create, 1 to update, 0 to delete.")
    );
    let same = Azid::at(
        &env,
        &[
            "--dry-run",
            "identity",
            "update",
            "-g",
            "rg",
            "-n",
            "app",
            "--tags",
            "a=1",
            "b=2",
        ],
    )
    .run()
    .await
    .ok();
    assert!(!same.stdout.contains("~ update"), "{same:?}");
    assert!(
        same.stdout
            .contains("Plan: 0 to create, 0 to update, 0 to delete.")
    );
    assert_eq!(tags_of(&env, "app").await, json!({"a": "1", "b": "2"}));
}
