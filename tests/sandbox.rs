//! What a script cannot do however it tries: climb to another scope through `.` or `..`
//! segments, overflow the stack with deep values, crash a registered function with wrong
//! arguments, or reach files outside its allowed paths (also under a race).

use serde_json::Value;

use crate::harness::{Azid, Env};

/// The code of the error a call raised, caught in the script, or "none".
fn catching(call: &str) -> String {
    format!("let c = \"none\"; try {{ {call}; }} catch (err) {{ c = err.code; }} c")
}

#[tokio::test]
async fn scopes_that_climb_are_refused_before_sending() {
    let env = Env::start().await;
    env.group("rg").await;
    let identity = env.identity("rg", "app-1").await;
    let principal = identity["properties"]["principalId"]
        .as_str()
        .expect("principal")
        .to_string();
    let sub = format!("/subscriptions/{}", env.sub);
    for scope in [
        format!("{sub}/resourceGroups/rg/../.."),
        format!("{sub}/resourceGroups/rg/.."),
        format!("{sub}/resourceGroups/rg/./x"),
        format!("{sub}/resourceGroups/rg/%2e%2e/%2E%2E"),
        format!("{sub}/resourceGroups/rg/.%2e"),
        format!("{sub}/resourceGroups/rg//x"),
    ] {
        let assign = catching(&format!(
            r#"role_assign(identity_show("rg", "app-1"), "Reader", "{scope}")"#
        ));
        let can = catching(&format!(r#"can("Microsoft.Resources/x/read", "{scope}")"#));
        for script in [assign, can] {
            let run = Azid::at(&env, &["eval", &script]).run().await.ok();
            assert_eq!(
                run.json(),
                Value::from("InvalidArgument"),
                "{scope}: {run:?}"
            );
        }
    }
    let path = format!(
        "{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'{principal}'"
    );
    let (assignments, _) = env.list_all(&path).await;
    assert!(assignments.is_empty(), "{assignments:?}");
}

/// `root/allowed/d/f.txt` ("inside") and `root/outside/f.txt` ("OUTSIDE"), canonical.
fn race_layout() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(root.join("allowed/d")).expect("mkdir");
    std::fs::create_dir_all(root.join("outside")).expect("mkdir");
    std::fs::write(root.join("allowed/d/f.txt"), "inside").expect("write");
    std::fs::write(root.join("outside/f.txt"), "OUTSIDE").expect("write");
    (dir, root)
}

#[cfg(unix)]
#[tokio::test]
async fn a_folder_swapped_for_a_link_never_leads_outside() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = Env::start().await;
    let (_dir, root) = race_layout();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, root) = (stop.clone(), root.clone());
        std::thread::spawn(move || {
            let (d, real) = (root.join("allowed/d"), root.join("allowed/d.real"));
            while !stop.load(Ordering::Relaxed) {
                std::fs::rename(&d, &real).expect("move the folder away");
                std::os::unix::fs::symlink(root.join("outside"), &d).expect("link");
                std::thread::yield_now();
                std::fs::remove_file(&d).expect("unlink");
                std::fs::rename(&real, &d).expect("move the folder back");
                std::thread::yield_now();
            }
        })
    };
    let script = r#"
        let outside = 0; let inside = 0;
        for i in 0..30000 {
            try { if read_text("allowed/d/f.txt") == "OUTSIDE" { outside += 1; } else { inside += 1; } } catch { }
            try { write_text("allowed/d/w.txt", "written"); } catch { }
        }
        #{outside: outside, inside: inside}
    "#;
    let allowed = root.join("allowed").display().to_string();
    let run = Azid::at(
        &env,
        &[
            "--allow-read",
            &allowed,
            "--allow-write",
            &allowed,
            "eval",
            script,
        ],
    )
    .cwd(&root)
    .run()
    .await;
    stop.store(true, Ordering::Relaxed);
    swapper.join().expect("the swapper ends");
    let counts = run.ok().json();
    assert_eq!(counts["outside"], 0, "{counts}");
    assert!(counts["inside"].as_i64().unwrap_or(0) > 0, "{counts}");
    assert!(
        !root.join("outside/w.txt").exists(),
        "a write went through the link"
    );
}

