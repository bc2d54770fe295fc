//! The relationship rows: federated identity credentials, generic resources with the identities
//! they reference, the schema of all (role assignment rows are in `assignments`), and the
//! cascades. A child of `store`, so it shares its transaction;
//! like it, it knows rows and keys, not HTTP. Every key is lower case; bodies keep the case
//! last supplied. Cascades (an identity's credentials, a group's contents) run here, inside
//! the caller's transaction.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Listing, StoreError, Tx, key_of, page, page_with};

/// The tables of this module (created when missing, so older data files gain them).
pub(super) const SCHEMA: &str = "
CREATE INDEX IF NOT EXISTS identities_principal ON identities (lower(json_extract(body, '$.principal_id')));
CREATE TABLE IF NOT EXISTS federated_credentials (
    sub TEXT NOT NULL, grp TEXT NOT NULL, identity TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (sub, grp, identity, key));
CREATE TABLE IF NOT EXISTS resources (
    sub TEXT NOT NULL, grp TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    system_principal TEXT, body TEXT NOT NULL,
    PRIMARY KEY (sub, grp, kind, key));
CREATE INDEX IF NOT EXISTS resources_principal ON resources (system_principal);
CREATE TABLE IF NOT EXISTS resource_identities (
    identity TEXT NOT NULL, sub TEXT NOT NULL, grp TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (identity, sub, grp, kind, key));
CREATE INDEX IF NOT EXISTS resource_identities_of ON resource_identities (sub, grp, kind, key);
CREATE TABLE IF NOT EXISTS role_assignments (
    key TEXT PRIMARY KEY, sub TEXT NOT NULL, scope TEXT NOT NULL, principal TEXT NOT NULL,
    role TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS role_assignments_scope ON role_assignments (sub, scope);
CREATE INDEX IF NOT EXISTS role_assignments_principal ON role_assignments (principal);
";

/// A stored federated identity credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FicRecord {
    /// Name as last supplied.
    pub name: String,
    /// Issuer URL.
    pub issuer: String,
    /// Subject; `None` only beside a claims-matching expression.
    pub subject: Option<String>,
    /// Audiences.
    pub audiences: Vec<String>,
    /// `claimsMatchingExpression`, when a version that has it sent one.
    #[serde(default)]
    pub claims: Option<Value>,
}

/// A stored generic resource (any namespace but the two the emulator serves itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// Name as last supplied.
    pub name: String,
    /// Resource group as last supplied in the path.
    pub resource_group: String,
    /// Provider namespace as last supplied, e.g. `Microsoft.Compute`.
    pub namespace: String,
    /// Resource type as last supplied, e.g. `virtualMachines`.
    pub kind: String,
    /// Normalised location.
    pub location: String,
    /// Tags (`{}` when none).
    pub tags: BTreeMap<String, String>,
    /// Every other top-level key of the body (`properties`, `sku`, `kind`...), as sent.
    pub rest: serde_json::Map<String, Value>,
    /// The managed identities it uses.
    pub identity: IdentityBlock,
    /// When it was created (milliseconds since the Unix epoch).
    pub created_ms: i64,
}

/// The identities a resource uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityBlock {
    /// The system-assigned identity, when enabled.
    pub system: Option<SystemIdentity>,
    /// Referenced user-assigned identities: key (lower-case id) -> id as first supplied.
    pub user: BTreeMap<String, String>,
}

/// A resource's system-assigned identity: made when enabled, gone when disabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemIdentity {
    /// Object id of its service principal.
    pub principal_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// When it was made (milliseconds since the Unix epoch), for the replication delay.
    pub created_ms: i64,
}

/// The scope key of a resource group.
pub fn group_scope_key(sub: &str, group: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{group}")
}

/// The scope key (and reference key) of a user-assigned identity.
pub fn identity_scope_key(sub: &str, group: &str, key: &str) -> String {
    format!(
        "{}/providers/microsoft.managedidentity/userassignedidentities/{key}",
        group_scope_key(sub, group)
    )
}

/// The scope key of a generic resource; `kind` is `namespace/type` in lower case.
pub fn resource_scope_key(sub: &str, group: &str, kind: &str, key: &str) -> String {
    format!("{}/providers/{kind}/{key}", group_scope_key(sub, group))
}

impl ResourceRecord {
    /// `namespace/type` in lower case: the resource's `kind` column.
    pub fn kind_key(&self) -> String {
        key_of(&format!("{}/{}", self.namespace, self.kind))
    }
}

