//! Bulk workloads against the emulator, through the real `azid` binary: prints wall times,
//! 429 counts and peak memory; asserts nothing about time. `cargo bench --bench bulk`.
//!
//! 1. latency 20 ms, concurrency 32: create 1,000 identities and delete them (ideal 1.25 s);
//!    the same at concurrency 1. Then 1,000 deletes from maps and from id strings, each
//!    against the ideal of one request per item (0.63 s), references and lists included.
//!    `cargo bench --bench bulk -- deletes` runs only these two. Then 5,000 identities in 10
//!    groups listed page after page and with the groups paged concurrently (`-- lists`).
//! 2. throttle deletes=100/100: delete 1,000 identities (no better than 9 s).
//! 3. 20,000 identities in one group, page size 100: list them and filter (time, peak RSS).
//! 4. `azid eval '1+1'`: process start to exit, median of 50.

use std::process::Command;
use std::time::{Duration, Instant};

use azid::emulator::{Emulator, EmulatorOptions};
use serde_json::Value;

struct Server {
    emulator: Emulator,
    _runtime: tokio::runtime::Runtime,
}

fn server(options: EmulatorOptions) -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let emulator = runtime
        .block_on(Emulator::start(options))
        .expect("emulator");
    Server {
        emulator,
        _runtime: runtime,
    }
}

/// Runs `azid eval SCRIPT` against the server; returns stdout as JSON and the wall time.
fn eval(s: &Server, script: &str, extra: &[&str]) -> (Value, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_azid"))
        .args([
            "--endpoint",
            s.emulator.url(),
            "--auth",
            "token",
            "--subscription",
            &s.emulator.subscriptions()[0],
        ])
        .args(extra)
        .args(["eval", script])
        .env("AZID_TOKEN", s.emulator.token())
        .output()
        .expect("azid runs");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        took,
    )
}

fn names(n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| format!("\"b-{i:05}\"")).collect();
    format!("[{}]", items.join(","))
}

