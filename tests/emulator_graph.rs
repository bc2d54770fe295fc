//! Resource Graph in the emulator: `POST /providers/Microsoft.ResourceGraph/resources` over
//! real HTTP. Every expected result is computed in the test from ARM list calls to the same
//! emulator, never taken from the graph itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use azid::emulator::EmulatorOptions;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Env, MSI, RES, Reply, quick};

const S1: &str = "00000000-0000-0000-0000-0000000000a1";
const S2: &str = "00000000-0000-0000-0000-0000000000a2";
const GRAPH: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01";
const UAI: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

fn group_path(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{rg}?api-version={RES}")
}

fn identity_path(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{UAI}/{name}?api-version={MSI}")
}

fn identity_id(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{UAI}/{name}")
}

async fn put(env: &Env, path: &str, body: Value) -> Value {
    let r = env.call(Method::PUT, path, Some(body)).await;
    assert!(r.status.is_success(), "{path}: {:?}", r.body);
    r.body
}

/// Two subscriptions with groups, identities (some tagged), resources that use identities
/// across subscriptions, and role assignments at subscription and group scope.
async fn seeded(options: EmulatorOptions) -> Env {
    let env = Env::with(EmulatorOptions {
        subscriptions: vec![S1.into(), S2.into()],
        graph_quota: "10000/1".parse().expect("quota"),
        ..options
    })
    .await;
    for (sub, rg) in [(S1, "Alpha"), (S1, "beta"), (S2, "Gamma")] {
        put(
            &env,
            &group_path(sub, rg),
            json!({"location": "eastus", "tags": {"team": rg}}),
        )
        .await;
    }
    let a1 = put(
        &env,
        &identity_path(S1, "Alpha", "id-a1"),
        json!({"location": "eastus", "tags": {"owner": "ann", "env": "prod"}}),
    )
    .await;
    put(
        &env,
        &identity_path(S1, "Alpha", "id-a2"),
        json!({"location": "westus"}),
    )
    .await;
    put(
        &env,
        &identity_path(S1, "beta", "id-b1"),
        json!({"location": "eastus"}),
    )
    .await;
    for name in ["test-1", "test-2", "test-3", "test-4"] {
        put(
            &env,
            &identity_path(S1, "beta", name),
            json!({"location": "westus"}),
        )
        .await;
    }
    let g1 = put(
        &env,
        &identity_path(S2, "Gamma", "ID-G1"),
        json!({"location": "eastus", "tags": {"owner": "bob"}}),
    )
    .await;
    let uses = |ids: &[String]| {
        let map: serde_json::Map<String, Value> =
            ids.iter().map(|id| (id.clone(), json!({}))).collect();
        json!({"location": "eastus", "properties": {"size": "B1"},
               "identity": {"type": "UserAssigned", "userAssignedIdentities": map}})
    };
    put(
        &env,
        &format!("/subscriptions/{S2}/resourceGroups/Gamma/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-03-01"),
        uses(&[identity_id(S1, "Alpha", "id-a1"), identity_id(S2, "Gamma", "ID-G1")]),
    )
    .await;
    put(
        &env,
        &format!("/subscriptions/{S1}/resourceGroups/beta/providers/Microsoft.Web/sites/site1?api-version=2024-03-01"),
        uses(&[identity_id(S1, "beta", "id-b1")]),
    )
    .await;
    put(
        &env,
        &format!("/subscriptions/{S1}/resourceGroups/beta/providers/Microsoft.Storage/storageAccounts/store1?api-version=2024-03-01"),
        json!({"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}),
    )
    .await;
    let assign = |scope: String, principal: &Value, role: &str| {
        let body = json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{S1}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal["properties"]["principalId"],
        }});
        (
            format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
                uuid::Uuid::new_v4()
            ),
            body,
        )
    };
    for (path, body) in [
        assign(format!("/subscriptions/{S2}"), &a1, READER),
        assign(
            format!("/subscriptions/{S1}/resourceGroups/Alpha"),
            &g1,
            CONTRIBUTOR,
        ),
        assign(format!("/subscriptions/{S1}"), &g1, READER),
    ] {
        put(&env, &path, body).await;
    }
    env
}

async fn graph_as(env: &Env, token: &str, body: Value) -> Reply {
    env.call_as(Some(token), Method::POST, GRAPH, Some(body))
        .await
}

async fn graph(env: &Env, body: Value) -> Reply {
    graph_as(env, env.emu.token(), body).await
}

/// Every row of a tenant-scoped query (one page of up to 1,000).
async fn rows(env: &Env, query: &str) -> Vec<Value> {
    let r = graph(env, json!({"query": query, "options": {"$top": 1000}})).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
    assert_eq!(r.body["resultTruncated"], "false", "{query}");
    r.body["data"].as_array().expect("data").clone()
}

