//! The one request path every call takes: latency -> request ids -> route -> auth ->
//! authorisation (`rbac`) -> faults (before) -> throttle -> handler -> faults (after), with the
//! shared state the handlers read. The token endpoint and cloud metadata skip auth, faults
//! and throttling.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::emulator::access::callers::{Principal, Rbac};
use crate::emulator::access::locked;
use crate::emulator::access::permissions;
use crate::emulator::access::rbac;
use crate::emulator::access::token;
use crate::emulator::resources::associated;
use crate::emulator::resources::discovery;
use crate::emulator::resources::groups;
use crate::emulator::resources::identities;
use crate::emulator::resources::management_group_children;
use crate::emulator::resources::management_groups;
use crate::emulator::resources::revoke;
use crate::emulator::resources::subscriptions;
use crate::emulator::server::error::ApiError;
use crate::emulator::server::faults::{self, Faults, Phase};
use crate::emulator::server::routes::Route;
use crate::emulator::server::throttle::{self, Kind, Throttle, Verdict};
use crate::emulator::server::validate;
use crate::emulator::store::Store;

/// The largest request body the emulator reads (ARM's own limit is 4 MB).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Everything the handlers share.
pub struct AppState {
    /// Persistent state.
    pub store: Store,
    /// The bearer token that is Owner of every known subscription.
    pub token: String,
    /// The secret the token endpoint expects in `X-IDENTITY-HEADER`.
    pub identity_header: String,
    /// The tenant every subscription and identity belongs to.
    pub tenant_id: String,
    /// Known subscriptions, as configured.
    pub subscriptions: Vec<String>,
    /// Most items per list page.
    pub page_size: usize,
    /// How long an accepted resource-group delete takes to finish.
    pub group_delete_delay: Duration,
    /// Federated-credential writes in flight, per identity.
    pub fic_writes: crate::emulator::resources::fics::FicWrites,
    /// How long a new principal stays unknown to role assignments.
    pub replication_delay: Duration,
    /// HMAC key of the tokens the token endpoint issues.
    pub signing_key: Vec<u8>,
    /// Client id of the default managed identity of the token endpoint.
    pub host_client_id: String,
    /// Principal id of that default managed identity.
    pub host_principal_id: String,
    /// Who holds which role where: the emulator's own token and the `--caller` grants.
    pub rbac: Rbac,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host:port` the emulator is reached at (its bound address), for every link it sends.
    pub authority: String,
    /// Latency and fault injection.
    pub faults: Faults,
    /// Token buckets per subscription and kind.
    pub throttle: Throttle,
    /// Resource Graph's quota and lagging views.
    pub graph: crate::emulator::graph::GraphService,
    /// Where each answered request is logged (`--request-log`).
    pub request_log: Option<crate::emulator::server::request_log::RequestLog>,
}

/// What a handler needs of the request besides its route.
pub struct Ctx {
    /// Method.
    pub method: Method,
    /// Raw path, as sent (for nextLinks).
    pub path: String,
    /// Query parameters, names lower-cased (ARM treats them case-insensitively).
    pub query: HashMap<String, String>,
    /// `scheme://host:port` of the emulator itself, the base of every link it sends.
    pub base_url: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// Who sent it; `None` on the two routes reached without a bearer token.
    pub caller: Option<Principal>,
}

impl Ctx {
    /// The `api-version` query parameter.
    pub fn api_version(&self) -> Option<&str> {
        self.query.get("api-version").map(String::as_str)
    }
}

impl AppState {
    /// Checks a subscription id from a path and returns its store key.
    pub fn subscription(&self, sub: &str) -> Result<String, ApiError> {
        validate::subscription_id(sub)?;
        if self
            .subscriptions
            .iter()
            .any(|s| s.eq_ignore_ascii_case(sub))
        {
            Ok(sub.to_ascii_lowercase())
        } else {
            Err(ApiError::subscription_not_found(sub))
        }
    }

    /// The configured spelling of a known subscription key.
    pub fn subscription_display<'a>(&'a self, key: &'a str) -> &'a str {
        self.subscriptions
            .iter()
            .find(|s| s.eq_ignore_ascii_case(key))
            .map_or(key, String::as_str)
    }

