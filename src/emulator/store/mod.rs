//! SQLite persistence for the emulator. Keys are lower-cased names (ARM matches names
//! case-insensitively); bodies keep the case the user last supplied. WAL with
//! `synchronous=NORMAL` makes every committed write survive a `kill -9` of the process.
//! This module knows rows, not HTTP: validation and status codes live in the handlers.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

mod assignments;
mod bulk;
mod checkpoint;
mod locks;
mod management_groups;
mod relations;
pub use assignments::*;
pub use bulk::*;
pub use locks::*;
pub use management_groups::*;
pub use relations::*;

/// A failure of the store itself (not of the request).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored body no longer parses.
    #[error("corrupt row: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// A previous panic poisoned the connection lock.
    #[error("the store lock is poisoned")]
    Poisoned,
    /// The store's checkpoint thread could not be started.
    #[error("store thread: {0}")]
    Io(String),
}

/// A stored user-assigned identity (the api-version decides which fields are rendered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityRecord {
    /// Name as last supplied.
    pub name: String,
    /// Resource group name as last supplied in the request path.
    pub resource_group: String,
    /// Normalised location.
    pub location: String,
    /// Tags (`{}` when none).
    pub tags: BTreeMap<String, String>,
    /// Generated once, never changed.
    pub tenant_id: String,
    /// Generated once, never changed.
    pub principal_id: String,
    /// Generated once, never changed.
    pub client_id: String,
    /// `None` or `Regional`.
    pub isolation_scope: String,
    /// `assignmentRestrictions.providers`.
    #[serde(default)]
    pub restricted_providers: Vec<String>,
    /// When it was created (milliseconds since the Unix epoch; 0 in data files written before
    /// it was recorded): role assignments to its principal wait for the replication delay from here.
    #[serde(default)]
    pub created_ms: i64,
}

/// A stored resource group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Name as last supplied.
    pub name: String,
    /// Normalised location.
    pub location: String,
    /// Tags, or `None` when the group never had any.
    pub tags: Option<BTreeMap<String, String>>,
    /// `managedBy`.
    pub managed_by: Option<String>,
    /// True from the accepted DELETE until the group is gone.
    pub deleting: bool,
}

/// An asynchronous resource-group deletion.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The id in the operation URL.
    pub id: String,
    /// Subscription key.
    pub sub: String,
    /// Resource group key.
    pub group: String,
    /// When it completes (milliseconds since the Unix epoch).
    pub due_ms: i64,
    /// Whether it has completed.
    pub done: bool,
}

/// One page of a key-ordered listing.
#[derive(Debug)]
pub struct Listing<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// The key to resume after, when more rows remain.
    pub next_after: Option<String>,
}

/// A subscription's locks as read: `(data_version, lock_changes, locks)` then.
type SeenLocks = (i64, u64, Vec<StoredLock>);

/// The emulator's store: one SQLite connection behind a lock; calls are short.
pub struct Store {
    conn: Mutex<Connection>,
    /// What moves a file store's log into its database (none in memory).
    _checkpoints: Option<checkpoint::Checkpointer>,
    /// Bumped by every transaction of this store that changed a lock.
    lock_changes: AtomicU64,
    /// Each subscription's locks as last read, with the file's `data_version` (which other
    /// connections' commits change) and `lock_changes` then.
    locks_seen: Mutex<HashMap<String, SeenLocks>>,
}

/// How long a write waits for another process's lock on the same file before it fails.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Compiled statements kept per connection: more than the store has.
const STATEMENT_CACHE: usize = 256;

/// How much of a store file SQLite maps into memory.
const MMAP_BYTES: i64 = 1 << 30;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS groups (
    sub TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (sub, key));
CREATE TABLE IF NOT EXISTS identities (
    sub TEXT NOT NULL, grp TEXT NOT NULL, key TEXT NOT NULL, client_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (sub, grp, key));
CREATE INDEX IF NOT EXISTS identities_client ON identities (client_id);
CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY, sub TEXT NOT NULL, grp TEXT NOT NULL, due_ms INTEGER NOT NULL, done INTEGER NOT NULL);
";

