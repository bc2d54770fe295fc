//! Role assignment rows, a child of `store` like `relations`: keys are the
//! lower-case assignment id, its scope and principal, so that a scope's listing ("at, above
//! and below") and the cascades of a deleted group, identity or resource are index ranges.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Listing, StoreError, Tx, page};

/// A stored role assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignmentRecord {
    /// The assignment's GUID, as supplied.
    pub name: String,
    /// The scope, spelled canonically with the names as supplied.
    pub scope: String,
    /// `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}`.
    pub role_definition_id: String,
    /// Object id of the principal.
    pub principal_id: String,
    /// `ServicePrincipal`, `User`...
    pub principal_type: String,
    /// Free text.
    pub description: Option<String>,
    /// When it was created (milliseconds since the Unix epoch).
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// Object id of its creator.
    pub created_by: String,
    /// Object id of its last writer.
    pub updated_by: String,
    /// ABAC condition, as sent.
    #[serde(default)]
    pub condition: Option<String>,
    /// Version of the condition, as sent.
    #[serde(default)]
    pub condition_version: Option<String>,
}

/// Where a role-assignment listing looks, besides `at` itself.
#[derive(Debug, Clone)]
pub struct AssignmentQuery<'a> {
    /// Subscription key.
    pub sub: &'a str,
    /// Scope keys whose assignments count as "at or above" (the scope itself and its ancestors).
    pub at_or_above: &'a [String],
    /// Include assignments below this scope key.
    pub below: Option<&'a str>,
    /// Only this principal (lower case).
    pub principal: Option<&'a str>,
}

impl Tx<'_> {
    /// A role assignment by its full id key.
    pub fn assignment(&self, key: &str) -> Result<Option<RoleAssignmentRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached("SELECT body FROM role_assignments WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// The assignment of this principal and role (GUID, lower case) at exactly this scope key.
    pub fn assignment_of(
        &self,
        sub: &str,
        scope: &str,
        principal: &str,
        role: &str,
    ) -> Result<Option<RoleAssignmentRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached(
                "SELECT body FROM role_assignments WHERE sub = ?1 AND scope = ?2 AND principal = ?3 AND role = ?4 \
                 LIMIT 1",
            )?
            .query_row(params![sub, scope, principal, role], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Inserts or replaces a role assignment under its full id key.
    pub fn put_assignment(
        &self,
        key: &str,
        sub: &str,
        scope: &str,
        role: &str,
        record: &RoleAssignmentRecord,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO role_assignments (key, sub, scope, principal, role, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                key,
                sub,
                scope,
                record.principal_id.to_ascii_lowercase(),
                role,
                serde_json::to_string(record)?
            ])?;
        Ok(())
    }

    /// Removes a role assignment; says whether it existed.
    pub fn remove_assignment(&self, key: &str) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM role_assignments WHERE key = ?1")?
            .execute([key])?;
        Ok(n > 0)
    }

    /// A page of role assignments, in key order after `after`.
    pub fn assignments(
        &self,
        query: &AssignmentQuery<'_>,
        after: &str,
        limit: usize,
    ) -> Result<Listing<RoleAssignmentRecord>, StoreError> {
        // Scope keys are lower case and `/`-separated, so "below S" is the range (S + "/", S + "0").
        // Management-group scopes above a subscription are stored with an empty `sub`.
        let mut sql = String::from(
            "SELECT key, body FROM role_assignments WHERE key > ? AND ((sub IN (?, '') AND ",
        );
        let mut args: Vec<String> = vec![after.to_string(), query.sub.to_string()];
        let marks = vec!["?"; query.at_or_above.len()].join(", ");
        sql.push_str(&format!("scope IN ({marks}))"));
        args.extend(query.at_or_above.iter().cloned());
        if let Some(below) = query.below {
            sql.push_str(" OR (sub = ? AND scope > ? AND scope < ?)");
            args.push(query.sub.to_string());
            args.push(format!("{below}/"));
            args.push(format!("{below}0"));
        }
        sql.push(')');
        self.assignment_page(sql, args, query.principal, limit)
    }

    /// Runs a role-assignment listing whose `WHERE (...)` is in `sql`: only `principal`'s
    /// when given, in key order, one page of `limit`.
    pub(super) fn assignment_page(
        &self,
        mut sql: String,
        mut args: Vec<String>,
        principal: Option<&str>,
        limit: usize,
    ) -> Result<Listing<RoleAssignmentRecord>, StoreError> {
        if let Some(principal) = principal {
            sql.push_str(" AND principal = ?");
            args.push(principal.to_string());
        }
        sql.push_str(" ORDER BY key LIMIT ?");
        let mut stmt = self.tx.prepare(&sql)?;
        let mut values: Vec<rusqlite::types::Value> =
            args.into_iter().map(rusqlite::types::Value::from).collect();
        values.push(rusqlite::types::Value::from(limit as i64 + 1));
        let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        page(rows, limit)
    }

    /// Removes every role assignment at or below a scope key.
    pub(super) fn remove_assignments_within(
        &self,
        sub: &str,
        scope: &str,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "DELETE FROM role_assignments WHERE sub = ?1 AND (scope = ?2 OR (scope > ?3 AND scope < ?4))",
            )?
            .execute(params![sub, scope, format!("{scope}/"), format!("{scope}0")])?;
        // Locks are extension resources too: they go with what they lock.
        self.remove_locks_within(sub, scope)
    }
}
