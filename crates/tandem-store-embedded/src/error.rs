//! Mapping SQLite failures onto the shared `tandem_store::Error`: the trait
//! speaks that enum only, so this crate adds no error type of its own.

use tandem_store::Error;

/// A SQLite failure while working on the database at `path`. Lock
/// contention (another process holding the write lock past the busy
/// timeout) is transient and reported as `Unavailable`, so callers retry;
/// anything else means the file is unusable.
pub(crate) fn sql(path: &str, e: &rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Unavailable {
            reason: format!("{path}: {e}"),
        },
        _ => Error::Storage {
            path: path.to_owned(),
            reason: e.to_string(),
        },
    }
}
