//! The emulator's realism knobs over real HTTP: ARM-style throttling (buckets, headers, 429),
//! injected faults (500, 503, dropped connections, before or after the write), their seeded
//! replay, and latency. Time is asserted only as "at least", never "at most".

use std::time::{Duration, Instant};

use azid::emulator::{EmulatorOptions, Latency, Limit, ThrottleProfile};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Azid, Env, Reply, Spawned};

const SUB_A: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const SUB_B: &str = "bbbbbbbb-0000-0000-0000-000000000002";

fn limit(size: u32, refill_per_sec: f64) -> Option<Limit> {
    Some(Limit {
        size,
        refill_per_sec,
    })
}

/// An emulator with this throttle profile and instant group deletes.
async fn throttled(throttle: ThrottleProfile) -> Env {
    Env::with(EmulatorOptions {
        throttle,
        subscriptions: vec![SUB_A.into(), SUB_B.into()],
        group_delete_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    })
    .await
}

/// An emulator failing this share of ARM requests, from this seed.
async fn faulty(fault_rate: f64, seed: u64) -> Env {
    Env::with(EmulatorOptions {
        fault_rate,
        seed: Some(seed),
        ..EmulatorOptions::default()
    })
    .await
}

/// The value of an `x-ms-ratelimit-remaining-subscription-{kind}` header.
fn remaining(reply: &Reply, kind: &str) -> Option<u64> {
    reply
        .headers
        .get(format!("x-ms-ratelimit-remaining-subscription-{kind}"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds")
}

fn group_in(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{rg}?api-version=2024-11-01")
}

fn identity_in(sub: &str, rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}?api-version=2024-11-30"
    )
}

fn eastus() -> Option<serde_json::Value> {
    Some(json!({"location": "eastus"}))
}

#[tokio::test]
async fn throttle_counts_down_then_answers_429_and_changes_nothing() {
    let env = throttled(ThrottleProfile {
        writes: limit(3, 0.01),
        ..ThrottleProfile::off()
    })
    .await;
    let sub = SUB_A;
    let mut left = Vec::new();
    for path in [
        group_in(sub, "rg"),
        identity_in(sub, "rg", "id-a"),
        identity_in(sub, "rg", "id-b"),
    ] {
        let r = env.call(Method::PUT, &path, eastus()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        left.push(remaining(&r, "writes"));
    }
    assert_eq!(left, [Some(2), Some(1), Some(0)]);

    let path = identity_in(sub, "rg", "id-c");
    let refused = env.call(Method::PUT, &path, eastus()).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "SubscriptionRequestsThrottled");
    let wait = retry_after(&refused);
    assert!(wait >= 1, "Retry-After is at least 1 s");
    let message = refused.body["error"]["message"].as_str().expect("message");
    let head = format!("Number of 'write' requests for subscription '{sub}' actor '");
    let tail = format!(
        "' exceeded. Please try again after '{wait}' seconds after additional tokens are available. \
         Refer to https://aka.ms/arm-throttling for additional information."
    );
    let actor = message
        .strip_prefix(&head)
        .and_then(|m| m.strip_suffix(&tail))
        .unwrap_or_else(|| panic!("ARM's message shape: {message}"));
    assert!(uuid::Uuid::try_parse(actor).is_ok(), "actor {actor}");
    assert_eq!(remaining(&refused, "writes"), Some(0));

    let absent = env.call(Method::GET, &path, None).await;
    assert_eq!(
        absent.status,
        StatusCode::NOT_FOUND,
        "a throttled PUT creates nothing"
    );
    assert_eq!(remaining(&absent, "reads"), None, "reads are not limited");
    assert_eq!(remaining(&absent, "writes"), None);
}

