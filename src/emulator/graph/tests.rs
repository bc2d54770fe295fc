use std::collections::HashMap;

use serde_json::{Value, json};

use super::QueryError;
use super::eval::{Read, Table, copy_read, run, source_columns};
use super::parser::parse;

fn catalog() -> HashMap<String, Table> {
    let res = Table {
        columns: [
            "id",
            "name",
            "type",
            "resourceGroup",
            "subscriptionId",
            "tags",
            "identity",
            "properties",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![
            vec![
                json!(
                    "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.managedidentity/userassignedidentities/id-a"
                ),
                json!("id-a"),
                json!("microsoft.managedidentity/userassignedidentities"),
                json!("rg1"),
                json!("s1"),
                json!({"owner": "ann", "env": "prod"}),
                Value::Null,
                json!({"principalId": "p-a"}),
            ],
            vec![
                json!(
                    "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.managedidentity/userassignedidentities/id-b"
                ),
                json!("id-b"),
                json!("microsoft.managedidentity/userassignedidentities"),
                json!("rg1"),
                json!("s1"),
                json!({}),
                Value::Null,
                json!({"principalId": "p-b"}),
            ],
            vec![
                json!(
                    "/subscriptions/s2/resourcegroups/rg2/providers/microsoft.managedidentity/userassignedidentities/ID-C"
                ),
                json!("ID-C"),
                json!("microsoft.managedidentity/userassignedidentities"),
                json!("rg2"),
                json!("s2"),
                json!({"owner": "bob"}),
                Value::Null,
                json!({"principalId": "p-c"}),
            ],
            vec![
                json!(
                    "/subscriptions/s2/resourcegroups/rg2/providers/microsoft.compute/virtualmachines/vm1"
                ),
                json!("vm1"),
                json!("microsoft.compute/virtualmachines"),
                json!("rg2"),
                json!("s2"),
                json!({"owner": "bob"}),
                json!({"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {"/subscriptions/s1/resourcegroups/rg1/providers/microsoft.managedidentity/userassignedidentities/id-a": {}, "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.managedidentity/userassignedidentities/gone": {}}}),
                json!({}),
            ],
        ],
    };
    let containers = Table {
        columns: ["id", "name", "type", "subscriptionId", "properties"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            vec![
                json!("/subscriptions/s1"),
                json!("one"),
                json!("microsoft.resources/subscriptions"),
                json!("s1"),
                json!({"managementGroupAncestorsChain": [{"name": "mg1"}]}),
            ],
            vec![
                json!("/subscriptions/s2"),
                json!("two"),
                json!("microsoft.resources/subscriptions"),
                json!("s2"),
                json!({"managementGroupAncestorsChain": [{"name": "mg2"}]}),
            ],
        ],
    };
    HashMap::from([
        ("resources".to_string(), res),
        ("resourcecontainers".to_string(), containers),
    ])
}

fn q(src: &str) -> Vec<Value> {
    let query = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    run(&query, &catalog())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .objects()
}

fn names(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn where_comparisons() {
    assert_eq!(names(&q("resources | where name == 'id-a'")), ["id-a"]);
    assert!(q("resources | where name == 'ID-A'").is_empty());
    assert_eq!(names(&q("resources | where name =~ 'ID-A'")), ["id-a"]);
    assert_eq!(q("resources | where name != 'id-a'").len(), 3);
    assert_eq!(q("resources | where name !~ 'ID-A'").len(), 3);
    assert_eq!(
        names(&q("resources | where name in ('id-b', 'vm1')")),
        ["id-b", "vm1"]
    );
    assert_eq!(names(&q("resources | where name in~ ('ID-B')")), ["id-b"]);
    assert_eq!(q("resources | where name !in ('id-b', 'vm1')").len(), 2);
    assert_eq!(
        names(&q("resources | where name !in~ ('ID-B', 'VM1', 'id-c')")),
        ["id-a"]
    );
    // A number matches its text, and a list of other kinds of value is compared as before.
    assert_eq!(
        q("resources | where array_length(split(name, '-')) in ('2')").len(),
        3
    );
    assert_eq!(
        q("resources | where array_length(split(name, '-')) in (1, 2)").len(),
        4
    );
    assert!(q("resources | where name in~ ('ÍD-A')").is_empty());
    assert_eq!(
        names(&q("resources | where identity.type has 'UserAssigned'")),
        ["vm1"]
    );
    assert!(q("resources | where identity.type has 'User'").is_empty());
    assert_eq!(
        names(&q("resources | where name contains 'D-'")),
        ["id-a", "id-b", "ID-C"]
    );
    assert_eq!(names(&q("resources | where name startswith 'VM'")), ["vm1"]);
    assert_eq!(names(&q("resources | where name endswith '-c'")), ["ID-C"]);
    assert_eq!(
        names(&q(
            "resources | where isempty(tags.owner) and type =~ 'Microsoft.ManagedIdentity/userAssignedIdentities'"
        )),
        ["id-b"]
    );
    assert_eq!(q("resources | where isnotempty(tags.owner)").len(), 3);
    assert_eq!(
        names(&q(
            "resources | where tags.owner == 'bob' or name == 'id-a'"
        )),
        ["id-a", "ID-C", "vm1"]
    );
    assert_eq!(
        names(&q("resources | where not(name startswith 'id')")),
        ["vm1"]
    );
}

#[test]
fn extend_project_and_paths() {
    let rows = q(
        "resources | where name == 'id-a' | extend owner = tags.owner, up = toupper(name) | project name, owner, up, properties.principalId",
    );
    assert_eq!(
        rows,
        [json!({"name": "id-a", "owner": "ann", "up": "ID-A", "properties_principalId": "p-a"})]
    );
    let rows =
        q("resources | where name == 'id-a' | project-away tags, identity, properties, id, type");
    assert_eq!(
        rows,
        [json!({"name": "id-a", "resourceGroup": "rg1", "subscriptionId": "s1"})]
    );
    let rows = q(
        "resources | where name == 'id-a' | project x = strcat(name, '/', resourceGroup), n = array_length(split(id, '/')), p = split(id, '/', 2), t = tostring(tags), k = bag_keys(tags), i = iif(name == 'id-a', 1, 2), z = isnull(identity)",
    );
    assert_eq!(
        rows,
        [
            json!({"x": "id-a/rg1", "n": 9, "p": ["s1"], "t": "{\"env\":\"prod\",\"owner\":\"ann\"}", "k": ["env", "owner"], "i": 1, "z": true})
        ]
    );
    let rows = q("resources | where name == 'id-a' | project tolower(name), toupper(name)");
    assert_eq!(rows, [json!({"Column1": "id-a", "Column2": "ID-A"})]);
}

#[test]
fn mv_expand_of_bag_keys_finds_references() {
    let rows = q(
        "resources | where isnotempty(identity) | mv-expand ref = bag_keys(identity.userAssignedIdentities) | project name, ref = tolower(tostring(ref))",
    );
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .any(|r| r["ref"].as_str().unwrap_or("").ends_with("/gone"))
    );
    // An empty or missing array gives no rows.
    assert!(q("resources | where name == 'id-a' | mv-expand x = bag_keys(identity)").is_empty());
    // Expanding a bag gives one single-key bag a row.
    let rows = q("resources | where name == 'id-a' | mv-expand tags | project tags");
    assert_eq!(
        rows,
        [
            json!({"tags": {"env": "prod"}}),
            json!({"tags": {"owner": "ann"}})
        ]
    );
    let rows = q("resources | where name == 'id-a' | mv-expand tags limit 1 | project tags");
    assert_eq!(rows.len(), 1);
}

#[test]
fn summarize_and_counts() {
    let rows = q("resources | summarize count() by subscriptionId");
    assert_eq!(
        rows,
        [
            json!({"subscriptionId": "s1", "count_": 2}),
            json!({"subscriptionId": "s2", "count_": 2})
        ]
    );
    let rows = q(
        "resources | summarize n = count(), owners = dcount(tostring(tags.owner)), names = make_list(name), set = make_set(resourceGroup)",
    );
    assert_eq!(
        rows,
        [
            json!({"n": 4, "owners": 3, "names": ["id-a", "id-b", "ID-C", "vm1"], "set": ["rg1", "rg2"]})
        ]
    );
    assert_eq!(q("resources | count"), [json!({"Count": 4})]);
    assert_eq!(
        q("resources | where name == 'none' | summarize count()"),
        [json!({"count_": 0})]
    );
    assert!(q("resources | where name == 'none' | summarize count() by name").is_empty());
    let rows = q("resources | summarize by type | order by type asc");
    assert_eq!(
        rows,
        [
            json!({"type": "microsoft.compute/virtualmachines"}),
            json!({"type": "microsoft.managedidentity/userassignedidentities"})
        ]
    );
    let rows = q(
        "resources | summarize count() by tostring(tags.owner) | order by count_ desc, Column1 asc",
    );
    assert_eq!(rows[0], json!({"Column1": "bob", "count_": 2}));
}

#[test]
fn joins_unions_order_take_top_distinct() {
    let rows = q(
        "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | join kind=inner (resourcecontainers | project subscriptionId, subName = name) on subscriptionId | project name, subName | order by name asc",
    );
    assert_eq!(
        rows,
        [
            json!({"name": "ID-C", "subName": "two"}),
            json!({"name": "id-a", "subName": "one"}),
            json!({"name": "id-b", "subName": "one"})
        ]
    );
    let rows = q(
        "resourcecontainers | join kind=leftouter (resources | where name == 'vm1') on $left.subscriptionId == $right.subscriptionId | project name, name1",
    );
    assert_eq!(
        rows,
        [
            json!({"name": "one", "name1": null}),
            json!({"name": "two", "name1": "vm1"})
        ]
    );
    // The default kind (innerunique) keeps one left row per key.
    assert_eq!(
        q("resources | join (resourcecontainers) on subscriptionId").len(),
        2
    );
    let rows = q(
        "union (resources | where name == 'vm1' | project name), (resourcecontainers | project name, id)",
    );
    assert_eq!(
        rows,
        [
            json!({"name": "vm1", "id": null}),
            json!({"name": "one", "id": "/subscriptions/s1"}),
            json!({"name": "two", "id": "/subscriptions/s2"})
        ]
    );
    assert_eq!(
        q("resources | union resourcecontainers | count"),
        [json!({"Count": 6})]
    );
    assert_eq!(
        names(&q("resources | order by name asc | take 2")),
        ["ID-C", "id-a"]
    );
    assert_eq!(names(&q("resources | order by name | limit 1")), ["vm1"]);
    assert_eq!(names(&q("resources | top 1 by name asc")), ["ID-C"]);
    assert_eq!(
        q("resources | distinct subscriptionId, resourceGroup").len(),
        2
    );
    assert_eq!(
        q("resources | project subscriptionId | distinct *").len(),
        2
    );
    // A query may start with an operator; it then reads resources.
    assert_eq!(names(&q("where name == 'vm1'")), ["vm1"]);
}

#[test]
fn refusals_name_the_operator_or_function_and_position() {
    let err = |src: &str| match parse(src) {
        Err(e) => e,
        Ok(query) => run(&query, &catalog())
            .err()
            .unwrap_or_else(|| panic!("{src} was accepted")),
    };
    assert_eq!(
        err("resources | parse name with x"),
        QueryError::UnsupportedOperator {
            name: "parse".into(),
            pos: 12
        }
    );
    assert_eq!(
        err("resources | where name has_cs 'x'"),
        QueryError::UnsupportedOperator {
            name: "has_cs".into(),
            pos: 23
        }
    );
    assert_eq!(
        err("resources | extend x = ago(1d)"),
        QueryError::UnsupportedFunction {
            name: "ago".into(),
            pos: 23
        }
    );
    assert_eq!(
        err("resources | summarize avg(x)"),
        QueryError::UnsupportedFunction {
            name: "avg".into(),
            pos: 22
        }
    );
    assert!(matches!(
        err("nosuch | count"),
        QueryError::UnknownTable { .. }
    ));
    assert!(matches!(
        err("resources | where nosuch == 1"),
        QueryError::UnknownColumn { .. }
    ));
    assert!(matches!(
        err("resources | where (name"),
        QueryError::Syntax { .. }
    ));
    assert!(matches!(
        err("resources | where name == 'x"),
        QueryError::Syntax { .. }
    ));
    assert!(matches!(
        err(
            "resources | join (resources) on id | join (resources) on id | join (resources) on id | join (resources) on id"
        ),
        QueryError::Limit { .. }
    ));
    assert!(matches!(
        err("resources | mv-expand tags | mv-expand tags | mv-expand tags"),
        QueryError::Limit { .. }
    ));
    assert!(matches!(
        err(&format!(
            "resources | where {}1{}",
            "(".repeat(500),
            ")".repeat(500)
        )),
        QueryError::Limit { .. }
    ));
    assert!(matches!(
        err("resources | extend x = iif(true, 1)"),
        QueryError::Semantic { .. }
    ));
}

#[test]
fn dynamic_literals_and_arithmetic() {
    let rows = q(
        "resources | where name in (dynamic(['id-a', 'vm1'])) | project name, n = 2 * 3 + 1, m = -5 % 3, d = 7 / 0",
    );
    assert_eq!(
        rows,
        [
            json!({"name": "id-a", "n": 7, "m": -2, "d": null}),
            json!({"name": "vm1", "n": 7, "m": -2, "d": null})
        ]
    );
    let rows = q(
        "resources | where name == 'id-a' | extend b = dynamic({\"a\": [1, 2.5, null, true]}) | project x = b.a[1], y = b['a'][-1]",
    );
    assert_eq!(rows, [json!({"x": 2.5, "y": true})]);
}

#[test]
fn columns_read_only_before_a_project_still_reach_it() {
    let rows = q(
        "resources | where name == 'id-a' | extend o = tags.owner | order by name asc | project name, o, p = properties.principalId",
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["o"], json!("ann"));
    assert_eq!(rows[0]["p"], json!("p-a"));
    let counted =
        q("resources | summarize n = count() by resourceGroup | order by resourceGroup asc");
    assert_eq!(counted[0]["resourceGroup"], json!("rg1"));
    // Without a project every column reaches the answer.
    let whole = q("resources | where name == 'id-a'");
    assert_eq!(whole[0]["tags"], json!({"owner": "ann", "env": "prod"}));
}

#[test]
fn aggregates_that_read_one_value_twice_both_see_it() {
    // Once per value: the aggregates may move the values out of the rows.
    let rows = q("resources | where subscriptionId == 's1' \
         | summarize l = make_list(pack('n', name, 'p', properties.principalId)), t = make_list(tags) by subscriptionId");
    assert_eq!(
        rows,
        [json!({"subscriptionId": "s1",
            "l": [{"n": "id-a", "p": "p-a"}, {"n": "id-b", "p": "p-b"}],
            "t": [{"owner": "ann", "env": "prod"}, {}]})]
    );
    // The same name twice, and a value inside another read whole: each read sees it all.
    let rows = q("resources | where subscriptionId == 's1' \
         | summarize l = make_list(pack('n', name, 'p', properties, 'q', properties.principalId)), names = make_list(name) by subscriptionId");
    assert_eq!(
        rows,
        [json!({"subscriptionId": "s1",
            "l": [{"n": "id-a", "p": {"principalId": "p-a"}, "q": "p-a"},
                  {"n": "id-b", "p": {"principalId": "p-b"}, "q": "p-b"}],
            "names": ["id-a", "id-b"]})]
    );
}

#[test]
fn pack_array_keeps_the_values_in_order_and_reads_a_value_twice() {
    let rows = q(
        "resources | where subscriptionId == 's1' | order by name asc \
         | project a = pack_array(name, properties.principalId, tags.owner, 7)",
    );
    assert_eq!(
        rows,
        [
            json!({"a": ["id-a", "p-a", "ann", 7]}),
            json!({"a": ["id-b", "p-b", null, 7]})
        ]
    );
    // Moved out of the rows by the aggregate, unless one read lies within another.
    let rows = q("resources | where subscriptionId == 's1' \
         | summarize l = make_list(pack_array(name, properties.principalId)), \
           m = make_list(pack_array(properties, properties.principalId)) by subscriptionId");
    assert_eq!(
        rows,
        [json!({"subscriptionId": "s1",
            "l": [["id-a", "p-a"], ["id-b", "p-b"]],
            "m": [[{"principalId": "p-a"}, "p-a"], [{"principalId": "p-b"}, "p-b"]]})]
    );
}

#[test]
fn a_column_read_only_through_members_is_copied_as_those_members() {
    let reads = |src: &str| source_columns(&parse(src).expect("query")).expect("reads");
    let members = |names: &[&str]| Read::Members(names.iter().map(|n| n.to_string()).collect());
    let r = reads("resources | where properties.a == 1 | project x = properties.b.c, tags");
    assert_eq!(r["properties"], members(&["a", "b"]));
    assert_eq!(r["tags"], Read::Whole);
    // Any other use reads it whole, before or after the member paths.
    for src in [
        "resources | project x = properties.a, y = tostring(properties)",
        "resources | extend p = properties | project x = properties.a",
        "resources | project x = properties[name], y = properties.b",
    ] {
        assert_eq!(reads(src)["properties"], Read::Whole, "{src}");
    }
    let row = [
        json!({"a": 1, "b": {"c": 2}, "d": 3}),
        json!("text"),
        json!(4),
    ];
    let read = [members(&["a", "b"]), members(&["a"]), Read::Nothing];
    assert_eq!(
        copy_read(&row, Some(&read)),
        [json!({"a": 1, "b": {"c": 2}}), json!("text"), Value::Null],
        "members of an object are kept, a value that is not one is copied whole"
    );
}

/// The rows of `src` and of the same operators after a `take`, which no test before copying
/// sees through: the two must agree.
fn same_as_unfiltered(src: &str) -> Vec<Value> {
    let (table, ops) = src.split_once(" | ").unwrap_or((src, ""));
    let plain = format!("{table} | take 100000 | {ops}");
    let rows = q(src);
    assert_eq!(rows, q(&plain), "{src}");
    rows
}

#[test]
fn rows_tested_before_they_are_copied_give_the_same_answers() {
    let refs = "mv-expand k = bag_keys(identity.userAssignedIdentities)";
    let id_a = "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.managedidentity/userassignedidentities/id-a";
    let cases = [
        (
            "resources | extend x = tolower(name) | where x == 'id-c'",
            1,
        ),
        // A source column extended over, then tested.
        ("resources | extend name = 'z' | where name == 'z'", 4),
        (
            "resources | extend n = name | extend name = 'z' | where n == 'vm1'",
            1,
        ),
        (
            "resources | where type =~ 'microsoft.compute/virtualmachines' | extend x = 1 | where x == 1 and name == 'vm1'",
            1,
        ),
        (
            &format!(
                "resources | where isnotempty(identity) | {refs} | extend identityId = tolower(tostring(k)) | where identityId in ('{id_a}', 'x')"
            ),
            1,
        ),
        // The expanded column extended over from the source row: its test is not the key's.
        (
            &format!("resources | {refs} | extend k = name | where k == 'vm1'"),
            2,
        ),
        (
            &format!(
                "resources | {refs} | extend j = k | extend k = name | where j endswith 'gone' and k == 'vm1'"
            ),
            1,
        ),
        // Past the limit nothing is expanded, so nothing there can match.
        (
            &format!("resources | {refs} limit 1 | where tostring(k) endswith 'id-a'"),
            0,
        ),
        (
            &format!("resources | {refs} | where tostring(k) endswith 'id-a'"),
            1,
        ),
        (&format!("resources | {refs} | where k == name"), 0),
        (
            &format!("resources | extend k = 'x' | {refs} | where k != 'x'"),
            2,
        ),
        (
            "resources | extend t = tags | mv-expand t | where tostring(t) has 'ann'",
            1,
        ),
        (
            "resources | mv-expand tags | where isnotempty(tags) | project name",
            4,
        ),
    ];
    for (src, n) in cases {
        assert_eq!(same_as_unfiltered(src).len(), n, "{src}");
    }
}

#[test]
fn a_lookup_through_mv_expand_is_tested_on_the_source_rows() {
    use super::prefilter::Prefilter;
    let query = parse(
        "resources | mv-expand k = bag_keys(identity.userAssignedIdentities) | extend i = tolower(tostring(k)) | where i endswith '/gone' | project id",
    )
    .expect("parses");
    let resources = &catalog()["resources"];
    let filter = Prefilter::of(&query.ops, &resources.columns, 128).expect("a test");
    let idx: HashMap<String, usize> = resources
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i))
        .collect();
    let kept: Vec<&Value> = resources
        .rows
        .iter()
        .filter(|r| filter.keeps(r, &idx))
        .map(|r| &r[1])
        .collect();
    assert_eq!(kept, [&json!("vm1")]);
    // Nothing to test: no filter.
    let query = parse("resources | project id").expect("parses");
    assert!(Prefilter::of(&query.ops, &resources.columns, 128).is_none());
}
