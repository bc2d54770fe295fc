//! Microsoft.Authorization/roleAssignments: RoleAssignments_Create / _Get / _Delete
//! and RoleAssignments_ListForScope (which serves the subscription, group and resource lists
//! too) at a management group, a subscription, a resource group, an identity or a generic
//! resource. A list includes what is assigned above its scope (up to the root management
//! group), as ARM's does; `atScope()` leaves out what is below. As in Azure, an
//! assignment names a principal some identity owns, and only once the directory has
//! replicated it (`--replication-delay`); one principal+role+scope is assigned once; deleting
//! an identity leaves the assignments to its principal orphaned. (Azure skips the directory
//! look-up when `principalType` is given; the emulator always makes it, so that clients'
//! handling of PrincipalNotFound can be tested.)

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::Response;

use crate::emulator::resources::assignment_input::{Filter, Input};
use crate::emulator::resources::hierarchy::{group_id, group_scope_key};
use crate::emulator::resources::management_groups;
use crate::emulator::server::error::ApiError;
use crate::emulator::server::validate;
use crate::emulator::state::{AppState, Ctx, json, next_link_with_top, now_ms, skip_after};
use crate::emulator::store::{
    AssignmentQuery, GroupAssignmentQuery, RoleAssignmentRecord, Tx, key_of,
};
use crate::model::{Page, RoleAssignment, RoleAssignmentProperties};

/// The resource type, as ARM spells it.
pub const ASSIGNMENT_TYPE: &str = "Microsoft.Authorization/roleAssignments";

/// Api-versions served; all answer in the 2022-04-01 shape.
const API_VERSIONS: &[&str] = &[
    "2020-04-01-preview",
    "2020-08-01-preview",
    "2020-10-01-preview",
    "2022-01-01-preview",
    "2022-04-01",
];

/// A checked scope.
struct Scope {
    /// Subscription key; empty at a management group.
    sub: String,
    /// Canonical spelling, names as in the path: `/subscriptions/{s}[/resourceGroups/{rg}[/providers/{ns}/{type}/{name}]]`
    /// or `/providers/Microsoft.Management/managementGroups/{g}`.
    display: String,
    /// Keys of the scope's ancestors and, last, of the scope itself (lower case); the
    /// management groups above a subscription come first.
    at_or_above: Vec<String>,
    /// At a management group: what lies below it (else `None`).
    below_group: Option<Below>,
}

/// What lies below a management group: the groups' scope keys and the subscriptions' keys.
struct Below {
    groups: Vec<String>,
    subs: Vec<String>,
}

/// Where a request places its role assignments.
#[derive(Clone, Copy)]
enum At<'a> {
    /// Below a subscription: its id and the scope's path segments.
    Subscription { sub: &'a str, scope: &'a [String] },
    /// A management group, by id.
    Group(&'a str),
}

impl Scope {
    fn key(&self) -> &str {
        self.at_or_above.last().map_or("", String::as_str)
    }
}

/// `{scope}/providers/Microsoft.Authorization/roleAssignments`: GET is RoleAssignments_ListForScope,
/// with `$filter` `atScope()`, `principalId eq '{id}'`, `assignedTo('{id}')` or an `and` of them.
pub fn collection(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    scope: &[String],
) -> Result<Response, ApiError> {
    list(state, ctx, At::Subscription { sub, scope })
}

/// `/providers/Microsoft.Management/managementGroups/{g}/providers/Microsoft.Authorization/roleAssignments`:
/// the assignments at the group and above it, and (without `atScope()`) those below it.
pub fn group_collection(
    state: &Arc<AppState>,
    ctx: &Ctx,
    group: &str,
) -> Result<Response, ApiError> {
    list(state, ctx, At::Group(group))
}

/// A role assignment at a management group: PUT, GET, DELETE as at any other scope.
pub fn group_item(
    state: &Arc<AppState>,
    ctx: &Ctx,
    group: &str,
    name: &str,
) -> Result<Response, ApiError> {
    one(state, ctx, At::Group(group), name)
}

