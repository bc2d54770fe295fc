//! Generic resources: any `/subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}`
//! outside the two namespaces served natively, enough to stand in for virtual machines, web
//! apps and the like (Resources_CreateOrUpdate / _Get / _Update / _Delete and the list of one
//! type in a group), plus Resources_List, Resources_ListByResourceGroup and Providers_Get
//! (which api-versions a type takes: clients ask before a PATCH). The body is kept
//! as sent; only `location`, `tags` and `identity` are read (`generic_identity`). Writes are
//! synchronous here, even for types whose real provider answers 202.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::emulator::resources::generic_identity::{self, IdentityInput};
use crate::emulator::resources::identities::{IDENTITY_TYPE, existing_group, writable_group};
use crate::emulator::server::error::ApiError;
use crate::emulator::server::routes::MSI_NAMESPACE;
use crate::emulator::server::validate::{self, RESOURCES_API_VERSIONS};
use crate::emulator::state::{AppState, Ctx, empty, json, next_link_with_top, now_ms, skip_after};
use crate::emulator::store::{AnyResource, IdentityBlock, ResourceRecord, Tx, key_of};
use crate::model::{GenericResource, Page};

/// The api-versions Providers_Get offers for a generic type (any is accepted).
const GENERIC_API_VERSIONS: &[&str] = &["2024-03-01", "2023-07-01", "2022-09-01", "2021-04-01"];

/// Top-level keys the emulator sets itself or reads; every other key is kept as sent.
const OWN_KEYS: &[&str] = &["id", "name", "type", "location", "tags", "identity"];

/// Where a generic resource lives: its path, as the request spelled it.
pub struct Place<'a> {
    /// Subscription, as in the path.
    pub sub: &'a str,
    /// Resource group, as in the path.
    pub rg: &'a str,
    /// Provider namespace, as in the path.
    pub namespace: &'a str,
    /// Resource type, as in the path.
    pub kind: &'a str,
}

impl Place<'_> {
    fn kind_key(&self) -> String {
        key_of(&format!("{}/{}", self.namespace, self.kind))
    }

    fn type_name(&self) -> String {
        format!("{}/{}", self.namespace, self.kind)
    }
}

/// `.../providers/{namespace}/{type}`: GET lists the resources of that type in the group.
pub fn collection(state: &Arc<AppState>, ctx: &Ctx, at: &Place<'_>) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    any_api_version(ctx)?;
    let sub_key = state.subscription(at.sub)?;
    let top = validate::top(ctx.query.get("$top").map(String::as_str))?;
    let limit = top.map_or(state.page_size, |t| t.min(state.page_size));
    let after = skip_after(ctx)?;
    let sub_display = state.subscription_display(&sub_key).to_string();
    let page = state.store.read(|tx| {
        existing_group(tx, &sub_key, at.rg)?;
        let listing =
            tx.resources_of_type(&sub_key, &key_of(at.rg), &at.kind_key(), &after, limit)?;
        let value = listing
            .items
            .iter()
            .map(|r| render(tx, r, &sub_display, true))
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, ApiError>(Page {
            value,
            next_link: listing
                .next_after
                .map(|after| next_link_with_top(ctx, &after, top)),
        })
    })?;
    json(StatusCode::OK, &page)
}

