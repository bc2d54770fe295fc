//! Replays the official REST examples (tests/fixtures/arm-reference) against the emulator
//! and checks status codes and the response's field names, types and nesting. Generated
//! values (UUIDs, ids) are compared by shape; fixed values (type, location, tags,
//! isolationScope, display texts' presence) by value.

use std::path::PathBuf;

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Env, MSI};

/// The examples this issue covers: identity operations and the operations list.
const COVERED: &[&str] = &[
    "IdentityCreate",
    "IdentityGet",
    "IdentityUpdate",
    "IdentityListByResourceGroup",
    "IdentityListBySubscription",
    "IdentityDelete",
    "MsiOperationsList",
];

fn example(version: &str, name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/arm-reference/msi",
        version,
        "examples",
        &format!("{name}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("example is JSON")
}

/// Checks `actual` against the example body `expected`: same keys at every level, same JSON types,
/// UUID-shaped where the example holds a UUID, equal where the value is not generated.
pub(crate) fn same_shape(expected: &Value, actual: &Value, at: &str) {
    const FIXED: &[&str] = &["type", "location", "isolationScope", "provider", "resource"];
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut ek: Vec<_> = e.keys().collect();
            let mut ak: Vec<_> = a.keys().collect();
            ek.sort();
            ak.sort();
            assert_eq!(ek, ak, "keys differ at {at}");
            for (k, ev) in e {
                let here = format!("{at}.{k}");
                if k == "tags" {
                    assert_eq!(ev, &a[k], "tags differ at {here}");
                } else if FIXED.contains(&k.as_str()) && ev.is_string() && !at.ends_with("display")
                {
                    assert_eq!(ev, &a[k], "value differs at {here}");
                } else {
                    same_shape(ev, &a[k], &here);
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert!(!a.is_empty() || e.is_empty(), "array at {at} is empty");
            if let Some(first) = e.first() {
                for (i, item) in a.iter().enumerate() {
                    same_shape(first, item, &format!("{at}[{i}]"));
                }
            }
        }
        (Value::String(e), Value::String(a)) => {
            if uuid::Uuid::try_parse(e).is_ok() {
                assert!(
                    uuid::Uuid::try_parse(a).is_ok(),
                    "{at}: '{a}' is not a UUID like '{e}'"
                );
            }
        }
        (e, a) => assert_eq!(
            std::mem::discriminant(e),
            std::mem::discriminant(a),
            "type differs at {at}: {e} vs {a}"
        ),
    }
}

fn expected_body(example: &Value, status: StatusCode) -> &Value {
    &example["responses"][status.as_str()]["body"]
}

async fn replay(version: &str) {
    // One item per page, so the list examples (which carry a nextLink) can be met field for field.
    let env = Env::with(EmulatorOptions {
        page_size: 1,
        ..EmulatorOptions::default()
    })
    .await;
    let mut covered = Vec::new();
    let rg = "rgName";
    env.group(rg).await;
    let path = |name: &str| env.identity_path_v(rg, name, version);

    let create = example(version, "IdentityCreate");
    let body = create["parameters"]["parameters"].clone();
    let r = env
        .call(Method::PUT, &path("resourceName"), Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    same_shape(
        expected_body(&create, StatusCode::CREATED),
        &r.body,
        "IdentityCreate 201",
    );
    let first = r.body.clone();
    let r = env
        .call(Method::PUT, &path("resourceName"), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    same_shape(
        expected_body(&create, StatusCode::OK),
        &r.body,
        "IdentityCreate 200",
    );
    assert_eq!(
        r.body["properties"], first["properties"],
        "a second PUT keeps the generated ids"
    );
    covered.push("IdentityCreate");

    let get = example(version, "IdentityGet");
    let r = env.call(Method::GET, &path("resourceName"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    same_shape(expected_body(&get, StatusCode::OK), &r.body, "IdentityGet");
    covered.push("IdentityGet");

    // A second identity so that the lists have a next page.
    let r = env
        .call(
            Method::PUT,
            &path("second"),
            Some(json!({"location": "eastus", "tags": {"key1": "value1", "key2": "value2"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let by_rg = example(version, "IdentityListByResourceGroup");
    let list_rg = format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version={version}",
        env.sub
    );
    let r = env.call(Method::GET, &list_rg, None).await;
    assert_eq!(r.status, StatusCode::OK);
    same_shape(
        expected_body(&by_rg, StatusCode::OK),
        &r.body,
        "IdentityListByResourceGroup",
    );
    covered.push("IdentityListByResourceGroup");

    let update = example(version, "IdentityUpdate");
    let r = env
        .call(
            Method::PATCH,
            &path("resourceName"),
            Some(update["parameters"]["parameters"].clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    same_shape(
        expected_body(&update, StatusCode::OK),
        &r.body,
        "IdentityUpdate",
    );
    assert_eq!(
        r.body["properties"]["clientId"],
        first["properties"]["clientId"]
    );
    covered.push("IdentityUpdate");

    // The subscription example shows a Regional identity: the one just updated.
    let by_sub = example(version, "IdentityListBySubscription");
    let list_sub = format!(
        "/subscriptions/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version={version}",
        env.sub
    );
    let r = env.call(Method::GET, &list_sub, None).await;
    assert_eq!(r.status, StatusCode::OK);
    same_shape(
        expected_body(&by_sub, StatusCode::OK),
        &r.body,
        "IdentityListBySubscription",
    );
    covered.push("IdentityListBySubscription");

    let delete = example(version, "IdentityDelete");
    for status in [StatusCode::OK, StatusCode::NO_CONTENT] {
        assert!(delete["responses"].get(status.as_str()).is_some());
        let r = env.call(Method::DELETE, &path("resourceName"), None).await;
        assert_eq!(r.status, status);
        assert_eq!(r.body, Value::Null, "DELETE answers with an empty body");
    }
    covered.push("IdentityDelete");

    let ops = example(version, "MsiOperationsList");
    let r = env
        .call(
            Method::GET,
            &format!("/providers/Microsoft.ManagedIdentity/operations?api-version={version}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut expected = expected_body(&ops, StatusCode::OK).clone();
    // Azure's real list is a single page (CLI-REC); the example's nextLink is a placeholder.
    expected.as_object_mut().expect("object").remove("nextLink");
    same_shape(&expected, &r.body, "MsiOperationsList");
    let names: Vec<&str> = r.body["value"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for op in expected["value"].as_array().expect("array") {
        assert!(
            names.contains(&op["name"].as_str().expect("name")),
            "operation {} listed",
            op["name"]
        );
    }
    covered.push("MsiOperationsList");

    covered.sort_unstable();
    let mut all = COVERED.to_vec();
    all.sort_unstable();
    assert_eq!(covered, all, "every covered example was replayed");
}

#[tokio::test]
async fn examples_2024_11_30() {
    replay("2024-11-30").await;
}

#[tokio::test]
async fn examples_2026_05_31() {
    replay("2026-05-31").await;
}

/// The federated identity credential examples, replayed like the identity ones.
const FIC_COVERED: &[&str] = &[
    "FederatedIdentityCredentialCreate",
    "FederatedIdentityCredentialGet",
    "FederatedIdentityCredentialList",
    "FederatedIdentityCredentialDelete",
];

async fn replay_credentials(version: &str) {
    // One item per page, so the list example (which carries a nextLink) is met field for field.
    let env = Env::with(EmulatorOptions {
        page_size: 1,
        ..EmulatorOptions::default()
    })
    .await;
    let mut covered = Vec::new();
    env.group("rgName").await;
    env.identity("rgName", "resourceName").await;
    let base = format!(
        "/subscriptions/{}/resourceGroups/rgName/providers/Microsoft.ManagedIdentity/userAssignedIdentities/resourceName/federatedIdentityCredentials",
        env.sub
    );
    let path = |name: &str| format!("{base}/{name}?api-version={version}");

    let create = example(version, "FederatedIdentityCredentialCreate");
    assert_eq!(create["parameters"]["api-version"], version);
    let body = create["parameters"]["parameters"].clone();
    for status in [StatusCode::CREATED, StatusCode::OK] {
        let r = env
            .call(Method::PUT, &path("ficResourceName"), Some(body.clone()))
            .await;
        assert_eq!(r.status, status, "{}", r.body);
        let expected = expected_body(&create, status);
        same_shape(
            expected,
            &r.body,
            &format!("FederatedIdentityCredentialCreate {status}"),
        );
        assert_eq!(
            r.body["properties"], expected["properties"],
            "what was sent comes back"
        );
        assert!(
            r.body["id"]
                .as_str()
                .is_some_and(|id| id.contains("/resourcegroups/rgName/")
                    && id.ends_with("/federatedIdentityCredentials/ficResourceName")),
            "{}",
            r.body["id"]
        );
    }
    covered.push("FederatedIdentityCredentialCreate");

    let get = example(version, "FederatedIdentityCredentialGet");
    let r = env.call(Method::GET, &path("ficResourceName"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    same_shape(
        expected_body(&get, StatusCode::OK),
        &r.body,
        "FederatedIdentityCredentialGet",
    );
    covered.push("FederatedIdentityCredentialGet");

    // A second credential, so the list has a next page as the example does.
    let mut second = body.clone();
    second["properties"]["subject"] = json!("system:serviceaccount:ns:other");
    let r = env.call(Method::PUT, &path("second"), Some(second)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let list = example(version, "FederatedIdentityCredentialList");
    let top = list["parameters"]["top"].as_str().expect("top");
    let r = env
        .call(
            Method::GET,
            &format!("{base}?api-version={version}&$top={top}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    same_shape(
        expected_body(&list, StatusCode::OK),
        &r.body,
        "FederatedIdentityCredentialList",
    );
    covered.push("FederatedIdentityCredentialList");

    let delete = example(version, "FederatedIdentityCredentialDelete");
    for status in [StatusCode::OK, StatusCode::NO_CONTENT] {
        assert!(delete["responses"].get(status.as_str()).is_some());
        let r = env
            .call(Method::DELETE, &path("ficResourceName"), None)
            .await;
        assert_eq!((r.status, r.body), (status, Value::Null));
    }
    covered.push("FederatedIdentityCredentialDelete");
    assert_eq!(
        covered, FIC_COVERED,
        "every credential example was replayed"
    );
}

#[tokio::test]
async fn credential_examples_2024_11_30() {
    replay_credentials("2024-11-30").await;
}

#[tokio::test]
async fn credential_examples_2026_05_31() {
    replay_credentials("2026-05-31").await;
}

#[tokio::test]
async fn resource_group_examples() {
    let env = Env::start().await;
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/arm-reference/resources"
    );
    let create: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{dir}/2024-11-01/examples/CreateResourceGroup.json"
        ))
        .expect("read"),
    )
    .expect("json");
    let p = &create["parameters"];
    let path = format!(
        "/subscriptions/{}/resourcegroups/{}?api-version={}",
        env.sub,
        p["resourceGroupName"].as_str().expect("name"),
        p["api-version"].as_str().expect("version")
    );
    for status in [StatusCode::CREATED, StatusCode::OK] {
        let r = env
            .call(Method::PUT, &path, Some(p["parameters"].clone()))
            .await;
        assert_eq!(r.status, status);
        // ARM adds `type` to what the example shows (seen in recorded traffic); all else matches.
        let mut body = r.body.clone();
        assert_eq!(
            body.as_object_mut().expect("object").remove("type"),
            Some(json!("Microsoft.Resources/resourceGroups"))
        );
        same_shape(
            &create["responses"][status.as_str()]["body"],
            &body,
            "CreateResourceGroup",
        );
        assert!(
            r.body["id"]
                .as_str()
                .expect("id")
                .ends_with("/resourceGroups/my-resource-group")
        );
    }

    let delete: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{dir}/2025-04-01/examples/ForceDeleteVMsInResourceGroup.json"
        ))
        .expect("read"),
    )
    .expect("json");
    let path = format!(
        "/subscriptions/{}/resourcegroups/my-resource-group?api-version=2025-04-01",
        env.sub
    );
    let r = env.call(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(delete["responses"]["202"]["headers"]["location"].is_string());
    let location = r.headers["location"].to_str().expect("ascii").to_string();
    assert!(
        location.starts_with(&format!(
            "{}/subscriptions/{}/operationresults/",
            env.emu.url(),
            env.sub
        )),
        "{location}"
    );
}

#[tokio::test]
async fn identity_ids_spell_resourcegroups_in_lower_case() {
    let env = Env::start().await;
    env.group("Mixed").await;
    let body = env.identity("Mixed", "caseful").await;
    assert_eq!(
        body["id"],
        json!(format!(
            "/subscriptions/{}/resourcegroups/Mixed/providers/Microsoft.ManagedIdentity/userAssignedIdentities/caseful",
            env.sub
        ))
    );
}

#[tokio::test]
async fn isolation_scope_and_restrictions_follow_the_api_version() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "versioned").await;
    let props = |v: Value| {
        v["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    let old = env
        .call(
            Method::GET,
            &env.identity_path_v("rg", "versioned", "2018-11-30"),
            None,
        )
        .await;
    assert_eq!(props(old.body), ["clientId", "principalId", "tenantId"]);
    let mid = env
        .call(
            Method::GET,
            &env.identity_path_v("rg", "versioned", "2024-11-30"),
            None,
        )
        .await;
    assert_eq!(
        props(mid.body),
        ["clientId", "isolationScope", "principalId", "tenantId"]
    );
    let new = env
        .call(
            Method::GET,
            &env.identity_path_v("rg", "versioned", "2026-05-31"),
            None,
        )
        .await;
    assert_eq!(
        props(new.body.clone()),
        [
            "assignmentRestrictions",
            "clientId",
            "isolationScope",
            "principalId",
            "tenantId"
        ]
    );
    assert_eq!(new.body["properties"]["isolationScope"], "None");
    assert_eq!(
        new.body["properties"]["assignmentRestrictions"],
        json!({"providers": []})
    );
}

/// `az identity list-resources` POSTs listAssociatedResources at 2022-01-31-preview; the
/// action exists only in the two previews (example: msi/2021-09-30-preview).
#[tokio::test]
async fn list_associated_resources_at_the_preview_versions() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "assoc").await;
    let action = |name: &str, version: &str| {
        format!(
            "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}/listAssociatedResources?api-version={version}",
            env.sub
        )
    };
    let example = example("2021-09-30-preview", "IdentityListAssociatedResources");
    let example_body = &example["responses"]["200"]["body"];
    for version in ["2021-09-30-preview", "2022-01-31-preview"] {
        let r = env
            .call(Method::POST, &action("ASSOC", version), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{version}: {}", r.body);
        let mut keys: Vec<_> = r.body.as_object().expect("object").keys().collect();
        keys.sort();
        let mut want: Vec<_> = example_body.as_object().expect("object").keys().collect();
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(r.body["totalCount"], 0);
        assert_eq!(r.body["value"], json!([]));
        // The same previews serve the identity itself, in the pre-2024 shape.
        let get = env
            .call(
                Method::GET,
                &env.identity_path_v("rg", "assoc", version),
                None,
            )
            .await;
        assert_eq!(get.status, StatusCode::OK);
        assert!(get.body["properties"].get("isolationScope").is_none());
    }
    // With a resource carrying the identity (the example's type), an item matches the example's.
    let identity = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/assoc",
        env.sub
    );
    let account = env
        .call(
            Method::PUT,
            &format!(
                "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/test1?api-version=2024-10-01",
                env.sub
            ),
            Some(json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}}})),
        )
        .await;
    assert_eq!(account.status, StatusCode::CREATED, "{}", account.body);
    let r = env
        .call(Method::POST, &action("assoc", "2021-09-30-preview"), None)
        .await;
    assert_eq!(r.body["totalCount"], 1);
    same_shape(example_body, &r.body, "IdentityListAssociatedResources");
    let stable = env.call(Method::POST, &action("assoc", MSI), None).await;
    assert_eq!(stable.status, StatusCode::BAD_REQUEST);
    assert_eq!(stable.code(), "NoRegisteredProviderFound");
    let missing = env
        .call(Method::POST, &action("nobody", "2022-01-31-preview"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "ResourceNotFound");
    let no_group = env
        .call(
            Method::POST,
            &action("assoc", "2022-01-31-preview").replace("/rg/", "/gone/"),
            None,
        )
        .await;
    assert_eq!(no_group.code(), "ResourceGroupNotFound");
    let get = env
        .call(Method::GET, &action("assoc", "2022-01-31-preview"), None)
        .await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
}
