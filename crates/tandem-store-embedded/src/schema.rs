//! The database file: connection settings, the tables and their version.
//!
//! Tables:
//! - `meta(name, value)`: `schema_version`, `rev` (the global revision,
//!   persisted so that it survives restarts and is shared by every process
//!   that opens the file), `floor_rev` and `pruned_seq` (how far the change
//!   log has been pruned, see `watch`).
//! - `kv(key, value, rev, expires_at_ms)`: the live records.
//! - `changes(seq, rev, key, kind)`: the change log watches replay. `seq`
//!   is AUTOINCREMENT so that it never goes back, even when pruning empties
//!   the table; since writers are serialised by SQLite's write lock, `seq`
//!   order is revision order across processes.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::Duration;
use tandem_store::Error;

/// The schema this build writes and understands.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// `changes.kind` of a put.
pub(crate) const KIND_PUT: i64 = 0;
/// `changes.kind` of a delete (explicit or by expiry).
pub(crate) const KIND_DELETE: i64 = 1;

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
    key           TEXT PRIMARY KEY NOT NULL,
    value         BLOB NOT NULL,
    rev           INTEGER NOT NULL,
    expires_at_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expiry ON kv(expires_at_ms) WHERE expires_at_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS changes (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    rev  INTEGER NOT NULL,
    key  TEXT NOT NULL,
    kind INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES
    ('schema_version', 1), ('rev', 0), ('floor_rev', 0), ('pruned_seq', 0);
";

/// Opens one connection with the settings every connection needs.
///
/// `synchronous=NORMAL` in WAL mode writes each commit to the WAL without
/// an fsync: a commit survives the process being killed (the OS has the
/// pages), but a power loss or kernel crash may lose the last commits.
/// That is the price of tens of thousands of commits per second on one
/// disk; a deployment that cannot accept it runs the etcd backend.
pub(crate) fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // Another process may hold the write lock for a moment: wait for it
    // instead of failing (see `busy`).
    conn.busy_handler(Some(busy))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// How long a connection waits for a lock another connection holds before
/// failing with `SQLITE_BUSY` (reported as `Unavailable`), in milliseconds.
pub(crate) const BUSY_TIMEOUT_MS: i32 = 5_000;

/// The busy handler: SQLite's own (`busy_timeout`) backs off to sleeping
/// 100 ms between tries, and so would almost never catch the short gaps a
/// saturated writer in another process leaves (see the writer's fairness
/// pause). This one tries every millisecond, for about [`BUSY_TIMEOUT_MS`].
pub(crate) fn busy(attempts: i32) -> bool {
    if attempts >= BUSY_TIMEOUT_MS {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

/// Switches the file to WAL and creates the tables if missing, refusing a
/// file written by a newer tandem.
pub(crate) fn init(conn: &mut Connection, path: &str) -> Result<(), Error> {
    let sql = |e: rusqlite::Error| crate::error::sql(path, &e);
    // WAL is a property of the file: once set, every later connection (in
    // any process) uses it. It lets readers run while the writer commits.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Storage {
            path: path.to_owned(),
            reason: format!("cannot switch to WAL journal mode (got {mode})"),
        });
    }
    // IMMEDIATE: two processes opening a fresh file at once must not both
    // decide the schema is missing.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let has_meta: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
            [],
            |row| row.get(0),
        )
        .map_err(sql)?;
    if has_meta {
        let version: Option<i64> = tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'schema_version'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql)?;
        match version {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(Error::Storage {
                    path: path.to_owned(),
                    reason: format!(
                        "schema version {v} was written by a newer tandem; this one understands \
                         up to {SCHEMA_VERSION}: upgrade tandem to open it"
                    ),
                });
            }
            Some(v) if v < SCHEMA_VERSION => {
                // No older schema has ever been released: such a file was
                // not written by tandem.
                return Err(Error::Storage {
                    path: path.to_owned(),
                    reason: format!("unknown schema version {v}"),
                });
            }
            _ => {}
        }
    }
    tx.execute_batch(CREATE).map_err(sql)?;
    tx.commit().map_err(sql)
}

/// Reads one `meta` value.
pub(crate) fn meta(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
}

/// Writes one `meta` value.
pub(crate) fn set_meta(conn: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE meta SET value = ?2 WHERE name = ?1")?
        .execute(rusqlite::params![name, value])?;
    Ok(())
}

/// A revision, sequence number or time as SQLite stores it. SQLite
/// integers are signed 64-bit: values past `i64::MAX` (far beyond any real
/// revision or Unix millisecond) are clamped, which reads back as "never".
pub(crate) fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The reverse of [`to_sql`]; a negative value (only a hand-edited file
/// holds one) reads as 0.
pub(crate) fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tandem-schema-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("t.db")
    }

    #[test]
    fn init_is_idempotent_and_keeps_the_revision() -> rusqlite::Result<()> {
        let db = temp_db("idem");
        let mut conn = connect(&db)?;
        init(&mut conn, "t").expect("init");
        set_meta(&conn, "rev", 42)?;
        init(&mut conn, "t").expect("init again");
        assert_eq!(meta(&conn, "rev")?, 42);
        assert_eq!(meta(&conn, "schema_version")?, SCHEMA_VERSION);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        assert_eq!(mode, "wal");
        drop(conn);
        let _ = std::fs::remove_dir_all(db.parent().expect("parent"));
        Ok(())
    }

    #[test]
    fn sql_integers_clamp() {
        assert_eq!(to_sql(u64::MAX), i64::MAX);
        assert_eq!(from_sql(-1), 0);
        assert_eq!(from_sql(to_sql(7)), 7);
    }
}