    /// Checks the Authorization header (the emulator's token, a `--caller` token, or one the
    /// token endpoint issued) and returns the caller.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::authentication_failed(
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        };
        let value = value.to_str().unwrap_or("");
        let Some((scheme, token)) = value.split_once(' ') else {
            return Err(ApiError::authentication_failed(
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            ));
        };
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::authentication_failed(
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            ));
        }
        let token = token.trim();
        if bool::from(token.as_bytes().ct_eq(self.token.as_bytes())) {
            return Ok(self.rbac.owner());
        }
        if let Some(caller) = self.rbac.bearer(token) {
            return Ok(caller);
        }
        token::verify(self, token).map(|claims| self.rbac.issued(&claims.appid, &claims.oid))
    }

    /// Takes a token from the bucket of a request to a known subscription: `None` when the
    /// request is not subscription-scoped, names an unknown subscription (its handler answers
    /// 404) or its kind is not limited.
    fn spend(&self, route: &Route, method: &Method) -> Option<(String, Kind, Verdict)> {
        let sub = self.subscription(route.subscription()?).ok()?;
        let kind = Kind::of(method);
        let verdict = self.throttle.take(&sub, kind)?;
        Some((sub, kind, verdict))
    }
}

/// The axum handler for every path: adds ARM's request-id headers to whatever answers.
pub async fn dispatch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let schedule = state.faults.schedule();
    if let Some(at) = schedule {
        state.faults.wait_until(at.handled).await;
    }
    let correlation = request
        .headers()
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let client_request_id = request.headers().get("x-ms-client-request-id").cloned();
    // What the request log says about the request, taken before the handler consumes it.
    let logged = state.request_log.as_ref().map(|_| {
        let caller = state
            .authenticate(request.headers())
            .ok()
            .map(|p| p.object_id);
        (
            request.method().to_string(),
            request.uri().path().to_string(),
            caller,
        )
    });
    let mut response = handle(&state, request)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    if let (Some(log), Some((method, path, caller))) = (&state.request_log, logged) {
        let dropped = response
            .extensions()
            .get::<faults::DropConnection>()
            .is_some();
        let status = if dropped {
            0
        } else {
            response.status().as_u16()
        };
        log.record(&method, &path, status, caller.as_deref());
    }
    let headers = response.headers_mut();
    let request_id = uuid::Uuid::new_v4().to_string();
    for (name, value) in [
        ("x-ms-request-id", request_id.as_str()),
        ("x-ms-correlation-request-id", correlation.as_str()),
        (
            "x-ms-routing-request-id",
            &format!("LOCAL:{}:{request_id}", routing_time()),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    }
    if let Some(v) = client_request_id {
        headers.insert("x-ms-client-request-id", v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(at) = schedule {
        state.faults.wait_until(at.answered).await;
    }
    response
}

async fn handle(state: &Arc<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let route = Route::parse(parts.uri.path());
    let query = parse_query(parts.uri.query());
    // Links point at the emulator's own address, never at what the request's Host header or
    // absolute URI claims: a forged Host must not turn a Location or nextLink elsewhere.
    let base_url = format!("{}://{}", state.scheme, state.authority);
    let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        ApiError::bad_request(
            "InvalidRequestContent",
            format!("The request body could not be read: {e}"),
        )
    })?;
    let mut ctx = Ctx {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        base_url,
        headers: parts.headers,
        body,
        caller: None,
    };

    // These two are reached without an ARM bearer token, as in Azure.
    match route {
        Route::ManagedIdentityToken => return token::endpoint(state, &ctx),
        Route::MetadataEndpoints => return discovery::metadata_endpoints(&ctx),
        _ => {}
    }
    let caller = state.authenticate(&ctx.headers)?;
    // Roles at management groups reach the subscriptions below them.
    let caller = crate::emulator::access::group_access::inherited(state, caller)?;
    // A request the caller's roles do not allow is answered here and changes nothing.
    rbac::authorize(state, &caller, &route, &ctx.method)?;
    let actor = caller.object_id.clone();
    ctx.caller = Some(caller);
    let fault = state.faults.decide();
    if let Some(f) = fault.filter(|f| f.phase == Phase::Before) {
        return Ok(faults::respond(f.fault));
    }
    let spent = state.spend(&route, &ctx.method);
    if let Some((sub, kind, Verdict::Throttled { retry_after })) = &spent {
        let sub = state.subscription_display(sub);
        return Ok(throttle::throttled(*kind, sub, &actor, *retry_after));
    }
    // A lagging Resource Graph keeps the state a write is about to change. Queries and the
    // POST that lists an identity's resources change nothing: Resource Graph keeps its tables.
    let graph_read = matches!(
        route,
        Route::ResourceGraph | Route::AssociatedResources { .. }
    );
    if !graph_read {
        state.graph.before_write(state, &ctx.method)?;
    }
    if route == Route::ResourceGraph {
        // A query over a large tenant takes a while: it runs beside the request threads,
        // which go on answering ARM meanwhile.
        let shared = state.clone();
        let answered = tokio::task::spawn_blocking(move || operation(&shared, &ctx, route)).await;
        let mut response = match answered {
            Ok(answer) => answer.unwrap_or_else(IntoResponse::into_response),
            Err(_) => ApiError::internal("a Resource Graph query stopped").into_response(),
        };
        if let Some(f) = fault.filter(|f| f.phase == Phase::After) {
            response = faults::respond(f.fault);
        }
        return Ok(response);
    }
    // A federated-credential write holds its identity while it is processed.
    let held = state.fic_writes.hold(&ctx, &route).await;
    let mut response = held
        .and_then(|_held| {
            // A request a management lock stops is answered here and changes nothing.
            locked::check(state, &route, &ctx.method)?;
            operation(state, &ctx, route)
        })
        .unwrap_or_else(IntoResponse::into_response);
    if !graph_read {
        state.graph.after_write(&ctx.method);
    }
    if let Some(f) = fault.filter(|f| f.phase == Phase::After) {
        response = faults::respond(f.fault);
    }
    if let Some((_, kind, Verdict::Allowed { remaining })) = spent {
        throttle::stamp(&mut response, kind, remaining);
    }
    Ok(response)
}