impl Store {
    /// Opens (creating if needed) the store at `path`, or an in-memory one.
    pub fn open(path: Option<&Path>) -> Result<Self, StoreError> {
        let conn = match path {
            Some(p) => {
                let conn = Connection::open(p)?;
                // Another process on the same file holds its lock only for one short
                // transaction; wait for it rather than fail.
                conn.busy_timeout(BUSY_TIMEOUT)?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                // Lists read the same pages over and over: mapped, they cost no read call
                // each (the default 2 MB page cache holds a fraction of a seeded tenant).
                conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
                // Checkpoints are the checkpoint thread's, not a request's commit.
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                conn
            }
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // One plan per statement whatever its parameters: with STAT4 compiled in, a cached
        // statement with a range over a bound key was compiled again at every new key.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // Every statement the store runs stays compiled (rusqlite keeps 16 by default, and
        // the store has more: the rest were compiled again at each use).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(relations::SCHEMA)?;
        conn.execute_batch(management_groups::SCHEMA)?;
        conn.execute_batch(locks::SCHEMA)?;
        let checkpoints = match path {
            Some(p) => Some(checkpoint::Checkpointer::start(p, BUSY_TIMEOUT)?),
            None => None,
        };
        Ok(Self {
            conn: Mutex::new(conn),
            _checkpoints: checkpoints,
            lock_changes: AtomicU64::new(0),
            locks_seen: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `f` in one write transaction: either all its writes land, or none.
    pub fn transaction<R, E>(&self, f: impl FnOnce(&Tx<'_>) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        // IMMEDIATE takes the write lock up front, waiting (busy timeout) while another
        // process writes; a deferred transaction that read first and then writes fails at
        // once with "database is locked" when the other process committed in between.
        self.within(&conn, "BEGIN IMMEDIATE", "COMMIT", f)
    }

    /// Runs `f` between `begin` and `end` on `conn` (rolled back when `f` fails); a change
    /// of a lock, landed or not, makes the locks read before it untrusted.
    fn within<R, E>(
        &self,
        conn: &Connection,
        begin: &str,
        end: &str,
        f: impl FnOnce(&Tx<'_>) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let open = Open::begin(conn, begin)?;
        let tx = Tx::on(conn);
        let out = f(&tx);
        if tx.locks_changed.get() {
            self.lock_changes.fetch_add(1, Ordering::SeqCst);
        }
        let out = out?;
        open.end(end)?;
        Ok(out)
    }

    /// Every lock of a subscription, as `Tx::locks_in` reads it: each write request asks, and
    /// locks seldom change, so the last answer is kept while neither this store nor another
    /// connection to its file has committed a change that could touch it.
    pub fn locks_in(&self, sub: &str) -> Result<Vec<StoredLock>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let version: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        let changes = self.lock_changes.load(Ordering::SeqCst);
        let mut seen = self.locks_seen.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some((v, c, locks)) = seen.get(sub)
            && (*v, *c) == (version, changes)
        {
            return Ok(locks.clone());
        }
        let found = self.within(&conn, "BEGIN DEFERRED", "ROLLBACK", |tx| tx.locks_in(sub))?;
        seen.insert(sub.to_string(), (version, changes, found.clone()));
        Ok(found)
    }

    /// Reads without a write transaction.
    pub fn read<R, E>(&self, f: impl FnOnce(&Tx<'_>) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        self.within(&conn, "BEGIN DEFERRED", "ROLLBACK", f)
    }
}

/// A transaction begun on a connection: ended by `end`, rolled back if dropped before (a
/// failed or panicking closure). Its statements are cached like any other: parsing `BEGIN`
/// and `COMMIT` again at every request was a tenth of the emulator's time under load.
struct Open<'c> {
    conn: &'c Connection,
    done: bool,
}

impl<'c> Open<'c> {
    fn begin(conn: &'c Connection, sql: &str) -> Result<Self, StoreError> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(Open { conn, done: false })
    }

    fn end(mut self, sql: &str) -> Result<(), StoreError> {
        self.done = true;
        let ended = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([]));
        if ended.is_err() && !self.conn.is_autocommit() {
            // A COMMIT that failed leaves the transaction open: nothing of it lands.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        ended.map(|_| ()).map_err(StoreError::from)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done && !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut stmt| stmt.execute([]));
        }
    }
}

/// Typed access inside one transaction.
pub struct Tx<'a> {
    tx: &'a Connection,
    /// Whether this transaction changed a lock (the store then forgets the locks it read).
    locks_changed: Cell<bool>,
}

impl<'a> Tx<'a> {
    fn on(conn: &'a Connection) -> Self {
        Tx {
            tx: conn,
            locks_changed: Cell::new(false),
        }
    }
}

impl Tx<'_> {
    /// Reads a meta value, writing `init()` first when absent; stable across restarts.
    pub fn meta_or_init(
        &self,
        key: &str,
        init: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        let found: Option<String> = self
            .tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        if let Some(v) = found {
            return Ok(v);
        }
        let value = init();
        self.tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(value)
    }

    /// Reads a meta value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Writes a meta value, replacing any before.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// A resource group by key.
    pub fn group(&self, sub: &str, key: &str) -> Result<Option<GroupRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached("SELECT body FROM groups WHERE sub = ?1 AND key = ?2")?
            .query_row(params![sub, key], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Inserts or replaces a resource group.
    pub fn put_group(&self, sub: &str, record: &GroupRecord) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO groups (sub, key, body) VALUES (?1, ?2, ?3)")?
            .execute(params![
                sub,
                key_of(&record.name),
                serde_json::to_string(record)?
            ])?;
        Ok(())
    }

    /// Removes a group and everything in it (see `cascade_group`).
    pub fn remove_group(&self, sub: &str, key: &str) -> Result<(), StoreError> {
        self.cascade_group(sub, key)?;
        self.tx.execute(
            "DELETE FROM identities WHERE sub = ?1 AND grp = ?2",
            params![sub, key],
        )?;
        self.tx.execute(
            "DELETE FROM groups WHERE sub = ?1 AND key = ?2",
            params![sub, key],
        )?;
        Ok(())
    }

    /// A page of groups in key order, after the key `after`.
    pub fn groups(
        &self,
        sub: &str,
        after: &str,
        limit: usize,
    ) -> Result<Listing<GroupRecord>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT key, body FROM groups WHERE sub = ?1 AND key > ?2 ORDER BY key LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![sub, after, limit as i64 + 1], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        page(rows, limit)
    }

    /// An identity by keys.
    pub fn identity(
        &self,
        sub: &str,
        group: &str,
        key: &str,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached("SELECT body FROM identities WHERE sub = ?1 AND grp = ?2 AND key = ?3")?
            .query_row(params![sub, group, key], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// An identity by client id, anywhere.
    pub fn identity_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached("SELECT body FROM identities WHERE client_id = ?1 LIMIT 1")?
            .query_row(params![client_id.to_ascii_lowercase()], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// An identity by principal (object) id, anywhere; a scan, as this is only for token requests.
    pub fn identity_by_principal_id(
        &self,
        principal_id: &str,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let body: Option<String> = self
            .tx
            .prepare_cached(
                "SELECT body FROM identities WHERE lower(json_extract(body, '$.principal_id')) = ?1 LIMIT 1",
            )?
            .query_row(params![principal_id.to_ascii_lowercase()], |r| r.get(0))
            .optional()?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Inserts or replaces an identity.
    pub fn put_identity(&self, sub: &str, record: &IdentityRecord) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO identities (sub, grp, key, client_id, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                sub,
                key_of(&record.resource_group),
                key_of(&record.name),
                record.client_id.to_ascii_lowercase(),
                serde_json::to_string(record)?
            ])?;
        Ok(())
    }

    /// Removes an identity and what goes with it (see `cascade_identity`); says whether it existed.
    pub fn remove_identity(&self, sub: &str, group: &str, key: &str) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM identities WHERE sub = ?1 AND grp = ?2 AND key = ?3")?
            .execute(params![sub, group, key])?;
        self.cascade_identity(sub, group, key)?;
        Ok(n > 0)
    }

    /// A page of identities of one group (or of the whole subscription when `group` is `None`).
    /// The resume key is `group/name` so that one order serves both listings.
    pub fn identities(
        &self,
        sub: &str,
        group: Option<&str>,
        after: &str,
        limit: usize,
    ) -> Result<Listing<IdentityRecord>, StoreError> {
        let limit_plus = limit as i64 + 1;
        let (mut stmt, rows_params): (_, Vec<Box<dyn rusqlite::ToSql>>) = match group {
            Some(g) => (
                // `key > ?5` says the same as the line before it within the group, where
                // the index can use it: a page does not scan the pages before it.
                self.tx.prepare_cached(
                    "SELECT grp || '/' || key, body FROM identities WHERE sub = ?1 AND grp = ?2 \
                     AND grp || '/' || key > ?3 AND key > ?5 ORDER BY key LIMIT ?4",
                )?,
                vec![
                    Box::new(sub.to_string()),
                    Box::new(g.to_string()),
                    Box::new(after.to_string()),
                    Box::new(limit_plus),
                    Box::new(
                        after
                            .strip_prefix(g)
                            .and_then(|rest| rest.strip_prefix('/'))
                            .unwrap_or("")
                            .to_string(),
                    ),
                ],
            ),
            None => (
                self.tx.prepare_cached(
                    "SELECT grp || '/' || key, body FROM identities WHERE sub = ?1 \
                     AND grp || '/' || key > ?2 ORDER BY grp || '/' || key LIMIT ?3",
                )?,
                vec![
                    Box::new(sub.to_string()),
                    Box::new(after.to_string()),
                    Box::new(limit_plus),
                ],
            ),
        };
        let rows = stmt.query_map(rusqlite::params_from_iter(rows_params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        page(rows, limit)
    }

    /// Records a pending group deletion.
    pub fn put_operation(&self, op: &Operation) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO operations (id, sub, grp, due_ms, done) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![op.id, op.sub, op.group, op.due_ms, op.done],
        )?;
        Ok(())
    }

    /// An operation by id.
    pub fn operation(&self, id: &str) -> Result<Option<Operation>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT id, sub, grp, due_ms, done FROM operations WHERE id = ?1",
                [id],
                row_to_op,
            )
            .optional()?)
    }

    /// The pending deletion of a group, if one runs.
    pub fn pending_operation_for(
        &self,
        sub: &str,
        group: &str,
    ) -> Result<Option<Operation>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT id, sub, grp, due_ms, done FROM operations WHERE sub = ?1 AND grp = ?2 AND done = 0",
                params![sub, group],
                row_to_op,
            )
            .optional()?)
    }

    /// Every operation not yet completed (resumed after a restart).
    pub fn pending_operations(&self) -> Result<Vec<Operation>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT id, sub, grp, due_ms, done FROM operations WHERE done = 0")?;
        let ops = stmt
            .query_map([], row_to_op)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ops)
    }
}

