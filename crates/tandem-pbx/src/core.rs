//! The transaction user of a node: it decides what happens to every request
//! and response the transaction layer hands up. Pure: it is given the time
//! ([`Now`]), draws tags and branches from its seeded generator, reads the
//! shared in-memory replica, and asks for durable writes as [`Effect`]s
//! whose outcome comes back through [`Core::on_committed`].

use crate::capabilities::{self, ALLOW};
use crate::digest::{challenge, Algorithm, FailureLimiter, NonceKeeper, Refusal, Verified};
use crate::identity::LocalIdentity;
use crate::proxy::ProxyState;
use crate::registrar::{PendingRegister, RegistrarConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tandem_sip::builder::MessageBuilder;
use tandem_sip::{HeaderName, Message, Method};
use tandem_store::{Op, Rev, SharedReplica};
use tandem_transaction::{Event, Flow, TransactionLayer, TransportKind, TxId};

/// The time, both ways: the monotonic instant for timers and the wall
/// clock (Unix milliseconds) for what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub instant: Instant,
    /// Wall-clock time, Unix milliseconds.
    pub unix_ms: u64,
}

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Who we are.
    pub identity: LocalIdentity,
    /// The Server / User-Agent value.
    pub server: String,
    /// This node's name (in stored records).
    pub node: String,
    /// The digest realm.
    pub realm: String,
    /// Digest algorithms offered, in order of preference.
    pub algorithms: Vec<Algorithm>,
    /// Registrar settings.
    pub registrar: RegistrarConfig,
    /// Our address per transport, for Via and Record-Route.
    pub advertise: Vec<(TransportKind, SocketAddr)>,
    /// Key of the MAC in flow tokens.
    pub flow_secret: [u8; 32],
    /// Timer C (RFC 3261 §16.6 step 11): how long a forked INVITE may ring.
    pub timer_c: Duration,
    /// How long a confirmed call is kept without a BYE before it is
    /// considered gone, seconds.
    pub call_max_secs: u64,
    /// The cluster's floating IP, if any: listeners on it are in
    /// `advertise` too, but used only while this node holds it.
    pub floating: Option<IpAddr>,
    /// Record-Route with the floating IP (when there is one), so that
    /// in-dialog requests reach whichever node is alive.
    pub record_route_floating: bool,
    /// Requests to other domains: resolution and failover.
    pub outbound: crate::outbound::OutboundConfig,
    /// Carrier trunks and the rules that route calls to them.
    pub trunks: crate::trunks::TrunkPlan,
}

/// State shared by the cores of a node's shards.
#[derive(Debug)]
pub struct Shared {
    /// What the store holds.
    pub replica: SharedReplica,
    /// Nonces issued and counts seen.
    pub nonces: NonceKeeper,
    /// Sources blocked for failing authentication.
    pub failures: FailureLimiter,
    /// The cluster as the runtime sees it (default for a single node).
    pub cluster: crate::ClusterView,
    /// Outbound targets that failed lately, shared by every shard.
    pub quarantine: crate::outbound::Quarantine,
    /// Calls out on each trunk (`calls_max`), shared by every shard.
    pub trunk_calls: crate::outbound_rules::TrunkCalls,
    /// Calls whose trunk side is numbered one up (a challenge answered).
    pub cseq_shifts: crate::trunk_auth::CseqShifts,
    /// The carriers' registrars this node holds a registration with.
    pub registrars: crate::trunks::Registrars,
}

/// A durable write the core needs before it can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Commit `ops`, then call [`Core::on_committed`] with `token`.
    Commit {
        /// Names the continuation.
        token: u64,
        /// The writes.
        ops: Vec<Op>,
    },
    /// Resolve `query` (RFC 3263), then call [`Core::on_resolved`] with
    /// `token`.
    Resolve {
        /// Names the continuation.
        token: u64,
        /// The host and what its URI fixes.
        query: crate::outbound::ResolveQuery,
    },
}

