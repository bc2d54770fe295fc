//! Resource Graph throughput: 50 subscriptions x 400 identities (20,000) created over HTTP,
//! then `resources | where type =~ 'microsoft.managedidentity/userassignedidentities'` paged
//! 1,000 rows at a time. Prints the seed time, queries per second and rows per second;
//! asserts nothing about time. Run with `cargo bench --bench graph`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use azid::emulator::{Emulator, EmulatorOptions};
use serde_json::{Value, json};

const SUBSCRIPTIONS: usize = 50;
const PER_SUBSCRIPTION: usize = 400;
const CONNECTIONS: usize = 16;
const QUERIES: usize = 40;

fn main() {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let subs: Vec<String> = (0..SUBSCRIPTIONS)
        .map(|i| format!("00000000-0000-0000-0000-{i:012}"))
        .collect();
    let emu = server
        .block_on(Emulator::start(EmulatorOptions {
            subscriptions: subs.clone(),
            graph_quota: "86400/1".parse().expect("quota"),
            ..EmulatorOptions::default()
        }))
        .expect("emulator starts");
    let url = emu.url().to_string();
    let token = emu.token().to_string();
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    client.block_on(async {
        let http = reqwest::Client::new();
        let started = Instant::now();
        for sub in &subs {
            let r = http
                .put(format!("{url}/subscriptions/{sub}/resourcegroups/bench?api-version=2024-11-01"))
                .bearer_auth(&token)
                .json(&json!({"location": "eastus"}))
                .send()
                .await
                .expect("group");
            assert!(r.status().is_success());
        }
        let next = Arc::new(AtomicUsize::new(0));
        let total = SUBSCRIPTIONS * PER_SUBSCRIPTION;
        let mut workers = Vec::new();
        for _ in 0..CONNECTIONS {
            let (http, url, token, subs, next) =
                (http.clone(), url.clone(), token.clone(), subs.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let sub = &subs[i % SUBSCRIPTIONS];
                    let r = http
                        .put(format!(
                            "{url}/subscriptions/{sub}/resourceGroups/bench/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-{i:05}?api-version=2024-11-30"
                        ))
                        .bearer_auth(&token)
                        .json(&json!({"location": "eastus"}))
                        .send()
                        .await
                        .expect("identity");
                    assert!(r.status().is_success());
                }
            }));
        }
        for w in workers {
            w.await.expect("worker");
        }
        let seed = started.elapsed();
        println!(
            "seed: {total} identities in {SUBSCRIPTIONS} subscriptions over HTTP in {:.1} s",
            seed.as_secs_f64()
        );

        let query = "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project id, name | order by id asc";
        let started = Instant::now();
        let mut rows = 0u64;
        let mut token_text: Option<String> = None;
        for _ in 0..QUERIES {
            let options = match &token_text {
                Some(t) => json!({"$skipToken": t}),
                None => json!({"$top": 1000}),
            };
            let r: Value = http
                .post(format!("{url}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01"))
                .bearer_auth(&token)
                .json(&json!({"query": query, "options": options}))
                .send()
                .await
                .expect("query")
                .json()
                .await
                .expect("json");
            rows += r["count"].as_u64().unwrap_or(0);
            token_text = r["$skipToken"].as_str().map(str::to_string);
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "query over {total} identities, pages of 1000: {:.1} queries/s, {:.0} rows/s returned ({QUERIES} queries, {rows} rows)",
            QUERIES as f64 / took,
            rows as f64 / took
        );
        let started = Instant::now();
        for _ in 0..QUERIES {
            let r = http
                .post(format!("{url}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01"))
                .bearer_auth(&token)
                .json(&json!({"query": "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | count"}))
                .send()
                .await
                .expect("query");
            assert!(r.status().is_success());
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "count over {total} identities: {:.1} queries/s, {:.0} rows/s scanned",
            QUERIES as f64 / took,
            (QUERIES * total) as f64 / took
        );
    });
    drop(emu);
}
