//! The reader thread: answers snapshots on its own connection, so that a
//! large read never waits for the writer nor delays watchers, and no
//! caller's async task blocks on SQLite.

use crate::clock::now_ms;
use crate::prefix::upper_bound;
use crate::schema;
use rusqlite::{params, Connection};
use std::sync::mpsc::Receiver;
use tandem_store::{Error, Record, Snapshot};
use tokio::sync::oneshot;

/// What the reader thread is told.
pub(crate) enum ReadMsg {
    Snapshot {
        prefix: String,
        reply: oneshot::Sender<Result<Snapshot, Error>>,
    },
    Close,
}

pub(crate) struct Reader {
    pub(crate) conn: Connection,
    pub(crate) path: String,
    pub(crate) rx: Receiver<ReadMsg>,
}

impl Reader {
    pub(crate) fn run(mut self) {
        while let Ok(ReadMsg::Snapshot { prefix, reply }) = self.rx.recv() {
            let result = self
                .snapshot(&prefix)
                .map_err(|e| crate::error::sql(&self.path, &e));
            let _ = reply.send(result);
        }
    }

    /// Every live record under `prefix` and the revision they are at, in
    /// one read transaction. Records past their expiry are left out even
    /// if the sweeper has not deleted them yet.
    fn snapshot(&mut self, prefix: &str) -> rusqlite::Result<Snapshot> {
        let tx = self.conn.transaction()?;
        let rev = schema::from_sql(schema::meta(&tx, "rev")?);
        let now = schema::to_sql(now_ms());
        let records = {
            let mut stmt = tx.prepare_cached(
                "SELECT key, value, rev, expires_at_ms FROM kv
                 WHERE key >= ?1 AND (?2 IS NULL OR key < ?2)
                   AND (expires_at_ms IS NULL OR expires_at_ms > ?3)
                 ORDER BY key",
            )?;
            let rows = stmt.query_map(params![prefix, upper_bound(prefix), now], |row| {
                Ok(Record {
                    key: row.get(0)?,
                    value: row.get(1)?,
                    rev: schema::from_sql(row.get(2)?),
                    expires_at_ms: row.get::<_, Option<i64>>(3)?.map(schema::from_sql),
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.commit()?;
        Ok(Snapshot { rev, records })
    }
}
