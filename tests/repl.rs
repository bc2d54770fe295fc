//! The REPL driven through a pseudo-terminal, as a person would: completion, multi-line
//! input, one scope, `:` commands, Ctrl-C, Ctrl-D, and history across restarts.

use std::process::Command;
use std::time::Duration;

use rexpect::session::{PtySession, spawn_command};

const TIMEOUT_MS: u64 = 20_000;

/// An empty prompt: while a line is typed, redraws show `azid> text`, never `> ` then `\r`.
const FRESH_PROMPT: &str = "> \r";

/// `azid --local=DIR` on a terminal, with its history under `home`.
fn start(local: &std::path::Path, home: &std::path::Path) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_azid"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("TERM", "xterm")
        .env("RUST_BACKTRACE", "0")
        .arg(format!("--local={}", local.display()));
    let mut session = spawn_command(cmd, Some(TIMEOUT_MS)).expect("azid starts on a pty");
    session
        .exp_string(":help lists what you can do")
        .expect("banner");
    session.exp_string(FRESH_PROMPT).expect("prompt");
    session
}

/// Types a line, waits for `expect` in the output and then for the next empty prompt
/// (keys typed before the prompt is back would be lost, as at a real terminal).
fn run(s: &mut PtySession, line: &str, expect: &str) {
    s.send_line(line).expect("send");
    if !expect.is_empty() {
        s.exp_string(expect)
            .unwrap_or_else(|e| panic!("after `{line}` expected `{expect}`: {e}"));
    }
    s.exp_string(FRESH_PROMPT)
        .unwrap_or_else(|e| panic!("no prompt after `{line}`: {e}"));
}

