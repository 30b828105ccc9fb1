//! The crate's one clock read. Expiry is wall-clock by definition (records
//! carry Unix milliseconds that every node and backend agree on), while
//! deadlines and keep-alive acknowledgements are measured on the monotonic
//! clock; both are read here and nowhere else, as the runtime layer's
//! `clippy.toml` rule asks.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    /// Monotonic time, for deadlines and acknowledgement times.
    pub(crate) instant: Instant,
    /// Unix time in milliseconds, for expiry.
    pub(crate) unix_ms: u64,
}

/// Reads the clocks.
#[allow(clippy::disallowed_methods)] // The backend is runtime layer: this is its single clock read.
pub(crate) fn now() -> Now {
    Now {
        instant: Instant::now(),
        // A clock before 1970 is a broken host; treating it as the epoch
        // only delays expiry, it never hides live records.
        unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0),
    }
}
