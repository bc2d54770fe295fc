//! Microsoft.Management 2023-04-01, the groups themselves: ManagementGroups_List
//! (`@nextLink`-paged), _Get (with `$expand=children|path|ancestors`, `$recurse`, `$filter`),
//! _CreateOrUpdate (long-running: 202 and a Location that polls to the group), _Update (PATCH)
//! and _Delete (long-running: 202 and Azure-AsyncOperation; refused while the group has
//! children; 204 when absent). What is below a group is served by `management_group_children`. The root group is the tenant's, named by the tenant id; it
//! cannot be changed or deleted. Changes take effect when accepted, so the first poll succeeds.

use std::sync::Arc;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::emulator::access::callers::Principal;
use crate::emulator::resources::hierarchy::{Hierarchy, MAX_DEPTH, check_name, group_id};
use crate::emulator::resources::subscriptions::display_name;
use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate;
use crate::emulator::state::{AppState, Ctx, empty, json as json_response, now_ms, skip_after};
use crate::emulator::store::{ManagementGroupRecord, StoreError, Tx, key_of};

/// Api-versions served; all answer in the 2023-04-01 shape.
pub const API_VERSIONS: &[&str] = &["2020-05-01", "2021-04-01", "2023-04-01"];

/// The resource type of a group.
pub const GROUP_TYPE: &str = "Microsoft.Management/managementGroups";

/// The type of a subscription as the group's subscriptions and descendants show it.
pub(super) const SUBSCRIPTION_TYPE: &str = "Microsoft.Management/managementGroups/subscriptions";

/// The action that reads a group.
pub const GROUP_READ: &str = "Microsoft.Management/managementGroups/read";

/// The action that creates or changes a group.
const GROUP_WRITE: &str = "Microsoft.Management/managementGroups/write";

/// The tree as the store holds it now.
pub fn hierarchy(state: &AppState, tx: &Tx<'_>) -> Result<Hierarchy, StoreError> {
    let subs: Vec<String> = state
        .subscriptions
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    Hierarchy::load(tx, &state.tenant_id, &subs)
}

/// The tree, read in its own transaction.
pub fn read_hierarchy(state: &AppState) -> Result<Hierarchy, ApiError> {
    state
        .store
        .read(|tx| hierarchy(state, tx))
        .map_err(ApiError::internal)
}

pub(super) fn version(ctx: &Ctx) -> Result<(), ApiError> {
    validate::api_version(ctx.api_version(), API_VERSIONS)
}

pub(super) fn not_found(group: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("'{group}' not found"),
    )
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("BadRequest", message)
}

/// Whether the caller may read a group (its role at the group or above).
fn reads(ctx: &Ctx, tree: &Hierarchy, key: &str) -> bool {
    ctx.caller
        .as_ref()
        .is_none_or(|c| c.can_at_group(GROUP_READ, &tree.chain(key)))
}

fn caller(ctx: &Ctx) -> Option<&Principal> {
    ctx.caller.as_ref()
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `{name, displayName}` of a group, as paths and ancestor chains list them.
fn element(tree: &Hierarchy, key: &str) -> Value {
    json!({ "name": tree.name(key), "displayName": tree.display_name(key) })
}

/// The `{id, type, name, properties:{tenantId, displayName}}` of the list.
fn summary(tree: &Hierarchy, key: &str) -> Value {
    json!({
        "id": group_id(tree.name(key)),
        "type": GROUP_TYPE,
        "name": tree.name(key),
        "properties": { "tenantId": tree.tenant_id, "displayName": tree.display_name(key) },
    })
}

/// What `$expand`, `$recurse` and `$filter` ask of a GET.
#[derive(Debug, Default, Clone, Copy)]
struct Expand {
    children: bool,
    path: bool,
    ancestors: bool,
    recurse: bool,
    no_subscriptions: bool,
}

impl Expand {
    fn read(ctx: &Ctx) -> Result<Expand, ApiError> {
        let mut out = Expand::default();
        for part in ctx
            .query
            .get("$expand")
            .map(String::as_str)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.to_ascii_lowercase().as_str() {
                "children" => out.children = true,
                "path" => out.path = true,
                "ancestors" => out.ancestors = true,
                _ => {
                    return Err(bad(format!(
                        "The $expand value '{part}' is not valid; use children, path or ancestors."
                    )));
                }
            }
        }
        out.recurse = match ctx.query.get("$recurse").map(|r| r.to_ascii_lowercase()) {
            None => false,
            Some(r) if r == "true" => true,
            Some(r) if r == "false" => false,
            Some(r) => return Err(bad(format!("The $recurse value '{r}' is not a boolean."))),
        };
        if out.recurse && !out.children {
            return Err(bad("$recurse=true requires $expand=children."));
        }
        if let Some(filter) = ctx
            .query
            .get("$filter")
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
        {
            let words: Vec<String> = filter
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect();
            match words
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["children.childtype", "ne", "subscription"] => out.no_subscriptions = true,
                ["children.childtype", "eq", "managementgroup"] => out.no_subscriptions = true,
                _ => {
                    return Err(bad(format!(
                        "The $filter '{filter}' is not supported; use children.childType ne Subscription."
                    )));
                }
            }
        }
        Ok(out)
    }
}

