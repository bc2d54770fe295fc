//! `POST /providers/Microsoft.ResourceGraph/resources`: checks the request, spends one query
//! of the caller's quota, resolves the scope to the subscriptions the caller may read, runs
//! the query over the (possibly lagging) tables, and answers one page in ARG's shape.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::QueryError;
use super::eval::{self, Table};
use super::freshness::Freshness;
use super::paging::{Cursor, fingerprint};
use super::parser::parse;
use super::quota::{Quota, QuotaSpec, Verdict, ceil_secs, hh_mm_ss};
use super::request::{API_VERSIONS, Facet, MAX_SUBSCRIPTIONS, QueryRequest, ResultFormat};
use super::results::{ResultKey, Results};
use super::tables::{GroupScope, Snapshot};
use crate::emulator::access::callers::Principal;
use crate::emulator::resources::management_groups::read_hierarchy;
use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate;
use crate::emulator::state::{AppState, Ctx};
use crate::emulator::store::{StoreError, key_of};

/// Rows per page when the request sets no `$top`.
pub const DEFAULT_TOP: u64 = 100;

/// Resource Graph's shared state: the quota windows, the lagging views, and the live
/// snapshot with the count of writes it was read after.
#[derive(Debug)]
pub struct GraphService {
    quota: Quota,
    freshness: Freshness,
    writes: AtomicU64,
    live: Mutex<Option<(u64, Arc<Snapshot>)>>,
    results: Results,
    subscription_limit: usize,
    response_limit: usize,
}

impl GraphService {
    /// A Resource Graph with this quota and lag.
    pub fn new(quota: QuotaSpec, lag: Duration) -> GraphService {
        GraphService {
            quota: Quota::new(quota),
            freshness: Freshness::new(lag),
            writes: AtomicU64::new(0),
            live: Mutex::new(None),
            results: Results::default(),
            subscription_limit: crate::emulator::DEFAULT_GRAPH_SUBSCRIPTION_LIMIT,
            response_limit: MAX_RESPONSE_BYTES,
        }
    }

    /// The same, refusing answers of more than `bytes` (ARG's limit is 16 MiB).
    pub fn with_response_limit(mut self, bytes: usize) -> GraphService {
        self.response_limit = bytes;
        self
    }

    /// The same, covering at most `limit` subscriptions at tenant or management-group scope.
    pub fn with_subscription_limit(mut self, limit: usize) -> GraphService {
        self.subscription_limit = limit;
        self
    }

    /// Called after the state may have changed (a write was handled, a group delete
    /// finished): the next query reads the store again.
    pub fn changed(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// Like [`GraphService::changed`], for a request of this method.
    pub fn after_write(&self, method: &Method) {
        if !matches!(*method, Method::GET | Method::HEAD) {
            self.changed();
        }
    }

    /// The tenant as the store holds it now; read again only after a write.
    fn live(&self, state: &AppState) -> Result<Arc<Snapshot>, StoreError> {
        let writes = self.writes.load(Ordering::SeqCst);
        let mut live = match self.live.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((_, snapshot)) = live.as_ref().filter(|(at, _)| *at == writes) {
            return Ok(snapshot.clone());
        }
        let snapshot = Arc::new(load(state)?);
        *live = Some((writes, snapshot.clone()));
        Ok(snapshot)
    }

    /// Called before ARM handles a request that may change state: a lagging Resource Graph
    /// keeps the state as it was.
    pub fn before_write(&self, state: &AppState, method: &Method) -> Result<(), ApiError> {
        if matches!(*method, Method::GET | Method::HEAD) || !self.freshness.lags() {
            return Ok(());
        }
        self.freshness
            .before_write(|| self.live(state))
            .map_err(ApiError::internal)
    }
}

fn load(state: &AppState) -> Result<Snapshot, StoreError> {
    let subs: Vec<(String, String)> = state
        .subscriptions
        .iter()
        .map(|s| (s.to_ascii_lowercase(), s.clone()))
        .collect();
    state
        .store
        .read(|tx| Snapshot::load(tx, &subs, &state.tenant_id))
}

/// Answers a query request.
pub fn query(state: &Arc<AppState>, ctx: &Ctx) -> Result<Response, ApiError> {
    if ctx.method != Method::POST {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::api_version(ctx.api_version(), &API_VERSIONS)?;
    let caller = ctx
        .caller
        .as_ref()
        .ok_or_else(|| ApiError::internal("a Resource Graph query without a caller"))?;
    let verdict = state.graph.quota.take(&caller.object_id);
    let mut response = if verdict.allowed {
        answer(state, ctx, caller).unwrap_or_else(IntoResponse::into_response)
    } else {
        throttled(verdict)
    };
    stamp(&mut response, verdict);
    Ok(response)
}

fn throttled(verdict: Verdict) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RateLimiting",
        format!(
            "Please provide below info when asking for support: the Resource Graph quota of this user is \
             used up; retry after {} seconds.",
            ceil_secs(verdict.resets_after)
        ),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&ceil_secs(verdict.resets_after).max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn stamp(response: &mut Response, verdict: Verdict) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&verdict.remaining.to_string()) {
        headers.insert("x-ms-user-quota-remaining", v);
    }
    if let Ok(v) = HeaderValue::from_str(&hh_mm_ss(verdict.resets_after)) {
        headers.insert("x-ms-user-quota-resets-after", v);
    }
}

