//! The transaction layer: finds the transaction each message belongs to,
//! creates server transactions for new requests, runs client transactions
//! for the TU, and drives every timer. Sans-IO in the manner of
//! quinn-proto: feed it with [`TransactionLayer::handle_message`] and
//! [`TransactionLayer::handle_timeout`], drain it with
//! [`TransactionLayer::poll_transmit`] and [`TransactionLayer::poll_event`],
//! and wake it at [`TransactionLayer::poll_timeout`].

use crate::client::{build_cancel, ClientInvite, ClientNonInvite, ClientOutcome};
use crate::config::Config;
use crate::error::Error;
use crate::flow::{response_flow, Flow, Transmit};
use crate::key::{ClientKey, ServerKey};
use crate::server::{ServerInvite, ServerNonInvite, ServerOutcome};
use crate::timer::{Deadlines, TimerKind, TimerQueue};
use crate::{Event, TxId};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use tandem_sip::builder::MessageBuilder;
use tandem_sip::{HeaderName, Message, Method, ParseOptions};

/// What one call into a state machine may touch: the clock reading, the
/// settings, and the layer's queues.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) config: &'a Config,
    pub(crate) id: TxId,
    out: &'a mut VecDeque<Transmit>,
    events: &'a mut VecDeque<Event>,
    timers: &'a mut TimerQueue,
}

impl Ctx<'_> {
    pub(crate) fn send(&mut self, flow: Flow, payload: Bytes) {
        self.out.push_back(Transmit { flow, payload });
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// Starts (or restarts) a timer to fire `after` from now.
    pub(crate) fn start(&mut self, deadlines: &mut Deadlines, kind: TimerKind, after: Duration) {
        let at = self.now + after;
        deadlines.set(kind, at);
        self.timers.schedule(at, self.id, kind);
    }
}

/// The four transaction kinds of RFC 3261 §17, named as the RFC names them.
#[allow(clippy::enum_variant_names)]
#[derive(Debug)]
enum Tx {
    ClientInvite(ClientInvite, ClientKey),
    ClientNonInvite(ClientNonInvite, ClientKey),
    ServerInvite(ServerInvite, ServerKey),
    ServerNonInvite(ServerNonInvite, ServerKey),
}

impl Tx {
    fn deadlines(&self) -> &Deadlines {
        match self {
            Tx::ClientInvite(t, _) => &t.deadlines,
            Tx::ClientNonInvite(t, _) => &t.deadlines,
            Tx::ServerInvite(t, _) => &t.deadlines,
            Tx::ServerNonInvite(t, _) => &t.deadlines,
        }
    }
}

/// Counters of what the layer has done, for metrics and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Requests that created a server transaction.
    pub server_transactions: u64,
    /// Client transactions started.
    pub client_transactions: u64,
    /// Retransmitted requests absorbed by their server transaction.
    pub retransmissions_absorbed: u64,
    /// Responses matching no client transaction (passed up).
    pub stray_responses: u64,
    /// ACKs matching no server transaction (passed up).
    pub stray_acks: u64,
    /// Requests refused with 503 because the layer was full.
    pub overload_rejections: u64,
    /// Client transactions that timed out (Timer B or F).
    pub timeouts: u64,
}

/// The transaction layer of one node (or one shard of it).
#[derive(Debug)]
pub struct TransactionLayer {
    config: Config,
    next_id: u64,
    txs: HashMap<TxId, Tx>,
    servers: HashMap<ServerKey, TxId>,
    clients: HashMap<ClientKey, TxId>,
    timers: TimerQueue,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    /// False while the node drains before stopping: new requests are
    /// refused with 503, live transactions run to their end.
    accepting: bool,
}

impl TransactionLayer {
    /// A layer with the given settings.
    pub fn new(config: Config) -> TransactionLayer {
        TransactionLayer {
            config,
            next_id: 1,
            txs: HashMap::new(),
            servers: HashMap::new(),
            clients: HashMap::new(),
            timers: TimerQueue::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            accepting: true,
        }
    }