/// A group as ManagementGroups_Get answers.
fn render(state: &AppState, tree: &Hierarchy, key: &str, expand: Expand) -> Value {
    let record = tree.groups.get(key);
    let mut details = Map::new();
    details.insert("version".into(), json!(record.map_or(1, |r| r.version)));
    details.insert(
        "updatedTime".into(),
        json!(rfc3339(record.map_or(0, |r| r.updated_ms))),
    );
    details.insert(
        "updatedBy".into(),
        json!(record.map_or("", |r| r.updated_by.as_str())),
    );
    if let Some(parent) = tree.parent(key) {
        details.insert(
            "parent".into(),
            json!({
                "id": group_id(tree.name(parent)),
                "name": tree.name(parent),
                "displayName": tree.display_name(parent),
            }),
        );
    }
    let ancestors = tree.ancestors(key);
    if expand.path {
        let mut path: Vec<Value> = ancestors.iter().rev().map(|a| element(tree, a)).collect();
        path.push(element(tree, key));
        details.insert("path".into(), Value::Array(path));
    }
    if expand.ancestors {
        details.insert(
            "managementGroupAncestors".into(),
            json!(
                ancestors
                    .iter()
                    .rev()
                    .map(|a| tree.name(a))
                    .collect::<Vec<_>>()
            ),
        );
        details.insert(
            "managementGroupAncestorsChain".into(),
            Value::Array(ancestors.iter().map(|a| element(tree, a)).collect()),
        );
    }
    let mut properties = Map::new();
    properties.insert("tenantId".into(), json!(tree.tenant_id));
    properties.insert("displayName".into(), json!(tree.display_name(key)));
    properties.insert("details".into(), Value::Object(details));
    if expand.children {
        properties.insert(
            "children".into(),
            Value::Array(children(state, tree, key, expand, 0)),
        );
    }
    json!({
        "id": group_id(tree.name(key)),
        "type": GROUP_TYPE,
        "name": tree.name(key),
        "properties": properties,
    })
}

/// A group's children as `$expand=children` shows them; deeper levels with `$recurse`.
fn children(
    state: &AppState,
    tree: &Hierarchy,
    key: &str,
    expand: Expand,
    depth: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    for child in tree.child_groups(key) {
        let child_key = key_of(&child.name);
        let mut item = Map::new();
        item.insert("id".into(), json!(group_id(&child.name)));
        item.insert("type".into(), json!(GROUP_TYPE));
        item.insert("name".into(), json!(child.name));
        item.insert("displayName".into(), json!(child.display_name));
        if expand.recurse && depth <= MAX_DEPTH {
            let below = children(state, tree, &child_key, expand, depth + 1);
            if !below.is_empty() {
                item.insert("children".into(), Value::Array(below));
            }
        }
        out.push(Value::Object(item));
    }
    if !expand.no_subscriptions {
        for sub in tree.child_subscriptions(key) {
            let shown = state.subscription_display(sub);
            out.push(json!({
                "id": format!("/subscriptions/{shown}"),
                "type": "/subscriptions",
                "name": shown,
                "displayName": display_name(shown),
            }));
        }
    }
    out
}

