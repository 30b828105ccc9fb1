//! The transaction user of a node: it decides the answer to every request
//! the transaction layer hands up. Pure: it is given the time, draws tags
//! from the randomness it was given, and acts only through the layer.

use crate::capabilities::{self, ALLOW};
use crate::identity::LocalIdentity;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;
use tandem_sip::{HeaderName, Message, Method};
use tandem_transaction::{Event, Flow, TransactionLayer, TxId};

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Who we are.
    pub identity: LocalIdentity,
    /// The Server / User-Agent value.
    pub server: String,
}

/// Counters of the core's decisions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CoreStats {
    /// OPTIONS answered without a transaction.
    pub options_answered: u64,
    /// Requests answered with an error status because tandem does not (yet) serve them.
    pub not_served: u64,
}

/// One shard's transaction user.
#[derive(Debug)]
pub struct Core {
    config: CoreConfig,
    rng: StdRng,
    stats: CoreStats,
}

impl Core {
    /// A core whose tags come from `seed` (the runtime seeds it from the
    /// OS; tests and the simulator from a fixed number).
    pub fn new(config: CoreConfig, seed: u64) -> Core {
        Core {
            config,
            rng: StdRng::seed_from_u64(seed),
            stats: CoreStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &CoreStats {
        &self.stats
    }

    /// A fresh To tag.
    fn tag(&mut self) -> String {
        format!("{:016x}", self.rng.random::<u64>())
    }

    /// Answers, without a transaction, what can be answered so (RFC 3261
    /// §8.2.7 lets a UAS be stateless): OPTIONS addressed to the node.
    /// Called on the receiving task, before any transaction lookup.
    pub fn stateless_answer(&self, request: &Message) -> Option<Bytes> {
        if request.method() != Some(&Method::Options) {
            return None;
        }
        let uri = request.request_uri()?.ok()?;
        if !self.config.identity.is_local_request_uri(&uri) {
            return None;
        }
        Some(capabilities::options_ok(request, &self.config.server))
    }

    /// Counts an OPTIONS answered by [`Core::stateless_answer`].
    pub fn count_options(&mut self) {
        self.stats.options_answered += 1;
    }

    /// Handles one event from the transaction layer.
    pub fn on_event(&mut self, now: Instant, event: Event, layer: &mut TransactionLayer) {
        if let Event::Request {
            tx,
            request,
            flow,
            cancels,
        } = event
        {
            self.on_request(now, tx, request, flow, cancels, layer);
        }
        // ACKs for 2xx, stray responses and timeouts have no one to go to
        // until the proxy exists: they end here.
    }

    fn on_request(
        &mut self,
        now: Instant,
        tx: TxId,
        request: Message,
        _flow: Flow,
        cancels: Option<TxId>,
        layer: &mut TransactionLayer,
    ) {
        let tag = self.tag();
        let method = request.method().cloned().unwrap_or(Method::Options);
        let (code, allow) = match method {
            Method::Cancel => {
                if let Some(invite) = cancels {
                    // RFC 3261 §9.2: 200 to the CANCEL, 487 to the INVITE.
                    let _ = layer.respond_with(now, tx, 200, Some(&tag), |b| b);
                    let _ = layer.respond_with(now, invite, 487, Some(&tag), |b| b);
                    return;
                }
                (481, false)
            }
            Method::Options => {
                self.stats.options_answered += 1;
                let bytes = capabilities::options_ok(&request, &self.config.server);
                let _ = layer.respond(now, tx, 200, bytes);
                return;
            }
            Method::Bye | Method::Update | Method::Info | Method::Prack => (481, false),
            _ => (501, true),
        };
        self.stats.not_served += 1;
        let server = self.config.server.clone();
        let _ = layer.respond_with(now, tx, code, Some(&tag), |b| {
            let b = b.header(HeaderName::Server, &server);
            if allow {
                b.header(HeaderName::Allow, ALLOW)
            } else {
                b
            }
        });
    }
}
