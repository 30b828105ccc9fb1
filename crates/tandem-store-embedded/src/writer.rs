//! The writer thread: the only place this process writes the database.
//!
//! **Group commit.** Callers queue batches on a channel. The thread takes
//! the first one, then every batch already waiting (up to
//! [`Options::max_group`](crate::Options)), and applies them all in one
//! SQLite transaction, so one WAL append serves many callers. Each batch
//! still gets **its own revision** (the same semantics as one etcd
//! transaction each) and its own savepoint: a batch that fails is rolled
//! back alone and consumes no revision, the others commit. Callers are
//! answered only after the transaction committed.
//!
//! **Expiry and pruning.** Every [`Options::sweep_interval`](crate::Options)
//! the thread deletes expired records, all in one revision, logged like any
//! delete so that watchers see them go; and prunes the change log to the
//! last [`Options::keep_revisions`](crate::Options) revisions.

use crate::clock::now_ms;
use crate::schema::{self, KIND_DELETE, KIND_PUT};
use crate::watch::WatchMsg;
use crate::Options;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;
use tandem_store::{Error, Expect, Op, Rev};
use tokio::sync::oneshot;

/// The longest key accepted, in bytes. Keys are small by design (see
/// `tandem_store::keys`); the bound keeps a bad caller from bloating the
/// index.
pub const MAX_KEY_BYTES: usize = 4096;
/// The largest value accepted, in bytes: under etcd's default 1.5 MiB
/// request limit, so that whatever commits here also commits there.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Expired records deleted per sweep transaction, so that a mass expiry
/// does not hold the write lock (and every caller) for long; the rest go
/// in the next sweep, run at once.
const SWEEP_LIMIT: usize = 10_000;

/// How long the writer may commit back to back before pausing, and for
/// how long it pauses, so that other processes get the write lock: under
/// saturation they wait about `FAIR_STREAK_MS` (instead of failing after
/// the busy timeout) and the node loses a few percent of throughput.
const FAIR_STREAK_MS: u64 = 20;
const FAIR_PAUSE: Duration = Duration::from_millis(2);

/// One caller's commit.
pub(crate) struct Batch {
    pub(crate) ops: Vec<Op>,
    pub(crate) reply: oneshot::Sender<Result<Rev, Error>>,
}

/// What the writer thread is told.
pub(crate) enum WriterMsg {
    Commit(Batch),
    /// Commit what was queued before, then stop.
    Close,
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) path: String,
    pub(crate) rx: Receiver<WriterMsg>,
    /// Tells the watch thread a commit landed, so that in-process watchers
    /// do not wait for the next poll.
    pub(crate) wake: Sender<WatchMsg>,
    pub(crate) opts: Options,
    /// Set by the checkpoint thread when the WAL should start over.
    pub(crate) restart_wal: Arc<AtomicBool>,
}

impl Writer {
    pub(crate) fn run(mut self) {
        let interval = millis(self.opts.sweep_interval);
        let mut next_sweep = now_ms();
        let mut batches: Vec<Batch> = Vec::new();
        // When the current run of back-to-back group commits began.
        let mut busy_since: Option<u64> = None;
        loop {
            let msg = match self.rx.try_recv() {
                Ok(msg) => {
                    let now = now_ms();
                    let since = *busy_since.get_or_insert(now);
                    if now.saturating_sub(since) >= FAIR_STREAK_MS {
                        // Saturated: this thread would take the write lock
                        // again within microseconds of each commit, and
                        // another process (the CLI), whose busy handler
                        // polls every millisecond, would never get it.
                        // Leave it a gap; queued batches only make the next
                        // group bigger.
                        std::thread::sleep(FAIR_PAUSE);
                        busy_since = Some(now_ms());
                    }
                    Some(msg)
                }
                Err(TryRecvError::Empty) => {
                    busy_since = None;
                    // Bounded by the interval so that a wall clock stepping
                    // back cannot postpone sweeps for long.
                    let wait = next_sweep.saturating_sub(now_ms()).min(interval);
                    match self.rx.recv_timeout(Duration::from_millis(wait)) {
                        Ok(msg) => Some(msg),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => Some(WriterMsg::Close),
                    }
                }
                Err(TryRecvError::Disconnected) => Some(WriterMsg::Close),
            };
            let mut closing = match msg {
                Some(WriterMsg::Commit(batch)) => {
                    batches.push(batch);
                    false
                }
                Some(WriterMsg::Close) => true,
                None => false,
            };
            while !closing && !batches.is_empty() && batches.len() < self.opts.max_group.max(1) {
                match self.rx.try_recv() {
                    Ok(WriterMsg::Commit(batch)) => batches.push(batch),
                    Ok(WriterMsg::Close) | Err(TryRecvError::Disconnected) => closing = true,
                    Err(TryRecvError::Empty) => break,
                }
            }
            if !batches.is_empty() {
                self.group_commit(&mut batches);
                let _ = self.wake.send(WatchMsg::Wake);
            }
            if closing {
                break;
            }
            if self.restart_wal.swap(false, Ordering::Relaxed) {
                if let Err(e) = crate::checkpoint::restart(&self.conn) {
                    tracing::warn!(store = %self.path, error = %e, "WAL restart failed");
                }
            }
            let now = now_ms();
            if now >= next_sweep {
                let more = match self.sweep(now) {
                    Ok(more) => more,
                    Err(e) => {
                        // Retried at the next sweep: nothing is lost, the
                        // records stay expired (and hidden from snapshots).
                        tracing::warn!(store = %self.path, error = %e, "expiry sweep failed");
                        false
                    }
                };
                let _ = self.wake.send(WatchMsg::Wake);
                next_sweep = if more { now } else { now + interval };
            }
        }
    }

