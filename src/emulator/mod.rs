//! The ARM-compatible emulator: an HTTP(S) server on loopback that answers the
//! Microsoft.ManagedIdentity, resource-group and subscription APIs as Azure does, plus what
//! identities relate to (federated credentials, resources that carry identities, role
//! assignments), with its state in SQLite. It shares only `crate::model` (the JSON shapes)
//! with the client.

mod access;
pub mod graph;
mod resources;
pub mod seed;
mod server;
mod state;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use server::faults::{self, Faults};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

pub use access::callers::{Caller, Scope};
pub use access::roles::Role;
pub use graph::{QuotaParseError, QuotaSpec};
pub use resources::tenant_options::{GroupSpec, SubscriptionSpec, check_options};
pub use server::error::ApiError;
pub use server::faults::{FaultsParseError, Latency, parse_fault_rate};
pub use server::routes::TOKEN_PATH;
pub use server::throttle::{Limit, ThrottleParseError, ThrottleProfile};
pub use server::tls::TlsError;
pub use store::StoreError;

use server::throttle::{SystemClock, Throttle};
use state::AppState;
use store::Store;

/// Default listen address of `azid emulator` (documented in the README).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7443";
/// Default most items per list page.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Default processing time of a federated-credential write.
pub const DEFAULT_FIC_WRITE_DELAY: Duration = Duration::from_millis(30);
/// Default directory replication delay of a new principal.
pub const DEFAULT_REPLICATION_DELAY: Duration = Duration::from_secs(5);
/// Default most subscriptions a Resource Graph query at tenant or management-group scope
/// covers (Azure's documented 10,000).
pub const DEFAULT_GRAPH_SUBSCRIPTION_LIMIT: usize = 10_000;

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// SQLite file; `None` keeps state in memory.
    pub data: Option<PathBuf>,
    /// Fixed bearer token; `None` makes a random one.
    pub token: Option<String>,
    /// Known subscriptions; empty keeps one default id (stable for a data file).
    pub subscriptions: Vec<String>,
    /// Serve HTTPS with a generated certificate.
    pub tls: bool,
    /// Where to write the CA certificate under `tls`; default: beside the data file, or a temp file.
    pub ca_path: Option<PathBuf>,
    /// Most items per list page.
    pub page_size: usize,
    /// How long an accepted resource-group delete runs before the group is gone.
    pub group_delete_delay: Duration,
    /// How long a write to an identity's federated credentials is processed; another write to
    /// the same identity meanwhile gets 409.
    pub fic_write_delay: Duration,
    /// How long a new identity's principal stays unknown to role assignments (400
    /// PrincipalNotFound), as Azure's directory replication makes it.
    pub replication_delay: Duration,
    /// Secret of `X-IDENTITY-HEADER`; `None` uses the bearer token.
    pub identity_header: Option<String>,
    /// The round trip of each request: handled halfway through it, answered at its end (or
    /// when handled, if that takes longer); `None` answers at once.
    pub latency: Option<Latency>,
    /// Token buckets per subscription and kind of request; off by default.
    pub throttle: ThrottleProfile,
    /// Share (0..=1) of ARM requests that fail with 500, 503 or a dropped connection.
    pub fault_rate: f64,
    /// Seed of latency and faults, for a replayable run; `None` picks one (see `Emulator::seed`).
    pub seed: Option<u64>,
    /// Roles of other bearer tokens and managed identities (`--caller`); none by default.
    pub callers: Vec<Caller>,
    /// Resource Graph queries per caller and window (`--graph-quota`, default 15/5).
    pub graph_quota: QuotaSpec,
    /// How long after ARM makes a change Resource Graph shows it (`--graph-lag`).
    pub graph_lag: Duration,
    /// Management groups to create or re-parent at start (`--management-group`).
    pub management_groups: Vec<GroupSpec>,
    /// Where subscriptions sit (`--subscription ID[@GROUP]`, the root without a group); one not
    /// named stays where it was, under the root when new.
    pub placements: Vec<SubscriptionSpec>,
    /// Most subscriptions a Resource Graph query at tenant or management-group scope covers
    /// (`--graph-subscription-limit`).
    pub graph_subscription_limit: usize,
    /// Largest Resource Graph answer in bytes (ARG's is 16 MiB); a page past it is refused
    /// with `ResponsePayloadTooLarge`.
    pub graph_response_limit: usize,
    /// Fill the (empty) store with a generated tenant first (`--seed-tenant`).
    pub tenant_seed: Option<seed::TenantSeed>,
    /// Where one JSON line per request answered is appended (`--request-log`).
    pub request_log: Option<PathBuf>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: None,
            token: None,
            subscriptions: Vec::new(),
            tls: false,
            ca_path: None,
            page_size: DEFAULT_PAGE_SIZE,
            group_delete_delay: Duration::from_millis(500),
            fic_write_delay: DEFAULT_FIC_WRITE_DELAY,
            replication_delay: DEFAULT_REPLICATION_DELAY,
            identity_header: None,
            latency: None,
            throttle: ThrottleProfile::off(),
            fault_rate: 0.0,
            seed: None,
            callers: Vec::new(),
            graph_quota: QuotaSpec::default(),
            graph_lag: Duration::ZERO,
            management_groups: Vec::new(),
            placements: Vec::new(),
            graph_subscription_limit: DEFAULT_GRAPH_SUBSCRIPTION_LIMIT,
            graph_response_limit: graph::MAX_RESPONSE_BYTES,
            tenant_seed: None,
            request_log: None,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The store could not be opened.
    #[error("could not open the emulator's store: {0}")]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A bad option.
    #[error("{0}")]
    Invalid(String),
    /// The tenant seed could not be written.
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
}

