//! Management groups in the emulator: the start options, the Microsoft.Management routes
//! (replayed against the copied spec examples), role assignments at a group and their
//! inheritance by the subscriptions below it, and Resource Graph at management-group scope.

use std::path::PathBuf;

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Azid, Env, RES, Reply, Spawned, quick};

const S1: &str = "00000000-0000-0000-0000-0000000000b1";
const S2: &str = "00000000-0000-0000-0000-0000000000b2";
const S3: &str = "00000000-0000-0000-0000-0000000000b3";
const MG: &str = "2023-04-01";
const AUTH: &str = "2022-04-01";
const GRAPH: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

fn group(name: &str) -> String {
    format!("/providers/Microsoft.Management/managementGroups/{name}?api-version={MG}")
}

fn groups_path() -> String {
    format!("/providers/Microsoft.Management/managementGroups?api-version={MG}")
}

fn group_sub(name: &str, sub: &str) -> String {
    format!(
        "/providers/Microsoft.Management/managementGroups/{name}/subscriptions/{sub}?api-version={MG}"
    )
}

fn group_assignment(name: &str, id: &str) -> String {
    format!(
        "/providers/Microsoft.Management/managementGroups/{name}/providers/Microsoft.Authorization/roleAssignments/{id}?api-version={AUTH}"
    )
}

fn group_assignments(name: &str, filter: &str) -> String {
    format!(
        "/providers/Microsoft.Management/managementGroups/{name}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTH}{filter}"
    )
}

fn sub_assignments(sub: &str, filter: &str) -> String {
    format!(
        "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTH}{filter}"
    )
}

/// S1 in `team` (below `platform`), S2 in `platform`, S3 under the root.
fn tenant(extra: EmulatorOptions) -> EmulatorOptions {
    EmulatorOptions {
        subscriptions: vec![S1.into(), S2.into(), S3.into()],
        management_groups: vec![
            "platform".parse().unwrap(),
            "team:platform".parse().unwrap(),
        ],
        placements: vec![
            format!("{S1}@team").parse().unwrap(),
            format!("{S2}@platform").parse().unwrap(),
        ],
        ..extra
    }
}

async fn start() -> Env {
    Env::with(tenant(quick())).await
}

fn names(items: &Value) -> Vec<String> {
    let mut out: Vec<String> = items
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or("").to_string())
        .collect();
    out.sort();
    out
}

async fn put_group(env: &Env, name: &str, body: Value) -> Reply {
    env.call(Method::PUT, &group(name), Some(body)).await
}

fn parent(name: &str) -> Value {
    json!({"properties": {"details": {"parent": {"id": format!("/providers/Microsoft.Management/managementGroups/{name}")}}}})
}

