//! Caller permissions end to end: every role against create, show, list, update and
//! delete at subscription and resource-group scope, over HTTP with the state read back; an
//! Operator's cleanup through the CLI and Rhai; the dry-run that flags it first; `permissions`
//! and `can` against the emulator's own decisions; and roles for endpoint-issued tokens.

use std::time::Duration;

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env, RES};

const SUB: &str = "00000000-0000-0000-0000-0000000000a8";
const ROLES: [&str; 5] = [
    "owner",
    "contributor",
    "reader",
    "managed-identity-contributor",
    "managed-identity-operator",
];
const MSI: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

/// A fresh emulator knowing only `SUB`, with these `--caller` grants.
async fn env_with(callers: &[String]) -> Env {
    Env::with(EmulatorOptions {
        group_delete_delay: Duration::ZERO,
        subscriptions: vec![SUB.into()],
        callers: callers
            .iter()
            .map(|c| c.parse().expect("the caller parses"))
            .collect(),
        ..EmulatorOptions::default()
    })
    .await
}

fn group_scope(rg: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}")
}

fn identity_scope(rg: &str, name: &str) -> String {
    format!("{}/providers/{MSI}/{name}", group_scope(rg))
}

/// Groups `rg` and `other`, each holding `keep` and `gone`.
async fn seed(env: &Env) {
    for rg in ["rg", "other"] {
        env.group(rg).await;
        env.identity(rg, "keep").await;
        env.identity(rg, "gone").await;
    }
}

/// A request as `token`: `true` when it succeeded; a refusal must be ARM's 403, naming the
/// action and the scope.
async fn allowed(
    env: &Env,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    action: &str,
    scope: &str,
) -> bool {
    let r = env.call_as(Some(token), method.clone(), path, body).await;
    if r.status.is_success() {
        return true;
    }
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "{method} {path}: {:?}",
        r.body
    );
    assert_eq!(r.code(), "AuthorizationFailed");
    let message = r.body["error"]["message"].as_str().unwrap_or("");
    let wanted = format!(
        "does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. \
         If access was recently granted, please refresh your credentials."
    );
    assert!(message.starts_with("The client '"), "{message}");
    assert!(message.ends_with(&wanted), "{message}\nwanted: {wanted}");
    false
}

/// create, show, list in the group, list in the subscription, update, delete, create a group,
/// show in another group, delete in another group: which of these `token` may do. Checks that
/// each refused write left the emulator as it was.
async fn try_everything(env: &Env, token: &str) -> [bool; 9] {
    let msi = |verb: &str| format!("{MSI}/{verb}");
    let create = allowed(
        env,
        token,
        Method::PUT,
        &env.identity_path("rg", "new"),
        Some(json!({"location": "eastus"})),
        &msi("write"),
        &identity_scope("rg", "new"),
    )
    .await;
    let show = allowed(
        env,
        token,
        Method::GET,
        &env.identity_path("rg", "keep"),
        None,
        &msi("read"),
        &identity_scope("rg", "keep"),
    )
    .await;
    let list_group = allowed(
        env,
        token,
        Method::GET,
        &env.identities_in("rg"),
        None,
        &msi("read"),
        &group_scope("rg"),
    )
    .await;
    let list_sub = allowed(
        env,
        token,
        Method::GET,
        &env.identities_in_sub(),
        None,
        &msi("read"),
        &format!("/subscriptions/{SUB}"),
    )
    .await;
    let update = allowed(
        env,
        token,
        Method::PATCH,
        &env.identity_path("rg", "keep"),
        Some(json!({"tags": {"touched": "yes"}})),
        &msi("write"),
        &identity_scope("rg", "keep"),
    )
    .await;
    let delete = allowed(
        env,
        token,
        Method::DELETE,
        &env.identity_path("rg", "gone"),
        None,
        &msi("delete"),
        &identity_scope("rg", "gone"),
    )
    .await;
    let group_create = allowed(
        env,
        token,
        Method::PUT,
        &env.group_path("rg2"),
        Some(json!({"location": "eastus"})),
        "Microsoft.Resources/subscriptions/resourceGroups/write",
        &group_scope("rg2"),
    )
    .await;
    let other_show = allowed(
        env,
        token,
        Method::GET,
        &env.identity_path("other", "keep"),
        None,
        &msi("read"),
        &identity_scope("other", "keep"),
    )
    .await;
    let other_delete = allowed(
        env,
        token,
        Method::DELETE,
        &env.identity_path("other", "gone"),
        None,
        &msi("delete"),
        &identity_scope("other", "gone"),
    )
    .await;

    // What the owner reads back is what the answers said.
    let status = |rg: &'static str, name: &'static str| async move {
        env.call(Method::GET, &env.identity_path(rg, name), None)
            .await
    };
    assert_eq!(status("rg", "new").await.status.is_success(), create);
    let keep = status("rg", "keep").await;
    assert_eq!(keep.body["tags"].get("touched").is_some(), update);
    assert_eq!(status("rg", "gone").await.status.is_success(), !delete);
    assert_eq!(
        status("other", "gone").await.status.is_success(),
        !other_delete
    );
    let rg2 = env.call(Method::HEAD, &env.group_path("rg2"), None).await;
    assert_eq!(rg2.status == StatusCode::NO_CONTENT, group_create);
    [
        create,
        show,
        list_group,
        list_sub,
        update,
        delete,
        group_create,
        other_show,
        other_delete,
    ]
}

