//! Moves a file store's write-ahead log into the database from a thread of its own.
//!
//! SQLite checkpoints on the commit that fills its log (every thousand pages), so one
//! request in a few hundred copied the log and synced the file while every other request
//! waited for the store's connection. Here the store's connection never checkpoints; this
//! thread does, on its own connection, beside the readers and the writer (a passive
//! checkpoint takes no lock that they wait for), and once more when the store is dropped.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// How often the log is moved into the database.
const EVERY: Duration = Duration::from_millis(500);

/// The handle to the checkpoint thread: dropping it ends the thread after a last checkpoint.
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the store file at `path` (whose own connection no longer does).
    pub(super) fn start(path: &Path, busy: Duration) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(busy)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("emulator-checkpoint".into())
            .spawn(move || run(&conn, &stopped))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    loop {
        let last = matches!(
            stopped.recv_timeout(EVERY),
            Ok(()) | Err(RecvTimeoutError::Disconnected)
        );
        // A checkpoint that cannot finish now (a reader still on old pages) finishes at a
        // later one; a failing one loses nothing, as the log keeps what it holds.
        let mode = if last { "TRUNCATE" } else { "PASSIVE" };
        if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::debug!("store checkpoint: {e}");
        }
        if last {
            return;
        }
    }
}
