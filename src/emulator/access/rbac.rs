//! Authorisation of every request: the ARM action a route and method need, checked
//! against the caller's roles right after authentication; 403 `AuthorizationFailed` naming the
//! client, the action and the scope when they lack it. Knows routes and methods, never
//! handlers: a denied request does not reach one.

use axum::http::Method;

use crate::emulator::access::callers::Principal;
use crate::emulator::access::roles::GROUP_READ;
use crate::emulator::server::error::ApiError;
use crate::emulator::server::routes::Route;
use crate::emulator::state::AppState;

/// What a request needs of its caller.
#[derive(Debug, PartialEq, Eq)]
enum Need {
    /// Nothing beyond a valid token (discovery, the permissions API, and requests whose
    /// handler refuses them anyway, e.g. with 405).
    Nothing,
    /// Some role somewhere in the subscription (its own GET, listing its groups, polling).
    RoleIn { action: &'static str },
    /// This action at this place; `scope` is the id ARM's message names.
    Action {
        action: &'static str,
        rg: Option<String>,
        scope: String,
    },
    /// The same, for an action named by the request (a generic resource's type).
    Named {
        action: String,
        rg: Option<String>,
        scope: String,
    },
}

const MSI: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

fn need(route: &Route, method: &Method) -> Need {
    let verb = match *method {
        Method::GET | Method::HEAD => "read",
        Method::PUT | Method::PATCH => "write",
        Method::DELETE => "delete",
        Method::POST => "action",
        // Anything else is refused by the handler with 405.
        _ => return Need::Nothing,
    };
    let group_scope = |sub: &str, rg: &str| format!("/subscriptions/{sub}/resourceGroups/{rg}");
    let action = |table: [&'static str; 3]| match verb {
        "read" => Some(table[0]),
        "write" => Some(table[1]),
        "delete" => Some(table[2]),
        _ => None,
    };
    match route {
        Route::Subscription { .. } | Route::Locations { .. } | Route::OperationResult { .. }
            if verb == "read" =>
        {
            Need::RoleIn {
                action: "Microsoft.Resources/subscriptions/read",
            }
        }
        Route::Groups { .. } if verb == "read" => Need::RoleIn { action: GROUP_READ },
        Route::Group { sub, rg } => match action([
            GROUP_READ,
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            "Microsoft.Resources/subscriptions/resourceGroups/delete",
        ]) {
            Some(action) => Need::Action {
                action,
                rg: Some(rg.clone()),
                scope: group_scope(sub, rg),
            },
            None => Need::Nothing,
        },
        Route::IdentitiesInSubscription { sub } if verb == "read" => Need::Action {
            action: "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            rg: None,
            scope: format!("/subscriptions/{sub}"),
        },
        Route::IdentitiesInGroup { sub, rg } if verb == "read" => Need::Action {
            action: "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            rg: Some(rg.clone()),
            scope: group_scope(sub, rg),
        },
        Route::Identity { sub, rg, name } => match action([
            "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
        ]) {
            Some(action) => Need::Action {
                action,
                rg: Some(rg.clone()),
                scope: format!("{}/providers/{MSI}/{name}", group_scope(sub, rg)),
            },
            None => Need::Nothing,
        },
        Route::AssociatedResources { sub, rg, name } if verb == "action" => Need::Action {
            action: "Microsoft.ManagedIdentity/userAssignedIdentities/listAssociatedResources/action",
            rg: Some(rg.clone()),
            scope: format!("{}/providers/{MSI}/{name}", group_scope(sub, rg)),
        },
        Route::RevokeTokens { sub, rg, name } if verb == "action" => Need::Action {
            action: "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action",
            rg: Some(rg.clone()),
            scope: format!("{}/providers/{MSI}/{name}", group_scope(sub, rg)),
        },
        _ => relations_need(route, verb),
    }
}

/// What the relationship routes need: the credential, resource and role-assignment actions of Azure's
/// built-in roles, at the place the request names. Attaching an identity to a resource does
/// not also ask for `userAssignedIdentities/assign/action` here.
fn relations_need(route: &Route, verb: &str) -> Need {
    let group_scope = |sub: &str, rg: &str| format!("/subscriptions/{sub}/resourceGroups/{rg}");
    let pick = |table: [&'static str; 3]| match verb {
        "read" => Some(table[0]),
        "write" => Some(table[1]),
        "delete" => Some(table[2]),
        _ => None,
    };
    let fic_action = pick([
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
    ]);
    let assignment_action = pick([
        "Microsoft.Authorization/roleAssignments/read",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
    ]);
    match route {
        Route::FederatedCredentials { sub, rg, name } if verb == "read" => Need::Action {
            action: fic_action.unwrap_or_default(),
            rg: Some(rg.clone()),
            scope: format!("{}/providers/{MSI}/{name}", group_scope(sub, rg)),
        },
        Route::FederatedCredential { sub, rg, name, fic } => match fic_action {
            Some(action) => Need::Action {
                action,
                rg: Some(rg.clone()),
                scope: format!(
                    "{}/providers/{MSI}/{name}/federatedIdentityCredentials/{fic}",
                    group_scope(sub, rg)
                ),
            },
            None => Need::Nothing,
        },
        Route::GenericResources {
            sub,
            rg,
            namespace,
            kind,
        } if verb == "read" => Need::Named {
            action: format!("{namespace}/{kind}/read"),
            rg: Some(rg.clone()),
            scope: group_scope(sub, rg),
        },
        Route::GenericResource {
            sub,
            rg,
            namespace,
            kind,
            name,
        } if verb != "action" => Need::Named {
            action: format!("{namespace}/{kind}/{verb}"),
            rg: Some(rg.clone()),
            scope: format!(
                "{}/providers/{namespace}/{kind}/{name}",
                group_scope(sub, rg)
            ),
        },
        Route::Resources { rg: None, .. } | Route::Provider { .. } if verb == "read" => {
            Need::RoleIn {
                action: "Microsoft.Resources/subscriptions/resources/read",
            }
        }
        Route::Resources { sub, rg: Some(rg) } if verb == "read" => Need::Action {
            action: "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
            rg: Some(rg.clone()),
            scope: group_scope(sub, rg),
        },
        Route::RoleAssignments { scope, .. } if verb == "read" => Need::Action {
            action: assignment_action.unwrap_or_default(),
            rg: scope.get(3).cloned(),
            scope: format!("/{}", scope.join("/")),
        },
        Route::RoleAssignment { scope, name, .. } => match assignment_action {
            Some(action) => Need::Action {
                action,
                rg: scope.get(3).cloned(),
                scope: format!(
                    "/{}/providers/Microsoft.Authorization/roleAssignments/{name}",
                    scope.join("/")
                ),
            },
            None => Need::Nothing,
        },
        _ => lock_need(route, verb),
    }
}

/// What the management-lock routes need: `Microsoft.Authorization/locks/*`, which of the
/// built-in roles only Owner and User Access Administrator hold (Contributor's notActions
/// exclude `Microsoft.Authorization/*/Write` and `*/Delete`).
fn lock_need(route: &Route, verb: &str) -> Need {
    let action = match verb {
        "read" => "Microsoft.Authorization/locks/read",
        "write" => "Microsoft.Authorization/locks/write",
        "delete" => "Microsoft.Authorization/locks/delete",
        _ => return Need::Nothing,
    };
    match route {
        Route::Locks { scope, .. } if verb == "read" => Need::Action {
            action,
            rg: scope.get(3).cloned(),
            scope: format!("/{}", scope.join("/")),
        },
        Route::Lock { scope, name, .. } => Need::Action {
            action,
            rg: scope.get(3).cloned(),
            scope: format!(
                "/{}/providers/Microsoft.Authorization/locks/{name}",
                scope.join("/")
            ),
        },
        _ => Need::Nothing,
    }
}

/// Checks that `caller` may make this request; 403 `AuthorizationFailed` when not. A request
/// naming a malformed or unknown subscription passes, so its handler answers 400 or 404 as ARM.
pub fn authorize(
    state: &AppState,
    caller: &Principal,
    route: &Route,
    method: &Method,
) -> Result<(), ApiError> {
    if let Some(verdict) =
        crate::emulator::access::group_access::authorize(state, caller, route, method)
    {
        return verdict;
    }
    let Some(sub) = route.subscription() else {
        return Ok(());
    };
    let Ok(sub_key) = state.subscription(sub) else {
        return Ok(());
    };
    let denied = |action: &str, scope: &str| {
        ApiError::authorization_failed(&caller.client_id, &caller.object_id, action, scope)
    };
    match need(route, method) {
        Need::Nothing => Ok(()),
        Need::RoleIn { action } if !caller.has_role_in(&sub_key) => {
            Err(denied(action, &format!("/subscriptions/{sub}")))
        }
        Need::RoleIn { .. } => Ok(()),
        Need::Action { action, rg, scope } => {
            let rg = rg.map(|rg| rg.to_lowercase());
            if caller.can(action, &sub_key, rg.as_deref()) {
                Ok(())
            } else {
                Err(denied(action, &scope))
            }
        }
        Need::Named { action, rg, scope } => {
            let rg = rg.map(|rg| rg.to_lowercase());
            if caller.can(&action, &sub_key, rg.as_deref()) {
                Ok(())
            } else {
                Err(denied(&action, &scope))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

    #[test]
    fn requests_map_to_arm_actions() {
        let sub = SUB.to_string();
        let id = Route::Identity {
            sub: sub.clone(),
            rg: "rg".into(),
            name: "app".into(),
        };
        assert_eq!(
            need(&id, &Method::DELETE),
            Need::Action {
                action: "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
                rg: Some("rg".into()),
                scope: format!(
                    "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app"
                ),
            }
        );
        let group = Route::Group {
            sub: sub.clone(),
            rg: "rg".into(),
        };
        assert!(matches!(
            need(&group, &Method::PUT),
            Need::Action {
                action: "Microsoft.Resources/subscriptions/resourceGroups/write",
                ..
            }
        ));
        assert!(matches!(
            need(
                &Route::IdentitiesInSubscription { sub: sub.clone() },
                &Method::GET
            ),
            Need::Action { rg: None, .. }
        ));
        assert_eq!(need(&Route::Subscriptions, &Method::GET), Need::Nothing);
        // The relationship routes.
        let vm = Route::GenericResource {
            sub: sub.clone(),
            rg: "rg".into(),
            namespace: "Microsoft.Compute".into(),
            kind: "virtualMachines".into(),
            name: "vm".into(),
        };
        assert!(matches!(
            need(&vm, &Method::PATCH),
            Need::Named { ref action, .. } if action == "Microsoft.Compute/virtualMachines/write"
        ));
        let assignment = Route::RoleAssignment {
            sub: sub.clone(),
            scope: vec![
                "subscriptions".into(),
                sub.clone(),
                "resourceGroups".into(),
                "rg".into(),
            ],
            name: "a".into(),
        };
        assert_eq!(
            need(&assignment, &Method::PUT),
            Need::Action {
                action: "Microsoft.Authorization/roleAssignments/write",
                rg: Some("rg".into()),
                scope: format!(
                    "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/a"
                ),
            }
        );
        assert_eq!(need(&id, &Method::OPTIONS), Need::Nothing);
    }
}