#[tokio::test]
async fn each_role_at_subscription_scope() {
    // create, show, list rg, list sub, update, delete, group create, other show, other delete
    let want: [[bool; 9]; 5] = [
        [true; 9],
        [true; 9],
        [false, true, true, true, false, false, false, true, false],
        [true, true, true, true, true, true, false, true, true],
        [false, true, true, true, false, false, false, true, false],
    ];
    for (role, want) in ROLES.into_iter().zip(want) {
        let env = env_with(&[format!("t={role}")]).await;
        seed(&env).await;
        assert_eq!(try_everything(&env, "t").await, want, "{role}");
    }
}

#[tokio::test]
async fn each_role_at_resource_group_scope() {
    // A role on `rg` reaches nothing in `other`, nor lists the subscription, nor makes groups.
    let want: [[bool; 9]; 5] = [
        [true, true, true, false, true, true, false, false, false],
        [true, true, true, false, true, true, false, false, false],
        [false, true, true, false, false, false, false, false, false],
        [true, true, true, false, true, true, false, false, false],
        [false, true, true, false, false, false, false, false, false],
    ];
    for (role, want) in ROLES.into_iter().zip(want) {
        let env = env_with(&[format!("t={role}@{}", group_scope("rg"))]).await;
        seed(&env).await;
        assert_eq!(try_everything(&env, "t").await, want, "{role}");
    }
}

