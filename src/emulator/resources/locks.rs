//! Microsoft.Authorization/locks (2020-05-01): ManagementLocks_CreateOrUpdate* (201 new, 200
//! replaced), _Get*, _Delete* (200, 204 when there was none) and the lists
//! (_ListAtSubscriptionLevel, _ListAtResourceGroupLevel, _ListAtResourceLevel, _ListByScope)
//! at a subscription, a resource group, an identity or a generic resource. What a lock stops is
//! decided on the request path (`access::locked`), not here.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate;
use crate::emulator::state::{AppState, Ctx, empty, json, next_link, skip_after};
use crate::emulator::store::{LockRecord, Tx, key_of, scope_within};
use crate::model::{LockOwner, LockProperties, ManagementLock, Page};

/// The resource type, as ARM spells it.
pub const LOCK_TYPE: &str = "Microsoft.Authorization/locks";

/// Api-versions served; all answer in the 2020-05-01 shape.
const API_VERSIONS: &[&str] = &["2015-01-01", "2016-09-01", "2017-04-01", "2020-05-01"];

/// The lock levels, as ARM spells them.
pub const LEVELS: &[&str] = &["NotSpecified", "CanNotDelete", "ReadOnly"];

/// Longest lock name ARM accepts.
const MAX_NAME: usize = 260;

/// Longest `notes` ARM accepts.
const MAX_NOTES: usize = 512;

/// A checked scope.
struct Scope {
    /// Subscription key.
    sub: String,
    /// Canonical spelling, names as in the path.
    display: String,
    /// Lower-case key of `display`.
    key: String,
}

/// `{scope}/providers/Microsoft.Authorization/locks`: the locks that apply at the scope (at it and
/// above it) and those below it; `$filter=atScope()` leaves out those below.
pub fn collection(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    scope: &[String],
) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::api_version(ctx.api_version(), API_VERSIONS)?;
    let filter = Filter::parse(ctx.query.get("$filter").map(String::as_str))?;
    let after = skip_after(ctx)?;
    let (items, more) = state.store.read(|tx| {
        let scope = resolve(state, tx, sub, scope)?;
        let mut items = Vec::new();
        let mut more = None;
        for lock in tx.locks_in(&scope.sub)? {
            let above = scope_within(&scope.key, &lock.scope);
            let below = scope_within(&lock.scope, &scope.key);
            let wanted = (above || (below && !filter.at_scope))
                && filter
                    .name
                    .as_ref()
                    .is_none_or(|n| key_of(n) == key_of(&lock.record.name))
                && filter
                    .level
                    .as_ref()
                    .is_none_or(|l| l.eq_ignore_ascii_case(&lock.record.level));
            if !wanted || lock.key.as_str() <= after.as_str() {
                continue;
            }
            if items.len() == state.page_size {
                more = Some(());
                break;
            }
            items.push((lock.key, lock.record));
        }
        Ok::<_, ApiError>((items, more))
    })?;
    let next = more.and(items.last()).map(|(key, _)| next_link(ctx, key));
    let page = Page {
        value: items.iter().map(|(_, r)| render(r)).collect(),
        next_link: next,
    };
    json(StatusCode::OK, &page)
}

