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

/// Every option `azid --help` shows before the subcommand, with a value to give it.
fn global_options(dir: &str, file: &str) -> Vec<Vec<String>> {
    let with = |o: &str, v: &str| vec![o.to_string(), v.to_string()];
    let flag = |o: &str| vec![o.to_string()];
    vec![
        with("--subscription", "00000000-0000-0000-0000-000000000009"),
        with("--endpoint", "http://127.0.0.1:9"),
        with("--cloud", "AzureCloud"),
        with("--ca-bundle", file),
        vec![format!("--local={dir}/local")],
        with("--auth", "token"),
        with("--output", "json"),
        with("--query", "@"),
        flag("--debug"),
        flag("--verbose"),
        with("--max-retries", "0"),
        flag("--only-show-errors"),
        flag("--dry-run"),
        with("--plan-out", &format!("{dir}/plan.json")),
        flag("--yes"),
        with("--concurrency", "4"),
        with("--allow-read", dir),
        with("--allow-write", dir),
        with("--max-operations", "1000"),
        with("--max-call-depth", "8"),
        with("--max-string-size", "1000"),
        with("--max-array-size", "1000"),
        with("--max-map-size", "1000"),
        with(
            "--subscriptions",
            "00000000-0000-0000-0000-000000000009,00000000-0000-0000-0000-000000000008",
        ),
        with("--management-group", "mg"),
        flag("--all-subscriptions"),
    ]
}

#[tokio::test]
async fn every_global_option_works_or_is_refused_before_every_subcommand() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap().to_string();
    let script = tmp.path().join("s.rhai");
    std::fs::write(&script, "1").unwrap();
    let file = script.to_str().unwrap().to_string();
    // The help lists exactly these options.
    let help = Azid::new(&["--help"]).run().await.ok().stdout;
    let listed = help.matches("\n      --").count() + help.matches("\n  -").count();
    let options = global_options(&dir, &file);
    // -h/--help and -V/--version are listed too.
    assert_eq!(listed, options.len() + 2, "{help}");
    let id = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gone",
        env.sub
    );
    let fic = ["--identity-name", "app", "-g", "rg", "-n", "ghc"];
    let spec = ["--issuer", ISSUER, "--subject", "s"];
    let subcommands: Vec<Vec<&str>> = vec![
        vec!["identity", "create", "-g", "rg", "-n", "app2"],
        vec!["identity", "list"],
        vec!["identity", "show", "-g", "rg", "-n", "app"],
        vec![
            "identity", "update", "-g", "rg", "-n", "app", "--tags", "a=b",
        ],
        vec!["identity", "list-resources", "-g", "rg", "-n", "app"],
        vec!["identity", "list-operations"],
        vec!["identity", "delete", "--ids", &id],
        [
            &["identity", "federated-credential", "create"][..],
            &fic,
            &spec,
        ]
        .concat(),
        [
            &["identity", "federated-credential", "update"][..],
            &fic,
            &spec,
        ]
        .concat(),
        [&["identity", "federated-credential", "show"][..], &fic].concat(),
        [&["identity", "federated-credential", "delete"][..], &fic].concat(),
        vec![
            "identity",
            "federated-credential",
            "list",
            "--identity-name",
            "app",
            "-g",
            "rg",
        ],
        vec!["group", "create", "-n", "rg3", "-l", "eastus"],
        vec!["group", "list"],
        vec!["group", "show", "-n", "rg"],
        vec!["group", "delete", "-n", "rg4", "--yes"],
        vec!["graph", "query", "-q", "resources | project id"],
        vec!["run", &file],
        vec!["eval", "1"],
        vec!["plan", "show", "/nonexistent/plan.json"],
        vec!["apply", "/nonexistent/plan.json", "--yes"],
        // The data file cannot be made: an emulator that took the option ends with exit 1.
        vec!["emulator", "--data", "/nonexistent/azid/e.db"],
    ];
    let script_only = [
        "--allow-read",
        "--allow-write",
        "--max-operations",
        "--max-call-depth",
        "--max-string-size",
        "--max-array-size",
        "--max-map-size",
    ];
    let scope = [
        "--subscriptions",
        "--management-group",
        "--all-subscriptions",
    ];
    for option in &options {
        let name = option[0].split('=').next().unwrap();
        for sub in &subcommands {
            let refused = match (sub[0], sub[1]) {
                ("emulator", _) => true,
                ("plan", _) => !matches!(name, "--output" | "--query"),
                ("apply", _) => {
                    script_only.contains(&name)
                        || matches!(
                            name,
                            "--dry-run" | "--plan-out" | "--only-show-errors" | "--subscription"
                        )
                }
                ("graph", _) => {
                    script_only.contains(&name) || scope.contains(&name) || name == "--concurrency"
                }
                ("identity" | "group", s) => {
                    script_only.contains(&name)
                        || (name == "--concurrency" && !(sub[0] == "identity" && s == "delete"))
                        || (scope.contains(&name) && !(sub[0] == "identity" && s == "list"))
                }
                _ => name == "--only-show-errors",
            };
            let mut args: Vec<&str> = option.iter().map(String::as_str).collect();
            args.extend(sub);
            let alone = matches!(sub[0], "emulator" | "plan" | "apply");
            let run = if alone || name == "--local" || name == "--endpoint" {
                Azid::new(&args)
                    .env("AZID_TOKEN", env.emu.token())
                    .run()
                    .await
            } else {
                Azid::at(&env, &args).run().await
            };
            let said_no = run.code == 2 && run.stderr.contains("does not apply to");
            assert_eq!(said_no, refused, "azid {args:?}: {run:?}");
            assert!(
                !run.stderr.contains("unexpected argument"),
                "{args:?}: {run:?}"
            );
        }
    }
}