const CREATE_DELETE: &str = r#"
    group_create("rg", "eastus");
    identity_create("rg", NAMES, #{});
    let create = bulk_summary();
    identity_delete(identity_list("rg"));
    let delete = bulk_summary();
    #{create: create, delete: delete}
"#;

/// 1,000 deletes at 20 ms latency and 32 in flight, from `identity_list` maps and from id
/// strings: the whole call (its reads of references and of the group included) against
/// the ideal of one request per item, 1,000 / 32 x 20 ms.
fn deletes_by_form() {
    const IDEAL_MS: f64 = 1000.0 / 32.0 * 20.0;
    for (form, items) in [
        ("maps", r#"identity_list("rg")"#),
        ("id strings", r#"identity_list("rg").map(|i| i.id)"#),
    ] {
        let s = server(EmulatorOptions {
            latency: Some("20".parse().expect("latency")),
            ..EmulatorOptions::default()
        });
        eval(
            &s,
            &format!(
                r#"group_create("rg", "eastus"); identity_create("rg", {}, #{{}}).len()"#,
                names(1000)
            ),
            &["--concurrency", "64"],
        );
        // The same process with and without the delete: the difference is the call.
        let (_, list_only) = eval(&s, &format!("{items}.len()"), &["--concurrency", "32"]);
        let (out, with_delete) = eval(
            &s,
            &format!(
                "let items = {items}; let r = identity_delete(items); [r.filter(|x| x.ok).len(), bulk_summary()]"
            ),
            &["--concurrency", "32"],
        );
        let call = with_delete.saturating_sub(list_only).as_secs_f64() * 1e3;
        println!(
            "1b. latency 20 ms, concurrency 32: 1,000 deletes from {form:<10} {:>5.0} ms for the call ({} ms in the bulk run), \
             ideal {IDEAL_MS:.0} ms: {:.2}x; {} deleted",
            call,
            out[1]["elapsed_ms"],
            call / IDEAL_MS,
            out[0]
        );
    }
}

/// 5,000 identities in 10 groups at 20 ms latency: the subscription's list followed page after
/// page (50 pages of 100), against the groups listed once and paged concurrently.
fn lists_sequential_and_fanned_out() {
    let s = server(EmulatorOptions {
        latency: Some("20".parse().expect("latency")),
        ..EmulatorOptions::default()
    });
    for g in 0..10 {
        let batch: Vec<String> = (0..500).map(|i| format!("\"f-{g}-{i:03}\"")).collect();
        eval(
            &s,
            &format!(
                r#"group_create("rg-{g}", "eastus"); identity_create("rg-{g}", [{}], #{{}}).len()"#,
                batch.join(",")
            ),
            &["--concurrency", "64"],
        );
    }
    let (_, start_only) = eval(&s, "0", &[]);
    let (n, sequential) = eval(&s, "identity_list().len()", &[]);
    let (m, fanned) = eval(&s, "identity_list(#{consistent: true}).len()", &[]);
    let ms = |d: Duration| d.saturating_sub(start_only).as_secs_f64() * 1e3;
    println!(
        "1c. latency 20 ms: list 5,000 identities in 10 groups: nextLink after nextLink {:>5.0} ms ({n} items), \
         groups paged concurrently {:>5.0} ms ({m} items); aim < 300 ms",
        ms(sequential),
        ms(fanned)
    );
}

fn main() {
    println!("azid bulk benchmarks (release build, emulator in-process on loopback)");
    let only: Vec<String> = std::env::args()
        .filter(|a| a == "deletes" || a == "lists")
        .collect();
    if !only.is_empty() {
        if only.iter().any(|a| a == "deletes") {
            deletes_by_form();
        }
        if only.iter().any(|a| a == "lists") {
            lists_sequential_and_fanned_out();
        }
        return;
    }

    // 1. Latency-bound.
    for concurrency in ["32", "1"] {
        let s = server(EmulatorOptions {
            latency: Some("20".parse().expect("latency")),
            ..EmulatorOptions::default()
        });
        let script = CREATE_DELETE.replace("NAMES", &names(1000));
        let (out, _) = eval(&s, &script, &["--concurrency", concurrency]);
        let ms = |k: &str| out[k]["elapsed_ms"].as_u64().unwrap_or(0);
        let total = ms("create") + ms("delete");
        println!(
            "1. latency 20 ms, concurrency {concurrency:>2}: 1,000 creates {:>6} ms + 1,000 deletes {:>6} ms = {:>6.2} s \
             (ideal at 32: 1.25 s, {:.2}x); failed {} + {}",
            ms("create"),
            ms("delete"),
            total as f64 / 1e3,
            total as f64 / 1250.0,
            out["create"]["failed"],
            out["delete"]["failed"]
        );
    }

    deletes_by_form();
    lists_sequential_and_fanned_out();

    // 2. Throttle-bound.
    let s = server(EmulatorOptions {
        throttle: "deletes=100/100".parse().expect("profile"),
        ..EmulatorOptions::default()
    });
    eval(
        &s,
        &format!(
            r#"group_create("rg", "eastus"); identity_create("rg", {}, #{{}}).len()"#,
            names(1000)
        ),
        &["--concurrency", "32"],
    );
    let (out, _) = eval(
        &s,
        r#"identity_delete(identity_list("rg")); bulk_summary()"#,
        &[],
    );
    let ms = out["elapsed_ms"].as_u64().unwrap_or(0);
    let done = out["done"].as_u64().unwrap_or(0);
    let throttled = out["throttled"].as_u64().unwrap_or(0);
    let requests =
        done + out["failed"].as_u64().unwrap_or(0) + out["retries"].as_u64().unwrap_or(0);
    println!(
        "2. throttle deletes=100/100: 1,000 deletes in {:.2} s (floor 9 s, {:.2}x); {} failed; {} of {} requests answered 429 ({:.1}%)",
        ms as f64 / 1e3,
        ms as f64 / 9000.0,
        out["failed"],
        throttled,
        requests,
        100.0 * throttled as f64 / requests.max(1) as f64
    );

    // 3. A big list.
    let s = server(EmulatorOptions {
        page_size: 100,
        ..EmulatorOptions::default()
    });
    eval(&s, r#"group_create("rg", "eastus")"#, &[]);
    for chunk in 0..10 {
        let batch: Vec<String> = (0..2000).map(|i| format!("\"l-{chunk}-{i:04}\"")).collect();
        eval(
            &s,
            &format!(
                r#"identity_create("rg", [{}], #{{}}).len()"#,
                batch.join(",")
            ),
            &["--concurrency", "64"],
        );
    }
    let (out, took, peak) = eval_measured(
        &s,
        r#"let l = identity_list("rg"); [l.len(), l.filter(|i| i.name.ends_with("7")).len()]"#,
    );
    println!(
        "3. 20,000 identities, page size 100: identity_list(rg).len() = {} and a filter ({} match) in {:.2} s; peak RSS {:.0} MB",
        out[0],
        out[1],
        took.as_secs_f64(),
        peak as f64 / 1024.0
    );

    // 4. Start-up.
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_azid"))
                .args(["eval", "1+1"])
                .output()
                .expect("azid runs");
            assert!(out.status.success());
            started.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "4. azid eval '1+1': median {:.1} ms, fastest {:.1} ms (50 runs)",
        times[25].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}

/// Like `eval`, and also the peak resident set of that one process, in KiB.
// The child is reaped by wait4 (which also reports its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn eval_measured(s: &Server, script: &str) -> (Value, Duration, i64) {
    use std::io::Read;
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_azid"))
        .args([
            "--endpoint",
            s.emulator.url(),
            "--auth",
            "token",
            "--subscription",
            &s.emulator.subscriptions()[0],
        ])
        .args(["eval", script])
        .env("AZID_TOKEN", s.emulator.token())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("azid runs");
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut stdout)
        .expect("read");
    let mut status = 0;
    // SAFETY: wait4 writes only into `status` and `usage`, for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "waited for the child");
    let took = started.elapsed();
    (
        serde_json::from_slice(&stdout).unwrap_or(Value::Null),
        took,
        usage.ru_maxrss,
    )
}
