//! How to write a test: `Env::start().await` gives a fresh in-process emulator on a random
//! loopback port, an HTTP client, and helpers that return (status, headers, JSON body).
//! `Spawned` runs the real `azid emulator` binary and reads the lines it prints at start.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use azid::emulator::seed::TenantSeed;
use azid::emulator::{Emulator, EmulatorOptions};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The api-version the client speaks.
pub const MSI: &str = "2024-11-30";
/// A resource-group api-version.
pub const RES: &str = "2024-11-01";

/// A running in-process emulator and a client for it.
pub struct Env {
    pub emu: Emulator,
    pub http: reqwest::Client,
    pub sub: String,
}

/// One response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The ARM error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Test-friendly emulator options: group deletes finish at once, new principals are
/// assignable at once. Spread it (`..quick()`) to change other options.
pub fn quick() -> EmulatorOptions {
    EmulatorOptions {
        group_delete_delay: Duration::ZERO,
        replication_delay: Duration::ZERO,
        ..EmulatorOptions::default()
    }
}

/// [`quick`] options that also seed the tenant `SUBS:IDENTITIES` and lift the Resource Graph
/// quota; spread it to change others.
pub fn seeded(subscriptions: usize, identities: usize) -> EmulatorOptions {
    EmulatorOptions {
        tenant_seed: Some(TenantSeed::new(subscriptions, identities).expect("a valid seed")),
        graph_quota: "86400/1".parse().expect("a valid quota"),
        ..quick()
    }
}

impl Env {
    /// A fresh emulator with test-friendly options (group deletes finish at once, new
    /// principals are assignable at once).
    pub async fn start() -> Env {
        Env::with(quick()).await
    }

    /// A fresh emulator holding the tenant seed `SUBS:IDENTITIES` (the README states its
    /// rules), with test-friendly options and a Resource Graph quota tests do not run into.
    pub async fn seeded(subscriptions: usize, identities: usize) -> Env {
        Env::with(seeded(subscriptions, identities)).await
    }

    /// A fresh emulator with these options.
    pub async fn with(options: EmulatorOptions) -> Env {
        let emu = Emulator::start(options).await.expect("emulator starts");
        let sub = emu.subscriptions()[0].clone();
        Env {
            emu,
            http: reqwest::Client::new(),
            sub,
        }
    }

