//! The caller's permissions in scripts: `permissions(scope)` and `can(action, scope)`,
//! and the dry-run check that marks the plan lines a 403 AuthorizationFailed would stop, before
//! anything is sent. Asks ARM (`arm::permissions`); knows Rhai only through `HostState`.

use std::collections::HashMap;

use rhai::{Array, EvalAltResult};

use super::HostState;
use super::convert;
use super::plan::{Change, Denied, Plan};
use crate::arm::permissions::{self, scope_path};
use crate::model::Permission;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// `permissions(scope)`: one map `#{actions, notActions, dataActions, notDataActions}` per role
/// that applies at the scope, as ARM lists them.
pub fn list(s: &HostState, scope: &str) -> Res<Array> {
    let found = s.block_on(s.client.permissions(scope))?;
    found.iter().map(rhai::serde::to_dynamic).collect()
}

/// `can(action, scope)`: whether the caller's roles at the scope allow the action.
pub fn can(s: &HostState, action: &str, scope: &str) -> Res<bool> {
    if action.trim().is_empty() {
        return Err(convert::usage_error(
            "an action looks like Microsoft.ManagedIdentity/userAssignedIdentities/delete",
        ));
    }
    let found = s.block_on(s.client.permissions(scope))?;
    Ok(permissions::allows(&found, action))
}

/// Marks every planned change the caller's permissions would refuse. Permissions are looked up
/// once per resource group scope; a scope that cannot be looked up is noted, its lines left as
/// they are.
pub fn check_plan(s: &HostState, plan: &mut Plan) {
    let needs: Vec<Option<(String, String)>> = plan
        .items()
        .iter()
        .map(|p| needed(p.change, &p.id))
        .collect();
    let mut seen: HashMap<String, Option<Vec<Permission>>> = HashMap::new();
    for (index, need) in needs.into_iter().enumerate() {
        let Some((action, scope)) = need else {
            continue;
        };
        let key = scope.to_lowercase();
        if !seen.contains_key(&key) {
            let found = match s.runtime.block_on(s.client.permissions(&scope)) {
                Ok(found) => Some(found),
                Err(e) => {
                    plan.note(format!(
                        "could not check permissions at {scope}: {}",
                        crate::error::render_arm(&e)
                    ));
                    None
                }
            };
            seen.insert(key.clone(), found);
        }
        if let Some(Some(found)) = seen.get(&key)
            && !permissions::allows(found, &action)
        {
            plan.deny(index, Denied { action, scope });
        }
    }
}

/// The ARM action a planned change needs and the scope where it is checked (the resource's
/// group, or the subscription for what sits above groups): `.../resourceGroups/write|delete`
/// for a group; `{namespace}/{type}[/{child type}...]/write|delete` for a resource, its last
/// provider deciding (so a role assignment needs `Microsoft.Authorization/roleAssignments/write`).
fn needed(change: Change, id: &str) -> Option<(String, String)> {
    let verb = match change {
        Change::Create | Change::Update => "write",
        Change::Delete => "delete",
    };
    let parts: Vec<&str> = id.split('/').collect();
    let is = |i: usize, word: &str| parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case(word));
    if !(parts.len() >= 3 && parts[0].is_empty() && is(1, "subscriptions")) {
        return None;
    }
    let in_group = is(3, "resourcegroups") && parts.len() >= 5;
    let scope = if in_group {
        format!("/subscriptions/{}/resourceGroups/{}", parts[2], parts[4])
    } else {
        format!("/subscriptions/{}", parts[2])
    };
    scope_path(&scope).ok()?;
    let action = match parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("providers"))
    {
        None if in_group && parts.len() == 5 => {
            format!("Microsoft.Resources/subscriptions/resourceGroups/{verb}")
        }
        None => return None,
        Some(at) => {
            // {namespace}/{type}/{name}[/{type}/{name}...]: the namespace and every type.
            let rest = &parts[at + 1..];
            if rest.len() < 3 || rest.len().is_multiple_of(2) {
                return None;
            }
            let types: Vec<&str> = rest[1..].iter().step_by(2).copied().collect();
            format!("{}/{}/{verb}", rest[0], types.join("/"))
        }
    };
    Some((action, scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lines_map_to_actions_at_their_group() {
        let sub = "00000000-0000-0000-0000-000000000001";
        let identity = format!(
            "/subscriptions/{sub}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a"
        );
        assert_eq!(
            needed(Change::Delete, &identity),
            Some((
                "Microsoft.ManagedIdentity/userAssignedIdentities/delete".into(),
                format!("/subscriptions/{sub}/resourceGroups/rg")
            ))
        );
        assert_eq!(
            needed(
                Change::Create,
                &format!("/subscriptions/{sub}/resourceGroups/rg2")
            ),
            Some((
                "Microsoft.Resources/subscriptions/resourceGroups/write".into(),
                format!("/subscriptions/{sub}/resourceGroups/rg2")
            ))
        );
        assert_eq!(
            needed(Change::Update, &identity).map(|n| n.0),
            Some("Microsoft.ManagedIdentity/userAssignedIdentities/write".into())
        );
        assert_eq!(
            needed(Change::Delete, "/subscriptions/x/resourceGroups/rg"),
            None
        );
        assert_eq!(needed(Change::Delete, "nonsense"), None);
    }
}