#[tokio::test]
async fn throttle_buckets_are_per_kind_and_per_subscription() {
    let env = throttled(ThrottleProfile {
        reads: limit(3, 0.01),
        writes: limit(1, 0.01),
        deletes: limit(1, 0.01),
    })
    .await;
    let r = env
        .call(Method::PUT, &group_in(SUB_A, "rg"), eastus())
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = env
        .call(Method::PATCH, &group_in(SUB_A, "rg"), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "PATCH is a write");
    let r = env
        .call(Method::PUT, &group_in(SUB_B, "rg"), eastus())
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "another subscription, another bucket"
    );
    assert_eq!(remaining(&r, "writes"), Some(0));

    let r = env.call(Method::GET, &group_in(SUB_A, "rg"), None).await;
    assert_eq!(r.status, StatusCode::OK, "reads have their own bucket");
    assert_eq!(remaining(&r, "reads"), Some(2));
    let r = env.call(Method::HEAD, &group_in(SUB_A, "rg"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(remaining(&r, "reads"), Some(1), "HEAD is a read");

    let gone = identity_in(SUB_A, "rg", "nobody");
    let r = env.call(Method::DELETE, &gone, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(remaining(&r, "deletes"), Some(0));
    let r = env.call(Method::DELETE, &gone, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Number of 'delete' requests"),
        "{:?}",
        r.body
    );

    // Tenant-level and unknown-subscription requests take no token and report none.
    for _ in 0..5 {
        let r = env
            .call(Method::GET, "/subscriptions?api-version=2022-12-01", None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(remaining(&r, "reads"), None);
    }
    let unknown = group_in("cccccccc-0000-0000-0000-000000000003", "rg");
    let r = env.call(Method::GET, &unknown, None).await;
    assert_eq!(r.code(), "SubscriptionNotFound");
    assert_eq!(remaining(&r, "reads"), None);
    let r = env.call(Method::GET, &group_in(SUB_A, "rg"), None).await;
    assert_eq!(remaining(&r, "reads"), Some(0));
}

#[tokio::test]
async fn a_throttled_client_passes_after_waiting_retry_after() {
    let env = throttled(ThrottleProfile {
        writes: limit(1, 2.0),
        ..ThrottleProfile::off()
    })
    .await;
    let path = group_in(SUB_A, "rg");
    let mut refused = None;
    for _ in 0..50 {
        let r = env.call(Method::PUT, &path, eastus()).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(r);
            break;
        }
        assert!(r.status.is_success(), "{:?}", r.body);
    }
    let refused = refused.expect("a bucket of 1 refilling 2/s runs dry");
    let wait = retry_after(&refused);
    assert_eq!(wait, 1, "half a second at most, rounded up to 1");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let r = env.call(Method::PUT, &path, eastus()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn the_arm_profile_reports_arm_limits() {
    let env = throttled(ThrottleProfile::arm()).await;
    let r = env
        .call(Method::PUT, &group_in(SUB_A, "rg"), eastus())
        .await;
    assert_eq!(remaining(&r, "writes"), Some(199));
    let r = env.call(Method::GET, &group_in(SUB_A, "rg"), None).await;
    assert_eq!(remaining(&r, "reads"), Some(249));
    let r = env
        .call(Method::DELETE, &identity_in(SUB_A, "rg", "id-x"), None)
        .await;
    assert_eq!(remaining(&r, "deletes"), Some(199));
}

/// What a client saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// A status and ARM error code.
    Status(u16, String),
    /// The connection closed without a response.
    Dropped,
}

/// Sends a request and classifies what came back; a dropped connection is an outcome.
async fn outcome(
    env: &Env,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Outcome {
    let mut req = env
        .http
        .request(method, format!("{}{path}", env.emu.url()))
        .bearer_auth(env.emu.token());
    if let Some(b) = body {
        req = req.json(&b);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(resp.headers()["retry-after"], "1");
            }
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            let code = body["error"]["code"].as_str().unwrap_or("").to_string();
            Outcome::Status(status.as_u16(), code)
        }
        Err(e) => {
            assert!(!e.is_timeout() && !e.is_status(), "{e:?}");
            Outcome::Dropped
        }
    }
}

fn is_fault(o: &Outcome) -> bool {
    match o {
        Outcome::Dropped => true,
        Outcome::Status(500, code) => code == "InternalServerError",
        Outcome::Status(503, code) => code == "ServiceUnavailable",
        Outcome::Status(..) => false,
    }
}

#[tokio::test]
async fn at_rate_one_every_arm_request_fails_and_the_token_endpoint_never_does() {
    let env = faulty(1.0, 11).await;
    let path = format!("/subscriptions/{}?api-version=2022-12-01", env.sub);
    let mut seen = Vec::new();
    for _ in 0..30 {
        let o = outcome(&env, Method::GET, &path, None).await;
        assert!(is_fault(&o), "{o:?}");
        seen.push(o);
    }
    for kind in [
        Outcome::Status(500, "InternalServerError".into()),
        Outcome::Status(503, "ServiceUnavailable".into()),
        Outcome::Dropped,
    ] {
        assert!(seen.contains(&kind), "{kind:?} never happened in {seen:?}");
    }

    let token = format!(
        "{}?api-version=2019-08-01&resource=https://management.azure.com/",
        env.emu.identity_endpoint()
    );
    for _ in 0..10 {
        let r = env
            .http
            .get(&token)
            .header("X-IDENTITY-HEADER", env.emu.identity_header())
            .send()
            .await
            .expect("the token endpoint answers");
        assert_eq!(r.status(), StatusCode::OK);
        let r = env
            .call_as(
                None,
                Method::GET,
                "/metadata/endpoints?api-version=2022-09-01",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = env.call_as(None, Method::GET, &path, None).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "authentication comes before faults"
        );
    }
}

#[tokio::test]
async fn a_dropped_connection_sends_no_status_line() {
    let env = faulty(1.0, 3).await;
    let addr = env.emu.addr();
    let request = format!(
        "GET /subscriptions/{}?api-version=2022-12-01 HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
        env.sub,
        env.emu.token()
    );
    let mut dropped = 0;
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("request written");
        let mut got = Vec::new();
        // A reset instead of a clean close is a dropped connection too.
        let _ = stream.read_to_end(&mut got).await;
        let text = String::from_utf8_lossy(&got);
        if got.is_empty() {
            dropped += 1;
        } else {
            assert!(
                text.starts_with("HTTP/1.1 500 ") || text.starts_with("HTTP/1.1 503 "),
                "{text}"
            );
        }
    }
    assert!(dropped > 0, "no connection was dropped in 20 faults");
}

/// At rate 1, PUTs 16 identities through a faulty emulator and asks a healthy one on the
/// same data file which of them exist.
async fn faulty_puts(seed: u64) -> Vec<(Outcome, bool)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.db");
    let healthy = Env::with(EmulatorOptions {
        data: Some(data.clone()),
        token: Some("t".into()),
        ..EmulatorOptions::default()
    })
    .await;
    let broken = Env::with(EmulatorOptions {
        data: Some(data),
        token: Some("t".into()),
        fault_rate: 1.0,
        seed: Some(seed),
        ..EmulatorOptions::default()
    })
    .await;
    assert_eq!(broken.sub, healthy.sub);
    healthy.group("rg").await;
    let mut seen = Vec::new();
    for i in 0..16 {
        let path = broken.identity_path("rg", &format!("id-{i:02}"));
        let o = outcome(
            &broken,
            Method::PUT,
            &path,
            Some(json!({"location": "eastus", "tags": {"n": i.to_string()}})),
        )
        .await;
        assert!(is_fault(&o), "{o:?}");
        let r = healthy.call(Method::GET, &path, None).await;
        if r.status == StatusCode::OK {
            assert_eq!(
                r.body["tags"]["n"],
                i.to_string(),
                "the write applied whole"
            );
        } else {
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }
        seen.push((o, r.status == StatusCode::OK));
    }
    seen
}