/// Every item of a list, following `@nextLink` or `nextLink`.
async fn all(env: &Env, path: &str, link: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut next = Some(path.to_string());
    while let Some(url) = next {
        let r = env.call(Method::GET, &url, None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        pages += 1;
        items.extend(r.body["value"].as_array().expect("value").iter().cloned());
        next = r.body[link].as_str().map(str::to_string);
        assert!(pages < 100);
    }
    (items, pages)
}

fn example(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/arm-reference/management/2023-04-01/examples",
        &format!("{name}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("example is JSON")
}

/// Same keys at every level and the same JSON types (a link may be null on the last page);
/// arrays item by item against the example's item of the same `type`.
fn same_shape(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut ek: Vec<_> = e.keys().collect();
            let mut ak: Vec<_> = a.keys().collect();
            ek.sort();
            ak.sort();
            assert_eq!(ek, ak, "keys differ at {at}: {actual}");
            for (k, ev) in e {
                if k == "type" {
                    assert_eq!(ev, &a[k], "type differs at {at}");
                }
                same_shape(ev, &a[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(a.is_empty(), e.is_empty(), "array at {at}");
            for (i, item) in a.iter().enumerate() {
                let like = e
                    .iter()
                    .find(|x| {
                        x["type"] == item["type"]
                            && x.get("children").is_some() == item.get("children").is_some()
                    })
                    .unwrap_or_else(|| panic!("{at}[{i}]: no example item like {item}"));
                same_shape(like, item, &format!("{at}[{i}]"));
            }
        }
        (Value::Null, Value::Null | Value::String(_)) if at.ends_with("extLink") => {}
        (e, a) => assert_eq!(
            std::mem::discriminant(e),
            std::mem::discriminant(a),
            "type differs at {at}: {e} vs {a}"
        ),
    }
}

/// Bad options are usage errors (exit 2) naming the problem, before anything listens.
#[tokio::test]
async fn bad_options_are_usage_errors() {
    for (args, says) in [
        (vec!["--management-group", "a:nope"], "the parent 'nope'"),
        (
            vec!["--management-group", "a:b", "--management-group", "b:a"],
            "cycle",
        ),
        (
            vec!["--management-group", "a", "--management-group", "A"],
            "given twice",
        ),
        (
            vec![
                "--management-group",
                "a",
                "--subscription",
                &format!("{S1}@b"),
            ],
            "'b' is not a --management-group",
        ),
        (
            vec!["--management-group", "bad name"],
            "not a management group id",
        ),
        (
            vec!["--graph-subscription-limit", "0"],
            "number of subscriptions",
        ),
        (
            vec![
                "--caller",
                "t=reader@/providers/Microsoft.Management/managementGroups/nope",
            ],
            "'nope', which is not a --management-group",
        ),
    ] {
        let mut all = vec!["emulator", "--listen", ":0"];
        all.extend(args.iter().copied());
        let run = Azid::new(&all).run().await.fails(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(
            !run.stdout.contains("URL="),
            "{args:?} started: {}",
            run.stdout
        );
    }
}

/// `azid emulator --management-group ... --subscription ID@GROUP` builds the tree the API shows.
#[test]
fn the_flags_build_the_tree() {
    let emu = Spawned::start(&[
        "--listen",
        ":0",
        "--token",
        "t",
        "--management-group",
        "platform",
        "--management-group",
        "team:platform",
        "--subscription",
        &format!("{S1}@team"),
        "--subscription",
        S2,
    ]);
    let http = reqwest::blocking::Client::new();
    let get = |path: &str| -> Value {
        http.get(format!("{}{path}", emu.get("URL")))
            .bearer_auth("t")
            .send()
            .expect("send")
            .json()
            .expect("json")
    };
    let tenant = emu.get("TENANT").to_string();
    let team = get(&format!("{}&$expand=path,ancestors", group("team")));
    assert_eq!(team["properties"]["details"]["parent"]["name"], "platform");
    let chain: Vec<&str> = team["properties"]["details"]["managementGroupAncestorsChain"]
        .as_array()
        .expect("chain")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(chain, ["platform", tenant.as_str()]);
    let path: Vec<&str> = team["properties"]["details"]["path"]
        .as_array()
        .expect("path")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(path, [tenant.as_str(), "platform", "team"], "root first");
    let subs = get(&format!(
        "/providers/Microsoft.Management/managementGroups/team/subscriptions?api-version={MG}"
    ));
    assert_eq!(names(&subs["value"]), [S1]);
    let root = get(&format!("{}&$expand=children", group(&tenant)));
    let children: Vec<(&str, &str)> = root["properties"]["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        children,
        [
            ("Microsoft.Management/managementGroups", "platform"),
            ("/subscriptions", S2)
        ]
    );
}

/// The copied spec examples, replayed: each route answers with the example's keys and types.
#[tokio::test]
async fn conformance_with_the_spec_examples() {
    let env = Env::with(EmulatorOptions {
        page_size: 1,
        ..tenant(quick())
    })
    .await;
    // The tree of GetManagementGroupWithExpandAndRecurse, below the emulator's root.
    for (name, under) in [
        ("RootGroup", None),
        ("Child", Some("RootGroup")),
        ("Leaf", Some("Child")),
        ("AnotherChild", Some("RootGroup")),
    ] {
        let body = under.map_or_else(|| json!({}), parent);
        let r = put_group(&env, name, body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    }
    let r = env.call(Method::PUT, &group_sub("Leaf", S3), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let list = example("ListManagementGroups");
    let expected = &list["responses"]["200"]["body"];
    let (items, pages) = all(&env, &groups_path(), "@nextLink").await;
    assert!(pages > 1, "one group a page");
    let first = env.call(Method::GET, &groups_path(), None).await;
    same_shape(expected, &first.body, "ListManagementGroups");
    for item in &items {
        same_shape(&expected["value"][0], item, "ListManagementGroups item");
    }

    let get = example("GetManagementGroup");
    let r = env.call(Method::GET, &group("Child"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    same_shape(
        &get["responses"]["200"]["body"],
        &r.body,
        "GetManagementGroup",
    );

    let recurse = example("GetManagementGroupWithExpandAndRecurse");
    let r = env
        .call(
            Method::GET,
            &format!("{}&$expand=children&$recurse=true", group("RootGroup")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let want = &recurse["responses"]["200"]["body"];
    same_shape(want, &r.body, "GetManagementGroupWithExpandAndRecurse");
    // The same tree, name for name.
    let tree = |v: &Value| -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![(v["properties"]["children"].clone(), 0)];
        while let Some((children, depth)) = stack.pop() {
            for c in children.as_array().into_iter().flatten() {
                out.push(format!("{depth}:{}:{}", c["type"], c["name"]));
                stack.push((c["children"].clone(), depth + 1));
            }
        }
        out.sort();
        out
    };
    let mut want_tree = tree(want);
    for name in &mut want_tree {
        *name = name.replace("728bcbe4-8d56-4510-86c2-4921b8beefbc", S3);
    }
    assert_eq!(tree(&r.body), want_tree);

    let descendants = example("GetDescendants");
    let path = format!(
        "/providers/Microsoft.Management/managementGroups/Child/descendants?api-version={MG}"
    );
    let r = env.call(Method::GET, &path, None).await;
    same_shape(
        &descendants["responses"]["200"]["body"],
        &r.body,
        "GetDescendants",
    );
    let (items, _) = all(&env, &path, "nextLink").await;
    let found: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i["type"].as_str().unwrap(), i["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "Microsoft.Management/managementGroups",
                "/providers/Microsoft.Management/managementGroups/Leaf"
            ),
            (
                "Microsoft.Management/managementGroups/subscriptions",
                &*format!("/subscriptions/{S3}")
            ),
        ]
    );

    let subs = example("GetAllSubscriptionsFromManagementGroup");
    let r = env
        .call(
            Method::GET,
            &format!("/providers/Microsoft.Management/managementGroups/Leaf/subscriptions?api-version={MG}"),
            None,
        )
        .await;
    same_shape(
        &subs["responses"]["200"]["body"],
        &r.body,
        "GetAllSubscriptionsFromManagementGroup",
    );
    assert_eq!(
        r.body["value"][0]["properties"]["tenant"],
        env.emu.tenant_id()
    );
}

/// PUT answers 202 with a Location that polls to the group; PATCH renames and moves; DELETE
/// is refused while the group has children, answers 202 with an Azure-AsyncOperation that
/// polls to Succeeded, then 204; the root cannot be deleted.
#[tokio::test]
async fn create_update_and_delete_as_the_spec_says() {
    let env = start().await;
    let r = put_group(
        &env,
        "apps",
        json!({"properties": {"displayName": "Applications", "details": {"parent": {"id": "/providers/Microsoft.Management/managementGroups/platform"}}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["status"], "Running");
    let location = r.headers["location"].to_str().unwrap().to_string();
    let poll = env.call(Method::GET, &location, None).await;
    assert_eq!(poll.status, StatusCode::OK, "{:?}", poll.body);
    assert_eq!(poll.body["properties"]["displayName"], "Applications");
    assert_eq!(
        poll.body["properties"]["details"]["parent"]["name"],
        "platform"
    );

    // A parent that does not exist, or a move below itself, changes nothing.
    let r = put_group(&env, "apps", parent("nowhere")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = env
        .call(
            Method::PATCH,
            &group("platform"),
            Some(json!({"parentGroupId": "/providers/Microsoft.Management/managementGroups/team"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = env.call(Method::GET, &group("platform"), None).await;
    assert_eq!(
        r.body["properties"]["details"]["parent"]["name"],
        env.emu.tenant_id()
    );

    let r = env
        .call(Method::PATCH, &group("apps"), Some(json!({"displayName": "Apps", "parentGroupId": "/providers/Microsoft.Management/managementGroups/team"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["properties"]["displayName"], "Apps");
    assert_eq!(r.body["properties"]["details"]["parent"]["name"], "team");
    assert_eq!(r.body["properties"]["details"]["version"], 2);

    // `team` holds `apps` and S1: refused, and still there.
    let r = env.call(Method::DELETE, &group("team"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("has children")
    );
    assert_eq!(
        env.call(Method::GET, &group("team"), None).await.status,
        StatusCode::OK
    );

    // An assignment at `apps` goes with it.
    let who = principal(&env, S1).await;
    let at_apps = uuid::Uuid::new_v4().to_string();
    let r = env
        .call(
            Method::PUT,
            &group_assignment("apps", &at_apps),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}"),
                "principalId": who,
            }})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        listed(&env, group_assignments("team", "")).await,
        [at_apps.as_str()],
        "apps is below team"
    );
    let r = env.call(Method::DELETE, &group("apps"), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let op = r.headers["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    let poll = env.call(Method::GET, &op, None).await;
    assert_eq!(poll.status, StatusCode::OK);
    assert_eq!(poll.body["status"], "Succeeded");
    assert_eq!(
        env.call(Method::GET, &group("apps"), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.call(Method::DELETE, &group("apps"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(listed(&env, group_assignments("team", "")).await.is_empty());
    let r = put_group(&env, "apps", parent("team")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(
        listed(&env, group_assignments("apps", "&$filter=atScope()"))
            .await
            .is_empty(),
        "a new group of the same name starts without assignments"
    );
    let r = env
        .call(Method::DELETE, &group(env.emu.tenant_id()), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);

    // $recurse without $expand=children, and unknown expansions, are refused.
    for query in [
        "&$recurse=true",
        "&$expand=everything",
        "&$filter=name eq 'x'",
    ] {
        let r = env
            .call(Method::GET, &format!("{}{query}", group("platform")), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {:?}", r.body);
    }
    let r = env
        .call(
            Method::GET,
            &format!(
                "{}&$expand=children&$filter=children.childType ne Subscription",
                group("platform")
            ),
            None,
        )
        .await;
    assert_eq!(names(&r.body["properties"]["children"]), ["team"]);
}

/// A subscription moves into a group with PUT and back under the root with DELETE.
#[tokio::test]
async fn subscriptions_move_between_groups() {
    let env = start().await;
    let list = |g: &str| {
        format!(
            "/providers/Microsoft.Management/managementGroups/{g}/subscriptions?api-version={MG}"
        )
    };
    let r = env.call(Method::PUT, &group_sub("team", S3), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["id"],
        format!("/providers/Microsoft.Management/managementGroups/team/subscriptions/{S3}")
    );
    assert_eq!(
        names(&env.call(Method::GET, &list("team"), None).await.body["value"]),
        [S1, S3]
    );
    assert_eq!(
        env.call(Method::GET, &group_sub("team", S3), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        env.call(Method::GET, &group_sub("platform", S3), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = env.call(Method::DELETE, &group_sub("team", S3), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        names(&env.call(Method::GET, &list("team"), None).await.body["value"]),
        [S1]
    );
    let root = env.emu.tenant_id().to_string();
    assert_eq!(
        names(&env.call(Method::GET, &list(&root), None).await.body["value"]),
        [S3]
    );
    assert_eq!(
        env.call(Method::DELETE, &group_sub("team", S3), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let unknown = "00000000-0000-0000-0000-0000000000ff";
    assert_eq!(
        env.call(Method::PUT, &group_sub("team", unknown), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The names a list answers (sorted), checking that it answers 200.
async fn listed(env: &Env, path: String) -> Vec<String> {
    let r = env.call(Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    names(&r.body["value"])
}

async fn principal(env: &Env, sub: &str) -> String {
    let path = format!(
        "/subscriptions/{sub}/resourcegroups/rg-{}?api-version={RES}",
        &sub[30..]
    );
    let r = env
        .call(Method::PUT, &path, Some(json!({"location": "eastus"})))
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let r = env
        .call(
            Method::PUT,
            &format!(
                "/subscriptions/{sub}/resourceGroups/rg-{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app?api-version=2024-11-30",
                &sub[30..]
            ),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    r.body["properties"]["principalId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Role assignments at a group: PUT, GET, DELETE and lists at the group; a list at a
/// subscription below the group includes them (with atScope() too), one outside does not.
#[tokio::test]
async fn role_assignments_at_a_group_are_listed_below_it() {
    let env = start().await;
    let who = principal(&env, S1).await;
    let id = uuid::Uuid::new_v4().to_string();
    let body = json!({"properties": {
        "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}"),
        "principalId": who,
    }});
    let r = env
        .call(
            Method::PUT,
            &group_assignment("platform", &id),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let scope = "/providers/Microsoft.Management/managementGroups/platform";
    assert_eq!(r.body["properties"]["scope"], scope);
    assert_eq!(
        r.body["id"],
        format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{id}")
    );
    let r = env
        .call(
            Method::PUT,
            &group_assignment("platform", &uuid::Uuid::new_v4().to_string()),
            Some(body),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "one principal+role+scope once"
    );
    assert_eq!(
        env.call(Method::GET, &group_assignment("platform", &id), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        env.call(Method::GET, &group_assignment("nowhere", &id), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // One at S1 itself, below the group.
    let below = uuid::Uuid::new_v4().to_string();
    let r = env
        .call(
            Method::PUT,
            &format!("/subscriptions/{S1}/providers/Microsoft.Authorization/roleAssignments/{below}?api-version={AUTH}"),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{S1}/providers/Microsoft.Authorization/roleDefinitions/{READER}"),
                "principalId": who,
            }})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    let mut both = vec![id.clone(), below.clone()];
    both.sort();
    assert_eq!(
        listed(&env, sub_assignments(S1, "")).await,
        both,
        "inherited from the group"
    );
    assert_eq!(
        listed(&env, sub_assignments(S1, "&$filter=atScope()")).await,
        both
    );
    assert_eq!(
        listed(&env, sub_assignments(S2, "")).await,
        [id.as_str()],
        "S2 is in platform too"
    );
    assert!(
        listed(&env, sub_assignments(S3, "")).await.is_empty(),
        "S3 is outside"
    );
    assert_eq!(
        listed(
            &env,
            sub_assignments(S1, &format!("&$filter=principalId eq '{who}'"))
        )
        .await,
        both
    );
    assert_eq!(
        listed(&env, group_assignments("platform", "")).await,
        both,
        "below the group"
    );
    assert_eq!(
        listed(&env, group_assignments("platform", "&$filter=atScope()")).await,
        [id.as_str()]
    );
    assert_eq!(
        listed(&env, group_assignments("team", "&$filter=atScope()")).await,
        [id.as_str()],
        "from above"
    );

    let r = env
        .call(Method::DELETE, &group_assignment("platform", &id), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(listed(&env, sub_assignments(S1, "")).await, [below]);
    assert_eq!(
        env.call(Method::DELETE, &group_assignment("platform", &id), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

/// A role at a group reaches every subscription below it and no other: Reader at `platform`
/// reads S1 (in `team`, below) and S2 but not S3, and writes nowhere; Contributor at `team`
/// writes in S1 only.
#[tokio::test]
async fn roles_at_a_group_reach_the_subscriptions_below() {
    let env = Env::with(tenant(EmulatorOptions {
        callers: vec![
            "reader=reader@/providers/Microsoft.Management/managementGroups/platform"
                .parse()
                .unwrap(),
            "writer=contributor@/providers/Microsoft.Management/managementGroups/team"
                .parse()
                .unwrap(),
        ],
        ..quick()
    }))
    .await;
    let rg = |sub: &str| format!("/subscriptions/{sub}/resourcegroups/rg?api-version={RES}");
    let groups = |sub: &str| format!("/subscriptions/{sub}/resourcegroups?api-version={RES}");
    for sub in [S1, S2, S3] {
        let r = env
            .call(Method::PUT, &rg(sub), Some(json!({"location": "eastus"})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let as_ = |token: &'static str, method: Method, path: String, body: Option<Value>| {
        let env = &env;
        async move { env.call_as(Some(token), method, &path, body).await }
    };
    for (sub, want) in [
        (S1, StatusCode::OK),
        (S2, StatusCode::OK),
        (S3, StatusCode::FORBIDDEN),
    ] {
        let r = as_("reader", Method::GET, rg(sub), None).await;
        assert_eq!(r.status, want, "reader GET {sub}: {:?}", r.body);
        let r = as_("reader", Method::GET, groups(sub), None).await;
        assert_eq!(r.status, want, "reader list {sub}");
    }
    let r = as_(
        "reader",
        Method::PUT,
        rg(S1),
        Some(json!({"location": "eastus"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "Reader cannot write");
    let r = as_(
        "reader",
        Method::GET,
        "/subscriptions?api-version=2022-12-01".to_string(),
        None,
    )
    .await;
    let mut seen: Vec<&str> = r.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|s| s["subscriptionId"].as_str())
        .collect();
    seen.sort();
    assert_eq!(seen, [S1, S2]);

    for (sub, want) in [
        (S1, StatusCode::OK),
        (S2, StatusCode::FORBIDDEN),
        (S3, StatusCode::FORBIDDEN),
    ] {
        let r = as_(
            "writer",
            Method::PUT,
            rg(sub),
            Some(json!({"location": "eastus", "tags": {"k": "v"}})),
        )
        .await;
        assert_eq!(r.status, want, "writer PUT {sub}: {:?}", r.body);
    }
    let r = env.call(Method::GET, &rg(S1), None).await;
    assert_eq!(r.body["tags"]["k"], "v", "the write landed");
    let r = env.call(Method::GET, &rg(S2), None).await;
    assert!(
        r.body["tags"].get("k").is_none(),
        "the refused write changed nothing"
    );

    // At the groups themselves: the reader reads `platform` and `team`, not the root's other
    // groups; it cannot create a group; the writer cannot write at `platform`.
    assert_eq!(
        as_("reader", Method::GET, group("team"), None).await.status,
        StatusCode::OK
    );
    let root = env.emu.tenant_id().to_string();
    assert_eq!(
        as_("reader", Method::GET, group(&root), None).await.status,
        StatusCode::FORBIDDEN
    );
    let r = as_("reader", Method::GET, groups_path(), None).await;
    assert_eq!(names(&r.body["value"]), ["platform", "team"]);
    let r = as_("reader", Method::PUT, group("x"), Some(parent("platform"))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = as_("writer", Method::PUT, group_sub("platform", S3), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = env
        .call(Method::GET, &group_sub("platform", S3), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "S3 did not move");

    // Role assignments at a group: the reader lists them, but only an Owner writes them.
    let r = as_(
        "reader",
        Method::GET,
        group_assignments("platform", ""),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let who = principal(&env, S1).await;
    let body = json!({"properties": {
        "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}"),
        "principalId": who,
    }});
    let id = uuid::Uuid::new_v4().to_string();
    for token in ["reader", "writer"] {
        let r = as_(
            token,
            Method::PUT,
            group_assignment("team", &id),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token}: {:?}", r.body);
        assert_eq!(r.code(), "AuthorizationFailed");
    }
    let r = env
        .call(Method::GET, &group_assignment("team", &id), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "nothing was assigned");

    // Moving S3 under `team` gives the writer its role there.
    let r = env.call(Method::PUT, &group_sub("team", S3), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = as_(
        "writer",
        Method::PUT,
        rg(S3),
        Some(json!({"location": "eastus"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn graph(env: &Env, token: &str, body: Value) -> Reply {
    env.call_as(Some(token), Method::POST, GRAPH, Some(body))
        .await
}

/// Resource Graph: management groups and the real ancestor chains in `resourcecontainers`,
/// assignments at groups in `authorizationresources`, and `managementGroups` as the scope.
#[tokio::test]
async fn resource_graph_sees_the_groups() {
    let env = start().await;
    let token = env.emu.token().to_string();
    for sub in [S1, S2, S3] {
        principal(&env, sub).await;
    }
    let who = principal(&env, S1).await;
    let id = uuid::Uuid::new_v4().to_string();
    let r = env
        .call(
            Method::PUT,
            &group_assignment("team", &id),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}"),
                "principalId": who,
            }})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let r = graph(&env, &token, json!({"query": "resourcecontainers | where type == 'microsoft.management/managementgroups' | project name, properties | order by name asc"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let tenant = env.emu.tenant_id().to_string();
    let mut want = vec![tenant.clone(), "platform".into(), "team".into()];
    want.sort();
    assert_eq!(names(&r.body["data"]), want);
    let team = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "team")
        .unwrap();
    assert_eq!(
        team["properties"]["details"]["managementGroupAncestorsChain"],
        json!([{"name": "platform", "displayName": "platform"}, {"name": tenant, "displayName": "Tenant Root Group"}])
    );

    let r = graph(&env, &token, json!({"query": format!("resourcecontainers | where type == 'microsoft.resources/subscriptions' and subscriptionId == '{S1}' | project properties")})).await;
    let chain: Vec<&str> = r.body["data"][0]["properties"]["managementGroupAncestorsChain"]
        .as_array()
        .expect("chain")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(
        chain,
        ["team", "platform", tenant.as_str()],
        "nearest first"
    );

    let r = graph(&env, &token, json!({"query": "authorizationresources | where type == 'microsoft.authorization/roleassignments' | project name, properties"})).await;
    let row = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == id.as_str())
        .unwrap_or_else(|| panic!("the group's assignment: {:?}", r.body));
    assert_eq!(
        row["properties"]["scope"],
        "/providers/Microsoft.Management/managementGroups/team"
    );

    // managementGroups scopes the query to the subscriptions below the groups.
    let q = "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project subscriptionId";
    let subs_of = |r: &Reply| {
        let mut s: Vec<String> = r.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|x| x["subscriptionId"].as_str().unwrap().to_string())
            .collect();
        s.sort();
        s.dedup();
        s
    };
    let r = graph(
        &env,
        &token,
        json!({"query": q, "managementGroups": ["platform"]}),
    )
    .await;
    assert_eq!(subs_of(&r), [S1, S2]);
    let r = graph(
        &env,
        &token,
        json!({"query": q, "managementGroups": ["team"]}),
    )
    .await;
    assert_eq!(subs_of(&r), [S1]);
    let r = graph(&env, &token, json!({"query": "resourcecontainers | where type == 'microsoft.management/managementgroups' | project name", "managementGroups": ["platform"]})).await;
    assert_eq!(names(&r.body["data"]), ["platform", "team"]);
    let r = graph(
        &env,
        &token,
        json!({"query": q, "managementGroups": ["nowhere"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = graph(&env, &token, json!({"query": q})).await;
    assert_eq!(subs_of(&r), [S1, S2, S3], "tenant scope");

    // An assignment at a group above a listed subscription shows only when the filter looks up.
    let at_group = |r: &Reply| {
        r.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|a| a["name"] == id.as_str())
    };
    let assignments = "authorizationresources | where type == 'microsoft.authorization/roleassignments' | project name";
    let r = graph(
        &env,
        &token,
        json!({"query": assignments, "subscriptions": [S1]}),
    )
    .await;
    assert!(!at_group(&r), "{:?}", r.body);
    for filter in ["AtScopeAndAbove", "AtScopeAboveAndBelow"] {
        let r = graph(&env, &token, json!({"query": assignments, "subscriptions": [S1], "options": {"authorizationScopeFilter": filter}})).await;
        assert!(at_group(&r), "{filter}: {:?}", r.body);
    }
    let r = graph(&env, &token, json!({"query": assignments, "subscriptions": [S3], "options": {"authorizationScopeFilter": "AtScopeAndAbove"}})).await;
    assert!(!at_group(&r), "S3 is not below team");
}

/// A caller whose only role is at a group sees, at tenant scope, the subscriptions below it
/// and the groups it may read.
#[tokio::test]
async fn resource_graph_shows_a_group_role_what_is_below() {
    let env = Env::with(tenant(EmulatorOptions {
        callers: vec![
            "reader=reader@/providers/Microsoft.Management/managementGroups/team"
                .parse()
                .unwrap(),
        ],
        ..quick()
    }))
    .await;
    for sub in [S1, S2, S3] {
        principal(&env, sub).await;
    }
    let q = "resources | project subscriptionId";
    let r = graph(&env, "reader", json!({"query": q})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let subs: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["subscriptionId"].as_str())
        .collect();
    assert_eq!(subs, [S1]);
    let r = graph(&env, "reader", json!({"query": "resourcecontainers | where type == 'microsoft.management/managementgroups' | project name"})).await;
    assert_eq!(names(&r.body["data"]), ["team"]);
    let r = graph(&env, "reader", json!({"query": q, "subscriptions": [S2]})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Past the subscription limit, a tenant or management-group query fails unless
/// allowPartialScopes asks for the first subscriptions, which the response header then says.
#[tokio::test]
async fn the_subscription_limit_at_tenant_and_group_scope() {
    let env = Env::with(tenant(EmulatorOptions {
        graph_subscription_limit: 1,
        ..quick()
    }))
    .await;
    let token = env.emu.token().to_string();
    for sub in [S1, S2, S3] {
        principal(&env, sub).await;
    }
    let q = "resources | project subscriptionId";
    for scope in [json!({}), json!({"managementGroups": ["platform"]})] {
        let mut body = scope.clone();
        body["query"] = json!(q);
        let r = graph(&env, &token, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{scope}: {:?}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("allowPartialScopes")
        );
        body["options"] = json!({"allowPartialScopes": true});
        let r = graph(&env, &token, body).await;
        assert_eq!(r.status, StatusCode::OK, "{scope}: {:?}", r.body);
        assert_eq!(r.headers["x-ms-tenant-subscription-limit-hit"], "true");
        let subs: Vec<&str> = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["subscriptionId"].as_str())
            .collect();
        assert_eq!(subs, [S1], "the first subscription by id");
    }
    // Within the limit: no header.
    let r = graph(
        &env,
        &token,
        json!({"query": q, "managementGroups": ["team"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers
            .get("x-ms-tenant-subscription-limit-hit")
            .is_none()
    );
    // More than 1,000 listed subscriptions is refused whatever the options.
    let many: Vec<String> = (0..1001)
        .map(|i| format!("00000000-0000-0000-0000-{i:012}"))
        .collect();
    let r = graph(
        &env,
        &token,
        json!({"query": q, "subscriptions": many, "options": {"allowPartialScopes": true}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// Groups made through the API, and where subscriptions were moved, outlive a restart on the
/// same data file.
#[tokio::test]
async fn the_tree_is_kept_in_the_data_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("emulator.db");
    let options = || EmulatorOptions {
        data: Some(data.clone()),
        subscriptions: vec![S1.into(), S2.into()],
        ..quick()
    };
    let tenant_id = {
        let env = Env::with(options()).await;
        let r = put_group(&env, "kept", json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let r = env.call(Method::PUT, &group_sub("kept", S2), None).await;
        assert_eq!(r.status, StatusCode::OK);
        env.emu.tenant_id().to_string()
    };
    let env = Env::with(options()).await;
    assert_eq!(env.emu.tenant_id(), tenant_id);
    let r = env
        .call(
            Method::GET,
            &format!("{}&$expand=children", group("kept")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(names(&r.body["properties"]["children"]), [S2]);
}