#[tokio::test]
async fn an_operators_cleanup_fails_item_by_item_and_deletes_nothing() {
    let env = env_with(&["op=managed-identity-operator".into()]).await;
    env.group("rg").await;
    for name in ["ci-1", "ci-2", "ci-3"] {
        env.identity("rg", name).await;
    }
    let before = env.all_identity_names().await;
    let as_op = |args: &[&str]| Azid::at(&env, args).env("AZID_TOKEN", "op");

    // Rhai: one result per item, each carrying the code; the script goes on.
    let run = as_op(&[
        "eval",
        r#"let r = identity_delete(identity_list("rg")); r.map(|x| [x.name, x.ok, x.status, x.error.code])"#,
    ])
    .run()
    .await
    .ok();
    assert_eq!(
        run.json(),
        json!([
            ["ci-1", false, 403, "AuthorizationFailed"],
            ["ci-2", false, 403, "AuthorizationFailed"],
            ["ci-3", false, 403, "AuthorizationFailed"]
        ])
    );
    let caught = as_op(&[
        "eval",
        r#"let seen = (); try { identity_delete("rg", "ci-1"); } catch (e) { seen = [e.code, e.status]; } seen"#,
    ])
    .run()
    .await
    .ok();
    assert_eq!(caught.json(), json!(["AuthorizationFailed", 403]));

    // The CLI: each item reported, the others go on, exit 1.
    let ids: Vec<String> = ["ci-1", "ci-2", "ci-3"]
        .iter()
        .map(|n| identity_scope("rg", n))
        .collect();
    let mut args = vec!["identity", "delete", "--ids"];
    args.extend(ids.iter().map(String::as_str));
    let run = as_op(&args).run().await.fails(1);
    for name in ["ci-1", "ci-2", "ci-3"] {
        assert!(
            run.stderr.contains(&format!(
                "ERROR: rg/{name}: (AuthorizationFailed) The client '"
            )),
            "{}",
            run.stderr
        );
    }

    // One delete: ARM's message, exit 1, and a single request (a 403 is never retried).
    let run = as_op(&["identity", "delete", "-g", "rg", "-n", "ci-2", "-v"])
        .run()
        .await
        .fails(1);
    let last = run.stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("ERROR: (AuthorizationFailed) The client '")
            && last.contains(&format!(
                "perform action '{MSI}/delete' over scope '{}'",
                identity_scope("rg", "ci-2")
            )),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("-> 403").count(),
        1,
        "one try: {}",
        run.stderr
    );
    assert_eq!(
        env.all_identity_names().await,
        before,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn the_dry_run_of_that_cleanup_flags_every_line() {
    let env = env_with(&[
        "op=managed-identity-operator".into(),
        "mic=managed-identity-contributor".into(),
        "mixed=reader".into(),
        format!("mixed=managed-identity-contributor@{}", group_scope("rg")),
    ])
    .await;
    for rg in ["rg", "other"] {
        env.group(rg).await;
    }
    for name in ["ci-1", "ci-2"] {
        env.identity("rg", name).await;
    }
    env.identity("other", "ci-9").await;
    let before = env.all_identity_names().await;
    let line = |rg: &str, name: &str, fails: bool| {
        let mut out =
            format!("- delete /subscriptions/{SUB}/resourcegroups/{rg}/providers/{MSI}/{name}");
        if fails {
            out.push_str(&format!(
                "  ! would fail: AuthorizationFailed (no {MSI}/delete at {})",
                group_scope(rg)
            ));
        }
        out + "\n"
    };
    let script = r#"identity_delete(identity_list()).len()"#;
    let plan = |token: &'static str| {
        Azid::at(&env, &["--dry-run", "eval", script])
            .env("AZID_TOKEN", token)
            .run()
    };

    // A plan with lines that would fail is not a success.
    let op = plan("op").await.fails(1);
    assert_eq!(
        op.stdout,
        format!(
            "3\n{}{}{}Plan: 0 to create, 0 to update, 3 to delete. 3 would fail with AuthorizationFailed. \
             Nothing was changed (dry run).\n",
            line("other", "ci-9", true),
            line("rg", "ci-1", true),
            line("rg", "ci-2", true),
        )
    );
    let mic = plan("mic").await.ok();
    assert_eq!(
        mic.stdout,
        format!(
            "3\n{}{}{}Plan: 0 to create, 0 to update, 3 to delete. Nothing was changed (dry run).\n",
            line("other", "ci-9", false),
            line("rg", "ci-1", false),
            line("rg", "ci-2", false),
        ),
        "unmarked lines keep the plan's format"
    );
    let mixed = plan("mixed").await.fails(1);
    assert_eq!(
        mixed.stdout,
        format!(
            "3\n{}{}{}Plan: 0 to create, 0 to update, 3 to delete. 1 would fail with AuthorizationFailed. \
             Nothing was changed (dry run).\n",
            line("other", "ci-9", true),
            line("rg", "ci-1", false),
            line("rg", "ci-2", false),
        )
    );
    assert_eq!(
        env.all_identity_names().await,
        before,
        "a dry run sends no write"
    );

    // Creates, updates and group changes are checked too.
    let run = Azid::at(
        &env,
        &[
            "--dry-run",
            "eval",
            r#"identity_create("rg", "ci-3"); identity_update("rg", "ci-1", #{tags: #{a: "b"}}); group_create("rg3", "eastus"); ()"#,
        ],
    )
    .env("AZID_TOKEN", "op")
    .run()
    .await
    .fails(1);
    let marks: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once("  ! would fail: ").map(|(_, why)| why))
        .collect();
    assert_eq!(
        marks,
        [
            format!(
                "AuthorizationFailed (no {MSI}/write at {})",
                group_scope("rg")
            ),
            format!(
                "AuthorizationFailed (no {MSI}/write at {})",
                group_scope("rg")
            ),
            format!(
                "AuthorizationFailed (no Microsoft.Resources/subscriptions/resourceGroups/write at {})",
                group_scope("rg3")
            ),
        ]
    );

    // A Managed Identity Contributor may not hand out roles: the plan says so before ARM does.
    let run = Azid::at(
        &env,
        &[
            "--dry-run",
            "eval",
            &format!(
                r#"role_assign(identity_show("rg", "ci-1"), "Reader", "{}"); ()"#,
                group_scope("rg")
            ),
        ],
    )
    .env("AZID_TOKEN", "mic")
    .run()
    .await
    .fails(1);
    assert!(
        run.stdout.contains(&format!(
            "  ! would fail: AuthorizationFailed (no Microsoft.Authorization/roleAssignments/write at {})\n",
            group_scope("rg")
        )),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn permissions_and_can_match_the_emulators_decisions() {
    let probes = [
        (format!("{MSI}/read"), Method::GET),
        (format!("{MSI}/write"), Method::PATCH),
        (format!("{MSI}/delete"), Method::DELETE),
        (
            "Microsoft.Resources/subscriptions/resourceGroups/read".into(),
            Method::GET,
        ),
        (
            "Microsoft.Resources/subscriptions/resourceGroups/write".into(),
            Method::PUT,
        ),
        (
            "Microsoft.Resources/subscriptions/resourceGroups/delete".into(),
            Method::DELETE,
        ),
    ];
    let actions: Vec<String> = probes.iter().map(|(a, _)| format!("{a:?}")).collect();
    let script = format!(
        r#"let scope = "{}"; [{}].map(|a| can(a, scope)) + [permissions(scope).map(|p| p.actions)]"#,
        group_scope("rg"),
        actions.join(", ")
    );
    for role in ROLES {
        let env = env_with(&[format!("t={role}@{}", group_scope("rg"))]).await;
        env.group("rg").await;
        env.identity("rg", "keep").await;
        let answers = Azid::at(&env, &["eval", &script])
            .env("AZID_TOKEN", "t")
            .run()
            .await
            .ok()
            .json();
        let listed = env
            .call_as(
                Some("t"),
                Method::GET,
                &format!(
                    "{}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01",
                    group_scope("rg")
                ),
                None,
            )
            .await;
        assert_eq!(
            answers[probes.len()],
            json!([listed.body["value"][0]["actions"]]),
            "{role}: permissions() is what ARM lists"
        );
        for (i, (action, method)) in probes.iter().enumerate() {
            let path = if action.starts_with(MSI) {
                env.identity_path("rg", "keep")
            } else {
                env.group_path("rg")
            };
            let body = match *method {
                Method::PATCH => Some(json!({"tags": {"a": "b"}})),
                Method::PUT => Some(json!({"location": "eastus"})),
                _ => None,
            };
            let scope = if action.starts_with(MSI) {
                identity_scope("rg", "keep")
            } else {
                group_scope("rg")
            };
            let did = allowed(&env, "t", method.clone(), &path, body, action, &scope).await;
            assert_eq!(
                answers[i],
                json!(did),
                "{role}: can({action}) vs the emulator"
            );
            if did && *method == Method::DELETE && action.starts_with(MSI) {
                env.identity("rg", "keep").await;
            }
        }
    }
}

#[tokio::test]
async fn the_permissions_api_lists_roles_at_or_above_the_scope() {
    let env = env_with(&[
        "t=reader".into(),
        format!("t=managed-identity-contributor@{}", group_scope("rg")),
    ])
    .await;
    env.group("rg").await;
    let list = |token: &'static str, scope: String, version: &'static str| {
        let env = &env;
        async move {
            env.call_as(
                Some(token),
                Method::GET,
                &format!(
                    "{scope}/providers/Microsoft.Authorization/permissions?api-version={version}"
                ),
                None,
            )
            .await
        }
    };
    let at_sub = list("t", format!("/subscriptions/{SUB}"), "2022-04-01").await;
    assert_eq!(
        at_sub.body,
        json!({"value": [{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}]})
    );
    let at_rg = list("t", group_scope("RG"), "2022-04-01").await;
    assert_eq!(at_rg.body["value"].as_array().map(Vec::len), Some(2));
    let at_identity = list("t", identity_scope("rg", "anyone"), "2022-04-01").await;
    assert_eq!(
        at_identity.body, at_rg.body,
        "an identity's are its group's"
    );
    let at_other = list("t", group_scope("other"), "2022-04-01").await;
    assert_eq!(at_other.body, at_sub.body);
    let owner = list_owner(&env).await;
    assert_eq!(owner["value"][0]["actions"], json!(["*"]));
    let bad = list("t", group_scope("rg"), "2030-01-01").await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "InvalidApiVersionParameter")
    );
    let unknown = list(
        "t",
        "/subscriptions/00000000-0000-0000-0000-0000000000ff".into(),
        "2022-04-01",
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "SubscriptionNotFound")
    );
}

