//! Management locks in the emulator: the spec's examples replayed, lists and their `$filter`,
//! who may write a lock, and what `CanNotDelete` and `ReadOnly` stop — each blocked request
//! answers 409 `ScopeLocked` and the state read back afterwards is unchanged.

use std::path::PathBuf;

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::conformance::same_shape;
use crate::harness::{Env, MSI, Reply, quick};

const LOCKS: &str = "2020-05-01";
const AUTH: &str = "2022-04-01";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const READER_ROLE: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

fn example(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/arm-reference/locks/2020-05-01/examples",
        &format!("{name}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("example is JSON")
}

/// The example of that name, when the spec has one (it has no group-level GET example).
fn example_if_any(name: &str) -> Option<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/arm-reference/locks/2020-05-01/examples")
        .join(format!("{name}.json"));
    path.exists().then(|| example(name))
}

/// `{scope}/providers/Microsoft.Authorization/locks[/{name}]?api-version=2020-05-01`.
fn lock_path(scope: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => {
            format!("{scope}/providers/Microsoft.Authorization/locks/{n}?api-version={LOCKS}")
        }
        None => format!("{scope}/providers/Microsoft.Authorization/locks?api-version={LOCKS}"),
    }
}

fn sub_scope(env: &Env) -> String {
    format!("/subscriptions/{}", env.sub)
}

fn group_scope(env: &Env, rg: &str) -> String {
    format!("/subscriptions/{}/resourceGroups/{rg}", env.sub)
}

fn identity_scope(env: &Env, rg: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        group_scope(env, rg)
    )
}

fn fic_path(env: &Env, rg: &str, identity: &str, fic: &str) -> String {
    format!(
        "{}/federatedIdentityCredentials/{fic}?api-version={MSI}",
        identity_scope(env, rg, identity)
    )
}

fn fic_body(subject: &str) -> Option<Value> {
    Some(json!({"properties": {
        "issuer": ISSUER, "subject": subject, "audiences": ["api://AzureADTokenExchange"]
    }}))
}

