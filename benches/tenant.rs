//! azid across a tenant, through the real `azid` binary against the emulator at 20 ms
//! latency and the documented Resource Graph quota (15 queries per 5 s): 50 subscriptions,
//! 20,000 identities, 19,000 resources that carry them and 2,000 role assignments (seeded over
//! HTTP without latency into a data file, then served again with it). Prints time, requests
//! and peak memory of: the tenant inventory through Resource Graph and through ARM lists
//! fanned out; the tenant orphan audit; the cleanup of the 1,000 orphans with the ARM
//! re-check. Asserts nothing about time. `cargo bench --bench tenant`.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use azid::emulator::{Emulator, EmulatorOptions};

#[path = "common/peak.rs"]
mod peak;
use serde_json::{Value, json};

const SUBSCRIPTIONS: usize = 50;
const PER_SUBSCRIPTION: usize = 400;
const ORPHANS: usize = 1000;
const ASSIGNED_EVERY: usize = 10;
const LATENCY_MS: f64 = 20.0;
/// The emulator's Resource Graph window (15 queries per 5 s).
const QUOTA_WINDOW: Duration = Duration::from_secs(5);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn options(subs: &[String], data: &std::path::Path, token: &str) -> EmulatorOptions {
    EmulatorOptions {
        subscriptions: subs.to_vec(),
        data: Some(data.to_path_buf()),
        token: Some(token.to_string()),
        replication_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    }
}

/// PUT with a few tries: a loaded machine drops the odd connection while seeding.
async fn put(http: &reqwest::Client, url: String, token: &str, body: &Value) -> Value {
    let mut tries = 0;
    loop {
        tries += 1;
        match http.put(&url).bearer_auth(token).json(body).send().await {
            Ok(r) if r.status().is_success() => return r.json().await.unwrap_or(Value::Null),
            Ok(r) if tries >= 5 => panic!("{url}: {}", r.status()),
            Err(e) if tries >= 5 => panic!("{url}: {e}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Creates the tenant over HTTP, 32 requests in flight.
fn seed(rt: &tokio::runtime::Runtime, emu: &Emulator, subs: &[String]) {
    let (url, token) = (emu.url().to_string(), emu.token().to_string());
    rt.block_on(async {
        let http = reqwest::Client::new();
        for sub in subs {
            let r = http
                .put(format!("{url}/subscriptions/{sub}/resourcegroups/bench?api-version=2024-11-01"))
                .bearer_auth(&token)
                .json(&json!({"location": "eastus"}))
                .send()
                .await
                .expect("group");
            assert!(r.status().is_success());
        }
        let total = SUBSCRIPTIONS * PER_SUBSCRIPTION;
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..32 {
            let (http, url, token, subs, next) =
                (http.clone(), url.clone(), token.clone(), subs.to_vec(), next.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let sub = &subs[i % SUBSCRIPTIONS];
                    let identity = put(
                        &http,
                        format!(
                            "{url}/subscriptions/{sub}/resourceGroups/bench/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{i:05}?api-version=2024-11-30"
                        ),
                        &token,
                        &json!({"location": "eastus"}),
                    )
                    .await;
                    if i < ORPHANS {
                        continue;
                    }
                    // The site lives in the next subscription: references cross subscriptions.
                    let other = &subs[(i + 1) % SUBSCRIPTIONS];
                    let id = identity["id"].as_str().expect("id");
                    put(
                        &http,
                        format!(
                            "{url}/subscriptions/{other}/resourceGroups/bench/providers/Microsoft.Web/sites/site-{i:05}?api-version=2023-01-01"
                        ),
                        &token,
                        &json!({"location": "eastus", "identity": {"type": "UserAssigned", "userAssignedIdentities": {id: {}}}}),
                    )
                    .await;
                    if i % ASSIGNED_EVERY == 0 {
                        let principal = identity["properties"]["principalId"].as_str().expect("principal");
                        let r = http
                            .put(format!(
                                "{url}/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
                                uuid::Uuid::new_v4()
                            ))
                            .bearer_auth(&token)
                            .json(&json!({"properties": {
                                "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"),
                                "principalId": principal, "principalType": "ServicePrincipal"}}))
                            .send()
                            .await
                            .expect("assignment");
                        assert!(r.status().is_success());
                    }
                }
            }));
        }
        for w in workers {
            w.await.expect("worker");
        }
    });
}