/// `.../providers/{namespace}/{type}/{name}`: PUT (Resources_CreateOrUpdate), GET (_Get),
/// PATCH (_Update), DELETE (_Delete).
pub fn item(
    state: &Arc<AppState>,
    ctx: &Ctx,
    at: &Place<'_>,
    name: &str,
) -> Result<Response, ApiError> {
    any_api_version(ctx)?;
    let sub_key = state.subscription(at.sub)?;
    let sub_display = state.subscription_display(&sub_key).to_string();
    let (group, kind, key) = (key_of(at.rg), at.kind_key(), key_of(name));
    let missing = || ApiError::resource_not_found(&at.type_name(), name, at.rg);
    match ctx.method {
        Method::GET => {
            let body = state.store.read(|tx| {
                existing_group(tx, &sub_key, at.rg)?;
                let record = tx
                    .resource(&sub_key, &group, &kind, &key)?
                    .ok_or_else(missing)?;
                render(tx, &record, &sub_display, true)
            })?;
            json(StatusCode::OK, &body)
        }
        Method::PUT => {
            resource_name(name)?;
            let body = validate::json_object(&ctx.body, false)?;
            let location = validate::location(&body)?;
            let tags = validate::tags(&body)?.unwrap_or_default();
            let identity = match body.get("identity") {
                Some(v) => IdentityInput::read(v)?,
                None => None,
            };
            let (out, created) = state.store.transaction(|tx| {
                writable_group(tx, &sub_key, at.rg)?;
                let old = tx.resource(&sub_key, &group, &kind, &key)?;
                if let Some(old) = old.as_ref().filter(|o| o.location != location) {
                    return Err(ApiError::bad_request(
                        "InvalidResourceLocation",
                        format!(
                            "The resource '{name}' already exists in location '{}' in resource group '{}'. \
                             A resource with the same name cannot be created in location '{location}'. \
                             Please select a new resource name.",
                            old.location, at.rg
                        ),
                    ));
                }
                let old_block = old.as_ref().map(|o| &o.identity);
                let block = match &identity {
                    Some(input) => input.replace(old_block, &state.tenant_id)?,
                    None => IdentityBlock::default(),
                };
                let record = ResourceRecord {
                    name: name.to_string(),
                    resource_group: at.rg.to_string(),
                    namespace: at.namespace.to_string(),
                    kind: at.kind.to_string(),
                    location: location.clone(),
                    tags,
                    rest: rest_of(&body),
                    identity: block,
                    created_ms: old.as_ref().map_or_else(now_ms, |o| o.created_ms),
                };
                let id = resource_id(&record, &sub_display);
                generic_identity::check_new_references(tx, &id, &record.identity, old_block)?;
                tx.put_resource(&sub_key, &record)?;
                Ok::<_, ApiError>((render(tx, &record, &sub_display, true)?, old.is_none()))
            })?;
            json(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &out,
            )
        }
        Method::PATCH => {
            let body = validate::json_object(&ctx.body, true)?;
            let tags = validate::tags(&body)?;
            let identity = match body.get("identity") {
                Some(v) => Some(IdentityInput::read(v)?),
                None => None,
            };
            let location = match body.get("location") {
                None | Some(Value::Null) => None,
                Some(_) => Some(validate::location(&body)?),
            };
            let out = state.store.transaction(|tx| {
                writable_group(tx, &sub_key, at.rg)?;
                let mut record = tx
                    .resource(&sub_key, &group, &kind, &key)?
                    .ok_or_else(missing)?;
                if let Some(location) = location.filter(|l| *l != record.location) {
                    return Err(ApiError::bad_request(
                        "LocationUpdateNotAllowed",
                        format!(
                            "The location of resource '{name}' is '{}' and cannot be changed to '{location}'.",
                            record.location
                        ),
                    ));
                }
                let old_block = record.identity.clone();
                if body.contains_key("tags") {
                    record.tags = tags.unwrap_or_default();
                }
                match identity {
                    Some(Some(input)) => {
                        record.identity = input.merge(&old_block, &state.tenant_id);
                    }
                    Some(None) => record.identity = IdentityBlock::default(),
                    None => {}
                }
                // Every other top-level key replaces its old value; null removes it.
                for (k, v) in &body {
                    if OWN_KEYS.contains(&k.as_str()) {
                        continue;
                    }
                    if v.is_null() {
                        record.rest.remove(k);
                    } else {
                        record.rest.insert(k.clone(), v.clone());
                    }
                }
                let id = resource_id(&record, &sub_display);
                generic_identity::check_new_references(
                    tx,
                    &id,
                    &record.identity,
                    Some(&old_block),
                )?;
                tx.put_resource(&sub_key, &record)?;
                render(tx, &record, &sub_display, true)
            })?;
            json(StatusCode::OK, &out)
        }
        Method::DELETE => {
            let removed = state.store.transaction(|tx| {
                existing_group(tx, &sub_key, at.rg)?;
                Ok::<_, ApiError>(tx.remove_resource(&sub_key, &group, &kind, &key)?)
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

/// `/subscriptions/{sub}/resources` (Resources_List) and `.../resourceGroups/{rg}/resources`
/// (Resources_ListByResourceGroup): every resource, identities included, each with its
/// `identity` block and without `properties`, as ARM lists them. `$top` is honoured;
/// `$filter` and `$expand` are ignored (the client filters locally).
pub fn list(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    rg: Option<&str>,
) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::api_version(ctx.api_version(), RESOURCES_API_VERSIONS)?;
    let sub_key = state.subscription(sub)?;
    let top = validate::top(ctx.query.get("$top").map(String::as_str))?;
    let limit = top.map_or(state.page_size, |t| t.min(state.page_size));
    let after = skip_after(ctx)?;
    let sub_display = state.subscription_display(&sub_key).to_string();
    let page = state.store.read(|tx| {
        if let Some(rg) = rg {
            existing_group(tx, &sub_key, rg)?;
        }
        let listing = tx.all_resources(&sub_key, rg.map(key_of).as_deref(), &after, limit)?;
        let mut value = Vec::with_capacity(listing.items.len());
        for item in &listing.items {
            value.push(match item {
                AnyResource::Generic(r) => render(tx, r, &sub_display, false)?,
                AnyResource::Identity(i) => GenericResource {
                    id: format!(
                        "/subscriptions/{sub_display}/resourcegroups/{}/providers/{IDENTITY_TYPE}/{}",
                        i.resource_group, i.name
                    ),
                    name: i.name.clone(),
                    kind: IDENTITY_TYPE.to_string(),
                    location: Some(i.location.clone()),
                    tags: Some(i.tags.clone()),
                    identity: None,
                    rest: serde_json::Map::new(),
                },
            });
        }
        Ok::<_, ApiError>(Page {
            value,
            next_link: listing
                .next_after
                .map(|after| next_link_with_top(ctx, &after, top)),
        })
    })?;
    json(StatusCode::OK, &page)
}

/// `GET /subscriptions/{sub}/providers/{namespace}` (Providers_Get): the provider, registered,
/// with the types the emulator serves in that namespace — for a generic namespace, the types
/// the subscription has resources of.
pub fn provider(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    namespace: &str,
) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    validate::api_version(ctx.api_version(), RESOURCES_API_VERSIONS)?;
    let sub_key = state.subscription(sub)?;
    let sub_display = state.subscription_display(&sub_key);
    let types: Vec<(String, Vec<&str>)> = if namespace.eq_ignore_ascii_case(MSI_NAMESPACE) {
        [
            "userAssignedIdentities",
            "userAssignedIdentities/federatedIdentityCredentials",
        ]
        .iter()
        .map(|t| (t.to_string(), validate::MSI_API_VERSIONS.to_vec()))
        .collect()
    } else if namespace.eq_ignore_ascii_case("Microsoft.Authorization") {
        vec![("roleAssignments".to_string(), vec!["2022-04-01"])]
    } else {
        state
            .store
            .read(|tx| tx.resource_types(&sub_key, &key_of(namespace)))?
            .into_iter()
            .map(|t| (t, GENERIC_API_VERSIONS.to_vec()))
            .collect()
    };
    let resource_types: Vec<Value> = types
        .into_iter()
        .map(|(t, versions)| {
            serde_json::json!({
                "resourceType": t, "locations": [], "apiVersions": versions, "capabilities": "None"
            })
        })
        .collect();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "id": format!("/subscriptions/{sub_display}/providers/{namespace}"),
            "namespace": namespace,
            "registrationState": "Registered",
            "registrationPolicy": "RegistrationRequired",
            "resourceTypes": resource_types,
        }),
    )
}

