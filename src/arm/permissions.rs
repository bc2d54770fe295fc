//! The caller's own permissions: `GET {scope}/providers/Microsoft.Authorization/
//! permissions`, and the matcher that answers "may I do this action?" from what it lists,
//! with ARM's wildcards. Knows nothing of Rhai; keeps its own matcher, apart from the
//! emulator's, so that each can be checked against the other.

use super::error::ArmError;
use super::{ArmClient, names, seg};
use crate::model::Permission;

/// The api-version of the permissions API.
pub const PERMISSIONS_API_VERSION: &str = "2022-04-01";

impl ArmClient {
    /// What the caller may do at `scope` (a subscription, resource group or resource id): one
    /// entry per role assignment that applies there, as ARM lists them.
    pub async fn permissions(&self, scope: &str) -> Result<Vec<Permission>, ArmError> {
        let path = format!(
            "{}/providers/Microsoft.Authorization/permissions",
            scope_path(scope)?
        );
        self.list_all(self.url(&path, PERMISSIONS_API_VERSION))
            .await
    }
}

/// Checks a scope (`/subscriptions/{id}[/resourceGroups/{name}[/providers/...]]`) and encodes
/// it as a request path.
pub fn scope_path(scope: &str) -> Result<String, ArmError> {
    let rule = "a scope is /subscriptions/{id}, /subscriptions/{id}/resourceGroups/{group}, or a resource id";
    names::resource_path("scope", scope.strip_suffix('/').unwrap_or(scope))?;
    let parts: Vec<&str> = scope.trim_end_matches('/').split('/').collect();
    let is = |i: usize, word: &str| parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case(word));
    let shape_ok = parts.len() >= 3
        && parts[0].is_empty()
        && is(1, "subscriptions")
        && parts[1..].iter().all(|p| !p.is_empty())
        && (parts.len() == 3 || (parts.len() >= 5 && is(3, "resourcegroups")));
    if !shape_ok {
        return Err(ArmError::invalid("scope", scope, rule));
    }
    names::subscription_id(parts[2])?;
    if let Some(group) = parts.get(4) {
        names::group_name(group)?;
    }
    Ok(parts[1..].iter().fold(String::new(), |mut path, part| {
        path.push('/');
        path.push_str(&seg(part));
        path
    }))
}

/// Whether the listed permissions allow `action`: some entry has an action matching it and no
/// notAction matching it (notActions take back only what their own entry granted, as in ARM).
pub fn allows(permissions: &[Permission], action: &str) -> bool {
    permissions.iter().any(|p| {
        p.actions.iter().any(|a| action_matches(a, action))
            && !p.not_actions.iter().any(|a| action_matches(a, action))
    })
}

/// Whether an action pattern (with `*` wildcards) covers an action, case-insensitively.
/// `*` matches any run of characters, `/` included; a `*` standing for a whole segment
/// (`.../*/read`) may also stand for none, so Managed Identity Operator's
/// `userAssignedIdentities/*/read` covers `userAssignedIdentities/read`.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let pattern = pattern.to_lowercase().into_bytes();
    let action = action.to_lowercase().into_bytes();
    matches_at(&pattern, &action)
}

fn matches_at(pattern: &[u8], action: &[u8]) -> bool {
    if pattern.starts_with(b"/*/") && matches_at(&pattern[2..], action) {
        return true;
    }
    match pattern.split_first() {
        None => action.is_empty(),
        Some((b'*', rest)) => (0..=action.len()).any(|i| matches_at(rest, &action[i..])),
        Some((c, rest)) => action.first() == Some(c) && matches_at(rest, &action[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(actions: &[&str], not_actions: &[&str]) -> Permission {
        Permission {
            actions: actions.iter().map(|a| a.to_string()).collect(),
            not_actions: not_actions.iter().map(|a| a.to_string()).collect(),
            ..Permission::default()
        }
    }

    #[test]
    fn actions_match_as_arm_matches_them() {
        let msi = "Microsoft.ManagedIdentity/userAssignedIdentities";
        let cases = [
            ("*", format!("{msi}/delete"), true),
            ("*/read", format!("{msi}/read"), true),
            ("*/read", format!("{msi}/write"), false),
            ("*/read", "read".to_string(), false),
            (&format!("{msi}/*/read"), format!("{msi}/read"), true),
            (
                &format!("{msi}/*/read"),
                format!("{msi}/federatedIdentityCredentials/read"),
                true,
            ),
            (&format!("{msi}/*/read"), format!("{msi}/write"), false),
            (
                &format!("{msi}/*/assign/action"),
                format!("{msi}/assign/action"),
                true,
            ),
            (&format!("{msi}/*"), format!("{msi}/delete"), true),
            (
                &format!("{msi}/*"),
                "Microsoft.ManagedIdentityX/a/delete".to_string(),
                false,
            ),
            (
                "MICROSOFT.AUTHORIZATION/*/WRITE",
                "microsoft.authorization/roleAssignments/write".to_string(),
                true,
            ),
            (
                "Microsoft.Support/*",
                "Microsoft.Support".to_string(),
                false,
            ),
            (&format!("{msi}/read"), format!("{msi}/read"), true),
            (&format!("{msi}/read"), format!("{msi}/readx"), false),
        ];
        for (pattern, action, want) in cases {
            assert_eq!(
                action_matches(pattern, &action),
                want,
                "{pattern} ~ {action}"
            );
        }
    }

    #[test]
    fn not_actions_take_back_only_their_own_grant() {
        let write = "Microsoft.Authorization/roleAssignments/write";
        let contributor = perm(&["*"], &["Microsoft.Authorization/*/Write"]);
        assert!(!allows(std::slice::from_ref(&contributor), write));
        assert!(allows(
            std::slice::from_ref(&contributor),
            "Microsoft.Foo/bars/write"
        ));
        let owner = perm(&["*"], &[]);
        assert!(
            allows(&[contributor, owner], write),
            "another role grants it"
        );
        assert!(!allows(&[], write), "no role, no action");
    }

    #[test]
    fn scopes_are_checked_and_encoded() {
        let sub = "00000000-0000-0000-0000-000000000001";
        assert_eq!(
            scope_path(&format!("/subscriptions/{sub}/")).unwrap(),
            format!("/subscriptions/{sub}")
        );
        assert_eq!(
            scope_path(&format!("/subscriptions/{sub}/resourceGroups/my(rg)")).unwrap(),
            format!("/subscriptions/{sub}/resourceGroups/my(rg)")
        );
        assert!(
            scope_path(&format!(
                "/subscriptions/{sub}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a"
            ))
            .is_ok()
        );
        for bad in [
            "",
            "/",
            "rg",
            "/subscriptions/nope",
            "/subscriptions/00000000-0000-0000-0000-000000000001/vms",
            "/subscriptions/00000000-0000-0000-0000-000000000001//rg",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/bad rg",
        ] {
            let e = scope_path(bad).unwrap_err();
            assert_eq!(e.code(), "InvalidArgument", "{bad}");
        }
    }
}
