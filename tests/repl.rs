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
