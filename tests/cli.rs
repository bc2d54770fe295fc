//! The az-compatible commands, run as the real binary against a real emulator: the Azure
//! docs' commands literally, output shapes, paging, validation before any request,
//! credentials, subscription resolution, redaction and exit codes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Azid, Env};

/// The fields `az identity show` prints, in az's (sorted) order.
const AZ_FIELDS: [&str; 10] = [
    "clientId",
    "id",
    "isolationScope",
    "location",
    "name",
    "principalId",
    "resourceGroup",
    "tags",
    "tenantId",
    "type",
];

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// Checks the az shape of an identity against what the emulator itself says, field by field.
async fn matches_emulator(env: &Env, shown: &Value, rg: &str, name: &str) {
    assert_eq!(keys(shown), AZ_FIELDS);
    let raw = env
        .call(Method::GET, &env.identity_path(rg, name), None)
        .await;
    assert_eq!(raw.status, StatusCode::OK);
    let raw = raw.body;
    assert_eq!(shown["id"], raw["id"]);
    assert_eq!(shown["name"], raw["name"]);
    assert_eq!(shown["location"], raw["location"]);
    assert_eq!(shown["tags"], raw["tags"]);
    assert_eq!(
        shown["type"],
        "Microsoft.ManagedIdentity/userAssignedIdentities"
    );
    assert_eq!(shown["resourceGroup"], rg);
    for f in ["clientId", "principalId", "tenantId", "isolationScope"] {
        assert_eq!(shown[f], raw["properties"][f], "{f}");
    }
}

