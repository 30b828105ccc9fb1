//! Coordination primitives for the cluster agent: leases, keep-alive,
//! leader election with fencing epochs, and presence keys.
//!
//! The cluster agent (`tandem-cluster`) is pure: it decides (campaign,
//! resign, announce this node, consider the lease lost) from inputs and
//! injected time. The runtime carries its decisions out with this thin
//! layer over etcd's lease and transaction APIs, and feeds the results
//! back as inputs. Nothing here retries or decides on its own (beyond
//! sending a request that could not connect to one member to the next,
//! see the `pool` module), except the keep-alive driver, which renews on
//! a fixed interval and only reports.
//!
//! - **Leases.** [`Coordinator::grant_lease`] grants one (etcd may raise
//!   the TTL to its minimum, about 1.5 × the election timeout, rounded up
//!   to whole seconds); [`Coordinator::keep_alive`] renews it every
//!   interval and reports each acknowledgement with the time its request
//!   was **sent**, so that `sent + TTL − margin` is a safe local deadline
//!   (etcd restarted the TTL no earlier than it received the request);
//!   [`Coordinator::revoke`] ends it, deleting every key attached to it.
//! - **Election.** [`Coordinator::campaign`] creates the leader key only if
//!   it is absent (a transaction comparing its create revision with 0),
//!   attached to the campaigner's lease, and returns the key's create
//!   revision as the **fencing epoch**: a successor can only create the
//!   key after the previous holder's key is gone, at a later revision, so
//!   epochs increase strictly from one leader to the next. A leader whose
//!   lease expires loses the key with it. [`Coordinator::resign`] deletes
//!   the key only if its create revision is still the caller's epoch.
//! - **Presence.** [`Coordinator::put_with_lease`] writes a key that
//!   disappears with its lease (a node's announcement);
//!   [`Coordinator::list`] and the watches read them back.
//!
//! Keys are under the same [`EtcdConfig::prefix`](crate::EtcdConfig) as the
//! store's; values are stored as given, without the store's envelope.
//! Every call resolves within the request timeout, with `Unavailable` if
//! etcd has no quorum or cannot be reached. A put or campaign naming a
//! lease etcd no longer has fails with `Invalid` (the lease expired or was
//! revoked: grant a new one).

use crate::clock::now;
use crate::config::EtcdConfig;
use crate::error::{kind, timed_out, to_store, Kind};
use crate::keys::{check_key, full, range_end, strip};
use crate::pool::{CallError, Pool};
use crate::watch::{follow, Params, Spec};
use etcd_client::{
    Compare, CompareOp, EventType, GetOptions, LeaseKeepAliveStream, LeaseKeeper, PutOptions, Txn,
    TxnOp,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_store::{Error, Rev};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// An etcd lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseId(pub i64);

/// A lease as granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Its id.
    pub id: LeaseId,
    /// The TTL etcd granted (at least its minimum): how long the lease
    /// lives after each acknowledged renewal.
    pub ttl: Duration,
}

/// A fencing epoch: the create revision of an election key. Successive
/// holders of one key get strictly increasing epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u64);

/// A key's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, without the cluster prefix.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// Its create revision: for an election key, the holder's epoch.
    pub epoch: Epoch,
    /// The revision of its last change.
    pub rev: Rev,
    /// The lease it is attached to.
    pub lease: Option<LeaseId>,
}

/// A change to a watched key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyEvent {
    /// Created or replaced.
    Put(Entry),
    /// Deleted, or its lease ended.
    Delete {
        /// The key, without the cluster prefix.
        key: String,
        /// The revision of the removal.
        rev: Rev,
    },
}

/// What the keep-alive driver reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepAliveEvent {
    /// etcd renewed the lease: it lives at least `ttl` from `sent_at`, the
    /// time the renewal was sent (monotonic clock).
    Ack {
        /// When the acknowledged request left.
        sent_at: Instant,
        /// The TTL etcd restarted.
        ttl: Duration,
    },
    /// A renewal failed or went unanswered within the request timeout; the
    /// driver tries again at the next interval.
    Failed {
        /// When the renewal was sent.
        sent_at: Instant,
        /// Why it failed.
        error: Error,
    },
    /// etcd says the lease no longer exists (it expired or was revoked).
    /// The driver stops.
    Expired {
        /// When the renewal that learnt it was sent.
        sent_at: Instant,
    },
}

/// The keep-alive driver of one lease: renews it every interval until
/// dropped (or until etcd says it expired), reporting each outcome.
#[derive(Debug)]
pub struct KeepAlive {
    events: mpsc::Receiver<KeepAliveEvent>,
    task: JoinHandle<()>,
}

