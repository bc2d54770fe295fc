//! The identity report over the tenant seed (50 subscriptions, 20,000 identities, 20,000
//! resources, role assignments, federated credentials): `azid --all-subscriptions --concurrency 64
//! run scripts/report.rhai` against an in-process emulator with 20 ms latency and Resource Graph's
//! default quota. Prints the wall time, the peak memory of the azid process and the sizes of the HTML and JSON files; checks only that the report
//! counted every identity. Run with `cargo bench --bench report`.

use std::process::{Command, Stdio};

#[path = "common/peak.rs"]
mod peak;
use std::time::{Duration, Instant};

use azid::emulator::seed::TenantSeed;
use azid::emulator::{Emulator, EmulatorOptions, Latency};

const SUBSCRIPTIONS: usize = 50;
const IDENTITIES: usize = 20_000;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let options = EmulatorOptions {
        tenant_seed: Some(TenantSeed::new(SUBSCRIPTIONS, IDENTITIES).expect("seed")),
        latency: Some(Latency {
            min: Duration::from_millis(20),
            max: Duration::from_millis(20),
        }),
        ..EmulatorOptions::default()
    };
    let loaded = Instant::now();
    let emu = runtime
        .block_on(Emulator::start(options))
        .expect("emulator");
    println!(
        "seed {SUBSCRIPTIONS}:{IDENTITIES} loaded in {:.2} s",
        loaded.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let html = dir.path().join("report.html");
    let json = dir.path().join("report.json");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_azid"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AZID_TOKEN", emu.token())
        .args([
            "--endpoint",
            emu.url(),
            "--auth",
            "token",
            "--subscription",
            &emu.subscriptions()[0],
            "--all-subscriptions",
            "--concurrency",
            "64",
            "--allow-write",
            dir.path().to_str().expect("utf-8 path"),
            "run",
            "scripts/report.rhai",
            "--",
            "--out",
            html.to_str().expect("utf-8 path"),
            "--json-out",
            json.to_str().expect("utf-8 path"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("azid runs");
    let peak = peak::watch(out.id(), "azid");
    let out = out.wait_with_output().expect("azid runs");
    let elapsed = started.elapsed();
    let peak_mib = peak.kib() as f64 / 1024.0;
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{IDENTITIES} identities")),
        "{stdout}"
    );
    let size =
        |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!("{}", stdout.trim());
    println!(
        "report: {:.2} s, peak memory {:.0} MiB, HTML {:.2} MB, JSON {:.2} MB (aim: 15 s, 300 MB, 10 MB)",
        elapsed.as_secs_f64(),
        peak_mib,
        size(&html),
        size(&json)
    );
}