#[tokio::test]
async fn the_azure_docs_commands_work_against_an_emulator() {
    let env = Env::start().await;
    env.group("myResourceGroup").await;

    // az identity create -g <RESOURCE GROUP> -n <USER ASSIGNED IDENTITY NAME>
    let created = Azid::at(
        &env,
        &[
            "identity",
            "create",
            "-g",
            "myResourceGroup",
            "-n",
            "myUserAssignedIdentity",
        ],
    )
    .run()
    .await
    .ok();
    let created = created.json();
    matches_emulator(&env, &created, "myResourceGroup", "myUserAssignedIdentity").await;
    assert_eq!(
        created["location"], "eastus",
        "the group's location when -l is not given"
    );

    // az identity list -g <RESOURCE GROUP>
    let listed = Azid::at(&env, &["identity", "list", "-g", "myResourceGroup"])
        .run()
        .await
        .ok()
        .json();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], created);
    assert_eq!(
        listed[0]["type"],
        "Microsoft.ManagedIdentity/userAssignedIdentities"
    );

    // az identity delete -n <USER ASSIGNED IDENTITY NAME> -g <RESOURCE GROUP>
    let deleted = Azid::at(
        &env,
        &[
            "identity",
            "delete",
            "-n",
            "myUserAssignedIdentity",
            "-g",
            "myResourceGroup",
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(deleted.stdout, "", "az prints nothing on delete");
    let gone = env
        .call(
            Method::GET,
            &env.identity_path("myResourceGroup", "myUserAssignedIdentity"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Deleting what is gone succeeds quietly, as az does (ARM answers 204).
    Azid::at(
        &env,
        &[
            "identity",
            "delete",
            "-n",
            "myUserAssignedIdentity",
            "-g",
            "myResourceGroup",
        ],
    )
    .run()
    .await
    .ok();
}

#[tokio::test]
async fn the_azure_docs_commands_work_with_local() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = format!("--local={}", dir.path().display());
    let az = |args: &[&str]| {
        let mut all = vec![local.as_str()];
        all.extend_from_slice(args);
        Azid::new(&all)
    };
    az(&["group", "create", "-n", "rg", "-l", "westeurope"])
        .run()
        .await
        .ok();
    let created = az(&[
        "identity", "create", "-g", "rg", "-n", "app-1", "--tags", "env=dev",
    ])
    .run()
    .await
    .ok()
    .json();
    assert_eq!(keys(&created), AZ_FIELDS);
    assert_eq!(
        (created["location"].as_str(), created["tags"].clone()),
        (Some("westeurope"), json!({"env": "dev"}))
    );
    // State persists between runs in the --local folder.
    let listed = az(&["identity", "list", "-g", "rg"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(listed, json!([created]));
    let shown = az(&["identity", "show", "-g", "rg", "-n", "app-1"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(shown, created);
    az(&["identity", "delete", "-n", "app-1", "-g", "rg"])
        .run()
        .await
        .ok();
    assert_eq!(
        az(&["identity", "list", "-g", "rg"])
            .run()
            .await
            .ok()
            .json(),
        json!([])
    );
    // Options also go before the subcommand.
    let by_sub = Azid::new(&[local.as_str(), "-o", "tsv", "identity", "list"])
        .run()
        .await
        .ok();
    assert_eq!(by_sub.stdout, "");
}

#[tokio::test]
async fn lists_follow_every_page() {
    let env = Env::with(EmulatorOptions {
        page_size: 5,
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    env.group("other").await;
    for i in 0..23 {
        env.identity("rg", &format!("id-{i:02}")).await;
    }
    env.identity("other", "elsewhere").await;
    let listed = Azid::at(
        &env,
        &["identity", "list", "-g", "rg", "--query", "[].name"],
    )
    .run()
    .await
    .ok()
    .json();
    let expected: Vec<String> = (0..23).map(|i| format!("id-{i:02}")).collect();
    assert_eq!(listed, json!(expected));
    let all = Azid::at(&env, &["identity", "list"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(all.as_array().expect("array").len(), 24);
}

/// Serves one ARM-looking page whose nextLink points at another server, and counts what reaches that one.
async fn foreign_next_link_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let arm = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let evil = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (arm_addr, evil_addr) = (
        arm.local_addr().expect("addr"),
        evil.local_addr().expect("addr"),
    );
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = evil.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = s.shutdown().await;
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = arm.accept().await {
            let mut buf = vec![0u8; 8192];
            let _ = s.read(&mut buf).await;
            let body = json!({"value": [], "nextLink": format!("http://{evil_addr}/subscriptions/x?$skiptoken=1")})
                .to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (arm_addr, reached)
}

#[tokio::test]
async fn a_foreign_next_link_is_refused() {
    let (addr, reached) = foreign_next_link_server().await;
    let run = Azid::new(&[
        "identity",
        "list",
        "--endpoint",
        &format!("http://{addr}"),
        "--auth",
        "token",
        "--subscription",
        "00000000-0000-0000-0000-000000000001",
    ])
    .env("AZID_TOKEN", "secret-token")
    .run()
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("refusing to follow"), "{}", run.stderr);
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "nothing was sent to the other host"
    );
}

#[tokio::test]
async fn bad_input_fails_before_any_request() {
    // Nothing listens here: a request would fail with a connection error and exit 1, not 2.
    let nowhere = ["--endpoint", "http://127.0.0.1:9", "--auth", "token"];
    let sub = "00000000-0000-0000-0000-000000000001";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["identity", "create", "-g", "rg", "-n", "ab"],
            "invalid identity name 'ab'",
        ),
        (
            vec!["identity", "create", "-g", "rg", "--name=-lead"],
            "invalid identity name",
        ),
        (
            vec!["identity", "create", "-g", "bad rg", "-n", "good"],
            "invalid resource group name 'bad rg'",
        ),
        (
            vec!["identity", "create", "-g", "rg.", "-n", "good"],
            "invalid resource group name",
        ),
        (
            vec![
                "identity", "create", "-g", "rg", "-n", "good", "-l", "east/us",
            ],
            "invalid location",
        ),
        (
            vec![
                "identity", "create", "-g", "rg", "-n", "good", "--tags", "=v",
            ],
            "invalid tag",
        ),
        (
            vec![
                "identity",
                "show",
                "--ids",
                "/subscriptions/x/resourceGroups/rg",
            ],
            "invalid identity id",
        ),
        (
            vec![
                "identity",
                "delete",
                "--ids",
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ok1",
                "/bad",
            ],
            "invalid identity id '/bad'",
        ),
        (
            vec!["identity", "list", "--subscription", "not-a-uuid"],
            "invalid subscription id 'not-a-uuid'",
        ),
        (
            vec![
                "group",
                "create",
                "-n",
                "x".repeat(91).leak(),
                "-l",
                "eastus",
            ],
            "invalid resource group name",
        ),
        (vec!["identity", "list", "--query", "[?"], "invalid --query"),
    ];
    for (args, message) in cases {
        let mut all = args.clone();
        all.extend_from_slice(&nowhere);
        let run = Azid::new(&all)
            .env("AZID_TOKEN", "t")
            .env("AZURE_SUBSCRIPTION_ID", sub)
            .run()
            .await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.starts_with("ERROR: ") && run.stderr.contains(message),
            "{args:?}: {}",
            run.stderr
        );
    }
    let many: Vec<String> = (0..51).map(|i| format!("k{i}=v")).collect();
    let mut args = vec!["identity", "create", "-g", "rg", "-n", "good", "--tags"];
    args.extend(many.iter().map(String::as_str));
    args.extend_from_slice(&nowhere);
    let run = Azid::new(&args)
        .env("AZID_TOKEN", "t")
        .env("AZURE_SUBSCRIPTION_ID", sub)
        .run()
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("at most 50 tags"), "{}", run.stderr);
    // The same command with valid input does try the endpoint, and fails to connect (exit 1).
    let reached = Azid::new(&[
        "identity",
        "list",
        "-g",
        "rg",
        "--endpoint",
        "http://127.0.0.1:9",
        "--auth",
        "token",
        "--max-retries",
        "0",
    ])
    .env("AZID_TOKEN", "t")
    .env("AZURE_SUBSCRIPTION_ID", sub)
    .run()
    .await;
    assert_eq!(reached.code, 1, "{reached:?}");
    assert!(
        reached
            .stderr
            .contains("could not reach http://127.0.0.1:9/"),
        "{}",
        reached.stderr
    );
}

#[tokio::test]
async fn exit_codes_follow_az() {
    let env = Env::start().await;
    env.group("rg").await;
    let missing = Azid::at(&env, &["identity", "show", "-g", "rg", "-n", "nobody"])
        .run()
        .await;
    assert_eq!(missing.code, 3, "{missing:?}");
    assert!(
        missing.stderr.starts_with(
            "ERROR: (ResourceNotFound) The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/nobody'"
        ),
        "{}",
        missing.stderr
    );
    let no_group = Azid::at(
        &env,
        &["identity", "create", "-g", "nogroup", "-n", "someone"],
    )
    .run()
    .await;
    assert_eq!(no_group.code, 1);
    assert_eq!(
        no_group.stderr.trim(),
        "ERROR: (ResourceGroupNotFound) Resource group 'nogroup' could not be found."
    );
    let usage = Azid::at(&env, &["identity", "create", "-g", "rg"])
        .run()
        .await;
    assert_eq!(usage.code, 2);
    let group_missing = Azid::at(&env, &["group", "show", "-n", "nogroup"])
        .run()
        .await;
    assert_eq!(group_missing.code, 3);
    let wrong_token = Azid::at(&env, &["identity", "list"])
        .env("AZID_TOKEN", "wrong")
        .run()
        .await;
    assert_eq!(wrong_token.code, 1);
    assert!(
        wrong_token.stderr.contains("(InvalidAuthenticationToken)"),
        "{}",
        wrong_token.stderr
    );
}

#[tokio::test]
async fn update_show_and_delete_by_ids() {
    let env = Env::start().await;
    env.group("rg").await;
    let mut ids = Vec::new();
    for name in ["a-1", "b-2", "c-3"] {
        ids.push(
            env.identity("rg", name).await["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    let updated = Azid::at(
        &env,
        &[
            "identity", "update", "-g", "rg", "-n", "a-1", "--tags", "owner=me", "team=x",
        ],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(updated["tags"], json!({"owner": "me", "team": "x"}));
    let raw = env
        .call(Method::GET, &env.identity_path("rg", "a-1"), None)
        .await;
    assert_eq!(raw.body["tags"], json!({"owner": "me", "team": "x"}));
    let cleared = Azid::at(
        &env,
        &["identity", "update", "--ids", &ids[0], "--tags", ""],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(cleared["tags"], json!({}));

    let shown = Azid::at(&env, &["identity", "show", "--ids", &ids[1], &ids[2]])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(shown.as_array().expect("array").len(), 2);

    let mut args = vec!["identity", "delete", "--ids"];
    args.extend(ids.iter().map(String::as_str));
    Azid::at(&env, &args).run().await.ok();
    assert!(env.all_identity_names().await.is_empty());

    let created = Azid::at(
        &env,
        &[
            "identity",
            "create",
            "-g",
            "rg",
            "-n",
            "regional",
            "-l",
            "westus",
            "--isolation-scope",
            "Regional",
        ],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(
        (
            created["isolationScope"].as_str(),
            created["location"].as_str()
        ),
        (Some("Regional"), Some("westus"))
    );
}

#[tokio::test]
async fn group_commands() {
    let env = Env::with(EmulatorOptions {
        group_delete_delay: std::time::Duration::from_millis(300),
        ..EmulatorOptions::default()
    })
    .await;
    let created = Azid::at(
        &env,
        &[
            "group", "create", "-n", "rg-a", "-l", "eastus", "--tags", "k=v",
        ],
    )
    .run()
    .await
    .ok()
    .json();
    assert_eq!(
        keys(&created),
        [
            "id",
            "location",
            "managedBy",
            "name",
            "properties",
            "tags",
            "type"
        ]
    );
    assert_eq!(created["tags"], json!({"k": "v"}));
    Azid::at(&env, &["group", "create", "-n", "rg-b", "-l", "eastus"])
        .run()
        .await
        .ok();
    let names = Azid::at(&env, &["group", "list", "--query", "[].name", "-o", "tsv"])
        .run()
        .await
        .ok();
    assert_eq!(names.stdout, "rg-a\nrg-b\n");
    env.identity("rg-a", "inside").await;

    let refused = Azid::at(&env, &["group", "delete", "-n", "rg-a"])
        .run()
        .await;
    assert_eq!(
        refused.code, 2,
        "no confirmation without a terminal or --yes"
    );
    assert_eq!(
        env.call(Method::HEAD, &env.group_path("rg-a"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    Azid::at(&env, &["group", "delete", "-n", "rg-a", "--yes"])
        .run()
        .await
        .ok();
    assert_eq!(
        env.call(Method::HEAD, &env.group_path("rg-a"), None)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "waited until done"
    );
    assert!(env.all_identity_names().await.is_empty());

    Azid::at(
        &env,
        &["group", "delete", "-n", "rg-b", "--yes", "--no-wait"],
    )
    .run()
    .await
    .ok();
    let state = env.call(Method::GET, &env.group_path("rg-b"), None).await;
    assert_eq!(
        state.body["properties"]["provisioningState"], "Deleting",
        "--no-wait returns while it runs"
    );
}

#[tokio::test]
async fn output_formats() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "one").await;
    let table = Azid::at(&env, &["identity", "list", "-g", "rg", "-o", "table"])
        .run()
        .await
        .ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with("ClientId")
            && lines[0].contains("Name")
            && lines[0].contains("ResourceGroup"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("----"));
    let yaml = Azid::at(
        &env,
        &["identity", "show", "-g", "rg", "-n", "one", "-o", "yaml"],
    )
    .run()
    .await
    .ok();
    assert!(yaml.stdout.contains("name: one\n"), "{}", yaml.stdout);
    let none = Azid::at(
        &env,
        &["identity", "show", "-g", "rg", "-n", "one", "-o", "none"],
    )
    .run()
    .await
    .ok();
    assert_eq!(none.stdout, "");
    let jsonc = Azid::at(
        &env,
        &["identity", "show", "-g", "rg", "-n", "one", "-o", "jsonc"],
    )
    .run()
    .await
    .ok();
    assert!(jsonc.stdout.contains("\u{1b}["));
    let name = Azid::at(
        &env,
        &[
            "identity", "show", "-g", "rg", "-n", "one", "--query", "name", "-o", "tsv",
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(name.stdout, "one\n");
}

#[tokio::test]
async fn debug_logs_requests_without_the_token() {
    let env = Env::start().await;
    env.group("rg").await;
    let run = Azid::at(&env, &["identity", "list", "-g", "rg", "--debug"])
        .run()
        .await
        .ok();
    assert!(
        run.stderr.contains("GET http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("-> 200"), "{}", run.stderr);
    assert!(run.stderr.contains("request id"), "{}", run.stderr);
    assert!(run.stderr.contains("REDACTED"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("credential: static token from AZID_TOKEN"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(env.emu.token()),
        "the token never appears"
    );
    let quiet = Azid::at(&env, &["identity", "list", "-g", "rg"])
        .run()
        .await
        .ok();
    assert_eq!(quiet.stderr, "");
    let verbose = Azid::at(&env, &["identity", "list", "-g", "rg", "-v"])
        .run()
        .await
        .ok();
    assert_eq!(verbose.stderr.lines().count(), 1, "{}", verbose.stderr);
}

#[tokio::test]
async fn managed_identity_credential_end_to_end() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "seen").await;
    // The official azure_identity ManagedIdentityCredential, through the emulator's App Service endpoint.
    for auth in ["managed-identity", "auto"] {
        let run = Azid::new(&[
            "identity",
            "list",
            "--endpoint",
            env.emu.url(),
            "--auth",
            auth,
            "--subscription",
            &env.sub,
            "--debug",
        ])
        .env("IDENTITY_ENDPOINT", &env.emu.identity_endpoint())
        .env("IDENTITY_HEADER", env.emu.identity_header())
        .run()
        .await
        .ok();
        assert_eq!(run.json()[0]["name"], "seen");
        assert!(
            run.stderr.contains("credential: managed identity"),
            "{}",
            run.stderr
        );
    }
}

#[tokio::test]
async fn credentials_that_cannot_work_fail_fast_and_locally() {
    let env = Env::start().await;
    // A client secret whose authority is a closed loopback port: no Entra host is ever contacted.
    let run = Azid::new(&[
        "identity",
        "list",
        "--endpoint",
        env.emu.url(),
        "--auth",
        "env",
        "--subscription",
        &env.sub,
    ])
    .env("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
    .env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000aa")
    .env("AZURE_CLIENT_SECRET", "not-a-secret")
    .env("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9")
    .run()
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("could not get a token from the environment credential"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("not-a-secret"));

    let missing = Azid::new(&[
        "identity",
        "list",
        "--endpoint",
        env.emu.url(),
        "--auth",
        "token",
        "--subscription",
        &env.sub,
    ])
    .run()
    .await;
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("AZID_TOKEN"), "{}", missing.stderr);

    // No az on PATH: the Azure CLI credential fails at once with a clear message.
    let cli = Azid::new(&[
        "identity",
        "list",
        "--endpoint",
        env.emu.url(),
        "--auth",
        "cli",
        "--subscription",
        &env.sub,
    ])
    .env("PATH", "/nonexistent")
    .run()
    .await;
    assert_eq!(cli.code, 1, "{cli:?}");
    assert!(cli.stderr.contains("Azure CLI"), "{}", cli.stderr);
}

#[tokio::test]
async fn subscription_comes_from_flag_env_then_cli_profile() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "found").await;
    let base = [
        "identity",
        "list",
        "--endpoint",
        env.emu.url(),
        "--auth",
        "token",
    ];
    let from_env = Azid::new(&base)
        .env("AZID_TOKEN", env.emu.token())
        .env("AZURE_SUBSCRIPTION_ID", &env.sub)
        .run()
        .await
        .ok();
    assert_eq!(from_env.json()[0]["name"], "found");

    let profile_dir = tempfile::tempdir().expect("tempdir");
    let profile = json!({"subscriptions": [
        {"id": "99999999-9999-9999-9999-999999999999", "isDefault": false},
        {"id": env.sub, "isDefault": true}
    ]});
    std::fs::write(
        profile_dir.path().join("azureProfile.json"),
        format!("\u{feff}{profile}"),
    )
    .expect("write");
    let from_profile = Azid::new(&base)
        .env("AZID_TOKEN", env.emu.token())
        .env(
            "AZURE_CONFIG_DIR",
            profile_dir.path().to_str().expect("utf-8"),
        )
        .run()
        .await
        .ok();
    assert_eq!(from_profile.json()[0]["name"], "found");

    // The flag wins over the environment.
    let flag = Azid::new(&base)
        .env("AZID_TOKEN", env.emu.token())
        .env(
            "AZURE_SUBSCRIPTION_ID",
            "99999999-9999-9999-9999-999999999999",
        )
        .run()
        .await;
    assert_eq!(
        flag.code, 1,
        "the env's subscription is unknown to the emulator"
    );
    let mut with_flag = base.to_vec();
    with_flag.extend_from_slice(&["--subscription", &env.sub]);
    Azid::new(&with_flag)
        .env("AZID_TOKEN", env.emu.token())
        .env(
            "AZURE_SUBSCRIPTION_ID",
            "99999999-9999-9999-9999-999999999999",
        )
        .run()
        .await
        .ok();

    let none = Azid::new(&base)
        .env("AZID_TOKEN", env.emu.token())
        .run()
        .await;
    assert_eq!(none.code, 1);
    assert!(
        none.stderr
            .contains("no subscription is set: pass --subscription"),
        "{}",
        none.stderr
    );
}

#[tokio::test]
async fn https_endpoint_trusted_through_ca_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = Env::with(EmulatorOptions {
        tls: true,
        data: Some(dir.path().join("tls.db")),
        ..EmulatorOptions::default()
    })
    .await;
    let ca = env
        .emu
        .ca_bundle()
        .expect("CA written")
        .to_str()
        .expect("utf-8")
        .to_string();
    let base = [
        "group",
        "create",
        "-n",
        "secure",
        "-l",
        "eastus",
        "--endpoint",
        env.emu.url(),
        "--auth",
        "token",
        "--subscription",
        &env.sub,
    ];
    let untrusted = Azid::new(&base)
        .env("AZID_TOKEN", env.emu.token())
        .run()
        .await;
    assert_eq!(untrusted.code, 1, "{untrusted:?}");
    assert!(
        untrusted.stderr.contains("could not connect securely"),
        "{}",
        untrusted.stderr
    );
    let mut trusted = base.to_vec();
    trusted.extend_from_slice(&["--ca-bundle", &ca]);
    let run = Azid::new(&trusted)
        .env("AZID_TOKEN", env.emu.token())
        .run()
        .await
        .ok();
    assert_eq!(run.json()["name"], "secure");
}