fn strings(rows: &[Value], column: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[column].as_str().unwrap_or("").to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// What ARM's own lists say, read once.
struct Arm {
    identities: Vec<Value>,
    resources: Vec<Value>,
    groups: Vec<(String, Value)>,
    assignments: Vec<Value>,
}

async fn arm(env: &Env) -> Arm {
    let mut out = Arm {
        identities: Vec::new(),
        resources: Vec::new(),
        groups: Vec::new(),
        assignments: Vec::new(),
    };
    for sub in [S1, S2] {
        let (ids, _) = env
            .list_all(&format!(
                "/subscriptions/{sub}/providers/{UAI}?api-version={MSI}"
            ))
            .await;
        out.identities.extend(ids);
        let (res, _) = env
            .list_all(&format!(
                "/subscriptions/{sub}/resources?api-version=2021-04-01"
            ))
            .await;
        out.resources.extend(res);
        let (groups, _) = env
            .list_all(&format!(
                "/subscriptions/{sub}/resourcegroups?api-version={RES}"
            ))
            .await;
        out.groups
            .extend(groups.into_iter().map(|g| (sub.to_string(), g)));
        let (assignments, _) = env
            .list_all(&format!(
                "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
            ))
            .await;
        out.assignments.extend(assignments);
    }
    out
}

fn arm_names(items: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<String> {
    sorted(
        items
            .iter()
            .filter(|i| keep(i))
            .map(|i| i["name"].as_str().unwrap_or("").to_string())
            .collect(),
    )
}

/// The three tables hold what ARM lists, with ARG's casing.
#[tokio::test]
async fn tables_hold_what_arm_lists() {
    let env = seeded(quick()).await;
    let arm = arm(&env).await;

    let ids = rows(&env, "resources | where type == 'microsoft.managedidentity/userassignedidentities' | project id, name, resourceGroup, subscriptionId, p = properties.principalId, c = properties.clientId, tags, identity").await;
    let expect: BTreeSet<(String, String, String)> = arm
        .identities
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap_or("").to_string(),
                i["properties"]["principalId"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                i["properties"]["clientId"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String, String)> = ids
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["p"].as_str().unwrap_or("").to_string(),
                r["c"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(got, expect);
    for r in &ids {
        let rg = r["resourceGroup"].as_str().unwrap_or("");
        assert_eq!(
            rg,
            rg.to_lowercase(),
            "resourceGroup is lower case in resources"
        );
        assert!(r["identity"].is_null());
    }
    let a1 = ids.iter().find(|r| r["name"] == "id-a1").expect("id-a1");
    assert_eq!(a1["tags"], json!({"owner": "ann", "env": "prod"}));
    assert_eq!(a1["subscriptionId"], S1);

    // Every resource ARM lists, identities included, with lower-cased types.
    let all = rows(&env, "resources | project id, type, identity").await;
    let expect: BTreeSet<(String, String)> = arm
        .resources
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_lowercase(),
                r["type"].as_str().unwrap_or("").to_lowercase(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String)> = all
        .iter()
        .map(|r| {
            let t = r["type"].as_str().unwrap_or("").to_string();
            assert_eq!(t, t.to_lowercase());
            (r["id"].as_str().unwrap_or("").to_lowercase(), t)
        })
        .collect();
    assert_eq!(got, expect);
    let vm = all
        .iter()
        .find(|r| r["type"] == "microsoft.compute/virtualmachines")
        .expect("vm");
    let arm_vm = arm
        .resources
        .iter()
        .find(|r| r["name"] == "vm1")
        .expect("arm vm");
    assert_eq!(vm["identity"]["type"], "UserAssigned");
    let keys = |v: &Value| -> BTreeSet<String> {
        v["identity"]["userAssignedIdentities"]
            .as_object()
            .map(|m| m.keys().map(|k| k.to_lowercase()).collect())
            .unwrap_or_default()
    };
    assert_eq!(keys(vm), keys(arm_vm));

    // Subscriptions and groups, groups in their own casing.
    let containers = rows(&env, "resourcecontainers | project id, name, type, subscriptionId, resourceGroup, chain = properties.managementGroupAncestorsChain").await;
    let subs: Vec<&Value> = containers
        .iter()
        .filter(|r| r["type"] == "microsoft.resources/subscriptions")
        .collect();
    assert_eq!(
        sorted(
            subs.iter()
                .map(|r| r["subscriptionId"].as_str().unwrap_or("").to_string())
                .collect()
        ),
        [S1, S2]
    );
    for s in subs {
        assert_eq!(s["chain"][0]["name"], env.emu.tenant_id());
    }
    let groups: BTreeSet<(String, String)> = containers
        .iter()
        .filter(|r| r["type"] == "microsoft.resources/subscriptions/resourcegroups")
        .map(|r| {
            (
                r["subscriptionId"].as_str().unwrap_or("").to_string(),
                r["resourceGroup"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expect: BTreeSet<(String, String)> = arm
        .groups
        .iter()
        .map(|(s, g)| (s.clone(), g["name"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(groups, expect);

    // Role assignments with ARG's documented properties, and the role definitions they name.
    let auth = rows(&env, "authorizationresources | where type == 'microsoft.authorization/roleassignments' | project id, p = properties.principalId, t = properties.principalType, d = properties.roleDefinitionId, s = properties.scope").await;
    let expect: BTreeSet<(String, String, String, String, String)> = arm
        .assignments
        .iter()
        .map(|a| {
            let p = &a["properties"];
            (
                a["id"].as_str().unwrap_or("").to_string(),
                p["principalId"].as_str().unwrap_or("").to_string(),
                p["principalType"].as_str().unwrap_or("").to_string(),
                p["roleDefinitionId"].as_str().unwrap_or("").to_string(),
                p["scope"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String, String, String, String)> = auth
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("id"), s("p"), s("t"), s("d"), s("s"))
        })
        .collect();
    assert_eq!(got, expect);
    let names = rows(&env, "authorizationresources | where type == 'microsoft.authorization/roledefinitions' and subscriptionId == '00000000-0000-0000-0000-0000000000a1' | project n = properties.roleName, t = properties.type, id").await;
    assert!(names.iter().any(|r| r["n"] == "Reader"
        && r["t"] == "BuiltInRole"
        && r["id"].as_str().is_some_and(|id| id.ends_with(READER))));
}

/// Each operator and function of the subset, against results computed from ARM's lists.
#[tokio::test]
async fn kql_operators_match_arm_lists() {
    let env = seeded(quick()).await;
    let arm = arm(&env).await;
    let uai = "resources | where type =~ 'Microsoft.ManagedIdentity/userAssignedIdentities'";
    let names_of = |rows: &[Value]| sorted(strings(rows, "name"));
    let ids = &arm.identities;
    let tag = |i: &Value, k: &str| i["tags"][k].as_str().map(str::to_string);

    // where: comparisons and string operators.
    let q = |tail: &str| format!("{uai} | where {tail} | project name");
    assert_eq!(
        names_of(&rows(&env, &q("name == 'ID-G1'")).await),
        ["ID-G1"]
    );
    assert!(rows(&env, &q("name == 'id-g1'")).await.is_empty());
    assert_eq!(
        names_of(&rows(&env, &q("name =~ 'id-g1'")).await),
        ["ID-G1"]
    );
    assert_eq!(
        names_of(&rows(&env, &q("name != 'ID-G1'")).await),
        arm_names(ids, |i| i["name"] != "ID-G1")
    );
    assert_eq!(
        names_of(&rows(&env, &q("name !~ 'id-g1'")).await),
        arm_names(ids, |i| i["name"] != "ID-G1")
    );
    assert_eq!(
        names_of(&rows(&env, &q("name in ('id-a1', 'id-b1', 'nope')")).await),
        ["id-a1", "id-b1"]
    );
    assert_eq!(
        names_of(&rows(&env, &q("name in~ ('ID-A1')")).await),
        ["id-a1"]
    );
    assert_eq!(
        names_of(&rows(&env, &q("name !in ('id-a1')")).await),
        arm_names(ids, |i| i["name"] != "id-a1")
    );
    let lower = |i: &Value| i["name"].as_str().unwrap_or("").to_lowercase();
    assert_eq!(
        names_of(&rows(&env, &q("name contains 'A'")).await),
        arm_names(ids, |i| lower(i).contains('a'))
    );
    assert_eq!(
        names_of(&rows(&env, &q("name startswith 'ID-A'")).await),
        arm_names(ids, |i| lower(i).starts_with("id-a"))
    );
    assert_eq!(
        names_of(&rows(&env, &q("name endswith '1'")).await),
        arm_names(ids, |i| lower(i).ends_with('1'))
    );
    assert_eq!(
        names_of(&rows(&env, &q("isempty(tags.owner)")).await),
        arm_names(ids, |i| tag(i, "owner").is_none())
    );
    assert_eq!(
        names_of(&rows(&env, &q("isnotempty(tags.owner) and location == 'eastus'")).await),
        arm_names(ids, |i| tag(i, "owner").is_some()
            && i["location"] == "eastus")
    );
    assert_eq!(
        names_of(&rows(&env, &q("tags.owner == 'bob' or location == 'westus'")).await),
        arm_names(ids, |i| tag(i, "owner").as_deref() == Some("bob")
            || i["location"] == "westus")
    );
    assert_eq!(
        names_of(&rows(&env, &q("not(name startswith 'id-a')")).await),
        arm_names(ids, |i| !lower(i).starts_with("id-a"))
    );
    let with_identity = |r: &Value| {
        r["identity"]["type"]
            .as_str()
            .is_some_and(|t| t.contains("UserAssigned"))
    };
    assert_eq!(
        names_of(
            &rows(
                &env,
                "resources | where identity.type has 'UserAssigned' | project name"
            )
            .await
        ),
        arm_names(&arm.resources, with_identity)
    );

    // extend, project, project-away, functions.
    let got = rows(&env, &format!("{uai} | extend p = tostring(properties.principalId), up = toupper(name), lo = tolower(name), \
        s = strcat(name, '@', resourceGroup), n = array_length(split(id, '/')), t = iif(isnull(tags.owner), 'none', tostring(tags.owner)) \
        | project name, p, up, lo, s, n, t")).await;
    assert_eq!(got.len(), ids.len());
    for i in ids {
        let name = i["name"].as_str().unwrap_or("");
        let r = got.iter().find(|r| r["name"] == name).expect("row");
        let id = i["id"].as_str().unwrap_or("");
        let rg = id.split('/').nth(4).unwrap_or("").to_lowercase();
        assert_eq!(r["p"], i["properties"]["principalId"]);
        assert_eq!(r["up"], name.to_uppercase());
        assert_eq!(r["lo"], name.to_lowercase());
        assert_eq!(r["s"], format!("{name}@{rg}"));
        assert_eq!(r["n"], json!(id.split('/').count()));
        assert_eq!(r["t"], tag(i, "owner").unwrap_or_else(|| "none".into()));
        assert_eq!(r.as_object().map(|o| o.len()), Some(7));
    }
    let away = rows(
        &env,
        &format!("{uai} | project-away properties, tags, identity, sku, plan"),
    )
    .await;
    assert!(
        away.iter()
            .all(|r| r.get("properties").is_none() && r.get("id").is_some())
    );

    // mv-expand of bag_keys: every (resource, referenced identity) pair ARM shows.
    let got: BTreeSet<(String, String)> = rows(&env, "resources | where isnotempty(identity) | mv-expand k = bag_keys(identity.userAssignedIdentities) | project name, k = tolower(tostring(k))")
        .await
        .iter()
        .map(|r| (r["name"].as_str().unwrap_or("").into(), r["k"].as_str().unwrap_or("").into()))
        .collect();
    let expect: BTreeSet<(String, String)> = arm
        .resources
        .iter()
        .flat_map(|r| {
            let name = r["name"].as_str().unwrap_or("").to_string();
            r["identity"]["userAssignedIdentities"]
                .as_object()
                .map(|m| {
                    m.keys()
                        .map(|k| (name.clone(), k.to_lowercase()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(got, expect);
    assert_eq!(got.len(), 3);

    // summarize count() / dcount() / make_list() / make_set() by.
    let got: BTreeMap<String, (u64, u64, usize, usize)> = rows(&env, "resources | summarize count(), g = dcount(resourceGroup), l = make_list(name), s = make_set(location) by subscriptionId")
        .await
        .iter()
        .map(|r| {
            (
                r["subscriptionId"].as_str().unwrap_or("").into(),
                (
                    r["count_"].as_u64().unwrap_or(0),
                    r["g"].as_u64().unwrap_or(0),
                    r["l"].as_array().map_or(0, Vec::len),
                    r["s"].as_array().map_or(0, Vec::len),
                ),
            )
        })
        .collect();
    for sub in [S1, S2] {
        let mine: Vec<&Value> = arm
            .resources
            .iter()
            .filter(|r| r["id"].as_str().is_some_and(|id| id.contains(sub)))
            .collect();
        let groups: BTreeSet<String> = mine
            .iter()
            .map(|r| {
                r["id"]
                    .as_str()
                    .unwrap_or("")
                    .split('/')
                    .nth(4)
                    .unwrap_or("")
                    .to_lowercase()
            })
            .collect();
        let locations: BTreeSet<&str> =
            mine.iter().filter_map(|r| r["location"].as_str()).collect();
        assert_eq!(
            got[sub],
            (
                mine.len() as u64,
                groups.len() as u64,
                mine.len(),
                locations.len()
            ),
            "{sub}"
        );
    }

    // join kind=inner and leftouter: identities with the scopes their principals hold roles at.
    let pairs = |rows: &[Value]| -> BTreeSet<(String, String)> {
        rows.iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or("").into(),
                    r["scope"].as_str().unwrap_or("").into(),
                )
            })
            .collect()
    };
    let right = "(authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | project principalId = tostring(properties.principalId), scope = tostring(properties.scope))";
    let inner = rows(&env, &format!("{uai} | project name, principalId = tostring(properties.principalId) | join kind=inner {right} on principalId | project name, scope")).await;
    let principal_of = |p: &Value| {
        ids.iter()
            .find(|i| i["properties"]["principalId"] == *p)
            .map(|i| i["name"].as_str().unwrap_or("").to_string())
    };
    let expect: BTreeSet<(String, String)> = arm
        .assignments
        .iter()
        .filter_map(|a| {
            principal_of(&a["properties"]["principalId"]).map(|n| {
                (
                    n,
                    a["properties"]["scope"].as_str().unwrap_or("").to_string(),
                )
            })
        })
        .collect();
    assert_eq!(pairs(&inner), expect);
    let outer = rows(&env, &format!("{uai} | project name, principalId = tostring(properties.principalId) | join kind=leftouter {right} on principalId | project name, scope")).await;
    let mut expect_outer = expect.clone();
    for i in ids {
        let name = i["name"].as_str().unwrap_or("").to_string();
        if !expect.iter().any(|(n, _)| *n == name) {
            expect_outer.insert((name, String::new()));
        }
    }
    assert_eq!(pairs(&outer), expect_outer);

    // union, order by, take, top, distinct, count.
    let union = rows(
        &env,
        "union (resources | project id), (resourcecontainers | project id) | count",
    )
    .await;
    // The containers: the groups, the two subscriptions and the tenant's root management group.
    assert_eq!(
        union[0]["Count"],
        json!(arm.resources.len() + arm.groups.len() + 3)
    );
    let ordered = strings(
        &rows(&env, &format!("{uai} | order by name desc | project name")).await,
        "name",
    );
    let mut expect: Vec<String> = ids
        .iter()
        .map(|i| i["name"].as_str().unwrap_or("").to_string())
        .collect();
    expect.sort_by(|a, b| b.cmp(a));
    assert_eq!(ordered, expect);
    let top = rows(&env, &format!("{uai} | top 2 by name asc | project name")).await;
    assert_eq!(strings(&top, "name"), sorted(expect.clone())[..2].to_vec());
    assert_eq!(rows(&env, &format!("{uai} | take 3")).await.len(), 3);
    assert_eq!(rows(&env, &format!("{uai} | limit 1")).await.len(), 1);
    let distinct = rows(&env, &format!("{uai} | distinct location")).await;
    let locations: BTreeSet<&str> = ids.iter().filter_map(|i| i["location"].as_str()).collect();
    assert_eq!(distinct.len(), locations.len());
    assert_eq!(
        rows(&env, &format!("{uai} | count")).await[0]["Count"],
        json!(ids.len())
    );
}

/// Queries outside the subset and malformed requests are refused before anything runs.
#[tokio::test]
async fn refusals_name_the_problem() {
    let env = seeded(quick()).await;
    let refused = |r: &Reply, code: &str| {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert_eq!(r.body["error"]["code"], "BadRequest");
        assert_eq!(r.body["error"]["details"][0]["code"], "InvalidQuery");
        assert_eq!(r.body["error"]["details"][1]["code"], code, "{:?}", r.body);
        r.body["error"]["details"][1]["message"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let q = |query: &str| json!({"query": query});
    let m = refused(
        &graph(&env, q("resources | parse name with x")).await,
        "UnsupportedOperator",
    );
    assert!(m.contains("'parse'") && m.contains("position 12"), "{m}");
    let m = refused(
        &graph(&env, q("resources | extend x = ago(1d)")).await,
        "UnsupportedFunction",
    );
    assert!(m.contains("'ago'") && m.contains("position 23"), "{m}");
    refused(&graph(&env, q("nosuch | count")).await, "InvalidTable");
    refused(
        &graph(&env, q("resources | where (name == ")).await,
        "ParserFailure",
    );
    refused(
        &graph(&env, q("resources | project nosuchcolumn")).await,
        "InvalidColumn",
    );

    let bad = |r: Reply, status: StatusCode, needle: &str| {
        assert_eq!(r.status, status, "{:?}", r.body);
        let m = r.body["error"]["message"].as_str().unwrap_or("");
        assert!(m.contains(needle), "{m}");
    };
    let old = env
        .call(
            Method::POST,
            "/providers/Microsoft.ResourceGraph/resources?api-version=2019-04-01",
            Some(q("resources")),
        )
        .await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST);
    for v in ["2022-10-01", "2021-03-01"] {
        let r = env
            .call(
                Method::POST,
                &format!("/providers/Microsoft.ResourceGraph/resources?api-version={v}"),
                Some(q("resources | count")),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{v}");
    }
    bad(
        graph(
            &env,
            json!({"query": "resources", "options": {"$top": 1001}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "$top",
    );
    bad(
        graph(&env, json!({"query": "resources", "options": {"$top": 0}})).await,
        StatusCode::BAD_REQUEST,
        "$top",
    );
    bad(
        graph(
            &env,
            json!({"query": "resources", "options": {"resultFormat": "csv"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "resultFormat",
    );
    bad(
        graph(
            &env,
            json!({"query": "resources", "options": {"authorizationScopeFilter": "Everywhere"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "authorizationScopeFilter",
    );
    bad(
        graph(&env, json!({"query": ""})).await,
        StatusCode::BAD_REQUEST,
        "empty",
    );
    bad(
        graph(&env, json!({"subscriptions": [S1]})).await,
        StatusCode::BAD_REQUEST,
        "query",
    );
    bad(
        graph(
            &env,
            json!({"query": "resources", "subscriptions": ["not-a-guid"]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "not-a-guid",
    );
    let many: Vec<String> = (0..1001)
        .map(|i| format!("00000000-0000-0000-0000-{i:012}"))
        .collect();
    bad(
        graph(&env, json!({"query": "resources", "subscriptions": many})).await,
        StatusCode::BAD_REQUEST,
        "batches",
    );
    bad(
        graph(
            &env,
            json!({"query": "resources", "managementGroups": ["ProductionMG"]}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "ProductionMG",
    );
    bad(
        graph(&env, json!({"query": "resources", "subscriptions": ["00000000-0000-0000-0000-0000000000ff"]})).await,
        StatusCode::FORBIDDEN,
        "00000000-0000-0000-0000-0000000000ff",
    );
    // The root group (named by the tenant id) is the whole tenant.
    let root = graph(&env, json!({"query": "resourcecontainers | where type =~ 'microsoft.resources/subscriptions' | count", "managementGroups": [env.emu.tenant_id()]})).await;
    assert_eq!(root.status, StatusCode::OK, "{:?}", root.body);
    assert_eq!(root.body["data"][0]["Count"], 2);
}

/// A caller sees only the subscriptions and groups its roles cover.
#[tokio::test]
async fn callers_see_only_what_they_may_read() {
    let env = seeded(EmulatorOptions {
        callers: vec![
            format!("two=reader@/subscriptions/{S2}")
                .parse()
                .expect("caller"),
            format!("alpha=managed-identity-operator@/subscriptions/{S1}/resourceGroups/Alpha")
                .parse()
                .expect("caller"),
        ],
        ..quick()
    })
    .await;
    let names = |r: &Reply| {
        sorted(strings(
            r.body["data"].as_array().map_or(&[][..], |v| v),
            "name",
        ))
    };
    let q = json!({"query": "resources | project name"});
    let two = graph_as(&env, "two", q.clone()).await;
    assert_eq!(two.status, StatusCode::OK);
    let (s2, _) = env
        .list_all(&format!(
            "/subscriptions/{S2}/resources?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(names(&two), arm_names(&s2, |_| true));
    let alpha = graph_as(&env, "alpha", q.clone()).await;
    assert_eq!(names(&alpha), ["id-a1", "id-a2"]);
    // Naming only a subscription the caller cannot read is refused.
    let denied = graph_as(
        &env,
        "two",
        json!({"query": "resources", "subscriptions": [S1]}),
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    // Naming both gives the readable one's rows only.
    let both = graph_as(
        &env,
        "two",
        json!({"query": "resources | project name", "subscriptions": [S1, S2]}),
    )
    .await;
    assert_eq!(names(&both), names(&two));
}

/// 2,500 rows paged 1,000 at a time with skip tokens: each row exactly once, in id order.
#[tokio::test]
async fn paging_returns_each_row_once() {
    let env = Env::with(EmulatorOptions {
        graph_quota: "100/5".parse().expect("quota"),
        ..quick()
    })
    .await;
    let sub = env.sub.clone();
    put(
        &env,
        &group_path(&sub, "many"),
        json!({"location": "eastus"}),
    )
    .await;
    for i in 0..2500 {
        put(
            &env,
            &format!("/subscriptions/{sub}/resourceGroups/many/providers/Microsoft.Storage/storageAccounts/s{i:04}?api-version=2024-03-01"),
            json!({"location": "eastus"}),
        )
        .await;
    }
    let query = "resources | where type =~ 'microsoft.storage/storageaccounts' | project id, name | order by id asc";
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut options = json!({"$top": 1000});
        if let Some(t) = &token {
            options = json!({"$skipToken": t});
        }
        let r = graph(
            &env,
            json!({"query": query, "subscriptions": [sub], "options": options}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["totalRecords"], 2500);
        assert_eq!(r.body["resultTruncated"], "false");
        let data = r.body["data"].as_array().expect("data");
        assert_eq!(r.body["count"], json!(data.len()));
        seen.extend(strings(data, "name"));
        pages += 1;
        match r.body.get("$skipToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    let expect: Vec<String> = (0..2500).map(|i| format!("s{i:04}")).collect();
    assert_eq!(seen, expect);

    // The default page is 100; $skip moves the start; a query with take gets no token.
    let first = graph(&env, json!({"query": query})).await;
    assert_eq!(first.body["count"], 100);
    assert!(first.body["$skipToken"].is_string());
    let skipped = graph(&env, json!({"query": query, "options": {"$skip": 2498}})).await;
    assert_eq!(
        strings(skipped.body["data"].as_array().expect("data"), "name"),
        ["s2498", "s2499"]
    );
    assert!(skipped.body.get("$skipToken").is_none());
    let limited = graph(&env, json!({"query": format!("{query} | take 500")})).await;
    assert_eq!(limited.body["count"], 100);
    assert_eq!(limited.body["resultTruncated"], "true");
    assert!(limited.body.get("$skipToken").is_none());

    // A token only continues its own query and scope.
    let token = first.body["$skipToken"].as_str().expect("token");
    let other = graph(
        &env,
        json!({"query": "resources | project id", "options": {"$skipToken": token}}),
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.code(), "InvalidSkipToken");
    let scoped = graph(
        &env,
        json!({"query": query, "subscriptions": [sub], "options": {"$skipToken": token}}),
    )
    .await;
    assert_eq!(scoped.status, StatusCode::BAD_REQUEST);
    let junk = graph(
        &env,
        json!({"query": query, "options": {"$skipToken": "bm90IG91cnM="}}),
    )
    .await;
    assert_eq!(junk.code(), "InvalidSkipToken");
}

/// Each query, skip-token pages included, spends one of the caller's quota; the headers say
/// what is left, and an exhausted window answers 429 with Retry-After.
#[tokio::test]
async fn quota_headers_and_exhaustion() {
    let env = Env::with(EmulatorOptions {
        graph_quota: "3/60".parse().expect("quota"),
        callers: vec!["other=reader".parse().expect("caller")],
        ..quick()
    })
    .await;
    env.group("rg").await;
    for n in ["app-a", "app-b"] {
        env.identity("rg", n).await;
    }
    let q = "resources | project id, name | order by id asc";
    let first = graph(&env, json!({"query": q, "options": {"$top": 1}})).await;
    assert_eq!(first.status, StatusCode::OK);
    let header = |r: &Reply, name: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(header(&first, "x-ms-user-quota-remaining"), "2");
    let resets = header(&first, "x-ms-user-quota-resets-after");
    assert!(
        resets.len() == 8 && resets.starts_with("00:0") && resets.as_bytes()[2] == b':',
        "{resets}"
    );
    let token = first.body["$skipToken"]
        .as_str()
        .expect("token")
        .to_string();
    let page2 = graph(&env, json!({"query": q, "options": {"$skipToken": token}})).await;
    assert_eq!(page2.status, StatusCode::OK);
    assert_eq!(header(&page2, "x-ms-user-quota-remaining"), "1");
    // A refused query still counts.
    let bad = graph(&env, json!({"query": "resources | parse x"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&bad, "x-ms-user-quota-remaining"), "0");
    let over = graph(&env, json!({"query": q})).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&over, "x-ms-user-quota-remaining"), "0");
    let retry: u64 = header(&over, "retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry));
    // Another caller has a window of its own.
    let other = graph_as(&env, "other", json!({"query": q})).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(header(&other, "x-ms-user-quota-remaining"), "2");
}

/// A window that is over opens a new one.
#[tokio::test]
async fn quota_resets_after_its_window() {
    let env = Env::with(EmulatorOptions {
        graph_quota: "1/1".parse().expect("quota"),
        ..quick()
    })
    .await;
    let q = json!({"query": "resources | count"});
    assert_eq!(graph(&env, q.clone()).await.status, StatusCode::OK);
    assert_eq!(
        graph(&env, q.clone()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = graph(&env, q).await;
    assert_eq!(again.status, StatusCode::OK);
}

/// With --graph-lag, ARM's changes reach the graph only later: a new identity is missing and a
/// deleted one still listed until then, while ARM already answers with the truth.
#[tokio::test]
async fn lag_shows_stale_rows_until_it_passes() {
    let env = Env::with(EmulatorOptions {
        graph_lag: Duration::from_millis(1500),
        graph_quota: "1000/1".parse().expect("quota"),
        ..quick()
    })
    .await;
    env.group("rg").await;
    let q = json!({"query": "resources | where name == 'late' | project id"});
    env.identity("rg", "late").await;
    let arm_get = env
        .call(Method::GET, &env.identity_path("rg", "late"), None)
        .await;
    assert_eq!(arm_get.status, StatusCode::OK);
    let stale = graph(&env, q.clone()).await;
    assert_eq!(
        stale.body["count"], 0,
        "the graph shows a change before the lag has passed"
    );
    let mut seen = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if graph(&env, q.clone()).await.body["count"] == 1 {
            seen = true;
            break;
        }
    }
    assert!(seen, "the change never reached the graph");
    let del = env
        .call(Method::DELETE, &env.identity_path("rg", "late"), None)
        .await;
    assert!(del.status.is_success());
    assert_eq!(
        graph(&env, q.clone()).await.body["count"],
        1,
        "a deleted identity stays until the lag passes"
    );
    let mut gone = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if graph(&env, q.clone()).await.body["count"] == 0 {
            gone = true;
            break;
        }
    }
    assert!(gone, "the delete never reached the graph");
}

/// The table format holds the same rows as the object array, with column names and types.
#[tokio::test]
async fn table_format_matches_object_array() {
    let env = seeded(quick()).await;
    let query = "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project id, name, n = array_length(split(id, '/')), tags | order by id asc";
    let objects = graph(&env, json!({"query": query})).await;
    let table = graph(
        &env,
        json!({"query": query, "options": {"resultFormat": "table"}}),
    )
    .await;
    assert_eq!(table.status, StatusCode::OK, "{:?}", table.body);
    let columns = table.body["data"]["columns"].as_array().expect("columns");
    let names: Vec<&str> = columns.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["id", "name", "n", "tags"]);
    let types: Vec<&str> = columns.iter().filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(types, ["string", "string", "integer", "object"]);
    let rows = table.body["data"]["rows"].as_array().expect("rows");
    let objs = objects.body["data"].as_array().expect("data");
    assert_eq!(rows.len(), objs.len());
    for (row, obj) in rows.iter().zip(objs) {
        for (i, name) in names.iter().enumerate() {
            assert_eq!(row[i], obj[*name]);
        }
    }
    assert_eq!(table.body["totalRecords"], objects.body["totalRecords"]);
}

fn example(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/arm-reference/resourcegraph/2024-04-01/examples",
        &format!("{name}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("example is JSON")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The spec's examples replayed: each request (scopes rewritten to the emulator's) is accepted
/// and answered with the example's top-level fields and types, and rows with its columns.
#[tokio::test]
async fn conformance_with_the_spec_examples() {
    let env = seeded(quick()).await;
    for name in [
        "ResourcesBasicQuery",
        "ResourcesFirstPageQuery",
        "ResourcesNextPageQuery",
        "ResourcesRandomPageQuery",
        "ResourcesTenantBasicQuery",
        "ResourcesMgBasicQuery",
        "ResourcesFacetQuery",
    ] {
        let ex = example(name);
        let mut body = ex["parameters"]["query"].clone();
        if body.get("subscriptions").is_some() {
            body["subscriptions"] = json!([S1, S2]);
        }
        if body.get("managementGroups").is_some() {
            body["managementGroups"] = json!([env.emu.tenant_id()]);
        }
        if body["options"].get("$skipToken").is_some() {
            // A token of the emulator's own, from the first page of the same query and scope.
            let mut first = body.clone();
            first["options"] = json!({"$top": 1});
            let r = graph(&env, first).await;
            body["options"]["$skipToken"] = r.body["$skipToken"].clone();
        }
        let r = graph(&env, body).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
        let expected = &ex["responses"]["200"]["body"];
        for (key, value) in expected.as_object().expect("body") {
            if key == "$skipToken" && r.body.get(key).is_none() {
                continue;
            }
            assert_eq!(kind(&r.body[key]), kind(value), "{name}: {key}");
        }
        assert!(matches!(
            r.body["resultTruncated"].as_str(),
            Some("true" | "false")
        ));
        let columns: BTreeSet<&String> = expected["data"]
            .as_array()
            .and_then(|d| d.first())
            .and_then(Value::as_object)
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        for row in r.body["data"].as_array().expect("data") {
            let got: BTreeSet<&String> = row.as_object().expect("row").keys().collect();
            assert_eq!(got, columns, "{name}");
        }
        if name == "ResourcesFacetQuery" {
            let facets = r.body["facets"].as_array().expect("facets");
            let want = expected["facets"].as_array().expect("facets");
            assert_eq!(facets.len(), want.len());
            for (got, want) in facets.iter().zip(want) {
                assert_eq!(got["resultType"], want["resultType"], "{got}");
                assert_eq!(got["expression"], want["expression"]);
            }
        }
    }
}

/// Without a lag, each write (and a group delete that finishes in the background) shows in
/// the next query.
#[tokio::test]
async fn writes_reach_the_graph_at_once_without_lag() {
    let env = Env::start().await;
    let q = json!({"query": "resources | project name | order by name asc"});
    env.group("rg").await;
    assert_eq!(graph(&env, q.clone()).await.body["count"], 0);
    env.identity("rg", "first").await;
    assert_eq!(
        strings(
            graph(&env, q.clone()).await.body["data"]
                .as_array()
                .expect("data"),
            "name"
        ),
        ["first"]
    );
    env.identity("rg", "second").await;
    assert_eq!(graph(&env, q.clone()).await.body["count"], 2);
    let del = env.call(Method::DELETE, &env.group_path("rg"), None).await;
    assert!(del.status.is_success(), "{:?}", del.body);
    let mut gone = false;
    for _ in 0..200 {
        if env
            .call(Method::HEAD, &env.group_path("rg"), None)
            .await
            .status
            == StatusCode::NOT_FOUND
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the group was never deleted");
    assert_eq!(graph(&env, q).await.body["count"], 0);
}

/// Facets count the query's rows by an expression, with their filter, order and top.
#[tokio::test]
async fn facets_count_rows_by_expression() {
    let env = seeded(quick()).await;
    let arm = arm(&env).await;
    let mut by_location: BTreeMap<String, u64> = BTreeMap::new();
    for i in &arm.identities {
        *by_location
            .entry(i["location"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let r = graph(&env, json!({
        "query": "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project id, location, name",
        "facets": [
            {"expression": "location", "options": {"$top": 10, "sortOrder": "desc"}},
            {"expression": "location", "options": {"$top": 1, "sortBy": "location", "sortOrder": "asc"}},
            {"expression": "location", "options": {"filter": "name startswith 'test-'"}},
            {"expression": "nonExistingColumn"}
        ]
    })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let facets = r.body["facets"].as_array().expect("facets");
    let counts = |f: &Value| -> Vec<(String, u64)> {
        f["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|d| {
                (
                    d["location"].as_str().unwrap_or("").to_string(),
                    d["count"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    let mut expect: Vec<(String, u64)> = by_location.clone().into_iter().collect();
    expect.sort_by_key(|e| std::cmp::Reverse(e.1));
    assert_eq!(counts(&facets[0]), expect);
    assert_eq!(facets[0]["totalRecords"], json!(by_location.len()));
    let first = by_location
        .iter()
        .next()
        .map(|(l, n)| (l.clone(), *n))
        .expect("a location");
    assert_eq!(counts(&facets[1]), [first]);
    let tests = arm
        .identities
        .iter()
        .filter(|i| i["name"].as_str().is_some_and(|n| n.starts_with("test-")))
        .count();
    assert_eq!(
        counts(&facets[2]).iter().map(|(_, n)| n).sum::<u64>(),
        tests as u64
    );
    assert_eq!(facets[3]["resultType"], "FacetError");
    assert_eq!(facets[3]["errors"][0]["code"], "NoValidColumns");
}

/// `azid emulator --graph-quota` and `--graph-lag` reach the server; a bad quota is refused.
#[test]
fn the_graph_flags_reach_the_server() {
    let emu = crate::harness::Spawned::start(&[
        "--listen",
        ":0",
        "--token",
        "t",
        "--graph-quota",
        "2/60",
        "--graph-lag",
        "60000",
    ]);
    let url = format!("{}{GRAPH}", emu.get("URL"));
    let sub = emu.get("SUBSCRIPTION").to_string();
    let http = reqwest::blocking::Client::new();
    let group = format!(
        "{}/subscriptions/{sub}/resourcegroups/rg?api-version={RES}",
        emu.get("URL")
    );
    let put = http
        .put(&group)
        .bearer_auth("t")
        .json(&json!({"location": "eastus"}))
        .send()
        .expect("send");
    assert!(put.status().is_success());
    let query = || {
        http.post(&url)
            .bearer_auth("t")
            .json(&json!({"query": "resourcecontainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups' | count"}))
            .send()
            .expect("send")
    };
    let first = query();
    assert_eq!(first.headers()["x-ms-user-quota-remaining"], "1");
    let body: Value = first.json().expect("json");
    // The group was made less than a minute ago: a 60-second lag hides it.
    assert_eq!(body["data"][0]["Count"], 0);
    assert_eq!(query().status(), StatusCode::OK);
    assert_eq!(query().status(), StatusCode::TOO_MANY_REQUESTS);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_azid"))
        .args(["emulator", "--listen", ":0", "--graph-quota", "15"])
        .output()
        .expect("azid runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("N/SECONDS"));
}

/// `pack` / `bag_pack` and `hash`, the pieces of a packed read: rows grouped by a hash of
/// their id come back whole, each exactly once, in the same buckets every time.
#[tokio::test]
async fn pack_and_hash_group_whole_rows_into_stable_buckets() {
    let env = seeded(quick()).await;
    let plain = sorted(strings(
        &rows(
            &env,
            "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project id",
        )
        .await,
        "id",
    ));
    assert!(plain.len() >= 3, "{plain:?}");
    let packed = "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' \
        | extend b = hash(tolower(id)) % 3 \
        | summarize items = make_list(pack('id', id, 'principal', properties.principalId, 'tags', tags)) by b \
        | order by b asc";
    let first = rows(&env, packed).await;
    let mut ids = Vec::new();
    for bucket in &first {
        let b = bucket["b"].as_i64().expect("a bucket number");
        assert!((-2..=2).contains(&b), "hash % 3 is within (-3, 3): {b}");
        for item in bucket["items"].as_array().expect("a list") {
            assert!(item["principal"].is_string(), "{item}");
            assert!(item["tags"].is_object() || item["tags"].is_null(), "{item}");
            ids.push(item["id"].as_str().expect("id").to_string());
        }
    }
    assert_eq!(sorted(ids), plain, "every row once, whole");
    assert_eq!(rows(&env, packed).await, first, "the same buckets again");

    let bag = rows(&env, "resources | take 1 | project p = bag_pack('n', name, 'one', 1), h = hash(name, 5), z = hash(name)").await;
    assert_eq!(bag[0]["p"]["one"], json!(1));
    assert!(bag[0]["p"]["n"].is_string());
    let h = bag[0]["h"].as_i64().expect("hash with a modulus");
    assert!((0..5).contains(&h), "{h}");
    assert!(bag[0]["z"].is_i64(), "{:?}", bag[0]);

    let odd = graph(&env, json!({"query": "resources | project p = pack('a')"})).await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST, "{:?}", odd.body);
    let m = odd.body["error"]["details"][1]["message"]
        .as_str()
        .unwrap_or("");
    assert!(m.contains("pack()"), "{m}");
}

/// An answer past the size limit (16 MiB in Azure; smaller here) is refused whole, with the
/// code and wording Azure uses; a smaller page of the same query is served.
#[tokio::test]
async fn answers_past_the_size_limit_are_refused_with_response_payload_too_large() {
    let env = seeded(EmulatorOptions {
        graph_response_limit: 1500,
        ..quick()
    })
    .await;
    let r = graph(
        &env,
        json!({"query": "resources", "options": {"$top": 1000}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "BadRequest");
    let detail = &r.body["error"]["details"][0];
    assert_eq!(detail["code"], "ResponsePayloadTooLarge", "{detail}");
    let m = detail["message"].as_str().unwrap_or("");
    assert!(m.contains("has exceeded the limit of 1500"), "{m}");
    let small = graph(
        &env,
        json!({"query": "resources | project id", "options": {"$top": 1}}),
    )
    .await;
    assert_eq!(small.status, StatusCode::OK, "{:?}", small.body);
    assert_eq!(small.body["count"], json!(1));
}
