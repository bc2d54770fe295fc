//! The Azure Resource Graph client: `POST /providers/Microsoft.ResourceGraph/resources`
//! with a `QueryRequest`, every page followed through `$skipToken`, subscriptions batched
//! under ARG's limit per request, and one quota shared by every query of the process
//! (`x-ms-user-quota-remaining` / `-resets-after`; after a 429, its Retry-After for all).
//! Shapes and limits: arm-reference/GRAPH-AND-LOCKS.md §1-4.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::ArmError;
use super::{ArmClient, names};

/// The Resource Graph api-version azid speaks.
pub const GRAPH_API_VERSION: &str = "2024-04-01";
/// The path of the query operation.
pub const GRAPH_PATH: &str = "/providers/Microsoft.ResourceGraph/resources";
/// The most subscriptions one request names (ARG refuses more; GRAPH-AND-LOCKS.md §4).
pub const MAX_SUBSCRIPTIONS: usize = 1000;
/// The largest page ARG serves (`$top` at most 1,000).
pub const MAX_PAGE: u64 = 1000;
/// The most pages one query follows before it is taken for a server that never ends.
const MAX_PAGES: usize = 100_000;

/// Where a query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphScope {
    /// The whole tenant (every subscription the caller may read).
    Tenant,
    /// These subscriptions (batched by `MAX_SUBSCRIPTIONS`).
    Subscriptions(Vec<String>),
    /// These management groups (and everything below them).
    ManagementGroups(Vec<String>),
}

/// `QueryRequestOptions` as sent.
#[derive(Debug, Clone, Default, Serialize)]
struct RequestOptions {
    #[serde(rename = "$top", skip_serializing_if = "Option::is_none")]
    top: Option<u64>,
    #[serde(rename = "$skip", skip_serializing_if = "Option::is_none")]
    skip: Option<u64>,
    #[serde(rename = "$skipToken", skip_serializing_if = "Option::is_none")]
    skip_token: Option<String>,
    #[serde(rename = "resultFormat")]
    result_format: &'static str,
}

/// `QueryRequest` as sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    query: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    management_groups: Option<&'a [String]>,
    options: RequestOptions,
}

/// One page of a query's answer (`QueryResponse`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphPage {
    /// Rows the whole query matches.
    #[serde(default)]
    pub total_records: u64,
    /// Rows in this page.
    #[serde(default)]
    pub count: u64,
    /// The rows, one object each.
    #[serde(default)]
    pub data: Vec<Map<String, Value>>,
    /// The token of the next page, when there is one.
    #[serde(rename = "$skipToken", default)]
    pub skip_token: Option<String>,
}

/// One request of a query: a single page, as `az graph query` sends it.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// `$top` (1 to 1,000).
    pub first: Option<u64>,
    /// `$skip`.
    pub skip: Option<u64>,
    /// `$skipToken` of an earlier page.
    pub skip_token: Option<String>,
}

/// Every row of a query, over all batches and pages.
#[derive(Debug, Clone, Default)]
pub struct GraphRows {
    /// The rows, batch after batch, page after page.
    pub rows: Vec<Map<String, Value>>,
    /// The sum of `totalRecords` over the batches.
    pub total_records: u64,
    /// Requests sent.
    pub requests: u64,
}

/// The caller's Resource Graph quota as the answers report it, shared by every query.
#[derive(Debug, Default)]
pub(crate) struct GraphQuota {
    state: Mutex<QuotaState>,
}

#[derive(Debug, Default, Clone)]
struct QuotaState {
    remaining: Option<u32>,
    resets_at: Option<Instant>,
    in_flight: u32,
    pause_until: Option<Instant>,
}

impl QuotaState {
    fn decide(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.pause_until.filter(|u| *u > now) {
            return Some(until - now);
        }
        match (self.remaining, self.resets_at) {
            (Some(_), Some(reset)) if reset <= now => {
                // The window has turned: what is left is unknown until the next answer.
                self.remaining = None;
                self.resets_at = None;
            }
            (Some(left), Some(reset)) if left <= self.in_flight => {
                return Some(reset - now);
            }
            _ => {}
        }
        self.in_flight += 1;
        None
    }

    fn observe(
        &mut self,
        now: Instant,
        remaining: Option<u32>,
        resets_after: Option<Duration>,
        throttled_for: Option<Duration>,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(wait) = throttled_for {
            let wait = wait.min(super::retry::MAX_WAIT);
            let until = now.checked_add(wait).unwrap_or(now);
            self.pause_until = Some(self.pause_until.map_or(until, |u| u.max(until)));
            self.remaining = Some(0);
            self.resets_at = Some(until);
            return;
        }
        if let Some(left) = remaining {
            self.remaining = Some(left);
            self.resets_at = resets_after
                .map(|d| d.min(super::retry::MAX_WAIT))
                .and_then(|d| now.checked_add(d));
        }
    }
}

