//! The `azid emulator` binary itself: its banner, persistence across `kill -9`, TLS, and
//! its usage errors.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Spawned;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[test]
fn banner_comes_first_and_names_everything() {
    let emu = Spawned::start(&[
        "--listen",
        ":0",
        "--subscription",
        "44444444-4444-4444-4444-444444444444",
        "--subscription",
        "55555555-5555-5555-5555-555555555555",
    ]);
    assert_eq!(emu.lines[0].0, "URL", "the URL is the first line");
    assert!(emu.get("URL").starts_with("http://127.0.0.1:"));
    assert_eq!(
        emu.all("SUBSCRIPTION"),
        [
            "44444444-4444-4444-4444-444444444444",
            "55555555-5555-5555-5555-555555555555"
        ]
    );
    assert!(emu.get("TOKEN").len() >= 32, "a random token is long");
    assert_eq!(
        emu.get("IDENTITY_ENDPOINT"),
        format!("{}/msi/token", emu.get("URL"))
    );
    assert_eq!(emu.get("IDENTITY_HEADER"), emu.get("TOKEN"));
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.db");
    let data = data.to_str().expect("utf-8 path");
    let emu = Spawned::start(&["--listen", ":0", "--data", data, "--token", "fixed-token"]);
    let (url, sub) = (
        emu.get("URL").to_string(),
        emu.get("SUBSCRIPTION").to_string(),
    );
    let http = client();
    let put = |url: &str, body: Value| {
        http.put(url)
            .bearer_auth("fixed-token")
            .json(&body)
            .send()
            .expect("send")
    };
    assert_eq!(
        put(
            &format!("{url}/subscriptions/{sub}/resourcegroups/rg?api-version=2024-11-01"),
            json!({"location": "eastus"})
        )
        .status(),
        StatusCode::CREATED
    );
    let mut written = Vec::new();
    for i in 0..20 {
        let r = put(
            &format!(
                "{url}/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id{i}?api-version=2024-11-30"
            ),
            json!({"location": "eastus", "tags": {"n": i.to_string()}}),
        );
        assert_eq!(r.status(), StatusCode::CREATED);
        written.push(r.json::<Value>().expect("json"));
    }
    emu.kill9();

    let emu = Spawned::start(&["--listen", ":0", "--data", data, "--token", "fixed-token"]);
    assert_eq!(
        emu.get("SUBSCRIPTION"),
        sub,
        "the default subscription is kept in the data file"
    );
    let url = emu.get("URL").to_string();
    let list: Value = http
        .get(format!("{url}/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2024-11-30"))
        .bearer_auth("fixed-token")
        .send()
        .expect("send")
        .json()
        .expect("json");
    let mut read_back = list["value"].as_array().expect("value").clone();
    read_back.sort_by_key(|v| v["tags"]["n"].as_str().and_then(|n| n.parse::<u32>().ok()));
    assert_eq!(
        read_back, written,
        "every acknowledged write is back, byte for byte"
    );
}

#[test]
fn group_deletion_in_flight_finishes_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("state.db");
    let data = data.to_str().expect("utf-8 path");
    let args = [
        "--listen",
        ":0",
        "--data",
        data,
        "--token",
        "t",
        "--group-delete-delay",
        "60000",
    ];
    let emu = Spawned::start(&args);
    let (url, sub) = (
        emu.get("URL").to_string(),
        emu.get("SUBSCRIPTION").to_string(),
    );
    let http = client();
    let group = format!("{url}/subscriptions/{sub}/resourcegroups/rg?api-version=2024-11-01");
    http.put(&group)
        .bearer_auth("t")
        .json(&json!({"location": "eastus"}))
        .send()
        .expect("send");
    let accepted = http.delete(&group).bearer_auth("t").send().expect("send");
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    emu.kill9();

    // A minute-long delete survives the crash and is still running after the restart.
    let emu = Spawned::start(&args);
    let url = emu.get("URL").to_string();
    let group = format!("{url}/subscriptions/{sub}/resourcegroups/rg?api-version=2024-11-01");
    let shown: Value = http
        .get(&group)
        .bearer_auth("t")
        .send()
        .expect("send")
        .json()
        .expect("json");
    assert_eq!(shown["properties"]["provisioningState"], "Deleting");
}