/// Counters of the core's decisions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CoreStats {
    /// OPTIONS answered by the core.
    pub options_answered: u64,
    /// Requests answered with an error status because tandem does not serve them.
    pub not_served: u64,
    /// Challenges sent (401/407).
    pub challenges: u64,
    /// Authentications that failed.
    pub auth_failures: u64,
    /// Requests refused because their source is blocked.
    pub blocked: u64,
    /// REGISTERs answered 200.
    pub registrations: u64,
    /// Requests forwarded statefully.
    pub forwarded: u64,
    /// Calls (INVITE dialogs) confirmed.
    pub calls_answered: u64,
    /// CDRs written.
    pub cdrs: u64,
    /// Commits that failed.
    pub commit_failures: u64,
    /// Responses relayed to the live node whose transaction they belong to.
    pub relayed: u64,
    /// NAT keep-alive OPTIONS sent to contacts this node owns.
    pub keepalives: u64,
}

/// What a pending commit was for.
#[derive(Debug)]
pub(crate) enum Pending {
    Register(Box<PendingRegister>),
    /// Dialog and CDR writes: nothing waits for them; applied to the
    /// replica once durable.
    Record(Vec<Op>),
    /// A status for operators (trunk registration): not retried, since a
    /// later state supersedes it and a stale one must not overwrite the
    /// next leader's.
    Status,
}

/// One shard's transaction user.
#[derive(Debug)]
pub struct Core {
    pub(crate) config: CoreConfig,
    pub(crate) shared: std::sync::Arc<Shared>,
    pub(crate) rng: StdRng,
    pub(crate) stats: CoreStats,
    effects: Vec<Effect>,
    pending: HashMap<u64, Pending>,
    next_token: u64,
    pub(crate) proxy: ProxyState,
    pub(crate) outbound: crate::outbound::OutboundState,
    pub(crate) calls: crate::calls::Calls,
    pub(crate) trunk_regs: crate::trunks::TrunkRegs,
    pub(crate) trunk_calls: crate::outbound_rules::TrunkCallState,
    /// [`crate::node_hash`] of this node, carried in our branches.
    pub(crate) node_hash: u32,
    /// When each owned contact last got its keep-alive, Unix ms.
    pub(crate) keepalive_sent: HashMap<String, u64>,
    /// Record writes that failed for want of a store, retried in order.
    retries: std::collections::VecDeque<(Instant, Vec<Op>)>,
}

/// How long a failed record write waits before it is tried again.
const RECORD_RETRY: Duration = Duration::from_secs(1);

/// Record writes kept for retry at most; past this the oldest is dropped
/// (and logged): memory is bounded even if the store never comes back.
const RECORD_RETRIES_MAX: usize = 200_000;

