//! The cleanup and audit workflows end to end: every stdlib function (through its own doc
//! example, and against a seeded emulator with the outcome read back over HTTP), the report
//! renderings, the time helpers, and every shipped script in dry-run and for real. The
//! README's first command (the demo) has its own file, `tests/demo.rs`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Azid, Env, Run};

/// Where the shipped scripts are.
pub(crate) const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts");

/// The seed: (group, name, location, tags). Two groups, a duplicate name, missing tags, a bad
/// name, an expiry that has passed in each group, one in the future and one that is no date.
const SEED: &[(&str, &str, &str, &str)] = &[
    (
        "rg-a",
        "app-1",
        "eastus",
        r#"{"owner": "me", "env": "prod"}"#,
    ),
    ("rg-a", "app-2", "eastus", r#"{"owner": "you"}"#),
    (
        "rg-a",
        "ci-1",
        "eastus",
        r#"{"owner": "ci", "env": "test", "expires-on": "2020-01-01"}"#,
    ),
    (
        "rg-a",
        "ci-2",
        "eastus",
        r#"{"owner": "ci", "env": "test", "expires-on": "2999-01-01"}"#,
    ),
    (
        "rg-a",
        "ci-3",
        "eastus",
        r#"{"owner": "ci", "env": "test", "expires-on": "soon"}"#,
    ),
    ("rg-a", "Bad_Name", "eastus", r#"{"env": "dev"}"#),
    (
        "rg-b",
        "app-1",
        "westus",
        r#"{"owner": "me", "env": "dev"}"#,
    ),
    (
        "rg-b",
        "ci-4",
        "westus",
        r#"{"owner": "ci", "expires-on": "2021-06-30T12:00:00Z"}"#,
    ),
];

/// Every identity of the seed, as `group/name`, sorted.
const ALL: [&str; 8] = [
    "rg-a/Bad_Name",
    "rg-a/app-1",
    "rg-a/app-2",
    "rg-a/ci-1",
    "rg-a/ci-2",
    "rg-a/ci-3",
    "rg-b/app-1",
    "rg-b/ci-4",
];

/// An emulator holding the seed.
pub(crate) async fn seeded() -> Env {
    let env = Env::start().await;
    env.group("rg-a").await;
    env.group("rg-b").await;
    for (rg, name, location, tags) in SEED {
        let tags: Value = serde_json::from_str(tags).expect("seed tags are JSON");
        let r = env
            .call(
                Method::PUT,
                &env.identity_path(rg, name),
                Some(json!({"location": location, "tags": tags})),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.body);
    }
    env
}

/// What the emulator holds, as sorted `group/name`.
pub(crate) async fn held(env: &Env) -> Vec<String> {
    let (items, _) = env.list_all(&env.identities_in_sub()).await;
    let mut names: Vec<String> = items
        .iter()
        .map(|i| {
            let id = i["id"].as_str().expect("id");
            let rg = id.split('/').nth(4).expect("a group in the id");
            format!("{rg}/{}", i["name"].as_str().expect("name"))
        })
        .collect();
    names.sort();
    names
}

/// The seed without these `group/name`s.
fn all_but(gone: &[&str]) -> Vec<String> {
    ALL.iter()
        .filter(|n| !gone.contains(n))
        .map(|n| n.to_string())
        .collect()
}

async fn eval(env: &Env, script: &str) -> Value {
    Azid::at(env, &["eval", script]).run().await.ok().json()
}

/// `azid [options] run scripts/NAME -- ARGS` against the emulator.
pub(crate) async fn script(env: &Env, options: &[&str], name: &str, args: &[&str]) -> Run {
    let path = format!("{SCRIPTS}/{name}");
    let mut all: Vec<&str> = options.to_vec();
    all.extend(["run", &path, "--"]);
    all.extend_from_slice(args);
    Azid::at(env, &all).run().await
}

/// `//! ...` docs, and each public function's `///` doc with an `Example: \`...\`` line.
fn examples(module: &str, text: &str) -> Vec<(String, String)> {
    assert!(text.starts_with("//!"), "{module} opens with a //! doc");
    let mut out = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.trim());
            continue;
        }
        if let Some(rest) = line.strip_prefix("fn ") {
            let name = rest.split('(').next().unwrap_or(rest).to_string();
            let example = doc
                .iter()
                .find_map(|d| d.strip_prefix("Example: `"))
                .and_then(|e| e.split('`').next())
                .unwrap_or_else(|| panic!("{module}::{name} has a /// doc with an Example"));
            assert!(
                doc.first().is_some_and(|d| !d.is_empty()),
                "{module}::{name} says what it does"
            );
            out.push((name, example.to_string()));
        }
        doc.clear();
    }
    out
}

