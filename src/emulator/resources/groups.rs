//! Microsoft.Resources/resourceGroups: ResourceGroups_CreateOrUpdate / _Get / _CheckExistence /
//! _Update / _List / _Delete. Delete is asynchronous as in ARM: 202 with a Location to poll,
//! and the group and all it holds go away in one transaction when the operation completes.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::emulator::access::roles::GROUP_READ;
use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate::{self, RESOURCES_API_VERSIONS};
use crate::emulator::state::{AppState, Ctx, empty, json, next_link, now_ms, skip_after};
use crate::emulator::store::{GroupRecord, Operation, StoreError, key_of};
use crate::model::{Page, ResourceGroup, ResourceGroupProperties};

/// `/subscriptions/{sub}/resourcegroups`: GET lists the groups the caller may read (a
/// role on one group shows that group; a page may come out shorter than the page size).
pub fn collection(state: &Arc<AppState>, ctx: &Ctx, sub: &str) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::api_version(ctx.api_version(), RESOURCES_API_VERSIONS)?;
    let sub_key = state.subscription(sub)?;
    let after = skip_after(ctx)?;
    let listing = state
        .store
        .read(|tx| tx.groups(&sub_key, &after, state.page_size))
        .map_err(ApiError::internal)?;
    let sub_display = state.subscription_display(&sub_key);
    let page = Page {
        value: listing
            .items
            .iter()
            .filter(|g| {
                ctx.caller
                    .as_ref()
                    .is_none_or(|c| c.can(GROUP_READ, &sub_key, Some(&key_of(&g.name))))
            })
            .map(|g| render(g, sub_display))
            .collect(),
        next_link: listing.next_after.map(|after| next_link(ctx, &after)),
    };
    json(StatusCode::OK, &page)
}

/// `/subscriptions/{sub}/resourcegroups/{rg}`: PUT, GET, HEAD, PATCH, DELETE.
pub fn item(state: &Arc<AppState>, ctx: &Ctx, sub: &str, rg: &str) -> Result<Response, ApiError> {
    validate::api_version(ctx.api_version(), RESOURCES_API_VERSIONS)?;
    let sub_key = state.subscription(sub)?;
    let sub_display = state.subscription_display(&sub_key).to_string();
    let key = key_of(rg);
    match ctx.method {
        Method::GET => {
            let group = state
                .store
                .read(|tx| tx.group(&sub_key, &key))
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::group_not_found(rg))?;
            json(StatusCode::OK, &render(&group, &sub_display))
        }
        Method::HEAD => {
            let found = state
                .store
                .read(|tx| tx.group(&sub_key, &key))
                .map_err(ApiError::internal)?;
            Ok(empty(if found.is_some() {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::NOT_FOUND
            }))
        }
        Method::PUT => {
            validate::group_name(rg)?;
            let body = validate::json_object(&ctx.body, false)?;
            let location = validate::location(&body)?;
            crate::emulator::resources::locations::for_group(&location)?;
            let tags = validate::tags(&body)?;
            let managed_by = managed_by(&body)?;
            let (group, created) = state.store.transaction(|tx| {
                let existing = tx.group(&sub_key, &key).map_err(ApiError::internal)?;
                if let Some(old) = &existing {
                    if old.deleting {
                        return Err(ApiError::group_being_deleted(rg));
                    }
                    if old.location != location {
                        return Err(ApiError::new(
                            StatusCode::CONFLICT,
                            "InvalidResourceGroupLocation",
                            format!(
                                "Invalid resource group location '{location}'. The Resource group already exists \
                                 in location '{}'.",
                                old.location
                            ),
                        ));
                    }
                }
                let group = GroupRecord { name: rg.to_string(), location, tags, managed_by, deleting: false };
                tx.put_group(&sub_key, &group).map_err(ApiError::internal)?;
                Ok((group, existing.is_none()))
            })?;
            json(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &render(&group, &sub_display),
            )
        }
        Method::PATCH => {
            let body = validate::json_object(&ctx.body, true)?;
            let tags = validate::tags(&body)?;
            let managed_by = managed_by(&body)?;
            let group = state.store.transaction(|tx| {
                let mut group = tx
                    .group(&sub_key, &key)
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::group_not_found(rg))?;
                if group.deleting {
                    return Err(ApiError::group_being_deleted(rg));
                }
                if body.contains_key("tags") {
                    group.tags = tags;
                }
                if managed_by.is_some() {
                    group.managed_by = managed_by;
                }
                tx.put_group(&sub_key, &group).map_err(ApiError::internal)?;
                Ok(group)
            })?;
            json(StatusCode::OK, &render(&group, &sub_display))
        }
        Method::DELETE => {
            let delay = state.group_delete_delay;
            let (op, new) = state.store.transaction(|tx| {
                let mut group = tx
                    .group(&sub_key, &key)
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::group_not_found(rg))?;
                if let Some(op) = tx
                    .pending_operation_for(&sub_key, &key)
                    .map_err(ApiError::internal)?
                {
                    return Ok((op, false));
                }
                let op = Operation {
                    id: uuid::Uuid::new_v4().to_string(),
                    sub: sub_key.clone(),
                    group: key.clone(),
                    due_ms: now_ms() + delay.as_millis() as i64,
                    done: false,
                };
                group.deleting = true;
                tx.put_group(&sub_key, &group).map_err(ApiError::internal)?;
                tx.put_operation(&op).map_err(ApiError::internal)?;
                Ok::<_, ApiError>((op, true))
            })?;
            if new {
                spawn_completion(state.clone(), op.clone());
            }
            Ok(accepted(state, ctx, &sub_display, &op))
        }
        ref other => Err(ApiError::method_not_allowed(other.as_str())),
    }
}

