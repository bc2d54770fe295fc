//! azid against servers of the test's own on 127.0.0.1 that redirect, throttle without end,
//! never answer or page in circles: the token stays with the endpoint, nothing panics, and
//! Ctrl-C or SIGTERM ends a script stuck in an API call with the usual report.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{Azid, Run};

/// A subscription id for the servers below (they do not check it).
const SUB: &str = "00000000-0000-0000-0000-00000000beef";
/// The token azid is given; no other origin may ever see it.
const TOKEN: &str = "secret-token-of-the-endpoint";

/// One request as a test server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET /path?query`.
    pub line: String,
    /// Header lines, as sent.
    pub headers: Vec<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The path and query of the request line.
    pub fn target(&self) -> &str {
        self.line.split(' ').nth(1).unwrap_or("")
    }
}

/// What a test server does with a request.
pub enum Answer {
    /// Write this raw HTTP response and close.
    Raw(String),
    /// Keep the connection open and say nothing, for this long.
    Silence(Duration),
}

/// A tiny HTTP/1.1 server on 127.0.0.1: one thread per connection, every request recorded.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every request received, in order.
    pub seen: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Serves with `answer` until the test ends.
    pub fn start(answer: impl Fn(&Request, &str) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let (s, u) = (seen.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, answer, url) = (s.clone(), answer.clone(), u.clone());
                std::thread::spawn(move || serve(stream, &seen, answer.as_ref(), &url));
            }
        });
        Server { url, seen }
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    /// Waits (up to 20 s) until at least `n` requests arrived.
    pub fn wait_for(&self, n: usize) {
        let until = Instant::now() + Duration::from_secs(20);
        while self.count() < n {
            assert!(Instant::now() < until, "the server never got {n} requests");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(
    stream: TcpStream,
    seen: &Mutex<Vec<Request>>,
    answer: &(dyn Fn(&Request, &str) -> Answer + Send + Sync),
    url: &str,
) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
        headers.push(h.trim_end().to_string());
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let request = Request {
        line: line.trim_end().to_string(),
        headers,
        body,
    };
    let reply = answer(&request, url);
    seen.lock().expect("lock").push(request);
    match reply {
        Answer::Raw(text) => {
            let mut stream = reader.into_inner();
            let _ = stream.write_all(text.as_bytes());
            let _ = stream.flush();
        }
        Answer::Silence(d) => std::thread::sleep(d),
    }
}

/// A raw response with a JSON body and extra header lines.
fn respond(status: &str, extra: &[String], body: &str) -> Answer {
    let mut text = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for h in extra {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.push_str(body);
    Answer::Raw(text)
}

/// `azid` aimed at a test server with a static token.
fn azid_at(url: &str, args: &[&str]) -> Azid {
    let mut all = vec!["--endpoint", url, "--auth", "token", "--subscription", SUB];
    all.extend_from_slice(args);
    Azid::new(&all).env("AZID_TOKEN", TOKEN)
}

/// Waits up to `limit` for the child to exit; kills it (and fails) otherwise.
fn exits_within(mut child: Child, limit: Duration) -> Output {
    let until = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > until {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "azid did not exit within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs to the end, but fails (killing it) if that takes longer than `limit`.
async fn run_within(azid: Azid, limit: Duration) -> Run {
    let (child, _home) = azid.spawn();
    let out = tokio::task::spawn_blocking(move || exits_within(child, limit))
        .await
        .expect("join");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn signal(child: &Child, signal: i32) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) with the pid of a child this test started and has not reaped.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill");
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed_and_the_token_stays_home() {
    // The other origin redirects once more on itself, then would accept anything.
    let other = Server::start(|r, url| {
        if r.target().starts_with("/again") {
            respond("200 OK", &[], r#"{"location":"eastus"}"#)
        } else {
            respond(
                "307 Temporary Redirect",
                &[format!("location: {url}/again{}", r.target())],
                "",
            )
        }
    });
    let target = other.url.clone();
    let endpoint = Server::start(move |r, _| {
        respond(
            "307 Temporary Redirect",
            &[format!("location: {target}{}", r.target())],
            "",
        )
    });
    let run = run_within(
        azid_at(
            &endpoint.url,
            &[
                "identity", "create", "-g", "rg", "-n", "app", "-l", "eastus",
            ],
        ),
        Duration::from_secs(30),
    )
    .await;
    assert_ne!(run.code, 0, "{run:?}");
    let asked = endpoint.seen.lock().expect("lock").clone();
    let first = asked.first().expect("the endpoint was asked");
    assert!(
        first
            .headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&format!("authorization: Bearer {TOKEN}"))),
        "the endpoint itself gets the token: {first:?}"
    );
    assert!(String::from_utf8_lossy(&first.body).contains("eastus"));
    let leaked = other.seen.lock().expect("lock").clone();
    assert!(
        leaked.is_empty(),
        "the other origin received {} request(s), e.g. {:?}",
        leaked.len(),
        leaked.first()
    );
    assert!(
        run.stderr.contains(&other.url) && run.stderr.contains("redirect"),
        "the error names where the redirect pointed: {}",
        run.stderr
    );
    assert!(!run.stderr.contains(TOKEN), "{}", run.stderr);
}

#[tokio::test]
async fn a_retry_after_past_what_a_duration_holds_fails_the_call_without_a_panic() {
    for (status, header) in [
        ("429 Too Many Requests", "retry-after: 18446744073709551615"),
        (
            "429 Too Many Requests",
            "retry-after: 99999999999999999999999",
        ),
        (
            "503 Service Unavailable",
            "retry-after: 18446744073709551615",
        ),
        (
            "503 Service Unavailable",
            "x-ms-retry-after-ms: 18446744073709551615",
        ),
    ] {
        let code = if status.starts_with("429") {
            "SubscriptionRequestsThrottled"
        } else {
            "ServiceUnavailable"
        };
        let body = format!(r#"{{"error":{{"code":"{code}","message":"wait"}}}}"#);
        let header = header.to_string();
        let server =
            Server::start(move |_, _| respond(status, std::slice::from_ref(&header), &body));
        let run = run_within(
            azid_at(&server.url, &["identity", "show", "-g", "rg", "-n", "app"]),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(run.code, 1, "{status} {run:?}");
        assert!(
            run.stderr.contains(code) && run.stderr.contains("asked to wait"),
            "the server's code and the wait it asked for: {}",
            run.stderr
        );
        assert_eq!(server.count(), 1, "a wait past the bound is not waited for");
    }
}

#[tokio::test]
async fn ctrl_c_ends_a_script_waiting_out_a_long_retry_after() {
    let server = Server::start(|_, _| {
        respond(
            "429 Too Many Requests",
            &["retry-after: 240".into()],
            r#"{"error":{"code":"SubscriptionRequestsThrottled","message":"later"}}"#,
        )
    });
    let (child, _home) = azid_at(&server.url, &["eval", r#"identity_show("rg", "app")"#]).spawn();
    server.wait_for(1);
    signal(&child, libc::SIGINT);
    let out = exits_within(child, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: 0 created, 0 updated, 0 deleted"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_ends_a_script_whose_server_never_answers() {
    let server = Server::start(|_, _| Answer::Silence(Duration::from_secs(120)));
    let (child, _home) = azid_at(&server.url, &["eval", r#"identity_show("rg", "app")"#]).spawn();
    server.wait_for(1);
    signal(&child, libc::SIGTERM);
    let out = exits_within(child, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted: 0 created"), "{stderr}");
}

fn empty_page(next: &str) -> Answer {
    respond(
        "200 OK",
        &[],
        &format!(r#"{{"value":[],"nextLink":"{next}"}}"#),
    )
}

#[tokio::test]
async fn a_next_link_that_points_at_itself_ends_the_list_with_an_error() {
    let server = Server::start(|r, url| empty_page(&format!("{url}{}", r.target())));
    let run = run_within(
        azid_at(&server.url, &["eval", r#"identity_list("rg")"#]),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("repeats a page"), "{}", run.stderr);
    assert!(server.count() <= 2, "{} pages were read", server.count());
}

#[tokio::test]
async fn ctrl_c_ends_a_list_that_pages_without_end() {
    // Every page links to a new one: only the page bound or Ctrl-C ends it.
    let server = Server::start(|r, url| {
        let n: u64 = r
            .target()
            .rsplit_once("page=")
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0);
        let base = r.target().split("&page=").next().unwrap_or("");
        empty_page(&format!("{url}{base}&page={}", n + 1))
    });
    let (child, _home) = azid_at(&server.url, &["eval", r#"identity_list("rg")"#]).spawn();
    server.wait_for(5);
    signal(&child, libc::SIGINT);
    let out = exits_within(child, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: 0 created"), "{stderr}");
}

#[tokio::test]
async fn a_throttle_refill_too_slow_to_wait_for_fails_the_write_without_a_panic() {
    // Two write tokens (the group takes one) that come back after longer than any duration: the emulator's
    // Retry-After saturates, and azid must fail the call, not overflow.
    let env = crate::harness::Env::with(azid::emulator::EmulatorOptions {
        throttle: "writes=2/1e-30".parse().expect("profile"),
        ..crate::harness::quick()
    })
    .await;
    env.group("rg").await;
    let script = r#"identity_create("rg", "app-a", #{location: "eastus"}); identity_create("rg", "app-b", #{location: "eastus"})"#;
    let run = run_within(Azid::at(&env, &["eval", script]), Duration::from_secs(30)).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("SubscriptionRequestsThrottled")
            && run.stderr.contains("asked to wait"),
        "{}",
        run.stderr
    );
    assert_eq!(env.all_identity_names().await, vec!["app-a".to_string()]);
}

#[tokio::test]
async fn a_group_delete_polled_elsewhere_sends_nothing_there() {
    let other = Server::start(|_, _| respond("200 OK", &[], "{}"));
    let poll = format!("{}/operationresults/x", other.url);
    let endpoint = Server::start(move |_, _| {
        respond(
            "202 Accepted",
            &[format!("location: {poll}"), "retry-after: 0".into()],
            "",
        )
    });
    let run = run_within(
        azid_at(&endpoint.url, &["group", "delete", "-n", "rg", "--yes"]),
        Duration::from_secs(30),
    )
    .await;
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(other.count(), 0, "the poll went to another origin");
    assert!(run.stderr.contains(&other.url), "{}", run.stderr);
}

#[tokio::test]
async fn ctrl_c_ends_an_array_call_whose_server_never_answers() {
    let server = Server::start(|_, _| Answer::Silence(Duration::from_secs(120)));
    let script =
        r#"identity_create("rg", ["app-1", "app-2", "app-3", "app-4"], #{location: "eastus"})"#;
    let (child, _home) = azid_at(&server.url, &["eval", script, "--concurrency", "2"]).spawn();
    server.wait_for(2);
    signal(&child, libc::SIGINT);
    let out = exits_within(child, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: 0 created"), "{stderr}");
    assert_eq!(server.count(), 2, "nothing new started after Ctrl-C");
}

/// An identity as ARM lists it, in group `rg` of the test subscription.
fn listed_identity(rg: &str, name: &str) -> String {
    format!(
        r#"{{"id":"/subscriptions/{SUB}/resourcegroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}","name":"{name}","type":"Microsoft.ManagedIdentity/userAssignedIdentities","location":"eastus","tags":{{}},"properties":{{"tenantId":"t","principalId":"p-{name}","clientId":"c-{name}"}}}}"#
    )
}

#[tokio::test]
async fn a_fanned_out_list_takes_its_places_page_by_page() {
    // Three groups of two pages each, and two places. The first page asked for is answered
    // slowly, every other one quickly: when the quick first page is in, its place goes to
    // the third group's first page, which has waited longest; a list that kept its place
    // would ask for its own second page instead. Never more than two requests are in flight.
    let flight = Arc::new(Mutex::new((0usize, 0usize, Vec::<String>::new())));
    let seen = flight.clone();
    let server = Server::start(move |r, url| {
        let target = r.target().to_string();
        let first_list_page = {
            let mut f = seen.lock().expect("lock");
            f.0 += 1;
            f.1 = f.1.max(f.0);
            f.2.push(target.clone());
            f.2.iter()
                .filter(|t| t.contains("/userAssignedIdentities"))
                .count()
                == 1
                && target.contains("/userAssignedIdentities")
        };
        std::thread::sleep(Duration::from_millis(if first_list_page {
            400
        } else {
            40
        }));
        let path = target.split('?').next().unwrap_or("");
        let group = path
            .split('/')
            .skip_while(|s| *s != "resourceGroups")
            .nth(1)
            .unwrap_or("")
            .to_string();
        let body = if path.ends_with("/resourcegroups") {
            let groups: Vec<String> = ["a", "b", "c"]
                .iter()
                .map(|g| {
                    format!(
                        r#"{{"id":"/subscriptions/{SUB}/resourceGroups/{g}","name":"{g}","type":"Microsoft.Resources/resourceGroups","location":"eastus","properties":{{"provisioningState":"Succeeded"}}}}"#
                    )
                })
                .collect();
            format!(r#"{{"value":[{}]}}"#, groups.join(","))
        } else if target.contains("page=2") {
            format!(
                r#"{{"value":[{}]}}"#,
                listed_identity(&group, &format!("{group}-2"))
            )
        } else {
            format!(
                r#"{{"value":[{}],"nextLink":"{url}{path}?api-version=2023-01-31&page=2"}}"#,
                listed_identity(&group, &format!("{group}-1"))
            )
        };
        seen.lock().expect("lock").0 -= 1;
        respond("200 OK", &[], &body)
    });
    let run = run_within(
        azid_at(
            &server.url,
            &[
                "--concurrency",
                "2",
                "eval",
                "identity_list(#{consistent: true}).map(|i| i.name)",
            ],
        ),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let names: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        names,
        serde_json::json!(["a-1", "a-2", "b-1", "b-2", "c-1", "c-2"]),
        "pages are put back in order"
    );
    let f = flight.lock().expect("lock");
    assert!(f.1 <= 2, "{} requests were in flight at once", f.1);
    let lists: Vec<&String> =
        f.2.iter()
            .filter(|t| t.contains("/userAssignedIdentities"))
            .collect();
    assert_eq!(lists.len(), 6, "{lists:?}");
    assert!(
        lists.iter().take(3).all(|t| !t.contains("page=2")),
        "a list kept its place for its second page while another had not begun: {lists:?}"
    );
}