impl Tx<'_> {
    /// A federated credential by keys.
    pub fn fic(
        &self,
        sub: &str,
        group: &str,
        identity: &str,
        key: &str,
    ) -> Result<Option<FicRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached(
                "SELECT body FROM federated_credentials WHERE sub = ?1 AND grp = ?2 AND identity = ?3 AND key = ?4",
            )?
            .query_row(params![sub, group, identity, key], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Every federated credential of one identity, in key order (there are at most 20).
    pub fn fics_of(
        &self,
        sub: &str,
        group: &str,
        identity: &str,
    ) -> Result<Vec<FicRecord>, StoreError> {
        Ok(self.fics(sub, group, identity, "", 10_000)?.items)
    }

    /// A page of one identity's federated credentials after the key `after`.
    pub fn fics(
        &self,
        sub: &str,
        group: &str,
        identity: &str,
        after: &str,
        limit: usize,
    ) -> Result<Listing<FicRecord>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT key, body FROM federated_credentials WHERE sub = ?1 AND grp = ?2 AND identity = ?3 \
             AND key > ?4 ORDER BY key LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![sub, group, identity, after, limit as i64 + 1],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        page(rows, limit)
    }

    /// Inserts or replaces a federated credential.
    pub fn put_fic(
        &self,
        sub: &str,
        group: &str,
        identity: &str,
        record: &FicRecord,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO federated_credentials (sub, grp, identity, key, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                sub,
                group,
                identity,
                key_of(&record.name),
                serde_json::to_string(record)?
            ])?;
        Ok(())
    }

    /// Removes a federated credential; says whether it existed.
    pub fn remove_fic(
        &self,
        sub: &str,
        group: &str,
        identity: &str,
        key: &str,
    ) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "DELETE FROM federated_credentials WHERE sub = ?1 AND grp = ?2 AND identity = ?3 AND key = ?4",
            )?
            .execute(params![sub, group, identity, key])?;
        Ok(n > 0)
    }

    /// A generic resource by keys (`kind` is `namespace/type` in lower case).
    pub fn resource(
        &self,
        sub: &str,
        group: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached(
                "SELECT body FROM resources WHERE sub = ?1 AND grp = ?2 AND kind = ?3 AND key = ?4",
            )?
            .query_row(params![sub, group, kind, key], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Inserts or replaces a generic resource and the list of identities it references.
    pub fn put_resource(&self, sub: &str, record: &ResourceRecord) -> Result<(), StoreError> {
        let (group, kind, key) = (
            key_of(&record.resource_group),
            record.kind_key(),
            key_of(&record.name),
        );
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO resources (sub, grp, kind, key, system_principal, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                sub,
                group,
                kind,
                key,
                record
                    .identity
                    .system
                    .as_ref()
                    .map(|s| s.principal_id.to_ascii_lowercase()),
                serde_json::to_string(record)?
            ])?;
        self.unlink_resource(sub, &group, &kind, &key)?;
        let mut link = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO resource_identities (identity, sub, grp, kind, key) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for identity in record.identity.user.keys() {
            link.execute(params![identity, sub, group, kind, key])?;
        }
        Ok(())
    }

    /// Removes a generic resource, its identity references and the role assignments at its
    /// scope; says whether it existed.
    pub fn remove_resource(
        &self,
        sub: &str,
        group: &str,
        kind: &str,
        key: &str,
    ) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "DELETE FROM resources WHERE sub = ?1 AND grp = ?2 AND kind = ?3 AND key = ?4",
            )?
            .execute(params![sub, group, kind, key])?;
        self.unlink_resource(sub, group, kind, key)?;
        self.remove_assignments_within(sub, &resource_scope_key(sub, group, kind, key))?;
        Ok(n > 0)
    }

    fn unlink_resource(
        &self,
        sub: &str,
        group: &str,
        kind: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "DELETE FROM resource_identities WHERE sub = ?1 AND grp = ?2 AND kind = ?3 AND key = ?4",
            )?
            .execute(params![sub, group, kind, key])?;
        Ok(())
    }

    /// A page of the generic resources of one type in one group, after the key `after`.
    pub fn resources_of_type(
        &self,
        sub: &str,
        group: &str,
        kind: &str,
        after: &str,
        limit: usize,
    ) -> Result<Listing<ResourceRecord>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT key, body FROM resources WHERE sub = ?1 AND grp = ?2 AND kind = ?3 AND key > ?4 \
             ORDER BY key LIMIT ?5",
        )?;
        let rows = stmt.query_map(params![sub, group, kind, after, limit as i64 + 1], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        page(rows, limit)
    }

    /// A page of every resource of a subscription (or of one group): generic resources and
    /// user-assigned identities, ordered by `group/namespace/type/name`.
    pub fn all_resources(
        &self,
        sub: &str,
        group: Option<&str>,
        after: &str,
        limit: usize,
    ) -> Result<Listing<AnyResource>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT k, tag, body FROM ( \
               SELECT grp || '/' || kind || '/' || key AS k, 'r' AS tag, body FROM resources \
                 WHERE sub = ?1 AND (?2 IS NULL OR grp = ?2) \
               UNION ALL \
               SELECT grp || '/microsoft.managedidentity/userassignedidentities/' || key, 'i', body \
                 FROM identities WHERE sub = ?1 AND (?2 IS NULL OR grp = ?2) \
             ) WHERE k > ?3 ORDER BY k LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![sub, group, after, limit as i64 + 1], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get::<_, String>(1)?, r.get::<_, String>(2)?),
            ))
        })?;
        page_with(rows, limit, |(tag, body)| {
            Ok(if tag == "r" {
                AnyResource::Generic(serde_json::from_str(&body)?)
            } else {
                AnyResource::Identity(serde_json::from_str(&body)?)
            })
        })
    }

    /// How many resources reference an identity (by its reference key), and a page of them
    /// in `sub/group/kind/name` order after `after`.
    pub fn resources_using(
        &self,
        identity: &str,
        after: &str,
        limit: usize,
    ) -> Result<(u64, Listing<(String, ResourceRecord)>), StoreError> {
        let total: i64 = self
            .tx
            .prepare_cached("SELECT count(*) FROM resource_identities WHERE identity = ?1")?
            .query_row([identity], |r| r.get(0))?;
        let mut stmt = self.tx.prepare_cached(
            "SELECT l.sub || '/' || l.grp || '/' || l.kind || '/' || l.key AS k, l.sub, r.body \
             FROM resource_identities l JOIN resources r \
               ON r.sub = l.sub AND r.grp = l.grp AND r.kind = l.kind AND r.key = l.key \
             WHERE l.identity = ?1 AND k > ?2 ORDER BY k LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![identity, after, limit as i64 + 1], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get::<_, String>(1)?, r.get::<_, String>(2)?),
            ))
        })?;
        let listing = page_with(rows, limit, |(sub, body)| {
            Ok((sub, serde_json::from_str(&body)?))
        })?;
        Ok((total.max(0) as u64, listing))
    }

    /// The resource types (as last spelled) of a namespace (lower case) that have resources
    /// in the subscription.
    pub fn resource_types(&self, sub: &str, namespace: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT kind, json_extract(body, '$.kind') FROM resources WHERE sub = ?1 AND kind > ?2 AND kind < ?3 \
             GROUP BY kind ORDER BY kind",
        )?;
        let rows = stmt.query_map(
            params![sub, format!("{namespace}/"), format!("{namespace}0")],
            |r| r.get::<_, String>(1),
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The resource whose system-assigned identity has this principal id, if any.
    pub fn resource_by_system_principal(
        &self,
        principal_id: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached("SELECT body FROM resources WHERE system_principal = ?1 LIMIT 1")?
            .query_row([principal_id.to_ascii_lowercase()], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// What goes with an identity: its federated credentials and the role assignments at its
    /// scope. Assignments *to* its principal stay, orphaned, as in Azure.
    pub(super) fn cascade_identity(
        &self,
        sub: &str,
        group: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "DELETE FROM federated_credentials WHERE sub = ?1 AND grp = ?2 AND identity = ?3",
            )?
            .execute(params![sub, group, key])?;
        self.remove_assignments_within(sub, &identity_scope_key(sub, group, key))
    }

    /// What goes with a resource group besides its identities: credentials, generic
    /// resources and their references, and the role assignments at or below its scope.
    pub(super) fn cascade_group(&self, sub: &str, group: &str) -> Result<(), StoreError> {
        for table in ["federated_credentials", "resources", "resource_identities"] {
            self.tx.execute(
                &format!("DELETE FROM {table} WHERE sub = ?1 AND grp = ?2"),
                params![sub, group],
            )?;
        }
        self.remove_assignments_within(sub, &group_scope_key(sub, group))
    }
}

/// One row of a subscription's resource list.
#[derive(Debug, Clone)]
pub enum AnyResource {
    /// A generic resource.
    Generic(ResourceRecord),
    /// A user-assigned identity.
    Identity(super::IdentityRecord),
}