async fn lock(env: &Env, scope: &str, name: &str, level: &str) -> Reply {
    let r = env
        .call(
            Method::PUT,
            &lock_path(scope, Some(name)),
            Some(json!({"properties": {"level": level, "notes": "kept by the tests"}})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    r
}

async fn unlock(env: &Env, scope: &str, name: &str) {
    let r = env
        .call(Method::DELETE, &lock_path(scope, Some(name)), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// Asserts a 409 ScopeLocked whose message names the target, the operation and the locked scopes.
fn scope_locked(r: &Reply, target: &str, operation: &str, locked: &[&str]) {
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "ScopeLocked");
    let message = r.body["error"]["message"].as_str().unwrap_or("");
    let expected = format!(
        "The scope '{target}' cannot perform {operation} operation because following scope(s) are locked: '{}'. \
         Please remove the lock and try again.",
        locked.join(",")
    );
    assert_eq!(message, expected);
}

async fn status_of(env: &Env, path: &str) -> StatusCode {
    env.call(Method::GET, path, None).await.status
}

fn names(items: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = items
        .iter()
        .map(|i| i["name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    names
}

async fn vm(env: &Env, rg: &str, name: &str) -> String {
    let id = format!(
        "{}/providers/Microsoft.Compute/virtualMachines/{name}",
        group_scope(env, rg)
    );
    let r = env
        .call(
            Method::PUT,
            &format!("{id}?api-version=2024-03-01"),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    id
}

/// Each example of the copied spec replayed at its scope: the status codes and the body's
/// shape (keys, types, the fixed `type`) as the example shows them. The examples give every
/// lock a group-level id; the emulator gives each the id of where it is.
#[tokio::test]
async fn conformance_with_the_spec_examples() {
    let env = Env::with(EmulatorOptions {
        page_size: 1,
        ..quick()
    })
    .await;
    env.group("resourcegroupname").await;
    let storage = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/teststorageaccount",
        group_scope(&env, "resourcegroupname")
    );
    let r = env
        .call(
            Method::PUT,
            &format!("{storage}?api-version=2023-01-01"),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let levels = [
        ("SubscriptionLevel", sub_scope(&env)),
        ("ResourceGroupLevel", group_scope(&env, "resourcegroupname")),
        ("ResourceLevel", storage.clone()),
    ];
    let mut replayed = 0;
    for (level, scope) in &levels {
        let create = example(&format!("ManagementLocks_CreateOrUpdateAt{level}"));
        let body = create["parameters"]["parameters"].clone();
        let name = create["parameters"]["lockName"].as_str().expect("lockName");
        let path = lock_path(scope, Some(name));
        for status in [StatusCode::CREATED, StatusCode::OK] {
            let r = env.call(Method::PUT, &path, Some(body.clone())).await;
            assert_eq!(r.status, status, "{level}: {:?}", r.body);
            let expected = &create["responses"][status.as_str()]["body"];
            same_shape(
                expected,
                &r.body,
                &format!("CreateOrUpdateAt{level} {status}"),
            );
            assert_eq!(r.body["properties"], expected["properties"]);
            assert_eq!(r.body["name"], name);
            assert_eq!(
                r.body["id"],
                format!("{scope}/providers/Microsoft.Authorization/locks/{name}")
            );
        }
        replayed += 1;
        if let Some(get) = example_if_any(&format!("ManagementLocks_GetAt{level}")) {
            let r = env.call(Method::GET, &path, None).await;
            assert_eq!(r.status, StatusCode::OK);
            same_shape(
                &get["responses"]["200"]["body"],
                &r.body,
                &format!("GetAt{level}"),
            );
            replayed += 1;
        }
        let list = example(&format!("ManagementLocks_ListAt{level}"));
        let r = env.call(Method::GET, &lock_path(scope, None), None).await;
        assert_eq!(r.status, StatusCode::OK);
        let mut expected = list["responses"]["200"]["body"].clone();
        // One lock a page: the pages after the first carry a nextLink the example has not.
        if r.body.get("nextLink").is_some() {
            expected["nextLink"] = json!("https://example/next");
        }
        same_shape(&expected, &r.body, &format!("ListAt{level}"));
        replayed += 1;
    }
    // The generic-scope examples use `subscriptions/{id}` as the scope; the lock exists already.
    let at_scope = example("ManagementLocks_CreateOrUpdateAtScope");
    let path = lock_path(&sub_scope(&env), Some("testlock"));
    let r = env
        .call(
            Method::PUT,
            &path,
            Some(at_scope["parameters"]["parameters"].clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    same_shape(
        &at_scope["responses"]["200"]["body"],
        &r.body,
        "CreateOrUpdateAtScope",
    );
    let get_scope = example("ManagementLocks_GetAtScope");
    let r = env.call(Method::GET, &path, None).await;
    same_shape(
        &get_scope["responses"]["200"]["body"],
        &r.body,
        "GetAtScope",
    );
    replayed += 2;
    for (level, scope) in levels.iter().rev() {
        let delete = example(&format!("ManagementLocks_DeleteAt{level}"));
        let path = lock_path(scope, Some("testlock"));
        for status in [StatusCode::OK, StatusCode::NO_CONTENT] {
            assert!(delete["responses"].get(status.as_str()).is_some());
            let r = env.call(Method::DELETE, &path, None).await;
            assert_eq!(r.status, status, "DeleteAt{level}");
            assert_eq!(r.body, Value::Null);
        }
        assert_eq!(status_of(&env, &path).await, StatusCode::NOT_FOUND);
        replayed += 1;
    }
    let files = std::fs::read_dir(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/arm-reference/locks/2020-05-01/examples"),
    )
    .expect("examples folder")
    .count();
    assert_eq!(replayed, files, "every example was replayed");
}

/// Lists at each scope show the locks over it and under it; `atScope()` only those over it;
/// `level eq` and `name eq` narrow them; pages hold each lock once; bad filters are refused.
#[tokio::test]
async fn lists_and_filters_at_every_scope() {
    let env = Env::with(EmulatorOptions {
        page_size: 2,
        ..quick()
    })
    .await;
    env.group("rg").await;
    env.group("other").await;
    env.identity("rg", "app").await;
    let vm = vm(&env, "other", "vm1").await;
    let (sub, rg, app) = (
        sub_scope(&env),
        group_scope(&env, "rg"),
        identity_scope(&env, "rg", "app"),
    );
    lock(&env, &sub, "at-sub", "ReadOnly").await;
    lock(&env, &rg, "at-rg", "CanNotDelete").await;
    lock(&env, &app, "at-app", "CanNotDelete").await;
    lock(&env, &vm, "at-vm", "NotSpecified").await;
    let list = |scope: &str, filter: Option<&str>| {
        let mut path = lock_path(scope, None);
        if let Some(f) = filter {
            path.push_str(&format!("&$filter={}", urlencode(f)));
        }
        path
    };
    let cases: Vec<(String, Option<&str>, Vec<&str>)> = vec![
        (
            sub.clone(),
            None,
            vec!["at-app", "at-rg", "at-sub", "at-vm"],
        ),
        (sub.clone(), Some("atScope()"), vec!["at-sub"]),
        (rg.clone(), None, vec!["at-app", "at-rg", "at-sub"]),
        (rg.clone(), Some("atScope()"), vec!["at-rg", "at-sub"]),
        (app.clone(), None, vec!["at-app", "at-rg", "at-sub"]),
        (vm.clone(), None, vec!["at-sub", "at-vm"]),
        (
            sub.clone(),
            Some("level eq 'CanNotDelete'"),
            vec!["at-app", "at-rg"],
        ),
        (sub.clone(), Some("name eq 'AT-VM'"), vec!["at-vm"]),
        (
            rg.clone(),
            Some("atScope() and properties/level eq 'readonly'"),
            vec!["at-sub"],
        ),
    ];
    for (scope, filter, want) in cases {
        let (items, _) = env.list_all(&list(&scope, filter)).await;
        assert_eq!(names(&items), want, "{scope} {filter:?}");
    }
    let (items, pages) = env.list_all(&list(&sub, None)).await;
    assert_eq!((items.len(), pages), (4, 2), "two locks a page, each once");
    let app_lock = items
        .iter()
        .find(|i| i["name"] == "at-app")
        .expect("at-app");
    assert_eq!(
        app_lock["id"],
        format!("{app}/providers/Microsoft.Authorization/locks/at-app")
    );
    assert_eq!(app_lock["properties"]["notes"], "kept by the tests");
    for bad in ["notes eq 'x'", "level eq 'Frozen'", "name ne 'x'"] {
        let r = env.call(Method::GET, &list(&sub, Some(bad)), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.code(), "InvalidFilter");
    }
}

/// Bad lock bodies, names and scopes are refused before anything is stored.
#[tokio::test]
async fn bad_locks_are_refused_and_nothing_is_stored() {
    let env = Env::start().await;
    env.group("rg").await;
    let rg = group_scope(&env, "rg");
    let cases = [
        (
            "l1",
            json!({"properties": {"level": "Frozen"}}),
            "InvalidLockLevel",
        ),
        ("l1", json!({"properties": {}}), "InvalidRequestContent"),
        ("l1", json!({"level": "ReadOnly"}), "InvalidRequestContent"),
        (
            "l1",
            json!({"properties": {"level": "ReadOnly", "notes": "n".repeat(513)}}),
            "InvalidLockNotes",
        ),
        (
            "a%26b",
            json!({"properties": {"level": "ReadOnly"}}),
            "InvalidLockName",
        ),
    ];
    for (name, body, code) in cases {
        let r = env
            .call(Method::PUT, &lock_path(&rg, Some(name)), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {:?}", r.body);
        assert_eq!(r.code(), code);
    }
    let r = env
        .call(
            Method::PUT,
            &lock_path(&identity_scope(&env, "rg", "missing"), Some("l1")),
            Some(json!({"properties": {"level": "ReadOnly"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (items, _) = env.list_all(&lock_path(&sub_scope(&env), None)).await;
    assert!(items.is_empty(), "{items:?}");
}

/// Writing a lock needs `Microsoft.Authorization/locks/*`: Owner and User Access Administrator
/// hold it, Contributor does not; a Reader may list them.
#[tokio::test]
async fn only_owner_and_user_access_administrator_write_locks() {
    let env = Env::with(EmulatorOptions {
        callers: [
            "contrib=contributor",
            "uaa=user-access-administrator",
            "reader=reader",
        ]
        .iter()
        .map(|c| c.parse().expect("caller"))
        .collect(),
        ..quick()
    })
    .await;
    env.group("rg").await;
    let rg = group_scope(&env, "rg");
    let body = json!({"properties": {"level": "CanNotDelete"}});
    let r = env
        .call_as(
            Some("contrib"),
            Method::PUT,
            &lock_path(&rg, Some("l1")),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(r.code(), "AuthorizationFailed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Microsoft.Authorization/locks/write")
    );
    let r = env
        .call_as(Some("reader"), Method::GET, &lock_path(&rg, None), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["value"],
        json!([]),
        "the denied write stored nothing"
    );
    let r = env
        .call_as(
            Some("uaa"),
            Method::PUT,
            &lock_path(&rg, Some("l1")),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = env
        .call_as(
            Some("contrib"),
            Method::DELETE,
            &lock_path(&rg, Some("l1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&env, &lock_path(&rg, Some("l1"))).await,
        StatusCode::OK
    );
    let r = env
        .call_as(
            Some("uaa"),
            Method::DELETE,
            &lock_path(&rg, Some("l1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// A group `rg` with the identity `app` holding the credential `gh-main`, and a lock of this
/// name and level on the identity; returns the emulator and the identity's scope.
async fn locked_app(name: &str, level: &str) -> (Env, String) {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app").await;
    let app = identity_scope(&env, "rg", "app");
    let r = env
        .call(
            Method::PUT,
            &fic_path(&env, "rg", "app", "gh-main"),
            fic_body("repo:a/b:ref:refs/heads/main"),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    lock(&env, &app, name, level).await;
    (env, app)
}

/// `CanNotDelete` on an identity: its DELETE (and its credentials') is refused and it stays;
/// updates still work; once the lock is gone the delete goes through.
#[tokio::test]
async fn can_not_delete_blocks_deletes_only() {
    let (env, app) = locked_app("keep", "CanNotDelete").await;

    let r = env
        .call(Method::DELETE, &env.identity_path("rg", "app"), None)
        .await;
    scope_locked(&r, &app, "delete", &[&app]);
    assert_eq!(
        status_of(&env, &env.identity_path("rg", "app")).await,
        StatusCode::OK
    );
    let r = env
        .call(
            Method::DELETE,
            &fic_path(&env, "rg", "app", "gh-main"),
            None,
        )
        .await;
    scope_locked(
        &r,
        &format!("{app}/federatedIdentityCredentials/gh-main"),
        "delete",
        &[&app],
    );
    assert_eq!(
        status_of(&env, &fic_path(&env, "rg", "app", "gh-main")).await,
        StatusCode::OK
    );

    // Modifying is allowed under CanNotDelete.
    let r = env
        .call(
            Method::PATCH,
            &env.identity_path("rg", "app"),
            Some(json!({"tags": {"k": "v"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = env
        .call(Method::GET, &env.identity_path("rg", "app"), None)
        .await;
    assert_eq!(r.body["tags"], json!({"k": "v"}));

    unlock(&env, &app, "keep").await;
    let r = env
        .call(Method::DELETE, &env.identity_path("rg", "app"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        status_of(&env, &env.identity_path("rg", "app")).await,
        StatusCode::NOT_FOUND
    );
}

/// A group holding a locked resource cannot be deleted: the whole delete fails and nothing in
/// the group is gone. A subscription lock is inherited by every group and resource.
#[tokio::test]
async fn a_locked_resource_blocks_its_groups_delete_as_a_whole() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "id-a").await;
    env.identity("rg", "id-b").await;
    let vm = vm(&env, "rg", "vm1").await;
    lock(&env, &vm, "vm-lock", "CanNotDelete").await;
    let rg = group_scope(&env, "rg");

    let r = env.call(Method::DELETE, &env.group_path("rg"), None).await;
    scope_locked(&r, &rg, "delete", &[&vm]);
    assert_eq!(status_of(&env, &env.group_path("rg")).await, StatusCode::OK);
    assert_eq!(env.all_identity_names().await, vec!["id-a", "id-b"]);
    assert_eq!(
        status_of(&env, &format!("{vm}?api-version=2024-03-01")).await,
        StatusCode::OK
    );
    // The unlocked identities in it can still go one by one.
    let r = env
        .call(Method::DELETE, &env.identity_path("rg", "id-b"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Inherited from the subscription: the identity's delete names the subscription's scope.
    let sub = sub_scope(&env);
    lock(&env, &sub, "sub-lock", "CanNotDelete").await;
    let r = env
        .call(Method::DELETE, &env.identity_path("rg", "id-a"), None)
        .await;
    scope_locked(&r, &identity_scope(&env, "rg", "id-a"), "delete", &[&sub]);
    let r = env.call(Method::DELETE, &env.group_path("rg"), None).await;
    scope_locked(&r, &rg, "delete", &[&sub, &vm]);
    assert_eq!(env.all_identity_names().await, vec!["id-a"]);

    unlock(&env, &sub, "sub-lock").await;
    unlock(&env, &vm, "vm-lock").await;
    let r = env.call(Method::DELETE, &env.group_path("rg"), None).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    for _ in 0..100 {
        if status_of(&env, &env.group_path("rg")).await == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        status_of(&env, &env.group_path("rg")).await,
        StatusCode::NOT_FOUND
    );
    assert!(env.all_identity_names().await.is_empty());
}

/// `CanNotDelete` on a group blocks deleting the role assignments at it and below it; new
/// assignments may still be made.
#[tokio::test]
async fn can_not_delete_blocks_removing_role_assignments() {
    let env = Env::start().await;
    env.group("rg").await;
    let identity = env.identity("rg", "app").await;
    let principal = identity["properties"]["principalId"]
        .as_str()
        .expect("principalId");
    let rg = group_scope(&env, "rg");
    let app = identity_scope(&env, "rg", "app");
    let body = Some(json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{READER_ROLE}", env.sub),
        "principalId": principal
    }}));
    let at_rg = format!(
        "{rg}/providers/Microsoft.Authorization/roleAssignments/{}?api-version={AUTH}",
        uuid::Uuid::new_v4()
    );
    let at_app = format!(
        "{app}/providers/Microsoft.Authorization/roleAssignments/{}?api-version={AUTH}",
        uuid::Uuid::new_v4()
    );
    for path in [&at_rg, &at_app] {
        let r = env.call(Method::PUT, path, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    lock(&env, &rg, "keep", "CanNotDelete").await;
    for (path, scope) in [(&at_rg, &rg), (&at_app, &app)] {
        let r = env.call(Method::DELETE, path, None).await;
        scope_locked(&r, scope, "delete", &[&rg]);
        assert_eq!(
            status_of(&env, path).await,
            StatusCode::OK,
            "{path} is still there"
        );
    }
}

/// `ReadOnly` on an identity blocks PUT, PATCH, POST and its credentials' writes and deletes,
/// and leaves it and its credentials as they were; reads still work.
#[tokio::test]
async fn read_only_blocks_every_write_under_it() {
    let (env, app) = locked_app("frozen", "ReadOnly").await;
    let before = env
        .call(Method::GET, &env.identity_path("rg", "app"), None)
        .await;

    let r = env
        .call(
            Method::PATCH,
            &env.identity_path("rg", "app"),
            Some(json!({"tags": {"k": "v"}})),
        )
        .await;
    scope_locked(&r, &app, "write", &[&app]);
    let r = env
        .call(
            Method::PUT,
            &env.identity_path("rg", "app"),
            Some(json!({"location": "eastus", "tags": {"k": "v"}})),
        )
        .await;
    scope_locked(&r, &app, "write", &[&app]);
    let r = env
        .call(
            Method::POST,
            &format!("{app}/revokeTokens?api-version=2025-05-31-preview"),
            None,
        )
        .await;
    scope_locked(&r, &app, "write", &[&app]);
    let r = env
        .call(
            Method::PUT,
            &fic_path(&env, "rg", "app", "new"),
            fic_body("repo:a/b:environment:prod"),
        )
        .await;
    scope_locked(
        &r,
        &format!("{app}/federatedIdentityCredentials/new"),
        "write",
        &[&app],
    );
    let r = env
        .call(
            Method::DELETE,
            &fic_path(&env, "rg", "app", "gh-main"),
            None,
        )
        .await;
    scope_locked(
        &r,
        &format!("{app}/federatedIdentityCredentials/gh-main"),
        "delete",
        &[&app],
    );
    let r = env
        .call(Method::DELETE, &env.identity_path("rg", "app"), None)
        .await;
    scope_locked(&r, &app, "delete", &[&app]);

    let after = env
        .call(Method::GET, &env.identity_path("rg", "app"), None)
        .await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.body, before.body, "the identity is unchanged");
    let (fics, _) = env
        .list_all(&format!(
            "{app}/federatedIdentityCredentials?api-version={MSI}"
        ))
        .await;
    assert_eq!(names(&fics), vec!["gh-main"]);
}

/// `ReadOnly` on a subscription blocks creating groups and identities in it; nothing is made.
#[tokio::test]
async fn read_only_at_the_subscription_blocks_creation() {
    let env = Env::start().await;
    env.group("rg").await;
    let sub = sub_scope(&env);
    lock(&env, &sub, "frozen", "ReadOnly").await;
    let r = env
        .call(
            Method::PUT,
            &env.group_path("new-rg"),
            Some(json!({"location": "eastus"})),
        )
        .await;
    scope_locked(&r, &group_scope(&env, "new-rg"), "write", &[&sub]);
    assert_eq!(
        status_of(&env, &env.group_path("new-rg")).await,
        StatusCode::NOT_FOUND
    );
    let r = env
        .call(
            Method::PUT,
            &env.identity_path("rg", "app"),
            Some(json!({"location": "eastus"})),
        )
        .await;
    scope_locked(&r, &identity_scope(&env, "rg", "app"), "write", &[&sub]);
    assert!(env.all_identity_names().await.is_empty());
    // The lock itself can still be removed, and then writes work.
    unlock(&env, &sub, "frozen").await;
    env.identity("rg", "app").await;
}

/// A lock goes with what it locks: a `NotSpecified` lock does not stop a delete, and the
/// deleted identity's lock is no longer listed.
#[tokio::test]
async fn locks_go_with_their_scope() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app").await;
    let app = identity_scope(&env, "rg", "app");
    lock(&env, &app, "note", "NotSpecified").await;
    let r = env
        .call(Method::DELETE, &env.identity_path("rg", "app"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (items, _) = env.list_all(&lock_path(&sub_scope(&env), None)).await;
    assert!(items.is_empty(), "{items:?}");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
