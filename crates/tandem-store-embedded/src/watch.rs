//! The watch thread: feeds every watcher from the change log.
//!
//! Watchers are cursors on `changes.seq`. On every wake-up (after each of
//! this process's commits, and every [`Options::poll_interval`](crate::Options)
//! to catch other processes' commits, such as the CLI's) the thread opens
//! one read transaction and:
//!
//! - reads the new rows once and hands them to every caught-up watcher;
//! - serves each lagging watcher (a new one replaying history, or one whose
//!   channel was full) with its own query, as many rows as its channel has
//!   room for, so that a slow consumer never blocks the others nor the
//!   writer.
//!
//! A put row is joined with the current record: when the record has
//! changed since (a later put or delete, which the log also holds), the
//! row is **skipped** and the later change reported instead. So every
//! reported put carries the value it was written with, revision order is
//! preserved, and deletes are always reported.
//!
//! A watcher whose next change was pruned from the log (it asked for, or
//! fell behind to, a revision older than the last
//! [`Options::keep_revisions`](crate::Options)) gets one
//! `Err(Error::Unavailable)` telling it to take a fresh snapshot and watch
//! from its revision, and its channel closes.

use crate::prefix::upper_bound;
use crate::schema::{self, KIND_DELETE, KIND_PUT};
use crate::Options;
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;
use tandem_store::{Change, Error, Record, Rev};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;

/// How often the thread comes back while a watcher is lagging: its
/// consumer frees room in the channel without telling us.
const LAGGING_POLL: Duration = Duration::from_millis(2);
/// Rows read at once for the caught-up watchers.
const HEAD_LIMIT: i64 = 8192;

/// What the watch thread is told.
pub(crate) enum WatchMsg {
    Register {
        prefix: String,
        after: Rev,
        tx: Sender<Result<Change, Error>>,
    },
    /// A commit landed in this process.
    Wake,
    Close,
}

/// A watch asked for, set up at the next pass.
struct Registration {
    prefix: String,
    after: Rev,
    tx: Sender<Result<Change, Error>>,
}

struct Watcher {
    prefix: String,
    upper: Option<String>,
    after: i64,
    /// Every log row with `seq <= cursor` was delivered or did not concern
    /// this watcher.
    cursor: i64,
    tx: Sender<Result<Change, Error>>,
    /// An error still to deliver (the channel was full); the watcher ends
    /// once it is sent.
    failed: Option<Error>,
}

/// One change-log row, with the change it reports (`None`: a put since
/// overwritten or deleted, skipped).
struct Row {
    seq: i64,
    rev: i64,
    change: Option<Change>,
}

pub(crate) struct WatchThread {
    pub(crate) conn: Connection,
    pub(crate) path: String,
    pub(crate) rx: Receiver<WatchMsg>,
    pub(crate) opts: Options,
}

