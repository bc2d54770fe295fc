//! Authorisation at management groups: the ARM action a management-group route needs, checked
//! against the caller's roles at the group and its ancestors; and the inheritance of roles held
//! at a group by every subscription below it, resolved once per request from the current tree.

use axum::http::Method;

use crate::emulator::access::callers::Principal;
use crate::emulator::resources::hierarchy::group_id;
use crate::emulator::resources::management_groups::{GROUP_READ, read_hierarchy};
use crate::emulator::server::error::ApiError;
use crate::emulator::server::routes::Route;
use crate::emulator::state::AppState;
use crate::emulator::store::key_of;

/// The caller with its roles at named management groups also granted at every subscription
/// below them; unchanged (and the store not read) when it holds none.
pub fn inherited(state: &AppState, mut caller: Principal) -> Result<Principal, ApiError> {
    if !caller.inherits() {
        return Ok(caller);
    }
    let tree = read_hierarchy(state)?;
    caller.inherit(|group| tree.subscriptions_below(group));
    Ok(caller)
}

/// The action a management-group route needs at its group, and the group; `None` when the
/// route is not one, or needs nothing (the list filters itself; polls; a group that does not
/// exist, which its handler answers).
fn need(route: &Route, method: &Method) -> Option<(&'static str, String)> {
    let pick = |table: [&'static str; 3]| match *method {
        Method::GET | Method::HEAD => Some(table[0]),
        Method::PUT | Method::PATCH => Some(table[1]),
        Method::DELETE => Some(table[2]),
        _ => None,
    };
    let groups = [
        GROUP_READ,
        "Microsoft.Management/managementGroups/write",
        "Microsoft.Management/managementGroups/delete",
    ];
    let assignments = [
        "Microsoft.Authorization/roleAssignments/read",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
    ];
    match route {
        Route::ManagementGroup { group } => Some((pick(groups)?, group.clone())),
        Route::ManagementGroupDescendants { group }
        | Route::ManagementGroupSubscriptions { group }
            if *method == Method::GET =>
        {
            Some((GROUP_READ, group.clone()))
        }
        Route::ManagementGroupSubscription { group, .. } => Some((
            pick([
                GROUP_READ,
                "Microsoft.Management/managementGroups/subscriptions/write",
                "Microsoft.Management/managementGroups/subscriptions/delete",
            ])?,
            group.clone(),
        )),
        Route::GroupRoleAssignments { group } if *method == Method::GET => {
            Some((assignments[0], group.clone()))
        }
        Route::GroupRoleAssignment { group, .. } => Some((pick(assignments)?, group.clone())),
        _ => None,
    }
}

/// Checks a management-group route: `None` when `route` is not one (the subscription rules
/// apply), else whether the caller's roles at the group or above allow it (403
/// `AuthorizationFailed` naming the action and the group when not).
pub fn authorize(
    state: &AppState,
    caller: &Principal,
    route: &Route,
    method: &Method,
) -> Option<Result<(), ApiError>> {
    let (action, group) = need(route, method)?;
    Some(check(state, caller, action, &group))
}

fn check(state: &AppState, caller: &Principal, action: &str, group: &str) -> Result<(), ApiError> {
    let tree = read_hierarchy(state)?;
    let key = key_of(group);
    if !tree.exists(&key) {
        return Ok(());
    }
    if caller.can_at_group(action, &tree.chain(&key)) {
        return Ok(());
    }
    Err(ApiError::authorization_failed(
        &caller.client_id,
        &caller.object_id,
        action,
        &group_id(group),
    ))
}
