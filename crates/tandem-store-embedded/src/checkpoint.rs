//! The checkpoint thread: copies the WAL back into the database file.
//!
//! SQLite normally checkpoints in the committing connection once the WAL
//! passes 1000 pages; on the writer thread that copy and its fsync took
//! most of the writer's time and halved group-commit throughput. So the
//! writer's connection has auto-checkpoint off and this thread, on its own
//! connection and core, runs a PASSIVE checkpoint (which never blocks the
//! writer) every [`INTERVAL`]. A PASSIVE checkpoint cannot reset a WAL that
//! is appended to without pause, so past [`RESTART_FRAMES`] it asks the
//! writer thread, through a flag, to run a RESTART checkpoint between two
//! group commits: only the frames written since the last PASSIVE pass are
//! left to copy, and the next commit starts the WAL file over, so the WAL
//! stays bounded. (This thread cannot do the RESTART itself: the writer
//! takes the write lock again within microseconds of releasing it, and
//! SQLite's busy handler, which polls, would never get it under load.)
//!
//! Other processes (the CLI) keep SQLite's default auto-checkpoint.

use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// How often the WAL is checkpointed.
const INTERVAL: Duration = Duration::from_millis(200);
/// WAL frames (pages, 4 KiB by default) past which the writer is asked to
/// restart the WAL: about 64 MiB.
const RESTART_FRAMES: i64 = 16_384;

/// What the checkpoint thread is told.
pub(crate) enum CheckpointMsg {
    Close,
}

pub(crate) struct Checkpointer {
    pub(crate) conn: Connection,
    pub(crate) path: String,
    pub(crate) rx: Receiver<CheckpointMsg>,
    /// Set when the WAL should be restarted; cleared by the writer.
    pub(crate) restart_wal: Arc<AtomicBool>,
}

impl Checkpointer {
    pub(crate) fn run(self) {
        // Any message (Close) or a dropped store ends the thread.
        while let Err(RecvTimeoutError::Timeout) = self.rx.recv_timeout(INTERVAL) {
            if let Err(e) = self.checkpoint() {
                // Retried at the next interval; the WAL keeps every commit
                // meanwhile, so nothing is lost, it only grows.
                tracing::warn!(store = %self.path, error = %e, "WAL checkpoint failed");
            }
        }
    }

    fn checkpoint(&self) -> rusqlite::Result<()> {
        // Columns: busy flag, frames in the WAL, frames checkpointed.
        let wal_frames: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))?;
        if wal_frames >= RESTART_FRAMES {
            self.restart_wal.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Runs a RESTART checkpoint on the writer's connection, between two group
/// commits. It must wait for readers to leave the WAL, but only briefly:
/// the watch thread's reads last microseconds, while a large snapshot may
/// last seconds, and every commit waits meanwhile. When readers outlast
/// the wait, the checkpoint still copies what it can (as PASSIVE does) and
/// the checkpoint thread asks again at its next pass.
pub(crate) fn restart(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(brief_wait))?;
    // Columns: busy flag, frames in the WAL, frames checkpointed.
    let result = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
    conn.busy_handler(Some(crate::schema::busy))?;
    result
}

/// About 20 ms of 1 ms tries.
fn brief_wait(attempts: i32) -> bool {
    if attempts >= 20 {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}
