//! Microsoft.ManagedIdentity/userAssignedIdentities: the spec operations
//! UserAssignedIdentities_CreateOrUpdate / _Update / _Get / _Delete / _ListByResourceGroup /
//! _ListBySubscription. All are synchronous, as in Azure.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate::{self, MsiVersion};
use crate::emulator::state::{AppState, Ctx, empty, json, located, next_link, now_ms, skip_after};
use crate::emulator::store::{IdentityRecord, Tx, key_of};
use crate::model::{AssignmentRestrictions, Identity, IdentityProperties, Page};

/// The resource type, as ARM spells it.
pub const IDENTITY_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

/// `.../userAssignedIdentities` below a group or a subscription: GET lists.
pub fn collection(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: Option<&str>,
) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    let version = validate::msi_version(ctx.api_version(), "userAssignedIdentities")?;
    let sub_key = state.subscription(sub)?;
    let after = skip_after(ctx)?;
    let listing = state.store.read(|tx| {
        if let Some(rg) = rg {
            existing_group(tx, &sub_key, rg)?;
        }
        tx.identities(&sub_key, rg.map(key_of).as_deref(), &after, state.page_size)
            .map_err(ApiError::internal)
    })?;
    let sub_display = state.subscription_display(&sub_key);
    let page = Page {
        value: listing
            .items
            .iter()
            .map(|r| render(r, sub_display, version))
            .collect(),
        next_link: listing.next_after.map(|after| next_link(ctx, &after)),
    };
    json(StatusCode::OK, &page)
}

/// `.../userAssignedIdentities/{name}`: PUT, PATCH, GET, DELETE.
pub fn item(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let version = validate::msi_version(ctx.api_version(), "userAssignedIdentities")?;
    let sub_key = state.subscription(sub)?;
    let sub_display = state.subscription_display(&sub_key).to_string();
    match ctx.method {
        Method::GET => {
            let record = state.store.read(|tx| {
                existing_group(tx, &sub_key, rg)?;
                tx.identity(&sub_key, &key_of(rg), &key_of(name))
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::resource_not_found(IDENTITY_TYPE, name, rg))
            })?;
            json(StatusCode::OK, &render(&record, &sub_display, version))
        }
        Method::PUT => {
            validate::identity_name(name)?;
            let body = validate::json_object(&ctx.body, false)?;
            let location = validate::location(&body)?;
            crate::emulator::resources::locations::for_resource_type(&location, IDENTITY_TYPE)?;
            let tags = validate::tags(&body)?.unwrap_or_default();
            let props = Properties::read(&body)?;
            let (record, created) = state.store.transaction(|tx| {
                writable_group(tx, &sub_key, rg)?;
                let existing = tx.identity(&sub_key, &key_of(rg), &key_of(name)).map_err(ApiError::internal)?;
                if let Some(old) = existing.as_ref().filter(|old| old.location != location) {
                    return Err(ApiError::bad_request(
                        "InvalidResourceLocation",
                        format!(
                            "The resource '{name}' already exists in location '{}' in resource group '{rg}'. \
                             A resource with the same name cannot be created in location '{location}'. \
                             Please select a new resource name.",
                            old.location
                        ),
                    ));
                }
                let (tenant_id, principal_id, client_id, created_ms) = match &existing {
                    Some(old) => (old.tenant_id.clone(), old.principal_id.clone(), old.client_id.clone(), old.created_ms),
                    None => (state.tenant_id.clone(), new_uuid(), new_uuid(), now_ms()),
                };
                let record = IdentityRecord {
                    name: name.to_string(),
                    resource_group: rg.to_string(),
                    location: location.clone(),
                    tags,
                    tenant_id,
                    principal_id,
                    client_id,
                    isolation_scope: props.isolation_scope.clone().unwrap_or_else(|| "None".into()),
                    restricted_providers: props.providers.clone().unwrap_or_default(),
                    created_ms,
                };
                tx.put_identity(&sub_key, &record).map_err(ApiError::internal)?;
                Ok((record, existing.is_none()))
            })?;
            let rendered = render(&record, &sub_display, version);
            if created {
                Ok(located(json(StatusCode::CREATED, &rendered)?, &rendered.id))
            } else {
                json(StatusCode::OK, &rendered)
            }
        }
        Method::PATCH => {
            let body = validate::json_object(&ctx.body, true)?;
            let tags = validate::tags(&body)?;
            let props = Properties::read(&body)?;
            let location = match body.get("location") {
                None | Some(Value::Null) => None,
                Some(_) => Some(validate::location(&body)?),
            };
            let record = state.store.transaction(|tx| {
                writable_group(tx, &sub_key, rg)?;
                let mut record = tx
                    .identity(&sub_key, &key_of(rg), &key_of(name))
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::resource_not_found(IDENTITY_TYPE, name, rg))?;
                if let Some(location) = location.filter(|l| *l != record.location) {
                    return Err(ApiError::bad_request(
                        "LocationUpdateNotAllowed",
                        format!(
                            "The location of identity '{name}' is '{}' and cannot be changed to '{location}'.",
                            record.location
                        ),
                    ));
                }
                if let Some(tags) = tags {
                    record.tags = tags;
                }
                if let Some(scope) = props.isolation_scope {
                    record.isolation_scope = scope;
                }
                if let Some(providers) = props.providers {
                    record.restricted_providers = providers;
                }
                tx.put_identity(&sub_key, &record).map_err(ApiError::internal)?;
                Ok(record)
            })?;
            json(StatusCode::OK, &render(&record, &sub_display, version))
        }
        Method::DELETE => {
            let removed = state.store.transaction(|tx| {
                existing_group(tx, &sub_key, rg)?;
                tx.remove_identity(&sub_key, &key_of(rg), &key_of(name))
                    .map_err(ApiError::internal)
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

/// The settable part of `properties`.
struct Properties {
    isolation_scope: Option<String>,
    providers: Option<Vec<String>>,
}

impl Properties {
    fn read(body: &serde_json::Map<String, Value>) -> Result<Self, ApiError> {
        let props = match body.get("properties") {
            None | Some(Value::Null) => {
                return Ok(Self {
                    isolation_scope: None,
                    providers: None,
                });
            }
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(ApiError::invalid_content(format!(
                    "'properties' must be an object, found {}",
                    validate::kind_of(other)
                )));
            }
        };
        let isolation_scope = match props.get("isolationScope") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("none") => Some("None".to_string()),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("regional") => {
                Some("Regional".to_string())
            }
            Some(other) => {
                return Err(ApiError::bad_request(
                    "InvalidIsolationScope",
                    format!(
                        "The isolation scope {other} is invalid. Allowed values are 'None' and 'Regional'."
                    ),
                ));
            }
        };
        let providers = match props.get("assignmentRestrictions") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let restrictions: AssignmentRestrictions =
                    serde_json::from_value(v.clone()).map_err(ApiError::invalid_content)?;
                Some(restrictions.providers)
            }
        };
        Ok(Self {
            isolation_scope,
            providers,
        })
    }
}

