//! The body of a Resource Graph query (`QueryRequest`), checked field by field before
//! anything runs: a wrong type or value is refused with a message naming the field.

use serde_json::Value;

use super::tables::AuthorizationScope;
use crate::emulator::server::error::ApiError;

/// The api-versions of `Microsoft.ResourceGraph/resources` the emulator serves.
pub const API_VERSIONS: [&str; 3] = ["2024-04-01", "2022-10-01", "2021-03-01"];

/// The largest page Resource Graph returns.
pub const MAX_TOP: u64 = 1000;

/// The most subscriptions one request may name.
pub const MAX_SUBSCRIPTIONS: usize = 1000;

/// How rows are laid out in `data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// An array of objects keyed by column (the default since 2021-03-01).
    ObjectArray,
    /// `{columns:[{name,type}], rows:[[...]]}`.
    Table,
}

/// A facet request: an expression to count rows by.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    /// The column expression, as sent.
    pub expression: String,
    /// How many facet values to return (default 10).
    pub top: u64,
    /// `asc` or `desc` (default `desc`).
    pub descending: bool,
    /// What to sort by (default: the count).
    pub sort_by: Option<String>,
    /// A predicate the rows must meet before they are counted.
    pub filter: Option<String>,
}

/// A checked query request.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    /// The KQL text.
    pub query: String,
    /// Subscription ids, when the body lists some.
    pub subscriptions: Option<Vec<String>>,
    /// Management group names, when the body lists some.
    pub management_groups: Option<Vec<String>>,
    /// `options.$top`.
    pub top: Option<u64>,
    /// `options.$skip`.
    pub skip: Option<u64>,
    /// `options.$skipToken`.
    pub skip_token: Option<String>,
    /// `options.resultFormat`.
    pub format: ResultFormat,
    /// `options.allowPartialScopes`.
    pub allow_partial_scopes: bool,
    /// `options.authorizationScopeFilter`.
    pub authorization_scope: AuthorizationScope,
    /// `facets`.
    pub facets: Vec<Facet>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("BadRequest", message)
}

fn strings(value: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(invalid(format!("'{field}' must be an array of strings.")));
    };
    items
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("'{field}' must be an array of strings.")))
        })
        .collect()
}

fn count(options: &Value, field: &str) -> Result<Option<u64>, ApiError> {
    match options.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(format!("'options.{field}' must be a non-negative integer."))),
    }
}

impl QueryRequest {
    /// Parses and checks a request body.
    pub fn parse(body: &[u8]) -> Result<QueryRequest, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(ApiError::invalid_content)?;
        if !value.is_object() {
            return Err(ApiError::invalid_content("the body must be a JSON object"));
        }
        let query = match value.get("query") {
            Some(Value::String(q)) if !q.trim().is_empty() => q.clone(),
            Some(Value::String(_)) => return Err(invalid("The query is empty.")),
            Some(_) => return Err(invalid("'query' must be a string.")),
            None => return Err(invalid("The request has no 'query'.")),
        };
        let list = |field: &str| match value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => strings(v, field).map(Some),
        };
        let subscriptions = list("subscriptions")?;
        let management_groups = list("managementGroups")?;
        if subscriptions
            .as_ref()
            .is_some_and(|s| s.len() > MAX_SUBSCRIPTIONS)
        {
            return Err(invalid(format!(
                "The request names more than {MAX_SUBSCRIPTIONS} subscriptions; send them in batches of \
                 {MAX_SUBSCRIPTIONS} or fewer."
            )));
        }
        let options = match value.get("options") {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(o @ Value::Object(_)) => o.clone(),
            Some(_) => return Err(invalid("'options' must be an object.")),
        };
        let top = count(&options, "$top")?;
        if let Some(top) = top.filter(|t| !(1..=MAX_TOP).contains(t)) {
            return Err(invalid(format!(
                "'options.$top' is {top}; it must be from 1 to {MAX_TOP}."
            )));
        }
        let skip = count(&options, "$skip")?;
        let skip_token = match options.get("$skipToken") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => return Err(invalid("'options.$skipToken' must be a string.")),
        };
        let format = match options.get("resultFormat") {
            None | Some(Value::Null) => ResultFormat::ObjectArray,
            Some(Value::String(f)) if f.eq_ignore_ascii_case("objectArray") => {
                ResultFormat::ObjectArray
            }
            Some(Value::String(f)) if f.eq_ignore_ascii_case("table") => ResultFormat::Table,
            Some(other) => {
                return Err(invalid(format!(
                    "'options.resultFormat' is {other}; it must be 'objectArray' or 'table'."
                )));
            }
        };
        let allow_partial_scopes = match options.get("allowPartialScopes") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid("'options.allowPartialScopes' must be a boolean.")),
        };
        let authorization_scope = match options.get("authorizationScopeFilter") {
            None | Some(Value::Null) => AuthorizationScope::AndBelow,
            Some(Value::String(s)) => AuthorizationScope::parse(s).ok_or_else(|| {
                invalid(format!(
                    "'options.authorizationScopeFilter' is '{s}'; it must be AtScopeAndBelow, \
                     AtScopeAndAbove, AtScopeExact or AtScopeAboveAndBelow."
                ))
            })?,
            Some(_) => {
                return Err(invalid(
                    "'options.authorizationScopeFilter' must be a string.",
                ));
            }
        };
        let facets = match value.get("facets") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(facet).collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("'facets' must be an array.")),
        };
        Ok(QueryRequest {
            query,
            subscriptions,
            management_groups,
            top,
            skip,
            skip_token,
            format,
            allow_partial_scopes,
            authorization_scope,
            facets,
        })
    }
}

fn facet(value: &Value) -> Result<Facet, ApiError> {
    let expression = value
        .get("expression")
        .and_then(Value::as_str)
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| invalid("Each facet needs an 'expression' string."))?
        .to_string();
    let options = value.get("options").cloned().unwrap_or(Value::Null);
    let top = count(&options, "$top")?.unwrap_or(10);
    if top == 0 || top > MAX_TOP {
        return Err(invalid(format!(
            "A facet's '$top' is {top}; it must be from 1 to {MAX_TOP}."
        )));
    }
    let descending = match options.get("sortOrder").and_then(Value::as_str) {
        None => true,
        Some(o) if o.eq_ignore_ascii_case("desc") => true,
        Some(o) if o.eq_ignore_ascii_case("asc") => false,
        Some(o) => {
            return Err(invalid(format!(
                "A facet's 'sortOrder' is '{o}'; it must be 'asc' or 'desc'."
            )));
        }
    };
    let text = |field: &str| match options.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) if !t.trim().is_empty() => Ok(Some(t.clone())),
        Some(_) => Err(invalid(format!(
            "A facet's '{field}' must be a non-empty string."
        ))),
    };
    Ok(Facet {
        expression,
        top,
        descending,
        sort_by: text("sortBy")?,
        filter: text("filter")?,
    })
}