/// `/subscriptions/{sub}/operationresults/{id}`: 202 while the delete runs, 200 when done.
pub fn operation_result(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    id: &str,
) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    let sub_key = state.subscription(sub)?;
    let op = state
        .store
        .read(|tx| tx.operation(id))
        .map_err(ApiError::internal)?;
    match op {
        Some(op) if op.sub == sub_key => {
            if op.done {
                Ok(empty(StatusCode::OK))
            } else {
                Ok(accepted(
                    state,
                    ctx,
                    state.subscription_display(&sub_key),
                    &op,
                ))
            }
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("The operation '{id}' could not be found."),
        )),
    }
}

/// Finishes every deletion that was still running when the emulator last stopped.
pub fn resume_pending(state: &Arc<AppState>) -> Result<(), StoreError> {
    for op in state.store.read(|tx| tx.pending_operations())? {
        spawn_completion(state.clone(), op);
    }
    Ok(())
}

fn spawn_completion(state: Arc<AppState>, op: Operation) {
    tokio::spawn(async move {
        let wait = (op.due_ms - now_ms()).max(0) as u64;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if let Err(e) = state
            .graph
            .before_write(&state, &axum::http::Method::DELETE)
        {
            eprintln!(
                "azid emulator: could not keep Resource Graph's view: {}",
                e.message
            );
        }
        let result = state.store.transaction(|tx| {
            tx.remove_group(&op.sub, &op.group)?;
            tx.put_operation(&Operation {
                done: true,
                ..op.clone()
            })
        });
        state.graph.changed();
        if let Err(e) = result {
            eprintln!(
                "azid emulator: could not finish deleting resource group '{}': {e}",
                op.group
            );
        }
    });
}

/// 202 Accepted with the operation's Location and a Retry-After in whole seconds.
fn accepted(state: &AppState, ctx: &Ctx, sub: &str, op: &Operation) -> Response {
    let version = ctx.api_version().unwrap_or(RESOURCES_API_VERSIONS[0]);
    let location = format!(
        "{}/subscriptions/{sub}/operationresults/{}?api-version={version}",
        ctx.base_url, op.id
    );
    let retry_after = ((op.due_ms - now_ms()).max(0) as u64)
        .div_ceil(1000)
        .max(u64::from(state.group_delete_delay > Duration::ZERO));
    let mut response = empty(StatusCode::ACCEPTED);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

fn managed_by(body: &serde_json::Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("managedBy") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::invalid_content(format!(
            "'managedBy' must be a string, found {}",
            validate::kind_of(other)
        ))),
    }
}

/// Renders a stored group as ARM does (`resourceGroups` in its id, unlike identity ids).
pub fn render(group: &GroupRecord, sub: &str) -> ResourceGroup {
    ResourceGroup {
        id: format!("/subscriptions/{sub}/resourceGroups/{}", group.name),
        name: group.name.clone(),
        kind: "Microsoft.Resources/resourceGroups".to_string(),
        location: group.location.clone(),
        managed_by: group.managed_by.clone(),
        tags: group.tags.clone(),
        properties: ResourceGroupProperties {
            provisioning_state: if group.deleting {
                "Deleting"
            } else {
                "Succeeded"
            }
            .to_string(),
        },
    }
}
