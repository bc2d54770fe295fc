//! Bulk loading: many rows of every kind written in the caller's one transaction with
//! prepared statements, for a generated tenant. Plain `INSERT`s, so a duplicate key fails the
//! whole load instead of silently replacing a row. Like the rest of `store`, it knows rows and
//! keys, not HTTP or how the rows were made.

use rusqlite::params;

use super::{
    FicRecord, GroupRecord, IdentityRecord, ResourceRecord, RoleAssignmentRecord, StoreError, Tx,
    key_of,
};

/// A role assignment row with its keys (see `Tx::put_assignment`).
#[derive(Debug, Clone)]
pub struct AssignmentRow {
    /// Full id key (lower case).
    pub key: String,
    /// Subscription key of the scope.
    pub sub: String,
    /// Scope key (lower case).
    pub scope: String,
    /// Role definition GUID (lower case).
    pub role: String,
    /// The assignment.
    pub record: RoleAssignmentRecord,
}

/// Everything a bulk load writes; subscription keys are lower case.
#[derive(Debug, Default)]
pub struct BulkRows {
    /// `(subscription, group)`.
    pub groups: Vec<(String, GroupRecord)>,
    /// `(subscription, identity)`.
    pub identities: Vec<(String, IdentityRecord)>,
    /// `(subscription, group key, identity key, credential)`.
    pub credentials: Vec<(String, String, String, FicRecord)>,
    /// `(subscription, resource)`.
    pub resources: Vec<(String, ResourceRecord)>,
    /// Role assignments.
    pub assignments: Vec<AssignmentRow>,
}

/// The tables that hold a tenant's contents (meta and operations are bookkeeping).
const CONTENT_TABLES: [&str; 5] = [
    "groups",
    "identities",
    "federated_credentials",
    "resources",
    "role_assignments",
];

impl Tx<'_> {
    /// How many rows the content tables hold in all: zero for a fresh store.
    pub fn content_rows(&self) -> Result<u64, StoreError> {
        let mut total: i64 = 0;
        for table in CONTENT_TABLES {
            let n: i64 = self
                .tx
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            total = total.saturating_add(n);
        }
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Writes every row of `rows`; any failure (a duplicate key among them) fails the load.
    pub fn insert_bulk(&self, rows: &BulkRows) -> Result<(), StoreError> {
        let mut stmt = self
            .tx
            .prepare("INSERT INTO groups (sub, key, body) VALUES (?1, ?2, ?3)")?;
        for (sub, g) in &rows.groups {
            stmt.execute(params![sub, key_of(&g.name), serde_json::to_string(g)?])?;
        }
        let mut stmt = self.tx.prepare(
            "INSERT INTO identities (sub, grp, key, client_id, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (sub, i) in &rows.identities {
            stmt.execute(params![
                sub,
                key_of(&i.resource_group),
                key_of(&i.name),
                i.client_id.to_ascii_lowercase(),
                serde_json::to_string(i)?
            ])?;
        }
        let mut stmt = self.tx.prepare(
            "INSERT INTO federated_credentials (sub, grp, identity, key, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (sub, group, identity, f) in &rows.credentials {
            stmt.execute(params![
                sub,
                group,
                identity,
                key_of(&f.name),
                serde_json::to_string(f)?
            ])?;
        }
        let mut stmt = self.tx.prepare(
            "INSERT INTO resources (sub, grp, kind, key, system_principal, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut link = self.tx.prepare(
            "INSERT INTO resource_identities (identity, sub, grp, kind, key) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (sub, r) in &rows.resources {
            let (group, kind, key) = (key_of(&r.resource_group), r.kind_key(), key_of(&r.name));
            let system = r
                .identity
                .system
                .as_ref()
                .map(|s| s.principal_id.to_ascii_lowercase());
            stmt.execute(params![
                sub,
                group,
                kind,
                key,
                system,
                serde_json::to_string(r)?
            ])?;
            for identity in r.identity.user.keys() {
                link.execute(params![identity, sub, group, kind, key])?;
            }
        }
        let mut stmt = self.tx.prepare(
            "INSERT INTO role_assignments (key, sub, scope, principal, role, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for a in &rows.assignments {
            stmt.execute(params![
                a.key,
                a.sub,
                a.scope,
                a.record.principal_id.to_ascii_lowercase(),
                a.role,
                serde_json::to_string(&a.record)?
            ])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::Store;
    use std::collections::BTreeMap;

    fn group(name: &str) -> GroupRecord {
        GroupRecord {
            name: name.into(),
            location: "eastus".into(),
            tags: None,
            managed_by: None,
            deleting: false,
        }
    }

    #[test]
    fn a_duplicate_row_fails_the_whole_load() {
        let store = Store::open(None).unwrap();
        let rows = BulkRows {
            groups: vec![("s".into(), group("a")), ("s".into(), group("A"))],
            ..BulkRows::default()
        };
        let result = store.transaction(|tx| tx.insert_bulk(&rows));
        assert!(result.is_err());
        let left = store.read(|tx| tx.content_rows()).unwrap();
        assert_eq!(left, 0, "nothing of a failed load stays");
    }

    #[test]
    fn loaded_rows_read_back_through_the_usual_queries() {
        let store = Store::open(None).unwrap();
        let rows = BulkRows {
            groups: vec![("s".into(), group("rg-0"))],
            identities: vec![(
                "s".into(),
                IdentityRecord {
                    name: "id-1".into(),
                    resource_group: "rg-0".into(),
                    location: "eastus".into(),
                    tags: BTreeMap::new(),
                    tenant_id: "t".into(),
                    principal_id: "p".into(),
                    client_id: "C".into(),
                    isolation_scope: "None".into(),
                    restricted_providers: vec![],
                    created_ms: 0,
                },
            )],
            ..BulkRows::default()
        };
        store.transaction(|tx| tx.insert_bulk(&rows)).unwrap();
        let (count, found) = store
            .read(|tx| Ok::<_, StoreError>((tx.content_rows()?, tx.identity_by_client_id("c")?)))
            .unwrap();
        assert_eq!(count, 2);
        assert_eq!(found.map(|i| i.name), Some("id-1".to_string()));
    }
}