#[tokio::test]
async fn a_fault_after_the_write_leaves_it_applied_and_the_seed_replays_it() {
    let first = faulty_puts(21).await;
    assert!(
        first.iter().any(|(_, applied)| *applied),
        "some faults come after the write: {first:?}"
    );
    assert!(
        first.iter().any(|(_, applied)| !*applied),
        "some faults come before it: {first:?}"
    );
    assert!(
        first
            .iter()
            .any(|(o, applied)| *o == Outcome::Dropped && *applied),
        "a dropped connection can follow an applied write: {first:?}"
    );
    assert_eq!(faulty_puts(21).await, first, "the same seed, the same run");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_sequence_of_outcomes() {
    async fn run(seed: u64) -> Vec<Outcome> {
        let env = faulty(0.5, seed).await;
        let mut seen = Vec::new();
        for i in 0..40 {
            let (method, path, body) = match i % 4 {
                0 => (Method::PUT, env.group_path("rg"), eastus()),
                1 => (Method::GET, env.group_path("rg"), None),
                2 => (Method::GET, env.identities_in_sub(), None),
                _ => (Method::DELETE, env.identity_path("rg", "id-x"), None),
            };
            seen.push(outcome(&env, method, &path, body).await);
        }
        seen
    }
    let first = run(5).await;
    assert!(first.iter().any(is_fault) && !first.iter().all(is_fault));
    assert_eq!(run(5).await, first);
}

#[tokio::test]
async fn latency_delays_every_request() {
    let env = Env::with(EmulatorOptions {
        latency: Some(Latency {
            min: Duration::from_millis(120),
            max: Duration::from_millis(160),
        }),
        ..EmulatorOptions::default()
    })
    .await;
    for path in [
        "/subscriptions?api-version=2022-12-01",
        "/metadata/endpoints?api-version=2022-09-01",
    ] {
        let start = Instant::now();
        let r = env.call(Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(start.elapsed() >= Duration::from_millis(120));
    }
}

#[test]
fn the_emulator_flags_reach_the_server() {
    let emu = Spawned::start(&[
        "--listen",
        ":0",
        "--token",
        "t",
        "--throttle",
        "writes=1/0.01",
        "--latency",
        "1..5",
        "--fault-rate",
        "0",
        "--seed",
        "1",
    ]);
    let group = format!(
        "{}{}",
        emu.get("URL"),
        group_in(emu.get("SUBSCRIPTION"), "rg")
    );
    let http = reqwest::blocking::Client::new();
    let put = || {
        http.put(&group)
            .bearer_auth("t")
            .json(&json!({"location": "eastus"}))
            .send()
            .expect("send")
    };
    let first = put();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(
        first.headers()["x-ms-ratelimit-remaining-subscription-writes"],
        "0"
    );
    assert_eq!(put().status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn bad_realism_flags_exit_2_naming_the_value() {
    for (args, want) in [
        (["--throttle", "writes=0/1"], "'0' is not a bucket size"),
        (
            ["--throttle", "posts=1/1"],
            "'posts' is not a kind of request",
        ),
        (["--latency", "90..10"], "'90..10' is not a latency range"),
        (["--fault-rate", "1.5"], "'1.5' is not a fault rate"),
    ] {
        let mut all = vec!["emulator", "--listen", ":0"];
        all.extend(args);
        let run = Azid::new(&all).run().await;
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
    }
}