/// ARG's error envelope for a query it cannot run.
/// The largest answer Resource Graph sends (16 MiB); a page past it is refused whole.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// ARG's answer to a page past its size limit, as Azure words it.
fn too_large(size: usize, limit: usize) -> Response {
    let body = json!({
        "error": {
            "code": "BadRequest",
            "message": "Please provide below info when asking for support: the response is too large.",
            "details": [{
                "code": "ResponsePayloadTooLarge",
                "message": format!(
                    "Response payload size is {size}, and has exceeded the limit of {limit}. \
                     Please consider querying less data at a time and make paginated call if needed."
                ),
            }],
        }
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

fn query_error(error: &QueryError) -> Response {
    let body = json!({
        "error": {
            "code": "BadRequest",
            "message": "Please provide below info when asking for support: the query is invalid.",
            "details": [
                { "code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying." },
                { "code": error.code(), "message": error.to_string() },
            ],
        }
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// What a query covers: the subscription keys and management groups in scope, a canonical
/// description of the scope for skip tokens, and whether the subscription limit cut it short.
struct Scoped {
    subs: HashSet<String>,
    groups: GroupScope,
    described: Vec<String>,
    limit_hit: bool,
}

/// The subscription keys and groups in scope. A list of subscriptions keeps the readable ones
/// (403 when none is); a tenant or management-group scope takes the readable subscriptions
/// below it, and past the subscription limit fails unless `allowPartialScopes` asks for the
/// first ones by id (then `x-ms-tenant-subscription-limit-hit: true` says so).
fn scope(state: &AppState, request: &QueryRequest, caller: &Principal) -> Result<Scoped, ApiError> {
    let known: Vec<String> = state
        .subscriptions
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let tree = read_hierarchy(state)?;
    match (&request.subscriptions, &request.management_groups) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "BadRequest",
            "The request names both 'subscriptions' and 'managementGroups'; give one scope.",
        )),
        (Some(subs), None) => {
            for sub in subs {
                validate::subscription_id(sub)?;
            }
            let mut named: Vec<String> = subs.iter().map(|s| s.to_ascii_lowercase()).collect();
            named.sort();
            named.dedup();
            let readable: HashSet<String> = named
                .iter()
                .filter(|s| known.contains(s) && caller.has_role_in(s))
                .cloned()
                .collect();
            if readable.is_empty() {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "AuthorizationFailed",
                    format!(
                        "The client '{}' with object id '{}' cannot read any of the subscriptions in the \
                         request: {}.",
                        caller.client_id,
                        caller.object_id,
                        subs.join(", ")
                    ),
                ));
            }
            let above = readable
                .iter()
                .flat_map(|s| tree.subscription_chain(s))
                .collect();
            let groups = GroupScope {
                above,
                ..GroupScope::default()
            };
            Ok(Scoped {
                subs: readable,
                groups,
                described: named,
                limit_hit: false,
            })
        }
        (None, groups) => {
            let (named, described): (Vec<String>, Vec<String>) = match groups {
                None => (vec![tree.root.clone()], vec!["tenant".to_string()]),
                Some(groups) => {
                    let mut keys = Vec::new();
                    for group in groups {
                        let key = key_of(group);
                        if !tree.exists(&key) {
                            return Err(ApiError::new(
                                StatusCode::NOT_FOUND,
                                "ManagementGroupNotFound",
                                format!(
                                    "The management group '{group}' was not found in the tenant '{}'.",
                                    state.tenant_id
                                ),
                            ));
                        }
                        keys.push(key);
                    }
                    keys.sort();
                    keys.dedup();
                    let described = keys.iter().map(|k| format!("mg:{k}")).collect();
                    (keys, described)
                }
            };
            let mut within: HashSet<String> = named.iter().cloned().collect();
            let mut below: Vec<String> = Vec::new();
            for key in &named {
                within.extend(tree.descendant_groups(key));
                below.extend(tree.subscriptions_below(key));
            }
            let above = named.iter().flat_map(|k| tree.ancestors(k)).collect();
            below.sort();
            below.dedup();
            let mut readable: Vec<String> = below
                .into_iter()
                .filter(|s| caller.has_role_in(s))
                .collect();
            let limit = state.graph.subscription_limit;
            let limit_hit = readable.len() > limit;
            if limit_hit && !request.allow_partial_scopes {
                return Err(ApiError::bad_request(
                    "BadRequest",
                    format!(
                        "The scope holds {} subscriptions, more than the {limit} a query at tenant or \
                         management-group scope covers. Set options.allowPartialScopes to true to query the \
                         first {limit}, or send the subscriptions in batches of at most {MAX_SUBSCRIPTIONS}.",
                        readable.len()
                    ),
                ));
            }
            readable.truncate(limit);
            Ok(Scoped {
                subs: readable.into_iter().collect(),
                groups: GroupScope {
                    named: named.into_iter().collect(),
                    within,
                    above,
                },
                described,
                limit_hit,
            })
        }
    }
}

fn answer(state: &Arc<AppState>, ctx: &Ctx, caller: &Principal) -> Result<Response, ApiError> {
    let request = QueryRequest::parse(&ctx.body)?;
    let scoped = scope(state, &request, caller)?;
    let (subs, scope_text) = (&scoped.subs, &scoped.described);
    let parsed = match parse(&request.query) {
        Ok(q) => q,
        Err(e) => return Ok(query_error(&e)),
    };
    let hash = fingerprint(&request.query, scope_text);
    let cursor = request
        .skip_token
        .as_deref()
        .map(|t| Cursor::decode(t, &hash))
        .transpose()?;
    let snapshot = state
        .graph
        .freshness
        .view(|| state.graph.live(state))
        .map_err(ApiError::internal)?;
    // A page after the first is cut from the result its first page was cut from.
    let key = ResultKey {
        query: hash.clone(),
        caller: caller.object_id.clone(),
        filter: format!("{:?}", request.authorization_scope),
        snapshot: Arc::as_ptr(&snapshot) as usize,
    };
    let kept = if cursor.is_some() {
        state.graph.results.get(&key)
    } else {
        None
    };
    let result = match kept {
        Some(result) => result,
        None => {
            let tables = snapshot.view(caller, subs, &scoped.groups, request.authorization_scope);
            let result = match eval::run(&parsed, &tables) {
                Ok(t) => Arc::new(t),
                Err(e) => return Ok(query_error(&e)),
            };
            state.graph.results.put(key, &snapshot, result.clone());
            result
        }
    };
    let total = result.rows.len() as u64;
    let size = request
        .top
        .or(cursor.as_ref().map(|c| c.size))
        .unwrap_or(DEFAULT_TOP);
    let limited = eval::limits_rows(&parsed);
    let offset = if limited {
        0
    } else {
        request
            .skip
            .or(cursor.as_ref().map(|c| c.offset))
            .unwrap_or(0)
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(result.rows.len());
    let end = start
        .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
        .min(result.rows.len());
    let rows = &result.rows[start..end];
    let more = end < result.rows.len();
    let skip_token = (more && !limited).then(|| {
        Cursor {
            offset: end as u64,
            size,
            hash,
        }
        .encode()
    });
    let answer = Answer {
        total_records: total,
        count: rows.len(),
        result_truncated: if more && limited { "true" } else { "false" },
        skip_token,
        data: PageData {
            columns: &result.columns,
            rows,
            format: request.format,
        },
        facets: request.facets.iter().map(|f| facet(f, &result)).collect(),
    };
    // Serialized from the kept result itself: a page is never copied first.
    let bytes = serde_json::to_vec(&answer).map_err(ApiError::internal)?;
    if bytes.len() > state.graph.response_limit {
        return Ok(too_large(bytes.len(), state.graph.response_limit));
    }
    let mut response = (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        bytes,
    )
        .into_response();
    if scoped.limit_hit {
        response.headers_mut().insert(
            "x-ms-tenant-subscription-limit-hit",
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// A `QueryResponse` as sent.
#[derive(serde::Serialize)]
struct Answer<'a> {
    #[serde(rename = "totalRecords")]
    total_records: u64,
    count: usize,
    #[serde(rename = "resultTruncated")]
    result_truncated: &'static str,
    #[serde(rename = "$skipToken", skip_serializing_if = "Option::is_none")]
    skip_token: Option<String>,
    data: PageData<'a>,
    facets: Vec<Value>,
}

/// A page's rows, borrowed from the kept result, in the format asked for.
struct PageData<'a> {
    columns: &'a [String],
    rows: &'a [Vec<Value>],
    format: ResultFormat,
}

/// One row as an object of its columns.
struct RowObject<'a> {
    columns: &'a [String],
    row: &'a [Value],
}

impl serde::Serialize for RowObject<'_> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = out.serialize_map(Some(self.columns.len()))?;
        for (name, value) in self.columns.iter().zip(self.row) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl serde::Serialize for PageData<'_> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.format {
            ResultFormat::ObjectArray => {
                let mut seq = out.serialize_seq(Some(self.rows.len()))?;
                for row in self.rows {
                    seq.serialize_element(&RowObject {
                        columns: self.columns,
                        row,
                    })?;
                }
                seq.end()
            }
            ResultFormat::Table => {
                let columns: Vec<Value> = self
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, name)| json!({ "name": name, "type": column_type(self.rows, i) }))
                    .collect();
                let mut map = out.serialize_map(Some(2))?;
                map.serialize_entry("columns", &columns)?;
                map.serialize_entry("rows", self.rows)?;
                map.end()
            }
        }
    }
}

