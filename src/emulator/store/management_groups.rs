//! Management group rows, a child of `store`: the groups below the tenant's root group (the
//! root itself is not stored; it is named by the tenant id) and where each subscription sits.
//! A subscription without a row sits directly under the root. Keys are lower case.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{StoreError, Tx};

/// The tables of this module (created when missing, so older data files gain them).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS management_groups (key TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS management_group_subscriptions (
    sub TEXT PRIMARY KEY, grp TEXT NOT NULL);
";

/// A stored management group (never the root).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagementGroupRecord {
    /// The group id (its name), as supplied.
    pub name: String,
    /// Friendly name; the name when none was given.
    pub display_name: String,
    /// Key of the parent group (the tenant id's key for the root).
    pub parent: String,
    /// Bumped on every change.
    pub version: i64,
    /// When it last changed (milliseconds since the Unix epoch).
    pub updated_ms: i64,
    /// Object id of its last writer.
    pub updated_by: String,
}

impl Tx<'_> {
    /// Every stored management group, in key order.
    pub fn management_groups(&self) -> Result<Vec<ManagementGroupRecord>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT body FROM management_groups ORDER BY key")?;
        let bodies = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        bodies
            .iter()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    /// A management group by key.
    pub fn management_group(&self, key: &str) -> Result<Option<ManagementGroupRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached("SELECT body FROM management_groups WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Inserts or replaces a management group.
    pub fn put_management_group(&self, record: &ManagementGroupRecord) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO management_groups (key, body) VALUES (?1, ?2)")?
            .execute(params![
                super::key_of(&record.name),
                serde_json::to_string(record)?
            ])?;
        Ok(())
    }

    /// Removes a management group and the role assignments at its scope; says whether it existed.
    pub fn remove_management_group(&self, key: &str, scope_key: &str) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM management_groups WHERE key = ?1")?
            .execute([key])?;
        self.tx
            .prepare_cached("DELETE FROM role_assignments WHERE sub = '' AND scope = ?1")?
            .execute([scope_key])?;
        Ok(n > 0)
    }

    /// Every subscription placed below a group other than the root: `(sub key, group key)`.
    pub fn subscription_placements(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT sub, grp FROM management_group_subscriptions ORDER BY sub")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Places a subscription (key) under a group (key); `None` puts it back under the root.
    pub fn place_subscription(&self, sub: &str, group: Option<&str>) -> Result<(), StoreError> {
        match group {
            Some(group) => self
                .tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO management_group_subscriptions (sub, grp) VALUES (?1, ?2)",
                )?
                .execute(params![sub, group])?,
            None => self
                .tx
                .prepare_cached("DELETE FROM management_group_subscriptions WHERE sub = ?1")?
                .execute([sub])?,
        };
        Ok(())
    }
}

/// Where a role-assignment listing at a management group looks.
#[derive(Debug, Clone)]
pub struct GroupAssignmentQuery<'a> {
    /// Scope keys at or above the group (the group and its ancestors).
    pub at_or_above: &'a [String],
    /// Scope keys of the groups below it, when the listing includes what is below.
    pub below_groups: &'a [String],
    /// Keys of the subscriptions below it, whose every assignment is below the group.
    pub below_subs: &'a [String],
    /// Only this principal (lower case).
    pub principal: Option<&'a str>,
}

impl Tx<'_> {
    /// A page of role assignments at, above or below a management group, in key order after `after`.
    pub fn group_assignments(
        &self,
        query: &GroupAssignmentQuery<'_>,
        after: &str,
        limit: usize,
    ) -> Result<super::Listing<super::RoleAssignmentRecord>, StoreError> {
        let marks = |n: usize| vec!["?"; n.max(1)].join(", ");
        let mut sql = format!(
            "SELECT key, body FROM role_assignments WHERE key > ? AND ((sub = '' AND scope IN ({}))",
            marks(query.at_or_above.len() + query.below_groups.len())
        );
        let mut args: Vec<String> = vec![after.to_string()];
        args.extend(query.at_or_above.iter().cloned());
        args.extend(query.below_groups.iter().cloned());
        if query.at_or_above.is_empty() && query.below_groups.is_empty() {
            args.push(String::new());
        }
        if !query.below_subs.is_empty() {
            sql.push_str(&format!(" OR sub IN ({})", marks(query.below_subs.len())));
            args.extend(query.below_subs.iter().cloned());
        }
        sql.push(')');
        self.assignment_page(sql, args, query.principal, limit)
    }
}
