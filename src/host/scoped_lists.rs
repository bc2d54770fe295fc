//! The lists that follow the scope in use: `identity_list()` (ARM at one subscription, one
//! Resource Graph query at more; ARM fanned out with `#{consistent: true}`), and
//! `resource_list()` / `role_assignment_list()` over more than one subscription.

use rhai::Array;
use serde_json::{Value, json};

use super::HostState;
use super::convert;
use super::identities::{Repeated, identity_map_sharing};
use super::scope::Scope;
use crate::arm::ArmError;

type Res<T> = Result<T, Box<rhai::EvalAltResult>>;

/// `identity_list()` at the scope in use: ARM at one subscription, else Resource Graph.
pub(super) fn identity_list(s: &HostState) -> Res<Array> {
    let scope = s.scope.borrow().clone();
    if !scope.is_wide() {
        let sub = match scope {
            Scope::Subscriptions(subs) => subs.into_iter().next().unwrap_or_default(),
            _ => s.subscription()?,
        };
        return super::identities::identities(s, s.block_on(s.client.identity_list(&sub))?);
    }
    // Each page becomes maps here as it is decoded, while the next is being read; the maps
    // are put in id order once all are in.
    let (parts, mut arriving) = tokio::sync::mpsc::unbounded_channel();
    let listing = {
        let (client, scope) = (s.client.clone(), scope.graph(""));
        s.runtime.spawn(async move {
            client
                .identity_pages_graph(&scope, move |page| {
                    // A caller that stopped listening wants no more.
                    let _ = parts.send(page);
                })
                .await
        })
    };
    let mut maps: Vec<(String, rhai::Dynamic)> = Vec::new();
    let mut repeated = Repeated::default();
    while let Some(page) = s.runtime.block_on(arriving.recv()) {
        let mut seen = s.graph_rows.borrow_mut();
        for (sub, identity) in page {
            s.saw(&identity.name);
            let map = identity_map_sharing(&identity, Some(&sub), &mut repeated).into();
            seen.insert(identity.id.to_lowercase(), identity.properties.principal_id);
            maps.push((identity.id, map));
        }
    }
    finished(s, listing)?;
    maps.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(maps.into_iter().map(|(_, map)| map).collect())
}

/// Waits for a list that handed its parts over, and fails as it failed.
fn finished(s: &HostState, listing: tokio::task::JoinHandle<Result<(), ArmError>>) -> Res<()> {
    s.block_on(async {
        listing.await.map_err(|e| ArmError::Decode {
            status: 0,
            message: format!("a list stopped: {e}"),
        })?
    })
}

/// `identity_list(#{consistent: true})`: ARM lists of every subscription in scope, fanned
/// out concurrently; each item carries `subscriptionId` when more than one is in scope.
pub(super) fn identities_consistent(s: &HostState) -> Res<Array> {
    let subs = super::scope::subscription_ids(s)?;
    let wide = subs.len() > 1;
    let width = s.concurrency.get().max(1);
    // Each page of identities becomes maps here as it is read, while the others are still
    // being read; put in order once all are in.
    let (parts, mut arriving) = tokio::sync::mpsc::unbounded_channel();
    let listing = {
        let (client, subs) = (s.client.clone(), subs.clone());
        s.runtime
            .spawn(async move { client.identity_list_streamed(&subs, width, parts).await })
    };
    let mut maps: Vec<((usize, usize, usize), Array)> = Vec::new();
    let mut repeated = Repeated::default();
    while let Some(part) = s.runtime.block_on(arriving.recv()) {
        let subscription = subs.get(part.subscription).filter(|_| wide);
        let converted = part
            .identities
            .iter()
            .map(|identity| {
                s.saw(&identity.name);
                identity_map_sharing(identity, subscription.map(String::as_str), &mut repeated)
                    .into()
            })
            .collect();
        maps.push(((part.subscription, part.group, part.page), converted));
    }
    finished(s, listing)?;
    maps.sort_by_key(|(at, _)| *at);
    Ok(maps.into_iter().flat_map(|(_, part)| part).collect())
}

/// `resource_list()` over a wide scope: the resources that can carry identities, each with
/// `subscriptionId`; `None` at one subscription (the caller lists it from ARM).
pub(super) fn resources_wide(s: &HostState) -> Res<Option<Array>> {
    let scope = s.scope.borrow().clone();
    if !scope.is_wide() {
        return Ok(None);
    }
    let columns = [
        ("id", "id"),
        ("name", "name"),
        ("type", "type"),
        ("subscriptionId", "subscriptionId"),
        ("identity", "identity"),
    ];
    let found = s.block_on(s.client.graph_rows_packed(
        "resources",
        &columns,
        crate::arm::packed::Packing::Objects,
        &scope.graph(""),
        crate::arm::packed::by_id,
    ))?;
    found
        .rows
        .into_iter()
        .map(|r| {
            let id = r.get("id").and_then(Value::as_str).unwrap_or("");
            let identities: Vec<String> = r
                .get("identity")
                .and_then(|i| i.get("userAssignedIdentities"))
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let kind = id_type(id).unwrap_or_else(|| {
                r.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            });
            convert::to_dynamic(&json!({
                "id": id, "name": r.get("name"), "type": kind,
                "resourceGroup": crate::output::resource_group_of(id), "identities": identities,
                "subscriptionId": r.get("subscriptionId"),
            }))
        })
        .collect::<Res<Array>>()
        .map(Some)
}

/// `namespace/type` as a resource id spells it (Resource Graph lower-cases `type`).
pub(super) fn id_type(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.split('/').collect();
    let at = parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("providers"))?;
    let rest = parts.get(at + 1..)?;
    let namespace = rest.first()?;
    let types: Vec<&str> = rest.iter().skip(1).step_by(2).copied().collect();
    (!types.is_empty()).then(|| format!("{namespace}/{}", types.join("/")))
}

/// `role_assignment_list()` over a wide scope (management-group scopes included), flattened
/// as at one subscription; `None` at one subscription.
pub(super) fn assignments_wide(s: &HostState) -> Res<Option<Array>> {
    let scope = s.scope.borrow().clone();
    if !scope.is_wide() {
        return Ok(None);
    }
    let source = "authorizationresources | where type =~ 'microsoft.authorization/roleassignments'";
    let columns = [
        ("id", "id"),
        ("name", "name"),
        ("type", "type"),
        ("properties", "properties"),
    ];
    let found = s.block_on(s.client.graph_rows_packed(
        source,
        &columns,
        crate::arm::packed::Packing::Objects,
        &scope.graph(""),
        crate::arm::packed::by_id,
    ))?;
    found
        .rows
        .into_iter()
        .filter_map(|r| {
            serde_json::from_value::<crate::model::RoleAssignment>(Value::Object(r)).ok()
        })
        .map(|a| {
            let mut kind = a.clone();
            kind.kind = "Microsoft.Authorization/roleAssignments".into();
            convert::to_dynamic(&crate::output::assignment_json(&kind))
        })
        .collect::<Res<Array>>()
        .map(Some)
}
