//! Management locks (Microsoft.Authorization/locks, api-version 2020-05-01): the paged list at
//! a subscription, group or resource, and which of a subscription's locks would stop a change
//! (`CanNotDelete` stops deletes, `ReadOnly` every write; both are inherited downwards), so that
//! a plan can say so before anything is sent. ARM answers such a change with 409 `ScopeLocked`,
//! which is never retried (see `ArmError::retryable_status`).

use serde_json::Value;

use super::error::ArmError;
use super::{ArmClient, names};

/// The api-version of management locks.
pub const LOCKS_API_VERSION: &str = "2020-05-01";

/// The path segment between a locked scope and a lock's name.
const LOCKS_SEGMENT: &str = "/providers/microsoft.authorization/locks/";

/// Checks a lock scope: `/subscriptions/{id}`, a resource group id under it, or a resource id
/// in a group.
pub fn lock_scope(scope: &str) -> Result<(), ArmError> {
    names::resource_path("scope", scope)?;
    let rule = "a lock scope is /subscriptions/{id}, a resource group id, or a resource id";
    let parts: Vec<&str> = scope.split('/').collect();
    let is = |i: usize, word: &str| parts.get(i).is_some_and(|p| p.eq_ignore_ascii_case(word));
    if !is(1, "subscriptions") || scope.ends_with('/') {
        return Err(ArmError::invalid("scope", scope, rule));
    }
    names::subscription_id(parts.get(2).copied().unwrap_or(""))?;
    match parts.len() {
        3 => Ok(()),
        5 if is(3, "resourceGroups") => names::group_name(parts[4]),
        n if n >= 9 && is(3, "resourceGroups") && is(5, "providers") && n % 2 == 1 => {
            names::group_name(parts[4])
        }
        _ => Err(ArmError::invalid("scope", scope, rule)),
    }
}

impl ArmClient {
    /// Every lock that applies at a scope or lies below it (all pages), as ARM returns them.
    pub async fn lock_list(&self, scope: &str) -> Result<Vec<Value>, ArmError> {
        lock_scope(scope)?;
        let url = self.url(
            &format!("{scope}/providers/Microsoft.Authorization/locks"),
            LOCKS_API_VERSION,
        );
        self.list_all(url).await
    }

    /// The locks of a subscription, ready to say what they stop.
    pub async fn lock_set(&self, subscription: &str) -> Result<LockSet, ArmError> {
        names::subscription_id(subscription)?;
        let locks = self
            .lock_list(&format!("/subscriptions/{subscription}"))
            .await?;
        Ok(LockSet::from_values(&locks))
    }
}

/// A change as locks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockedOp {
    /// PUT, PATCH or POST: stopped by `ReadOnly`.
    Write,
    /// DELETE: stopped by `CanNotDelete` and `ReadOnly`.
    Delete,
}

/// One lock: where it sits and its level.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lock {
    /// The locked scope as ARM spells it.
    scope: String,
    /// `NotSpecified`, `CanNotDelete` or `ReadOnly`.
    level: String,
}

/// The locks of one or more subscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockSet {
    locks: Vec<Lock>,
}

impl LockSet {
    /// From lock objects as ARM lists them; entries without an id or level are skipped.
    pub fn from_values(values: &[Value]) -> LockSet {
        let locks = values
            .iter()
            .filter_map(|v| {
                let id = v.get("id")?.as_str()?;
                let level = v.get("properties")?.get("level")?.as_str()?;
                let at = id.to_lowercase().rfind(LOCKS_SEGMENT)?;
                Some(Lock {
                    scope: id.get(..at)?.to_string(),
                    level: level.to_string(),
                })
            })
            .collect();
        LockSet { locks }
    }

    /// Whether there are no locks at all.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }

    /// The scopes whose locks stop `op` on the resource `id` (at it or above it; for the
    /// delete of a resource group, inside it too), outermost first; empty when none does.
    pub fn blocking(&self, id: &str, op: LockedOp) -> Vec<String> {
        let id = id.trim_end_matches('/').to_lowercase();
        let is_group = {
            let parts: Vec<&str> = id.split('/').collect();
            parts.len() == 5 && parts[3] == "resourcegroups"
        };
        let mut scopes: Vec<String> = Vec::new();
        for lock in &self.locks {
            let stops = lock.level.eq_ignore_ascii_case("ReadOnly")
                || (op == LockedOp::Delete && lock.level.eq_ignore_ascii_case("CanNotDelete"));
            let scope = lock.scope.to_lowercase();
            let over = within(&id, &scope);
            let inside = op == LockedOp::Delete && is_group && within(&scope, &id);
            if stops && (over || inside) && !scopes.iter().any(|s| s.eq_ignore_ascii_case(&scope)) {
                scopes.push(lock.scope.clone());
            }
        }
        scopes.sort_by_key(String::len);
        scopes
    }
}

/// Whether the lower-case id `inner` is `outer` or lies below it.
fn within(inner: &str, outer: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

    fn lock(scope: &str, level: &str) -> Value {
        json!({"id": format!("{scope}/providers/Microsoft.Authorization/locks/l"), "properties": {"level": level}})
    }

    #[test]
    fn what_each_level_stops() {
        let rg = format!("/subscriptions/{SUB}/resourceGroups/rg");
        let app = format!("{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app");
        let other = format!("/subscriptions/{SUB}/resourceGroups/rg2");
        let set = LockSet::from_values(&[lock(&app, "CanNotDelete"), lock(&other, "ReadOnly")]);
        assert_eq!(set.blocking(&app, LockedOp::Delete), vec![app.clone()]);
        assert!(set.blocking(&app, LockedOp::Write).is_empty());
        assert_eq!(
            set.blocking(&rg, LockedOp::Delete),
            vec![app.clone()],
            "a group holding a lock"
        );
        assert!(set.blocking(&rg, LockedOp::Write).is_empty());
        let assignment = format!("{other}/providers/Microsoft.Authorization/roleAssignments/x");
        assert_eq!(
            set.blocking(&assignment, LockedOp::Write),
            vec![other.clone()]
        );
        // A longer name is not below a shorter one.
        assert!(
            set.blocking(&format!("{app}2"), LockedOp::Delete)
                .is_empty()
        );
        let set = LockSet::from_values(&[lock(&format!("/subscriptions/{SUB}"), "NotSpecified")]);
        assert!(set.blocking(&app, LockedOp::Delete).is_empty());
    }

    #[test]
    fn scopes() {
        let ok = [
            format!("/subscriptions/{SUB}"),
            format!("/subscriptions/{SUB}/resourceGroups/rg"),
            format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/s"),
        ];
        for s in ok {
            assert!(lock_scope(&s).is_ok(), "{s}");
        }
        let bad = [
            "subscriptions/x".to_string(),
            "/subscriptions/not-a-guid".to_string(),
            format!("/subscriptions/{SUB}/"),
            format!("/subscriptions/{SUB}/resourceGroups"),
            format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites"),
            format!("/subscriptions/{SUB}/resourceGroups/rg?x=1"),
        ];
        for s in bad {
            assert!(lock_scope(&s).is_err(), "{s}");
        }
    }
}