/// `GET /providers/Microsoft.Management/managementGroups`: the groups the caller may read,
/// the root first, `@nextLink`-paged.
pub fn list(state: &Arc<AppState>, ctx: &Ctx) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    version(ctx)?;
    let tree = read_hierarchy(state)?;
    let mut keys = vec![tree.root.clone()];
    keys.extend(tree.groups.keys().cloned());
    let keys: Vec<String> = keys.into_iter().filter(|k| reads(ctx, &tree, k)).collect();
    let (page, next) = page_of(state, ctx, &keys)?;
    let value: Vec<Value> = page.iter().map(|k| summary(&tree, k)).collect();
    json_response(
        StatusCode::OK,
        &json!({ "value": value, "@nextLink": next }),
    )
}

/// One page of `items` from the request's skip token (an offset), and the next link.
pub(super) fn page_of<'a, T>(
    state: &AppState,
    ctx: &Ctx,
    items: &'a [T],
) -> Result<(&'a [T], Option<String>), ApiError> {
    let after = skip_after(ctx)?;
    let start = if after.is_empty() {
        0
    } else {
        after
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request("InvalidSkipToken", "The skip token is invalid."))?
    }
    .min(items.len());
    let top = validate::top(ctx.query.get("$top").map(String::as_str))?;
    let size = top
        .map_or(state.page_size, |t| t.min(state.page_size))
        .max(1);
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len())
        .then(|| crate::emulator::state::next_link_with_top(ctx, &end.to_string(), top));
    Ok((&items[start..end], next))
}

/// `/providers/Microsoft.Management/managementGroups/{group}`: GET, PUT, PATCH, DELETE.
pub fn item(state: &Arc<AppState>, ctx: &Ctx, group: &str) -> Result<Response, ApiError> {
    version(ctx)?;
    let key = key_of(group);
    match ctx.method {
        Method::GET => {
            let expand = Expand::read(ctx)?;
            let tree = read_hierarchy(state)?;
            if !tree.exists(&key) {
                return Err(not_found(group));
            }
            json_response(StatusCode::OK, &render(state, &tree, &key, expand))
        }
        Method::PUT => create(state, ctx, group),
        Method::PATCH => update(state, ctx, group),
        Method::DELETE => delete(state, ctx, group),
        ref other => Err(ApiError::method_not_allowed(other.as_str())),
    }
}

/// The group a `/providers/Microsoft.Management/managementGroups/{id}` names, as a key.
fn parent_key(id: &str) -> Result<String, ApiError> {
    let prefix = "/providers/microsoft.management/managementgroups/";
    let lower = id.to_ascii_lowercase();
    let Some(name) = lower.strip_prefix(prefix).map(|n| n.trim_end_matches('/')) else {
        return Err(bad(format!(
            "The parent id '{id}' is not of the form /providers/Microsoft.Management/managementGroups/{{groupId}}."
        )));
    };
    check_name(name).map_err(bad)?;
    Ok(name.to_string())
}

/// Checks that `key` may sit under `parent`: the parent exists, is not the group itself or
/// below it, and the depth stays within Azure's limit.
fn check_parent(tree: &Hierarchy, key: &str, parent: &str, shown: &str) -> Result<(), ApiError> {
    if !tree.exists(parent) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("The parent management group '{shown}' was not found."),
        ));
    }
    if parent == key || tree.ancestors(parent).iter().any(|a| a == key) {
        return Err(bad(format!(
            "The management group '{}' cannot be moved under '{shown}', which is the group itself or below it.",
            tree.name(key)
        )));
    }
    let below = deepest_below(tree, key);
    let depth = tree.ancestors(parent).len().saturating_add(1);
    if depth.saturating_add(below) > MAX_DEPTH {
        return Err(bad(format!(
            "Moving '{}' under '{shown}' makes the hierarchy deeper than {MAX_DEPTH} levels below the root.",
            tree.name(key)
        )));
    }
    Ok(())
}

