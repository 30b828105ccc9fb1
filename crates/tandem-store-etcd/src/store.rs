//! [`EtcdStore`]: connecting, the [`Store`] trait on top of the group
//! committer (`writer`), paginated snapshots at one revision, and watches
//! (`watch`).

use crate::clock::now;
use crate::config::EtcdConfig;
use crate::coordination::Coordinator;
use crate::envelope;
use crate::error::{kind, timed_out, to_store, Kind};
use crate::expiry::Buckets;
use crate::keys::{self, full, range_end, strip};
use crate::pool::{CallError, Pool};
use crate::watch::{follow, Params, Spec};
use crate::writer::{Batch, Prepared, Require, Writer, WriterMsg};
use etcd_client::{EventType, GetOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tandem_store::{Change, Error, Op, Record, Rev, Snapshot, Store, StoreFuture, Watch};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};

/// Keys read per snapshot page: a snapshot of any size is read in pages,
/// all at the revision of the first, so that no response nears gRPC's
/// message limit.
const PAGE: i64 = 256;
/// The largest response accepted (gRPC's default is 4 MiB): a snapshot
/// page of [`PAGE`] values of up to 1 MiB each, or a watch response
/// carrying a large transaction's events.
pub(crate) const MAX_RESPONSE_BYTES: usize = 300 * 1024 * 1024;
/// Attempts at a snapshot whose revision etcd compacted between two pages.
const SNAPSHOT_ATTEMPTS: usize = 3;

/// The clustered store: records under [`EtcdConfig::prefix`] in etcd.
///
/// Its semantics are the embedded backend's (see the crate doc for the
/// few differences). Methods never block: a commit is queued when
/// [`Store::commit`] is called, not when its future is first polled, so
/// commits leave in call order, and dropping the future does not cancel
/// it. Every future resolves within [`EtcdConfig::request_timeout`] (per
/// snapshot page), with `Unavailable` when etcd has no quorum or cannot be
/// reached.
///
/// The store's tasks run on the tokio runtime [`EtcdStore::connect`] was
/// called on. [`EtcdStore::close`] (or dropping the store) lets queued
/// commits finish and ends every watch with `Err(Closed)`.
pub struct EtcdStore {
    pool: Arc<Pool>,
    config: EtcdConfig,
    writer: mpsc::UnboundedSender<WriterMsg>,
    /// Shared with coordinators made from this store: closing ends their
    /// watches too.
    shutdown: Arc<watch::Sender<bool>>,
    closed: AtomicBool,
    /// The runtime `connect` ran on: watches started from any thread run
    /// there.
    runtime: Handle,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("config", &self.config)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to etcd and starts the group committer. Fails with
    /// `Unavailable` if no member with a leader answers within
    /// [`EtcdConfig::dial_timeout`]. Must be called within a tokio runtime.
    pub async fn connect(config: EtcdConfig) -> Result<EtcdStore, Error> {
        let pool = Arc::new(Pool::connect(&config).await?);
        let (writer_tx, writer_rx) = mpsc::unbounded_channel();
        let writer = Writer {
            pool: Arc::clone(&pool),
            rx: writer_rx,
            buckets: Buckets::new(
                config.expiry_bucket,
                config.expiry_margin,
                config.request_timeout,
            ),
            window: config.commit_window,
            max_in_flight: config.max_in_flight,
        };
        let runtime = Handle::current();
        runtime.spawn(writer.run());
        let (shutdown, _) = watch::channel(false);
        Ok(EtcdStore {
            pool,
            config,
            writer: writer_tx,
            shutdown: Arc::new(shutdown),
            closed: AtomicBool::new(false),
            runtime,
        })
    }

    /// The configuration it was connected with.
    pub fn config(&self) -> &EtcdConfig {
        &self.config
    }

    /// The coordination API (leases, elections, presence keys) on the
    /// same connection and key prefix.
    pub fn coordinator(&self) -> Coordinator {
        Coordinator::new(
            Arc::clone(&self.pool),
            &self.config,
            Arc::clone(&self.shutdown),
            self.runtime.clone(),
        )
    }