async fn list_owner(env: &Env) -> Value {
    env.call(
        Method::GET,
        &format!(
            "/subscriptions/{SUB}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
        ),
        None,
    )
    .await
    .body
}

#[tokio::test]
async fn callers_see_only_the_subscriptions_and_groups_they_hold_roles_in() {
    let second = "00000000-0000-0000-0000-0000000000b8";
    let env = Env::with(EmulatorOptions {
        group_delete_delay: Duration::ZERO,
        subscriptions: vec![SUB.into(), second.into()],
        callers: vec![
            format!("two=reader@/subscriptions/{second}")
                .parse()
                .expect("parses"),
            format!("g=managed-identity-operator@{}", group_scope("rg"))
                .parse()
                .expect("parses"),
        ],
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    env.group("other").await;
    let subs = env
        .call_as(
            Some("two"),
            Method::GET,
            "/subscriptions?api-version=2022-12-01",
            None,
        )
        .await;
    let ids: Vec<&str> = subs.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|s| s["subscriptionId"].as_str())
        .collect();
    assert_eq!(ids, [second]);
    let first = env
        .call_as(
            Some("two"),
            Method::GET,
            &format!("/subscriptions/{SUB}?api-version=2022-12-01"),
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::FORBIDDEN);
    let groups = env
        .call_as(
            Some("g"),
            Method::GET,
            &format!("/subscriptions/{SUB}/resourcegroups?api-version={RES}"),
            None,
        )
        .await;
    assert_eq!(groups.status, StatusCode::OK);
    let names: Vec<&str> = groups.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(names, ["rg"]);
    let none = env
        .call_as(
            Some("two"),
            Method::GET,
            &format!("/subscriptions/{SUB}/resourcegroups?api-version={RES}"),
            None,
        )
        .await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::FORBIDDEN, "AuthorizationFailed")
    );
    let unknown = env
        .call_as(Some("nobody"), Method::GET, &env.identities_in("rg"), None)
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNAUTHORIZED,
        "an unknown token is still 401"
    );
}

