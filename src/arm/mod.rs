//! The ARM client: knows HTTP and Azure Resource Manager, nothing of Rhai or of the CLI.
//! `ArmClient::new(endpoint, credential, options)`; each operation names its success
//! codes; idempotent calls are retried per `RetryPolicy`; lists follow nextLink. Redirects
//! are never followed and the token goes to the endpoint's origin only; a server's waits are
//! bounded (`MAX_WAIT`), and the interrupt flag ends every wait.

mod auth;
pub mod bulk;
mod error;
pub mod federated;
pub mod graph;
mod group;
mod identity;
mod interrupt;
pub mod locks;
pub mod names;
mod pacing;
pub mod packed;
mod pager;
pub mod permissions;
pub mod resources;
mod retry;
pub mod roles;
pub mod scope;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use auth::{ARM_SCOPE, AuthMode, Credential, CredentialOptions};
pub use error::ArmError;
pub use group::{GroupCreate, GroupDeleted};
pub use identity::{IdentityCreate, IdentityRef};
pub use pager::check_origin;
pub use retry::{Clock, RetryPolicy, TokioClock};

use interrupt::{Interrupt, Interruptible};
use pacing::{Kind, Pacer};
use retry::{Failure, MAX_WAIT, retry, retry_after};

/// After Ctrl-C, how long a request already on the wire may still take to answer.
const GRACE: Duration = Duration::from_secs(1);

/// The public Azure endpoint.
pub const AZURE_ENDPOINT: &str = "https://management.azure.com";

/// Client settings; defaults speak the api-versions of DESIGN.md.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Microsoft.ManagedIdentity api-version.
    pub msi_api_version: String,
    /// Microsoft.Resources (resource groups) api-version.
    pub resources_api_version: String,
    /// Retries of idempotent calls.
    pub retry: RetryPolicy,
    /// Timeout of one HTTP attempt.
    pub timeout: Duration,
    /// Extra root certificates (PEM), e.g. an emulator's CA under `--tls`.
    pub extra_roots: Vec<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            msi_api_version: "2024-11-30".into(),
            resources_api_version: "2024-11-01".into(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            extra_roots: Vec::new(),
        }
    }
}

/// An ARM client; cheap to clone (one pooled connection set).
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    credential: Credential,
    options: ClientOptions,
    clock: Arc<dyn Clock>,
    pacer: Pacer,
    /// Resource Graph's per-user quota, shared by every query of the process.
    graph_quota: graph::GraphQuota,
    stats: Counters,
    credential_writes: federated::WriteLocks,
    /// Set by Ctrl-C: every wait of the client ends, and nothing new is sent.
    interrupt: Interrupt,
    /// Resource type -> the api-version its provider offers (see `resource_api_version`).
    api_versions: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Running totals of a client's traffic.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    writes: AtomicU64,
}

/// A snapshot of a client's traffic so far; subtract two to measure a stretch of work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests sent (every attempt counts).
    pub requests: u64,
    /// Answers that were 429.
    pub throttled: u64,
    /// Attempts beyond the first.
    pub retries: u64,
    /// Requests that may have changed something in Azure (PUT, PATCH, DELETE, and POST
    /// actions other than lists and Resource Graph queries).
    pub writes: u64,
}

