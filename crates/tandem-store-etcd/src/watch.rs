//! Following etcd watches: one task per watch, feeding a bounded channel.
//!
//! Each watch is an etcd watch stream on a key range from a start
//! revision. Every event is mapped (to a store [`Change`](tandem_store::Change)
//! or a coordination [`KeyEvent`](crate::KeyEvent)) and sent in revision
//! order; a full channel pauses the task, and gRPC flow control pauses
//! etcd, so a slow consumer loses nothing.
//!
//! **Resuming.** When the stream breaks (the member died, lost its leader,
//! the connection dropped) the task opens a new one on the next member
//! (see the `pool` module), from the revision after the last one it delivered,
//! so nothing is lost or repeated. It keeps trying for
//! [`EtcdConfig::watch_reconnect`](crate::EtcdConfig); then, as on
//! compaction (the revisions it needs are gone) or any other failure
//! etcd will not get over, it sends one `Err(Error::Unavailable)` telling
//! the consumer to take a fresh snapshot and watch from its revision, and
//! ends. When the store closes it sends `Err(Error::Closed)` and ends; when
//! the consumer drops its receiver it ends quietly.
//!
//! The watch asks etcd to require a leader (the client option), so a
//! member cut off from its cluster cancels the stream instead of leaving
//! it silent, and the task resumes elsewhere.

use crate::clock::now;
use crate::error::{kind, Kind};
use crate::pool::Pool;
use crate::store::MAX_RESPONSE_BYTES;
use etcd_client::{Event, WatchOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_store::Error;
use tokio::sync::{mpsc, watch};

/// What to watch.
pub(crate) struct Spec {
    /// The key, or the first key of the range.
    pub(crate) key: Vec<u8>,
    /// The end of the range (exclusive); `None` for the key alone.
    pub(crate) range_end: Option<Vec<u8>>,
    /// The first revision wanted.
    pub(crate) start_rev: i64,
}

/// Timing of a watch task.
#[derive(Clone)]
pub(crate) struct Params {
    pub(crate) request_timeout: Duration,
    pub(crate) reconnect: Duration,
}

/// Pause between attempts to reopen a broken stream.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How a stream ended.
enum End {
    /// Open a new one from `next_rev`.
    Broken(String),
    /// Report this and stop.
    Fatal(Error),
    /// The store closed.
    Closed,
    /// The consumer went away.
    Gone,
}

/// Runs the watch until it ends (see the module doc). `map` turns an event
/// into what the consumer receives (`None`: skip it).
pub(crate) async fn follow<T, F>(
    pool: Arc<Pool>,
    spec: Spec,
    params: Params,
    tx: mpsc::Sender<Result<T, Error>>,
    mut shutdown: watch::Receiver<bool>,
    mut map: F,
) where
    T: Send + 'static,
    F: FnMut(&Event) -> Option<T> + Send,
{
    let mut next_rev = spec.start_rev;
    // Since when the watch has had no working stream.
    let mut broken_since: Option<Instant> = None;
    let mut last_problem = String::new();
    loop {
        if let Some(since) = broken_since {
            if now().instant.duration_since(since) >= params.reconnect {
                let reason = format!(
                    "etcd {}: watch lost at revision {next_rev} and not resumed within {:?} \
                     ({last_problem}); take a fresh snapshot and watch from its revision",
                    pool.names, params.reconnect
                );
                send_last(&tx, Err(Error::Unavailable { reason }), &mut shutdown).await;
                return;
            }
        }
        let mut options = WatchOptions::new().with_start_revision(next_rev);
        if let Some(end) = &spec.range_end {
            options = options.with_range(end.clone());
        }
        let (member, client) = pool.pick();
        let mut client = client
            .watch_client()
            .max_decoding_message_size(MAX_RESPONSE_BYTES);
        let opened = tokio::select! {
            biased;
            _ = shutdown.changed() => {
                let _ = tx.try_send(Err(Error::Closed));
                return;
            }
            _ = tx.closed() => return,
            opened = tokio::time::timeout(
                params.request_timeout,
                client.watch(spec.key.clone(), Some(options)),
            ) => opened,
        };
        let end = match opened {
            Ok(Ok(mut stream)) => {
                let mut delivered = false;
                let end = loop {
                    let msg = tokio::select! {
                        biased;
                        _ = shutdown.changed() => break End::Closed,
                        _ = tx.closed() => break End::Gone,
                        msg = stream.message() => msg,
                    };
                    let resp = match msg {
                        Ok(Some(resp)) => resp,
                        Ok(None) => break End::Broken("stream ended".to_owned()),
                        Err(e) if kind(&e) == Kind::Unavailable => {
                            break End::Broken(e.to_string())
                        }
                        Err(e) => break End::Fatal(crate::error::to_store(&e, &pool.names)),
                    };
                    if resp.compact_revision() > 0 {
                        break End::Fatal(Error::Unavailable {
                            reason: format!(
                                "etcd {}: watch from revision {next_rev}: etcd compacted its \
                                 history up to revision {}; take a fresh snapshot and watch \
                                 from its revision",
                                pool.names,
                                resp.compact_revision()
                            ),
                        });
                    }
                    if resp.canceled() {
                        // No leader, or the member is shutting down.
                        break End::Broken(format!("canceled: {}", resp.cancel_reason()));
                    }
                    if !delivered {
                        // Created: the stream works again.
                        broken_since = None;
                        delivered = true;
                    }
                    let mut last = None;
                    for event in resp.events() {
                        if let Some(kv) = event.kv() {
                            last = Some(kv.mod_revision());
                        }
                        if let Some(item) = map(event) {
                            if tx.send(Ok(item)).await.is_err() {
                                return;
                            }
                        }
                    }
                    // A revision's events come in one response: resuming
                    // after the last one delivered loses nothing.
                    if let Some(rev) = last {
                        next_rev = next_rev.max(rev + 1);
                    }
                };
                // Stops etcd's side of the stream at once.
                drop(stream);
                end
            }
            Ok(Err(e)) if kind(&e) == Kind::Unavailable => End::Broken(e.to_string()),
            Ok(Err(e)) => End::Fatal(crate::error::to_store(&e, &pool.names)),
            Err(_) => End::Broken("opening the watch timed out".to_owned()),
        };
        match end {
            End::Broken(problem) => {
                tracing::debug!(endpoints = %pool.names, next_rev, %problem, "watch broken; resuming");
                // Resume on another member.
                pool.failed(member);
                last_problem = problem;
                broken_since.get_or_insert_with(|| now().instant);
                tokio::select! {
                    _ = shutdown.changed() => {
                        let _ = tx.try_send(Err(Error::Closed));
                        return;
                    }
                    _ = tokio::time::sleep(RETRY_PAUSE) => {}
                }
            }
            End::Fatal(e) => {
                send_last(&tx, Err(e), &mut shutdown).await;
                return;
            }
            End::Closed => {
                let _ = tx.try_send(Err(Error::Closed));
                return;
            }
            End::Gone => return,
        }
    }
}

/// Sends the watch's last message, waiting for room unless the store
/// closes first.
async fn send_last<T>(
    tx: &mpsc::Sender<Result<T, Error>>,
    msg: Result<T, Error>,
    shutdown: &mut watch::Receiver<bool>,
) {
    tokio::select! {
        _ = tx.send(msg) => {}
        _ = shutdown.changed() => {}
    }
}