/// How many levels of groups lie below a group (0 for a leaf, or a group not stored yet).
fn deepest_below(tree: &Hierarchy, key: &str) -> usize {
    tree.descendant_groups(key)
        .iter()
        .map(|d| {
            tree.ancestors(d)
                .iter()
                .position(|a| a == key)
                .map_or(0, |p| p + 1)
        })
        .max()
        .unwrap_or(0)
}

fn actor(ctx: &Ctx) -> String {
    caller(ctx).map(|c| c.object_id.clone()).unwrap_or_default()
}

/// PUT: creates or updates a group; 202 with a Location that polls to the group.
fn create(state: &Arc<AppState>, ctx: &Ctx, group: &str) -> Result<Response, ApiError> {
    check_name(group).map_err(bad)?;
    let body = validate::json_object(&ctx.body, false)?;
    let props = match body.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(other) => {
            return Err(ApiError::invalid_content(format!(
                "'properties' must be an object, found {}",
                validate::kind_of(other)
            )));
        }
    };
    let display = match props.get("displayName") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if !d.trim().is_empty() && d.chars().count() <= 90 => {
            Some(d.clone())
        }
        Some(_) => {
            return Err(bad(
                "'properties.displayName' must be a string of 1 to 90 characters.",
            ));
        }
    };
    let parent_id = props
        .get("details")
        .and_then(|d| d.get("parent"))
        .and_then(|p| p.get("id"));
    let parent = match parent_id {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some((parent_key(id)?, id.clone())),
        Some(_) => return Err(bad("'properties.details.parent.id' must be a string.")),
    };
    let key = key_of(group);
    let actor = actor(ctx);
    let record = state.store.transaction(|tx| {
        let tree = hierarchy(state, tx)?;
        if key == tree.root {
            return Err(bad("The root management group cannot be changed with PUT."));
        }
        let old = tree.groups.get(&key);
        let parent_key = match &parent {
            Some((p, shown)) => {
                check_parent(&tree, &key, p, shown)?;
                p.clone()
            }
            None => old.map_or(tree.root.clone(), |o| o.parent.clone()),
        };
        // A new group is written below its parent: the caller needs the right there.
        if old.is_none()
            && let Some(c) = caller(ctx)
            && !c.can_at_group(GROUP_WRITE, &tree.chain(&parent_key))
        {
            return Err(ApiError::authorization_failed(
                &c.client_id,
                &c.object_id,
                GROUP_WRITE,
                &group_id(tree.name(&parent_key)),
            ));
        }
        let record = ManagementGroupRecord {
            name: group.to_string(),
            display_name: display
                .clone()
                .or_else(|| old.map(|o| o.display_name.clone()))
                .unwrap_or_else(|| group.to_string()),
            parent: parent_key,
            version: old.map_or(1, |o| o.version.saturating_add(1)),
            updated_ms: now_ms(),
            updated_by: actor.clone(),
        };
        tx.put_management_group(&record)?;
        Ok::<_, ApiError>(record)
    })?;
    let poll = operation_url(ctx, "create", &record.name);
    let body = json!({
        "id": group_id(&record.name),
        "type": GROUP_TYPE,
        "name": record.name,
        "status": "Running",
        "properties": { "tenantId": state.tenant_id, "displayName": record.display_name },
    });
    let mut response = json_response(StatusCode::ACCEPTED, &body)?;
    accepted(&mut response, header::LOCATION, &poll);
    Ok(response)
}