impl WatchThread {
    pub(crate) fn run(mut self) {
        let mut watchers: Vec<Watcher> = Vec::new();
        let mut pending: Vec<Registration> = Vec::new();
        // Rows up to `head` were handed to every caught-up watcher.
        let mut head: i64 = 0;
        let mut timeout = self.opts.poll_interval;
        'run: loop {
            let mut msg = match self.rx.recv_timeout(timeout) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // Many wake-ups may be queued: one pass serves them all.
            while let Some(m) = msg.take() {
                match m {
                    WatchMsg::Register { prefix, after, tx } => {
                        pending.push(Registration { prefix, after, tx })
                    }
                    WatchMsg::Wake => {}
                    WatchMsg::Close => break 'run,
                }
                msg = match self.rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break 'run,
                };
            }
            timeout = match self.tick(&mut watchers, &mut pending, &mut head) {
                Ok(true) => LAGGING_POLL,
                Ok(false) => self.opts.poll_interval,
                // Lock contention: try again at the next poll.
                Err(Error::Unavailable { .. }) => self.opts.poll_interval,
                Err(e) => {
                    tracing::warn!(store = %self.path, error = %e, "watch read failed; ending every watch");
                    // The file is unusable: tell every watcher, whose owner
                    // will re-snapshot (and see the same error there).
                    for w in watchers.drain(..) {
                        let _ = w.tx.try_send(Err(e.clone()));
                    }
                    self.opts.poll_interval
                }
            };
        }
        for w in watchers {
            let _ = w.tx.try_send(Err(Error::Closed));
        }
        for Registration { tx, .. } in pending {
            let _ = tx.try_send(Err(Error::Closed));
        }
    }

    /// One pass. Returns whether work is left that cannot wait for the
    /// next poll (lagging watchers, or more new rows than one read takes).
    fn tick(
        &mut self,
        watchers: &mut Vec<Watcher>,
        pending: &mut Vec<Registration>,
        head: &mut i64,
    ) -> Result<bool, Error> {
        let path = self.path.clone();
        let sql = |e: rusqlite::Error| crate::error::sql(&path, &e);
        // Errors still owed: sent as soon as there is room, then dropped.
        watchers.retain(|w| match &w.failed {
            Some(e) => matches!(w.tx.try_send(Err(e.clone())), Err(TrySendError::Full(_))),
            None => !w.tx.is_closed(),
        });
        // One read transaction: the log end, the prune marks and every row
        // read below are of one state of the file.
        let tx = self.conn.transaction().map_err(sql)?;
        let log_end: i64 = tx
            .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
            .and_then(|mut s| s.query_row([], |row| row.get(0)).optional())
            .map_err(sql)?
            .unwrap_or(0);
        let floor_rev = schema::meta(&tx, "floor_rev").map_err(sql)?;
        let pruned_seq = schema::meta(&tx, "pruned_seq").map_err(sql)?;

        for Registration {
            prefix,
            after,
            tx: sender,
        } in pending.drain(..)
        {
            let after = schema::to_sql(after);
            let mut w = Watcher {
                upper: upper_bound(&prefix),
                prefix,
                after,
                cursor: 0,
                tx: sender,
                failed: None,
            };
            if after < floor_rev {
                w.failed = Some(too_far_behind(after, floor_rev));
            } else {
                // Rows at or below the after revision are not wanted; rows
                // at or below `pruned_seq` are all at or below `floor_rev`.
                let last_seen: Option<i64> = tx
                    .prepare_cached(
                        "SELECT seq FROM changes WHERE rev <= ?1 ORDER BY seq DESC LIMIT 1",
                    )
                    .and_then(|mut s| s.query_row([after], |row| row.get(0)).optional())
                    .map_err(sql)?;
                w.cursor = last_seen.unwrap_or(0).max(pruned_seq);
            }
            watchers.push(w);
        }

        let mut more = false;
        // A watcher whose next rows were pruned (it fell behind by more
        // than the log keeps) cannot be served: it must re-snapshot.
        for w in watchers
            .iter_mut()
            .filter(|w| w.failed.is_none() && w.cursor < pruned_seq)
        {
            w.failed = Some(too_far_behind(w.after, floor_rev));
            more = true;
        }

        // Caught-up watchers share one read of the new rows.
        if watchers
            .iter()
            .any(|w| w.failed.is_none() && w.cursor >= *head)
            && log_end > *head
        {
            let rows = read_rows(&tx, *head, log_end, HEAD_LIMIT, None).map_err(sql)?;
            let new_head = if (rows.len() as i64) < HEAD_LIMIT {
                log_end
            } else {
                more = true;
                rows.last().map_or(log_end, |r| r.seq)
            };
            for w in watchers
                .iter_mut()
                .filter(|w| w.failed.is_none() && w.cursor >= *head)
            {
                deliver(w, &rows, new_head);
            }
            *head = new_head;
        } else {
            *head = (*head).max(log_end);
        }

        // Lagging watchers: each reads its own rows, as many as it has room for.
        for w in watchers
            .iter_mut()
            .filter(|w| w.failed.is_none() && w.cursor < *head)
        {
            let room = w.tx.capacity();
            if room == 0 {
                more = true;
                continue;
            }
            let limit = i64::try_from(room).unwrap_or(i64::MAX);
            let rows = read_rows(&tx, w.cursor, log_end, limit, Some(&*w)).map_err(sql)?;
            let examined_to = if (rows.len() as i64) < limit {
                log_end
            } else {
                w.cursor
            };
            deliver(w, &rows, examined_to);
            if w.cursor < *head {
                more = true;
            }
        }
        drop(tx);
        watchers.retain(|w| w.failed.is_some() || !w.tx.is_closed());
        Ok(more)
    }
}