/// A running emulator; it stops when dropped.
pub struct Emulator {
    url: String,
    addr: SocketAddr,
    token: String,
    identity_header: String,
    subscriptions: Vec<String>,
    tenant_id: String,
    ca_bundle: Option<PathBuf>,
    seed: u64,
    shutdown: watch::Sender<bool>,
}

impl Emulator {
    /// Opens the store, binds the address and serves in the background of the current runtime.
    pub async fn start(options: EmulatorOptions) -> Result<Self, EmulatorError> {
        if options.page_size == 0 {
            return Err(EmulatorError::Invalid(
                "the page size must be at least 1".into(),
            ));
        }
        for sub in &options.subscriptions {
            if uuid::Uuid::try_parse(sub).is_err() || sub.len() != 36 {
                return Err(EmulatorError::Invalid(format!(
                    "subscription id '{sub}' is not a UUID"
                )));
            }
        }
        if !faults::valid_rate(options.fault_rate) {
            return Err(EmulatorError::Invalid(format!(
                "the fault rate {} is not a number from 0 to 1",
                options.fault_rate
            )));
        }
        if let Some(latency) = options.latency.filter(|l| l.min > l.max) {
            return Err(EmulatorError::Invalid(format!(
                "the latency range {:?}..{:?} ends before it starts",
                latency.min, latency.max
            )));
        }
        if options.graph_subscription_limit == 0 {
            return Err(EmulatorError::Invalid(
                "the Resource Graph subscription limit must be at least 1".into(),
            ));
        }
        check_options(&options.management_groups, &options.placements)
            .map_err(EmulatorError::Invalid)?;
        let request_log = match &options.request_log {
            Some(path) => Some(server::request_log::RequestLog::open(path).map_err(|e| {
                EmulatorError::Invalid(format!(
                    "could not open the request log {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let seed = options.seed.unwrap_or_else(rand::random);
        let store = Store::open(options.data.as_deref())?;
        let ids = store.transaction(|tx| {
            Ok::<_, StoreError>((
                tx.meta_or_init("default_subscription", random_uuid)?,
                tx.meta_or_init("tenant_id", random_uuid)?,
                tx.meta_or_init("signing_key", random_secret)?,
                tx.meta_or_init("host_client_id", random_uuid)?,
                tx.meta_or_init("host_principal_id", random_uuid)?,
                tx.meta_or_init("owner_object_id", random_uuid)?,
            ))
        })?;
        let (default_sub, tenant_id, signing_key, host_client_id, host_principal_id, owner_id) =
            ids;
        // A seeded store keeps its subscriptions, known again at every start on the file.
        let seeded = match &options.tenant_seed {
            Some(spec) => seed::apply(&store, spec, &tenant_id, &owner_id)?,
            None => seed::recorded(&store)?,
        };
        let subscriptions = seed::known_subscriptions(&options.subscriptions, &seeded)
            .unwrap_or_else(|| vec![default_sub]);
        if let Some(unknown) = options
            .placements
            .iter()
            .find(|p| !subscriptions.iter().any(|s| s.eq_ignore_ascii_case(&p.id)))
        {
            return Err(EmulatorError::Invalid(format!(
                "--subscription {unknown} places a subscription the emulator does not know"
            )));
        }
        resources::tenant_options::apply_options(
            &store,
            &options.management_groups,
            &options.placements,
            &owner_id,
        )?;
        let token = options.token.clone().unwrap_or_else(random_secret);
        let identity_header = options
            .identity_header
            .clone()
            .unwrap_or_else(|| token.clone());
        let rbac = access::callers::Rbac::new(&options.callers, &token, &owner_id, &subscriptions)
            .map_err(EmulatorError::Invalid)?;
        resources::tenant_options::check_callers(&store, &options.callers, &tenant_id)?;

        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: options.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: options.listen,
                source,
            })?;

        let (tls, ca_bundle) = if options.tls {
            let ca_path = options
                .ca_path
                .clone()
                .unwrap_or_else(|| match &options.data {
                    Some(data) => data.with_extension("ca.pem"),
                    None => {
                        std::env::temp_dir().join(format!("azid-emulator-{}-ca.pem", addr.port()))
                    }
                });
            (Some(server::tls::server_config(&ca_path)?), Some(ca_path))
        } else {
            (None, None)
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");

        let state = Arc::new(AppState {
            store,
            token: token.clone(),
            identity_header: identity_header.clone(),
            tenant_id: tenant_id.clone(),
            subscriptions: subscriptions.clone(),
            page_size: options.page_size,
            group_delete_delay: options.group_delete_delay,
            fic_writes: resources::fics::FicWrites::new(options.fic_write_delay),
            replication_delay: options.replication_delay,
            signing_key: signing_key.into_bytes(),
            host_client_id,
            host_principal_id,
            rbac,
            scheme,
            authority: addr.to_string(),
            faults: Faults::new(options.fault_rate, options.latency, seed),
            throttle: Throttle::new(options.throttle.clone(), Arc::new(SystemClock)),
            graph: graph::GraphService::new(options.graph_quota, options.graph_lag)
                .with_subscription_limit(options.graph_subscription_limit)
                .with_response_limit(options.graph_response_limit),
            request_log,
        });
        resources::groups::resume_pending(&state)?;
        let (shutdown, stopped) = watch::channel(false);
        tokio::spawn(serve(
            listener,
            app(state),
            tls.map(tokio_rustls::TlsAcceptor::from),
            stopped,
        ));
        Ok(Self {
            url,
            addr,
            token,
            identity_header,
            subscriptions,
            tenant_id,
            ca_bundle,
            seed,
            shutdown,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:7443`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token that is Owner of every known subscription.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The known subscription ids.
    pub fn subscriptions(&self) -> &[String] {
        &self.subscriptions
    }

    /// The tenant id of every identity and token.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// `IDENTITY_ENDPOINT` for App-Service-style managed identity clients.
    pub fn identity_endpoint(&self) -> String {
        format!("{}{TOKEN_PATH}", self.url)
    }

    /// `IDENTITY_HEADER` for the same.
    pub fn identity_header(&self) -> &str {
        &self.identity_header
    }

    /// Where the CA certificate was written, under TLS.
    pub fn ca_bundle(&self) -> Option<&std::path::Path> {
        self.ca_bundle.as_deref()
    }

    /// The seed of latency and faults: the one given, or the one picked at start.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The `KEY=VALUE` lines `azid emulator` prints at start, URL first.
    pub fn banner(&self) -> String {
        let mut out = format!("URL={}\n", self.url);
        for sub in &self.subscriptions {
            out.push_str(&format!("SUBSCRIPTION={sub}\n"));
        }
        out.push_str(&format!("TOKEN={}\n", self.token));
        out.push_str(&format!("TENANT={}\n", self.tenant_id));
        out.push_str(&format!("IDENTITY_ENDPOINT={}\n", self.identity_endpoint()));
        out.push_str(&format!("IDENTITY_HEADER={}\n", self.identity_header));
        if let Some(ca) = &self.ca_bundle {
            out.push_str(&format!("CA_BUNDLE={}\n", ca.display()));
        }
        out
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The router: one dispatcher for every path (see `state::dispatch`).
fn app(state: Arc<AppState>) -> Router {
    Router::new().fallback(state::dispatch).with_state(state)
}

/// How long a connection may take to send its first request's headers (and, when idle
/// between requests, the next one's), or to finish the TLS handshake, before it is closed: a
/// client that sends half a request and waits holds a slot only this long.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The first wait after a failed `accept` (out of file descriptors, say); it doubles while
/// failures go on, up to [`ACCEPT_BACKOFF_MAX`], instead of spinning.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest wait after failed `accept`s in a row.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// File descriptors kept free of connections, for the store, the listener and the rest.
const RESERVED_FDS: u64 = 64;
/// The most connections served at once, whatever the file-descriptor limit.
const MAX_CONNECTIONS: u64 = 4096;

/// How many connections are served at once: what the file-descriptor limit leaves after a
/// reserve, within 16..=MAX_CONNECTIONS. Past it, new connections wait in the listen backlog
/// until one closes.
fn connection_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        1024
    };
    let usable = soft.saturating_sub(RESERVED_FDS).clamp(16, MAX_CONNECTIONS);
    usize::try_from(usable).unwrap_or(16)
}

/// Accepts connections until shut down; every socket gets TCP_NODELAY. A response marked
/// `faults::DropConnection` becomes a service error, on which hyper closes the connection
/// without a word. At most [`connection_limit`] connections are served at once, each has
/// [`HEADER_READ_TIMEOUT`] to send its headers, and failed accepts back off.
async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(connection_limit()));
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = stopped.changed() => break,
        };
        let Ok(slot) = slot else {
            break;
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                stream
            }
            Err(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped.changed() => break,
                }
                backoff = backoff.saturating_mul(2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(
            ServiceExt::<hyper::Request<hyper::body::Incoming>>::map_result(
                app.clone(),
                faults::drop_marked,
            ),
        );
        let tls = tls.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            match tls {
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream));
                    if let Ok(Ok(stream)) = handshake.await {
                        // ALPN has named the protocol, so hyper need not wait for a first
                        // byte to learn it, and the header timeout runs from the start.
                        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                        let builder = if h2 {
                            builder.http2_only()
                        } else {
                            builder.http1_only()
                        };
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    // hyper's header timeout starts once it knows the protocol, which takes a
                    // first byte: a connection that sends nothing is closed here.
                    let mut first = [0u8; 1];
                    let peeked = tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first));
                    if matches!(peeked.await, Ok(Ok(n)) if n > 0) {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
            }
        });
    }
    connections.abort_all();
}

fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn random_secret() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
