//! The emulator's behaviour beyond the examples: lifecycle, paging, case, auth, every bad
//! input (with the store left untouched), resource-group cascade delete, headers.

use std::time::Duration;

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env, MSI, RES};

#[tokio::test]
async fn identity_lifecycle() {
    let env = Env::start().await;
    env.group("rg").await;
    let path = env.identity_path("rg", "app-1");
    let created = env
        .call(Method::PUT, &path, Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        created.body["tags"],
        json!({}),
        "tags are {{}} when none were sent"
    );
    assert_eq!(
        created.body["type"],
        "Microsoft.ManagedIdentity/userAssignedIdentities"
    );
    assert_eq!(created.body["properties"]["tenantId"], env.emu.tenant_id());
    assert!(created.body.get("systemData").is_none());

    let got = env.call(Method::GET, &path, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, created.body);

    let replaced = env
        .call(
            Method::PUT,
            &path,
            Some(json!({"location": "westeurope", "tags": {"env": "dev"}})),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.body["tags"], json!({"env": "dev"}));
    assert_eq!(
        replaced.body["properties"], created.body["properties"],
        "generated ids never change"
    );

    let patched = env
        .call(Method::PATCH, &path, Some(json!({"tags": {"owner": "me"}})))
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(
        patched.body["tags"],
        json!({"owner": "me"}),
        "a PATCH of tags replaces the whole set"
    );

    let moved = env
        .call(Method::PUT, &path, Some(json!({"location": "eastus"})))
        .await;
    assert_eq!(moved.status, StatusCode::BAD_REQUEST);
    assert_eq!(moved.code(), "InvalidResourceLocation");

    let deleted = env.call(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = env.call(Method::GET, &path, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.code(), "ResourceNotFound");
    assert!(
        gone.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("userAssignedIdentities/app-1")
    );
    assert_eq!(
        env.call(Method::DELETE, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    let patch_gone = env
        .call(Method::PATCH, &path, Some(json!({"tags": {}})))
        .await;
    assert_eq!(patch_gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lists_page_with_absolute_next_links() {
    let env = Env::with(EmulatorOptions {
        page_size: 7,
        ..EmulatorOptions::default()
    })
    .await;
    env.group("a").await;
    env.group("b").await;
    for i in 0..25 {
        env.identity("a", &format!("id-{i:02}")).await;
    }
    for i in 0..4 {
        env.identity("b", &format!("other-{i}")).await;
    }
    let first = env.call(Method::GET, &env.identities_in("a"), None).await;
    let next = first.body["nextLink"]
        .as_str()
        .expect("first page has a nextLink");
    assert!(
        next.starts_with(&format!("{}/subscriptions/", env.emu.url())),
        "{next}"
    );
    assert!(next.contains("api-version=2024-11-30"), "{next}");

    let (items, pages) = env.list_all(&env.identities_in("a")).await;
    assert_eq!(pages, 4, "25 items at 7 a page");
    let names: Vec<&str> = items
        .iter()
        .map(|i| i["name"].as_str().expect("name"))
        .collect();
    let expected: Vec<String> = (0..25).map(|i| format!("id-{i:02}")).collect();
    assert_eq!(names, expected, "every item once, in a stable order");

    let (all, pages) = env.list_all(&env.identities_in_sub()).await;
    assert_eq!((all.len(), pages), (29, 5));

    // The last page has no nextLink key at all (never an empty string).
    let mut url = env.identities_in("b");
    let r = env.call(Method::GET, &url, None).await;
    assert!(r.body.get("nextLink").is_none());
    url.push_str("&$skiptoken=!!notatoken");
    assert_eq!(
        env.call(Method::GET, &url, None).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn names_are_case_insensitive_and_case_preserving() {
    let env = Env::start().await;
    env.group("MyGroup").await;
    let created = env.identity("MyGroup", "MyIdentity").await;
    let path = format!(
        "/SUBSCRIPTIONS/{}/RESOURCEGROUPS/mygroup/PROVIDERS/microsoft.managedidentity/USERASSIGNEDIDENTITIES/myidentity?api-version={MSI}",
        env.sub.to_uppercase()
    );
    let got = env.call(Method::GET, &path, None).await;
    assert_eq!(got.status, StatusCode::OK, "{:?}", got.body);
    assert_eq!(got.body["name"], "MyIdentity");
    assert_eq!(got.body["properties"], created["properties"]);

    let again = env
        .call(
            Method::PUT,
            &env.identity_path("MYGROUP", "MYIDENTITY"),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "same identity, other case: an update"
    );
    assert_eq!(
        again.body["name"], "MYIDENTITY",
        "the case last supplied is returned"
    );
    assert_eq!(env.all_identity_names().await, ["MYIDENTITY"]);

    let group = env
        .call(Method::GET, &env.group_path("MYGROUP"), None)
        .await;
    assert_eq!(group.body["name"], "MyGroup");
}

#[tokio::test]
async fn authentication() {
    let env = Env::start().await;
    let path = env.group_path("rg");
    let none = env.call_as(None, Method::GET, &path, None).await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::UNAUTHORIZED, "AuthenticationFailed")
    );
    assert!(none.headers.contains_key("www-authenticate"));
    let wrong = env
        .call_as(Some("not-the-token"), Method::GET, &path, None)
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken")
    );
    let basic = env
        .http
        .get(format!("{}{path}", env.emu.url()))
        .header("authorization", format!("Basic {}", env.emu.token()))
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    // Writes without a valid token change nothing.
    let put = env
        .call_as(
            Some("nope"),
            Method::PUT,
            &path,
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        env.call(Method::GET, &path, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn managed_identity_token_endpoint() {
    let env = Env::start().await;
    let endpoint = format!(
        "{}?api-version=2019-08-01&resource=https://management.azure.com/",
        env.emu.identity_endpoint()
    );
    let denied = env.http.get(&endpoint).send().await.expect("send");
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    let wrong = env
        .http
        .get(&endpoint)
        .header("X-IDENTITY-HEADER", "wrong")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let bad_version = env
        .http
        .get(format!(
            "{}?api-version=2017-09-01&resource=x",
            env.emu.identity_endpoint()
        ))
        .header("X-IDENTITY-HEADER", env.emu.identity_header())
        .send()
        .await
        .expect("send");
    assert_eq!(bad_version.status(), StatusCode::BAD_REQUEST);

    let ok: Value = env
        .http
        .get(&endpoint)
        .header("X-IDENTITY-HEADER", env.emu.identity_header())
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let token = ok["access_token"].as_str().expect("access_token");
    assert_eq!(ok["token_type"], "Bearer");
    let expires: i64 = ok["expires_on"]
        .as_str()
        .expect("expires_on is a string")
        .parse()
        .expect("epoch seconds");
    assert!(expires > time::OffsetDateTime::now_utc().unix_timestamp());

    // JWT-shaped, with the tenant in `tid`.
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("three parts");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(claims["tid"], env.emu.tenant_id());
    assert_eq!(claims["aud"], "https://management.azure.com/");

    // The emulator accepts what it issued, and nothing forged from it.
    let r = env
        .call_as(
            Some(token),
            Method::GET,
            "/subscriptions?api-version=2022-12-01",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut forged = token.to_string();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let r = env
        .call_as(
            Some(&forged),
            Method::GET,
            "/subscriptions?api-version=2022-12-01",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A user-assigned identity's token, by client id; unknown client ids are refused.
    env.group("rg").await;
    let identity = env.identity("rg", "runner").await;
    let client_id = identity["properties"]["clientId"]
        .as_str()
        .expect("clientId");
    let mine: Value = env
        .http
        .get(format!("{endpoint}&client_id={client_id}"))
        .header("X-IDENTITY-HEADER", env.emu.identity_header())
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(mine["client_id"], client_id);
    let principal = identity["properties"]["principalId"]
        .as_str()
        .expect("principalId");
    let by_object: Value = env
        .http
        .get(format!("{endpoint}&object_id={principal}"))
        .header("X-IDENTITY-HEADER", env.emu.identity_header())
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(by_object["client_id"], client_id);
    let unknown = env
        .http
        .get(format!(
            "{endpoint}&client_id=00000000-0000-0000-0000-000000000000"
        ))
        .header("X-IDENTITY-HEADER", env.emu.identity_header())
        .send()
        .await
        .expect("send");
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
}

/// Each bad request gets ARM's status and code, and the store is exactly as before.
#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "keeper").await;
    let sub = env.sub.clone();
    let ok_body = || Some(json!({"location": "eastus"}));
    let many_tags: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("t{i}"), json!("v"))).collect();
    let id = |name: &str| env.identity_path("rg", name);
    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::PUT,
            id("ab"),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            Method::PUT,
            id(&"x".repeat(129)),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            Method::PUT,
            id("-leading"),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            Method::PUT,
            id("has.dot"),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "LocationRequired",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!({"location": ""})),
            StatusCode::BAD_REQUEST,
            "LocationRequired",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!({"location": 5})),
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!([1])),
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            id("good-name"),
            None,
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!({"location": "eastus", "tags": many_tags})),
            StatusCode::BAD_REQUEST,
            "InvalidTemplate",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!({"location": "eastus", "tags": {"k": "v".repeat(257)}})),
            StatusCode::BAD_REQUEST,
            "InvalidTagValueLength",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!({"location": "eastus", "tags": {"k".repeat(513): "v"}})),
            StatusCode::BAD_REQUEST,
            "InvalidTagNameLength",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!({"location": "eastus", "tags": {"k": 1}})),
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
        ),
        (
            Method::PUT,
            id("good-name"),
            Some(json!({"location": "eastus", "properties": {"isolationScope": "Galactic"}})),
            StatusCode::BAD_REQUEST,
            "InvalidIsolationScope",
        ),
        (
            Method::PATCH,
            id("keeper"),
            Some(json!({"tags": {"k": "v".repeat(257)}})),
            StatusCode::BAD_REQUEST,
            "InvalidTagValueLength",
        ),
        (
            Method::PATCH,
            id("keeper"),
            Some(json!({"location": "westus"})),
            StatusCode::BAD_REQUEST,
            "LocationUpdateNotAllowed",
        ),
        (
            Method::PUT,
            env.identity_path("nogroup", "good-name"),
            ok_body(),
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
        ),
        (
            Method::GET,
            env.identities_in("nogroup"),
            None,
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
        ),
        (
            Method::PUT,
            format!(
                "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/good-name"
            ),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
        ),
        (
            Method::PUT,
            env.identity_path_v("rg", "good-name", "2020-01-01"),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "NoRegisteredProviderFound",
        ),
        (
            Method::PUT,
            format!("/subscriptions/{sub}/resourcegroups/g2?api-version=1999-01-01"),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
        ),
        (
            Method::PUT,
            env.group_path("bad%20name"),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidResourceGroup",
        ),
        (
            Method::PUT,
            env.group_path("ends."),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidResourceGroup",
        ),
        (
            Method::PUT,
            env.group_path(&"r".repeat(91)),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidResourceGroup",
        ),
        (
            Method::PUT,
            env.group_path("g2"),
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "LocationRequired",
        ),
        (
            Method::PUT,
            env.group_path("rg"),
            Some(json!({"location": "westus"})),
            StatusCode::CONFLICT,
            "InvalidResourceGroupLocation",
        ),
        (
            Method::PUT,
            format!(
                "/subscriptions/00000000-0000-0000-0000-000000000099/resourcegroups/g2?api-version={RES}"
            ),
            ok_body(),
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
        ),
        (
            Method::PUT,
            format!("/subscriptions/not-a-uuid/resourcegroups/g2?api-version={RES}"),
            ok_body(),
            StatusCode::BAD_REQUEST,
            "InvalidSubscriptionId",
        ),
        (
            Method::POST,
            id("keeper"),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
        ),
        (
            Method::DELETE,
            env.identities_in("rg"),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
        ),
        (
            Method::GET,
            "/no/such/path".to_string(),
            None,
            StatusCode::NOT_FOUND,
            "NotFound",
        ),
        (
            Method::GET,
            format!("/subscriptions/{sub}/providers/Microsoft.Nope/things?api-version={MSI}"),
            None,
            StatusCode::BAD_REQUEST,
            "InvalidResourceNamespace",
        ),
        // Below a group any dotted namespace is a generic resource type; others are not.
        (
            Method::GET,
            format!(
                "/subscriptions/{sub}/resourceGroups/rg/providers/NoDots/things?api-version={MSI}"
            ),
            None,
            StatusCode::BAD_REQUEST,
            "InvalidResourceNamespace",
        ),
        (
            Method::GET,
            format!(
                "/subscriptions/{sub}/providers/Microsoft.ManagedIdentity/widgets?api-version={MSI}"
            ),
            None,
            StatusCode::BAD_REQUEST,
            "InvalidResourceType",
        ),
    ];
    let before = env.list_all(&env.identities_in_sub()).await.0;
    let groups_before = env
        .list_all(&format!(
            "/subscriptions/{sub}/resourcegroups?api-version={RES}"
        ))
        .await
        .0;
    for (method, path, body, status, code) in cases {
        let r = env.call(method.clone(), &path, body).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "{method} {path}: {:?}",
            r.body
        );
        assert!(
            !r.body["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{path}: a message"
        );
        assert!(r.headers.contains_key("x-ms-request-id"));
    }
    let malformed = env
        .call_raw(Method::PUT, &id("good-name"), "{\"location\": ")
        .await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (StatusCode::BAD_REQUEST, "InvalidRequestContent")
    );
    assert_eq!(
        env.list_all(&env.identities_in_sub()).await.0,
        before,
        "identities untouched"
    );
    assert_eq!(
        env.list_all(&format!(
            "/subscriptions/{sub}/resourcegroups?api-version={RES}"
        ))
        .await
        .0,
        groups_before
    );
}