/// `{scope}/providers/Microsoft.Authorization/locks/{name}`: PUT, GET and DELETE.
pub fn item(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    scope: &[String],
    name: &str,
) -> Result<Response, ApiError> {
    validate::api_version(ctx.api_version(), API_VERSIONS)?;
    match ctx.method {
        Method::GET => {
            let record = state.store.read(|tx| {
                let scope = resolve(state, tx, sub, scope)?;
                tx.lock(&id_key(&scope, name))?
                    .ok_or_else(|| not_found(name))
            })?;
            json(StatusCode::OK, &render(&record))
        }
        Method::PUT => {
            lock_name(name)?;
            let body = validate::json_object(&ctx.body, false)?;
            let input = read_body(&body)?;
            let (record, replaced) = state.store.transaction(|tx| {
                let scope = resolve(state, tx, sub, scope)?;
                let key = id_key(&scope, name);
                // A lock keeps the name it was first given, as ARM resources do.
                let name = tx
                    .lock(&key)?
                    .map_or_else(|| name.to_string(), |old| old.name);
                let record = LockRecord {
                    name,
                    scope: scope.display.clone(),
                    ..input
                };
                let replaced = tx.put_lock(&key, &scope.sub, &scope.key, &record)?;
                Ok::<_, ApiError>((record, replaced))
            })?;
            let status = if replaced {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            json(status, &render(&record))
        }
        Method::DELETE => {
            let removed = state.store.transaction(|tx| {
                let scope = resolve(state, tx, sub, scope)?;
                Ok::<_, ApiError>(tx.remove_lock(&id_key(&scope, name))?)
            })?;
            Ok(empty(if removed {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            }))
        }
        ref other => Err(ApiError::method_not_allowed(other.as_str())),
    }
}

/// What a list's `$filter` asks for: `atScope()`, `name eq '{name}'`, `level eq '{level}'`
/// (the flattened `properties/level` too), or an `and` of them.
#[derive(Debug, Default, PartialEq)]
struct Filter {
    at_scope: bool,
    name: Option<String>,
    level: Option<String>,
}

impl Filter {
    fn parse(text: Option<&str>) -> Result<Filter, ApiError> {
        let mut filter = Filter::default();
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(filter);
        };
        let invalid = |why: &str| {
            ApiError::bad_request(
                "InvalidFilter",
                format!(
                    "The $filter '{text}' is not supported: {why}. Use atScope(), name eq '{{name}}', \
                     level eq '{{level}}', or an 'and' of them."
                ),
            )
        };
        for term in split_and(text) {
            let term = term.trim();
            if term.eq_ignore_ascii_case("atScope()") {
                filter.at_scope = true;
                continue;
            }
            let mut words = term.splitn(3, ' ');
            let (field, op, value) = match (words.next(), words.next(), words.next()) {
                (Some(f), Some(op), Some(v)) => (f, op, v.trim()),
                _ => return Err(invalid(&format!("'{term}' is not a condition"))),
            };
            if !op.eq_ignore_ascii_case("eq") {
                return Err(invalid(&format!("the operator '{op}' is not supported")));
            }
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .ok_or_else(|| invalid(&format!("the value {value} is not a quoted string")))?;
            match field.to_ascii_lowercase().as_str() {
                "name" => filter.name = Some(value.to_string()),
                "level" | "properties/level" => {
                    let level = canonical_level(value).ok_or_else(|| {
                        invalid(&format!(
                            "'{value}' is not a lock level ({})",
                            LEVELS.join(", ")
                        ))
                    })?;
                    filter.level = Some(level.to_string());
                }
                other => return Err(invalid(&format!("the field '{other}' is not supported"))),
            }
        }
        Ok(filter)
    }
}