impl std::ops::Sub for Stats {
    type Output = Stats;
    fn sub(self, earlier: Stats) -> Stats {
        Stats {
            requests: self.requests.saturating_sub(earlier.requests),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            retries: self.retries.saturating_sub(earlier.retries),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }
}

tokio::task_local! {
    /// Attempts made by the requests of the current bulk item (see `bulk::run`).
    pub(crate) static ATTEMPTS: std::cell::Cell<u32>;
}

/// A successful response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl ArmClient {
    /// A client for `endpoint` (e.g. `https://management.azure.com` or an emulator's URL).
    pub fn new(
        endpoint: &str,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Self, ArmError> {
        let endpoint = Url::parse(endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                ArmError::invalid(
                    "endpoint",
                    endpoint,
                    "an endpoint is an http(s) URL such as https://management.azure.com",
                )
            })?;
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            // ARM does not redirect its calls; following one would carry the token and the
            // body wherever the server pointed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("azid/", env!("CARGO_PKG_VERSION")));
        if !options.extra_roots.is_empty() {
            let mut roots = Vec::new();
            for pem in &options.extra_roots {
                roots.push(
                    reqwest::Certificate::from_pem(pem)
                        .map_err(|e| ArmError::invalid("CA certificate", "PEM", e.to_string()))?,
                );
            }
            builder = builder.tls_certs_merge(roots);
        }
        let http = builder.build().map_err(|e| ArmError::Transport {
            url: endpoint.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint,
                credential,
                options,
                clock: Arc::new(TokioClock),
                pacer: Pacer::default(),
                graph_quota: graph::GraphQuota::default(),
                stats: Counters::default(),
                credential_writes: federated::WriteLocks::default(),
                interrupt: Interrupt::default(),
                api_versions: Default::default(),
            }),
        })
    }

    /// The configured endpoint.
    pub fn endpoint(&self) -> &Url {
        &self.inner.endpoint
    }

    /// The options the client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Traffic so far (requests, 429s, retries).
    pub fn stats(&self) -> Stats {
        let c = &self.inner.stats;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
        }
    }

    /// The flag that stops the client's waits (Ctrl-C sets it; the script host reads it).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.inner.interrupt.flag()
    }

    /// The object id (`oid` claim) of the caller's token, when the credential gives a JWT;
    /// `None` for opaque tokens (the emulator's) or when no token can be had.
    pub async fn caller_object_id(&self) -> Option<String> {
        let token = self.inner.credential.token().await.ok()?;
        auth::jwt_claim(&token, "oid")
    }

    /// The credential's name, for messages.
    pub fn credential_name(&self) -> &'static str {
        self.inner.credential.name()
    }

    /// `endpoint + path?api-version=...`; `path` starts with `/` and is already encoded.
    pub(crate) fn url(&self, path: &str, api_version: &str) -> Url {
        let mut url = self.inner.endpoint.clone();
        url.set_path(path);
        url.set_query(None);
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        url
    }

    /// Sleeps, unless Ctrl-C comes first; `url` names what was being waited for.
    pub(crate) async fn pause(&self, wait: Duration, url: &Url) -> Result<(), ArmError> {
        let interrupt = &self.inner.interrupt;
        match interrupt.race(self.inner.clock.sleep(wait)).await {
            Some(()) => Ok(()),
            None => Err(ArmError::Interrupted {
                url: url.to_string(),
            }),
        }
    }

    /// GET and decode JSON (200 only).
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, ArmError> {
        let reply = self.send(Method::GET, url, None, &[200]).await?;
        decode(&reply)
    }

    /// Sends an idempotent request, retrying transient failures; `ok` lists the success codes.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        ok: &[u16],
    ) -> Result<Reply, ArmError> {
        self.send_tracked(method, url, body, ok).await.0
    }

    /// `send`, also saying whether a failed attempt may have reached the server and taken
    /// effect (a dropped connection, a 5xx): a write's outcome is then worth reading back.
    pub(crate) async fn send_tracked(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        ok: &[u16],
    ) -> (Result<Reply, ArmError>, bool) {
        let policy = self.inner.options.retry.clone();
        self.send_with(&policy, method, url, body, ok).await
    }

    /// GET and decode JSON with at least a few tries, whatever `--max-retries` says: reading
    /// back the outcome of an ambiguous write must not fail as easily as the write did.
    pub(crate) async fn read_back<T: DeserializeOwned>(&self, url: Url) -> Result<T, ArmError> {
        let configured = &self.inner.options.retry;
        let policy = RetryPolicy {
            max_attempts: configured.max_attempts.max(6),
            ..configured.clone()
        };
        let (reply, _) = self
            .send_with(&policy, Method::GET, url, None, &[200])
            .await;
        decode(&reply?)
    }

    async fn send_with(
        &self,
        policy: &RetryPolicy,
        method: Method,
        url: Url,
        body: Option<&Value>,
        ok: &[u16],
    ) -> (Result<Reply, ArmError>, bool) {
        let inner = &self.inner;
        let maybe_applied = AtomicBool::new(false);
        let clock = Interruptible {
            clock: inner.clock.as_ref(),
            interrupt: &inner.interrupt,
        };
        let (result, attempts) = retry(policy, &clock, |attempt| {
            let (method, url, maybe_applied) = (method.clone(), url.clone(), &maybe_applied);
            async move {
                self.attempt(method, url, body, ok, attempt, maybe_applied)
                    .await
            }
        })
        .await;
        if attempts > 1 {
            tracing::debug!(attempts, "request finished after retries");
            inner
                .stats
                .retries
                .fetch_add(u64::from(attempts - 1), Ordering::Relaxed);
        }
        let _ = ATTEMPTS.try_with(|a| a.set(a.get() + attempts));
        (result, maybe_applied.load(Ordering::SeqCst))
    }

    async fn attempt(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        ok: &[u16],
        attempt: u32,
        maybe_applied: &AtomicBool,
    ) -> Result<Reply, Failure> {
        let inner = &self.inner;
        let fail = |error| Failure {
            error,
            retry_after: None,
        };
        let interrupted = || {
            fail(ArmError::Interrupted {
                url: url.to_string(),
            })
        };
        // The token goes to the configured endpoint only, whatever link led here.
        check_origin(url.as_str(), &inner.endpoint).map_err(fail)?;
        let token = inner
            .interrupt
            .race(inner.credential.token())
            .await
            .ok_or_else(interrupted)?
            .map_err(fail)?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            fail(ArmError::Credential {
                source_name: inner.credential.name().into(),
                message: "the token is not a valid header value".into(),
            })
        })?;
        auth.set_sensitive(true);
        let mut request = inner
            .http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, auth);
        if let Some(b) = body {
            request = request.header(CONTENT_TYPE, "application/json").json(b);
        }
        tracing::debug!(
            attempt,
            "request: {method} {url}\n  Authorization: Bearer ***REDACTED***"
        );
        // Wait for the bucket (and any shared Retry-After pause) before sending.
        let kind = Kind::of(&method);
        let lane = Lane::of(kind, &url);
        while let Some(wait) = inner.decide(lane, Instant::now()) {
            if inner
                .interrupt
                .race(inner.clock.sleep(wait))
                .await
                .is_none()
            {
                return Err(interrupted());
            }
        }
        inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        if may_write(lane, &method, &url) {
            inner.stats.writes.fetch_add(1, Ordering::Relaxed);
        }
        let started = Instant::now();
        let Some(sent) = inner.interrupt.race_with_grace(GRACE, request.send()).await else {
            inner.observe(lane, Instant::now(), None, None);
            maybe_applied.store(true, Ordering::SeqCst);
            return Err(interrupted());
        };
        let response = sent.map_err(|e| {
            inner.observe(lane, Instant::now(), None, None);
            tracing::info!(
                "{method} {url} -> no response after {} ms: {e}",
                started.elapsed().as_millis()
            );
            let message = error_chain(&e);
            // A certificate that is not trusted will not become trusted by asking again.
            if message.contains("certificate") {
                return fail(ArmError::Tls {
                    url: url.to_string(),
                    message,
                });
            }
            // Unless the connection was never made, the request may have been received.
            if !e.is_connect() {
                maybe_applied.store(true, Ordering::SeqCst);
            }
            fail(ArmError::Transport {
                url: url.to_string(),
                message,
            })
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let asked = retry_after(&headers);
        // A wait past the bound is not waited for; the pacer is not paused by it either.
        let too_long = asked.filter(|w| *w > MAX_WAIT);
        let throttled_for =
            (status == 429 && too_long.is_none()).then(|| asked.unwrap_or(Duration::from_secs(1)));
        if status == 429 {
            inner.stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        inner.observe(lane, Instant::now(), Some(&headers), throttled_for);
        let request_id = headers
            .get("x-ms-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if status >= 500 {
            maybe_applied.store(true, Ordering::SeqCst);
        }
        let Some(read) = inner
            .interrupt
            .race_with_grace(GRACE, response.bytes())
            .await
        else {
            maybe_applied.store(true, Ordering::SeqCst);
            return Err(interrupted());
        };
        let body = read.map_err(|e| {
            maybe_applied.store(true, Ordering::SeqCst);
            fail(ArmError::Transport {
                url: url.to_string(),
                message: error_chain(&e),
            })
        })?;
        tracing::info!(
            "{method} {url} -> {status} in {} ms (request id {})",
            started.elapsed().as_millis(),
            request_id.as_deref().unwrap_or("-")
        );
        if ok.contains(&status) {
            return Ok(Reply {
                status,
                headers,
                body,
            });
        }
        if (300..400).contains(&status) {
            let location = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(none)");
            return Err(fail(ArmError::Redirect {
                url: url.to_string(),
                status,
                location: location.to_string(),
            }));
        }
        let (code, message) = match serde_json::from_slice::<crate::model::ErrorResponse>(&body) {
            Ok(e) => (e.error.code.clone(), with_details(&e.error)),
            Err(_) => (
                format!("Http{status}"),
                String::from_utf8_lossy(&body).trim().to_string(),
            ),
        };
        let error = ArmError::Api {
            status,
            code,
            message,
            request_id,
        };
        match (too_long, error) {
            (Some(wait), ArmError::Api { code, message, .. })
                if ArmError::retryable_status(status, &code) =>
            {
                Err(fail(ArmError::WaitTooLong {
                    status,
                    code,
                    message,
                    wait_secs: wait.as_secs(),
                    bound_secs: MAX_WAIT.as_secs(),
                }))
            }
            (_, error) => Err(Failure {
                error,
                retry_after: asked,
            }),
        }
    }
}

/// Which pacing a request follows: ARM's bucket of its kind, or Resource Graph's quota.
#[derive(Debug, Clone, Copy)]
enum Lane {
    Arm(Kind),
    Graph,
}

impl Lane {
    fn of(kind: Kind, url: &Url) -> Lane {
        if graph::is_graph(url) {
            Lane::Graph
        } else {
            Lane::Arm(kind)
        }
    }
}

/// Whether a request may change something in Azure: anything but a read, a Resource Graph
/// query or a `list...` action (`listAssociatedResources`).
fn may_write(lane: Lane, method: &Method, url: &Url) -> bool {
    match lane {
        Lane::Graph | Lane::Arm(Kind::Reads) => false,
        Lane::Arm(_) if *method == Method::POST => !url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .is_some_and(|last| last.to_ascii_lowercase().starts_with("list")),
        Lane::Arm(_) => true,
    }
}

impl Inner {
    /// Whether a request of this lane may go now, or how long to wait first.
    fn decide(&self, lane: Lane, now: Instant) -> Option<Duration> {
        match lane {
            Lane::Arm(kind) => self.pacer.decide(kind, now),
            Lane::Graph => self.graph_quota.decide(now),
        }
    }

    /// Records an answer (headers) or its absence in the lane's pacing.
    fn observe(
        &self,
        lane: Lane,
        now: Instant,
        headers: Option<&HeaderMap>,
        throttled_for: Option<Duration>,
    ) {
        match lane {
            Lane::Arm(kind) => {
                let remaining = headers.and_then(|h| kind.remaining(h));
                self.pacer.observe(kind, now, remaining, throttled_for);
            }
            Lane::Graph => self.graph_quota.observe(now, headers, throttled_for),
        }
    }
}

/// Decodes a JSON success body.
pub(crate) fn decode<T: DeserializeOwned>(reply: &Reply) -> Result<T, ArmError> {
    serde_json::from_slice(&reply.body).map_err(|e| ArmError::Decode {
        status: reply.status,
        message: e.to_string(),
    })
}

/// An error's message, followed by the codes and messages of its details (Resource Graph
/// says what went wrong only there: `InvalidQuery`, `ResponsePayloadTooLarge`, ...).
fn with_details(error: &crate::model::ErrorBody) -> String {
    let details: Vec<String> = error
        .details
        .iter()
        .map(|d| format!("({}) {}", d.code, d.message))
        .collect();
    if details.is_empty() {
        error.message.clone()
    } else {
        format!("{} {}", error.message, details.join(" "))
    }
}

/// The causes of a reqwest error on one line (its own message only repeats the URL).
fn error_chain(e: &dyn std::error::Error) -> String {
    let Some(first) = e.source() else {
        return e.to_string();
    };
    let mut out = first.to_string();
    let mut source = first.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Characters a path segment keeps as they are: the ones ARM names may hold.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'(')
    .remove(b')');

/// Percent-encodes one path segment.
pub(crate) fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
