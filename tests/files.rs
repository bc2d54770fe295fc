//! File access from scripts: nothing by default; `--allow-read` and `--allow-write` open
//! exactly the paths they name, with `..` and symbolic links resolved before the check.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Azid, Env, Run};

/// `root/allowed/{notes.txt, rows.csv, doc.json, bad.csv, bad.json, sub/}`, `root/out/`, and
/// `root/secret.txt`, which no test may reach.
struct Layout {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Layout {
    fn new() -> Layout {
        let dir = tempfile::tempdir().expect("tempdir");
        // The real path, so that messages and comparisons do not depend on a linked /tmp.
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir_all(root.join("allowed/sub")).expect("mkdir");
        std::fs::create_dir_all(root.join("out")).expect("mkdir");
        let files = [
            ("allowed/notes.txt", "hello\n"),
            (
                "allowed/rows.csv",
                "name, resourceGroup\napp-1,rg\n\"a,b\",\"x \"\"y\"\"\"\n",
            ),
            ("allowed/doc.json", r#"{"required": ["owner"], "n": 2}"#),
            ("allowed/bad.csv", "a,b\n1,2\n3\n"),
            ("allowed/bad.json", "{oops"),
            ("secret.txt", "secret"),
        ];
        for (path, text) in files {
            std::fs::write(root.join(path), text).expect("write");
        }
        Layout { _dir: dir, root }
    }

    fn path(&self, rel: &str) -> String {
        self.root.join(rel).to_str().expect("utf-8").to_string()
    }
}

/// Runs `eval SCRIPT` with these options, in `cwd`.
async fn eval_in(env: &Env, cwd: &Path, options: &[&str], script: &str) -> Run {
    let mut args: Vec<&str> = options.to_vec();
    args.extend(["eval", script]);
    Azid::at(env, &args).cwd(cwd).run().await
}

/// The error a failing call raised, caught in the script.
async fn caught(env: &Env, cwd: &Path, options: &[&str], call: &str) -> Value {
    let script = format!("let e = (); try {{ {call}; }} catch (err) {{ e = err; }} e");
    eval_in(env, cwd, options, &script).await.ok().json()
}

#[tokio::test]
async fn reads_inside_the_allowed_paths() {
    let env = Env::start().await;
    let l = Layout::new();
    let allowed = l.path("allowed");
    let options = ["--allow-read", allowed.as_str()];
    let out = eval_in(
        &env,
        &l.root,
        &options,
        r#"[read_text("allowed/notes.txt"), read_csv("allowed/rows.csv"), read_json("allowed/doc.json"), read_text("allowed/sub/../notes.txt")]"#,
    )
    .await
    .ok()
    .json();
    assert_eq!(
        out,
        json!([
            "hello\n",
            [{"name": "app-1", "resourceGroup": "rg"}, {"name": "a,b", "resourceGroup": "x \"y\""}],
            {"required": ["owner"], "n": 2},
            "hello\n"
        ])
    );
    // A single file may be allowed, and relative roots are relative to the current folder.
    let one = eval_in(
        &env,
        &l.root,
        &["--allow-read", "allowed/notes.txt"],
        &format!(r#"read_text("{}")"#, l.path("allowed/notes.txt")),
    )
    .await
    .ok()
    .json();
    assert_eq!(one, "hello\n");
    let bad_csv = caught(&env, &l.root, &options, r#"read_csv("allowed/bad.csv")"#).await;
    assert_eq!(bad_csv["code"], "InvalidCsv");
    assert!(
        bad_csv["message"]
            .as_str()
            .expect("message")
            .ends_with("bad.csv': line 3: 1 fields, but the header has 2"),
        "{bad_csv}"
    );
    let bad_json = caught(&env, &l.root, &options, r#"read_json("allowed/bad.json")"#).await;
    assert_eq!(bad_json["code"], "InvalidJson");
    let missing = caught(&env, &l.root, &options, r#"read_text("allowed/none.txt")"#).await;
    assert_eq!(missing["code"], "FileError");
    assert_eq!(missing["status"], Value::Null);
}

#[tokio::test]
async fn reads_outside_fail_through_dotdot_and_links() {
    let env = Env::start().await;
    let l = Layout::new();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(l.root.join("secret.txt"), l.root.join("allowed/link.txt"))
            .expect("symlink");
        std::os::unix::fs::symlink(&l.root, l.root.join("allowed/up")).expect("symlink");
    }
    let allowed = l.path("allowed");
    let options = ["--allow-read", allowed.as_str()];
    let mut attempts = vec![
        l.path("secret.txt"),
        format!("{allowed}/../secret.txt"),
        format!("{allowed}/sub/../../secret.txt"),
        "allowed/../secret.txt".to_string(),
        "/etc/passwd".to_string(),
        format!("{allowed}/../nothing-there.txt"),
    ];
    if cfg!(unix) {
        attempts.push(format!("{allowed}/link.txt"));
        attempts.push(format!("{allowed}/up/secret.txt"));
    }
    for path in &attempts {
        for call in ["read_text", "read_csv", "read_json"] {
            let e = caught(&env, &l.root, &options, &format!(r#"{call}("{path}")"#)).await;
            assert_eq!(e["code"], "PermissionDenied", "{call}({path}): {e}");
            let message = e["message"].as_str().expect("message");
            assert!(
                message.starts_with(&format!("reading '{path}'")),
                "{message}"
            );
            assert!(
                message.contains(&format!("it is outside --allow-read {allowed}")),
                "{message}"
            );
        }
    }
    let e = caught(
        &env,
        &l.root,
        &options,
        &format!(r#"read_text("{allowed}/link.txt")"#),
    )
    .await;
    if cfg!(unix) {
        assert!(
            e["message"]
                .as_str()
                .expect("message")
                .contains(&format!("(resolved: {})", l.path("secret.txt"))),
            "the message names where the link leads: {e}"
        );
    }
    // Without --allow-read, nothing at all; --allow-write does not allow reading.
    for options in [&[][..], &["--allow-write", allowed.as_str()][..]] {
        let run = eval_in(&env, &l.root, options, r#"read_text("allowed/notes.txt")"#)
            .await
            .fails(1);
        assert!(
            run.stderr.starts_with(
                "<eval>:1:1: (PermissionDenied) reading 'allowed/notes.txt' is not allowed: "
            ),
            "{}",
            run.stderr
        );
    }
}

#[tokio::test]
async fn writes_only_inside_the_allowed_paths() {
    let env = Env::start().await;
    let l = Layout::new();
    let out = l.path("out");
    let options = ["--allow-write", out.as_str()];
    eval_in(
        &env,
        &l.root,
        &options,
        r#"write_text("out/report.csv", "a,b\n"); write_text("out/report.csv", "c\n")"#,
    )
    .await
    .ok();
    assert_eq!(
        std::fs::read_to_string(l.root.join("out/report.csv")).expect("written"),
        "c\n",
        "replaced"
    );
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(l.root.join("secret.txt"), l.root.join("out/link.txt"))
            .expect("symlink");
        std::os::unix::fs::symlink(&l.root, l.root.join("out/up")).expect("symlink");
    }
    let mut attempts = vec![
        (l.path("secret.txt"), "PermissionDenied"),
        (format!("{out}/../secret.txt"), "PermissionDenied"),
        ("out/../secret.txt".to_string(), "PermissionDenied"),
        (l.path("allowed/notes.txt"), "PermissionDenied"),
        (format!("{out}/../made-up/x.txt"), "PermissionDenied"),
        (format!("{out}/no-folder/x.txt"), "FileError"),
        (format!("{out}/.."), "FileError"),
    ];
    if cfg!(unix) {
        attempts.push((format!("{out}/link.txt"), "PermissionDenied"));
        attempts.push((format!("{out}/up/secret.txt"), "PermissionDenied"));
    }
    for (path, code) in &attempts {
        let e = caught(
            &env,
            &l.root,
            &options,
            &format!(r#"write_text("{path}", "pwned")"#),
        )
        .await;
        assert_eq!(e["code"], *code, "{path}: {e}");
    }
    assert_eq!(
        std::fs::read_to_string(l.root.join("secret.txt")).expect("read"),
        "secret",
        "nothing reached the secret"
    );
    assert!(!l.root.join("made-up").exists());
    // --allow-read does not allow writing.
    let e = caught(
        &env,
        &l.root,
        &["--allow-read", out.as_str()],
        r#"write_text("out/x.txt", "x")"#,
    )
    .await;
    assert_eq!(e["code"], "PermissionDenied");
    assert!(
        e["message"]
            .as_str()
            .expect("message")
            .contains("no file access unless --allow-write PATH allows it"),
        "{e}"
    );
}

#[tokio::test]
async fn allowed_paths_are_checked_before_anything_runs() {
    let env = Env::start().await;
    let l = Layout::new();
    let run = eval_in(
        &env,
        &l.root,
        &["--allow-read", "no/such/folder"],
        r#"identity_create("rg", "never")"#,
    )
    .await
    .fails(2);
    assert!(
        run.stderr
            .starts_with("ERROR: --allow-read 'no/such/folder': "),
        "{}",
        run.stderr
    );
    // A file that does not exist yet may be allowed for writing, when its folder exists;
    // flags given before and after the subcommand add up.
    let report = l.path("out/report.txt");
    let notes = l.path("allowed/notes.txt");
    let script = format!(r#"write_text("{report}", read_text("{notes}"))"#);
    Azid::at(
        &env,
        &[
            "--allow-write",
            &report,
            "eval",
            &script,
            "--allow-read",
            &notes,
        ],
    )
    .run()
    .await
    .ok();
    assert_eq!(
        std::fs::read_to_string(&report).expect("written"),
        "hello\n"
    );
}