fn column_type(rows: &[Vec<Value>], i: usize) -> &'static str {
    let first = rows.iter().filter_map(|r| r.get(i)).find(|v| !v.is_null());
    match first {
        Some(Value::String(_)) => "string",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "integer",
        Some(Value::Number(_)) => "number",
        Some(_) | None => "object",
    }
}

/// One facet over the query's whole result: rows counted by the expression's values.
fn facet(request: &Facet, result: &Table) -> Value {
    let failed = |errors: Vec<Value>| json!({ "expression": request.expression, "resultType": "FacetError", "errors": errors });
    // A dotted path the query projected is a column named with `_` in the result.
    let flat = request.expression.replace('.', "_");
    let expression = if result.columns.contains(&flat) {
        flat
    } else {
        request.expression.clone()
    };
    let filter = request
        .filter
        .as_ref()
        .map(|f| format!(" | where {f}"))
        .unwrap_or_default();
    let order = request.sort_by.as_deref().unwrap_or("count_");
    let direction = if request.descending { "desc" } else { "asc" };
    let text = format!(
        "facetinput{filter} | summarize count_ = count() by {expression} | order by {order} {direction}"
    );
    let parsed = match parse(&text) {
        Ok(q) => q,
        Err(e) => return failed(vec![json!({ "code": e.code(), "message": e.to_string() })]),
    };
    let catalog = std::collections::HashMap::from([("facetinput".to_string(), result.clone())]);
    let counted = match eval::run(&parsed, &catalog) {
        Ok(t) => t,
        Err(QueryError::UnknownColumn { name, .. }) => {
            return failed(vec![
                json!({ "code": "NoValidColumns", "message": "No valid columns in facet expression." }),
                json!({ "code": "InvalidColumnNames", "message": format!("Invalid column names: [{name}].") }),
            ]);
        }
        Err(e) => return failed(vec![json!({ "code": e.code(), "message": e.to_string() })]),
    };
    let mut rows: Vec<Map<String, Value>> = counted
        .objects()
        .into_iter()
        .filter_map(|o| match o {
            Value::Object(mut m) => {
                let n = m.remove("count_").unwrap_or(Value::Null);
                m.insert("count".into(), n);
                Some(m)
            }
            _ => None,
        })
        .collect();
    let total = rows.len();
    rows.truncate(usize::try_from(request.top).unwrap_or(usize::MAX));
    json!({
        "expression": request.expression,
        "resultType": "FacetResult",
        "totalRecords": total,
        "count": rows.len(),
        "data": rows.into_iter().map(Value::Object).collect::<Vec<_>>(),
    })
}