/// PATCH: a new display name or parent, synchronously.
fn update(state: &Arc<AppState>, ctx: &Ctx, group: &str) -> Result<Response, ApiError> {
    let body = validate::json_object(&ctx.body, false)?;
    let text = |field: &str| match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("'{field}' must be a non-empty string."))),
    };
    let display = text("displayName")?;
    let parent = text("parentGroupId")?
        .map(|id| parent_key(&id).map(|k| (k, id)))
        .transpose()?;
    let key = key_of(group);
    let actor = actor(ctx);
    let tree = state.store.transaction(|tx| {
        let tree = hierarchy(state, tx)?;
        if key == tree.root {
            return Err(bad(
                "The root management group cannot be changed with PATCH.",
            ));
        }
        let Some(old) = tree.groups.get(&key).cloned() else {
            return Err(not_found(group));
        };
        if let Some((p, shown)) = &parent {
            check_parent(&tree, &key, p, shown)?;
        }
        tx.put_management_group(&ManagementGroupRecord {
            display_name: display.clone().unwrap_or(old.display_name),
            parent: parent.as_ref().map_or(old.parent, |(p, _)| p.clone()),
            version: old.version.saturating_add(1),
            updated_ms: now_ms(),
            updated_by: actor.clone(),
            name: old.name,
        })?;
        Ok::<_, ApiError>(hierarchy(state, tx)?)
    })?;
    json_response(
        StatusCode::OK,
        &render(state, &tree, &key, Expand::default()),
    )
}

/// DELETE: refused while the group has children; 202 with an Azure-AsyncOperation to poll,
/// or 204 when there is no such group.
fn delete(state: &Arc<AppState>, ctx: &Ctx, group: &str) -> Result<Response, ApiError> {
    let key = key_of(group);
    let removed = state.store.transaction(|tx| {
        let tree = hierarchy(state, tx)?;
        if key == tree.root {
            return Err(bad("The root management group cannot be deleted."));
        }
        let Some(record) = tree.groups.get(&key).cloned() else {
            return Ok(None);
        };
        let groups = tree.child_groups(&key).len();
        let subs = tree.child_subscriptions(&key).len();
        if groups + subs > 0 {
            return Err(bad(format!(
                "The management group '{}' has children ({groups} management groups, {subs} subscriptions); \
                 move or delete them before deleting the group.",
                record.name
            )));
        }
        tx.remove_management_group(&key, &super::hierarchy::group_scope_key(&key))?;
        Ok::<_, ApiError>(Some(record))
    })?;
    let Some(record) = removed else {
        return Ok(empty(StatusCode::NO_CONTENT));
    };
    let body = json!({
        "id": group_id(&record.name),
        "type": GROUP_TYPE,
        "name": record.name,
        "status": "Running",
        "properties": { "tenantId": state.tenant_id, "displayName": record.display_name },
    });
    let mut response = json_response(StatusCode::ACCEPTED, &body)?;
    accepted(
        &mut response,
        header::HeaderName::from_static("azure-asyncoperation"),
        &operation_url(ctx, "delete", &record.name),
    );
    Ok(response)
}

/// Adds the poll header and `Retry-After: 0` (the change has already been made).
fn accepted(response: &mut Response, name: header::HeaderName, url: &str) {
    if let Ok(v) = HeaderValue::from_str(url) {
        response.headers_mut().insert(name, v);
    }
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
}

/// The URL that reports a long-running create or delete of a group.
fn operation_url(ctx: &Ctx, kind: &str, group: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("api-version", ctx.api_version().unwrap_or("2023-04-01"));
    let name: String =
        percent_encoding::utf8_percent_encode(group, percent_encoding::NON_ALPHANUMERIC).collect();
    format!(
        "{}/providers/Microsoft.Management/operationResults/{kind}/managementGroups/{name}?{}",
        ctx.base_url,
        query.finish()
    )
}

/// `GET /providers/Microsoft.Management/operationResults/{create|delete}/managementGroups/{group}`:
/// a create reports the group (200), a delete `Succeeded` once the group is gone.
pub fn operation(
    state: &Arc<AppState>,
    ctx: &Ctx,
    kind: &str,
    group: &str,
) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    version(ctx)?;
    let tree = read_hierarchy(state)?;
    let key = key_of(group);
    match kind.to_ascii_lowercase().as_str() {
        "create" if tree.groups.contains_key(&key) => json_response(
            StatusCode::OK,
            &render(state, &tree, &key, Expand::default()),
        ),
        "delete" if !tree.groups.contains_key(&key) => json_response(
            StatusCode::OK,
            &json!({
                "id": group_id(group),
                "type": GROUP_TYPE,
                "name": group,
                "status": "Succeeded",
            }),
        ),
        "create" | "delete" => Err(not_found(group)),
        _ => Err(ApiError::no_route(&ctx.path)),
    }
}
