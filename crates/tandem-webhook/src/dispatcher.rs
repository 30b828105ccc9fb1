//! The dispatcher: one Tokio task and one bounded queue per webhook.
//! [`Dispatcher::fire`] is synchronous and never waits: it hands the event
//! to the queue of every webhook that wants it (pushing the oldest entry
//! out of a full queue, counted and logged). Each task delivers its queue
//! in order, one event at a time, retrying with backoff, and logs one line
//! per attempt under the target `tandem::webhook`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::backoff::retry_wait;
use crate::client::{self, HttpClient};
use crate::queue::{Pushed, Queue};
use crate::request::Endpoint;
use crate::stats::{Counters, Stats, WebhookStats};
use crate::verdict::{classify, Verdict};
use crate::{clock, Error, WebhookConfig, WebhookEvent};

/// The log target of every line this crate writes.
const TARGET: &str = "tandem::webhook";

/// An event waiting for one webhook.
#[derive(Debug)]
struct Queued {
    event: Arc<WebhookEvent>,
    /// The delivery's number, part of its id.
    seq: u64,
}

/// One webhook: its queue, counters and task.
#[derive(Debug)]
struct Hook {
    endpoint: Arc<Endpoint>,
    queue: Arc<Queue<Queued>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

/// Sends cluster events to the configured webhooks.
#[derive(Debug)]
pub struct Dispatcher {
    hooks: Vec<Hook>,
    seq: AtomicU64,
}

impl Dispatcher {
    /// Checks `configs` and starts one delivery task per webhook, trusting
    /// the host's certificate store for https. Must be called within a
    /// Tokio runtime.
    pub fn start(configs: Vec<WebhookConfig>) -> Result<Dispatcher, Error> {
        // Check first: no need to read the certificate store for a
        // configuration that is refused anyway.
        for config in &configs {
            config.validate()?;
        }
        let tls = if configs.is_empty() {
            client::client_config(rustls::RootCertStore::empty())
        } else {
            client::native_tls_config()
        };
        Dispatcher::start_with_tls(configs, tls)
    }

    /// As [`Dispatcher::start`], with the given TLS configuration (for a
    /// private CA, or a client certificate).
    pub fn start_with_tls(
        configs: Vec<WebhookConfig>,
        tls: rustls::ClientConfig,
    ) -> Result<Dispatcher, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let endpoints = configs
            .into_iter()
            .map(|c| Endpoint::new(c).map(Arc::new))
            .collect::<Result<Vec<_>, Error>>()?;
        let client = client::build(tls);
        let hooks = endpoints
            .into_iter()
            .map(|endpoint| {
                let queue = Arc::new(Queue::new(endpoint.config.queue_max));
                let counters = Arc::new(Counters::default());
                let task = runtime.spawn(run(
                    endpoint.clone(),
                    client.clone(),
                    queue.clone(),
                    counters.clone(),
                ));
                Hook {
                    endpoint,
                    queue,
                    counters,
                    task,
                }
            })
            .collect();
        Ok(Dispatcher {
            hooks,
            seq: AtomicU64::new(0),
        })
    }

    /// Queues `event` for every webhook that wants it. Never waits: a full
    /// queue drops its oldest event (counted in [`Stats::dropped`]).
    pub fn fire(&self, event: WebhookEvent) {
        let event = Arc::new(event);
        for hook in &self.hooks {
            if !hook.endpoint.config.wants(&event.event) {
                continue;
            }
            let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
            Counters::bump(&hook.counters.queued);
            match hook.queue.push(Queued {
                event: event.clone(),
                seq,
            }) {
                Pushed::Queued => {}
                Pushed::Displaced(old) => {
                    hook.counters.settle(&hook.counters.dropped);
                    tracing::warn!(
                        target: TARGET,
                        url = %hook.endpoint.log_url,
                        event = %old.event.event,
                        at_ms = old.event.at_ms,
                        dropped = hook.counters.dropped.load(Ordering::Relaxed),
                        queue_max = hook.endpoint.config.queue_max,
                        "webhook queue full: oldest event dropped"
                    );
                }
                // Only after shutdown began, which takes the dispatcher:
                // unreachable from safe callers, but counted all the same.
                Pushed::Closed(_) => hook.counters.settle(&hook.counters.dropped),
            }
        }
    }

    /// Each webhook's counters, in configuration order.
    pub fn stats(&self) -> Vec<WebhookStats> {
        self.hooks
            .iter()
            .map(|h| WebhookStats {
                url: h.endpoint.log_url.clone(),
                stats: h.counters.snapshot(),
            })
            .collect()
    }

    /// The counters summed over all webhooks.
    pub fn totals(&self) -> Stats {
        Stats::sum(&self.stats().iter().map(|s| s.stats).collect::<Vec<_>>())
    }

