//! Per-webhook counters, kept with atomics so that `fire` and the delivery
//! task never wait on each other, and read as plain snapshots (for
//! Prometheus later).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one webhook, or summed over all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events the receiver accepted (2xx).
    pub delivered: u64,
    /// Events given up on: refused (4xx other than 429, 3xx), retries
    /// exhausted, or a request that could not be built.
    pub failed: u64,
    /// Events dropped unsent because the queue was full (the oldest goes).
    pub dropped: u64,
    /// Events still queued or in flight when shutdown's grace ran out.
    pub abandoned: u64,
    /// Requests sent (every attempt, first and retries).
    pub attempts: u64,
    /// Events waiting or in flight now.
    pub queued: u64,
}

impl Stats {
    fn add(self, other: Stats) -> Stats {
        Stats {
            delivered: self.delivered + other.delivered,
            failed: self.failed + other.failed,
            dropped: self.dropped + other.dropped,
            abandoned: self.abandoned + other.abandoned,
            attempts: self.attempts + other.attempts,
            queued: self.queued + other.queued,
        }
    }

    /// The sum of `stats`.
    pub fn sum<'a>(stats: impl IntoIterator<Item = &'a Stats>) -> Stats {
        stats.into_iter().fold(Stats::default(), |a, b| a.add(*b))
    }
}

/// One webhook's counters, with the webhook's URL (credentials and query
/// left out) to label them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStats {
    /// The webhook's URL, redacted: scheme, host, port and path.
    pub url: String,
    /// Its counters.
    pub stats: Stats,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) abandoned: AtomicU64,
    pub(crate) attempts: AtomicU64,
    /// Queued plus in flight: up on enqueue, down when an event is
    /// delivered, failed, dropped or abandoned.
    pub(crate) queued: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`, returning the new value.
    pub(crate) fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// One event left the queue for good (delivered, failed or dropped).
    pub(crate) fn settle(&self, outcome: &AtomicU64) {
        Counters::bump(outcome);
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// A snapshot.
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            delivered: get(&self.delivered),
            failed: get(&self.failed),
            dropped: get(&self.dropped),
            abandoned: get(&self.abandoned),
            attempts: get(&self.attempts),
            queued: get(&self.queued),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_moves_from_queued_to_outcome() {
        let c = Counters::default();
        Counters::bump(&c.queued);
        Counters::bump(&c.queued);
        c.settle(&c.delivered);
        let s = c.snapshot();
        assert_eq!((s.queued, s.delivered), (1, 1));
        let total = Stats::sum(&[s, s]);
        assert_eq!((total.queued, total.delivered), (2, 2));
    }
}