    /// Sends a request with the emulator's token; `path` may be absolute (a nextLink) or start with `/`.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(Some(self.emu.token()), method, path, body)
            .await
    }

    /// Sends a request with a given bearer token, or none.
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.emu.url())
        };
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.expect("request reaches the emulator")).await
    }

    /// Sends a raw body.
    pub async fn call_raw(&self, method: Method, path: &str, body: &'static str) -> Reply {
        let req = self
            .http
            .request(method, format!("{}{path}", self.emu.url()))
            .bearer_auth(self.emu.token())
            .header("content-type", "application/json")
            .body(body);
        read(req.send().await.expect("request reaches the emulator")).await
    }

    pub fn group_path(&self, rg: &str) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{rg}?api-version={RES}",
            self.sub
        )
    }

    pub fn identity_path(&self, rg: &str, name: &str) -> String {
        self.identity_path_v(rg, name, MSI)
    }

    pub fn identity_path_v(&self, rg: &str, name: &str, version: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}?api-version={version}",
            self.sub
        )
    }

    pub fn identities_in(&self, rg: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version={MSI}",
            self.sub
        )
    }

    pub fn identities_in_sub(&self) -> String {
        format!(
            "/subscriptions/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version={MSI}",
            self.sub
        )
    }

    /// Creates a group (201 expected).
    pub async fn group(&self, rg: &str) {
        let r = self
            .call(
                Method::PUT,
                &self.group_path(rg),
                Some(serde_json::json!({"location": "eastus"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }

    /// Creates an identity and returns its body.
    pub async fn identity(&self, rg: &str, name: &str) -> Value {
        let r = self
            .call(
                Method::PUT,
                &self.identity_path(rg, name),
                Some(serde_json::json!({"location": "eastus"})),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.body);
        r.body
    }

    /// Every item of a list, following nextLink; also returns how many pages there were.
    pub async fn list_all(&self, path: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = Some(path.to_string());
        while let Some(url) = next {
            let r = self.call(Method::GET, &url, None).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            pages += 1;
            items.extend(
                r.body["value"]
                    .as_array()
                    .expect("value is an array")
                    .iter()
                    .cloned(),
            );
            next = r
                .body
                .get("nextLink")
                .and_then(Value::as_str)
                .map(str::to_string);
            assert!(pages < 1000, "paging does not end");
        }
        (items, pages)
    }

    /// Names of every identity in the subscription, sorted.
    pub async fn all_identity_names(&self) -> Vec<String> {
        let (items, _) = self.list_all(&self.identities_in_sub()).await;
        let mut names: Vec<String> = items
            .iter()
            .map(|i| i["name"].as_str().unwrap_or("").to_string())
            .collect();
        names.sort();
        names
    }
}

async fn read(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body reads");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("body is JSON")
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The `azid emulator` binary as a child process; killed (SIGKILL) when dropped.
pub struct Spawned {
    pub child: Child,
    pub lines: Vec<(String, String)>,
}

impl Spawned {
    /// Starts `azid emulator ARGS` and reads its KEY=VALUE banner (until IDENTITY_HEADER, or CA_BUNDLE under --tls).
    pub fn start(args: &[&str]) -> Spawned {
        let mut child = Command::new(env!("CARGO_BIN_EXE_azid"))
            .arg("emulator")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("azid starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        let tls = args.contains(&"--tls");
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("stdout reads");
            assert!(
                n > 0,
                "the emulator exited before printing its banner; read so far: {lines:?}"
            );
            let (k, v) = line
                .trim_end()
                .split_once('=')
                .expect("banner lines are KEY=VALUE");
            lines.push((k.to_string(), v.to_string()));
            if (k == "IDENTITY_HEADER" && !tls) || k == "CA_BUNDLE" {
                break;
            }
        }
        Spawned { child, lines }
    }

    /// The first value of a banner key.
    pub fn get(&self, key: &str) -> &str {
        self.lines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {key} line"))
    }

    /// Every value of a banner key.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// SIGKILL, no clean-up: what survives this is what was durably written.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `azid` binary run once, with a clean environment (no Azure variables, a fresh HOME).
pub struct Azid {
    cmd: Command,
    input: Option<String>,
    _home: tempfile::TempDir,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts a failure with this exit code and returns self.
    pub fn fails(self, code: i32) -> Run {
        assert_eq!(self.code, code, "{self:?}");
        self
    }

    /// Asserts success and returns self.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

impl Azid {
    /// `azid ARGS` with only PATH and a temporary HOME in the environment.
    pub fn new(args: &[&str]) -> Azid {
        let home = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_azid"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("RUST_BACKTRACE", "0")
            .args(args)
            .stdin(Stdio::null());
        Azid {
            cmd,
            input: None,
            _home: home,
        }
    }

    /// `azid ARGS` aimed at a running emulator with `--endpoint`, `--auth token` and its subscription.
    pub fn at(env: &Env, args: &[&str]) -> Azid {
        // The options go first, so that nothing lands after a script's `--`.
        let mut all = vec![
            "--endpoint",
            env.emu.url(),
            "--auth",
            "token",
            "--subscription",
            &env.sub,
        ];
        all.extend_from_slice(args);
        Azid::new(&all).env("AZID_TOKEN", env.emu.token())
    }

    /// Runs in this folder.
    pub fn cwd(mut self, dir: &std::path::Path) -> Azid {
        self.cmd.current_dir(dir);
        self
    }

    /// Feeds this text on standard input.
    pub fn stdin(mut self, text: &str) -> Azid {
        self.input = Some(text.to_string());
        self.cmd.stdin(Stdio::piped());
        self
    }

    /// Starts it without waiting (for signals); stdout and stderr are piped.
    pub fn spawn(mut self) -> (std::process::Child, tempfile::TempDir) {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        (self.cmd.spawn().expect("azid starts"), self._home)
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Azid {
        self.cmd.env(key, value);
        self
    }

    /// Runs to the end (off the async test's thread, so an in-process emulator keeps serving).
    pub async fn run(self) -> Run {
        let Azid {
            mut cmd,
            input,
            _home,
        } = self;
        let out = tokio::task::spawn_blocking(move || {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("azid runs");
            if let Some(text) = input {
                use std::io::Write as _;
                let mut stdin = child.stdin.take().expect("stdin is piped");
                stdin
                    .write_all(text.as_bytes())
                    .expect("stdin takes the script");
            }
            child.wait_with_output().expect("azid ends")
        })
        .await
        .expect("join");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