struct Measured {
    out: Value,
    took: Duration,
    requests: usize,
    peak_kib: i64,
    /// `(kind, requests, mean ms)` from the `-v` log.
    kinds: Vec<(&'static str, usize, f64)>,
}

/// Requests of the `-v` log by kind, with their mean time.
fn by_kind(log: &str) -> Vec<(&'static str, usize, f64)> {
    let kinds = [
        ("Resource Graph", "ResourceGraph"),
        ("listAssociatedResources", "listAssociatedResources"),
        ("DELETE", "INFO DELETE "),
        ("credential lists", "federatedIdentityCredentials"),
        ("identity lists", "userAssignedIdentities?"),
    ];
    kinds
        .iter()
        .map(|(name, marker)| {
            let times: Vec<f64> = log
                .lines()
                .filter(|l| l.contains(marker))
                .filter_map(|l| l.split(" in ").nth(1)?.split(" ms").next()?.parse().ok())
                .collect();
            let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
            (*name, times.len(), mean)
        })
        .collect()
}

/// `azid --all-subscriptions -v eval SCRIPT`: its value, wall time, requests and peak RSS.
// The child is reaped by wait4 (which also reports its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn eval(emu: &Emulator, script: &str, extra: &[&str]) -> Measured {
    use std::io::Read;
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_azid"))
        .args([
            "--endpoint",
            emu.url(),
            "--auth",
            "token",
            "--subscription",
            &emu.subscriptions()[0],
        ])
        .args(["--all-subscriptions", "-v"])
        .args(extra)
        .args(["eval", script])
        .env("AZID_TOKEN", emu.token())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("azid runs");
    let peak = peak::watch(child.id(), "azid");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut stdout)
        .expect("read");
    let peak_kib = peak.kib();
    let mut status = 0;
    // SAFETY: wait4 writes only into `status` and `usage`, for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "waited for the child");
    let took = started.elapsed();
    let errors = errors.join().unwrap_or_default();
    let out = serde_json::from_slice(&stdout).unwrap_or(Value::Null);
    assert!(
        status == 0,
        "{script}: {}",
        errors.lines().last().unwrap_or("")
    );
    Measured {
        out,
        took,
        requests: errors.matches(" ms (request id ").count(),
        // A child too quick to be seen once falls back to the inflated figure.
        peak_kib: match i64::try_from(peak_kib) {
            Ok(0) | Err(_) => usage.ru_maxrss,
            Ok(kib) => kib,
        },
        kinds: by_kind(&errors),
    }
}