    /// Commits `batches` (emptying it) and answers each caller.
    fn group_commit(&mut self, batches: &mut Vec<Batch>) {
        let results = match self.try_group_commit(batches) {
            Ok(results) => results,
            Err(e) => vec![Err(e); batches.len()],
        };
        for (batch, result) in batches.drain(..).zip(results) {
            // The caller may have dropped its future: the commit stands.
            let _ = batch.reply.send(result);
        }
    }

    fn try_group_commit(&mut self, batches: &[Batch]) -> Result<Vec<Result<Rev, Error>>, Error> {
        let path = self.path.clone();
        let sql = |e: rusqlite::Error| crate::error::sql(&path, &e);
        // IMMEDIATE takes the write lock now (waiting out another process
        // up to the busy timeout) so that the revision read below cannot
        // be raced.
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let mut rev = schema::meta(&tx, "rev").map_err(sql)?;
        let mut results = Vec::with_capacity(batches.len());
        for batch in batches {
            let sp = tx.savepoint().map_err(sql)?;
            match apply(&sp, &path, rev + 1, &batch.ops) {
                Ok(()) => {
                    sp.commit().map_err(sql)?;
                    rev += 1;
                    results.push(Ok(schema::from_sql(rev)));
                }
                // Dropping the savepoint rolls the batch back.
                Err(e) => results.push(Err(e)),
            }
        }
        schema::set_meta(&tx, "rev", rev).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(results)
    }

    /// Deletes expired records (one revision for the lot) and prunes the
    /// change log. Returns whether expired records remain.
    fn sweep(&mut self, now: u64) -> Result<bool, Error> {
        let path = self.path.clone();
        let sql = |e: rusqlite::Error| crate::error::sql(&path, &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let expired: Vec<String> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT key FROM kv WHERE expires_at_ms <= ?1 ORDER BY expires_at_ms LIMIT ?2",
                )
                .map_err(sql)?;
            let rows = stmt
                .query_map(params![schema::to_sql(now), SWEEP_LIMIT as i64], |row| {
                    row.get(0)
                })
                .map_err(sql)?;
            rows.collect::<rusqlite::Result<_>>().map_err(sql)?
        };
        let mut rev = schema::meta(&tx, "rev").map_err(sql)?;
        if !expired.is_empty() {
            rev += 1;
            for key in &expired {
                tx.prepare_cached("DELETE FROM kv WHERE key = ?1")
                    .and_then(|mut s| s.execute([key]))
                    .map_err(sql)?;
                log(&tx, rev, key, KIND_DELETE).map_err(sql)?;
            }
            schema::set_meta(&tx, "rev", rev).map_err(sql)?;
        }
        prune(&tx, rev, self.opts.keep_revisions).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(expired.len() == SWEEP_LIMIT)
    }
}

