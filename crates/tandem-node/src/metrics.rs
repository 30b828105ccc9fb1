//! The node's counters for the operations plane (Prometheus at
//! `/metrics`): SIP messages received by method and status class,
//! transactions and calls started, and the store's commit latency.
//! Plain atomics, bumped on the receive path and around each commit;
//! `tandem-api` reads them when scraped.

use crate::clock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tandem_sip::{HeaderName, Message, Method};
use tandem_store::{Op, Rev, Snapshot, Store, StoreFuture, Watch};

/// The methods counted by name; every other one counts as `other`.
pub const METHODS: [&str; 15] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "MESSAGE",
    "REFER",
    "other",
];

/// Status classes of responses: `1xx` .. `6xx`.
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];

/// Upper bounds of the commit latency buckets, seconds.
pub const COMMIT_BUCKETS_SECS: [f64; 11] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

fn method_index(m: &Method) -> usize {
    METHODS
        .iter()
        .position(|name| *name == m.as_str())
        .unwrap_or(METHODS.len() - 1)
}

/// Counters of one node.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    requests: [AtomicU64; 15],
    responses: [[AtomicU64; 6]; 15],
    /// Requests other than ACK received well-formed (each starts a server
    /// transaction or is answered statelessly).
    pub transactions_started: AtomicU64,
    /// Initial INVITEs (no To tag) received with credentials: call
    /// attempts (the unauthenticated first try that draws a 407 is not
    /// one).
    pub calls_started: AtomicU64,
    /// The store's commits.
    pub store: StoreMetrics,
}

impl NodeMetrics {
    /// Counts a well-formed message read from the wire.
    pub fn received(&self, msg: &Message) {
        if let Some(m) = msg.method() {
            self.requests[method_index(m)].fetch_add(1, Relaxed);
            if *m != Method::Ack {
                self.transactions_started.fetch_add(1, Relaxed);
            }
            if *m == Method::Invite
                && msg.to_tag().is_none()
                && (msg.header_str(HeaderName::ProxyAuthorization).is_some()
                    || msg.header_str(HeaderName::Authorization).is_some())
            {
                self.calls_started.fetch_add(1, Relaxed);
            }
        } else if let (Some(status), Some((_, m))) = (msg.status(), msg.cseq()) {
            let class = (usize::from(status / 100)).clamp(1, 6) - 1;
            self.responses[method_index(m)][class].fetch_add(1, Relaxed);
        }
    }

    /// Requests received, by method (in [`METHODS`] order).
    pub fn requests(&self) -> Vec<(&'static str, u64)> {
        METHODS
            .iter()
            .zip(&self.requests)
            .map(|(m, c)| (*m, c.load(Relaxed)))
            .collect()
    }

    /// Responses received, by CSeq method and status class; zero counts left out.
    pub fn responses(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut v = Vec::new();
        for (m, row) in METHODS.iter().zip(&self.responses) {
            for (class, c) in STATUS_CLASSES.iter().zip(row) {
                let n = c.load(Relaxed);
                if n > 0 {
                    v.push((*m, *class, n));
                }
            }
        }
        v
    }
}

/// Commit counts and latency.
#[derive(Debug, Default)]
pub struct StoreMetrics {
    /// Commits that succeeded.
    pub commits: AtomicU64,
    /// Commits refused because a condition did not hold.
    pub conflicts: AtomicU64,
    /// Commits that failed otherwise (store unavailable...).
    pub errors: AtomicU64,
    buckets: [AtomicU64; 11],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// A cumulative histogram, as Prometheus exports it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, observations at or under it)`, cumulative.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of observations, seconds.
    pub sum_secs: f64,
    /// Number of observations.
    pub count: u64,
}

impl StoreMetrics {
    fn observe(&self, micros: u64) {
        let secs = micros as f64 / 1e6;
        if let Some(i) = COMMIT_BUCKETS_SECS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.sum_micros.fetch_add(micros, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// The commit latency histogram.
    pub fn commit_latency(&self) -> HistogramSnapshot {
        let mut total = 0;
        let buckets = COMMIT_BUCKETS_SECS
            .iter()
            .zip(&self.buckets)
            .map(|(le, c)| {
                total += c.load(Relaxed);
                (*le, total)
            })
            .collect();
        HistogramSnapshot {
            buckets,
            sum_secs: self.sum_micros.load(Relaxed) as f64 / 1e6,
            count: self.count.load(Relaxed),
        }
    }
}

/// A store that times and counts its commits.
struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<NodeMetrics>,
}

/// Wraps `store` so that its commits are counted in `metrics`.
pub(crate) fn metered(store: Arc<dyn Store>, metrics: Arc<NodeMetrics>) -> Arc<dyn Store> {
    Arc::new(MeteredStore {
        inner: store,
        metrics,
    })
}

impl Store for MeteredStore {
    fn commit(&self, ops: Vec<Op>) -> StoreFuture<Rev> {
        let started = clock::now();
        let pending = self.inner.commit(ops);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let result = pending.await;
            let s = &metrics.store;
            match &result {
                Ok(_) => {
                    s.commits.fetch_add(1, Relaxed);
                    s.observe(started.elapsed().as_micros() as u64);
                }
                Err(tandem_store::Error::Conflict { .. }) => {
                    s.conflicts.fetch_add(1, Relaxed);
                }
                Err(_) => {
                    s.errors.fetch_add(1, Relaxed);
                }
            }
            result
        })
    }

    fn snapshot(&self, prefix: &str) -> StoreFuture<Snapshot> {
        self.inner.snapshot(prefix)
    }

    fn watch(&self, prefix: &str, after: Rev) -> Watch {
        self.inner.watch(prefix, after)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_sip::ParseOptions;

    fn parse(text: &str) -> Message {
        Message::parse(
            bytes::Bytes::from(text.replace('\n', "\r\n")),
            &ParseOptions::default(),
        )
        .expect("valid message")
    }

    #[test]
    fn counts_requests_calls_and_responses() {
        let m = NodeMetrics::default();
        let invite = "INVITE sip:1001@x SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:1001@x>\nCall-ID: c\nCSeq: 1 INVITE\nMax-Forwards: 70\nContent-Length: 0\n\n";
        m.received(&parse(invite));
        let authenticated = invite.replace(
            "Max-Forwards",
            "Proxy-Authorization: Digest username=\"a\"\nMax-Forwards",
        );
        m.received(&parse(&authenticated));
        let ack = "ACK sip:1001@x SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\nFrom: <sip:a@x>;tag=1\nTo: <sip:1001@x>;tag=2\nCall-ID: c\nCSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n\n";
        m.received(&parse(ack));
        let ok = "SIP/2.0 486 Busy\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:1001@x>;tag=2\nCall-ID: c\nCSeq: 1 INVITE\nContent-Length: 0\n\n";
        m.received(&parse(ok));
        assert_eq!(m.requests()[0], ("INVITE", 2));
        assert_eq!(m.requests()[1], ("ACK", 1));
        assert_eq!(m.calls_started.load(Relaxed), 1);
        assert_eq!(m.transactions_started.load(Relaxed), 2);
        assert_eq!(m.responses(), vec![("INVITE", "4xx", 1)]);
    }

    #[test]
    fn histogram_is_cumulative() {
        let s = StoreMetrics::default();
        s.observe(300);
        s.observe(3_000);
        s.observe(5_000_000);
        let h = s.commit_latency();
        assert_eq!(h.count, 3);
        assert_eq!(h.buckets[0], (0.000_5, 1));
        assert_eq!(h.buckets[3], (0.005, 2));
        assert_eq!(h.buckets.last().map(|b| b.1), Some(2));
    }
}
