//! Identity relationships in the emulator, over HTTP: federated identity
//! credentials, generic resources that carry identities, listAssociatedResources, role
//! assignments with the directory's replication delay, the cascades, a restart, and the
//! client's own relationship calls run against all of it.

use std::time::Duration;

use azid::arm::{ArmClient, ClientOptions, Credential, IdentityRef};
use azid::emulator::EmulatorOptions;
use azid::host::references::{DeleteOptions, References, Uses, apply};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env, MSI, RES};

const PREVIEW: &str = "2022-01-31-preview";
const AUTH: &str = "2022-04-01";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const VM: &str = "Microsoft.Compute/virtualMachines";
const SITE: &str = "Microsoft.Web/sites";

fn fics(env: &Env, rg: &str, identity: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}/federatedIdentityCredentials?api-version={MSI}",
        env.sub
    )
}

fn fic(env: &Env, rg: &str, identity: &str, name: &str) -> String {
    fics(env, rg, identity).replace('?', &format!("/{name}?"))
}

fn fic_body(subject: &str) -> Option<Value> {
    Some(json!({"properties": {
        "issuer": ISSUER, "subject": subject, "audiences": ["api://AzureADTokenExchange"]
    }}))
}

fn identity_id(env: &Env, rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        env.sub
    )
}

fn resource(env: &Env, rg: &str, kind: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/{kind}/{name}?api-version=2024-03-01",
        env.sub
    )
}

/// A resource body carrying these user-assigned identities (none: no identity block).
fn carrying(ids: &[&str]) -> Value {
    let mut body = json!({
        "location": "eastus", "tags": {"app": "web"},
        "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}, "zones": ["1"]
    });
    if !ids.is_empty() {
        let map: serde_json::Map<String, Value> =
            ids.iter().map(|id| (id.to_string(), json!({}))).collect();
        body["identity"] = json!({"type": "UserAssigned", "userAssignedIdentities": map});
    }
    body
}

fn assignment(scope: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version={AUTH}")
}

fn assignments(scope: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTH}")
}

fn role_body(env: &Env, principal: &str, role: &str) -> Option<Value> {
    Some(json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", env.sub),
        "principalId": principal
    }}))
}

fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn principal(identity: &Value) -> String {
    identity["properties"]["principalId"]
        .as_str()
        .expect("principalId")
        .to_string()
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["name"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn wait_until_gone(env: &Env, rg: &str) {
    for _ in 0..200 {
        let r = env.call(Method::HEAD, &env.group_path(rg), None).await;
        if r.status == StatusCode::NOT_FOUND {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("group {rg} was never deleted");
}

#[tokio::test]
async fn federated_credential_lifecycle() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "App-1").await;
    let path = fic(&env, "rg", "app-1", "GhMain");
    let created = env
        .call(Method::PUT, &path, fic_body("repo:o/r:ref:refs/heads/main"))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body,
        json!({
            "id": format!("/subscriptions/{}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/App-1/federatedIdentityCredentials/GhMain", env.sub),
            "name": "GhMain",
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "properties": {"issuer": ISSUER, "subject": "repo:o/r:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}
        })
    );
    let got = env
        .call(Method::GET, &fic(&env, "RG", "APP-1", "ghmain"), None)
        .await;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &created.body));
    let updated = env
        .call(Method::PUT, &path, fic_body("repo:o/r:environment:prod"))
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(
        updated.body["properties"]["subject"],
        "repo:o/r:environment:prod"
    );
    let (items, _) = env.list_all(&fics(&env, "rg", "app-1")).await;
    assert_eq!(items, std::slice::from_ref(&updated.body));

    let deleted = env.call(Method::DELETE, &path, None).await;
    assert_eq!(
        (deleted.status, deleted.body),
        (StatusCode::OK, Value::Null)
    );
    assert_eq!(
        env.call(Method::DELETE, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = env.call(Method::GET, &path, None).await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "ResourceNotFound")
    );
}

#[tokio::test]
async fn federated_credential_rules() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    let env = &env;
    let put = |name: &str, body: Option<Value>| {
        let path = fic(env, "rg", "app-1", name);
        async move { env.call(Method::PUT, &path, body).await }
    };
    let long = "x".repeat(121);
    assert_eq!(
        put("first", fic_body("s1")).await.status,
        StatusCode::CREATED
    );
    let props = |p: Value| Some(json!({ "properties": p }));
    let cases: Vec<(&str, Option<Value>, StatusCode, &str)> = vec![
        (
            "ab",
            fic_body("x"),
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            "-ab",
            fic_body("x"),
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            "a.b",
            fic_body("x"),
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            &long,
            fic_body("x"),
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            "second",
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        ),
        (
            "second",
            None,
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
        ),
        (
            "second",
            props(json!({"subject": "x", "audiences": ["a"]})),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        ),
        (
            "second",
            props(json!({"issuer": ISSUER, "audiences": ["a"]})),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        ),
        (
            "second",
            props(json!({"issuer": ISSUER, "subject": "x"})),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        ),
        (
            "second",
            props(json!({"issuer": ISSUER, "subject": "x", "audiences": []})),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        ),
        (
            "second",
            props(json!({"issuer": ISSUER, "subject": "x", "audiences": ["a", "b"]})),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        ),
        (
            "second",
            props(json!({"issuer": "http://insecure.example", "subject": "x", "audiences": ["a"]})),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        ),
        (
            "second",
            props(json!({"issuer": ISSUER, "subject": 5, "audiences": ["a"]})),
            StatusCode::BAD_REQUEST,
            "BadRequest",
        ),
        // Issuer and subject are unique per identity (Azure: 400, "Issuer and subject combination already exists").
        (
            "second",
            fic_body("s1"),
            StatusCode::BAD_REQUEST,
            "Conflict",
        ),
    ];
    for (name, body, status, code) in cases {
        let r = put(name, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "{name} {body:?}: {}",
            r.body
        );
    }
    let dup = put("second", fic_body("s1")).await;
    assert!(
        dup.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Issuer and subject combination")
    );

    // The parent must exist; the api-version must know credentials.
    let orphan = env
        .call(Method::PUT, &fic(env, "rg", "nobody", "abc"), fic_body("x"))
        .await;
    assert_eq!(
        (orphan.status, orphan.code()),
        (StatusCode::NOT_FOUND, "ParentResourceNotFound")
    );
    let no_group = env
        .call(Method::GET, &fic(env, "gone", "app-1", "abc"), None)
        .await;
    assert_eq!(no_group.code(), "ResourceGroupNotFound");
    let old = env
        .call(
            Method::GET,
            &fics(env, "rg", "app-1").replace(MSI, "2018-11-30"),
            None,
        )
        .await;
    assert_eq!(
        (old.status, old.code()),
        (StatusCode::BAD_REQUEST, "NoRegisteredProviderFound")
    );
    let preview = env
        .call(
            Method::GET,
            &fics(env, "rg", "app-1").replace(MSI, PREVIEW),
            None,
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    let (items, _) = env.list_all(&fics(env, "rg", "app-1")).await;
    assert_eq!(names(&items), ["first"], "nothing bad was stored");

    // At most 20 per identity; the 20 can still be updated.
    for i in 1..20 {
        let r = put(&format!("fic-{i:02}"), fic_body(&format!("sub-{i}"))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.body);
    }
    let over = put("fic-20", fic_body("sub-20")).await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::BAD_REQUEST, "BadRequest")
    );
    assert_eq!(
        put("fic-01", fic_body("changed")).await.status,
        StatusCode::OK
    );
    assert_eq!(env.list_all(&fics(env, "rg", "app-1")).await.0.len(), 20);
}