/// Sends `rows` after the watcher's cursor, in order, until its channel is
/// full. `examined_to`: the rows up to there are all in `rows` (or did not
/// concern it), so the cursor may move there once all are sent.
fn deliver(w: &mut Watcher, rows: &[Row], examined_to: i64) {
    let start = w.cursor;
    for row in rows.iter().filter(|r| r.seq > start) {
        if let Some(change) = &row.change {
            if row.rev > w.after && change.key().starts_with(&w.prefix) {
                match w.tx.try_send(Ok(change.clone())) {
                    Ok(()) => {}
                    // Stays behind this row; served as lagging.
                    Err(TrySendError::Full(_)) => return,
                    Err(TrySendError::Closed(_)) => return,
                }
            }
        }
        w.cursor = row.seq;
    }
    w.cursor = w.cursor.max(examined_to);
}

/// Log rows with `after_seq < seq <= end_seq`, at most `limit`, joined with
/// the current records; with a watcher, only its prefix and revisions.
fn read_rows(
    conn: &Connection,
    after_seq: i64,
    end_seq: i64,
    limit: i64,
    only: Option<&Watcher>,
) -> rusqlite::Result<Vec<Row>> {
    const SELECT: &str = "SELECT c.seq, c.rev, c.key, c.kind, kv.value, kv.rev, kv.expires_at_ms
        FROM changes AS c LEFT JOIN kv ON kv.key = c.key
        WHERE c.seq > ?1 AND c.seq <= ?2";
    let map = |row: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
        let seq: i64 = row.get(0)?;
        let rev: i64 = row.get(1)?;
        let key: String = row.get(2)?;
        let kind: i64 = row.get(3)?;
        let current_rev: Option<i64> = row.get(5)?;
        let change = match kind {
            KIND_PUT if current_rev == Some(rev) => Some(Change::Put(Record {
                key,
                value: row.get(4)?,
                rev: schema::from_sql(rev),
                expires_at_ms: row.get::<_, Option<i64>>(6)?.map(schema::from_sql),
            })),
            KIND_PUT => None,
            KIND_DELETE => Some(Change::Delete {
                key,
                rev: schema::from_sql(rev),
            }),
            other => {
                return Err(rusqlite::Error::IntegralValueOutOfRange(3, other));
            }
        };
        Ok(Row { seq, rev, change })
    };
    match only {
        None => {
            let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY c.seq LIMIT ?3"))?;
            let rows = stmt.query_map(params![after_seq, end_seq, limit], map)?;
            rows.collect()
        }
        Some(w) => {
            let mut stmt = conn.prepare_cached(&format!(
                "{SELECT} AND c.rev > ?4 AND c.key >= ?5 AND (?6 IS NULL OR c.key < ?6)
                 ORDER BY c.seq LIMIT ?3"
            ))?;
            let rows = stmt.query_map(
                params![after_seq, end_seq, limit, w.after, w.prefix, w.upper],
                map,
            )?;
            rows.collect()
        }
    }
}

fn too_far_behind(after: i64, floor_rev: i64) -> Error {
    Error::Unavailable {
        reason: format!(
            "watch from revision {after}: it needs changes the log no longer keeps (only those \
             after revision {floor_rev}); take a fresh snapshot and watch from its revision"
        ),
    }
}
