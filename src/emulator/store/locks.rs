//! Management lock rows, a child of `store` like `assignments`: keyed by the lower-case lock
//! id, with the lower-case scope it sits at, so that the locks over a scope (at or above it)
//! and under it (at or below) are found from one subscription's rows.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{StoreError, Tx};

/// The table of this module (created when missing, so older data files gain it).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS locks (
    key TEXT PRIMARY KEY, sub TEXT NOT NULL, scope TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS locks_scope ON locks (sub, scope);
";

/// A stored management lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockRecord {
    /// Name as last supplied.
    pub name: String,
    /// The locked scope, spelled canonically with the names as supplied.
    pub scope: String,
    /// `NotSpecified`, `CanNotDelete` or `ReadOnly`.
    pub level: String,
    /// Notes, as sent.
    pub notes: Option<String>,
    /// Owners' application ids, as sent (`None` when the body had no `owners`).
    pub owners: Option<Vec<Option<String>>>,
}

/// A lock row with its keys.
#[derive(Debug, Clone)]
pub struct StoredLock {
    /// Lower-case lock id (the resume key of listings).
    pub key: String,
    /// Lower-case scope key.
    pub scope: String,
    /// The lock.
    pub record: LockRecord,
}

impl Tx<'_> {
    /// A lock by its id key.
    pub fn lock(&self, key: &str) -> Result<Option<LockRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached("SELECT body FROM locks WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Inserts or replaces a lock; says whether it replaced one.
    pub fn put_lock(
        &self,
        key: &str,
        sub: &str,
        scope: &str,
        record: &LockRecord,
    ) -> Result<bool, StoreError> {
        let existed = self.lock(key)?.is_some();
        self.locks_changed.set(true);
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO locks (key, sub, scope, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![key, sub, scope, serde_json::to_string(record)?])?;
        Ok(existed)
    }

    /// Removes a lock; says whether it existed.
    pub fn remove_lock(&self, key: &str) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM locks WHERE key = ?1")?
            .execute([key])?;
        if n > 0 {
            self.locks_changed.set(true);
        }
        Ok(n > 0)
    }

    /// Every lock of a subscription, in key order (a subscription holds few locks).
    pub fn locks_in(&self, sub: &str) -> Result<Vec<StoredLock>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT key, scope, body FROM locks WHERE sub = ?1 ORDER BY key")?;
        let rows = stmt.query_map([sub], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, scope, body) = row?;
            out.push(StoredLock {
                key,
                scope,
                record: serde_json::from_str(&body)?,
            });
        }
        Ok(out)
    }

    /// Removes the locks at or below a scope key: what goes with a deleted group or resource.
    pub(super) fn remove_locks_within(&self, sub: &str, scope: &str) -> Result<(), StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "DELETE FROM locks WHERE sub = ?1 AND (scope = ?2 OR (scope > ?3 AND scope < ?4))",
            )?
            .execute(params![
                sub,
                scope,
                format!("{scope}/"),
                format!("{scope}0")
            ])?;
        if n > 0 {
            self.locks_changed.set(true);
        }
        Ok(())
    }
}

/// Whether the scope key `inner` is `outer` or lies below it.
pub fn scope_within(inner: &str, outer: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}
