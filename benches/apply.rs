//! `azid apply` of 2,000 planned deletes, each re-checked against ARM first, through the
//! real binary against an emulator with 20 ms latency; prints the time against the ideal
//! (reads + deletes) x latency / concurrency and the requests the request log saw. Asserts
//! nothing about time. `cargo bench --bench apply`.

use std::process::Command;
use std::time::{Duration, Instant};

use azid::emulator::{Emulator, EmulatorOptions};

const IDENTITIES: usize = 2000;
const CONCURRENCY: usize = 16;
const LATENCY_MS: u64 = 20;

/// Runs azid against the emulator; an apply takes its subscriptions from the plan.
fn azid(emulator: &Emulator, args: &[&str]) -> Duration {
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_azid"));
    command.args(["--endpoint", emulator.url(), "--auth", "token"]);
    if args.first() != Some(&"apply") {
        command.args(["--subscription", &emulator.subscriptions()[0]]);
    }
    let out = command
        .args(args)
        .env("AZID_TOKEN", emulator.token())
        .output()
        .expect("azid runs");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn main() {
    let dir = std::env::temp_dir().join(format!("azid-bench-apply-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let log = dir.join("requests.log");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let emulator = runtime
        .block_on(Emulator::start(EmulatorOptions {
            latency: Some(LATENCY_MS.to_string().parse().expect("latency")),
            replication_delay: Duration::ZERO,
            request_log: Some(log.clone()),
            ..EmulatorOptions::default()
        }))
        .expect("emulator");
    let names: Vec<String> = (0..IDENTITIES).map(|i| format!("\"a-{i:05}\"")).collect();
    let setup = format!(
        "group_create(\"rg\", \"eastus\"); identity_create(\"rg\", [{}], #{{}}); ()",
        names.join(",")
    );
    azid(&emulator, &["--concurrency", "64", "eval", &setup]);
    let plan = dir.join("plan.json");
    let plan_path = plan.to_str().expect("utf-8");
    let planned = azid(
        &emulator,
        &[
            "eval",
            "identity_delete(identity_list(\"rg\")); ()",
            "--dry-run",
            "--plan-out",
            plan_path,
        ],
    );
    let before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count();
    let took = azid(
        &emulator,
        &[
            "apply",
            plan_path,
            "--yes",
            "--concurrency",
            &CONCURRENCY.to_string(),
        ],
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let during: Vec<&str> = text.lines().skip(before).collect();
    let gets = during
        .iter()
        .filter(|l| l.contains("\"method\":\"GET\""))
        .count();
    let deletes = during
        .iter()
        .filter(|l| l.contains("\"method\":\"DELETE\""))
        .count();
    let ideal = Duration::from_millis((2 * IDENTITIES as u64) * LATENCY_MS / CONCURRENCY as u64);
    println!(
        "apply: {IDENTITIES} deletes with re-checks at {LATENCY_MS} ms latency, concurrency {CONCURRENCY}: \
         {:.2} s; ideal (reads + deletes) x latency / concurrency = {:.2} s; ratio {:.2} \
         ({gets} GETs, {deletes} DELETEs sent; plan made in {:.2} s)",
        took.as_secs_f64(),
        ideal.as_secs_f64(),
        took.as_secs_f64() / ideal.as_secs_f64(),
        planned.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
