//! The results of recent queries, kept so that the pages after the first (sent with the
//! `$skipToken` of the one before) are cut from the same result instead of running the query
//! again over the whole tenant. A result is tied to the snapshot it was computed from, so a
//! page never mixes two states; a write makes a new snapshot and so a new result.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use super::eval::Table;
use super::tables::Snapshot;

/// Most results kept (one per query being paged through at once).
const KEPT: usize = 16;

/// What a result depends on: the query and scope (their fingerprint), who asked and with
/// which authorisation filter, and the snapshot it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultKey {
    /// Fingerprint of the query text and scope.
    pub query: String,
    /// Object id of the caller (rows depend on what it may read).
    pub caller: String,
    /// The authorisation scope filter, as text.
    pub filter: String,
    /// Identity of the snapshot: its address, which a `Weak` kept beside the result keeps
    /// from being reused.
    pub snapshot: usize,
}

/// One kept result: its key, the snapshot it came from, the rows.
type Entry = (ResultKey, Weak<Snapshot>, Arc<Table>);

/// The most recently computed results, newest last.
#[derive(Debug, Default)]
pub struct Results {
    kept: Mutex<VecDeque<Entry>>,
}

impl Results {
    /// The kept result for `key`, if any.
    pub fn get(&self, key: &ResultKey) -> Option<Arc<Table>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter()
            .find(|(k, snapshot, _)| k == key && snapshot.strong_count() > 0)
            .map(|(_, _, t)| t.clone())
    }

    /// Keeps `table` as the result for `key`, dropping the oldest past the limit.
    pub fn put(&self, key: ResultKey, snapshot: &Arc<Snapshot>, table: Arc<Table>) {
        let mut gone = Vec::new();
        {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(at) = kept.iter().position(|(k, _, _)| k == &key) {
                gone.extend(kept.remove(at));
            }
            kept.push_back((key, Arc::downgrade(snapshot), table));
            while kept.len() > KEPT {
                gone.extend(kept.pop_front());
            }
        }
        // A tenant's result is tens of thousands of rows: freeing it is left to another
        // thread rather than to the request that replaced it.
        if !gone.is_empty() {
            std::thread::spawn(move || drop(gone));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(q: &str, snapshot: &Arc<Snapshot>) -> ResultKey {
        ResultKey {
            query: q.into(),
            caller: "c".into(),
            filter: "AtScopeAndBelow".into(),
            snapshot: Arc::as_ptr(snapshot) as usize,
        }
    }

    #[test]
    fn a_result_is_found_only_for_its_query_and_live_snapshot_and_old_ones_go() {
        let r = Results::default();
        let (one, two) = (Arc::new(Snapshot::default()), Arc::new(Snapshot::default()));
        r.put(key("a", &one), &one, Arc::new(Table::default()));
        assert!(r.get(&key("a", &one)).is_some());
        assert!(r.get(&key("a", &two)).is_none());
        assert!(r.get(&key("b", &one)).is_none());
        let gone = key("a", &one);
        drop(one);
        assert!(
            r.get(&gone).is_none(),
            "a dropped snapshot's result is never used"
        );
        let many: Vec<Arc<Snapshot>> = (0..KEPT).map(|_| Arc::new(Snapshot::default())).collect();
        for s in &many {
            r.put(key("x", s), s, Arc::new(Table::default()));
        }
        r.put(key("y", &two), &two, Arc::new(Table::default()));
        assert!(r.get(&key("x", &many[0])).is_none());
        assert!(r.get(&key("y", &two)).is_some());
    }
}