fn row_to_op(r: &rusqlite::Row<'_>) -> rusqlite::Result<Operation> {
    Ok(Operation {
        id: r.get(0)?,
        sub: r.get(1)?,
        group: r.get(2)?,
        due_ms: r.get(3)?,
        done: r.get(4)?,
    })
}

fn page<T: serde::de::DeserializeOwned>(
    rows: impl Iterator<Item = rusqlite::Result<(String, String)>>,
    limit: usize,
) -> Result<Listing<T>, StoreError> {
    page_with(rows, limit, |body| Ok(serde_json::from_str(&body)?))
}

/// One page of `(key, row)` results in key order, read one past `limit` to know whether
/// more remain; `decode` turns a row into an item.
pub(crate) fn page_with<R, T>(
    rows: impl Iterator<Item = rusqlite::Result<(String, R)>>,
    limit: usize,
    decode: impl Fn(R) -> Result<T, StoreError>,
) -> Result<Listing<T>, StoreError> {
    let mut items = Vec::new();
    let mut last_key = None;
    let mut more = false;
    for row in rows {
        let (key, row) = row?;
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(decode(row)?);
        last_key = Some(key);
    }
    Ok(Listing {
        items,
        next_after: if more { last_key } else { None },
    })
}

/// The case-insensitive key of a name.
pub fn key_of(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(name: &str) -> LockRecord {
        LockRecord {
            name: name.into(),
            scope: "/subscriptions/s/resourceGroups/rg".into(),
            level: "CanNotDelete".into(),
            notes: None,
            owners: None,
        }
    }

    #[test]
    fn the_locks_kept_for_checks_follow_every_change_this_store_or_another_makes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = Store::open(Some(&path)).unwrap();
        let other = Store::open(Some(&path)).unwrap();
        let rg = "/subscriptions/s/resourcegroups/rg";
        let names = |store: &Store| -> Vec<String> {
            store
                .locks_in("s")
                .unwrap()
                .into_iter()
                .map(|l| l.record.name)
                .collect()
        };
        assert!(names(&store).is_empty());
        store
            .transaction(|tx| tx.put_lock(&format!("{rg}/l1"), "s", rg, &lock("l1")))
            .unwrap();
        assert_eq!(names(&store), ["l1"]);
        // Another connection to the same file: its commit is seen too.
        other
            .transaction(|tx| tx.put_lock(&format!("{rg}/l2"), "s", rg, &lock("l2")))
            .unwrap();
        assert_eq!(names(&store), ["l1", "l2"]);
        // What goes with a removed scope goes from what is kept as well.
        store
            .transaction(|tx| tx.remove_locks_within("s", rg))
            .unwrap();
        assert!(names(&store).is_empty());
        assert!(names(&other).is_empty());
    }

    fn identity(rg: &str, name: &str) -> IdentityRecord {
        IdentityRecord {
            name: name.into(),
            resource_group: rg.into(),
            location: "eastus".into(),
            tags: BTreeMap::new(),
            tenant_id: "t".into(),
            principal_id: "p".into(),
            client_id: format!("c-{name}"),
            isolation_scope: "None".into(),
            restricted_providers: vec![],
            created_ms: 0,
        }
    }

    #[test]
    fn pages_cover_every_row_once_in_order() {
        let store = Store::open(None).unwrap();
        store
            .transaction(|tx| {
                for rg in ["b", "a"] {
                    for i in 0..7 {
                        tx.put_identity("s", &identity(rg, &format!("Id{i}")))?;
                    }
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        for group in [None, Some("a")] {
            let mut seen = Vec::new();
            let mut after = String::new();
            loop {
                let page = store
                    .read(|tx| tx.identities("s", group, &after, 3))
                    .unwrap();
                seen.extend(
                    page.items
                        .iter()
                        .map(|i| format!("{}/{}", i.resource_group, i.name)),
                );
                match page.next_after {
                    Some(next) => after = next,
                    None => break,
                }
            }
            let expected = if group.is_some() { 7 } else { 14 };
            assert_eq!(seen.len(), expected);
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(seen, sorted);
        }
    }

    #[test]
    fn removing_a_group_removes_its_identities() {
        let store = Store::open(None).unwrap();
        store
            .transaction(|tx| {
                tx.put_group(
                    "s",
                    &GroupRecord {
                        name: "RG".into(),
                        location: "eastus".into(),
                        tags: None,
                        managed_by: None,
                        deleting: false,
                    },
                )?;
                tx.put_identity("s", &identity("RG", "one"))?;
                tx.put_identity("s", &identity("other", "two"))?;
                tx.remove_group("s", "rg")
            })
            .unwrap();
        let left = store.read(|tx| tx.identities("s", None, "", 10)).unwrap();
        assert_eq!(left.items.len(), 1);
        assert_eq!(left.items[0].name, "two");
    }
}