#[tokio::test]
async fn refusals_do_not_tell_whether_an_outside_path_exists() {
    let env = Env::start().await;
    let (_dir, root) = race_layout();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&root, root.join("allowed/up")).expect("link");
    let allowed = root.join("allowed").display().to_string();
    let caught = |path: String| {
        let script =
            format!(r#"let e = (); try {{ read_text("{path}"); }} catch (err) {{ e = err; }} e"#);
        let azid = Azid::at(&env, &["--allow-read", &allowed, "eval", &script]).cwd(&root);
        async move { azid.run().await.ok().json() }
    };
    let mut pairs = vec![(
        "/proc/self/root/etc/passwd".to_string(),
        "/proc/self/root/etc/no-such-file-here".to_string(),
    )];
    if cfg!(unix) {
        pairs.push((
            "allowed/up/outside/f.txt".into(),
            "allowed/up/outside/none.txt".into(),
        ));
    }
    for (existing, missing) in pairs {
        let (a, b) = (
            caught(existing.clone()).await,
            caught(missing.clone()).await,
        );
        assert_eq!(a["code"], "PermissionDenied", "{a}");
        assert_eq!(b["code"], "PermissionDenied", "{b}");
        let (a, b) = (
            a["message"]
                .as_str()
                .expect("message")
                .replace(&existing, "P"),
            b["message"]
                .as_str()
                .expect("message")
                .replace(&missing, "P"),
        );
        let (a, b) = (
            a.replace("f.txt", "N").replace("passwd", "N"),
            b.replace("none.txt", "N").replace("no-such-file-here", "N"),
        );
        assert_eq!(a, b, "the two refusals differ");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn imports_through_a_link_stay_in_the_scripts_folder() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(root.join("scripts/lib")).expect("mkdir");
    std::fs::write(root.join("secret.rhai"), "export const SECRET = 42;").expect("write");
    std::fs::write(root.join("scripts/lib/near.rhai"), "export const NEAR = 7;").expect("write");
    std::os::unix::fs::symlink("..", root.join("scripts/up")).expect("link");
    std::os::unix::fs::symlink("lib", root.join("scripts/here")).expect("link");
    std::fs::write(
        root.join("scripts/peek.rhai"),
        "import \"up/secret\" as s;\ns::SECRET",
    )
    .expect("write");
    std::fs::write(
        root.join("scripts/near.rhai"),
        "import \"here/near\" as n;\nprint(n::NEAR);",
    )
    .expect("write");
    let peek = Azid::at(&env, &["run", "scripts/peek.rhai"])
        .cwd(&root)
        .run()
        .await
        .fails(1);
    assert!(
        peek.stderr.contains("out of the script's folder"),
        "{}",
        peek.stderr
    );
    assert!(!peek.stdout.contains("42"), "{}", peek.stdout);
    let near = Azid::at(&env, &["run", "scripts/near.rhai"])
        .cwd(&root)
        .run()
        .await
        .ok();
    assert_eq!(
        near.stdout.trim(),
        "7",
        "a link inside the folder is followed"
    );
}

#[tokio::test]
async fn deep_values_are_a_limit_not_a_crash() {
    let env = Env::start().await;
    let build = "let a = []; let b = []; for i in 0..2000 { a = [a]; b = [b]; }";
    for (what, tail) in [
        ("print", "print(a);"),
        ("==", "a == b"),
        ("!=", "a != b"),
        ("debug", "debug(a);"),
        ("the result", "a"),
    ] {
        let script = format!("{build} {tail}");
        let run = Azid::at(&env, &["eval", &script]).run().await;
        // A script error (1), or for the result a value that cannot be printed (2).
        assert!(matches!(run.code, 1 | 2), "{what}: {run:?}");
        assert!(
            run.stderr.contains("LimitExceeded")
                && run.stderr.contains("arrays and maps nest more than"),
            "{what}: {}",
            run.stderr
        );
    }
    // Caught, like the API's errors; shallow values compare and print as before.
    let script = format!(
        r#"{build} let c = ""; try {{ a == b; }} catch (e) {{ c = e.code; }}
        [c, [1, #{{k: [2]}}] == [1, #{{k: [2]}}], `${{[1, "x", #{{k: ()}}]}}`]"#
    );
    let run = Azid::at(&env, &["eval", &script]).run().await.ok();
    assert_eq!(
        run.json(),
        serde_json::json!(["LimitExceeded", true, r#"[1, "x", #{"k": ()}]"#])
    );
}

#[tokio::test]
async fn every_function_survives_wrong_arguments() {
    let env = Env::start().await;
    env.group("rg").await;
    env.identity("rg", "app-1").await;
    let mut names: Vec<&str> = azid::host::all_docs()
        .map(|d| d.name)
        // `exit` ends the script by design.
        .filter(|name| *name != "exit")
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut script = String::from(
        r#"
        let huge = "x"; for i in 0..20 { huge += huge; }
        let deep = []; for i in 0..5000 { deep = [deep]; }
        let deepmap = #{}; for i in 0..300 { deepmap = #{k: deepmap}; }
        let values = [(), 42, -1, 1.5, true, "x", "", huge, deep, deepmap, [], #{}, [()], #{name: ()}];
        let calls = 0; let errors = 0;
        "#,
    );
    let mut expected = 0;
    for name in &names {
        for arity in 0..=4usize {
            // Every argument the same value, then each position in turn with the others `()`.
            let mut shapes = vec![vec!["v"; arity]];
            for at in 0..arity {
                let mut args = vec!["()"; arity];
                args[at] = "v";
                shapes.push(args);
            }
            for args in shapes {
                script.push_str(&format!(
                    "for v in values {{ calls += 1; try {{ {name}({}); }} catch {{ errors += 1; }} }}\n",
                    args.join(", ")
                ));
                expected += 14;
            }
        }
    }
    script.push_str("[calls, errors]");
    let run = Azid::at(&env, &["eval", &script]).run().await;
    assert_eq!(
        run.code,
        0,
        "{}",
        run.stderr.chars().take(2000).collect::<String>()
    );
    let counts = run.json();
    assert_eq!(counts[0], expected, "{counts}");
    assert!(counts[1].as_i64().unwrap_or(0) > 0, "{counts}");
    assert!(!run.stderr.contains("panicked"), "a function panicked");
}

#[tokio::test]
async fn eval_is_disabled() {
    let env = Env::start().await;
    let run = Azid::at(&env, &["eval", r#"eval("40 + 2")"#]).run().await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stdout.contains("42"), "{run:?}");
    assert!(run.stderr.contains("eval"), "{}", run.stderr);
}

#[tokio::test]
async fn size_limits_past_what_a_stack_can_hold_are_refused() {
    let env = Env::start().await;
    let run = Azid::at(
        &env,
        &["--max-array-size", "1000000000000", "eval", "40 + 2"],
    )
    .run()
    .await
    .fails(2);
    assert!(run.stderr.contains("--max-array-size"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}