    /// Stops (or resumes) taking new requests: while stopped, a request that
    /// would create a server transaction is answered 503 with Retry-After,
    /// so that clients go elsewhere while live transactions finish.
    pub fn set_accepting(&mut self, accepting: bool) {
        self.accepting = accepting;
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What the layer has done so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    fn alloc_id(&mut self) -> TxId {
        let id = TxId(self.next_id);
        self.next_id += 1;
        id
    }

    fn ctx(&mut self, now: Instant, id: TxId) -> (Ctx<'_>, &mut HashMap<TxId, Tx>) {
        (
            Ctx {
                now,
                config: &self.config,
                id,
                out: &mut self.out,
                events: &mut self.events,
                timers: &mut self.timers,
            },
            &mut self.txs,
        )
    }

    fn remove(&mut self, id: TxId) {
        if let Some(tx) = self.txs.remove(&id) {
            match tx {
                Tx::ClientInvite(_, k) | Tx::ClientNonInvite(_, k) => {
                    self.clients.remove(&k);
                }
                Tx::ServerInvite(_, k) | Tx::ServerNonInvite(_, k) => {
                    self.servers.remove(&k);
                }
            }
            self.events.push_back(Event::Terminated { tx: id });
        }
    }

    /// Feeds a message received on `flow`. Requests are matched to server
    /// transactions (new ones are reported as [`Event::Request`]); responses
    /// to client transactions (unmatched ones as [`Event::StrayResponse`]).
    pub fn handle_message(&mut self, now: Instant, msg: Message, flow: Flow) {
        if msg.is_request() {
            self.handle_request(now, msg, flow);
        } else {
            self.handle_response(now, msg, flow);
        }
    }

    fn handle_request(&mut self, now: Instant, request: Message, flow: Flow) {
        let Some(method) = request.method().cloned() else {
            return;
        };
        let Some(key) = ServerKey::of(&request, None) else {
            return;
        };
        if let Some(&id) = self.servers.get(&key) {
            let is_ack = method == Method::Ack;
            let (mut ctx, txs) = self.ctx(now, id);
            let outcome = match txs.get_mut(&id) {
                Some(Tx::ServerInvite(t, _)) => {
                    if is_ack && t.state == crate::ServerInviteState::Accepted {
                        // An ACK for our 2xx that reused the INVITE's branch
                        // (RFC 2543 style): the TU wants it.
                        ctx.emit(Event::Ack { request, flow });
                        return;
                    }
                    t.on_request(&mut ctx, is_ack)
                }
                Some(Tx::ServerNonInvite(t, _)) => t.on_request(&mut ctx),
                _ => ServerOutcome::Continue,
            };
            if !is_ack {
                self.stats.retransmissions_absorbed += 1;
            }
            if outcome == ServerOutcome::Terminated {
                self.remove(id);
            }
            return;
        }
        if method == Method::Ack {
            // An ACK for a 2xx is its own transaction-less request (RFC 3261
            // §17.1.1.3): the TU forwards it or completes its dialog.
            self.stats.stray_acks += 1;
            self.events.push_back(Event::Ack { request, flow });
            return;
        }
        let reply_flow = response_flow(&request, &flow, self.config.force_rport);
        if !self.accepting || self.txs.len() >= self.config.transactions_max {
            self.stats.overload_rejections += 1;
            let retry = self.config.overload_retry_after_secs.to_string();
            let resp = MessageBuilder::response(&request, 503, None, None)
                .header(HeaderName::RetryAfter, &retry)
                .build();
            self.out.push_back(Transmit {
                flow: reply_flow,
                payload: resp,
            });
            return;
        }
        let cancels = if method == Method::Cancel {
            ServerKey::of(&request, Some(Method::Invite))
                .and_then(|k| self.servers.get(&k).copied())
        } else {
            None
        };
        let id = self.alloc_id();
        self.stats.server_transactions += 1;
        let (mut ctx, txs) = self.ctx(now, id);
        let tx = if method == Method::Invite {
            Tx::ServerInvite(
                ServerInvite::start(&mut ctx, request.clone(), reply_flow),
                key.clone(),
            )
        } else {
            Tx::ServerNonInvite(
                ServerNonInvite::start(request.clone(), reply_flow),
                key.clone(),
            )
        };
        txs.insert(id, tx);
        self.servers.insert(key, id);
        self.events.push_back(Event::Request {
            tx: id,
            request,
            flow,
            cancels,
        });
    }

    fn handle_response(&mut self, now: Instant, response: Message, flow: Flow) {
        let Some(id) =
            ClientKey::of_response(&response).and_then(|k| self.clients.get(&k).copied())
        else {
            // Not ours (any more): a proxy forwards it by its Via, which is
            // how calls ringing through a node that died still connect.
            self.stats.stray_responses += 1;
            self.events
                .push_back(Event::StrayResponse { response, flow });
            return;
        };
        let (mut ctx, txs) = self.ctx(now, id);
        let outcome = match txs.get_mut(&id) {
            Some(Tx::ClientInvite(t, _)) => t.on_response(&mut ctx, response, flow),
            Some(Tx::ClientNonInvite(t, _)) => t.on_response(&mut ctx, response, flow),
            _ => ClientOutcome::Continue,
        };
        self.after_client(now, id, outcome);
    }

    fn after_client(&mut self, now: Instant, id: TxId, outcome: ClientOutcome) {
        match outcome {
            ClientOutcome::Continue => {}
            ClientOutcome::SendCancel => {
                let _ = self.start_cancel(now, id);
            }
            ClientOutcome::Terminated => self.remove(id),
        }
    }

    /// Sends `response` (with status `code`) through server transaction `tx`.
    pub fn respond(
        &mut self,
        now: Instant,
        tx: TxId,
        code: u16,
        response: Bytes,
    ) -> Result<(), Error> {
        let (mut ctx, txs) = self.ctx(now, tx);
        let result = match txs.get_mut(&tx) {
            Some(Tx::ServerInvite(t, _)) => t.respond(&mut ctx, code, response),
            Some(Tx::ServerNonInvite(t, _)) => t.respond(&mut ctx, code, response),
            Some(_) => return Err(Error::NotAServerTransaction { tx }),
            None => return Err(Error::NoSuchTransaction { tx }),
        };
        match result {
            Ok(ServerOutcome::Terminated) => {
                self.remove(tx);
                Ok(())
            }
            Ok(ServerOutcome::Continue) => Ok(()),
            Err(_) => Err(Error::FinalResponseAlreadySent { tx, code }),
        }
    }

    /// Builds a response to the request of server transaction `tx`
    /// (copying Via, From, To, Call-ID, CSeq) and sends it.
    pub fn respond_with(
        &mut self,
        now: Instant,
        tx: TxId,
        code: u16,
        to_tag: Option<&str>,
        extra: impl FnOnce(MessageBuilder) -> MessageBuilder,
    ) -> Result<(), Error> {
        let bytes = match self.txs.get(&tx) {
            Some(Tx::ServerInvite(t, _)) => {
                extra(MessageBuilder::response(&t.request, code, None, to_tag)).build()
            }
            Some(Tx::ServerNonInvite(t, _)) => {
                extra(MessageBuilder::response(&t.request, code, None, to_tag)).build()
            }
            Some(_) => return Err(Error::NotAServerTransaction { tx }),
            None => return Err(Error::NoSuchTransaction { tx }),
        };
        self.respond(now, tx, code, bytes)
    }

    /// Starts a client transaction for `request`, which must carry its own
    /// top Via with a unique RFC 3261 branch. ACKs are not sent through
    /// transactions: use [`TransactionLayer::send_stateless`].
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        flow: Flow,
    ) -> Result<TxId, Error> {
        let method = request.method().cloned().ok_or(Error::NotARequest)?;
        if method == Method::Ack {
            return Err(Error::AckIsNotATransaction);
        }
        let key = ClientKey::of_request(&request).ok_or(Error::MissingBranch)?;
        if self.clients.contains_key(&key) {
            return Err(Error::DuplicateBranch);
        }
        if self.txs.len() >= self.config.transactions_max {
            return Err(Error::Overloaded {
                limit: self.config.transactions_max,
            });
        }
        let id = self.alloc_id();
        self.stats.client_transactions += 1;
        let (mut ctx, txs) = self.ctx(now, id);
        let tx = if method == Method::Invite {
            Tx::ClientInvite(ClientInvite::start(&mut ctx, request, flow), key.clone())
        } else {
            let bytes = request.to_bytes();
            Tx::ClientNonInvite(ClientNonInvite::start(&mut ctx, bytes, flow), key.clone())
        };
        txs.insert(id, tx);
        self.clients.insert(key, id);
        Ok(id)
    }