impl KeepAlive {
    /// The next report; `None` once the driver stopped (after
    /// [`KeepAliveEvent::Expired`]).
    pub async fn recv(&mut self) -> Option<KeepAliveEvent> {
        self.events.recv().await
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reports buffered for a consumer that is not reading: renewals never
/// wait for it, and an acknowledgement that does not fit is dropped (the
/// consumer's deadline then stays on an older, earlier one: safe).
const KEEPALIVE_EVENTS: usize = 64;

/// Leases, elections and presence keys; cheap to clone. See the module
/// doc. Its keep-alive drivers and watches run on the runtime it was
/// connected on (or its store's).
#[derive(Clone)]
pub struct Coordinator {
    pool: Arc<Pool>,
    prefix: String,
    request_timeout: Duration,
    reconnect: Duration,
    watch_capacity: usize,
    /// Watches end with `Err(Closed)` when the owning store closes.
    shutdown: Arc<watch::Sender<bool>>,
    /// Where the keep-alive drivers and watches run.
    runtime: Handle,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("endpoints", &self.pool.names)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Coordinator {
    pub(crate) fn new(
        pool: Arc<Pool>,
        config: &EtcdConfig,
        shutdown: Arc<watch::Sender<bool>>,
        runtime: Handle,
    ) -> Coordinator {
        Coordinator {
            pool,
            prefix: config.prefix.clone(),
            request_timeout: config.request_timeout,
            reconnect: config.watch_reconnect,
            watch_capacity: config.watch_capacity.max(1),
            shutdown,
            runtime,
        }
    }

    /// Connects on its own (without a store), like
    /// [`EtcdStore::connect`](crate::EtcdStore::connect). Its watches end
    /// with `Err(Closed)` when the last clone is dropped.
    pub async fn connect(config: EtcdConfig) -> Result<Coordinator, Error> {
        let pool = Arc::new(Pool::connect(&config).await?);
        let (shutdown, _) = watch::channel(false);
        Ok(Coordinator::new(
            pool,
            &config,
            Arc::new(shutdown),
            Handle::current(),
        ))
    }

    fn key(&self, key: &str) -> Result<Vec<u8>, Error> {
        check_key(key)?;
        Ok(full(&self.prefix, key))
    }

    /// Grants a lease of `ttl_secs` seconds (etcd may grant more: see
    /// [`Lease::ttl`]).
    pub async fn grant_lease(&self, ttl_secs: u64) -> Result<Lease, Error> {
        let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX);
        let resp = self
            .pool
            .request("lease grant", self.request_timeout, |c| async move {
                c.lease_client().grant(ttl, None).await
            })
            .await?;
        Ok(Lease {
            id: LeaseId(resp.id()),
            ttl: Duration::from_secs(u64::try_from(resp.ttl()).unwrap_or(0)),
        })
    }

    /// Starts renewing `lease` every `interval` (the first renewal goes at
    /// once). Choose the interval well under the TTL (a third is usual) so
    /// that a renewal or two may fail without the lease expiring.
    pub fn keep_alive(&self, lease: Lease, interval: Duration) -> KeepAlive {
        let (tx, events) = mpsc::channel(KEEPALIVE_EVENTS);
        let task = self.runtime.spawn(keep_alive(
            Arc::clone(&self.pool),
            lease,
            interval,
            self.request_timeout,
            tx,
        ));
        KeepAlive { events, task }
    }

    /// Revokes `lease`: etcd deletes every key attached to it (watchers
    /// see the deletes). Revoking a lease that is already gone succeeds.
    pub async fn revoke(&self, lease: LeaseId) -> Result<(), Error> {
        let revoked = self
            .pool
            .call(now().instant + self.request_timeout, |c| async move {
                c.lease_client().revoke(lease.0).await
            })
            .await;
        match revoked {
            Ok(_) => Ok(()),
            Err(CallError::Etcd(e)) if kind(&e) == Kind::LeaseNotFound => Ok(()),
            Err(CallError::Etcd(e)) => Err(to_store(&e, &self.pool.names)),
            Err(CallError::TimedOut) => Err(timed_out("lease revoke", &self.pool.names)),
        }
    }

    /// Runs one transaction within the request timeout.
    async fn txn(&self, what: &str, txn: Txn) -> Result<etcd_client::TxnResponse, Error> {
        self.pool
            .request(what, self.request_timeout, |c| {
                let txn = txn.clone();
                async move { c.kv_client().txn(txn).await }
            })
            .await
    }

    /// Creates `key` with `value` attached to `lease` if no one holds it,
    /// and returns the new holder's epoch; `None` if the key exists (held
    /// by someone else, or still by this node: [`Coordinator::get`] tells).
    pub async fn campaign(
        &self,
        key: &str,
        value: &[u8],
        lease: LeaseId,
    ) -> Result<Option<Epoch>, Error> {
        let k = self.key(key)?;
        let txn = Txn::new()
            .when([Compare::create_revision(k.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                k,
                value.to_vec(),
                Some(PutOptions::new().with_lease(lease.0)),
            )]);
        let resp = self.txn("campaign", txn).await?;
        // The key was created by this transaction: its create revision is
        // the transaction's revision.
        Ok(resp
            .succeeded()
            .then(|| Epoch(resp.header().map_or(0, |h| rev(h.revision())))))
    }

    /// Deletes `key` if its holder is still `epoch`; returns whether it did
    /// (`false`: the key is gone or someone else holds it now).
    pub async fn resign(&self, key: &str, epoch: Epoch) -> Result<bool, Error> {
        let k = self.key(key)?;
        let txn = Txn::new()
            .when([Compare::create_revision(
                k.clone(),
                CompareOp::Equal,
                i64::try_from(epoch.0).unwrap_or(i64::MAX),
            )])
            .and_then([TxnOp::delete(k, None)]);
        Ok(self.txn("resign", txn).await?.succeeded())
    }

    /// Writes `key` attached to `lease` (a presence key): it disappears
    /// when the lease ends. Returns the revision of the write.
    pub async fn put_with_lease(
        &self,
        key: &str,
        value: &[u8],
        lease: LeaseId,
    ) -> Result<Rev, Error> {
        let k = self.key(key)?;
        let resp = self
            .pool
            .request("put", self.request_timeout, |c| {
                let (k, v) = (k.clone(), value.to_vec());
                async move {
                    c.kv_client()
                        .put(k, v, Some(PutOptions::new().with_lease(lease.0)))
                        .await
                }
            })
            .await?;
        Ok(resp.header().map_or(0, |h| rev(h.revision())))
    }

    /// Reads a range (one key, or a prefix when `end` is given).
    async fn read(&self, start: Vec<u8>, end: Option<Vec<u8>>) -> Result<(Rev, Vec<Entry>), Error> {
        let resp = self
            .pool
            .request("get", self.request_timeout, |c| {
                let (start, end) = (start.clone(), end.clone());
                async move {
                    c.kv_client()
                        .get(start, end.map(|e| GetOptions::new().with_range(e)))
                        .await
                }
            })
            .await?;
        let at = resp.header().map_or(0, |h| rev(h.revision()));
        let entries = resp
            .kvs()
            .iter()
            .filter_map(|kv| Some(entry(strip(&self.prefix, kv.key())?.to_owned(), kv)))
            .collect();
        Ok((at, entries))
    }

    /// The current state of `key`, and the revision it was read at (watch
    /// from there to follow it without missing a change).
    pub async fn get(&self, key: &str) -> Result<(Rev, Option<Entry>), Error> {
        let (at, entries) = self.read(self.key(key)?, None).await?;
        Ok((at, entries.into_iter().next()))
    }

    /// Every key under `prefix` (presence keys), and the revision they
    /// were read at.
    pub async fn list(&self, prefix: &str) -> Result<(Rev, Vec<Entry>), Error> {
        let start = full(&self.prefix, prefix);
        let end = range_end(&start);
        self.read(start, Some(end)).await
    }

    /// Changes to `key` after revision `after`, in order. On compaction or
    /// a failure etcd does not get over, one `Err(Unavailable)` (read the
    /// key again and watch from there), then the end.
    pub fn watch_key(&self, key: &str, after: Rev) -> mpsc::Receiver<Result<KeyEvent, Error>> {
        let k = full(&self.prefix, key);
        self.watch(k, None, after)
    }

    /// Changes to keys under `prefix` after revision `after`, like
    /// [`Coordinator::watch_key`].
    pub fn watch_prefix(
        &self,
        prefix: &str,
        after: Rev,
    ) -> mpsc::Receiver<Result<KeyEvent, Error>> {
        let k = full(&self.prefix, prefix);
        let end = range_end(&k);
        self.watch(k, Some(end), after)
    }

    fn watch(
        &self,
        key: Vec<u8>,
        range_end: Option<Vec<u8>>,
        after: Rev,
    ) -> mpsc::Receiver<Result<KeyEvent, Error>> {
        let (tx, rx) = mpsc::channel(self.watch_capacity);
        let spec = Spec {
            key,
            range_end,
            start_rev: i64::try_from(after).unwrap_or(i64::MAX - 1) + 1,
        };
        let params = Params {
            request_timeout: self.request_timeout,
            reconnect: self.reconnect,
        };
        let prefix = self.prefix.clone();
        self.runtime.spawn(follow(
            Arc::clone(&self.pool),
            spec,
            params,
            tx,
            self.shutdown.subscribe(),
            move |event| {
                let kv = event.kv()?;
                let key = strip(&prefix, kv.key())?.to_owned();
                Some(match event.event_type() {
                    EventType::Put => KeyEvent::Put(entry(key, kv)),
                    EventType::Delete => KeyEvent::Delete {
                        key,
                        rev: rev(kv.mod_revision()),
                    },
                })
            },
        ));
        rx
    }
}

fn entry(key: String, kv: &etcd_client::KeyValue) -> Entry {
    Entry {
        key,
        value: kv.value().to_vec(),
        epoch: Epoch(rev(kv.create_revision())),
        rev: rev(kv.mod_revision()),
        lease: (kv.lease() != 0).then_some(LeaseId(kv.lease())),
    }
}

fn rev(r: i64) -> Rev {
    u64::try_from(r).unwrap_or(0)
}

/// One renewal's outcome.
enum Renewal {
    Acked(Duration),
    Expired,
}

/// The keep-alive driver's task. One etcd keep-alive stream, reopened
/// after a failure; each tick sends one renewal and waits (within the
/// request timeout) for its answer.
async fn keep_alive(
    pool: Arc<Pool>,
    lease: Lease,
    interval: Duration,
    request_timeout: Duration,
    tx: mpsc::Sender<KeepAliveEvent>,
) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(1)));
    // After a slow renewal, renew at the next interval rather than in a
    // burst: bursts add nothing to the lease.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The open stream, and the member it is on.
    let mut stream: Option<(usize, LeaseKeeper, LeaseKeepAliveStream)> = None;
    loop {
        ticker.tick().await;
        if tx.is_closed() {
            return;
        }
        let sent_at = now().instant;
        let (member, client) = match &stream {
            Some((member, ..)) => (*member, None),
            None => {
                let (member, client) = pool.pick();
                (member, Some(client))
            }
        };
        let renewal = tokio::time::timeout(request_timeout, async {
            match (stream.as_mut(), client) {
                (_, Some(client)) => {
                    // Opening the stream sends the first renewal and reads
                    // its answer (a TTL of 0, "not found", is an error).
                    let (keeper, responses) = client.lease_client().keep_alive(lease.id.0).await?;
                    stream = Some((member, keeper, responses));
                    Ok(Renewal::Acked(lease.ttl))
                }
                (None, None) => Err(etcd_client::Error::LeaseKeepAliveError(
                    "no keep-alive stream".to_owned(),
                )),
                (Some((_, keeper, responses)), None) => {
                    keeper.keep_alive().await?;
                    match responses.message().await? {
                        Some(resp) if resp.ttl() > 0 => Ok(Renewal::Acked(Duration::from_secs(
                            u64::try_from(resp.ttl()).unwrap_or(0),
                        ))),
                        Some(_) => Ok(Renewal::Expired),
                        None => Err(etcd_client::Error::LeaseKeepAliveError(
                            "keep-alive stream ended".to_owned(),
                        )),
                    }
                }
            }
        })
        .await;
        let event = match renewal {
            Ok(Ok(Renewal::Acked(ttl))) => KeepAliveEvent::Ack { sent_at, ttl },
            Ok(Ok(Renewal::Expired)) => KeepAliveEvent::Expired { sent_at },
            Ok(Err(e)) if kind(&e) == Kind::LeaseNotFound => KeepAliveEvent::Expired { sent_at },
            Ok(Err(e)) => {
                pool.failed(member);
                KeepAliveEvent::Failed {
                    sent_at,
                    error: to_store(&e, &pool.names),
                }
            }
            Err(_) => {
                pool.failed(member);
                KeepAliveEvent::Failed {
                    sent_at,
                    error: timed_out("lease renewal", &pool.names),
                }
            }
        };
        match event {
            KeepAliveEvent::Expired { .. } => {
                let _ = tx.send(event).await;
                return;
            }
            KeepAliveEvent::Failed { .. } => {
                // The stream may be broken, or hold a late answer that
                // would be taken for the next renewal's: start afresh.
                stream = None;
                let _ = tx.try_send(event);
            }
            KeepAliveEvent::Ack { .. } => {
                let _ = tx.try_send(event);
            }
        }
    }
}
