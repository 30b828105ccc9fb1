//! Endpoint failover: one etcd client per member, every request pinned to
//! one member at a time.
//!
//! `etcd-client` can balance over several endpoints itself, but its
//! balancer keeps sending a share of the requests to a member that died
//! (each fails with "tcp connect error"), so one dead member out of three
//! would fail a third of all commits of a healthy cluster. Instead, as
//! etcd's own Go client does, requests go to the current member until it
//! fails: a transport failure, "no leader" (the client requires one), or
//! no answer within the deadline moves every later request to the next
//! member, round robin. A request that could not even connect was never
//! sent, so it is retried at once on the next member (one try per
//! member); any other failure is returned, since the request may have been
//! applied.

use crate::clock::now;
use crate::config::EtcdConfig;
use crate::error::{kind, timed_out, to_store, Kind};
use etcd_client::{Client, ConnectOptions, GetOptions};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tandem_store::Error;

/// Pause between rounds of probes while connecting.
const PROBE_PAUSE: Duration = Duration::from_millis(100);

/// Why a request failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// etcd (or the transport) said no.
    Etcd(etcd_client::Error),
    /// No answer before the deadline.
    TimedOut,
}

/// One client per member, and the member requests go to.
pub(crate) struct Pool {
    clients: Vec<Client>,
    current: AtomicUsize,
    /// The endpoints, for error messages.
    pub(crate) names: String,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("endpoints", &self.names)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

/// Whether a failure happened before the request left: it could not
/// connect to the member.
fn unsent(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            kind(e) == Kind::Unavailable && s.message().contains("tcp connect error")
        }
        _ => false,
    }
}

impl Pool {
    /// Makes a client per endpoint (connections open lazily), then waits,
    /// within the dial timeout, until one member with a leader answers; it
    /// becomes the current one.
    pub(crate) async fn connect(config: &EtcdConfig) -> Result<Pool, Error> {
        let names = config.endpoints.join(",");
        if config.endpoints.is_empty() {
            return Err(Error::Storage {
                path: "etcd".to_owned(),
                reason: "no endpoints configured".to_owned(),
            });
        }
        let options = ConnectOptions::new()
            .with_connect_timeout(config.dial_timeout.min(config.request_timeout))
            // Detects a member that went silent (a partition) on open
            // streams. etcd refuses pings more often than every 5 s, and
            // pings without a stream (`--grpc-keepalive-min-time`, no
            // permit-without-stream).
            .with_keep_alive(Duration::from_secs(10), config.request_timeout)
            .with_keep_alive_while_idle(false)
            // A member cut off from its leader refuses at once instead of
            // letting requests and watches wait.
            .with_require_leader(true);
        let mut clients = Vec::with_capacity(config.endpoints.len());
        for endpoint in &config.endpoints {
            let client = Client::connect([endpoint], Some(options.clone()))
                .await
                .map_err(|e| to_store(&e, &names))?;
            clients.push(client);
        }
        let pool = Pool {
            clients,
            current: AtomicUsize::new(0),
            names,
        };
        let deadline = now().instant + config.dial_timeout;
        let mut last = String::from("no answer");
        loop {
            for i in 0..pool.clients.len() {
                let mut kv = pool.clients[i].kv_client();
                let probe = kv.get(
                    config.prefix.as_bytes().to_vec(),
                    Some(GetOptions::new().with_count_only().with_serializable()),
                );
                match tokio::time::timeout_at(deadline.into(), probe).await {
                    Ok(Ok(_)) => {
                        pool.current.store(i, Ordering::Relaxed);
                        return Ok(pool);
                    }
                    Ok(Err(e)) if kind(&e) == Kind::Unavailable => last = e.to_string(),
                    Ok(Err(e)) => return Err(to_store(&e, &pool.names)),
                    Err(_) => return Err(timed_out(&format!("connecting ({last})"), &pool.names)),
                }
            }
            if now().instant + PROBE_PAUSE >= deadline {
                return Err(timed_out(&format!("connecting ({last})"), &pool.names));
            }
            tokio::time::sleep(PROBE_PAUSE).await;
        }
    }

    /// The current member's index and client.
    pub(crate) fn pick(&self) -> (usize, Client) {
        let i = self.current.load(Ordering::Relaxed) % self.clients.len();
        (i, self.clients[i].clone())
    }

    /// Member `i` failed: later requests go to the next one (unless
    /// another failure already moved them).
    pub(crate) fn failed(&self, i: usize) {
        let next = (i + 1) % self.clients.len();
        if self
            .current
            .compare_exchange(i, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            && self.clients.len() > 1
        {
            tracing::debug!(endpoints = %self.names, from = i, to = next, "etcd endpoint failed over");
        }
    }

    /// Whether a failure of member `i` should move requests elsewhere.
    pub(crate) fn note(&self, i: usize, e: &etcd_client::Error) {
        if kind(e) == Kind::Unavailable {
            self.failed(i);
        }
    }

    /// Runs a request on the current member before `deadline`, failing
    /// over as the module doc says.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        deadline: Instant,
        mut request: F,
    ) -> Result<T, CallError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let mut tries = 0;
        loop {
            let (i, client) = self.pick();
            match tokio::time::timeout_at(deadline.into(), request(client)).await {
                Ok(Ok(t)) => return Ok(t),
                Ok(Err(e)) => {
                    self.note(i, &e);
                    tries += 1;
                    if unsent(&e) && tries < self.clients.len() {
                        continue;
                    }
                    return Err(CallError::Etcd(e));
                }
                Err(_) => {
                    // Its leader may be gone, or the member cut off: try
                    // another next time (harmless if the cluster as a
                    // whole is down).
                    self.failed(i);
                    return Err(CallError::TimedOut);
                }
            }
        }
    }

    /// [`Pool::call`] with the failure mapped to a store error.
    pub(crate) async fn request<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        request: F,
    ) -> Result<T, Error>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        match self.call(now().instant + timeout, request).await {
            Ok(t) => Ok(t),
            Err(CallError::Etcd(e)) => Err(to_store(&e, &self.names)),
            Err(CallError::TimedOut) => Err(timed_out(what, &self.names)),
        }
    }
}