fn list(state: &Arc<AppState>, ctx: &Ctx, at: At<'_>) -> Result<Response, ApiError> {
    if ctx.method != Method::GET {
        return Err(ApiError::method_not_allowed(ctx.method.as_str()));
    }
    version(ctx)?;
    let filter = Filter::parse(ctx.query.get("$filter").map(String::as_str))?;
    let top = validate::top(ctx.query.get("$top").map(String::as_str))?;
    let limit = top.map_or(state.page_size, |t| t.min(state.page_size));
    let after = skip_after(ctx)?;
    let listing = state.store.read(|tx| {
        let scope = resolve_at(state, tx, at)?;
        if let Some(below) = &scope.below_group {
            let none: &[String] = &[];
            let query = GroupAssignmentQuery {
                at_or_above: &scope.at_or_above,
                below_groups: if filter.at_scope { none } else { &below.groups },
                below_subs: if filter.at_scope { none } else { &below.subs },
                principal: filter.principal.as_deref(),
            };
            return Ok::<_, ApiError>(tx.group_assignments(&query, &after, limit)?);
        }
        let query = AssignmentQuery {
            sub: &scope.sub,
            at_or_above: &scope.at_or_above,
            below: (!filter.at_scope).then(|| scope.key()),
            principal: filter.principal.as_deref(),
        };
        Ok::<_, ApiError>(tx.assignments(&query, &after, limit)?)
    })?;
    let page = Page {
        value: listing.items.iter().map(render).collect(),
        next_link: listing
            .next_after
            .map(|after| next_link_with_top(ctx, &after, top)),
    };
    json(StatusCode::OK, &page)
}

/// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`: PUT (RoleAssignments_Create),
/// GET (_Get), DELETE (_Delete: 200 with the assignment, 204 when there was none).
pub fn item(
    state: &Arc<AppState>,
    ctx: &Ctx,
    sub: &str,
    scope: &[String],
    name: &str,
) -> Result<Response, ApiError> {
    one(state, ctx, At::Subscription { sub, scope }, name)
}

fn one(state: &Arc<AppState>, ctx: &Ctx, at: At<'_>, name: &str) -> Result<Response, ApiError> {
    version(ctx)?;
    match ctx.method {
        Method::GET => {
            let record = state.store.read(|tx| {
                let scope = resolve_at(state, tx, at)?;
                tx.assignment(&id_key(&scope, name))?
                    .ok_or_else(|| not_found(name))
            })?;
            json(StatusCode::OK, &render(&record))
        }
        Method::PUT => {
            if !validate::is_guid(name) {
                return Err(ApiError::bad_request(
                    "InvalidRoleAssignmentId",
                    format!(
                        "The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."
                    ),
                ));
            }
            let body = validate::json_object(&ctx.body, false)?;
            let input = Input::read(&body)?;
            let actor = actor(ctx);
            let record = state.store.transaction(|tx| {
                let scope = resolve_at(state, tx, at)?;
                let role_guid = input.role_guid.to_ascii_lowercase();
                let principal = input.principal_id.to_ascii_lowercase();
                assignable(state, tx, &input)?;
                let key = id_key(&scope, name);
                let old = tx.assignment(&key)?;
                if let Some(old) = &old {
                    let same = old.principal_id.eq_ignore_ascii_case(&input.principal_id)
                        && old.role_definition_id.to_ascii_lowercase().ends_with(&role_guid);
                    if !same {
                        return Err(ApiError::bad_request(
                            "RoleAssignmentUpdateNotPermitted",
                            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                        ));
                    }
                }
                if let Some(other) = tx
                    .assignment_of(&scope.sub, scope.key(), &principal, &role_guid)?
                    .filter(|o| !o.name.eq_ignore_ascii_case(name))
                {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "RoleAssignmentExists",
                        format!(
                            "The role assignment already exists. The ID of the existing role assignment is {}.",
                            other.name.replace('-', "")
                        ),
                    ));
                }
                let now = now_ms();
                let record = RoleAssignmentRecord {
                    name: name.to_string(),
                    scope: scope.display.clone(),
                    role_definition_id: if scope.below_group.is_some() {
                        format!(
                            "/providers/Microsoft.Authorization/roleDefinitions/{}",
                            input.role_guid
                        )
                    } else {
                        format!(
                            "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}",
                            state.subscription_display(&scope.sub),
                            input.role_guid
                        )
                    },
                    principal_id: input.principal_id.clone(),
                    principal_type: input
                        .principal_type
                        .clone()
                        .unwrap_or_else(|| "ServicePrincipal".to_string()),
                    description: input.description.clone(),
                    created_ms: old.as_ref().map_or(now, |o| o.created_ms),
                    updated_ms: now,
                    created_by: old
                        .as_ref()
                        .map_or_else(|| actor.clone(), |o| o.created_by.clone()),
                    updated_by: actor.clone(),
                    condition: input.condition.clone(),
                    condition_version: input.condition_version.clone(),
                };
                tx.put_assignment(&key, &scope.sub, scope.key(), &role_guid, &record)?;
                Ok::<_, ApiError>(record)
            })?;
            // Azure answers 201 to every successful PUT of an assignment, a repeated one included.
            json(StatusCode::CREATED, &render(&record))
        }
        Method::DELETE => {
            let removed = state.store.transaction(|tx| {
                let scope = resolve_at(state, tx, at)?;
                let key = id_key(&scope, name);
                let old = tx.assignment(&key)?;
                tx.remove_assignment(&key)?;
                Ok::<_, ApiError>(old)
            })?;
            match removed {
                Some(record) => json(StatusCode::OK, &render(&record)),
                None => Ok(crate::emulator::state::empty(StatusCode::NO_CONTENT)),
            }
        }
        ref other => Err(ApiError::method_not_allowed(other.as_str())),
    }
}

