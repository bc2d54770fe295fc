//! Microsoft.Management 2023-04-01, what lies below a group: ManagementGroups_GetDescendants
//! and the group's subscriptions (ManagementGroupSubscriptions: list, get, PUT to move one into
//! the group, DELETE to move it back under the root).

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::emulator::resources::hierarchy::group_id;
use crate::emulator::resources::management_groups::{
    GROUP_TYPE, SUBSCRIPTION_TYPE, hierarchy, not_found, page_of, read_hierarchy, version,
};
use crate::emulator::resources::subscriptions::display_name;
use crate::emulator::server::error::ApiError;
use crate::emulator::state::{AppState, Ctx, empty, json as json_response};
use crate::emulator::store::key_of;

/// `GET .../managementGroups/{group}/descendants`: every group and subscription below, parents
/// before children, paged with `nextLink` and `$top`.
pub fn descendants(state: &Arc<AppState>, ctx: &Ctx, group: &str) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    version(ctx)?;
    let tree = read_hierarchy(state)?;
    let key = key_of(group);
    if !tree.exists(&key) {
        return Err(not_found(group));
    }
    let mut items = Vec::new();
    let mut level = vec![key.clone()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for at in &level {
            let parent = json!({ "id": group_id(tree.name(at)) });
            for child in tree.child_groups(at) {
                items.push(json!({
                    "id": group_id(&child.name),
                    "type": GROUP_TYPE,
                    "name": child.name,
                    "properties": { "displayName": child.display_name, "parent": parent },
                }));
                next.push(key_of(&child.name));
            }
            for sub in tree.child_subscriptions(at) {
                let sub = state.subscription_display(sub);
                items.push(json!({
                    "id": format!("/subscriptions/{sub}"),
                    "type": SUBSCRIPTION_TYPE,
                    "name": sub,
                    "properties": { "displayName": display_name(sub), "parent": parent },
                }));
            }
        }
        level = next;
    }
    let (page, next) = page_of(state, ctx, &items)?;
    json_response(StatusCode::OK, &json!({ "value": page, "nextLink": next }))
}

/// A subscription as the group's subscriptions show it.
fn subscription_body(state: &AppState, group: &str, sub: &str) -> Value {
    let shown = state.subscription_display(sub);
    json!({
        "id": format!("{}/subscriptions/{shown}", group_id(group)),
        "type": SUBSCRIPTION_TYPE,
        "name": shown,
        "properties": {
            "displayName": display_name(shown),
            "parent": { "id": group_id(group) },
            "state": "Active",
            "tenant": state.tenant_id,
        },
    })
}

/// `GET .../managementGroups/{group}/subscriptions`: the subscriptions directly in the group.
pub fn subscriptions(state: &Arc<AppState>, ctx: &Ctx, group: &str) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    version(ctx)?;
    let tree = read_hierarchy(state)?;
    let key = key_of(group);
    if !tree.exists(&key) {
        return Err(not_found(group));
    }
    let shown = tree.name(&key).to_string();
    let subs: Vec<String> = tree
        .child_subscriptions(&key)
        .into_iter()
        .map(str::to_string)
        .collect();
    let (page, next) = page_of(state, ctx, &subs)?;
    let value: Vec<Value> = page
        .iter()
        .map(|s| subscription_body(state, &shown, s))
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value, "nextLink": next }))
}

/// `.../managementGroups/{group}/subscriptions/{sub}`: GET (when directly in the group), PUT
/// (moves it into the group), DELETE (moves it back under the root; 204 when it was not there).
pub fn subscription(
    state: &Arc<AppState>,
    ctx: &Ctx,
    group: &str,
    sub: &str,
) -> Result<Response, ApiError> {
    version(ctx)?;
    let sub_key = state.subscription(sub)?;
    let key = key_of(group);
    let (tree, changed) = state.store.transaction(|tx| {
        let tree = hierarchy(state, tx)?;
        if !tree.exists(&key) {
            return Err(not_found(group));
        }
        let here = tree.group_of(&sub_key) == key;
        let changed = match ctx.method {
            Method::GET if here => false,
            Method::GET => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("The subscription '{sub}' is not in the management group '{group}'."),
                ));
            }
            Method::PUT => {
                let place = (key != tree.root).then_some(key.as_str());
                tx.place_subscription(&sub_key, place)?;
                !here
            }
            Method::DELETE if here && key != tree.root => {
                tx.place_subscription(&sub_key, None)?;
                true
            }
            Method::DELETE => false,
            ref other => return Err(ApiError::method_not_allowed(other.as_str())),
        };
        Ok::<_, ApiError>((tree, changed))
    })?;
    let shown = tree.name(&key).to_string();
    match ctx.method {
        Method::DELETE if changed => Ok(empty(StatusCode::OK)),
        Method::DELETE => Ok(empty(StatusCode::NO_CONTENT)),
        _ => json_response(StatusCode::OK, &subscription_body(state, &shown, &sub_key)),
    }
}