#[tokio::test]
async fn every_stdlib_function_has_an_example_that_runs() {
    let mut count = 0;
    for (module, text) in azid::host::stdlib::MODULES {
        for (name, example) in examples(module, text) {
            let env = crate::scripting::fixture().await;
            let files = crate::scripting::example_files();
            let script = format!("import \"{module}\" as {module};\n{example}");
            let run = Azid::at(
                &env,
                &["--allow-read", ".", "--allow-write", ".", "eval", &script],
            )
            .cwd(files.path())
            .run()
            .await;
            assert_eq!(run.code, 0, "{module}::{name}: {example}\n{run:?}");
            count += 1;
        }
    }
    assert!(count >= 30, "only {count} examples found");
}

#[tokio::test]
async fn audit_reports_what_the_seed_breaks_and_changes_nothing() {
    let env = seeded().await;
    let out = eval(
        &env,
        r#"
        import "audit" as audit;
        import "report" as report;
        fn q(findings, field) {
            let out = findings.map(|f| `${f.resourceGroup}/${f.name} ${report::text(f[field])}`);
            out.sort();
            out
        }
        let ids = identity_list();
        #{
            missing: q(audit::missing_tags(ids, "owner, env"), "missing"),
            missing_array: audit::missing_tags(ids, ["owner", "env"]).len(),
            names: q(audit::bad_names(ids, "^[a-z][a-z0-9-]*$"), "pattern"),
            values: q(audit::bad_tag_values(ids, "env", "^(prod|test)$"), "value"),
            dates: q(audit::bad_dates(ids, "expires-on"), "value"),
            duplicates: audit::duplicates(ids),
            locations: audit::count_by(ids, "location"),
            groups: audit::count_by(ids, "resourceGroup"),
            owners: audit::count_by(ids, "tags.owner"),
            tags: audit::count_tags(ids),
            ids: audit::bad_names(ids, "^[a-z]").map(|f| f.id),
        }
        "#,
    )
    .await;
    assert_eq!(
        out["missing"],
        json!(["rg-a/Bad_Name owner", "rg-a/app-2 env", "rg-b/ci-4 env"])
    );
    assert_eq!(out["missing_array"], 3);
    assert_eq!(out["names"], json!(["rg-a/Bad_Name ^[a-z][a-z0-9-]*$"]));
    assert_eq!(
        out["values"],
        json!(["rg-a/Bad_Name dev", "rg-b/app-1 dev"])
    );
    assert_eq!(out["dates"], json!(["rg-a/ci-3 soon"]));
    assert_eq!(
        out["duplicates"],
        json!([{"name": "app-1", "count": 2, "resourceGroups": ["rg-a", "rg-b"]}])
    );
    assert_eq!(
        out["locations"],
        json!([{"location": "eastus", "count": 6}, {"location": "westus", "count": 2}])
    );
    assert_eq!(
        out["groups"],
        json!([{"resourceGroup": "rg-a", "count": 6}, {"resourceGroup": "rg-b", "count": 2}])
    );
    assert_eq!(
        out["owners"],
        json!([
            {"tags.owner": "ci", "count": 4},
            {"tags.owner": "me", "count": 2},
            {"tags.owner": "(none)", "count": 1},
            {"tags.owner": "you", "count": 1},
        ])
    );
    assert_eq!(
        out["tags"],
        json!([
            {"tag": "owner", "count": 7},
            {"tag": "env", "count": 6},
            {"tag": "expires-on", "count": 4},
        ])
    );
    let bad_id = out["ids"][0].as_str().expect("an id");
    assert!(
        bad_id.ends_with("/resourcegroups/rg-a/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Bad_Name"),
        "{bad_id}"
    );
    assert_eq!(held(&env).await, ALL, "an audit changes nothing");
}

