//! The receive path: every message read by a transport is parsed and
//! validated on the receiving task; malformed requests are answered with the
//! status the message layer names (or dropped when no answer can be built),
//! OPTIONS to the node is answered statelessly, and everything else goes to
//! the transaction shard that owns its Call-ID (so that all messages of a
//! call meet in one place).

use crate::shard::ShardInput;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tandem_pbx::Core;
use tandem_sip::builder::{reply_to_malformed, MessageBuilder};
use tandem_sip::{Error as SipError, HeaderName, Message, ParseOptions};
use tandem_transaction::{response_flow, Transmit};
use tandem_transport::{Inbound, InboundHandler, Transports};
use tokio::sync::mpsc;

/// Counters of the receive path.
#[derive(Debug, Default)]
pub struct DispatchStats {
    /// Malformed requests answered with an error status.
    pub malformed_answered: AtomicU64,
    /// Malformed messages dropped (responses, or no Via to answer to).
    pub malformed_dropped: AtomicU64,
    /// OPTIONS answered without a transaction.
    pub options_answered: AtomicU64,
    /// Messages refused because their shard's queue was full.
    pub shard_overload: AtomicU64,
    /// Messages by method and status, transactions, calls, store commits.
    pub metrics: Arc<crate::metrics::NodeMetrics>,
}

pub(crate) struct Dispatch {
    pub(crate) opts: ParseOptions,
    pub(crate) force_rport: bool,
    pub(crate) stateless: Core,
    pub(crate) shards: OnceLock<Vec<mpsc::Sender<ShardInput>>>,
    pub(crate) stats: Arc<DispatchStats>,
    /// Salts of stateless nonces: starts random, steps by an odd constant.
    pub(crate) salt: AtomicU64,
}

/// The shard that owns a Call-ID.
pub(crate) fn shard_of(call_id: &str, shards: usize) -> usize {
    let mut h = DefaultHasher::new();
    call_id.hash(&mut h);
    (h.finish() % shards as u64) as usize
}

impl Dispatch {
    fn refuse_malformed(&self, transports: &Transports, inbound: &Inbound, error: &SipError) {
        let tag = tandem_pbx::capabilities::stateless_to_tag_raw(&inbound.bytes);
        match reply_to_malformed(
            &inbound.bytes,
            error.status(),
            error.reason_phrase(),
            Some(&tag),
        ) {
            Some(reply) => {
                self.stats
                    .malformed_answered
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(remote = %inbound.flow, status = error.status(), "malformed request: {error}");
                let _ = transports.send(Transmit {
                    flow: inbound.flow,
                    payload: reply,
                });
            }
            None => {
                self.stats.malformed_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(remote = %inbound.flow, "malformed message dropped: {error}");
            }
        }
    }
}

impl InboundHandler for Dispatch {
    fn on_message(&self, transports: &Transports, inbound: Inbound) {
        let mut msg = match Message::parse(inbound.bytes.clone(), &self.opts) {
            Ok(m) => m,
            Err(e) => return self.refuse_malformed(transports, &inbound, &e),
        };
        let flow = inbound.flow;
        self.stats.metrics.received(&msg);
        if msg.is_request() {
            if let Err(e) = msg.validate() {
                // Parsed far enough to answer properly, with our own To tag.
                self.stats
                    .malformed_answered
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(remote = %flow, call_id = msg.call_id().unwrap_or("-"), status = e.status(), "invalid request: {e}");
                let tag = tandem_pbx::capabilities::stateless_to_tag(&msg);
                let reply =
                    MessageBuilder::response(&msg, e.status(), Some(e.reason_phrase()), Some(&tag))
                        .build();
                let _ = transports.send(Transmit {
                    flow: response_flow(&msg, &flow, self.force_rport),
                    payload: reply,
                });
                return;
            }
            // RFC 3581 §4 / RFC 3261 §18.2.1: record where the request
            // really came from in its top Via; responses copy it back.
            let _ = msg.set_via_received(flow.remote.ip(), flow.remote.port());
            // The first round of a registration, statelessly (no server
            // transaction held for a challenge).
            let salt = self
                .salt
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
            if let Some(challenge) = self.stateless.stateless_challenge(
                &msg,
                flow.remote.ip(),
                crate::clock::unix_ms(),
                salt,
            ) {
                let _ = transports.send(Transmit {
                    flow: response_flow(&msg, &flow, self.force_rport),
                    payload: challenge,
                });
                return;
            }
            if let Some(answer) = self.stateless.stateless_answer(&msg) {
                self.stats.options_answered.fetch_add(1, Ordering::Relaxed);
                let _ = transports.send(Transmit {
                    flow: response_flow(&msg, &flow, self.force_rport),
                    payload: answer,
                });
                return;
            }
        }
        let Some(shards) = self.shards.get() else {
            return;
        };
        let shard = shard_of(msg.call_id().unwrap_or(""), shards.len());
        let is_request = msg.is_request();
        if let Err(mpsc::error::TrySendError::Full(ShardInput::Message(msg, _))) =
            shards[shard].try_send(ShardInput::Message(msg, flow))
        {
            self.stats.shard_overload.fetch_add(1, Ordering::Relaxed);
            if is_request && msg.method().is_some_and(|m| m.as_str() != "ACK") {
                let reply = MessageBuilder::response(&msg, 503, None, None)
                    .header(HeaderName::RetryAfter, "2")
                    .build();
                let _ = transports.send(Transmit {
                    flow: response_flow(&msg, &flow, self.force_rport),
                    payload: reply,
                });
            }
        }
    }
}