/// The id of a generic resource (ARM spells `resourceGroups` in camel case for most providers).
pub fn resource_id(record: &ResourceRecord, sub: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{}/providers/{}/{}/{}",
        record.resource_group, record.namespace, record.kind, record.name
    )
}

/// Renders a resource: the body as kept, with ARM's own keys and the identity block filled
/// in; `full` keeps `properties` (a GET does, a subscription-wide list does not).
fn render(
    tx: &Tx<'_>,
    record: &ResourceRecord,
    sub: &str,
    full: bool,
) -> Result<GenericResource, ApiError> {
    let mut rest = record.rest.clone();
    if full {
        rest.entry("properties")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    } else {
        rest.remove("properties");
    }
    Ok(GenericResource {
        id: resource_id(record, sub),
        name: record.name.clone(),
        kind: format!("{}/{}", record.namespace, record.kind),
        location: Some(record.location.clone()),
        tags: Some(record.tags.clone()),
        identity: generic_identity::render(tx, &record.identity)?,
        rest,
    })
}

fn rest_of(body: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    body.iter()
        .filter(|(k, v)| !OWN_KEYS.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Any api-version will do (the emulator does not know each provider's), but one is required.
fn any_api_version(ctx: &Ctx) -> Result<(), ApiError> {
    match ctx.api_version() {
        Some(v) if !v.trim().is_empty() => Ok(()),
        _ => Err(ApiError::missing_api_version()),
    }
}

/// A resource name ARM accepts for most types: 1–260 characters, none of `<>*%&:\?/+#` or controls.
fn resource_name(name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    let bad = name
        .chars()
        .find(|c| c.is_control() || "<>*%&:\\?/+#".contains(*c));
    if (1..=260).contains(&len) && bad.is_none() && !name.ends_with('.') {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "InvalidResourceName",
        format!(
            "Resource name '{name}' is invalid. The name can be up to 260 characters long, cannot end with a \
             period and cannot contain '<', '>', '*', '%', '&', ':', '\\', '?', '/', '+', '#' or control \
             characters."
        ),
    ))
}