/// Splits a filter on ` and ` (any case) outside quotes.
fn split_and(text: &str) -> Vec<&str> {
    let lower = text.to_ascii_lowercase();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted && lower[i..].starts_with(" and ") {
            parts.push(&text[start..i]);
            start = i + 5;
            i = start;
            continue;
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// The level as ARM spells it, matched case-insensitively.
fn canonical_level(value: &str) -> Option<&'static str> {
    LEVELS
        .iter()
        .copied()
        .find(|l| l.eq_ignore_ascii_case(value))
}

/// Checks a lock name: 1 to 260 characters, none of `< > % & : \ ? /` and no control characters.
fn lock_name(name: &str) -> Result<(), ApiError> {
    let bad = name
        .chars()
        .find(|c| "<>%&:\\?/".contains(*c) || c.is_control());
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME || bad.is_some() {
        return Err(ApiError::bad_request(
            "InvalidLockName",
            format!(
                "The lock name '{name}' is invalid: it must be 1 to {MAX_NAME} characters long and may not \
                 contain '<', '>', '%', '&', ':', '\\', '?', '/' or control characters."
            ),
        ));
    }
    Ok(())
}

/// Reads `{properties:{level, notes?, owners?[{applicationId}]}}`; the name and scope are the
/// caller's to fill.
fn read_body(body: &serde_json::Map<String, Value>) -> Result<LockRecord, ApiError> {
    let invalid = |detail: String| ApiError::invalid_content(detail);
    let props = match body.get("properties") {
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(invalid(format!(
                "'properties' must be an object, found {}",
                validate::kind_of(other)
            )));
        }
        None => {
            return Err(invalid(
                "the required property 'properties' is missing".into(),
            ));
        }
    };
    let level = match props.get("level") {
        Some(Value::String(l)) => canonical_level(l).ok_or_else(|| {
            ApiError::bad_request(
                "InvalidLockLevel",
                format!(
                    "The lock level '{l}' is invalid: use one of {}.",
                    LEVELS.join(", ")
                ),
            )
        })?,
        Some(other) => {
            return Err(invalid(format!(
                "'properties.level' must be a string, found {}",
                validate::kind_of(other)
            )));
        }
        None => {
            return Err(invalid(
                "the required property 'properties.level' is missing".into(),
            ));
        }
    };
    let notes = match props.get("notes") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) if n.chars().count() <= MAX_NOTES => Some(n.clone()),
        Some(Value::String(_)) => {
            return Err(ApiError::bad_request(
                "InvalidLockNotes",
                format!("The lock notes are longer than {MAX_NOTES} characters."),
            ));
        }
        Some(other) => {
            return Err(invalid(format!(
                "'properties.notes' must be a string, found {}",
                validate::kind_of(other)
            )));
        }
    };
    let owners = match props.get("owners") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|o| match o.get("applicationId") {
                    None | Some(Value::Null) if o.is_object() => Ok(None),
                    Some(Value::String(id)) => Ok(Some(id.clone())),
                    _ => Err(invalid(
                        "each of 'properties.owners' must be an object whose 'applicationId' is a string"
                            .into(),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => {
            return Err(invalid(format!(
                "'properties.owners' must be an array, found {}",
                validate::kind_of(other)
            )));
        }
    };
    Ok(LockRecord {
        name: String::new(),
        scope: String::new(),
        level: level.to_string(),
        notes,
        owners,
    })
}

/// Checks a scope (path segments up to `/providers/Microsoft.Authorization`) and that what it
/// names exists: a subscription, a resource group, an identity or a generic resource.
fn resolve(state: &AppState, tx: &Tx<'_>, sub: &str, segs: &[String]) -> Result<Scope, ApiError> {
    let found = super::scopes::existing(state, tx, sub, segs, "management locks")?;
    Ok(Scope {
        sub: found.sub,
        key: key_of(&found.display),
        display: found.display,
    })
}

fn id_key(scope: &Scope, name: &str) -> String {
    key_of(&format!("{}/providers/{LOCK_TYPE}/{name}", scope.display))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "LockNotFound",
        format!("The lock '{name}' could not be found."),
    )
}

/// Renders a stored lock as the spec's examples show it.
fn render(record: &LockRecord) -> ManagementLock {
    ManagementLock {
        properties: LockProperties {
            level: record.level.clone(),
            notes: record.notes.clone(),
            owners: record.owners.as_ref().map(|owners| {
                owners
                    .iter()
                    .map(|id| LockOwner {
                        application_id: id.clone(),
                    })
                    .collect()
            }),
        },
        id: format!("{}/providers/{LOCK_TYPE}/{}", record.scope, record.name),
        kind: LOCK_TYPE.to_string(),
        name: record.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(Filter::parse(None).unwrap(), Filter::default());
        let f = Filter::parse(Some("atScope() and LEVEL eq 'canNotDelete'")).unwrap();
        assert!(f.at_scope);
        assert_eq!(f.level.as_deref(), Some("CanNotDelete"));
        let f = Filter::parse(Some("name eq 'a and b'")).unwrap();
        assert_eq!(f.name.as_deref(), Some("a and b"));
        for bad in [
            "level eq 'Locked'",
            "notes eq 'x'",
            "name ne 'x'",
            "atScope",
            "name eq x",
        ] {
            assert_eq!(
                Filter::parse(Some(bad)).unwrap_err().code,
                "InvalidFilter",
                "{bad}"
            );
        }
    }

    #[test]
    fn names() {
        assert!(lock_name("ok-name_1 (x)").is_ok());
        for bad in ["", "a/b", "a:b", "a%b", "a\u{7}b"] {
            assert!(lock_name(bad).is_err(), "{bad:?}");
        }
        assert!(lock_name(&"x".repeat(261)).is_err());
    }
}