    /// Stops taking work: later calls fail with [`Error::Closed`], queued
    /// commits are still sent (and answered), open watches get
    /// `Err(Closed)` and end. Returns at once; idempotent.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.writer.send(WriterMsg::Close);
        let _ = self.shutdown.send(true);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Checks and converts a commit's ops (on the caller's task, so that
    /// the envelopes of concurrent callers are built in parallel).
    fn prepare(&self, ops: Vec<Op>) -> Result<Batch, Error> {
        let checked = keys::prepare(ops)?;
        let first_key = checked
            .writes
            .first()
            .map(Op::key)
            .or(checked.requires.first().map(|(k, _)| k.as_str()))
            .unwrap_or_default()
            .to_owned();
        let prefix = &self.config.prefix;
        let count = checked.writes.len() + checked.requires.len();
        let ops = checked
            .writes
            .into_iter()
            .filter_map(|op| match op {
                Op::Put {
                    key,
                    value,
                    expires_at_ms,
                } => Some(Prepared::Put {
                    key: full(prefix, &key),
                    stored: envelope::encode(&value, expires_at_ms),
                    expires_at_ms,
                }),
                Op::Delete { key } => Some(Prepared::Delete {
                    key: full(prefix, &key),
                }),
                // `keys::prepare` moved conditions out of the writes.
                Op::Require { .. } => None,
            })
            .collect();
        let requires = checked
            .requires
            .into_iter()
            .map(|(user_key, expect)| Require {
                key: full(prefix, &user_key),
                user_key,
                expect,
            })
            .collect();
        let (reply, _) = oneshot::channel();
        Ok(Batch {
            ops,
            requires,
            bytes: checked.bytes + count * prefix.len(),
            deadline: now().instant + self.config.request_timeout,
            reply,
            first_key,
            alone: false,
            lease_retries: 0,
        })
    }
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// One snapshot attempt: pages of the range, all at the first page's
/// revision (on whichever members answer: revisions are cluster-wide).
async fn read_snapshot(
    pool: &Pool,
    prefix: &str,
    start: Vec<u8>,
    timeout: Duration,
) -> Result<Snapshot, CallError> {
    let end = range_end(&start);
    let mut from = start;
    let mut rev = 0i64;
    let mut records = Vec::new();
    let mut expired_before = None;
    loop {
        let mut options = GetOptions::new().with_range(end.clone()).with_limit(PAGE);
        if rev > 0 {
            options = options.with_revision(rev);
        }
        let resp = pool
            .call(now().instant + timeout, |client| {
                let (key, options) = (from.clone(), options.clone());
                async move {
                    client
                        .kv_client()
                        .max_decoding_message_size(MAX_RESPONSE_BYTES)
                        .get(key, Some(options))
                        .await
                }
            })
            .await?;
        if rev == 0 {
            rev = resp.header().map_or(0, |h| h.revision());
        }
        // Records are hidden from their expiry on: compare with the time
        // the state was read, not when the caller looks.
        let now_ms = *expired_before.get_or_insert_with(|| now().unix_ms);
        for kv in resp.kvs() {
            let Some(key) = strip(prefix, kv.key()) else {
                continue;
            };
            let (value, expires_at_ms) = envelope::decode(kv.value());
            if expires_at_ms.is_some_and(|exp| exp <= now_ms) {
                continue;
            }
            records.push(Record {
                key: key.to_owned(),
                value: value.to_vec(),
                rev: u64::try_from(kv.mod_revision()).unwrap_or(0),
                expires_at_ms,
            });
        }
        match resp.kvs().last() {
            Some(last) if resp.more() => {
                from = last.key().to_vec();
                from.push(0);
            }
            _ => break,
        }
    }
    Ok(Snapshot {
        rev: u64::try_from(rev).unwrap_or(0),
        records,
    })
}

/// A store change for a watch event under `prefix`.
fn change(prefix: &str, event: &etcd_client::Event) -> Option<Change> {
    let kv = event.kv()?;
    let key = strip(prefix, kv.key())?.to_owned();
    let rev = u64::try_from(kv.mod_revision()).unwrap_or(0);
    Some(match event.event_type() {
        EventType::Put => {
            let (value, expires_at_ms) = envelope::decode(kv.value());
            Change::Put(Record {
                key,
                value: value.to_vec(),
                rev,
                expires_at_ms,
            })
        }
        EventType::Delete => Change::Delete { key, rev },
    })
}

impl Store for EtcdStore {
    fn commit(&self, ops: Vec<Op>) -> StoreFuture<Rev> {
        if self.is_closed() {
            return Box::pin(async { Err(Error::Closed) });
        }
        let mut batch = match self.prepare(ops) {
            Ok(b) => b,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let (reply, answer) = oneshot::channel();
        batch.reply = reply;
        let queued = self.writer.send(WriterMsg::Commit(batch)).is_ok();
        Box::pin(async move {
            if !queued {
                return Err(Error::Closed);
            }
            // A dropped reply means the writer stopped before answering.
            answer.await.unwrap_or(Err(Error::Closed))
        })
    }

    fn snapshot(&self, prefix: &str) -> StoreFuture<Snapshot> {
        let closed = self.is_closed();
        let pool = Arc::clone(&self.pool);
        let cluster_prefix = self.config.prefix.clone();
        let start = full(&cluster_prefix, prefix);
        let timeout = self.config.request_timeout;
        Box::pin(async move {
            if closed {
                return Err(Error::Closed);
            }
            let mut attempt = 0;
            loop {
                attempt += 1;
                match read_snapshot(&pool, &cluster_prefix, start.clone(), timeout).await {
                    Ok(snapshot) => return Ok(snapshot),
                    // Compacted between two pages: start over at a newer
                    // revision.
                    Err(CallError::Etcd(e))
                        if kind(&e) == Kind::Compacted && attempt < SNAPSHOT_ATTEMPTS => {}
                    Err(CallError::Etcd(e)) => return Err(to_store(&e, &pool.names)),
                    Err(CallError::TimedOut) => return Err(timed_out("snapshot", &pool.names)),
                }
            }
        })
    }

    fn watch(&self, prefix: &str, after: Rev) -> Watch {
        let (tx, rx) = mpsc::channel(self.config.watch_capacity.max(1));
        if self.is_closed() {
            let _ = tx.try_send(Err(Error::Closed));
            return rx;
        }
        let key = full(&self.config.prefix, prefix);
        let spec = Spec {
            range_end: Some(range_end(&key)),
            key,
            start_rev: i64::try_from(after).unwrap_or(i64::MAX - 1) + 1,
        };
        let params = Params {
            request_timeout: self.config.request_timeout,
            reconnect: self.config.watch_reconnect,
        };
        let cluster_prefix = self.config.prefix.clone();
        self.runtime.spawn(follow(
            Arc::clone(&self.pool),
            spec,
            params,
            tx,
            self.shutdown.subscribe(),
            move |event| change(&cluster_prefix, event),
        ));
        rx
    }

    fn describe(&self) -> String {
        format!("etcd:{}{}", self.pool.names, self.config.prefix)
    }
}