#[tokio::test]
async fn report_renders_tables_csv_json_and_markdown() {
    let env = Env::start().await;
    let out = eval(
        &env,
        r#"
        import "report" as report;
        let rows = [
            #{name: "b", n: 10, tags: #{x: "1", y: "a,b"}},
            #{name: "A", n: 2, tags: #{}},
            #{name: "c", n: (), tags: #{x: "2"}},
        ];
        #{
            table: report::table(rows, #{columns: ["name", "n", "tags.x"], sort: "n"}),
            desc: report::table(rows, #{columns: ["name"], sort: "name", desc: true}),
            all: report::table(rows),
            csv: report::csv(rows, #{columns: ["name", "tags"], sort: "name"}),
            json: report::json(rows, #{columns: ["name", "tags.x"], sort: ["name"]}),
            markdown: report::markdown(rows, #{columns: ["name", "tags"], sort: "name"}),
            empty: [report::table([]), report::csv([], #{columns: ["a"]}), report::json([]), report::markdown([])],
        }
        "#,
    )
    .await;
    assert_eq!(
        out["table"],
        "name  n   tags.x\n----  --  ------\nc         2\nA     2\nb     10  1\n"
    );
    assert_eq!(out["desc"], "name\n----\nc\nb\nA\n");
    assert_eq!(
        out["all"],
        "n   name  tags\n--  ----  ---------\n10  b     x=1;y=a,b\n2   A\n    c     x=2\n",
        "columns by name: n before name"
    );
    assert_eq!(out["csv"], "name,tags\nA,\nb,\"x=1;y=a,b\"\nc,x=2\n");
    assert_eq!(
        serde_json::from_str::<Value>(out["json"].as_str().expect("text")).expect("JSON"),
        json!([
            {"name": "A", "tags.x": null},
            {"name": "b", "tags.x": "1"},
            {"name": "c", "tags.x": "2"},
        ])
    );
    assert_eq!(
        out["markdown"],
        "| name | tags |\n| --- | --- |\n| A |  |\n| b | x=1;y=a,b |\n| c | x=2 |\n"
    );
    assert_eq!(out["empty"], json!(["", "a\n", "[]", ""]));

    let bad = Azid::at(
        &env,
        &[
            "eval",
            "import \"report\" as report;\nreport::table([#{a: 1}], #{colums: [\"a\"]})",
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(
        bad.stderr
            .starts_with("<eval>:2:9: (InvalidArgument) report: unknown option 'colums'"),
        "the error points at the call in the script: {}",
        bad.stderr
    );
}

#[tokio::test]
async fn time_helpers_read_iso_dates() {
    let env = Env::start().await;
    let out = eval(
        &env,
        r#"
        let caught = ();
        try { parse_date("soon") } catch (e) { caught = e }
        [
            parse_date("2024-02-28T23:00:00-02:00"),
            days_between("2024-02-28", "2024-03-01"),
            days_between(now(), "2000-01-01") < 0,
            days_between(now(), "2999-01-01") > 0,
            now() > "2025-01-01T00:00:00Z",
            caught.code,
            caught.message,
        ]
        "#,
    )
    .await;
    assert_eq!(
        out,
        json!([
            "2024-02-29T01:00:00Z",
            2,
            true,
            true,
            true,
            "InvalidArgument",
            "invalid date 'soon': expected an RFC 3339 date-time such as 2025-01-31T12:00:00Z, or a date such as 2025-01-31"
        ])
    );
}

#[tokio::test]
async fn cleanup_selects_by_prefix_glob_tag_expiry_and_predicate() {
    let env = seeded().await;
    let out = eval(
        &env,
        r#"
        import "cleanup" as cleanup;
        fn q(selection) {
            let out = selection.map(|i| i.resourceGroup + "/" + i.name);
            out.sort();
            out
        }
        let ids = identity_list();
        #{
            prefix: q(cleanup::by_prefix(ids, "CI-")),
            glob: q(cleanup::by_glob(ids, "app-?")),
            tag: q(cleanup::by_tag(ids, "expires-on")),
            value: q(cleanup::by_tag(ids, "owner", "me")),
            expired: q(cleanup::expired(ids)),
            expired_tag: q(cleanup::expired(ids, "env")),
            matching: q(cleanup::matching(ids, |i| i.location == "westus")),
        }
        "#,
    )
    .await;
    assert_eq!(
        out,
        json!({
            "prefix": ["rg-a/ci-1", "rg-a/ci-2", "rg-a/ci-3", "rg-b/ci-4"],
            "glob": ["rg-a/app-1", "rg-a/app-2", "rg-b/app-1"],
            "tag": ["rg-a/ci-1", "rg-a/ci-2", "rg-a/ci-3", "rg-b/ci-4"],
            "value": ["rg-a/app-1", "rg-b/app-1"],
            "expired": ["rg-a/ci-1", "rg-b/ci-4"],
            "expired_tag": [],
            "matching": ["rg-b/app-1", "rg-b/ci-4"],
        })
    );
    let empty = Azid::at(
        &env,
        &[
            "eval",
            r#"import "cleanup" as c; c::by_prefix(identity_list(), "")"#,
        ],
    )
    .run()
    .await
    .fails(1);
    assert!(
        empty
            .stderr
            .contains("(InvalidArgument) cleanup::by_prefix"),
        "{}",
        empty.stderr
    );
    assert_eq!(held(&env).await, ALL, "selecting changes nothing");
}

/// The plan of the seed's expired identities, as `cleanup::plan` prints it.
const EXPIRED_PLAN: &str = "2 identities would be deleted:
name  resourceGroup  location  tags
----  -------------  --------  ----------------------------------------
ci-1  rg-a           eastus    env=test;expires-on=2020-01-01;owner=ci
ci-4  rg-b           westus    expires-on=2021-06-30T12:00:00Z;owner=ci
";

#[tokio::test]
async fn cleanup_plans_then_applies_only_when_confirmed() {
    let env = seeded().await;
    let apply = r#"import "cleanup" as c;
        let sel = c::expired(identity_list());
        c::plan(sel);
        c::apply(sel).map(|r| [r.name, r.ok, r.status, if r.error == () { () } else { r.error.code }])"#;

    // Not confirmed (no terminal, no --yes): every item says so, nothing is sent.
    let declined = Azid::at(&env, &["eval", apply]).run().await.ok();
    assert!(
        declined.stdout.starts_with(&format!(
            "{EXPIRED_PLAN}Not confirmed: nothing was deleted (answer y at a terminal, or pass --yes).\n"
        )),
        "{}",
        declined.stdout
    );
    let results: Value =
        serde_json::from_str(&declined.stdout[declined.stdout.find("\n[").expect("the value")..])
            .expect("JSON");
    assert_eq!(
        results,
        json!([
            ["ci-1", false, null, "NotConfirmed"],
            ["ci-4", false, null, "NotConfirmed"]
        ])
    );
    assert_eq!(held(&env).await, ALL);

    // Dry-run: no question, the deletes are planned, nothing changes.
    let dry = Azid::at(&env, &["eval", apply, "--dry-run"])
        .run()
        .await
        .ok();
    assert!(
        dry.stdout.starts_with(&format!(
            "{EXPIRED_PLAN}Would delete 2 of 2 identities: 0 already gone, 0 failed.\n"
        )),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.ends_with(
            "Plan: 0 to create, 0 to update, 2 to delete. Nothing was changed (dry run).\n"
        ),
        "{}",
        dry.stdout
    );
    assert_eq!(dry.stdout.matches("\n- delete /subscriptions/").count(), 2);
    assert_eq!(held(&env).await, ALL);

    // For real.
    let real = Azid::at(&env, &["eval", apply, "--yes"]).run().await.ok();
    assert!(
        real.stdout.starts_with(&format!(
            "{EXPIRED_PLAN}Deleted 2 of 2 identities: 0 already gone, 0 failed.\n"
        )),
        "{}",
        real.stdout
    );
    assert_eq!(held(&env).await, all_but(&["rg-a/ci-1", "rg-b/ci-4"]));

    // A stale selection: what is already gone is reported as such, not as a failure.
    let stale = Azid::at(
        &env,
        &[
            "eval",
            r#"import "cleanup" as c;
            let sel = c::by_prefix(identity_list("rg-a"), "ci-");
            identity_delete(sel[0]);
            c::apply(sel, #{ask: false}).map(|r| [r.name, r.ok, r.status])"#,
        ],
    )
    .run()
    .await
    .ok();
    let (summary, value) = stale.stdout.split_once('\n').expect("two parts");
    assert_eq!(
        summary,
        "Deleted 1 of 2 identities: 1 already gone, 0 failed."
    );
    assert_eq!(
        serde_json::from_str::<Value>(value).expect("JSON"),
        json!([["ci-2", true, 204], ["ci-3", true, 200]]),
        "ci-2 went before apply ran"
    );
    assert_eq!(
        held(&env).await,
        all_but(&["rg-a/ci-1", "rg-a/ci-2", "rg-a/ci-3", "rg-b/ci-4"])
    );
}

#[tokio::test]
async fn script_cleanup_prefix() {
    let env = seeded().await;
    let usage = script(&env, &[], "cleanup-prefix.rhai", &[]).await.fails(2);
    assert!(usage.stderr.contains("usage: "), "{}", usage.stderr);
    script(&env, &[], "cleanup-prefix.rhai", &["ci-", "-g"])
        .await
        .fails(2);

    let declined = script(&env, &[], "cleanup-prefix.rhai", &["ci-", "-g", "rg-a"])
        .await
        .fails(1);
    assert!(
        declined
            .stdout
            .starts_with("3 identities would be deleted:\n"),
        "{}",
        declined.stdout
    );
    assert!(declined.stdout.contains("Not confirmed"));
    let dry = script(
        &env,
        &["--dry-run"],
        "cleanup-prefix.rhai",
        &["ci-", "-g", "rg-a"],
    )
    .await
    .ok();
    assert!(
        dry.stdout
            .contains("Would delete 3 of 3 identities: 0 already gone, 0 failed.\n"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .ends_with("0 to update, 3 to delete. Nothing was changed (dry run).\n")
    );
    assert_eq!(held(&env).await, ALL);

    script(
        &env,
        &["--yes"],
        "cleanup-prefix.rhai",
        &["CI-", "-g", "rg-a"],
    )
    .await
    .ok();
    assert_eq!(
        held(&env).await,
        all_but(&["rg-a/ci-1", "rg-a/ci-2", "rg-a/ci-3"]),
        "only rg-a's"
    );
    let rest = script(&env, &["--yes"], "cleanup-prefix.rhai", &["ci-"])
        .await
        .ok();
    assert!(
        rest.stdout.contains("Deleted 1 of 1 identity"),
        "{}",
        rest.stdout
    );
    assert_eq!(
        held(&env).await,
        ["rg-a/Bad_Name", "rg-a/app-1", "rg-a/app-2", "rg-b/app-1"]
    );
    let none = script(&env, &["--yes"], "cleanup-prefix.rhai", &["ci-"])
        .await
        .ok();
    assert_eq!(none.stdout, "Nothing to delete.\n");
}

#[tokio::test]
async fn script_cleanup_expired() {
    let env = seeded().await;
    let dry = script(&env, &["--dry-run"], "cleanup-expired.rhai", &[])
        .await
        .ok();
    assert_eq!(
        dry.stderr,
        "skipped rg-a/ci-3: its expires-on tag 'soon' is not a date\n"
    );
    assert!(dry.stdout.starts_with(EXPIRED_PLAN), "{}", dry.stdout);
    assert!(
        dry.stdout
            .ends_with("2 to delete. Nothing was changed (dry run).\n")
    );
    assert_eq!(held(&env).await, ALL);

    script(&env, &["--yes"], "cleanup-expired.rhai", &["-g", "rg-b"])
        .await
        .ok();
    assert_eq!(held(&env).await, all_but(&["rg-b/ci-4"]));
    script(&env, &["--yes"], "cleanup-expired.rhai", &[])
        .await
        .ok();
    assert_eq!(held(&env).await, all_but(&["rg-b/ci-4", "rg-a/ci-1"]));
    script(&env, &[], "cleanup-expired.rhai", &["--days", "3"])
        .await
        .fails(2);
}

#[tokio::test]
async fn script_audit_tags_gates_on_the_policy() {
    let env = seeded().await;
    let broken = script(&env, &[], "audit-tags.rhai", &["owner,env"])
        .await
        .fails(1);
    assert_eq!(
        broken.stdout,
        "name      resourceGroup  missing
--------  -------------  -------
app-2     rg-a           env
Bad_Name  rg-a           owner
ci-4      rg-b           env

3 of 8 identities in the subscription lack required tags: owner, env.
"
    );
    let fine = script(&env, &[], "audit-tags.rhai", &["owner", "-g", "rg-b"])
        .await
        .ok();
    assert_eq!(
        fine.stdout,
        "All 2 identities in resource group rg-b have the tags owner.\n"
    );
    script(&env, &[], "audit-tags.rhai", &[]).await.fails(2);
    script(&env, &[], "audit-tags.rhai", &[" , "])
        .await
        .fails(2);
    assert_eq!(held(&env).await, ALL);
}

#[tokio::test]
async fn script_inventory_counts() {
    let env = seeded().await;
    let run = script(&env, &[], "inventory.rhai", &["-g", "rg-a", "-t", "env"])
        .await
        .ok();
    assert_eq!(
        run.stdout,
        "6 identities in resource group rg-a

location  count
--------  -----
eastus    6

resourceGroup  count
-------------  -----
rg-a           6

tag         count
----------  -----
env         5
owner       5
expires-on  3

tags.env  count
--------  -----
test      3
(none)    1
dev       1
prod      1

"
    );
    let all = script(&env, &[], "inventory.rhai", &[]).await.ok();
    assert!(
        all.stdout.starts_with("8 identities in the subscription\n"),
        "{}",
        all.stdout
    );
    script(&env, &[], "inventory.rhai", &["-x"]).await.fails(2);
}

#[tokio::test]
async fn script_export_and_bulk_create_round_trip() {
    let env = seeded().await;
    let csv = script(&env, &[], "export.rhai", &["csv", "-g", "rg-b"])
        .await
        .ok();
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "name,resourceGroup,location,tags,clientId,principalId,id"
    );
    assert!(lines[1].starts_with("app-1,rg-b,westus,env=dev;owner=me,"));
    assert!(lines[2].starts_with("ci-4,rg-b,westus,expires-on=2021-06-30T12:00:00Z;owner=ci,"));
    assert_eq!(lines.len(), 3);

    let json = script(&env, &[], "export.rhai", &["json"])
        .await
        .ok()
        .json();
    let items = json.as_array().expect("array");
    assert_eq!(items.len(), 8);
    assert_eq!(items[0]["name"], "app-1", "sorted by group, then name");
    assert_eq!(
        items[0].as_object().expect("map").len(),
        7,
        "the export's columns"
    );

    // --out writes only where --allow-write allows.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("all.csv");
    let file = file.to_str().expect("utf-8");
    let denied = script(&env, &[], "export.rhai", &["csv", "--out", file])
        .await
        .fails(1);
    assert!(
        denied.stderr.contains("(PermissionDenied)"),
        "{}",
        denied.stderr
    );
    assert!(!dir.path().join("all.csv").exists());
    let dir_arg = dir.path().to_str().expect("utf-8");
    let wrote = script(
        &env,
        &["--allow-write", dir_arg],
        "export.rhai",
        &["csv", "--out", file],
    )
    .await
    .ok();
    assert_eq!(wrote.stderr, format!("wrote 8 identities to {file}\n"));
    script(&env, &[], "export.rhai", &["xml"]).await.fails(2);

    // The file reads back into another subscription: same names, places and tags.
    let other = Env::start().await;
    other.group("rg-a").await;
    other.group("rg-b").await;
    let denied = script(&other, &[], "bulk-create.rhai", &[file])
        .await
        .fails(1);
    assert!(
        denied.stderr.contains("(PermissionDenied)"),
        "{}",
        denied.stderr
    );
    let dry = script(
        &other,
        &["--dry-run", "--allow-read", dir_arg],
        "bulk-create.rhai",
        &[file],
    )
    .await
    .ok();
    assert!(
        dry.stdout.starts_with(&format!(
            "Would create or update 8 of 8 identities from {file}; 0 failed.\n"
        )),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.ends_with(
        "Plan: 8 to create, 0 to update, 0 to delete. Nothing was changed (dry run).\n"
    ));
    assert!(held(&other).await.is_empty());
    let created = script(
        &other,
        &["--allow-read", dir_arg],
        "bulk-create.rhai",
        &[file],
    )
    .await
    .ok();
    assert_eq!(
        created.stdout,
        format!("Created or updated 8 of 8 identities from {file}; 0 failed.\n")
    );
    assert_eq!(held(&other).await, ALL);
    for (rg, name, location, tags) in SEED {
        let got = other
            .call(Method::GET, &other.identity_path(rg, name), None)
            .await
            .body;
        let tags: Value = serde_json::from_str(tags).expect("JSON");
        assert_eq!(
            (&got["location"], &got["tags"]),
            (&json!(location), &tags),
            "{rg}/{name}"
        );
    }
}

#[tokio::test]
async fn script_bulk_create_checks_every_row_first() {
    let env = seeded().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_string()
    };
    let allow = ["--allow-read", dir.path().to_str().expect("utf-8")];
    let bad = write(
        "bad.csv",
        "name,resourceGroup,tags\nnew-1,rg-a,team=x\n,rg-a,\nnew-3,,\nnew-4,rg-a,=v\n",
    );
    let run = script(&env, &allow, "bulk-create.rhai", &[&bad])
        .await
        .fails(2);
    assert_eq!(
        run.stderr,
        format!(
            "{bad}: line 3: name and resourceGroup are required\n{bad}: line 4: name and resourceGroup are required\n{bad}: line 5: the tag '=v' has no name\nnothing was created\n"
        )
    );
    assert_eq!(held(&env).await, ALL, "nothing was sent");

    // Names, tags and groups are checked as the creates would check them, all before
    // the first create.
    let unsendable = write(
        "unsendable.csv",
        "name,resourceGroup,location,tags\nnew-1,rg-a,,team=x\nx!,rg-a,,\nnew-5,rg-a,,a<b=1\nnew-6,nowhere,,\nNEW-1,rg-a,,\n",
    );
    let run = script(&env, &allow, "bulk-create.rhai", &[&unsendable])
        .await
        .fails(2);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 5, "{}", run.stderr);
    assert!(
        lines[0].starts_with(&format!("{unsendable}: line 3: invalid identity name 'x!'")),
        "{}",
        run.stderr
    );
    assert!(
        lines[1].starts_with(&format!("{unsendable}: line 4: ")) && lines[1].contains("a<b"),
        "{}",
        run.stderr
    );
    assert_eq!(
        lines[2],
        format!("{unsendable}: line 5: the resource group 'nowhere' does not exist")
    );
    assert_eq!(
        lines[3],
        format!("{unsendable}: line 6: NEW-1 in rg-a is also on line 2")
    );
    assert_eq!(lines[4], "nothing was created");
    assert_eq!(held(&env).await, ALL, "nothing was sent");

    let mixed = write(
        "mixed.csv",
        "name,resourceGroup,location,tags,comment\nnew-1,rg-a,,team=x;flag,ignored\nnew-3,rg-b,westus,team=x;flag,\n",
    );
    let run = script(&env, &allow, "bulk-create.rhai", &[&mixed])
        .await
        .ok();
    assert_eq!(
        run.stdout,
        format!("Created or updated 2 of 2 identities from {mixed}; 0 failed.\n")
    );
    let new1 = env
        .call(Method::GET, &env.identity_path("rg-a", "new-1"), None)
        .await
        .body;
    assert_eq!(
        (&new1["location"], &new1["tags"]),
        (&json!("eastus"), &json!({"team": "x", "flag": ""})),
        "the group's location by default; a bare name is an empty tag"
    );
    let new3 = env
        .call(Method::GET, &env.identity_path("rg-b", "new-3"), None)
        .await
        .body;
    assert_eq!(new3["location"], "westus");
    script(&env, &allow, "bulk-create.rhai", &[]).await.fails(2);
}

#[test]
fn every_script_says_what_it_does_and_is_in_the_table() {
    let readme =
        std::fs::read_to_string(format!("{SCRIPTS}/README.md")).expect("scripts/README.md");
    let mut names: Vec<String> = std::fs::read_dir(SCRIPTS)
        .expect("scripts/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rhai"))
        .collect();
    names.sort();
    // Each is run by a test in this file, in demo.rs, relations.rs or report.rs.
    assert_eq!(
        names,
        [
            "audit-orphans.rhai",
            "audit-tags.rhai",
            "bulk-create.rhai",
            "cleanup-expired.rhai",
            "cleanup-prefix.rhai",
            "demo.rhai",
            "export.rhai",
            "inventory.rhai",
            "report.rhai",
            "retire.rhai"
        ]
    );
    for name in &names {
        let text = std::fs::read_to_string(format!("{SCRIPTS}/{name}")).expect("script");
        assert!(
            text.starts_with(&format!("// {name}: ")),
            "{name} opens with what it does"
        );
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("//")).collect();
        assert!(
            header.iter().any(|l| l.starts_with("// Arguments: ")),
            "{name}: arguments"
        );
        let example = header
            .iter()
            .find_map(|l| l.strip_prefix("// Example:"))
            .unwrap_or_else(|| panic!("{name}: an example command"));
        assert!(
            example.trim().contains(&format!("scripts/{name}")),
            "{name}: {example}"
        );
        assert!(
            readme.contains(&format!("[`{name}`]({name})")),
            "{name} is in scripts/README.md"
        );
    }
}

#[tokio::test]
async fn usage_text_has_real_line_breaks() {
    let env = seeded().await;
    for name in [
        "audit-orphans.rhai",
        "audit-tags.rhai",
        "cleanup-expired.rhai",
        "cleanup-prefix.rhai",
        "export.rhai",
        "inventory.rhai",
    ] {
        let run = script(&env, &[], name, &["x", "--bogus"]).await.fails(2);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert!(!run.stderr.contains("\\n"), "{name}: {}", run.stderr);
        assert!(
            lines.len() == 2 && lines[1].starts_with("usage: azid "),
            "{name}: {}",
            run.stderr
        );
    }
    // The other messages that print the usage.
    for (name, args) in [
        ("audit-tags.rhai", &["owner", "-g"][..]),
        ("audit-tags.rhai", &[][..]),
        ("cleanup-prefix.rhai", &[""][..]),
        ("export.rhai", &["xml"][..]),
    ] {
        let run = script(&env, &[], name, args).await.fails(2);
        assert!(!run.stderr.contains("\\n"), "{name}: {}", run.stderr);
        assert!(
            run.stderr.lines().any(|l| l.starts_with("usage: azid ")),
            "{name}: {}",
            run.stderr
        );
    }
}