#[test]
fn tls_serves_https_trusted_by_the_written_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("tls.db");
    let emu = Spawned::start(&[
        "--listen",
        ":0",
        "--tls",
        "--data",
        data.to_str().expect("utf-8"),
    ]);
    let url = emu.get("URL").to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca_path = emu.get("CA_BUNDLE").to_string();
    assert_eq!(
        std::path::Path::new(&ca_path),
        data.with_extension("ca.pem"),
        "the CA sits next to the data file"
    );
    let pem = std::fs::read(&ca_path).expect("CA written");
    let ca = reqwest::Certificate::from_pem(&pem).expect("PEM");
    let http = reqwest::blocking::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client");
    for host in [url.clone(), url.replace("127.0.0.1", "localhost")] {
        let r = http
            .get(format!("{host}/subscriptions?api-version=2022-12-01"))
            .bearer_auth(emu.get("TOKEN"))
            .send()
            .unwrap_or_else(|e| panic!("{host}: {e:?}"));
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Without the CA, the certificate is not trusted.
    let strict = reqwest::blocking::Client::builder()
        .tls_certs_only([])
        .build()
        .expect("client");
    assert!(
        strict
            .get(format!("{url}/subscriptions?api-version=2022-12-01"))
            .send()
            .is_err()
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["emulator", "--listen", "nowhere"],
        vec!["emulator", "--page-size", "0"],
        vec!["bogus"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_azid"))
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_azid"))
        .args(["emulator", "--listen", ":0", "--subscription", "nope"])
        .output()
        .expect("runs");
    // A malformed subscription id is refused while the options are read, as a usage error.
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'nope' is not a subscription id (a UUID)")
    );
}

/// `azid emulator ARGS` under a shell's `ulimit -n LIMIT`, with its banner read (until
/// IDENTITY_HEADER, or CA_BUNDLE under `--tls`).
fn start_with_fd_limit(limit: u32, args: &[&str]) -> Spawned {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" emulator \"$@\""))
        .arg(env!("CARGO_BIN_EXE_azid"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("sh starts");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).expect("reads") > 0, "{lines:?}");
        let (k, v) = line.trim_end().split_once('=').expect("KEY=VALUE");
        lines.push((k.to_string(), v.to_string()));
        if (k == "IDENTITY_HEADER" && !args.contains(&"--tls")) || k == "CA_BUNDLE" {
            break;
        }
    }
    Spawned { child, lines }
}

#[test]
fn idle_half_requests_do_not_make_the_emulator_unavailable() {
    use std::io::Write as _;
    // Fewer file descriptors than idle connections: without a header-read timeout and a
    // connection limit, the idle ones hold every descriptor and nothing else is accepted.
    let emu = start_with_fd_limit(300, &["--listen", ":0"]);
    let addr = emu.get("URL").trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..400 {
        let mut socket = std::net::TcpStream::connect(&addr).expect("connects");
        socket
            .write_all(b"GET /subscriptions?api-version=2022-12-01 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .expect("writes half a request");
        idle.push(socket);
    }
    let answer = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
        .get(format!(
            "{}/subscriptions?api-version=2022-12-01",
            emu.get("URL")
        ))
        .bearer_auth(emu.get("TOKEN"))
        .send()
        .expect("a normal request is answered while 400 half-requests wait");
    assert_eq!(answer.status(), StatusCode::OK);
    drop(idle);
}

#[test]
fn two_local_processes_on_one_folder_both_succeed() {
    use crate::harness::Azid;
    let dir = tempfile::tempdir().expect("tempdir");
    let local = format!("--local={}", dir.path().display());
    let run = |args: &[&str]| {
        let mut all = vec![local.as_str(), "--max-retries", "0"];
        all.extend_from_slice(args);
        Azid::new(&all).spawn()
    };
    let (group, _home) = run(&["group", "create", "-n", "rg", "-l", "eastus"]);
    let out = group.wait_with_output().expect("waits");
    assert!(out.status.success(), "{out:?}");
    // Two processes, each creating 40 identities 8 at a time, on the same state.
    let script = |prefix: &str| {
        format!(
            r#"let names = []; for i in 0..40 {{ names.push(`{prefix}-${{i}}`); }}
               let r = identity_create("rg", names, #{{}});
               let bad = r.filter(|x| !x.ok);
               if bad.len() > 0 {{ throw `failed: ${{bad.map(|x| x.error)}}` }}
               r.len()"#
        )
    };
    let (a_script, b_script) = (script("a"), script("b"));
    let a = run(&["eval", &a_script, "--concurrency", "8"]);
    let b = run(&["eval", &b_script, "--concurrency", "8"]);
    for (child, _home) in [a, b] {
        let out = child.wait_with_output().expect("waits");
        assert!(
            out.status.success(),
            "stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "40");
    }
    let (list, _home) = run(&["identity", "list", "-g", "rg", "--query", "length(@)"]);
    let out = list.wait_with_output().expect("waits");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "80");
}

#[test]
fn idle_tls_connections_do_not_make_the_emulator_unavailable() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    let emu = start_with_fd_limit(
        300,
        &[
            "--listen",
            ":0",
            "--tls",
            "--ca-file",
            ca.to_str().expect("utf-8"),
        ],
    );
    let url = emu.get("URL").to_string();
    let addr = url.trim_start_matches("https://").to_string();
    // 200 never start the TLS handshake, 200 start it with half a ClientHello.
    let mut idle = Vec::new();
    for i in 0..400 {
        let mut socket = std::net::TcpStream::connect(&addr).expect("connects");
        if i % 2 == 1 {
            socket
                .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .expect("writes");
        }
        idle.push(socket);
    }
    let pem = std::fs::read(emu.get("CA_BUNDLE")).expect("CA written");
    let answer = reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("PEM")])
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
        .get(format!("{url}/subscriptions?api-version=2022-12-01"))
        .bearer_auth(emu.get("TOKEN"))
        .send()
        .expect("a normal request is answered while 400 handshakes wait");
    assert_eq!(answer.status(), StatusCode::OK);
    drop(idle);
}
