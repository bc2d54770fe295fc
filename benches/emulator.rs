//! Emulator throughput: concurrent GETs and PUTs of identities over HTTP on loopback, 32
//! connections, with the state in a SQLite file. Prints requests per second and p50/p99
//! latency; asserts nothing about time. Run with `cargo bench --bench emulator`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use azid::emulator::{Emulator, EmulatorOptions};
use serde_json::json;

const CONNECTIONS: usize = 32;
const GETS: usize = 60_000;
const PUTS: usize = 12_000;
const IDENTITIES: usize = 1_000;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("bench.db");
    // The emulator gets a runtime of its own, as a separate server process would.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let emu = server
        .block_on(Emulator::start(EmulatorOptions {
            data: Some(data),
            ..EmulatorOptions::default()
        }))
        .expect("emulator starts");
    let base = format!(
        "{}/subscriptions/{}/resourceGroups/bench/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
        emu.url(),
        emu.subscriptions()[0]
    );
    let group = format!(
        "{}/subscriptions/{}/resourcegroups/bench?api-version=2024-11-01",
        emu.url(),
        emu.subscriptions()[0]
    );
    let token = emu.token().to_string();

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    client_rt.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().expect("client");
        let r = http.put(&group).bearer_auth(&token).json(&json!({"location": "eastus"})).send().await.expect("group");
        assert!(r.status().is_success());

        println!("azid emulator benchmark: {CONNECTIONS} connections, SQLite file store, loopback HTTP/1.1");
        let put_base = base.clone();
        let puts = run(&http, &token, PUTS, move |i| {
            (reqwest::Method::PUT, format!("{put_base}/id-{i:05}?api-version=2024-11-30"))
        })
        .await;
        report("PUT identity (create)", PUTS, &puts);
        let get_base = base.clone();
        let gets = run(&http, &token, GETS, move |i| {
            (reqwest::Method::GET, format!("{get_base}/id-{:05}?api-version=2024-11-30", i % IDENTITIES))
        })
        .await;
        report("GET identity", GETS, &gets);
    });
    drop(emu);
}

type Sample = (Duration, Vec<Duration>);

/// Sends `total` requests from CONNECTIONS workers; returns wall time and every latency.
async fn run(
    http: &reqwest::Client,
    token: &str,
    total: usize,
    request: impl Fn(usize) -> (reqwest::Method, String) + Send + Sync + 'static,
) -> Sample {
    let next = Arc::new(AtomicUsize::new(0));
    let request = Arc::new(request);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let (http, token, next, request) = (
            http.clone(),
            token.to_string(),
            next.clone(),
            request.clone(),
        );
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break latencies;
                }
                let (method, url) = request(i);
                let t = Instant::now();
                let mut req = http.request(method.clone(), &url).bearer_auth(&token);
                if method == reqwest::Method::PUT {
                    req = req.json(&json!({"location": "eastus", "tags": {"bench": "yes"}}));
                }
                let resp = req.send().await.expect("request");
                let status = resp.status();
                let _ = resp.bytes().await;
                assert!(status.is_success(), "{method} {url}: {status}");
                latencies.push(t.elapsed());
            }
        });
    }
    let mut all = Vec::with_capacity(total);
    while let Some(done) = workers.join_next().await {
        all.extend(done.expect("worker"));
    }
    (started.elapsed(), all)
}

fn report(what: &str, total: usize, (wall, latencies): &Sample) {
    let mut sorted = latencies.clone();
    sorted.sort_unstable();
    let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
    println!(
        "{what:<24} {total:>6} requests in {:>6.2} s = {:>8.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}