#[tokio::test]
async fn top_level_yes_and_concurrency_reach_the_az_commands() {
    let env = Env::start().await;
    env.group("rg").await;
    env.group("doomed").await;
    Azid::at(&env, &["--yes", "group", "delete", "-n", "doomed"])
        .run()
        .await
        .ok();
    let gone = env.call(Method::GET, &env.group_path("doomed"), None).await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "--yes before the subcommand"
    );
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            env.identity("rg", &format!("id-{n}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut args = vec!["-v", "--concurrency", "32", "identity", "delete", "--ids"];
    args.extend(ids.iter().map(String::as_str));
    let run = Azid::at(&env, &args).run().await.ok();
    assert!(run.stderr.contains("at most 32 at a time"), "{run:?}");
    assert!(env.all_identity_names().await.is_empty());
}

/// A site carrying the identity `id`.
async fn attach(env: &Env, site: &str, id: &str) {
    let path = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites/{site}?api-version=2023-01-01",
        env.sub
    );
    let body = json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {id: {}}}});
    let r = env.call(Method::PUT, &path, Some(body)).await;
    assert!(r.status.is_success(), "{:?}", r.body);
}

/// A Reader assignment of the principal at the group.
async fn assign(env: &Env, principal: &str) {
    let path = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        env.sub,
        uuid::Uuid::new_v4()
    );
    let role = format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
        env.sub
    );
    let body = json!({"properties": {"roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}});
    let r = env.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

async fn assignments_of(env: &Env, principal: &str) -> usize {
    let path = format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'{principal}'",
        env.sub
    );
    env.list_all(&path).await.0.len()
}

#[tokio::test]
async fn identity_delete_says_what_still_uses_it() {
    let env = Env::start().await;
    env.group("rg").await;
    let used = env.identity("rg", "used").await;
    let (id, principal) = (
        used["id"].as_str().unwrap().to_string(),
        used["properties"]["principalId"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let free = env.identity("rg", "free").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    attach(&env, "web", &id).await;
    assign(&env, &principal).await;

    // --if-unused: one of them is used, so nothing is deleted.
    let refused = Azid::at(
        &env,
        &["identity", "delete", "--if-unused", "--ids", &id, &free],
    )
    .run()
    .await
    .fails(1);
    assert!(
        refused
            .stderr
            .contains("WARNING: identity rg/used is in use"),
        "{refused:?}"
    );
    assert!(
        refused.stderr.contains("Microsoft.Web/sites/web"),
        "{refused:?}"
    );
    assert!(
        refused.stderr.contains("role assignments stay at"),
        "{refused:?}"
    );
    assert_eq!(env.all_identity_names().await, ["free", "used"]);

    // A plain delete deletes like az, and warns.
    let plain = Azid::at(&env, &["identity", "delete", "-g", "rg", "-n", "free"])
        .run()
        .await
        .ok();
    assert!(!plain.stderr.contains("WARNING"), "{plain:?}");

    // --detach and --remove-role-assignments clean up first.
    let clean = Azid::at(
        &env,
        &[
            "identity",
            "delete",
            "-g",
            "rg",
            "-n",
            "used",
            "--detach",
            "--remove-role-assignments",
        ],
    )
    .run()
    .await
    .ok();
    assert!(clean.stderr.contains("detaching it from"), "{clean:?}");
    assert!(env.all_identity_names().await.is_empty());
    assert_eq!(assignments_of(&env, &principal).await, 0);
    let site = env
        .call(
            Method::GET,
            &format!(
                "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Web/sites/web?api-version=2023-01-01",
                env.sub
            ),
            None,
        )
        .await
        .body;
    assert!(
        site["identity"]["userAssignedIdentities"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "{site}"
    );
}

#[tokio::test]
async fn ctrl_c_during_a_bulk_delete_prints_each_item() {
    use std::io::Read as _;
    let env = Env::with(azid::emulator::EmulatorOptions {
        latency: Some("150".parse().expect("latency")),
        ..crate::harness::quick()
    })
    .await;
    env.group("rg").await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(
            env.identity("rg", &format!("id-{n:02}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut args = vec!["identity", "delete", "--concurrency", "1", "--ids"];
    args.extend(ids.iter().map(String::as_str));
    let (mut child, _home) = Azid::at(&env, &args).spawn();
    // Wait until deletes are under way, then interrupt.
    while env.all_identity_names().await.len() >= 19 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill only sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = tokio::task::spawn_blocking(move || {
        let status = child.wait().expect("wait");
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    })
    .await
    .unwrap();
    let (status, stderr) = status;
    assert_eq!(status.code(), Some(130), "{stderr}");
    let left = env.all_identity_names().await;
    assert!(!left.is_empty(), "interrupted before the end: {stderr}");
    let not_started = stderr
        .lines()
        .filter(|l| l.ends_with(": NotStarted"))
        .count();
    let deleted = stderr.lines().filter(|l| l.ends_with(": Deleted")).count();
    assert_eq!(not_started, left.len(), "{stderr}");
    assert_eq!(deleted + not_started, 20, "{stderr}");
    assert!(stderr.contains("Interrupted:"), "{stderr}");
}

#[tokio::test]
async fn az_parity_tags_groups_scope_operations_formats_and_defaults() {
    let env = Env::start().await;
    // -g names the group on group create|show|delete.
    Azid::at(&env, &["group", "create", "-g", "rg", "-l", "eastus"])
        .run()
        .await
        .ok();
    assert_eq!(
        Azid::at(&env, &["group", "show", "-g", "rg"])
            .run()
            .await
            .ok()
            .json()["name"],
        "rg"
    );
    // --tags as a JSON object, and k= for an empty value.
    let made = Azid::at(
        &env,
        &[
            "identity",
            "create",
            "-g",
            "rg",
            "-n",
            "app",
            "--tags",
            r#"{"a":"b","c":""}"#,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(made.json()["tags"], json!({"a": "b", "c": ""}));
    Azid::at(
        &env,
        &[
            "identity", "update", "-g", "rg", "-n", "app", "--tags", "k=", "x=y",
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(tags_of(&env, "app").await, json!({"k": "", "x": "y"}));
    let bad = Azid::at(
        &env,
        &[
            "identity", "update", "-g", "rg", "-n", "app", "--tags", "{nope",
        ],
    )
    .run()
    .await
    .fails(2);
    assert!(bad.stderr.contains("not a JSON object"), "{bad:?}");
    // --isolation-scope on update, read back; the tags stay.
    Azid::at(
        &env,
        &[
            "identity",
            "update",
            "-g",
            "rg",
            "-n",
            "app",
            "--isolation-scope",
            "Regional",
        ],
    )
    .run()
    .await
    .ok();
    let raw = env
        .call(Method::GET, &env.identity_path("rg", "app"), None)
        .await
        .body;
    assert_eq!(raw["properties"]["isolationScope"], "Regional");
    assert_eq!(raw["tags"], json!({"k": "", "x": "y"}));
    // list-operations.
    let ops = Azid::at(&env, &["identity", "list-operations"])
        .run()
        .await
        .ok()
        .json();
    assert!(
        ops.as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "Microsoft.ManagedIdentity/userAssignedIdentities/delete"),
        "{ops}"
    );
    // -o yamlc: YAML with coloured keys.
    let yamlc = Azid::at(&env, &["group", "show", "-n", "rg", "-o", "yamlc"])
        .run()
        .await
        .ok();
    assert!(
        yamlc.stdout.contains("\x1b[94mname\x1b[0m: rg"),
        "{yamlc:?}"
    );
    // The default group: AZURE_DEFAULTS_GROUP, then az's config file.
    let shown = Azid::at(&env, &["identity", "show", "-n", "app"])
        .env("AZURE_DEFAULTS_GROUP", "rg")
        .run()
        .await
        .ok();
    assert_eq!(shown.json()["name"], "app");
    let cfg = tempfile::tempdir().unwrap();
    std::fs::write(cfg.path().join("config"), "[defaults]\ngroup = rg\n").unwrap();
    let listed = Azid::at(&env, &["identity", "list"])
        .env("AZURE_CONFIG_DIR", cfg.path().to_str().unwrap())
        .run()
        .await
        .ok();
    assert_eq!(listed.json()[0]["name"], "app");
    let none = Azid::at(&env, &["identity", "show", "-n", "app"])
        .run()
        .await
        .fails(2);
    assert!(
        none.stderr.contains("no resource group") || none.stderr.contains("-g"),
        "{none:?}"
    );
}

#[tokio::test]
async fn only_show_errors_drops_the_warnings() {
    let env = Env::start().await;
    env.group("rg").await;
    let used = env.identity("rg", "used").await;
    attach(&env, "web", used["id"].as_str().unwrap()).await;
    let run = Azid::at(
        &env,
        &[
            "--only-show-errors",
            "identity",
            "delete",
            "-g",
            "rg",
            "-n",
            "used",
        ],
    )
    .run()
    .await
    .ok();
    assert!(!run.stderr.contains("WARNING"), "{run:?}");
    assert!(env.all_identity_names().await.is_empty());
}

#[tokio::test]
async fn bad_allow_read_and_endpoints_are_usage_errors() {
    let env = Env::start().await;
    let run = Azid::at(
        &env,
        &["--allow-read", "/nonexistent/azid/file.txt", "eval", "1"],
    )
    .run()
    .await
    .fails(2);
    assert!(run.stderr.contains("--allow-read"), "{run:?}");
    let url = env.emu.url().to_string();
    let with_user = url.replacen("http://", "http://user:secret@", 1);
    let with_path = format!("{url}/arm");
    for endpoint in [&with_user, &with_path] {
        let run = Azid::new(&[
            "--endpoint",
            endpoint,
            "--auth",
            "token",
            "--subscription",
            &env.sub,
            "group",
            "list",
        ])
        .env("AZID_TOKEN", env.emu.token())
        .run()
        .await
        .fails(2);
        assert!(run.stderr.contains("invalid endpoint"), "{run:?}");
        assert!(
            !run.stderr.contains("secret"),
            "the password is not echoed: {run:?}"
        );
    }
}