impl GraphQuota {
    /// `None`: send now. `Some(d)`: the quota is spent; ask again after `d`.
    pub(crate) fn decide(&self, now: Instant) -> Option<Duration> {
        match self.state.lock() {
            Ok(mut s) => s.decide(now),
            Err(_) => None,
        }
    }

    /// Takes in an answer's quota headers (none: no answer), or the Retry-After of a 429.
    pub(crate) fn observe(
        &self,
        now: Instant,
        headers: Option<&HeaderMap>,
        throttled_for: Option<Duration>,
    ) {
        let remaining = headers.and_then(|h| header(h, "x-ms-user-quota-remaining"));
        let resets = headers
            .and_then(|h| h.get("x-ms-user-quota-resets-after"))
            .and_then(|v| v.to_str().ok())
            .and_then(hh_mm_ss);
        if let Ok(mut s) = self.state.lock() {
            s.observe(
                now,
                remaining.and_then(|r| u32::try_from(r).ok()),
                resets,
                throttled_for,
            );
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `hh:mm:ss` (as ARG writes `x-ms-user-quota-resets-after`) as a duration.
fn hh_mm_ss(text: &str) -> Option<Duration> {
    let mut secs: u64 = 0;
    let mut parts = 0;
    for part in text.trim().split(':') {
        let n: u64 = part.parse().ok()?;
        secs = secs.checked_mul(60)?.checked_add(n)?;
        parts += 1;
    }
    (parts == 3).then(|| Duration::from_secs(secs))
}

/// A KQL string literal: `text` in single quotes, its backslashes and quotes escaped.
pub fn kql_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Whether a URL is the Resource Graph query operation (paced by the graph quota).
pub(crate) fn is_graph(url: &reqwest::Url) -> bool {
    url.path().eq_ignore_ascii_case(GRAPH_PATH)
}

impl GraphScope {
    /// The scopes one request each: subscriptions in batches of at most `MAX_SUBSCRIPTIONS`.
    pub(crate) fn batches(&self) -> Vec<GraphScope> {
        match self {
            GraphScope::Subscriptions(subs) => subs
                .chunks(MAX_SUBSCRIPTIONS)
                .map(|c| GraphScope::Subscriptions(c.to_vec()))
                .collect(),
            other => vec![other.clone()],
        }
    }

    /// Checks the names before anything is sent.
    pub fn validated(self) -> Result<Self, ArmError> {
        match &self {
            GraphScope::Tenant => {}
            GraphScope::Subscriptions(subs) => {
                if subs.is_empty() {
                    return Err(ArmError::invalid(
                        "subscriptions",
                        "[]",
                        "a query names at least one subscription",
                    ));
                }
                for s in subs {
                    names::subscription_id(s)?;
                }
            }
            GraphScope::ManagementGroups(groups) => {
                if groups.is_empty() {
                    return Err(ArmError::invalid(
                        "management groups",
                        "[]",
                        "a query names at least one management group",
                    ));
                }
                for g in groups {
                    management_group_name(g)?;
                }
            }
        }
        Ok(self)
    }
}

/// A management group name: 1 to 90 letters, digits, `-`, `_`, `(`, `)` and `.`, not ending in `.`.
pub fn management_group_name(name: &str) -> Result<(), ArmError> {
    let ok = (1..=90).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_().".contains(c))
        && !name.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(ArmError::invalid(
            "management group",
            name,
            "a management group name is 1-90 letters, digits, '-', '_', '(', ')' or '.', not ending in '.'",
        ))
    }
}

impl ArmClient {
    /// One page of a query, as `az graph query` asks for it.
    pub async fn graph_page(
        &self,
        query: &str,
        scope: &GraphScope,
        page: &PageRequest,
    ) -> Result<GraphPage, ArmError> {
        self.graph_page_sized(query, scope, page)
            .await
            .map(|(p, _)| p)
    }

    /// One page of a query, decoded as `T`, and the size of its answer in bytes.
    pub(crate) async fn graph_page_sized<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        scope: &GraphScope,
        page: &PageRequest,
    ) -> Result<(T, usize), ArmError> {
        let reply = self.graph_page_reply(query, scope, page).await?;
        Ok((super::decode(&reply)?, reply.body.len()))
    }

    /// One page of a query as answered, not yet decoded.
    pub(crate) async fn graph_page_reply(
        &self,
        query: &str,
        scope: &GraphScope,
        page: &PageRequest,
    ) -> Result<super::Reply, ArmError> {
        if query.trim().is_empty() {
            return Err(ArmError::invalid("query", "", "a query is KQL text"));
        }
        if let Some(top) = page.first
            && !(1..=MAX_PAGE).contains(&top)
        {
            return Err(ArmError::invalid(
                "first",
                top.to_string(),
                "a page holds 1 to 1000 rows",
            ));
        }
        let (subscriptions, groups) = match scope {
            GraphScope::Tenant => (None, None),
            GraphScope::Subscriptions(s) => (Some(s.as_slice()), None),
            GraphScope::ManagementGroups(g) => (None, Some(g.as_slice())),
        };
        if subscriptions.is_some_and(|s| s.len() > MAX_SUBSCRIPTIONS) {
            return Err(ArmError::invalid(
                "subscriptions",
                subscriptions.map_or(0, <[String]>::len).to_string(),
                "one request names at most 1000 subscriptions",
            ));
        }
        let request = Request {
            query,
            subscriptions,
            management_groups: groups,
            options: RequestOptions {
                top: page.first,
                skip: page.skip,
                skip_token: page.skip_token.clone(),
                result_format: "objectArray",
            },
        };
        let body = serde_json::to_value(&request).map_err(|e| ArmError::Decode {
            status: 0,
            message: e.to_string(),
        })?;
        let url = self.url(GRAPH_PATH, GRAPH_API_VERSION);
        // A query reads; sending it again is safe.
        self.send(Method::POST, url, Some(&body), &[200]).await
    }

    /// Every row of a query: each batch of subscriptions, every page of each; `first`
    /// stops after that many rows.
    pub async fn graph_query(
        &self,
        query: &str,
        scope: &GraphScope,
        first: Option<u64>,
    ) -> Result<GraphRows, ArmError> {
        let batches = scope.batches();
        let mut out = GraphRows::default();
        let limit = first.unwrap_or(u64::MAX);
        for batch in &batches {
            let mut token: Option<String> = None;
            let mut pages = 0usize;
            loop {
                let wanted = limit.saturating_sub(out.rows.len() as u64);
                if wanted == 0 {
                    return Ok(out);
                }
                pages += 1;
                if pages > MAX_PAGES {
                    return Err(ArmError::Decode {
                        status: 200,
                        message: format!("the query did not end after {MAX_PAGES} pages"),
                    });
                }
                let request = PageRequest {
                    first: Some(wanted.min(MAX_PAGE)),
                    skip: None,
                    skip_token: token.take(),
                };
                let page = self.graph_page(query, batch, &request).await?;
                out.requests += 1;
                if pages == 1 {
                    out.total_records = out.total_records.saturating_add(page.total_records);
                }
                let empty = page.data.is_empty();
                out.rows.extend(page.data);
                match page.skip_token.filter(|t| !t.is_empty()) {
                    // A page with no rows that still promises more would loop for ever.
                    Some(t) if !empty => token = Some(t),
                    _ => break,
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_waits_for_the_window_when_spent_and_resumes_after() {
        let t0 = Instant::now();
        let mut q = QuotaState::default();
        assert_eq!(q.decide(t0), None, "nothing known: send");
        q.observe(t0, Some(1), Some(Duration::from_secs(3)), None);
        assert_eq!(q.decide(t0), None, "one left");
        assert_eq!(
            q.decide(t0),
            Some(Duration::from_secs(3)),
            "the one left is in flight"
        );
        q.observe(t0, Some(0), Some(Duration::from_secs(3)), None);
        let later = t0 + Duration::from_secs(3);
        assert_eq!(q.decide(later), None, "a new window");
    }

    #[test]
    fn a_429_pauses_every_query() {
        let t0 = Instant::now();
        let mut q = QuotaState::default();
        q.decide(t0);
        q.observe(t0, None, None, Some(Duration::from_secs(2)));
        assert_eq!(q.decide(t0), Some(Duration::from_secs(2)));
        assert_eq!(q.decide(t0 + Duration::from_secs(2)), None);
    }

    #[test]
    fn quota_headers_are_read_and_hostile_ones_ignored() {
        assert_eq!(hh_mm_ss("00:00:05"), Some(Duration::from_secs(5)));
        assert_eq!(hh_mm_ss("01:02:03"), Some(Duration::from_secs(3723)));
        assert_eq!(hh_mm_ss("5"), None);
        assert_eq!(hh_mm_ss("99999999999999999999:00:00"), None);
        let q = GraphQuota::default();
        let mut h = HeaderMap::new();
        h.insert("x-ms-user-quota-remaining", "0".parse().unwrap());
        h.insert("x-ms-user-quota-resets-after", "999:00:00".parse().unwrap());
        let t0 = Instant::now();
        q.observe(t0, Some(&h), None);
        assert_eq!(
            q.decide(t0),
            Some(super::super::retry::MAX_WAIT),
            "a wait past the bound is clamped"
        );
    }

    #[test]
    fn scopes_are_checked_before_sending() {
        assert!(GraphScope::Subscriptions(vec![]).validated().is_err());
        assert!(
            GraphScope::Subscriptions(vec!["not-a-guid".into()])
                .validated()
                .is_err()
        );
        assert!(
            GraphScope::ManagementGroups(vec!["bad/name".into()])
                .validated()
                .is_err()
        );
        assert!(
            GraphScope::ManagementGroups(vec!["mg-prod".into()])
                .validated()
                .is_ok()
        );
    }
}