    /// Stops taking events and lets every task deliver what it holds,
    /// retries included, for at most `grace`; what is left then is
    /// abandoned (counted in [`Stats::abandoned`] and logged). Returns the
    /// final counters.
    pub async fn shutdown(mut self, grace: Duration) -> Stats {
        let hooks = std::mem::take(&mut self.hooks);
        for hook in &hooks {
            hook.queue.close();
        }
        let deadline = clock::now() + grace;
        let mut totals = Vec::with_capacity(hooks.len());
        for hook in hooks {
            let mut task = hook.task;
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                // Wait for the abort so that no attempt is still running
                // (or counting) once this returns.
                let _ = task.await;
                let left = hook.counters.queued.swap(0, Ordering::Relaxed);
                hook.counters.abandoned.fetch_add(left, Ordering::Relaxed);
                tracing::warn!(
                    target: TARGET,
                    url = %hook.endpoint.log_url,
                    abandoned = left,
                    grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                    "webhook shutdown: grace over, undelivered events abandoned"
                );
            }
            totals.push(hook.counters.snapshot());
        }
        Stats::sum(&totals)
    }
}

/// Dropped without `shutdown`: the tasks deliver what they hold (retries
/// included), then end.
impl Drop for Dispatcher {
    fn drop(&mut self) {
        for hook in &self.hooks {
            hook.queue.close();
        }
    }
}

/// A webhook's task: deliver its queue in order until it is closed and
/// empty.
async fn run(
    endpoint: Arc<Endpoint>,
    client: HttpClient,
    queue: Arc<Queue<Queued>>,
    counters: Arc<Counters>,
) {
    while let Some(queued) = queue.pop().await {
        let outcome = deliver(&endpoint, &client, &queued, &counters).await;
        counters.settle(match outcome {
            Verdict::Delivered => &counters.delivered,
            Verdict::Retry | Verdict::Rejected => &counters.failed,
        });
    }
}

/// Delivers one event: up to `1 + retries_max` attempts. Returns
/// `Delivered` or `Rejected` (given up).
async fn deliver(
    endpoint: &Endpoint,
    client: &HttpClient,
    queued: &Queued,
    counters: &Counters,
) -> Verdict {
    let event = &queued.event;
    let config = &endpoint.config;
    let request = match endpoint.prepare(event, queued.seq) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(
                target: TARGET,
                url = %endpoint.log_url,
                event = %event.event,
                %error,
                "webhook request cannot be built: event not sent"
            );
            return Verdict::Rejected;
        }
    };
    let delivery = request
        .headers
        .get(crate::request::DELIVERY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let attempts_max = config.retries_max.saturating_add(1);
    let initial = Duration::from_millis(config.backoff_initial_ms);
    let max = Duration::from_millis(config.backoff_max_ms);
    for attempt in 1..=attempts_max {
        Counters::bump(&counters.attempts);
        let started = clock::now();
        let result = client::attempt(
            client,
            &request,
            started + endpoint.timeout(),
            endpoint.timeout(),
        )
        .await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = attempt == attempts_max;
        let (verdict, retry_after) = match &result {
            Ok(response) => (classify(response.status), response.retry_after),
            Err(error) if error.is_transient() => (Verdict::Retry, None),
            Err(_) => (Verdict::Rejected, None),
        };
        let wait = (verdict == Verdict::Retry && !last)
            .then(|| retry_wait(attempt, initial, max, retry_after));
        let outcome = match (verdict, wait) {
            (Verdict::Delivered, _) => "delivered",
            (Verdict::Rejected, _) => "rejected, not retried",
            (Verdict::Retry, Some(_)) => "will retry",
            (Verdict::Retry, None) => "retries exhausted, given up",
        };
        let wait_ms = wait.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX));
        match (&result, verdict) {
            (Ok(response), Verdict::Delivered) => tracing::info!(
                target: TARGET,
                url = %endpoint.log_url,
                event = %event.event,
                %delivery,
                attempt,
                status = response.status.as_u16(),
                elapsed_ms,
                "webhook {outcome}"
            ),
            (Ok(response), _) => tracing::warn!(
                target: TARGET,
                url = %endpoint.log_url,
                event = %event.event,
                %delivery,
                attempt,
                status = response.status.as_u16(),
                elapsed_ms,
                retry_in_ms = wait_ms,
                "webhook {outcome}"
            ),
            (Err(error), _) => tracing::warn!(
                target: TARGET,
                url = %endpoint.log_url,
                event = %event.event,
                %delivery,
                attempt,
                %error,
                elapsed_ms,
                retry_in_ms = wait_ms,
                "webhook {outcome}"
            ),
        }
        match (verdict, wait) {
            (Verdict::Retry, Some(wait)) => tokio::time::sleep(wait).await,
            (Verdict::Delivered, _) => return Verdict::Delivered,
            _ => return Verdict::Rejected,
        }
    }
    Verdict::Rejected
}