#[tokio::test]
async fn federated_credential_lists_page_with_top_and_skiptoken() {
    let env = Env::with(EmulatorOptions {
        page_size: 4,
        replication_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    for i in 0..7 {
        let r = env
            .call(
                Method::PUT,
                &fic(&env, "rg", "app-1", &format!("fic-{i}")),
                fic_body(&format!("s{i}")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let (all, pages) = env.list_all(&fics(&env, "rg", "app-1")).await;
    assert_eq!((all.len(), pages), (7, 2), "the page size caps a page");
    let top = format!("{}&$top=3", fics(&env, "rg", "app-1"));
    let first = env.call(Method::GET, &top, None).await;
    assert_eq!(first.body["value"].as_array().map(Vec::len), Some(3));
    let next = first.body["nextLink"].as_str().expect("nextLink");
    assert!(
        next.starts_with(env.emu.url()) && next.contains("top=3"),
        "{next}"
    );
    let (items, pages) = env.list_all(&top).await;
    assert_eq!(pages, 3);
    assert_eq!(
        names(&items),
        (0..7).map(|i| format!("fic-{i}")).collect::<Vec<_>>()
    );
    let bigger = env
        .list_all(&format!("{}&$top=50", fics(&env, "rg", "app-1")))
        .await;
    assert_eq!(bigger.1, 2, "$top never exceeds the page size");
    for bad in ["0", "-1", "x"] {
        let r = env
            .call(
                Method::GET,
                &format!("{}&$top={bad}", fics(&env, "rg", "app-1")),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// Azure refuses a second write to one identity's credentials while the first is processed.
#[tokio::test]
async fn concurrent_credential_writes_to_one_identity_conflict() {
    let env = Env::with(EmulatorOptions {
        fic_write_delay: Duration::from_millis(1000),
        replication_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    env.identity("rg", "busy").await;
    env.identity("rg", "idle").await;
    let later = |method: Method, path: String, body: Option<Value>| {
        let env = &env;
        async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            env.call(method, &path, body).await
        }
    };
    let one = fic(&env, "rg", "busy", "one");
    let (first, second, delete, read, other) = tokio::join!(
        env.call(Method::PUT, &one, fic_body("s1")),
        later(Method::PUT, fic(&env, "RG", "BUSY", "two"), fic_body("s2")),
        later(Method::DELETE, fic(&env, "rg", "busy", "three"), None),
        later(Method::GET, fics(&env, "rg", "busy"), None),
        later(Method::PUT, fic(&env, "rg", "idle", "one"), fic_body("s1")),
    );
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    for r in [&second, &delete] {
        assert_eq!(
            (r.status, r.code()),
            (
                StatusCode::CONFLICT,
                "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity"
            ),
            "{}",
            r.body
        );
        assert!(r.body["error"]["message"].as_str().unwrap_or("").contains(
            "Concurrent Federated Identity Credentials writes under the same managed identity"
        ));
    }
    assert_eq!(read.status, StatusCode::OK, "reads do not wait");
    assert_eq!(
        other.status,
        StatusCode::CREATED,
        "another identity is not held"
    );
    let retried = env
        .call(Method::PUT, &fic(&env, "rg", "busy", "two"), fic_body("s2"))
        .await;
    assert_eq!(
        retried.status,
        StatusCode::CREATED,
        "the hold ends with the write"
    );
    assert_eq!(
        names(&env.list_all(&fics(&env, "rg", "busy")).await.0),
        ["one", "two"]
    );
}

#[tokio::test]
async fn credentials_go_with_their_identity_and_group() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    env.identity("rg", "app-2").await;
    for id in ["app-1", "app-2"] {
        let r = env
            .call(Method::PUT, &fic(&env, "rg", id, "gh-main"), fic_body("s"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let deleted = env
        .call(Method::DELETE, &env.identity_path("rg", "app-1"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let listed = env
        .call(Method::GET, &fics(&env, "rg", "app-1"), None)
        .await;
    assert_eq!(listed.code(), "ParentResourceNotFound");
    env.identity("rg", "app-1").await;
    let (items, _) = env.list_all(&fics(&env, "rg", "app-1")).await;
    assert!(
        items.is_empty(),
        "a new identity of the same name starts with none: {items:?}"
    );
    assert_eq!(env.list_all(&fics(&env, "rg", "app-2")).await.0.len(), 1);

    let r = env.call(Method::DELETE, &env.group_path("rg"), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    wait_until_gone(&env, "rg").await;
    env.group("rg").await;
    env.identity("rg", "app-2").await;
    assert!(env.list_all(&fics(&env, "rg", "app-2")).await.0.is_empty());
}

#[tokio::test]
async fn claims_matching_expressions_are_kept_where_the_version_has_them() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    let path = fic(&env, "rg", "app-1", "flex").replace(MSI, "2025-01-31-preview");
    let cme = json!({"value": "claims['sub'] startsWith 'repo:o/r:ref:refs/heads/'", "languageVersion": 1});
    let body = json!({"properties": {"issuer": ISSUER, "audiences": ["api://AzureADTokenExchange"], "claimsMatchingExpression": cme}});
    let r = env.call(Method::PUT, &path, Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["properties"]["claimsMatchingExpression"], cme);
    assert!(r.body["properties"].get("subject").is_none());
    let stable = env
        .call(Method::GET, &fic(&env, "rg", "app-1", "flex"), None)
        .await;
    assert!(
        stable.body["properties"]
            .get("claimsMatchingExpression")
            .is_none()
    );
    // Not both, and not neither.
    let mut both = body.clone();
    both["properties"]["subject"] = json!("x");
    assert_eq!(
        env.call(Method::PUT, &path, Some(both)).await.status,
        StatusCode::BAD_REQUEST
    );
    let stable_put = env
        .call(Method::PUT, &fic(&env, "rg", "app-1", "flex2"), Some(body))
        .await;
    assert_eq!(
        stable_put.status,
        StatusCode::BAD_REQUEST,
        "2024-11-30 needs a subject"
    );
}

#[tokio::test]
async fn generic_resource_lifecycle() {
    let env = Env::start().await;
    env.group("rg").await;
    let identity = env.identity("rg", "app-1").await;
    let id = identity_id(&env, "rg", "app-1");
    let path = resource(&env, "rg", VM, "Vm1");
    let created = env.call(Method::PUT, &path, Some(carrying(&[&id]))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body,
        json!({
            "id": format!("/subscriptions/{}/resourceGroups/rg/providers/{VM}/Vm1", env.sub),
            "name": "Vm1", "type": VM, "location": "eastus", "tags": {"app": "web"},
            "properties": {"hardwareProfile": {"vmSize": "Standard_B1s"}}, "zones": ["1"],
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {id.clone(): {
                "principalId": identity["properties"]["principalId"], "clientId": identity["properties"]["clientId"]
            }}}
        })
    );
    let got = env
        .call(
            Method::GET,
            &resource(&env, "RG", "microsoft.compute/VIRTUALMACHINES", "vm1"),
            None,
        )
        .await;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &created.body));
    let again = env.call(Method::PUT, &path, Some(carrying(&[]))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(
        again.body.get("identity").is_none(),
        "a PUT replaces the identity block"
    );

    let site = env
        .call(
            Method::PUT,
            &resource(&env, "rg", SITE, "web"),
            Some(json!({"location": "West Europe"})),
        )
        .await;
    assert_eq!(site.status, StatusCode::CREATED);
    assert_eq!(
        (site.body["tags"].clone(), site.body["properties"].clone()),
        (json!({}), json!({}))
    );
    assert_eq!(site.body["location"], "westeurope");
    let list = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/{VM}?api-version=2024-03-01",
        env.sub
    );
    let (vms, _) = env.list_all(&list).await;
    assert_eq!(names(&vms), ["Vm1"]);

    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::PUT,
            resource(&env, "rg", VM, "vm2"),
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "LocationRequired",
        ),
        (
            Method::PUT,
            resource(&env, "rg", VM, "vm1"),
            Some(json!({"location": "westus"})),
            StatusCode::BAD_REQUEST,
            "InvalidResourceLocation",
        ),
        (
            Method::PUT,
            resource(&env, "nogroup", VM, "vm2"),
            Some(carrying(&[])),
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
        ),
        (
            Method::PUT,
            resource(&env, "rg", VM, "vm2").replace("?api-version=2024-03-01", ""),
            Some(carrying(&[])),
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
        ),
        (
            Method::PUT,
            resource(&env, "rg", VM, "vm2"),
            Some(json!({"location": "eastus", "identity": {"type": "Mystery"}})),
            StatusCode::BAD_REQUEST,
            "InvalidIdentityType",
        ),
        (
            Method::PUT,
            resource(&env, "rg", VM, "vm2"),
            Some(json!({"location": "eastus", "identity": {"type": "UserAssigned"}})),
            StatusCode::BAD_REQUEST,
            "InvalidIdentityType",
        ),
        (
            Method::PUT,
            resource(&env, "rg", VM, "vm2"),
            Some(
                json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/not/an/id": {}}}}),
            ),
            StatusCode::BAD_REQUEST,
            "LinkedInvalidPropertyId",
        ),
        (
            Method::PUT,
            resource(&env, "rg", VM, "vm2"),
            Some(carrying(&[&identity_id(&env, "rg", "nobody")])),
            StatusCode::BAD_REQUEST,
            "FailedIdentityOperation",
        ),
        (
            Method::GET,
            resource(&env, "rg", VM, "nothing"),
            None,
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
        ),
        (
            Method::PATCH,
            resource(&env, "rg", VM, "nothing"),
            Some(json!({})),
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
        ),
        (
            Method::POST,
            resource(&env, "rg", VM, "vm1"),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let r = env.call(method.clone(), &path, body).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "{method} {path}: {}",
            r.body
        );
    }
    assert_eq!(
        names(&env.list_all(&list).await.0),
        ["Vm1"],
        "nothing bad was stored"
    );

    assert_eq!(
        env.call(Method::DELETE, &path, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        env.call(Method::DELETE, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.call(Method::GET, &path, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_patch_merges_and_a_null_entry_detaches() {
    let env = Env::start().await;
    env.group("rg").await;
    let a = identity_id(&env, "rg", "a-id");
    let b = identity_id(&env, "rg", "b-id");
    env.identity("rg", "a-id").await;
    env.identity("rg", "b-id").await;
    let path = resource(&env, "rg", SITE, "web");
    let r = env
        .call(Method::PUT, &path, Some(carrying(&[&a, &b])))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let tagged = env
        .call(
            Method::PATCH,
            &path,
            Some(
                json!({"tags": {"owner": "me"}, "properties": {"httpsOnly": true}, "zones": null}),
            ),
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.body);
    assert_eq!(
        tagged.body["tags"],
        json!({"owner": "me"}),
        "tags are replaced"
    );
    assert_eq!(
        tagged.body["properties"],
        json!({"httpsOnly": true}),
        "top-level keys are replaced"
    );
    assert!(tagged.body.get("zones").is_none(), "null removes a key");
    assert_eq!(
        tagged.body["identity"], r.body["identity"],
        "the identity block is untouched"
    );

    // The client's detach: the type plus a null entry, the id in another case.
    let detach_b = env
        .call(
            Method::PATCH,
            &path,
            Some(json!({"identity": {"type": "UserAssigned", "userAssignedIdentities": {b.to_lowercase(): null}}})),
        )
        .await;
    assert_eq!(detach_b.status, StatusCode::OK);
    let left: Vec<&String> = detach_b.body["identity"]["userAssignedIdentities"]
        .as_object()
        .expect("map")
        .keys()
        .collect();
    assert_eq!(left, [&a]);
    let added = env
        .call(
            Method::PATCH,
            &path,
            Some(json!({"identity": {"userAssignedIdentities": {b.clone(): {}}}})),
        )
        .await;
    assert_eq!(
        added.body["identity"]["userAssignedIdentities"]
            .as_object()
            .map(|m| m.len()),
        Some(2)
    );
    let missing = env
        .call(
            Method::PATCH,
            &path,
            Some(json!({"identity": {"userAssignedIdentities": {identity_id(&env, "rg", "ghost"): {}}}})),
        )
        .await;
    assert_eq!(missing.code(), "FailedIdentityOperation");
    let none = env
        .call(
            Method::PATCH,
            &path,
            Some(
                json!({"identity": {"userAssignedIdentities": {a.clone(): null, b.clone(): null}}}),
            ),
        )
        .await;
    assert!(
        none.body.get("identity").is_none(),
        "no identity left: no block: {}",
        none.body
    );

    // System-assigned identities get their own principal, kept while enabled.
    let both = env
        .call(
            Method::PATCH,
            &path,
            Some(json!({"identity": {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {a.clone(): {}}}})),
        )
        .await;
    assert_eq!(
        both.body["identity"]["type"],
        "SystemAssigned, UserAssigned"
    );
    let system = both.body["identity"]["principalId"]
        .as_str()
        .expect("principalId")
        .to_string();
    assert_eq!(both.body["identity"]["tenantId"], env.emu.tenant_id());
    let user_only = env
        .call(
            Method::PATCH,
            &path,
            Some(json!({"identity": {"userAssignedIdentities": {a.clone(): null}}})),
        )
        .await;
    assert_eq!(
        user_only.body["identity"],
        json!({"type": "SystemAssigned", "principalId": system, "tenantId": env.emu.tenant_id()})
    );
}

#[tokio::test]
async fn a_deleted_identity_stays_referenced_as_in_azure() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "doomed").await;
    let id = identity_id(&env, "rg", "doomed");
    let path = resource(&env, "rg", VM, "vm");
    assert_eq!(
        env.call(Method::PUT, &path, Some(carrying(&[&id])))
            .await
            .status,
        StatusCode::CREATED
    );
    env.call(Method::DELETE, &env.identity_path("rg", "doomed"), None)
        .await;
    let got = env.call(Method::GET, &path, None).await;
    assert_eq!(
        got.body["identity"],
        json!({"type": "UserAssigned", "userAssignedIdentities": {id.clone(): {}}})
    );
    // A PUT keeping the stale reference is accepted; a new one is checked.
    let kept = env.call(Method::PUT, &path, Some(carrying(&[&id]))).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    let recreated = env.identity("rg", "doomed").await;
    let got = env.call(Method::GET, &path, None).await;
    assert_eq!(
        got.body["identity"]["userAssignedIdentities"][&id]["clientId"],
        recreated["properties"]["clientId"]
    );
}

#[tokio::test]
async fn the_resource_list_shows_identity_blocks() {
    let env = Env::with(EmulatorOptions {
        page_size: 2,
        ..crate::harness::quick()
    })
    .await;
    env.group("rg").await;
    env.group("other").await;
    env.identity("rg", "app-1").await;
    let id = identity_id(&env, "rg", "app-1");
    for (rg, kind, name, ids) in [
        ("rg", VM, "vm", vec![id.as_str()]),
        ("rg", SITE, "web", vec![]),
        ("other", SITE, "api", vec![id.as_str()]),
    ] {
        let r = env
            .call(
                Method::PUT,
                &resource(&env, rg, kind, name),
                Some(carrying(&ids)),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let (all, pages) = env
        .list_all(&format!(
            "/subscriptions/{}/resources?api-version=2021-04-01",
            env.sub
        ))
        .await;
    assert_eq!((all.len(), pages), (4, 2));
    let mut seen = names(&all);
    seen.sort();
    assert_eq!(seen, ["api", "app-1", "vm", "web"]);
    for item in &all {
        assert!(
            item.get("properties").is_none(),
            "the list leaves out properties: {item}"
        );
        assert!(item["location"].is_string() && item["tags"].is_object());
    }
    let vm = all.iter().find(|r| r["name"] == "vm").expect("vm");
    assert!(vm["identity"]["userAssignedIdentities"][&id]["principalId"].is_string());
    let (in_rg, _) = env
        .list_all(&format!(
            "/subscriptions/{}/resourceGroups/other/resources?api-version={RES}",
            env.sub
        ))
        .await;
    assert_eq!(names(&in_rg), ["api"]);
    let bad = env
        .call(
            Method::GET,
            &format!(
                "/subscriptions/{}/resources?api-version=2000-01-01",
                env.sub
            ),
            None,
        )
        .await;
    assert_eq!(bad.code(), "InvalidApiVersionParameter");
    let provider = env
        .call(
            Method::GET,
            &format!(
                "/subscriptions/{}/providers/Microsoft.Web?api-version=2021-04-01",
                env.sub
            ),
            None,
        )
        .await;
    assert_eq!(provider.body["registrationState"], "Registered");
    assert_eq!(provider.body["resourceTypes"][0]["resourceType"], "sites");
    assert!(
        provider.body["resourceTypes"][0]["apiVersions"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
    );
}

#[tokio::test]
async fn list_associated_resources_finds_what_carries_the_identity() {
    let env = Env::with(EmulatorOptions {
        page_size: 2,
        ..crate::harness::quick()
    })
    .await;
    env.group("rg").await;
    env.group("apps").await;
    env.identity("rg", "shared").await;
    env.identity("rg", "lonely").await;
    let id = identity_id(&env, "rg", "shared");
    let upper = id.to_uppercase().replace("SUBSCRIPTIONS", "subscriptions");
    for (rg, kind, name, ids) in [
        ("rg", VM, "vm-1", vec![id.as_str()]),
        ("apps", SITE, "web", vec![upper.as_str()]),
        (
            "apps",
            "Microsoft.CognitiveServices/accounts",
            "ai",
            vec![id.as_str()],
        ),
        ("apps", SITE, "plain", vec![]),
    ] {
        let r = env
            .call(
                Method::PUT,
                &resource(&env, rg, kind, name),
                Some(carrying(&ids)),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let action = |name: &str| {
        format!(
            "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/listAssociatedResources?api-version={PREVIEW}",
            env.sub
        )
    };
    let first = env.call(Method::POST, &action("shared"), None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["totalCount"], 3);
    let next = first.body["nextLink"]
        .as_str()
        .expect("a second page")
        .to_string();
    let second = env.call(Method::POST, &next, None).await;
    assert!(second.body.get("nextLink").is_none());
    let mut items: Vec<Value> = first.body["value"].as_array().expect("value").clone();
    items.extend(
        second.body["value"]
            .as_array()
            .expect("value")
            .iter()
            .cloned(),
    );
    let subs = env
        .call(Method::GET, "/subscriptions?api-version=2022-12-01", None)
        .await;
    let display = subs.body["value"][0]["displayName"].clone();
    let ai = items.iter().find(|r| r["name"] == "ai").expect("ai");
    assert_eq!(
        ai,
        &json!({
            "id": format!("/subscriptions/{}/resourceGroups/apps/providers/Microsoft.CognitiveServices/accounts/ai", env.sub),
            "name": "ai", "type": "microsoft.cognitiveservices/accounts", "resourceGroup": "apps",
            "subscriptionId": env.sub, "subscriptionDisplayName": display
        })
    );
    let mut found = names(&items);
    found.sort();
    assert_eq!(found, ["ai", "vm-1", "web"], "ids match case-insensitively");

    let top = env
        .call(Method::POST, &format!("{}&$top=1", action("shared")), None)
        .await;
    assert_eq!(
        (
            top.body["value"].as_array().map(Vec::len),
            top.body["totalCount"].clone()
        ),
        (Some(1), json!(3))
    );
    let lonely = env.call(Method::POST, &action("lonely"), None).await;
    assert_eq!(lonely.body, json!({"totalCount": 0, "value": []}));

    // Detaching and deleting take resources off the list.
    env.call(
        Method::PATCH,
        &resource(&env, "rg", VM, "vm-1"),
        Some(json!({"identity": {"userAssignedIdentities": {id.clone(): null}}})),
    )
    .await;
    env.call(Method::DELETE, &resource(&env, "apps", SITE, "web"), None)
        .await;
    let after = env.call(Method::POST, &action("shared"), None).await;
    assert_eq!(
        (
            after.body["totalCount"].clone(),
            names(after.body["value"].as_array().expect("value"))
        ),
        (json!(1), vec!["ai".to_string()])
    );
}

#[tokio::test]
async fn role_assignments_at_every_scope() {
    let env = Env::start().await;
    env.group("rg").await;
    let identity = env.identity("rg", "app-1").await;
    let p = principal(&identity);
    env.call(
        Method::PUT,
        &resource(&env, "rg", SITE, "web"),
        Some(carrying(&[])),
    )
    .await;
    let sub_scope = format!("/subscriptions/{}", env.sub);
    let rg_scope = format!("{sub_scope}/resourceGroups/rg");
    let id_scope = identity_id(&env, "rg", "app-1");
    let web_scope = format!("{rg_scope}/providers/{SITE}/web");
    let mut made = Vec::new();
    for scope in [&sub_scope, &rg_scope, &id_scope, &web_scope] {
        let name = guid();
        let r = env
            .call(
                Method::PUT,
                &assignment(scope, &name),
                role_body(&env, &p, READER),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{scope}: {}", r.body);
        let props = &r.body["properties"];
        assert_eq!(
            r.body["id"],
            format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}")
        );
        assert_eq!(r.body["type"], "Microsoft.Authorization/roleAssignments");
        assert_eq!(
            (props["scope"].as_str(), props["principalId"].as_str()),
            (Some(scope.as_str()), Some(p.as_str()))
        );
        assert_eq!(props["principalType"], "ServicePrincipal");
        assert!(
            props["roleDefinitionId"]
                .as_str()
                .is_some_and(|d| d.ends_with(READER))
        );
        assert!(props["condition"].is_null() && props["conditionVersion"].is_null());
        for key in ["createdOn", "updatedOn", "createdBy", "updatedBy"] {
            assert!(props[key].is_string(), "{key}");
        }
        let got = env.call(Method::GET, &assignment(scope, &name), None).await;
        assert_eq!(got.body, r.body);
        made.push((scope.clone(), name));
    }
    let (at_sub, _) = env.list_all(&assignments(&sub_scope)).await;
    assert_eq!(
        at_sub.len(),
        4,
        "a subscription list holds everything at and below it"
    );
    let (at_rg, _) = env.list_all(&assignments(&rg_scope)).await;
    assert_eq!(
        at_rg.len(),
        4,
        "a group's list: above (inherited), at and below"
    );
    let (at_scope, _) = env
        .list_all(&format!("{}&$filter=atScope()", assignments(&rg_scope)))
        .await;
    assert_eq!(at_scope.len(), 2, "atScope(): at and above only");
    let (at_web, _) = env.list_all(&assignments(&web_scope)).await;
    assert_eq!(at_web.len(), 3);

    let other = env.identity("rg", "app-2").await;
    let r = env
        .call(
            Method::PUT,
            &assignment(&rg_scope, &guid()),
            role_body(&env, &principal(&other), CONTRIBUTOR),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (mine, _) = env
        .list_all(&format!(
            "{}&$filter=principalId eq '{}'",
            assignments(&sub_scope),
            p.to_uppercase()
        ))
        .await;
    assert_eq!(mine.len(), 4);
    let (theirs, _) = env
        .list_all(&format!(
            "{}&$filter=principalId%20eq%20'{}'",
            assignments(&sub_scope),
            principal(&other)
        ))
        .await;
    assert_eq!(theirs.len(), 1);
    let bad = env
        .call(
            Method::GET,
            &format!(
                "{}&$filter=roleDefinitionId eq 'x'",
                assignments(&sub_scope)
            ),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let (scope, name) = &made[1];
    let deleted = env
        .call(Method::DELETE, &assignment(scope, name), None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body["name"], name.as_str());
    let again = env
        .call(Method::DELETE, &assignment(scope, name), None)
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    let gone = env.call(Method::GET, &assignment(scope, name), None).await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "RoleAssignmentNotFound")
    );
}

#[tokio::test]
async fn role_assignment_rules() {
    let env = Env::start().await;
    env.group("rg").await;
    let p = principal(&env.identity("rg", "app-1").await);
    let rg_scope = format!("/subscriptions/{}/resourceGroups/rg", env.sub);
    let name = guid();
    let first = env
        .call(
            Method::PUT,
            &assignment(&rg_scope, &name),
            role_body(&env, &p, READER),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let repeat = env
        .call(
            Method::PUT,
            &assignment(&rg_scope, &name),
            role_body(&env, &p, READER),
        )
        .await;
    assert_eq!(
        repeat.status,
        StatusCode::CREATED,
        "the same assignment again is fine"
    );
    let tenant_level = Some(json!({"properties": {
        "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"),
        "principalId": p, "principalType": "ServicePrincipal", "description": "deploys"
    }}));
    let contributor = env
        .call(Method::PUT, &assignment(&rg_scope, &guid()), tenant_level)
        .await;
    assert_eq!(
        contributor.status,
        StatusCode::CREATED,
        "{}",
        contributor.body
    );
    assert_eq!(
        contributor.body["properties"]["roleDefinitionId"],
        format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
            env.sub
        )
    );
    assert_eq!(contributor.body["properties"]["description"], "deploys");

    let stranger = guid();
    let cases: Vec<(String, Option<Value>, StatusCode, &str)> = vec![
        (
            assignment(&rg_scope, &guid()),
            role_body(&env, &p, READER),
            StatusCode::CONFLICT,
            "RoleAssignmentExists",
        ),
        (
            assignment(&rg_scope, &name),
            role_body(&env, &p, CONTRIBUTOR),
            StatusCode::BAD_REQUEST,
            "RoleAssignmentUpdateNotPermitted",
        ),
        (
            assignment(&rg_scope, &guid()),
            role_body(&env, &stranger, READER),
            StatusCode::BAD_REQUEST,
            "PrincipalNotFound",
        ),
        (
            assignment(&rg_scope, "not-a-guid"),
            role_body(&env, &p, READER),
            StatusCode::BAD_REQUEST,
            "InvalidRoleAssignmentId",
        ),
        (
            assignment(&rg_scope, &guid()),
            role_body(&env, &p, "reader"),
            StatusCode::BAD_REQUEST,
            "InvalidRoleDefinitionId",
        ),
        (
            assignment(&rg_scope, &guid()),
            role_body(&env, "nobody", READER),
            StatusCode::BAD_REQUEST,
            "InvalidPrincipalId",
        ),
        (
            assignment(&rg_scope, &guid()),
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
        ),
        (
            assignment(
                &format!("/subscriptions/{}/resourceGroups/nogroup", env.sub),
                &guid(),
            ),
            role_body(&env, &p, READER),
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
        ),
        (
            assignment(&format!("{rg_scope}/providers/{VM}/none"), &guid()),
            role_body(&env, &p, READER),
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
        ),
        (
            assignment(&format!("{rg_scope}/foo"), &guid()),
            role_body(&env, &p, READER),
            StatusCode::BAD_REQUEST,
            "InvalidScope",
        ),
        (
            assignment(&rg_scope, &guid()).replace(AUTH, "1999-01-01"),
            role_body(&env, &p, READER),
            StatusCode::BAD_REQUEST,
            "NoRegisteredProviderFound",
        ),
    ];
    for (path, body, status, code) in cases {
        let r = env.call(Method::PUT, &path, body).await;
        assert_eq!((r.status, r.code()), (status, code), "{path}: {}", r.body);
    }
    let not_found = env
        .call(
            Method::PUT,
            &assignment(&rg_scope, &guid()),
            role_body(&env, &stranger, READER),
        )
        .await;
    let message = not_found.body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&stranger.replace('-', ""))
            && message.contains(env.emu.tenant_id())
            && message.contains("replication delay"),
        "{message}"
    );
    let exists = env
        .call(
            Method::PUT,
            &assignment(&rg_scope, &guid()),
            role_body(&env, &p, READER),
        )
        .await;
    assert!(
        exists.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains(&name.replace('-', ""))
    );
    assert_eq!(
        env.list_all(&assignments(&rg_scope)).await.0.len(),
        2,
        "nothing bad was stored"
    );
}

/// A new identity's principal is unknown to role assignments until the directory replicated it.
#[tokio::test]
async fn a_new_principal_is_assignable_after_the_replication_delay() {
    let env = Env::with(EmulatorOptions {
        replication_delay: Duration::from_millis(1500),
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    let p = principal(&env.identity("rg", "fresh").await);
    let scope = format!("/subscriptions/{}/resourceGroups/rg", env.sub);
    let name = guid();
    let early = env
        .call(
            Method::PUT,
            &assignment(&scope, &name),
            role_body(&env, &p, READER),
        )
        .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::BAD_REQUEST, "PrincipalNotFound")
    );
    let mut tries = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        tries += 1;
        let r = env
            .call(
                Method::PUT,
                &assignment(&scope, &name),
                role_body(&env, &p, READER),
            )
            .await;
        if r.status == StatusCode::CREATED {
            break;
        }
        assert_eq!(r.code(), "PrincipalNotFound");
        assert!(tries < 80, "the principal never replicated");
    }
    assert!(tries > 1, "the delay held for a while");
}

#[tokio::test]
async fn what_goes_with_an_identity_and_a_group() {
    let env = Env::start().await;
    env.group("rg").await;
    env.group("kept").await;
    let identity = env.identity("rg", "app-1").await;
    let p = principal(&identity);
    let sub_scope = format!("/subscriptions/{}", env.sub);
    let id_scope = identity_id(&env, "rg", "app-1");
    for scope in [&sub_scope, &id_scope] {
        let r = env
            .call(
                Method::PUT,
                &assignment(scope, &guid()),
                role_body(&env, &p, READER),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    env.call(Method::DELETE, &env.identity_path("rg", "app-1"), None)
        .await;
    let (left, _) = env.list_all(&assignments(&sub_scope)).await;
    assert_eq!(
        left.len(),
        1,
        "the assignment to its principal stays, orphaned; the one on it goes"
    );
    assert_eq!(left[0]["properties"]["scope"], sub_scope.as_str());

    let q = principal(&env.identity("kept", "other").await);
    for scope in [
        format!("{sub_scope}/resourceGroups/rg"),
        format!("{sub_scope}/resourceGroups/kept"),
    ] {
        let r = env
            .call(
                Method::PUT,
                &assignment(&scope, &guid()),
                role_body(&env, &q, READER),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    env.call(
        Method::PUT,
        &resource(&env, "rg", SITE, "web"),
        Some(carrying(&[])),
    )
    .await;
    let web = format!("{sub_scope}/resourceGroups/rg/providers/{SITE}/web");
    assert_eq!(
        env.call(
            Method::PUT,
            &assignment(&web, &guid()),
            role_body(&env, &q, READER)
        )
        .await
        .status,
        StatusCode::CREATED
    );
    env.call(Method::DELETE, &env.group_path("rg"), None).await;
    wait_until_gone(&env, "rg").await;
    let (left, _) = env.list_all(&assignments(&sub_scope)).await;
    let mut scopes: Vec<&str> = left
        .iter()
        .filter_map(|a| a["properties"]["scope"].as_str())
        .collect();
    scopes.sort();
    assert_eq!(
        scopes,
        [
            sub_scope.clone(),
            format!("{sub_scope}/resourceGroups/kept")
        ]
    );
    env.group("rg").await;
    let gone = env
        .call(Method::GET, &resource(&env, "rg", SITE, "web"), None)
        .await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "the group's resources went with it"
    );
}

#[tokio::test]
async fn relations_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = || EmulatorOptions {
        data: Some(dir.path().join("emulator.db")),
        token: Some("t".into()),
        subscriptions: vec!["00000000-0000-0000-0000-0000000000aa".into()],
        replication_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    };
    let env = Env::with(options()).await;
    env.group("rg").await;
    let p = principal(&env.identity("rg", "app-1").await);
    let id = identity_id(&env, "rg", "app-1");
    let scope = format!("/subscriptions/{}/resourceGroups/rg", env.sub);
    let name = guid();
    let before = [
        env.call(
            Method::PUT,
            &fic(&env, "rg", "app-1", "gh-main"),
            fic_body("s"),
        )
        .await
        .body,
        env.call(
            Method::PUT,
            &resource(&env, "rg", VM, "vm"),
            Some(carrying(&[&id])),
        )
        .await
        .body,
        env.call(
            Method::PUT,
            &assignment(&scope, &name),
            role_body(&env, &p, READER),
        )
        .await
        .body,
    ];
    for body in &before {
        assert!(body.get("error").is_none(), "{body}");
    }
    drop(env);
    let env = Env::with(options()).await;
    let after = [
        env.call(Method::GET, &fic(&env, "rg", "app-1", "gh-main"), None)
            .await
            .body,
        env.call(Method::GET, &resource(&env, "rg", VM, "vm"), None)
            .await
            .body,
        env.call(Method::GET, &assignment(&scope, &name), None)
            .await
            .body,
    ];
    assert_eq!(before, after);
    let assoc = env
        .call(
            Method::POST,
            &format!("{}/listAssociatedResources?api-version={PREVIEW}", id),
            None,
        )
        .await;
    assert_eq!(assoc.body["totalCount"], 1);
}

/// The client's reference checks and safe delete (src/host/references.rs) against the emulator:
/// per identity and per batch they find the same uses, and the delete detaches, unassigns and deletes.
#[tokio::test]
async fn the_clients_safe_delete_runs_against_the_emulator() {
    let env = Env::start().await;
    env.group("rg").await;
    let doomed = env.identity("rg", "doomed").await;
    env.identity("rg", "keeper").await;
    let (doomed_id, keeper_id) = (
        identity_id(&env, "rg", "doomed"),
        identity_id(&env, "rg", "keeper"),
    );
    let vm = resource(&env, "rg", VM, "vm");
    assert_eq!(
        env.call(Method::PUT, &vm, Some(carrying(&[&doomed_id, &keeper_id])))
            .await
            .status,
        StatusCode::CREATED
    );
    let rg_scope = format!("/subscriptions/{}/resourceGroups/rg", env.sub);
    let p = principal(&doomed);
    assert_eq!(
        env.call(
            Method::PUT,
            &assignment(&rg_scope, &guid()),
            role_body(&env, &p, READER)
        )
        .await
        .status,
        StatusCode::CREATED
    );

    let client = ArmClient::new(
        env.emu.url(),
        Credential::static_token(env.emu.token()),
        ClientOptions::default(),
    )
    .expect("client");
    let id = IdentityRef::new(&env.sub, "rg", "doomed").expect("ref");
    let batch = References::gather_tenant(&client, &[id.id()])
        .await
        .expect("gather");
    let from_batch = batch.uses(&id.id());
    let one = Uses::of(&client, &id, &p).await.expect("uses");
    assert_eq!(from_batch.resources.len(), 1, "{from_batch:?}");
    assert_eq!(from_batch.assignments.len(), 1);
    assert_eq!(
        one.resources
            .iter()
            .map(|r| r.to_lowercase())
            .collect::<Vec<_>>(),
        from_batch
            .resources
            .iter()
            .map(|r| r.to_lowercase())
            .collect::<Vec<_>>()
    );
    // Resource Graph shows the same assignments (its rows carry fewer properties).
    let ids =
        |a: &[azid::model::RoleAssignment]| a.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&one.assignments), ids(&from_batch.assignments));

    let steps = one
        .steps(
            &id,
            DeleteOptions {
                detach: true,
                remove_role_assignments: true,
                force: false,
            },
        )
        .expect("steps");
    assert!(apply(&client, &id, &steps).await.expect("apply"));
    let after = env.call(Method::GET, &vm, None).await;
    let left: Vec<&String> = after.body["identity"]["userAssignedIdentities"]
        .as_object()
        .expect("map")
        .keys()
        .collect();
    assert_eq!(left, [&keeper_id]);
    assert!(env.list_all(&assignments(&rg_scope)).await.0.is_empty());
    assert_eq!(
        env.call(Method::GET, &env.identity_path("rg", "doomed"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Every example of the relationship functions (federated credentials, resources, role
/// assignments, audit) runs against the emulator, as the identity examples do.
#[tokio::test]
async fn every_relationship_doc_example_runs() {
    for doc in azid::host::relations::DOCS {
        let env = Env::start().await;
        env.group("rg").await;
        env.identity("rg", "app-1").await;
        let run = Azid::at(&env, &["eval", doc.example]).run().await;
        assert_eq!(run.code, 0, "{}: {}\n{run:?}", doc.name, doc.example);
    }
}

/// With callers and roles, the relationship routes need the actions Azure's roles grant:
/// credentials come with Managed Identity Contributor, a resource's writes and role
/// assignments do not; a Reader reads all of it; Contributor may not assign roles.
#[tokio::test]
async fn callers_need_the_actions_of_their_roles() {
    let sub = "00000000-0000-0000-0000-0000000000bb";
    let callers = [
        "reader=reader",
        "mic=managed-identity-contributor",
        "contrib=contributor",
    ];
    let env = Env::with(EmulatorOptions {
        group_delete_delay: Duration::ZERO,
        replication_delay: Duration::ZERO,
        subscriptions: vec![sub.into()],
        callers: callers.iter().map(|c| c.parse().expect("caller")).collect(),
        ..EmulatorOptions::default()
    })
    .await;
    env.group("rg").await;
    let p = principal(&env.identity("rg", "app-1").await);
    let rg_scope = format!("/subscriptions/{sub}/resourceGroups/rg");
    let as_ = |token: &'static str, method: Method, path: String, body: Option<Value>| {
        let env = &env;
        async move { env.call_as(Some(token), method, &path, body).await }
    };
    let denied = |r: &crate::harness::Reply, action: &str| {
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "AuthorizationFailed"),
            "{}",
            r.body
        );
        let message = r.body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(action), "{message}");
    };

    let r = as_(
        "mic",
        Method::PUT,
        fic(&env, "rg", "app-1", "gh-main"),
        fic_body("s"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = as_(
        "reader",
        Method::PUT,
        fic(&env, "rg", "app-1", "gh-other"),
        fic_body("t"),
    )
    .await;
    denied(&r, "federatedIdentityCredentials/write");
    let r = as_("reader", Method::GET, fics(&env, "rg", "app-1"), None).await;
    assert_eq!(r.status, StatusCode::OK);

    let vm = resource(&env, "rg", VM, "vm");
    let r = as_("mic", Method::PUT, vm.clone(), Some(carrying(&[]))).await;
    denied(&r, "Microsoft.Compute/virtualMachines/write");
    let r = as_("contrib", Method::PUT, vm.clone(), Some(carrying(&[]))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        as_("reader", Method::GET, vm.clone(), None).await.status,
        StatusCode::OK
    );
    let r = as_("reader", Method::DELETE, vm, None).await;
    denied(&r, "Microsoft.Compute/virtualMachines/delete");

    let r = as_(
        "contrib",
        Method::PUT,
        assignment(&rg_scope, &guid()),
        role_body(&env, &p, READER),
    )
    .await;
    denied(&r, "Microsoft.Authorization/roleAssignments/write");
    let r = env
        .call(
            Method::PUT,
            &assignment(&rg_scope, &guid()),
            role_body(&env, &p, READER),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let owner = r.body["properties"]["createdBy"].clone();
    assert!(
        owner.as_str().is_some_and(|o| !o.is_empty()),
        "createdBy names the caller"
    );
    let (listed, _) = env.list_all(&assignments(&rg_scope)).await;
    assert_eq!(listed.len(), 1);
    let r = as_("reader", Method::GET, assignments(&rg_scope), None).await;
    assert_eq!(r.status, StatusCode::OK);
}