#[tokio::test]
async fn group_delete_is_asynchronous_and_cascades() {
    let env = Env::with(EmulatorOptions {
        group_delete_delay: Duration::from_millis(400),
        ..EmulatorOptions::default()
    })
    .await;
    env.group("doomed").await;
    env.group("kept").await;
    for name in ["one", "two", "three"] {
        env.identity("doomed", name).await;
    }
    env.identity("kept", "survivor").await;

    let r = env
        .call(Method::DELETE, &env.group_path("doomed"), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let location = r.headers["location"].to_str().expect("ascii").to_string();
    assert!(r.headers.contains_key("retry-after"));

    let shown = env.call(Method::GET, &env.group_path("doomed"), None).await;
    assert_eq!(shown.body["properties"]["provisioningState"], "Deleting");
    let blocked = env
        .call(
            Method::PUT,
            &env.identity_path("doomed", "late"),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(
        (blocked.status, blocked.code()),
        (StatusCode::CONFLICT, "ResourceGroupBeingDeleted")
    );
    let again = env
        .call(Method::DELETE, &env.group_path("doomed"), None)
        .await;
    assert_eq!(
        again.headers["location"],
        location.as_str(),
        "a second DELETE joins the running operation"
    );

    let mut polls = 0;
    loop {
        let r = env.call(Method::GET, &location, None).await;
        polls += 1;
        match r.status {
            StatusCode::ACCEPTED => {
                let wait: u64 = r.headers["retry-after"]
                    .to_str()
                    .expect("ascii")
                    .parse()
                    .expect("seconds");
                tokio::time::sleep(Duration::from_millis(wait.min(1) * 100 + 50)).await;
            }
            StatusCode::OK => break,
            other => panic!("unexpected {other}"),
        }
        assert!(polls < 100, "the delete never finished");
    }
    assert!(polls > 1, "the operation ran for a while before finishing");
    assert_eq!(
        env.call(Method::HEAD, &env.group_path("doomed"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.all_identity_names().await,
        ["survivor"],
        "everything in the group went with it"
    );
    let missing = env
        .call(Method::DELETE, &env.group_path("doomed"), None)
        .await;
    assert_eq!(missing.code(), "ResourceGroupNotFound");
}

#[tokio::test]
async fn resource_group_operations() {
    let env = Env::start().await;
    assert_eq!(
        env.call(Method::HEAD, &env.group_path("rg"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let created = env
        .call(
            Method::PUT,
            &env.group_path("rg"),
            Some(json!({"location": "West Europe", "tags": {"a": "1"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["location"], "westeurope");
    assert_eq!(
        created.body["id"],
        format!("/subscriptions/{}/resourceGroups/rg", env.sub)
    );
    assert_eq!(
        env.call(Method::HEAD, &env.group_path("RG"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let patched = env
        .call(
            Method::PATCH,
            &env.group_path("rg"),
            Some(json!({"tags": {"b": "2"}})),
        )
        .await;
    assert_eq!(patched.body["tags"], json!({"b": "2"}));
    let untagged = env
        .call(
            Method::PUT,
            &env.group_path("plain"),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert!(
        untagged.body.get("tags").is_none(),
        "ARM omits tags on a group that has none"
    );
    let (groups, _) = env
        .list_all(&format!(
            "/subscriptions/{}/resourcegroups?api-version={RES}",
            env.sub
        ))
        .await;
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["plain", "rg"]);
}

#[tokio::test]
async fn subscriptions_metadata_and_headers() {
    let subs = vec![
        "11111111-1111-1111-1111-111111111111".to_string(),
        "22222222-2222-2222-2222-222222222222".to_string(),
    ];
    let env = Env::with(EmulatorOptions {
        subscriptions: subs.clone(),
        ..EmulatorOptions::default()
    })
    .await;
    let r = env
        .call(Method::GET, "/subscriptions?api-version=2022-12-01", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<&str> = r.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|s| s["subscriptionId"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, subs.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.body["value"][0]["tenantId"], env.emu.tenant_id());
    assert_eq!(r.body["value"][0]["state"], "Enabled");
    let one = env
        .call(
            Method::GET,
            &format!("/subscriptions/{}?api-version=2022-12-01", subs[1]),
            None,
        )
        .await;
    assert_eq!(one.body["id"], format!("/subscriptions/{}", subs[1]));
    let missing = env
        .call(
            Method::GET,
            "/subscriptions/33333333-3333-3333-3333-333333333333?api-version=2022-12-01",
            None,
        )
        .await;
    assert_eq!(missing.code(), "SubscriptionNotFound");

    // Cloud metadata needs no token, as in Azure.
    let meta = env
        .call_as(
            None,
            Method::GET,
            "/metadata/endpoints?api-version=2022-09-01",
            None,
        )
        .await;
    assert_eq!(meta.status, StatusCode::OK);
    // From 2022-09-01 Azure answers with the one cloud as an object; `az cloud register`
    // asks for exactly this version and reads `suffixes` and `authentication` off the top.
    assert!(meta.body.is_object(), "{}", meta.body);
    assert_eq!(meta.body["resourceManager"], format!("{}/", env.emu.url()));
    assert!(meta.body["suffixes"].is_object());
    assert_eq!(
        meta.body["authentication"]["audiences"][0],
        format!("{}/", env.emu.url())
    );
    // The versions in between answer with an array of clouds.
    let clouds = env
        .call_as(
            None,
            Method::GET,
            "/metadata/endpoints?api-version=2020-06-01",
            None,
        )
        .await;
    assert_eq!(
        clouds.body[0]["resourceManager"],
        format!("{}/", env.emu.url())
    );
    let legacy = env
        .call_as(
            None,
            Method::GET,
            "/metadata/endpoints?api-version=2015-01-01",
            None,
        )
        .await;
    assert!(legacy.body["authentication"]["loginEndpoint"].is_string());

    // Every response carries ARM's request ids; a client's correlation id is echoed.
    let r = env
        .http
        .get(format!(
            "{}/subscriptions?api-version=2022-12-01",
            env.emu.url()
        ))
        .bearer_auth(env.emu.token())
        .header("x-ms-correlation-request-id", "corr-123")
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["x-ms-correlation-request-id"], "corr-123");
    assert!(uuid::Uuid::try_parse(r.headers()["x-ms-request-id"].to_str().expect("ascii")).is_ok());
}

#[tokio::test]
async fn creates_carry_a_location_header_with_the_id() {
    let env = Env::start().await;
    env.group("rg").await;
    let path = env.identity_path("rg", "App-1");
    let created = env
        .call(Method::PUT, &path, Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = format!(
        "/subscriptions/{}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/App-1",
        env.sub
    );
    assert_eq!(created.body["id"], id.as_str());
    assert_eq!(
        created
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(id.as_str())
    );
    // A replace (200) is no create and carries none.
    let replaced = env
        .call(Method::PUT, &path, Some(json!({"location": "westeurope"})))
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert!(replaced.headers.get("location").is_none());

    let fic = path.replace('?', "/federatedIdentityCredentials/GhMain?");
    let body = json!({"properties": {
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:o/r:ref:refs/heads/main",
        "audiences": ["api://AzureADTokenExchange"]
    }});
    let created = env.call(Method::PUT, &fic, Some(body.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let fic_id = format!("{id}/federatedIdentityCredentials/GhMain");
    assert_eq!(
        created
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(fic_id.as_str())
    );
    let replaced = env.call(Method::PUT, &fic, Some(body)).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert!(replaced.headers.get("location").is_none());
}

/// A token the emulator's token endpoint issues to the identity with this client id.
async fn identity_token(env: &Env, client_id: &str) -> String {
    let reply: Value = env
        .http
        .get(format!(
            "{}?api-version=2019-08-01&resource=https://management.azure.com/&client_id={client_id}",
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

/// Whether ARM still accepts a token.
async fn accepted(env: &Env, token: &str) -> bool {
    let r = env
        .call_as(
            Some(token),
            Method::GET,
            "/subscriptions?api-version=2022-12-01",
            None,
        )
        .await;
    r.status != StatusCode::UNAUTHORIZED
}

#[tokio::test]
async fn revoke_tokens_answers_empty_and_refuses_the_identitys_earlier_tokens() {
    let env = Env::start().await;
    env.group("rg").await;
    let identity = env.identity("rg", "app-1").await;
    let client_id = identity["properties"]["clientId"].as_str().expect("id");
    let token = identity_token(&env, client_id).await;
    assert!(accepted(&env, &token).await);

    let revoke = |name: &str, version: &str| {
        env.identity_path_v("rg", name, version)
            .replace('?', "/revokeTokens?")
    };
    let stable = env
        .call(Method::POST, &revoke("app-1", "2024-11-30"), None)
        .await;
    assert_eq!(stable.status, StatusCode::BAD_REQUEST);
    assert_eq!(stable.code(), "NoRegisteredProviderFound");
    let missing = env
        .call(Method::POST, &revoke("nope", "2023-07-31-preview"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "ResourceNotFound");
    assert!(
        accepted(&env, &token).await,
        "a refused call revokes nothing"
    );

    let done = env
        .call(Method::POST, &revoke("app-1", "2023-07-31-preview"), None)
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body, Value::Null, "the body is empty");
    assert!(
        !accepted(&env, &token).await,
        "the earlier token is refused"
    );

    let ops = |version: &str| {
        format!("/providers/Microsoft.ManagedIdentity/operations?api-version={version}")
    };
    let action = "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action";
    for (version, listed) in [
        ("2023-01-31", false),
        ("2023-07-31-preview", true),
        ("2026-05-31", true),
    ] {
        let r = env.call(Method::GET, &ops(version), None).await;
        let names: Vec<&str> = r.body["value"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|o| o["name"].as_str())
            .collect();
        assert_eq!(names.contains(&action), listed, "{version}");
    }
}

#[tokio::test]
async fn identity_revoke_from_the_cli_and_rhai_honours_dry_run() {
    let env = Env::start().await;
    env.group("rg").await;
    let mut tokens = Vec::new();
    for name in ["app-1", "app-2"] {
        let identity = env.identity("rg", name).await;
        let client_id = identity["properties"]["clientId"].as_str().expect("id");
        tokens.push(identity_token(&env, client_id).await);
    }
    let id = format!(
        "/subscriptions/{}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-1",
        env.sub
    );

    let planned = Azid::at(
        &env,
        &["--dry-run", "identity", "revoke", "-g", "rg", "-n", "app-1"],
    )
    .run()
    .await
    .ok();
    assert!(
        planned.stdout.contains(&format!("~ update {id}")),
        "{planned:?}"
    );
    let planned = Azid::at(
        &env,
        &["identity", "revoke", "-g", "rg", "-n", "app-1", "--dry-run"],
    )
    .run()
    .await
    .ok();
    assert!(
        planned.stdout.contains("Nothing was changed"),
        "{planned:?}"
    );
    Azid::at(
        &env,
        &["identity", "revoke", "-g", "rg", "-n", "nope", "--dry-run"],
    )
    .run()
    .await
    .fails(3);
    let planned = Azid::at(
        &env,
        &[
            "eval",
            r#"identity_revoke_tokens("rg", "app-1")"#,
            "--dry-run",
        ],
    )
    .run()
    .await
    .ok();
    assert!(
        planned.stdout.contains(&format!("~ update {id}")),
        "{planned:?}"
    );
    assert!(
        accepted(&env, &tokens[0]).await,
        "a dry-run revokes nothing"
    );

    Azid::at(&env, &["identity", "revoke", "-g", "rg", "-n", "app-1"])
        .run()
        .await
        .ok();
    assert!(!accepted(&env, &tokens[0]).await);
    assert!(
        accepted(&env, &tokens[1]).await,
        "only that identity's tokens"
    );

    Azid::at(
        &env,
        &[
            "eval",
            r#"identity_revoke_tokens(identity_show("rg", "app-2"))"#,
        ],
    )
    .run()
    .await
    .ok();
    assert!(!accepted(&env, &tokens[1]).await);
}

#[tokio::test]
async fn unknown_locations_are_refused_from_the_served_list() {
    let env = Env::start().await;
    let listed = env
        .call(
            Method::GET,
            &format!(
                "/subscriptions/{}/locations?api-version=2022-12-01",
                env.sub
            ),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let names: Vec<&str> = listed.body["value"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert!(names.contains(&"eastus") && names.contains(&"westeurope"));
    assert!(!names.contains(&"mars"));
    assert_eq!(
        listed.body["value"][0]["id"],
        format!("/subscriptions/{}/locations/{}", env.sub, names[0])
    );

    let group = env
        .call(
            Method::PUT,
            &env.group_path("rg-mars"),
            Some(json!({"location": "mars"})),
        )
        .await;
    assert_eq!(group.status, StatusCode::BAD_REQUEST);
    assert_eq!(group.code(), "LocationNotAvailableForResourceGroup");
    let message = group.body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("'mars'") && message.contains("eastus"),
        "{message}"
    );
    assert_eq!(
        env.call(Method::GET, &env.group_path("rg-mars"), None)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "nothing was created"
    );

    // Every listed name is accepted, in any spelling ARM normalises.
    env.group("rg").await;
    let path = env.identity_path("rg", "app-1");
    let refused = env
        .call(Method::PUT, &path, Some(json!({"location": "mars"})))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.code(), "LocationNotAvailableForResourceType");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Microsoft.ManagedIdentity/userAssignedIdentities")
    );
    assert_eq!(
        env.call(Method::GET, &path, None).await.status,
        StatusCode::NOT_FOUND
    );
    for name in &names {
        let path = env.identity_path("rg", &format!("id-{name}"));
        let r = env
            .call(Method::PUT, &path, Some(json!({"location": name})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.body);
    }
    let spelled = env
        .call(
            Method::PUT,
            &env.identity_path("rg", "app-2"),
            Some(json!({"location": "West Europe"})),
        )
        .await;
    assert_eq!(spelled.status, StatusCode::CREATED);
}

/// Sends one raw HTTP/1.1 request (so the Host header and the request target can be forged)
/// and returns the status line and headers, names lower-cased.
async fn raw(env: &Env, request_line: &str, host: &str) -> (String, Vec<(String, String)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = env.emu.addr();
    let mut socket = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!(
        "{request_line}\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        env.emu.token()
    );
    socket.write_all(request.as_bytes()).await.expect("writes");
    let mut reply = Vec::new();
    socket.read_to_end(&mut reply).await.expect("reads");
    let text = String::from_utf8_lossy(&reply).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

#[tokio::test]
async fn links_use_the_emulators_own_address_not_the_requests_host() {
    let env = Env::with(EmulatorOptions {
        page_size: 1,
        ..crate::harness::quick()
    })
    .await;
    env.group("rg-a").await;
    env.group("rg-b").await;
    let groups = format!(
        "/subscriptions/{}/resourcegroups?api-version={RES}",
        env.sub
    );
    let own = format!("{}/", env.emu.url());

    // nextLink, read back through the client, under a forged Host.
    let listed = env
        .http
        .get(format!("{}{groups}", env.emu.url()))
        .bearer_auth(env.emu.token())
        .header("host", "evil.example")
        .send()
        .await
        .expect("send");
    let body: Value = listed.json().await.expect("json");
    let next = body["nextLink"].as_str().expect("a second page");
    assert!(next.starts_with(&own), "{next}");

    // The Location of an accepted group delete, and of one whose absolute request target
    // names another host too.
    for (target, host, group) in [
        ("", "evil.example:8443", "rg-a"),
        ("http://evil.example", "evil.example", "rg-b"),
    ] {
        let (status, headers) = raw(
            &env,
            &format!(
                "DELETE {target}/subscriptions/{}/resourcegroups/{group}?api-version={RES} HTTP/1.1",
                env.sub
            ),
            host,
        )
        .await;
        assert!(status.contains(" 202 "), "{status}");
        let location = headers
            .iter()
            .find(|(k, _)| k == "location")
            .map(|(_, v)| v.as_str())
            .expect("a Location");
        assert!(location.starts_with(&own), "{location}");
    }
}