#[tokio::test]
async fn issued_tokens_get_roles_by_client_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.db");
    let options = |callers: Vec<String>| EmulatorOptions {
        data: Some(data.clone()),
        group_delete_delay: Duration::ZERO,
        subscriptions: vec![SUB.into()],
        callers: callers.iter().map(|c| c.parse().expect("parses")).collect(),
        ..EmulatorOptions::default()
    };
    let (worker, other) = {
        let env = Env::with(options(Vec::new())).await;
        env.group("rg").await;
        (
            env.identity("rg", "worker").await,
            env.identity("rg", "other").await,
        )
    };
    let client_id = worker["properties"]["clientId"].as_str().expect("clientId");
    let principal_id = worker["properties"]["principalId"]
        .as_str()
        .expect("principalId");
    let env = Env::with(options(vec![format!("{client_id}=reader")])).await;
    let token_of = |client: String| {
        let env = &env;
        async move {
            let reply: Value = env
                .http
                .get(format!(
                    "{}?api-version=2019-08-01&resource=https://management.azure.com/&client_id={client}",
                    env.emu.identity_endpoint()
                ))
                .header("X-IDENTITY-HEADER", env.emu.identity_header())
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            reply["access_token"]
                .as_str()
                .expect("access_token")
                .to_string()
        }
    };
    let token = token_of(client_id.to_string()).await;
    let read = env
        .call_as(
            Some(&token),
            Method::GET,
            &env.identity_path("rg", "other"),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let write = env
        .call_as(
            Some(&token),
            Method::DELETE,
            &env.identity_path("rg", "other"),
            None,
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert!(
        write.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!(
                "The client '{client_id}' with object id '{principal_id}' does not have authorization"
            )),
        "{:?}",
        write.body
    );
    // An identity given no role keeps the emulator's old behaviour: Owner everywhere.
    let unassigned = token_of(
        other["properties"]["clientId"]
            .as_str()
            .expect("clientId")
            .to_string(),
    )
    .await;
    let r = env
        .call_as(
            Some(&unassigned),
            Method::DELETE,
            &env.identity_path("rg", "worker"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_caller_flags_name_the_bad_value() {
    for (flag, says) in [
        ("ci=admin", "unknown role 'admin'"),
        ("ci", "'ci' is not TOKEN=ROLE[@SCOPE]"),
        ("ci=reader@rg", "'rg' is not a scope"),
    ] {
        let run = Azid::new(&["emulator", "--listen", "0", "--caller", flag])
            .run()
            .await
            .fails(2);
        assert!(run.stderr.contains(says), "{flag}: {}", run.stderr);
    }
    let run = Azid::new(&[
        "emulator",
        "--listen",
        "0",
        "--subscription",
        SUB,
        "--caller",
        "ci=reader@/subscriptions/00000000-0000-0000-0000-0000000000ff",
    ])
    .run()
    .await
    .fails(1);
    assert!(
        run.stderr
            .contains("names a subscription the emulator does not know"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_dry_run_result_that_would_fail_says_so() {
    let env = env_with(&[
        "mixed=reader".into(),
        format!("mixed=managed-identity-contributor@{}", group_scope("rg")),
    ])
    .await;
    for rg in ["rg", "other"] {
        env.group(rg).await;
    }
    env.identity("rg", "ci-1").await;
    env.identity("other", "ci-9").await;
    let script = r#"
        let deleted = identity_delete(identity_list());
        let summary = bulk_summary();
        let created = identity_create("other", ["new-1"], #{});
        let out = `failed=${summary.failed} done=${summary.done}`;
        let all = deleted + created;
        all.sort(|a, b| if a.name < b.name { -1 } else { 1 });
        for r in all {
            out += ";" + r.name + ":" + r.ok + ":" + if r.ok { "" } else { r.error.code };
        }
        out
    "#;
    let run = Azid::at(&env, &["--dry-run", "eval", script])
        .env("AZID_TOKEN", "mixed")
        .run()
        .await
        .fails(1);
    assert!(
        run.stdout.starts_with(
            "\"failed=1 done=1;ci-1:true:;ci-9:false:AuthorizationFailed;new-1:false:AuthorizationFailed\"\n"
        ),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(
            "Plan: 1 to create, 0 to update, 2 to delete. 2 would fail with AuthorizationFailed."
        ),
        "{}",
        run.stdout
    );
}