fn main() {
    println!(
        "azid tenant benchmarks (release build, emulator in-process on loopback, latency 20 ms, ARG quota 15/5)"
    );
    let subs: Vec<String> = (0..SUBSCRIPTIONS)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("tenant.db");
    let token = "tenant-bench-token";
    let rt = runtime();
    let started = Instant::now();
    let emu = rt
        .block_on(Emulator::start(options(&subs, &data, token)))
        .expect("emulator");
    seed(&rt, &emu, &subs);
    drop(emu);
    println!(
        "seed: {} identities, {} resources, {} role assignments in {SUBSCRIPTIONS} subscriptions in {:.1} s",
        SUBSCRIPTIONS * PER_SUBSCRIPTION,
        SUBSCRIPTIONS * PER_SUBSCRIPTION - ORPHANS,
        (SUBSCRIPTIONS * PER_SUBSCRIPTION - ORPHANS) / ASSIGNED_EVERY,
        started.elapsed().as_secs_f64()
    );
    let emu = rt
        .block_on(Emulator::start(EmulatorOptions {
            latency: Some("20".parse().expect("latency")),
            ..options(&subs, &data, token)
        }))
        .expect("emulator");

    let start = eval(&emu, "0", &[]);
    let secs = |m: &Measured| m.took.saturating_sub(start.took).as_secs_f64();
    // The emulator's first query reads the tenant out of SQLite into its Resource Graph
    // snapshot (Azure's index is always built): done once before anything is measured.
    let warm = eval(&emu, r#"graph_query("resources | count").len()"#, &[]);
    println!(
        "the emulator's first Resource Graph query (its snapshot loaded): {:.2} s",
        secs(&warm)
    );
    std::thread::sleep(QUOTA_WINDOW);
    let graph = eval(&emu, "identity_list().len()", &[]);
    let arm = eval(
        &emu,
        "identity_list(#{consistent: true}).len()",
        &["--concurrency", "16"],
    );
    // 16 lists in flight: the groups of 50 subscriptions, then 4 pages in each (400 / 100).
    // The floor is the longer of that chain and the requests' turns through 16 slots.
    let chain = (SUBSCRIPTIONS as f64 / 16.0).ceil() + 4.0;
    let turns = (arm.requests as f64 / 16.0).ceil();
    let arm_floor = chain.max(turns) * LATENCY_MS / 1e3;
    println!(
        "inventory: identity_list() over Resource Graph {:.2} s, {} requests, peak {:.0} MB ({} identities); \
         ARM lists fanned out (16 in flight) {:.2} s, {} requests, peak {:.0} MB ({}); {:.1}x fewer requests; \
         the fan-out at {:.2}x its floor of {arm_floor:.2} s",
        secs(&graph),
        graph.requests,
        graph.peak_kib as f64 / 1024.0,
        graph.out,
        secs(&arm),
        arm.requests,
        arm.peak_kib as f64 / 1024.0,
        arm.out,
        arm.requests as f64 / graph.requests.max(1) as f64,
        secs(&arm) / arm_floor
    );

    let audit = r#"import "audit" as audit; audit::orphans(identity_list()).len()"#;
    std::thread::sleep(QUOTA_WINDOW);
    let orphans = eval(&emu, audit, &["--concurrency", "64"]);
    println!(
        "orphan audit over every identity: {:.2} s, {} requests, peak {:.0} MB; {} orphans (aim under 10 s, 200 MB)",
        secs(&orphans),
        orphans.requests,
        orphans.peak_kib as f64 / 1024.0,
        orphans.out
    );

    // The cleanup: the orphans chosen from the Resource Graph rows of the tenant inventory,
    // then deleted with the ARM re-check. The script times the delete call itself (the
    // inventory before it waits out Resource Graph's quota window, which varies by a second
    // from run to run); the same script without the delete gives the requests to subtract.
    let chosen = r#"let o = identity_list().filter(|i| i.name < "id-01000");"#;
    std::thread::sleep(QUOTA_WINDOW);
    let listed = eval(&emu, &format!("{chosen} o.len()"), &["--concurrency", "64"]);
    std::thread::sleep(QUOTA_WINDOW);
    let deleted = eval(
        &emu,
        &format!(
            "{chosen} let t = timestamp(); let n = identity_delete(o).filter(|x| x.ok).len(); [n, t.elapsed]"
        ),
        &["--concurrency", "64"],
    );
    let call = deleted.out[1].as_f64().unwrap_or(f64::NAN);
    let requests = deleted.requests.saturating_sub(listed.requests);
    // Per orphan: its attachments re-read and its DELETE; plus its group re-listed (4 pages).
    let ideal = ((2 * ORPHANS) as f64 / 64.0 + 4.0) * LATENCY_MS / 1e3;
    println!(
        "cleanup of {} orphans with the ARM re-check: the delete call {call:.2} s with {requests} requests; \
         ideal (reads + deletes) x latency / 64 = {ideal:.2} s: {:.2}x",
        deleted.out[0],
        call / ideal
    );
    for (kind, n, mean) in &deleted.kinds {
        println!("  {kind}: {n} requests, {mean:.0} ms each on average");
    }
    drop(emu);
}