    /// Cancels client INVITE transaction `tx` (RFC 3261 §9.1): sends a
    /// CANCEL through a new client transaction now if a provisional response
    /// has arrived, or as soon as one does. Does nothing once a final
    /// response has arrived.
    pub fn cancel(&mut self, now: Instant, tx: TxId) -> Result<(), Error> {
        match self.txs.get_mut(&tx) {
            Some(Tx::ClientInvite(t, _)) => match t.state {
                crate::ClientInviteState::Calling => {
                    t.cancel_pending = true;
                    Ok(())
                }
                crate::ClientInviteState::Proceeding => self.start_cancel(now, tx).map(|_| ()),
                _ => Ok(()),
            },
            Some(_) => Err(Error::NotAnInvite { tx }),
            None => Err(Error::NoSuchTransaction { tx }),
        }
    }

    fn start_cancel(&mut self, now: Instant, invite_tx: TxId) -> Result<TxId, Error> {
        let (bytes, flow) = match self.txs.get(&invite_tx) {
            Some(Tx::ClientInvite(t, _)) => (build_cancel(&t.request), t.flow),
            _ => return Err(Error::NoSuchTransaction { tx: invite_tx }),
        };
        let cancel =
            Message::parse(bytes, &ParseOptions::default()).map_err(|_| Error::MissingBranch)?;
        self.send_request(now, cancel, flow)
    }

