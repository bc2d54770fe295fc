//! The Rhai host end to end: every API function against a real emulator with the state
//! read back over HTTP, every doc example, error rendering, try/catch, limits and sandbox,
//! dry-run, ARGS and exit codes, standard input, and Ctrl-C.

use azid::host::api::DOCS;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env};

/// A group `rg` in eastus holding `app-1` (tagged owner=me): what the doc examples expect.
pub(crate) async fn fixture() -> Env {
    let env = Env::start().await;
    env.group("rg").await;
    let r = env
        .call(
            Method::PUT,
            &env.identity_path("rg", "app-1"),
            Some(json!({"location": "eastus", "tags": {"owner": "me"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    env
}

async fn eval(env: &Env, script: &str) -> Value {
    Azid::at(env, &["eval", script]).run().await.ok().json()
}

/// A folder for the file functions' examples: `identities.csv` and `policy.json`, which the
/// examples may read, and room to write (the examples run there with `--allow-read .` and
/// `--allow-write .`).
pub(crate) fn example_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("identities.csv"),
        "name,resourceGroup,location,tags\napp-7,rg,eastus,owner=me\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("policy.json"),
        r#"{"required": ["owner", "env"]}"#,
    )
    .expect("write");
    dir
}

#[tokio::test]
async fn every_doc_example_runs() {
    for doc in DOCS {
        let env = fixture().await;
        let files = example_files();
        let run = Azid::at(
            &env,
            &[
                "--allow-read",
                ".",
                "--allow-write",
                ".",
                "eval",
                doc.example,
            ],
        )
        .cwd(files.path())
        .run()
        .await;
        assert_eq!(run.code, 0, "{}: {}\n{run:?}", doc.signature(), doc.example);
    }
}

#[tokio::test]
async fn identity_functions_change_what_the_emulator_holds() {
    let env = fixture().await;
    let created = eval(
        &env,
        r#"identity_create("rg", "app-2", #{location: "westus", tags: #{env: "dev"}})"#,
    )
    .await;
    let raw = env
        .call(Method::GET, &env.identity_path("rg", "app-2"), None)
        .await
        .body;
    assert_eq!(created["principalId"], raw["properties"]["principalId"]);
    assert_eq!(
        (created["location"].as_str(), created["tags"].clone()),
        (Some("westus"), json!({"env": "dev"}))
    );
    let fields: Vec<&str> = created
        .as_object()
        .expect("map")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "clientId",
            "id",
            "isolationScope",
            "location",
            "name",
            "principalId",
            "resourceGroup",
            "tags",
            "tenantId",
            "type"
        ]
    );

    let in_group = eval(&env, r#"identity_create("rg", "app-3").location"#).await;
    assert_eq!(in_group, "eastus", "the group's location by default");

    let updated = eval(
        &env,
        r#"identity_update("rg", "app-1", #{tags: #{owner: "ops"}}).tags"#,
    )
    .await;
    assert_eq!(updated, json!({"owner": "ops"}));
    assert_eq!(
        env.call(Method::GET, &env.identity_path("rg", "app-1"), None)
            .await
            .body["tags"],
        json!({"owner": "ops"})
    );

    assert_eq!(eval(&env, r#"identity_list().len()"#).await, 3);
    assert_eq!(
        eval(&env, r#"identity_list("rg").map(|i| i.name)"#).await,
        json!(["app-1", "app-2", "app-3"])
    );
    assert_eq!(
        eval(&env, r#"identity_show("rg", "nobody") == ()"#).await,
        true
    );

    assert_eq!(eval(&env, r#"identity_delete("rg", "app-3")"#).await, true);
    assert_eq!(eval(&env, r#"identity_delete("rg", "app-3")"#).await, false);
    assert_eq!(
        eval(&env, r#"identity_delete(identity_show("rg", "app-2"))"#).await,
        true
    );
    assert_eq!(
        eval(&env, r#"identity_delete(identity_show("rg", "app-1").id)"#).await,
        true
    );
    assert!(env.all_identity_names().await.is_empty());
}

#[tokio::test]
async fn array_forms_return_one_result_per_item_in_order() {
    let env = fixture().await;
    let results = eval(
        &env,
        r#"identity_create("rg", ["b-2", "a-1", "app-1"], #{tags: #{batch: "x"}})"#,
    )
    .await;
    let results = results.as_array().expect("array");
    assert_eq!(
        results
            .iter()
            .map(|r| r["name"].as_str().expect("name"))
            .collect::<Vec<_>>(),
        ["b-2", "a-1", "app-1"]
    );
    assert_eq!(
        results
            .iter()
            .map(|r| r["status"].as_i64().expect("status"))
            .collect::<Vec<_>>(),
        [201, 201, 200]
    );
    assert!(
        results
            .iter()
            .all(|r| r["ok"] == true && r["error"].is_null())
    );
    for r in results {
        let keys: Vec<&str> = r
            .as_object()
            .expect("map")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["attempts", "error", "id", "name", "ok", "status"]);
        assert_eq!(r["attempts"], 1);
    }
    assert_eq!(env.all_identity_names().await, ["a-1", "app-1", "b-2"]);

    // One failure (an id in an unknown subscription) does not stop the others.
    let script = r#"
        let ids = identity_list("rg").map(|i| i.id);
        ids.insert(1, "/subscriptions/00000000-0000-0000-0000-0000000000ff/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ghost");
        identity_delete(ids)
    "#;
    let results = eval(&env, script).await;
    let results = results.as_array().expect("array");
    assert_eq!(results.len(), 4);
    assert_eq!(results[1]["ok"], false);
    assert_eq!(results[1]["error"]["code"], "SubscriptionNotFound");
    assert_eq!(results[1]["status"], 404);
    assert!(
        results
            .iter()
            .enumerate()
            .all(|(i, r)| i == 1 || r["ok"] == true)
    );
    assert!(env.all_identity_names().await.is_empty());

    // A bad name is refused before anything is sent.
    let bad = Azid::at(
        &env,
        &[
            "eval",
            r#"identity_create("rg", ["fine-1", "no good"], #{})"#,
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(
        bad.stderr.contains("invalid identity name 'no good'"),
        "{}",
        bad.stderr
    );
    assert!(env.all_identity_names().await.is_empty());
}

#[tokio::test]
async fn group_and_subscription_functions() {
    let env = fixture().await;
    assert_eq!(
        eval(&env, r#"group_create("rg-new", "West Europe").location"#).await,
        "westeurope"
    );
    assert_eq!(
        env.call(Method::HEAD, &env.group_path("rg-new"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        eval(&env, r#"group_list().map(|g| g.name)"#).await,
        json!(["rg", "rg-new"])
    );
    assert_eq!(
        eval(&env, r#"group_show("rg-new").properties.provisioningState"#).await,
        "Succeeded"
    );
    assert_eq!(eval(&env, r#"group_show("nope") == ()"#).await, true);
    assert_eq!(eval(&env, r#"group_delete("rg")"#).await, true);
    assert_eq!(
        env.call(Method::HEAD, &env.group_path("rg"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        env.all_identity_names().await.is_empty(),
        "the group's identities went with it"
    );
    assert_eq!(eval(&env, r#"group_delete("rg")"#).await, false);
    assert_eq!(eval(&env, "subscription()").await, env.sub.as_str());
    let other = Azid::at(
        &env,
        &[
            "eval",
            r#"use_subscription("00000000-0000-0000-0000-0000000000ff"); identity_list()"#,
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(
        other.stderr.contains("(SubscriptionNotFound)"),
        "{}",
        other.stderr
    );
    let bad = Azid::at(&env, &["eval", r#"use_subscription("nope")"#])
        .run()
        .await
        .fails(1);
    assert!(
        bad.stderr.contains("invalid subscription id 'nope'"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn helpers_render_and_parse() {
    let env = fixture().await;
    let table = Azid::at(
        &env,
        &[
            "eval",
            r#"table(identity_list("rg"), ["name", "location", "tags"])"#,
        ],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(
        table,
        "Name   Location  Tags\n-----  --------  --------------\napp-1  eastus    {\"owner\":\"me\"}\n"
    );
    assert_eq!(
        eval(&env, r#"parse_json(to_json(#{a: [1, true, "x"]}))"#).await,
        json!({"a": [1, true, "x"]})
    );
    let bad = Azid::at(&env, &["eval", r#"parse_json("{oops")"#])
        .run()
        .await
        .fails(1);
    assert!(bad.stderr.contains("invalid JSON"), "{}", bad.stderr);
    assert_eq!(
        eval(&env, r#"confirm("really?")"#).await,
        false,
        "no terminal, no --yes: no"
    );
    assert_eq!(
        Azid::at(&env, &["eval", r#"confirm("really?")"#, "--yes"])
            .run()
            .await
            .ok()
            .json(),
        true
    );
    let table = Azid::at(&env, &["eval", r#"identity_list("rg")"#, "-o", "table"])
        .run()
        .await
        .ok();
    assert!(table.stdout.starts_with("ClientId"), "{}", table.stdout);
}

#[tokio::test]
async fn uncaught_errors_show_file_line_caret_and_code() {
    let env = fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("broken.rhai"),
        "// makes an identity\nlet ok = 1;\nlet x = identity_create(\"nogroup\", \"app\");\n",
    )
    .expect("write");
    let run = Azid::at(&env, &["run", "broken.rhai"])
        .cwd(dir.path())
        .run()
        .await
        .fails(1);
    assert_eq!(
        run.stderr,
        "broken.rhai:3:9: (ResourceGroupNotFound) Resource group 'nogroup' could not be found.\n\
         3 | let x = identity_create(\"nogroup\", \"app\");\n  \
         |         ^\n"
    );
    let syntax = Azid::at(&env, &["eval", "let = 5;"]).run().await.fails(1);
    assert!(
        syntax.stderr.starts_with("<eval>:1:5: (SyntaxError)"),
        "{}",
        syntax.stderr
    );
    let inside = Azid::at(
        &env,
        &[
            "eval",
            "fn f() {\n  identity_update(\"rg\", \"nobody\", #{tags: #{}})\n}\nf()",
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(
        inside.stderr.starts_with("<eval>:2:3: (ResourceNotFound)"),
        "the position inside the function: {}",
        inside.stderr
    );
}

#[tokio::test]
async fn arm_errors_are_caught_as_maps() {
    let env = fixture().await;
    let script = r#"
        let caught = ();
        try { identity_update("rg", "nobody", #{tags: #{}}) } catch (e) { caught = e }
        let local = ();
        try { identity_create("rg", "x") } catch (e) { local = e }
        [caught, local]
    "#;
    let out = eval(&env, script).await;
    assert_eq!(out[0]["code"], "ResourceNotFound");
    assert_eq!(out[0]["status"], 404);
    assert!(
        out[0]["message"]
            .as_str()
            .expect("message")
            .contains("nobody")
    );
    assert_eq!(out[1]["code"], "InvalidArgument");
    assert!(out[1]["status"].is_null(), "nothing was sent");
}

#[tokio::test]
async fn limits_and_sandbox() {
    let env = fixture().await;
    let forever = Azid::at(&env, &["eval", "loop { }", "--max-operations", "10000"])
        .run()
        .await
        .fails(1);
    assert!(
        forever
            .stderr
            .contains("(LimitExceeded) the script ran too many operations"),
        "{}",
        forever.stderr
    );
    let deep = Azid::at(
        &env,
        &[
            "eval",
            "fn f(n) { f(n + 1) } f(0)",
            "--max-call-depth",
            "16",
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(
        deep.stderr.contains("LimitExceeded") || deep.stderr.contains("Stack overflow"),
        "{}",
        deep.stderr
    );
    let big = Azid::at(
        &env,
        &[
            "eval",
            "let s = \"x\"; loop { s += s; }",
            "--max-string-size",
            "1000",
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(big.stderr.contains("too large"), "{}", big.stderr);
    for escape in [
        r#"open_file("/etc/passwd")"#,
        r#"read_file("/etc/passwd")"#,
        r#"system("ls")"#,
        r#"env("HOME")"#,
    ] {
        let run = Azid::at(&env, &["eval", escape]).run().await.fails(1);
        assert!(
            run.stderr.contains("there is no function"),
            "{escape}: {}",
            run.stderr
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("inner")).expect("mkdir");
    std::fs::write(dir.path().join("secret.rhai"), "export const SECRET = 42;").expect("write");
    std::fs::write(
        dir.path().join("inner/helper.rhai"),
        "fn twice(x) { x * 2 }",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("inner/main.rhai"),
        "import \"helper\" as h;\nh::twice(21)",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("inner/peek.rhai"),
        "import \"../secret\" as s;\ns::SECRET",
    )
    .expect("write");
    Azid::at(&env, &["run", "inner/main.rhai"])
        .cwd(dir.path())
        .run()
        .await
        .ok();
    let peek = Azid::at(&env, &["run", "inner/peek.rhai"])
        .cwd(dir.path())
        .run()
        .await
        .fails(1);
    assert!(peek.stderr.contains("without '..'"), "{}", peek.stderr);
}

#[tokio::test]
async fn shipped_modules_come_first() {
    let env = fixture().await;
    let out = eval(
        &env,
        r#"import "tags" as tags; tags::missing(identity_show("rg", "app-1"), ["owner", "env"])"#,
    )
    .await;
    assert_eq!(out, json!(["env"]));
    let has = eval(&env, r#"import "tags" as t; [t::has(identity_show("rg", "app-1"), "owner"), t::value(identity_show("rg", "app-1"), "env", "none")]"#).await;
    assert_eq!(has, json!([true, "none"]));
}

#[tokio::test]
async fn dry_run_changes_nothing_and_prints_the_plan() {
    let env = fixture().await;
    env.identity("rg", "old-1").await;
    let before = env.list_all(&env.identities_in_sub()).await.0;
    let script = r#"
        let made = identity_create("rg", "new-1", #{tags: #{a: "b"}});
        print(made.clientId);
        identity_create("rg", "app-1");
        identity_update("rg", "old-1", #{tags: #{x: "y"}});
        print(identity_delete("rg", "old-1"));
        print(identity_delete("rg", "never-was"));
        identity_delete(["/subscriptions/SUB/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-1"]);
        group_create("rg2", "eastus");
        group_delete("rg");
    "#
    .replace("SUB", &env.sub);
    let run = Azid::at(&env, &["eval", &script, "--dry-run"])
        .run()
        .await
        .ok();
    let id = |name: &str| {
        format!(
            "/subscriptions/{}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
            env.sub
        )
    };
    let expected = format!(
        "(known after apply)\ntrue\nfalse\ntrue\n+ create {}\n~ update {}\n~ update {}\n- delete {}\n- delete {}\n+ create /subscriptions/{sub}/resourceGroups/rg2\n- delete /subscriptions/{sub}/resourceGroups/rg\nPlan: 2 to create, 2 to update, 3 to delete. Nothing was changed (dry run).\n",
        id("new-1"),
        id("app-1"),
        id("old-1"),
        id("old-1"),
        id("app-1"),
        sub = env.sub
    );
    assert_eq!(run.stdout, expected);
    assert_eq!(
        env.list_all(&env.identities_in_sub()).await.0,
        before,
        "nothing changed"
    );
    assert_eq!(
        env.call(Method::HEAD, &env.group_path("rg2"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn run_passes_args_and_exit_codes() {
    let env = fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("args.rhai"),
        "print(ARGS);\nif ARGS.len() > 1 { exit(parse_int(ARGS[1])) }\nidentity_create(\"rg\", ARGS[0]);\n",
    )
    .expect("write");
    let run = Azid::at(&env, &["run", "args.rhai", "--", "from-args"])
        .cwd(dir.path())
        .run()
        .await
        .ok();
    assert_eq!(
        run.stdout, "[\"from-args\"]\n",
        "run prints only what the script prints"
    );
    assert!(
        env.all_identity_names()
            .await
            .contains(&"from-args".to_string())
    );
    Azid::at(&env, &["run", "args.rhai", "--", "x", "4"])
        .cwd(dir.path())
        .run()
        .await
        .fails(4);
    let missing = Azid::at(&env, &["run", "nowhere.rhai"])
        .run()
        .await
        .fails(2);
    assert!(
        missing
            .stderr
            .contains("could not read the script nowhere.rhai"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
async fn standard_input_is_a_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = format!("--local={}", dir.path().display());
    Azid::new(&[&local, "group", "create", "-n", "rg", "-l", "eastus"])
        .run()
        .await
        .ok();
    Azid::new(&[&local, "identity", "create", "-g", "rg", "-n", "piped"])
        .run()
        .await
        .ok();
    let run = Azid::new(&[&local])
        .stdin("identity_list().len()")
        .run()
        .await
        .ok();
    assert_eq!(run.stdout, "1\n");
    let nothing = Azid::new(&[&local]).stdin("let x = 1;").run().await.ok();
    assert_eq!(nothing.stdout, "");
    // eval always prints its value: `()` is null.
    let unit = Azid::new(&[&local, "eval", "let x = 1;"]).run().await.ok();
    assert_eq!(unit.stdout, "null\n");
}

#[tokio::test]
async fn ctrl_c_stops_at_the_next_operation_and_reports() {
    let env = Env::start().await;
    env.group("rg").await;
    let script = r#"let i = 0; loop { identity_create("rg", "n-" + i); i += 1; }"#;
    let (child, _home) = Azid::at(&env, &["eval", script]).spawn();
    let pid = child.id().to_string();
    // Wait until it has done some work, then interrupt it.
    for _ in 0..200 {
        if env.all_identity_names().await.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("ends"))
        .await
        .expect("join");
    assert_eq!(out.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let created: usize = stderr
        .strip_prefix("interrupted: ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a report: {stderr}"));
    assert_eq!(
        created,
        env.all_identity_names().await.len(),
        "the report matches the emulator"
    );
}

#[tokio::test]
async fn a_dry_run_create_in_a_missing_group_fails_like_the_real_one() {
    let env = fixture().await;
    let run = Azid::at(
        &env,
        &[
            "eval",
            r#"identity_create("nogroup", "x-1", #{location: "westus"})"#,
            "--dry-run",
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(
        run.stderr.contains("(ResourceGroupNotFound)"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_wrong_call_says_what_the_function_takes() {
    let env = fixture().await;
    let fails = |script: &'static str| {
        let env = &env;
        async move { Azid::at(env, &["eval", script]).run().await.fails(1).stderr }
    };
    let wrong_args = fails(r#"identity_show("rg")"#).await;
    assert!(
        wrong_args
            .contains(r#"identity_show expects (rg, name); did you mean identity_list("rg")?"#),
        "{wrong_args}"
    );
    let misspelt = fails("identiy_list()").await;
    assert!(
        misspelt.contains("did you mean identity_list?"),
        "{misspelt}"
    );
    let missing = fails(r#"identity_show("rg", "app-1").nosuch.len()"#).await;
    assert!(
        missing.contains(
            "the map has no field 'nosuch' (reading it gave ()), so len() cannot be called"
        ),
        "{missing}"
    );
    // From a variable, the message lists the fields the map has.
    let listed = fails(r#"let i = identity_show("rg", "app-1"); i.nosuch.len()"#).await;
    assert!(
        listed.contains("the map has no field 'nosuch'; it has: ")
            && listed.contains("clientId")
            && listed.contains("principalId"),
        "{listed}"
    );
    let nested = fails(r#"let all = [identity_show("rg", "app-1")]; all[0].tags.team.len()"#).await;
    assert!(
        nested.contains("the map has no field 'team'; it has: owner ("),
        "{nested}"
    );
    let unknown_option = fails(r#"identity_create("rg", "x-1", #{colour: "red"})"#).await;
    assert!(
        unknown_option.contains("unknown option 'colour'"),
        "{unknown_option}"
    );
    for text in [&wrong_args, &misspelt, &missing, &unknown_option] {
        for rust in ["&str", "ImmutableString", "''", "Function not found"] {
            assert!(!text.contains(rust), "{rust} in {text}");
        }
    }
    // A field that is absent still reads as () where a script expects it.
    let ok = Azid::at(
        &env,
        &["eval", r#"identity_show("rg", "app-1").tags.nosuch == ()"#],
    )
    .run()
    .await
    .ok();
    assert_eq!(ok.stdout, "true\n");
}

#[tokio::test]
async fn identity_show_in_a_missing_group_is_an_error() {
    let env = fixture().await;
    let absent = Azid::at(&env, &["eval", r#"identity_show("rg", "nobody")"#])
        .run()
        .await
        .ok();
    assert_eq!(absent.stdout, "null\n");
    let no_group = Azid::at(&env, &["eval", r#"identity_show("no-such-rg", "app-1")"#])
        .run()
        .await
        .fails(1);
    assert!(
        no_group.stderr.contains("(ResourceGroupNotFound)"),
        "{}",
        no_group.stderr
    );
}

#[tokio::test]
async fn a_dry_run_counts_a_name_once_whatever_its_case() {
    let env = fixture().await;
    let script = r#"identity_create("rg", "dup-1"); identity_create("rg", "DUP-1");
        identity_create("rg", ["dup-2", "Dup-2", "dup-2"], #{}); identity_update("rg", "app-1", #{tags: #{}});
        identity_update("rg", "APP-1", #{tags: #{}}); ()"#;
    let run = Azid::at(&env, &["--dry-run", "eval", script])
        .run()
        .await
        .ok();
    assert!(
        run.stdout.ends_with(
            "Plan: 2 to create, 1 to update, 0 to delete. Nothing was changed (dry run).\n"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 5, "{}", run.stdout);
}

#[tokio::test]
async fn text_from_arm_is_escaped_in_tables() {
    let env = fixture().await;
    let hostile = "ok\u{1b}[2K\r+ create everything";
    let r = env
        .call(
            Method::PUT,
            &env.identity_path("rg", "app-1"),
            Some(json!({"location": "eastus", "tags": {"note": hostile}})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    for script in [
        r#"print(table(identity_list("rg"), ["name", "tags"]))"#,
        r#"import "report" as report; print(report::table(identity_list("rg"), #{columns: ["name", "tags"]}))"#,
    ] {
        let run = Azid::at(&env, &["eval", script]).run().await.ok();
        assert!(
            !run.stdout.contains('\u{1b}') && !run.stdout.contains('\r'),
            "{script}: {:?}",
            run.stdout
        );
        assert!(
            run.stdout.contains(r"[2K\r+ create everything"),
            "{script}: {:?}",
            run.stdout
        );
    }
    let table = Azid::at(&env, &["identity", "list", "-g", "rg", "-o", "table"])
        .run()
        .await
        .ok();
    assert!(!table.stdout.contains('\u{1b}'), "{:?}", table.stdout);
}
