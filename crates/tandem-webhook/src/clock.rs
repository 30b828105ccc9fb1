//! The crate's one clock read: the monotonic clock, for attempt deadlines,
//! elapsed times in the logs and the shutdown grace. The webhook
//! dispatcher is runtime layer, so it may read it, here and only here, as
//! the workspace's `clippy.toml` rule asks. It is Tokio's clock, so tests
//! that pause time see paused time.

use tokio::time::Instant;

/// Reads the monotonic clock.
#[allow(clippy::disallowed_methods)] // Runtime layer: this crate's single clock read.
pub(crate) fn now() -> Instant {
    Instant::now()
}