    /// Queues bytes to send outside any transaction: an ACK for a 2xx, a
    /// statelessly forwarded response or request.
    pub fn send_stateless(&mut self, flow: Flow, payload: Bytes) {
        self.out.push_back(Transmit { flow, payload });
    }

    /// Reports that the transport could not deliver for transaction `tx`
    /// (RFC 3261 §17.1.4, §17.2.4): a client transaction is terminated and
    /// the TU told; a server transaction is terminated.
    pub fn transport_error(&mut self, tx: TxId) {
        if matches!(
            self.txs.get(&tx),
            Some(Tx::ClientInvite(..) | Tx::ClientNonInvite(..))
        ) {
            self.events.push_back(Event::TransportError { tx });
        }
        self.remove(tx);
    }

    /// The flow a transaction sends on (client) or replies on (server).
    pub fn flow_of(&self, tx: TxId) -> Option<Flow> {
        Some(match self.txs.get(&tx)? {
            Tx::ClientInvite(t, _) => t.flow,
            Tx::ClientNonInvite(t, _) => t.flow,
            Tx::ServerInvite(t, _) => t.reply_flow,
            Tx::ServerNonInvite(t, _) => t.reply_flow,
        })
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, id, kind)) = self.timers.pop_due(now) {
            let live = self
                .txs
                .get(&id)
                .is_some_and(|tx| tx.deadlines().is_live(kind, at));
            if !live {
                continue;
            }
            let (mut ctx, txs) = self.ctx(now, id);
            let Some(tx) = txs.get_mut(&id) else { continue };
            let terminated = match tx {
                Tx::ClientInvite(t, _) => {
                    t.deadlines.stop(kind);
                    t.on_timer(&mut ctx, kind) == ClientOutcome::Terminated
                }
                Tx::ClientNonInvite(t, _) => {
                    t.deadlines.stop(kind);
                    t.on_timer(&mut ctx, kind) == ClientOutcome::Terminated
                }
                Tx::ServerInvite(t, _) => {
                    t.deadlines.stop(kind);
                    t.on_timer(&mut ctx, kind) == ServerOutcome::Terminated
                }
                Tx::ServerNonInvite(t, _) => {
                    t.deadlines.stop(kind);
                    t.on_timer(&mut ctx, kind) == ServerOutcome::Terminated
                }
            };
            if matches!(kind, TimerKind::B | TimerKind::F) && terminated {
                self.stats.timeouts += 1;
            }
            if terminated {
                self.remove(id);
            }
        }
    }

    /// When [`TransactionLayer::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The state of a server INVITE transaction, for tests and diagnostics.
    pub fn server_invite_state(&self, tx: TxId) -> Option<crate::ServerInviteState> {
        match self.txs.get(&tx)? {
            Tx::ServerInvite(t, _) => Some(t.state),
            _ => None,
        }
    }

    /// The state of a client INVITE transaction, for tests and diagnostics.
    pub fn client_invite_state(&self, tx: TxId) -> Option<crate::ClientInviteState> {
        match self.txs.get(&tx)? {
            Tx::ClientInvite(t, _) => Some(t.state),
            _ => None,
        }
    }

    /// Pending timer entries (including stale ones), for tests.
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }
}