/// The object id recorded as `createdBy`/`updatedBy`: the request's caller.
fn actor(ctx: &Ctx) -> String {
    ctx.caller
        .as_ref()
        .map(|c| c.object_id.clone())
        .unwrap_or_default()
}

fn version(ctx: &Ctx) -> Result<(), ApiError> {
    validate::msi_version_of(ctx.api_version(), "roleAssignments", API_VERSIONS).map(|_| ())
}

/// Checks a scope and that what it names exists, with the management groups above it.
fn resolve_at(state: &AppState, tx: &Tx<'_>, at: At<'_>) -> Result<Scope, ApiError> {
    let tree = management_groups::hierarchy(state, tx)?;
    match at {
        At::Subscription { sub, scope } => {
            let mut resolved = resolve(state, tx, sub, scope)?;
            let mut above: Vec<String> = tree
                .subscription_chain(&resolved.sub)
                .iter()
                .rev()
                .map(|g| group_scope_key(g))
                .collect();
            above.append(&mut resolved.at_or_above);
            resolved.at_or_above = above;
            Ok(resolved)
        }
        At::Group(group) => {
            let key = key_of(group);
            if !tree.exists(&key) {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("'{group}' not found"),
                ));
            }
            Ok(Scope {
                sub: String::new(),
                display: group_id(tree.name(&key)),
                at_or_above: tree
                    .chain(&key)
                    .iter()
                    .rev()
                    .map(|g| group_scope_key(g))
                    .collect(),
                below_group: Some(Below {
                    groups: tree
                        .descendant_groups(&key)
                        .iter()
                        .map(|g| group_scope_key(g))
                        .collect(),
                    subs: tree.subscriptions_below(&key),
                }),
            })
        }
    }
}

/// Checks a scope (path segments up to `/providers/Microsoft.Authorization`) and that what it
/// names exists: 404 as ARM answers for a missing subscription, group or resource.
fn resolve(state: &AppState, tx: &Tx<'_>, sub: &str, segs: &[String]) -> Result<Scope, ApiError> {
    let found = super::scopes::existing(state, tx, sub, segs, "role assignments")?;
    Ok(Scope {
        sub: found.sub,
        display: found.display,
        at_or_above: found.at_or_above,
        below_group: None,
    })
}

fn id_key(scope: &Scope, name: &str) -> String {
    key_of(&format!(
        "{}/providers/{ASSIGNMENT_TYPE}/{name}",
        scope.display
    ))
}

/// The principal must be owned by an identity (user-assigned, or a resource's system-assigned
/// one) the directory has had for the replication delay.
fn assignable(state: &AppState, tx: &Tx<'_>, input: &Input) -> Result<(), ApiError> {
    let created = match tx.identity_by_principal_id(&input.principal_id)? {
        Some(identity) => Some(identity.created_ms),
        None => tx
            .resource_by_system_principal(&input.principal_id)?
            .and_then(|r| r.identity.system.map(|s| s.created_ms)),
    };
    let replicated =
        |at: i64| now_ms().saturating_sub(at) >= state.replication_delay.as_millis() as i64;
    if created.is_some_and(replicated) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "PrincipalNotFound",
        format!(
            "Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If \
             you are creating this principal and then immediately assigning a role, this error might be related \
             to a replication delay. In this case, set the role assignment principalType property to a value, \
             such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
            input.principal_id.replace('-', ""),
            state.tenant_id
        ),
    ))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "RoleAssignmentNotFound",
        format!("The role assignment '{name}' is not found."),
    )
}

/// Renders a stored assignment in the 2022-04-01 shape.
fn render(record: &RoleAssignmentRecord) -> RoleAssignment {
    RoleAssignment {
        id: format!(
            "{}/providers/{ASSIGNMENT_TYPE}/{}",
            record.scope, record.name
        ),
        name: record.name.clone(),
        kind: ASSIGNMENT_TYPE.to_string(),
        properties: RoleAssignmentProperties {
            role_definition_id: record.role_definition_id.clone(),
            principal_id: record.principal_id.clone(),
            principal_type: Some(record.principal_type.clone()),
            scope: Some(record.scope.clone()),
            description: record.description.clone(),
            condition: record.condition.clone(),
            condition_version: record.condition_version.clone(),
            created_on: Some(rfc3339(record.created_ms)),
            updated_on: Some(rfc3339(record.updated_ms)),
            created_by: Some(record.created_by.clone()),
            updated_by: Some(record.updated_by.clone()),
        },
    }
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
