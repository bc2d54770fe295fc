//! Resource Graph over the tenant seed: `--seed-tenant 50:400` (50 subscriptions, 20,000
//! identities, 20,000 resources, role assignments, federated credentials) loaded in memory and
//! into a data file, then `resources | where type =~ 'microsoft.managedidentity/userassignedidentities'`
//! paged through every row 1,000 at a time. Prints the load times, queries per second and rows
//! per second (with an unlimited quota, and one pass under the default 15/5); asserts only that
//! every pass returns every identity once, nothing about time. Run with `cargo bench --bench graph`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use azid::emulator::seed::TenantSeed;
use azid::emulator::{Emulator, EmulatorOptions, QuotaSpec};
use serde_json::{Value, json};

const SUBSCRIPTIONS: usize = 50;
const IDENTITIES: usize = 20_000;
const PASSES: usize = 3;
const COUNTS: usize = 40;
const QUERY: &str = "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | project id, name | order by id asc";
const GRAPH: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01";

fn seeded(quota: QuotaSpec, data: Option<std::path::PathBuf>) -> EmulatorOptions {
    EmulatorOptions {
        tenant_seed: Some(TenantSeed::new(SUBSCRIPTIONS, IDENTITIES).expect("seed")),
        graph_quota: quota,
        data,
        ..EmulatorOptions::default()
    }
}

/// One query; waits out a 429 as `Retry-After` says. Returns the body and how many 429s it met.
async fn post(http: &reqwest::Client, emu: &Emulator, body: &Value) -> (Value, u32) {
    let mut throttled = 0;
    loop {
        let r = http
            .post(format!("{}{GRAPH}", emu.url()))
            .bearer_auth(emu.token())
            .json(body)
            .send()
            .await
            .expect("query");
        if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
            let wait = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        assert!(r.status().is_success(), "{}", r.status());
        return (r.json().await.expect("json"), throttled);
    }
}

/// Pages through every row of `QUERY`; returns (queries, rows, 429s) and checks each id comes once.
async fn pass(http: &reqwest::Client, emu: &Emulator) -> (usize, usize, u32) {
    let (mut queries, mut throttled) = (0, 0);
    let mut seen = HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let options = match &token {
            Some(t) => json!({"$top": 1000, "$skipToken": t}),
            None => json!({"$top": 1000}),
        };
        let (page, waits) = post(http, emu, &json!({"query": QUERY, "options": options})).await;
        queries += 1;
        throttled += waits;
        for row in page["data"].as_array().expect("data") {
            assert!(
                seen.insert(row["id"].as_str().expect("id").to_string()),
                "a row came twice"
            );
        }
        token = page["$skipToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), IDENTITIES, "every identity once");
    (queries, seen.len(), throttled)
}

fn main() {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let unlimited: QuotaSpec = "86400/1".parse().expect("quota");

    let file = std::env::temp_dir().join(format!("azid-bench-graph-{}.db", std::process::id()));
    let started = Instant::now();
    let on_disk = server
        .block_on(Emulator::start(seeded(unlimited, Some(file.clone()))))
        .expect("emulator starts");
    let disk_load = started.elapsed();
    drop(on_disk);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }

    let started = Instant::now();
    let emu = server
        .block_on(Emulator::start(seeded(unlimited, None)))
        .expect("emulator starts");
    let memory_load = started.elapsed();

    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    client.block_on(async {
        let http = reqwest::Client::new();
        let count = |table: &str| json!({"query": format!("{table} | count")});
        let started = Instant::now();
        let (resources, _) = post(&http, &emu, &count("resources")).await;
        let first = started.elapsed();
        let (auth, _) = post(
            &http,
            &emu,
            &json!({"query": "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | count"}),
        )
        .await;
        let cell = |v: &Value| v["data"][0]["Count"].as_u64().unwrap_or(0);
        println!(
            "seed {SUBSCRIPTIONS}:{IDENTITIES} ({} rows in `resources`, {} role assignments): loaded in {:.2} s in memory, {:.2} s into a data file; first query (builds the tables) {:.2} s",
            cell(&resources),
            cell(&auth),
            memory_load.as_secs_f64(),
            disk_load.as_secs_f64(),
            first.as_secs_f64()
        );

        let started = Instant::now();
        let (mut queries, mut rows) = (0, 0);
        for _ in 0..PASSES {
            let (q, r, _) = pass(&http, &emu).await;
            queries += q;
            rows += r;
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "`{QUERY}` over {IDENTITIES} identities, $top 1000, {PASSES} full passes: {:.1} queries/s, {:.0} rows/s ({queries} queries, {rows} rows, {:.2} s a pass)",
            queries as f64 / took,
            rows as f64 / took,
            took / PASSES as f64
        );

        let started = Instant::now();
        for _ in 0..COUNTS {
            post(
                &http,
                &emu,
                &json!({"query": "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' | count"}),
            )
            .await;
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "`... | count` over the same: {:.1} queries/s, {:.0} rows/s scanned",
            COUNTS as f64 / took,
            (COUNTS * IDENTITIES) as f64 / took
        );
    });
    drop(emu);

    let quota = QuotaSpec::default();
    let emu = server
        .block_on(Emulator::start(seeded(quota, None)))
        .expect("emulator starts");
    client.block_on(async {
        let http = reqwest::Client::new();
        let started = Instant::now();
        let (queries, rows, throttled) = pass(&http, &emu).await;
        println!(
            "one full pass under the default quota (15 queries / 5 s): {:.2} s ({queries} queries, {rows} rows, {throttled} answered 429 and waited out)",
            started.elapsed().as_secs_f64()
        );
    });
}
