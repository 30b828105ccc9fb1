//! [`EtcdConfig`]: where the cluster is, under which key prefix this tandem
//! cluster lives, and the time bounds every request honours.

use std::time::Duration;

/// How to reach etcd, and the tunables of the backend. The defaults suit a
/// node on a LAN; tests shorten the expiry buckets.
///
/// ```
/// # use std::time::Duration;
/// # use tandem_store_etcd::EtcdConfig;
/// let config = EtcdConfig {
///     endpoints: vec!["10.0.0.1:2379".into(), "10.0.0.2:2379".into()],
///     prefix: "/tandem/pbx1/".into(),
///     ..EtcdConfig::default()
/// };
/// assert_eq!(config.request_timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs of the members (`host:port` or `http://host:port`). The
    /// client balances over them and moves on when one fails.
    pub endpoints: Vec<String>,
    /// Prepended to every key, e.g. `/tandem/<cluster>/`, so that several
    /// tandem clusters (or other applications) share one etcd. Keys seen by
    /// callers never include it.
    pub prefix: String,
    /// How long [`EtcdStore::connect`](crate::EtcdStore::connect) waits for
    /// a member to answer before failing with `Unavailable`.
    pub dial_timeout: Duration,
    /// The bound on every request: a commit, snapshot, lease grant or
    /// election step resolves within it (with `Unavailable` if etcd has no
    /// quorum or cannot be reached), never hangs.
    pub request_timeout: Duration,
    /// The width of an expiry bucket: every key expiring within the same
    /// bucket shares one etcd lease (see the `expiry` module).
    pub expiry_bucket: Duration,
    /// How long after its bucket's end a lease expires, so that etcd never
    /// deletes a record before its `expires_at_ms`, even with the etcd
    /// leader's clock a little ahead of this node's.
    pub expiry_margin: Duration,
    /// How long a store watch keeps trying to resume (on another member,
    /// from the last revision it delivered) after its stream broke, before
    /// it reports `Unavailable` and ends.
    pub watch_reconnect: Duration,
    /// Capacity of each watch channel (changes buffered for a slow
    /// consumer before etcd's stream is paused).
    pub watch_capacity: usize,
    /// How long the group committer waits for more batches before sending
    /// a transaction when nothing is in flight. Zero (the default) sends at
    /// once: under load, batches gather while earlier transactions are in
    /// flight, so waiting only adds latency.
    pub commit_window: Duration,
    /// Transactions the group committer keeps in flight at once. More than
    /// one lets etcd put several in one raft round and disk sync; batches
    /// touching a key of an in-flight transaction wait for it, so writes to
    /// one key are still applied in call order.
    pub max_in_flight: usize,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: vec!["127.0.0.1:2379".to_owned()],
            prefix: "/tandem/default/".to_owned(),
            dial_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(2),
            expiry_bucket: Duration::from_secs(10),
            expiry_margin: Duration::from_secs(1),
            watch_reconnect: Duration::from_secs(5),
            watch_capacity: 4096,
            commit_window: Duration::ZERO,
            max_in_flight: 2,
        }
    }
}
