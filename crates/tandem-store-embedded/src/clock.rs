//! The crate's one clock read. Expiry is wall-clock by definition (records
//! carry Unix milliseconds that every node and backend must agree on), so
//! the runtime layer reads `SystemTime` here and nowhere else.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
#[allow(clippy::disallowed_methods)] // The backend is runtime layer: this is its single clock read.
pub(crate) fn now_ms() -> u64 {
    // A clock before 1970 is a broken host; treating it as the epoch only
    // delays expiry, it never deletes live records.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