/// Types keys without Enter, and gives the editor a moment to take them.
fn keys(s: &mut PtySession, text: &str) {
    s.send(text).expect("send");
    s.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn a_session_at_the_prompt() {
    let (local, home) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let mut s = start(local.path(), home.path());

    run(&mut s, ":help", "Functions (:help NAME");
    run(
        &mut s,
        ":help identity_show",
        "example: identity_show(\"rg\", \"app-1\").principalId",
    );
    run(
        &mut s,
        r#"group_create("rg", "eastus").name + "-made""#,
        "rg-made",
    );

    // Function names complete with Tab.
    keys(&mut s, "identity_cr\t");
    run(&mut s, r#"("rg", "app-1").name + "-done""#, "app-1-done");
    // Names seen in this session complete inside strings.
    keys(&mut s, "identity_show(\"r\t");
    keys(&mut s, "\", \"ap\t");
    run(&mut s, "\").location + \"-found\"", "eastus-found");
    // Fields of a map variable complete after the dot.
    run(&mut s, r#"let x = identity_show("rg", "app-1");"#, "");
    keys(&mut s, "x.resourceGr\t");
    run(&mut s, " + \"-field\"", "rg-field");

    // An unfinished block continues on the next line; variables persist.
    s.send_line("if true {").expect("send");
    s.exp_string("...> ").expect("a continuation prompt");
    run(&mut s, "\"multi-\" + (40 + 2) }", "multi-42");
    run(&mut s, "let keep = 5;", "");
    run(&mut s, "\"kept-\" + keep * 2", "kept-10");
    run(&mut s, ":vars", "let keep: i64 = 5");
    // :load runs a file in the same scope.
    let file = local.path().join("extra.rhai");
    std::fs::write(&file, "let loaded = keep + 2;").expect("write");
    run(&mut s, &format!(":load {}", file.display()), "");
    run(&mut s, "\"loaded-\" + loaded", "loaded-7");

    // Ctrl-C drops the line being typed and keeps the session.
    keys(&mut s, "this is not rhai");
    s.send_control('c').expect("ctrl-c");
    s.exp_string(FRESH_PROMPT).expect("a new prompt");
    run(&mut s, "\"after-ctrl-c-\" + (1 + 2)", "after-ctrl-c-3");
    // Ctrl-C stops a running command, and the session goes on.
    // (The script says when it runs: only then is the terminal out of the editor's raw mode.)
    s.send_line("print(\"looping-now\"); loop { }")
        .expect("send");
    s.exp_string("looping-now\r\n").expect("the loop runs");
    s.send_control('c').expect("ctrl-c");
    s.exp_string("interrupted").expect("the loop stops");
    s.exp_string(FRESH_PROMPT).expect("a new prompt");
    run(&mut s, "\"alive-\" + 7 * 6", "alive-42");

    // Dry-run records instead of sending, and prints the plan when turned off.
    run(&mut s, ":dry-run on", "dry-run on");
    run(
        &mut s,
        r#"identity_create("rg", "dry-1").clientId"#,
        "(known after apply)",
    );
    run(
        &mut s,
        ":dry-run off",
        "Plan: 1 to create, 0 to update, 0 to delete.",
    );
    run(
        &mut s,
        r#"if identity_show("rg", "dry-1") == () { "not-created" }"#,
        "not-created",
    );

    // Errors render with a caret, and the session goes on.
    run(
        &mut s,
        r#"identity_update("rg", "nobody", #{tags: #{}})"#,
        "(ResourceNotFound)",
    );
    run(&mut s, r#""count-" + identity_list().len()"#, "count-1");

    s.send_control('d').expect("ctrl-d");
    s.exp_eof().expect("leaves");
}

#[test]
fn history_survives_a_restart() {
    let (local, home) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let mut first = start(local.path(), home.path());
    run(&mut first, "let marker = 41 + 1;", "");
    first.send_control('d').expect("ctrl-d");
    first.exp_eof().expect("leaves");
    let saved =
        std::fs::read_to_string(home.path().join("data/azid/history.txt")).expect("history saved");
    assert!(saved.contains("let marker = 41 + 1;"), "{saved}");

    let mut second = start(local.path(), home.path());
    // Up arrow brings back the last line of the previous session.
    keys(&mut second, "\x1b[A");
    run(&mut second, "", "");
    run(&mut second, "\"marker-\" + marker", "marker-42");
    second.send_control('d').expect("ctrl-d");
    second.exp_eof().expect("leaves");
}

#[test]
fn functions_and_imports_outlive_their_line() {
    let (local, home) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let mut s = start(local.path(), home.path());
    // Defined on one line, called on the next.
    run(&mut s, "fn double(x) { x * 2 }", "");
    run(&mut s, "\"double-\" + double(21)", "double-42");
    // Defined over several lines, each after the continuation prompt.
    s.send_line("fn triple(x) {").expect("send");
    s.exp_string("...> ").expect("a continuation prompt");
    s.send_line("x * 3").expect("send");
    s.exp_string("...> ").expect("a continuation prompt");
    run(&mut s, "}", "");
    run(&mut s, "\"triple-\" + triple(5)", "triple-15");
    // Redefining replaces.
    run(&mut s, "fn double(x) { x * 20 }", "");
    run(&mut s, "\"again-\" + double(2)", "again-40");
    // Defined by :load.
    let file = local.path().join("lib.rhai");
    std::fs::write(&file, "fn loaded_fn(a, b) { a + b }").expect("write");
    run(&mut s, &format!(":load {}", file.display()), "");
    run(&mut s, "\"loaded-\" + loaded_fn(40, 2)", "loaded-42");
    // A module imported on one line is there on the next.
    run(&mut s, r#"import "tags" as t;"#, "");
    run(
        &mut s,
        r#""missing-" + t::missing(#{tags: #{}}, ["owner"]).len()"#,
        "missing-1",
    );
    // :vars lists the functions and the module too.
    run(&mut s, ":vars", "fn triple(x)");
    run(&mut s, ":vars", "fn loaded_fn(a, b)");
    run(&mut s, ":vars", "import t:");
    s.send_control('d').expect("ctrl-d");
    s.exp_eof().expect("leaves");
}

#[test]
fn completion_lists_and_help_for_modules() {
    let (local, home) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let mut s = start(local.path(), home.path());
    // Several candidates: one Tab lists them all.
    keys(&mut s, "identity_\t");
    s.exp_string("identity_update")
        .expect("the candidates listed");
    s.send_control('u').expect("clear the line");
    run(&mut s, "\"cleared-\" + 1", "cleared-1");
    // After `x[0].`: the fields of the array's first map.
    run(&mut s, r#"let xs = [#{resourceGroup: "rg-first"}];"#, "");
    keys(&mut s, "xs[0].resourceGr\t");
    run(&mut s, " + \"-indexed\"", "rg-first-indexed");
    // After `module::`: the functions of the imported module.
    run(&mut s, r#"import "audit" as audit;"#, "");
    keys(&mut s, "audit::missing_ta\t");
    run(&mut s, "([], \"owner\").len() + 100", "100");
    // :help of a stdlib module, and of one of its functions.
    run(
        &mut s,
        ":help audit",
        "audit::missing_tags(identities, required)",
    );
    run(
        &mut s,
        ":help audit::missing_tags",
        "The identities without a non-empty tag",
    );
    s.send_control('d').expect("ctrl-d");
    s.exp_eof().expect("leaves");
}

#[test]
fn identities_print_as_a_table_that_fits() {
    let (local, home) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let mut s = start(local.path(), home.path());
    run(&mut s, r#"group_create("rg", "eastus").name"#, "rg");
    let long = "v".repeat(250);
    run(
        &mut s,
        &format!(r#"identity_create("rg", "wide-1", #{{tags: #{{note: "{long}"}}}}).name"#),
        "wide-1",
    );
    s.send_line(r#"identity_list("rg")"#).expect("send");
    s.exp_string("name    resourceGroup  location  tags")
        .expect("a table header");
    s.exp_string("wide-1  rg             eastus    note=vvv")
        .expect("the row");
    // The rest of the row: cut (with an ellipsis) to the terminal's width.
    let rest = s.exp_string("\r\n").expect("the end of the row");
    assert!(rest.len() < 100 && !rest.ends_with('v'), "{rest:?}");
    s.exp_string(FRESH_PROMPT).expect("prompt");
    // The full map stays available.
    run(&mut s, r#"to_json(identity_list("rg")[0].tags)"#, &long);
    s.send_control('d').expect("ctrl-d");
    s.exp_eof().expect("leaves");
}

#[test]
fn ctrl_c_in_a_bulk_call_reports_and_keeps_the_results() {
    let emulator =
        crate::harness::Spawned::start(&["--listen", ":0", "--token", "t", "--latency", "40"]);
    let (url, sub) = (emulator.get("URL"), emulator.get("SUBSCRIPTION"));
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_azid"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("TERM", "xterm")
        .env("AZID_TOKEN", "t")
        .args(["--endpoint", url, "--auth", "token", "--subscription", sub]);
    let mut s = spawn_command(cmd, Some(TIMEOUT_MS)).expect("azid starts on a pty");
    s.exp_string(":help lists what you can do").expect("banner");
    s.exp_string(FRESH_PROMPT).expect("prompt");
    run(&mut s, r#"group_create("rg", "eastus").name"#, "rg");
    run(&mut s, "set_concurrency(2)", "2");
    let names: Vec<String> = (0..400).map(|i| format!("\"c-{i}\"")).collect();
    s.send_line(&format!(
        "print(\"bulk-now\"); let r = identity_create(\"rg\", [{}], #{{}});",
        names.join(", ")
    ))
    .expect("send");
    s.exp_string("bulk-now\r\n").expect("the call runs");
    std::thread::sleep(Duration::from_millis(500));
    s.send_control('c').expect("ctrl-c");
    let (_, report) = s
        .exp_regex(r"interrupted: \d+ created, 0 updated, 0 deleted, \d+ not started")
        .expect("the report");
    s.exp_string("last_results")
        .expect("says where the results are");
    s.exp_string(FRESH_PROMPT).expect("prompt");
    let created: usize = report
        .trim_start_matches("interrupted: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(created > 0 && created < 400, "{report}");
    run(
        &mut s,
        &format!(
            r#"let ok = last_results.filter(|x| x.ok).len(); let left = last_results.filter(|x| !x.ok && x.error.code == "NotStarted").len(); let there = identity_list("rg").len(); if ok == {created} && there == ok && ok + left == 400 {{ "kept-results" }} else {{ "lost " + ok + " " + left + " " + there }}"#
        ),
        "kept-results",
    );
    s.send_control('d').expect("ctrl-d");
    s.exp_eof().expect("leaves");
}