/// Renders a stored identity in the shape its api-version defines.
pub fn render(record: &IdentityRecord, sub: &str, version: MsiVersion) -> Identity {
    Identity {
        id: format!(
            "/subscriptions/{sub}/resourcegroups/{}/providers/{IDENTITY_TYPE}/{}",
            record.resource_group, record.name
        ),
        name: record.name.clone(),
        kind: IDENTITY_TYPE.to_string(),
        location: record.location.clone(),
        tags: record.tags.clone(),
        properties: IdentityProperties {
            tenant_id: record.tenant_id.clone(),
            principal_id: record.principal_id.clone(),
            client_id: record.client_id.clone(),
            isolation_scope: version
                .isolation_scope
                .then(|| record.isolation_scope.clone()),
            assignment_restrictions: version.assignment_restrictions.then(|| {
                AssignmentRestrictions {
                    providers: record.restricted_providers.clone(),
                }
            }),
        },
    }
}

/// The group must exist (ARM answers for a missing group before the provider sees the call).
pub(super) fn existing_group(tx: &Tx<'_>, sub: &str, rg: &str) -> Result<(), ApiError> {
    match tx.group(sub, &key_of(rg)).map_err(ApiError::internal)? {
        Some(_) => Ok(()),
        None => Err(ApiError::group_not_found(rg)),
    }
}

/// The group must exist and not be on its way out.
pub(super) fn writable_group(tx: &Tx<'_>, sub: &str, rg: &str) -> Result<(), ApiError> {
    match tx.group(sub, &key_of(rg)).map_err(ApiError::internal)? {
        Some(g) if g.deleting => Err(ApiError::group_being_deleted(rg)),
        Some(_) => Ok(()),
        None => Err(ApiError::group_not_found(rg)),
    }
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