/// Applies one batch's ops at revision `rev`. Ops are validated as they
/// are applied, on purpose: the savepoint rollback is then the single
/// all-or-nothing mechanism, for bad input and SQLite failures alike.
fn apply(conn: &Connection, path: &str, rev: i64, ops: &[Op]) -> Result<(), Error> {
    let sql = |e: rusqlite::Error| crate::error::sql(path, &e);
    // The change log gets one row per key per revision, for the key's last
    // op in the batch: a watcher sees the batch's effect, not its steps.
    let last: Option<HashMap<&str, usize>> = (ops.len() > 1).then(|| {
        ops.iter()
            .enumerate()
            .filter(|(_, op)| !matches!(op, Op::Require { .. }))
            .map(|(i, op)| (op.key(), i))
            .collect()
    });
    for (i, op) in ops.iter().enumerate() {
        validate(op)?;
        let key = op.key();
        let logged = last.as_ref().is_none_or(|m| m.get(key) == Some(&i));
        match op {
            Op::Put {
                key,
                value,
                expires_at_ms,
            } => {
                conn.prepare_cached(
                    "INSERT INTO kv (key, value, rev, expires_at_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (key) DO UPDATE SET
                        value = excluded.value, rev = excluded.rev,
                        expires_at_ms = excluded.expires_at_ms",
                )
                .and_then(|mut s| {
                    s.execute(params![key, value, rev, expires_at_ms.map(schema::to_sql)])
                })
                .map_err(sql)?;
                if logged {
                    log(conn, rev, key, KIND_PUT).map_err(sql)?;
                }
            }
            Op::Delete { key } => {
                let removed = conn
                    .prepare_cached("DELETE FROM kv WHERE key = ?1")
                    .and_then(|mut s| s.execute([key]))
                    .map_err(sql)?;
                // Deleting an absent key changes nothing a watcher could
                // see (etcd reports no event for it either).
                if logged && removed > 0 {
                    log(conn, rev, key, KIND_DELETE).map_err(sql)?;
                }
            }
            Op::Require { key, expect } => {
                // Conditions see the batch's own earlier ops: they run in
                // its savepoint. An expired record not yet swept counts as
                // absent, as it does for snapshots.
                let now = schema::to_sql(now_ms());
                let current: Option<i64> = conn
                    .prepare_cached(
                        "SELECT rev FROM kv WHERE key = ?1
                           AND (expires_at_ms IS NULL OR expires_at_ms > ?2)",
                    )
                    .and_then(|mut s| s.query_row(params![key, now], |row| row.get(0)).optional())
                    .map_err(sql)?;
                let holds = match (expect, current) {
                    (Expect::Absent, None) | (Expect::Present, Some(_)) => true,
                    (Expect::Rev(want), Some(have)) => schema::from_sql(have) == *want,
                    _ => false,
                };
                if !holds {
                    return Err(Error::Conflict { key: key.clone() });
                }
            }
        }
    }
    Ok(())
}

fn validate(op: &Op) -> Result<(), Error> {
    let key = op.key();
    let refuse = |reason: String| {
        Err(Error::Invalid {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return refuse("empty key".to_owned());
    }
    if key.len() > MAX_KEY_BYTES {
        return refuse(format!("key of {} bytes, limit {MAX_KEY_BYTES}", key.len()));
    }
    if let Op::Put { value, .. } = op {
        if value.len() > MAX_VALUE_BYTES {
            return refuse(format!(
                "value of {} bytes, limit {MAX_VALUE_BYTES}",
                value.len()
            ));
        }
    }
    Ok(())
}

fn log(conn: &Connection, rev: i64, key: &str, kind: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO changes (rev, key, kind) VALUES (?1, ?2, ?3)")?
        .execute(params![rev, key, kind])?;
    Ok(())
}

/// Drops change-log rows older than the last `keep` revisions and records
/// how far: `floor_rev` (every change at or below it may be gone) and
/// `pruned_seq` (every row at or below it is gone), which the watch thread
/// checks before trusting the log.
fn prune(conn: &Connection, rev: i64, keep: u64) -> rusqlite::Result<()> {
    let floor = rev - schema::to_sql(keep);
    if floor <= schema::meta(conn, "floor_rev")? {
        return Ok(());
    }
    let first_kept: Option<i64> = conn
        .prepare_cached("SELECT seq FROM changes WHERE rev > ?1 ORDER BY seq LIMIT 1")?
        .query_row([floor], |row| row.get(0))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let pruned_seq = match first_kept {
        Some(seq) => seq - 1,
        None => conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM changes")?
            .query_row([], |row| row.get(0))?,
    }
    .max(schema::meta(conn, "pruned_seq")?);
    conn.prepare_cached("DELETE FROM changes WHERE seq <= ?1")?
        .execute([pruned_seq])?;
    schema::set_meta(conn, "floor_rev", floor)?;
    schema::set_meta(conn, "pruned_seq", pruned_seq)?;
    Ok(())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