impl Core {
    /// A core whose tags come from `seed` (the runtime seeds it from the
    /// OS; tests and the simulator from a fixed number).
    pub fn new(config: CoreConfig, shared: std::sync::Arc<Shared>, seed: u64) -> Core {
        Core {
            shared,
            rng: StdRng::seed_from_u64(seed),
            stats: CoreStats::default(),
            effects: Vec::new(),
            pending: HashMap::new(),
            next_token: 1,
            node_hash: crate::node_hash(&config.node),
            proxy: ProxyState::default(),
            outbound: crate::outbound::OutboundState::default(),
            calls: crate::calls::Calls::default(),
            trunk_regs: crate::trunks::TrunkRegs::default(),
            trunk_calls: crate::outbound_rules::TrunkCallState::default(),
            retries: std::collections::VecDeque::new(),
            keepalive_sent: HashMap::new(),
            config,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &CoreStats {
        &self.stats
    }

    /// The settings.
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// A fresh random tag (To tags, CDR ids).
    pub(crate) fn tag(&mut self) -> String {
        format!("{:016x}", self.rng.random::<u64>())
    }

    /// Asks for `ops` to be committed; `pending` says what to do after.
    pub(crate) fn commit(&mut self, ops: Vec<Op>, pending: Pending) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        self.pending.insert(token, pending);
        self.effects.push(Effect::Commit { token, ops });
        token
    }

    /// Queues an effect for the runtime.
    pub(crate) fn push_effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// Commits asked for and not yet finished.
    pub fn pending_commits(&self) -> usize {
        self.pending.len()
    }

    /// The next durable write to perform.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        if self.effects.is_empty() {
            None
        } else {
            Some(self.effects.remove(0))
        }
    }

    /// A commit finished: `Ok(rev)` once durable, `Err` if the store refused
    /// or is unavailable.
    pub fn on_committed(
        &mut self,
        now: Now,
        token: u64,
        result: Result<Rev, tandem_store::Error>,
        layer: &mut TransactionLayer,
    ) {
        let Some(pending) = self.pending.remove(&token) else {
            return;
        };
        if result.is_err() {
            self.stats.commit_failures += 1;
        }
        match pending {
            Pending::Register(p) => self.register_committed(now, *p, result, layer),
            Pending::Status => {
                if let Err(e) = result {
                    tracing::debug!("status record not written: {e}");
                }
            }
            Pending::Record(ops) => match result {
                Ok(rev) => crate::registrar::apply_ops(&self.shared.replica, &ops, rev),
                // Another node wrote the call's end first (or the dialog is
                // gone): exactly one CDR, and it is not ours to write.
                Err(tandem_store::Error::Conflict { key }) => {
                    tracing::debug!(%key, "record not written: another node got there first");
                }
                Err(e @ tandem_store::Error::Invalid { .. }) => {
                    tracing::error!("a dialog or CDR record was refused by the store: {e}");
                }
                // The store is unavailable (no quorum, unreachable): keep
                // the write and try again; a CDR must not be lost.
                Err(e) => {
                    tracing::warn!(
                        "a dialog or CDR record could not be written, retrying in {}s: {e}",
                        RECORD_RETRY.as_secs()
                    );
                    if self.retries.len() >= RECORD_RETRIES_MAX {
                        if let Some((_, dropped)) = self.retries.pop_front() {
                            tracing::error!(keys = ?dropped.iter().map(Op::key).collect::<Vec<_>>(), "record retry queue full: oldest write dropped");
                        }
                    }
                    self.retries.push_back((now.instant + RECORD_RETRY, ops));
                }
            },
        }
    }

    /// Answers, without a transaction, what can be answered so (RFC 3261
    /// §8.2.7 lets a UAS be stateless): OPTIONS addressed to the node
    /// itself (no user part). Called on the receiving task.
    pub fn stateless_answer(&self, request: &Message) -> Option<bytes::Bytes> {
        if request.method() != Some(&Method::Options) {
            return None;
        }
        let uri = request.request_uri()?.ok()?;
        let sip = uri.as_sip()?;
        if sip.user.is_some() || !self.config.identity.is_local_uri(sip) {
            return None;
        }
        Some(capabilities::options_ok(request, &self.config.server))
    }

    /// The 401 for a REGISTER that carries no credentials, built without
    /// a transaction (as OPTIONS to the node is answered): half of every
    /// registration is this first round, and holding a server transaction
    /// for it through Timer J (32 s over UDP) costs memory for nothing. A
    /// retransmitted REGISTER simply gets a fresh challenge. None when the
    /// request needs the stateful path (credentials, other domain, Require,
    /// a blocked source). `salt` must differ between calls.
    pub fn stateless_challenge(
        &self,
        request: &Message,
        source: std::net::IpAddr,
        now_ms: u64,
        salt: u64,
    ) -> Option<bytes::Bytes> {
        if request.method() != Some(&Method::Register)
            || request
                .header_values(HeaderName::Authorization)
                .next()
                .is_some()
            || request.header_values(HeaderName::Require).next().is_some()
            || self.shared.failures.is_blocked(source, now_ms)
        {
            return None;
        }
        let uri = request.request_uri()?.ok()?;
        if !self.config.identity.is_local_request_uri(&uri) {
            return None;
        }
        let nonce = self.shared.nonces.issue(now_ms, salt);
        let opaque = format!("{:08x}", salt as u32);
        let tag = capabilities::stateless_to_tag(request);
        let mut b = MessageBuilder::response(request, 401, None, Some(&tag))
            .header(HeaderName::Server, &self.config.server);
        for a in &self.config.algorithms {
            b = b.header(
                HeaderName::WwwAuthenticate,
                &challenge(&self.config.realm, &nonce, &opaque, *a, false),
            );
        }
        Some(b.build())
    }

    /// Handles one event from the transaction layer.
    pub fn on_event(&mut self, now: Now, event: Event, layer: &mut TransactionLayer) {
        match event {
            Event::Request {
                tx,
                request,
                flow,
                cancels,
            } => self.on_request(now, tx, request, flow, cancels, layer),
            Event::Ack { request, flow } => self.forward_ack(now, request, flow, layer),
            Event::Response { tx, response, .. } => {
                if !self.trunk_response(now, tx, &response, layer) {
                    self.on_response(now, tx, response, layer)
                }
            }
            Event::Timeout { tx } => {
                if !self.trunk_failed(now, tx, 408, layer) {
                    self.on_branch_failed(now, tx, 408, layer)
                }
            }
            Event::TransportError { tx } => {
                if !self.trunk_failed(now, tx, 503, layer) {
                    self.on_branch_failed(now, tx, 503, layer)
                }
            }
            Event::StrayResponse { response, .. } => {
                self.forward_stray_response(now, response, layer)
            }
            Event::AckTimeout { .. } => {}
            Event::Terminated { tx } => self.on_terminated(tx),
        }
    }

    fn on_request(
        &mut self,
        now: Now,
        tx: TxId,
        request: Message,
        flow: Flow,
        cancels: Option<TxId>,
        layer: &mut TransactionLayer,
    ) {
        let method = request.method().cloned().unwrap_or(Method::Options);
        if self
            .shared
            .failures
            .is_blocked(flow.remote.ip(), now.unix_ms)
        {
            self.stats.blocked += 1;
            self.reply(
                now,
                tx,
                403,
                Some("Forbidden (Too Many Failed Authentications)"),
                layer,
                |b| b,
            );
            return;
        }
        match method {
            Method::Cancel => self.on_cancel(now, tx, &request, cancels, layer),
            Method::Register => self.on_register(now, tx, request, flow, layer),
            _ => self.route_request(now, tx, request, flow, layer),
        }
    }

    fn on_cancel(
        &mut self,
        now: Now,
        tx: TxId,
        request: &Message,
        cancels: Option<TxId>,
        layer: &mut TransactionLayer,
    ) {
        let Some(invite) = cancels else {
            // Perhaps the INVITE went through another node (before a
            // failover): cancel its branches from here.
            let code = if self.cancel_elsewhere(now, request, layer) {
                200
            } else {
                481
            };
            self.reply(now, tx, code, None, layer, |b| b);
            return;
        };
        // RFC 3261 §9.2 / §16.10: 200 to the CANCEL, then cancel the branches.
        self.reply(now, tx, 200, None, layer, |b| b);
        if !self.cancel_context(now, invite, layer) {
            // No proxy context: we were the UAS, answer the INVITE 487.
            self.reply(now, invite, 487, None, layer, |b| b);
        }
    }

    /// Sends a response built from the server transaction's request.
    pub(crate) fn reply(
        &mut self,
        now: Now,
        tx: TxId,
        code: u16,
        reason: Option<&str>,
        layer: &mut TransactionLayer,
        extra: impl FnOnce(MessageBuilder) -> MessageBuilder,
    ) {
        let tag = self.tag();
        let server = self.config.server.clone();
        let reason = reason.map(str::to_owned);
        let _ = layer.respond_with(now.instant, tx, code, Some(&tag), |b| {
            let b = match reason {
                Some(r) => {
                    // Rebuild the status line with our reason phrase.
                    b.reason(&r)
                }
                None => b,
            };
            extra(b.header(HeaderName::Server, &server))
        });
        if code >= 400 && code != 401 && code != 407 {
            self.stats.not_served += 1;
        }
    }

    /// Refuses a method tandem does not serve with 405 and Allow.
    pub(crate) fn not_allowed(&mut self, now: Now, tx: TxId, layer: &mut TransactionLayer) {
        self.reply(now, tx, 405, None, layer, |b| {
            b.header(HeaderName::Allow, ALLOW)
        });
    }

    /// Checks credentials in `header` (Authorization for the registrar,
    /// Proxy-Authorization for the proxy). On failure answers the request
    /// (challenge, or 403 for a source now blocked) and returns `None`.
    pub(crate) fn authenticate(
        &mut self,
        now: Now,
        tx: TxId,
        request: &Message,
        flow: &Flow,
        proxy: bool,
        layer: &mut TransactionLayer,
    ) -> Option<Verified> {
        let header = if proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        let method = request
            .method()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        let realm = self.config.realm.clone();
        let mut refusal = Refusal::Missing;
        {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            for creds in request.auth_headers(header).flatten() {
                if creds.param("realm").as_deref() != Some(realm.as_str()) {
                    continue;
                }
                let result = self.shared.nonces.verify(&creds, &method, &realm, now.unix_ms, &self.config.algorithms, |user, alg| {
                    let ext = replica.extension(user)?;
                    if ext.realm != realm {
                        tracing::warn!(extension = user, ext_realm = %ext.realm, %realm, "extension's password was set for another realm: reset it");
                        return None;
                    }
                    Some(match alg {
                        Algorithm::Md5 => ext.ha1_md5.clone(),
                        Algorithm::Sha256 => ext.ha1_sha256.clone(),
                    })
                });
                match result {
                    Ok(v) => {
                        self.shared.failures.succeed(flow.remote.ip());
                        return Some(v);
                    }
                    Err(r) => refusal = r,
                }
            }
        }
        if refusal.counts_as_failure() {
            self.stats.auth_failures += 1;
            tracing::info!(source = %flow.remote, call_id = request.call_id().unwrap_or("-"), ?refusal, "authentication failed");
            if self.shared.failures.fail(flow.remote.ip(), now.unix_ms) {
                tracing::warn!(source = %flow.remote.ip(), "blocking source after repeated authentication failures");
                self.stats.blocked += 1;
                self.reply(
                    now,
                    tx,
                    403,
                    Some("Forbidden (Too Many Failed Authentications)"),
                    layer,
                    |b| b,
                );
                return None;
            }
        }
        self.challenge(now, tx, proxy, refusal == Refusal::Stale, layer);
        None
    }

    fn challenge(
        &mut self,
        now: Now,
        tx: TxId,
        proxy: bool,
        stale: bool,
        layer: &mut TransactionLayer,
    ) {
        self.stats.challenges += 1;
        let salt = self.rng.random::<u64>();
        let nonce = self.shared.nonces.issue(now.unix_ms, salt);
        let opaque = format!("{:08x}", self.rng.random::<u32>());
        let (code, name) = if proxy {
            (407, HeaderName::ProxyAuthenticate)
        } else {
            (401, HeaderName::WwwAuthenticate)
        };
        let values: Vec<String> = self
            .config
            .algorithms
            .iter()
            .map(|a| challenge(&self.config.realm, &nonce, &opaque, *a, stale))
            .collect();
        self.reply(now, tx, code, None, layer, |mut b| {
            for v in &values {
                b = b.header(name, v);
            }
            b
        });
    }

    /// When [`Core::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = self.retries.front().map(|(at, _)| *at);
        [self.proxy.next_deadline(), retry, self.trunk_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires the core's own timers (Timer C, record write retries, trunk
    /// registration refreshes and retries).
    pub fn handle_timeout(&mut self, now: Now, layer: &mut TransactionLayer) {
        self.trunk_timers(now, layer);
        for (ctx, due) in self.proxy.due(now.instant) {
            match due {
                crate::proxy::Due::TimerC => self.timer_c(now, ctx, layer),
                crate::proxy::Due::TargetSilent => self.target_silent(now, ctx, layer),
                crate::proxy::Due::RingStage => self.ring_stage_timeout(now, ctx, layer),
            }
        }
        while self
            .retries
            .front()
            .is_some_and(|(at, _)| *at <= now.instant)
        {
            if let Some((_, ops)) = self.retries.pop_front() {
                self.commit(ops.clone(), Pending::Record(ops));
            }
        }
    }
}