/// Runs the handler of an authenticated ARM route.
fn operation(state: &Arc<AppState>, ctx: &Ctx, route: Route) -> Result<Response, ApiError> {
    match route {
        Route::Subscriptions => subscriptions::list(state, ctx),
        Route::Subscription { sub } => subscriptions::get(state, ctx, &sub),
        Route::Locations { sub } => crate::emulator::resources::locations::list(state, ctx, &sub),
        Route::Groups { sub } => groups::collection(state, ctx, &sub),
        Route::Group { sub, rg } => groups::item(state, ctx, &sub, &rg),
        Route::OperationResult { sub, id } => groups::operation_result(state, ctx, &sub, &id),
        Route::FederatedCredentials { sub, rg, name } => {
            crate::emulator::resources::fics::collection(state, ctx, &sub, &rg, &name)
        }
        Route::FederatedCredential { sub, rg, name, fic } => {
            crate::emulator::resources::fics::item(state, ctx, &sub, &rg, &name, &fic)
        }
        Route::GenericResources {
            sub,
            rg,
            namespace,
            kind,
        } => crate::emulator::resources::generic::collection(
            state,
            ctx,
            &generic_place(&sub, &rg, &namespace, &kind),
        ),
        Route::GenericResource {
            sub,
            rg,
            namespace,
            kind,
            name,
        } => crate::emulator::resources::generic::item(
            state,
            ctx,
            &generic_place(&sub, &rg, &namespace, &kind),
            &name,
        ),
        Route::Resources { sub, rg } => {
            crate::emulator::resources::generic::list(state, ctx, &sub, rg.as_deref())
        }
        Route::Provider { sub, namespace } => {
            crate::emulator::resources::generic::provider(state, ctx, &sub, &namespace)
        }
        Route::RoleAssignments { sub, scope } => {
            crate::emulator::resources::assignments::collection(state, ctx, &sub, &scope)
        }
        Route::RoleAssignment { sub, scope, name } => {
            crate::emulator::resources::assignments::item(state, ctx, &sub, &scope, &name)
        }
        Route::Locks { sub, scope } => {
            crate::emulator::resources::locks::collection(state, ctx, &sub, &scope)
        }
        Route::Lock { sub, scope, name } => {
            crate::emulator::resources::locks::item(state, ctx, &sub, &scope, &name)
        }
        Route::IdentitiesInSubscription { sub } => identities::collection(state, ctx, &sub, None),
        Route::IdentitiesInGroup { sub, rg } => identities::collection(state, ctx, &sub, Some(&rg)),
        Route::Identity { sub, rg, name } => identities::item(state, ctx, &sub, &rg, &name),
        Route::AssociatedResources { sub, rg, name } => {
            associated::list(state, ctx, &sub, &rg, &name)
        }
        Route::RevokeTokens { sub, rg, name } => {
            revoke::revoke_tokens(state, ctx, &sub, &rg, &name)
        }
        Route::Permissions { sub, rg } => permissions::list(state, ctx, &sub, rg.as_deref()),
        Route::MsiOperations => discovery::msi_operations(ctx),
        Route::ResourceGraph => crate::emulator::graph::query(state, ctx),
        Route::ManagementGroups => management_groups::list(state, ctx),
        Route::ManagementGroup { group } => management_groups::item(state, ctx, &group),
        Route::ManagementGroupDescendants { group } => {
            management_group_children::descendants(state, ctx, &group)
        }
        Route::ManagementGroupSubscriptions { group } => {
            management_group_children::subscriptions(state, ctx, &group)
        }
        Route::ManagementGroupSubscription { group, sub } => {
            management_group_children::subscription(state, ctx, &group, &sub)
        }
        Route::ManagementGroupOperation { kind, group } => {
            management_groups::operation(state, ctx, &kind, &group)
        }
        Route::GroupRoleAssignments { group } => {
            crate::emulator::resources::assignments::group_collection(state, ctx, &group)
        }
        Route::GroupRoleAssignment { group, name } => {
            crate::emulator::resources::assignments::group_item(state, ctx, &group, &name)
        }
        Route::UnknownNamespace { namespace } => Err(ApiError::bad_request(
            "InvalidResourceNamespace",
            format!("The resource namespace '{namespace}' is invalid."),
        )),
        Route::UnknownMsiType { kind } => Err(ApiError::bad_request(
            "InvalidResourceType",
            format!(
                "The resource type '{kind}' could not be found in the namespace 'Microsoft.ManagedIdentity' for \
                 api version '{}'.",
                ctx.api_version().unwrap_or("")
            ),
        )),
        Route::ManagedIdentityToken | Route::MetadataEndpoints | Route::NotFound => {
            Err(ApiError::no_route(&ctx.path))
        }
    }
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

fn routing_time() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// A JSON response with a status.
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok((
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// Adds the `Location` header a synchronous create (201) carries in Azure: the new resource's
/// id, as a path.
pub fn located(mut response: Response, id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// An empty response with a status.
pub fn empty(status: StatusCode) -> Response {
    (
        status,
        [(header::CONTENT_LENGTH, HeaderValue::from_static("0"))],
        Body::empty(),
    )
        .into_response()
}

/// The nextLink of a listing: the request's own path and api-version, plus a skip token.
pub fn next_link(ctx: &Ctx, after: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(after.as_bytes());
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(v) = ctx.api_version() {
        query.append_pair("api-version", v);
    }
    query.append_pair("$skiptoken", &token);
    format!("{}{}?{}", ctx.base_url, ctx.path, query.finish())
}

/// The resume key a nextLink carried; empty on the first page.
pub fn skip_after(ctx: &Ctx) -> Result<String, ApiError> {
    use base64::Engine as _;
    let Some(token) = ctx.query.get("$skiptoken") else {
        return Ok(String::new());
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "InvalidSkipToken",
                format!("The skip token '{token}' is invalid."),
            )
        })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A nextLink like [`next_link`] that also carries the request's `$top` (the relationship lists).
pub fn next_link_with_top(ctx: &Ctx, after: &str, top: Option<usize>) -> String {
    let mut link = next_link(ctx, after);
    if let Some(top) = top {
        link.push_str(&format!("&%24top={top}"));
    }
    link
}

/// Where a generic resource route points.
fn generic_place<'a>(
    sub: &'a str,
    rg: &'a str,
    namespace: &'a str,
    kind: &'a str,
) -> crate::emulator::resources::generic::Place<'a> {
    crate::emulator::resources::generic::Place {
        sub,
        rg,
        namespace,
        kind,
    }
}
