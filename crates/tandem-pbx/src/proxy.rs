//! The stateful proxy (RFC 3261 §16): authentication of requests from
//! extensions, location lookup, parallel forking with CANCEL of the other
//! branches on 2xx, response aggregation (§16.7), Record-Route, loose
//! routing of in-dialog requests, Timer C, and stateless forwarding of ACKs
//! for 2xx and of responses no transaction knows (so that calls ringing
//! through a node that died still connect).

use crate::calls::CallTrack;
use crate::capabilities;
use crate::core::{Core, Now};
use crate::trunks::inbound_caller;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;
use tandem_sip::{HeaderName, Message, Method, Uri};
use tandem_store::Binding;
use tandem_transaction::{Flow, TransactionLayer, TxId};

/// A branch of a forked request.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) tx: TxId,
    /// The final status once it has one.
    pub(crate) done: Option<u16>,
    /// Whether a provisional response arrived (only then may a CANCEL go out).
    pub(crate) provisional: bool,
}

/// A request to another domain, tried on its resolved targets one after
/// the other (RFC 3263 §4.3).
#[derive(Debug)]
pub(crate) struct Failover {
    /// The request as prepared for the next hop (our Via not pushed).
    pub(crate) msg: Message,
    /// Where it came from (for Record-Route).
    pub(crate) inbound: Flow,
    /// Whether to Record-Route it.
    pub(crate) record_route: bool,
    /// Targets not tried yet, in order.
    pub(crate) remaining: std::collections::VecDeque<crate::outbound::ResolvedTarget>,
    /// The branch in flight and its target.
    pub(crate) current: Option<(TxId, crate::outbound::ResolvedTarget)>,
    /// When the current target counts as silent.
    pub(crate) deadline: Option<Instant>,
    /// A request of its own per target (calls out on trunks: each trunk
    /// its Request-URI and caller ID); empty: `msg` for every target.
    pub(crate) target_msgs: Vec<(crate::outbound::ResolvedTarget, Message)>,
    /// Whether any 5xx moves on to the next target (trunks), not only 503.
    pub(crate) any_5xx: bool,
    /// The trunk of each target (its credentials answer a challenge).
    pub(crate) trunk_of: Vec<(crate::outbound::ResolvedTarget, usize)>,
    /// The request as last sent to the current target (before Via).
    pub(crate) sent_msg: Option<Message>,
    /// Targets whose challenge was answered already (once each).
    pub(crate) authed: Vec<crate::outbound::ResolvedTarget>,
}

/// The proxy's memory of one forwarded request.
#[derive(Debug)]
struct Context {
    method: Method,
    branches: Vec<Branch>,
    /// The best final response so far (§16.7 step 6); `None` message for
    /// synthesised ones (timeouts, transport errors).
    best: Option<(u16, Option<Message>)>,
    answered: bool,
    final_sent: bool,
    cancelled: bool,
    timer_c: Option<Instant>,
    call: Option<CallTrack>,
    failover: Option<Failover>,
    /// A ring group's members still to ring.
    ring: Option<Box<crate::ring_groups::RingState>>,
}

/// Which of a context's timers fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Timer C (RFC 3261 §16.8).
    TimerC,
    /// The current target of a failover stayed silent.
    TargetSilent,
    /// A ring group's members rang long enough.
    RingStage,
}

/// All live proxy contexts of a core.
#[derive(Debug, Default)]
pub(crate) struct ProxyState {
    contexts: HashMap<TxId, Context>,
    by_client: HashMap<TxId, TxId>,
    timers: BTreeSet<(Instant, TxId)>,
    /// Client transactions sent with a CSeq one above the caller's (a
    /// trunk's challenge answered), and the caller's number: responses go
    /// upstream renumbered.
    pub(crate) cseq_restore: HashMap<TxId, u32>,
}

impl ProxyState {
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.iter().next().map(|(at, _)| *at)
    }

    pub(crate) fn due(&mut self, now: Instant) -> Vec<(TxId, Due)> {
        let mut out = Vec::new();
        while let Some(&(at, tx)) = self.timers.iter().next() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, tx));
            if let Some(c) = self.contexts.get(&tx) {
                if c.timer_c == Some(at) {
                    out.push((tx, Due::TimerC));
                }
                if c.failover.as_ref().is_some_and(|f| f.deadline == Some(at)) {
                    out.push((tx, Due::TargetSilent));
                }
                if c.ring.as_ref().is_some_and(|r| r.deadline == Some(at)) {
                    out.push((tx, Due::RingStage));
                }
            }
        }
        out
    }

    /// Live contexts, for tests and metrics.
    pub(crate) fn len(&self) -> usize {
        self.contexts.len()
    }
}

/// How good a final response is for aggregation: lower is better (6xx
/// first, then the lowest class; RFC 3261 §16.7 step 6).
fn rank(code: u16) -> u16 {
    if code >= 600 {
        0
    } else {
        code / 100
    }
}

/// Methods that create dialogs and so are record-routed.
fn creates_dialog(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Subscribe | Method::Refer | Method::Notify
    )
}

impl Core {
    /// Live proxy contexts.
    pub fn proxy_contexts(&self) -> usize {
        self.proxy.len()
    }

    /// Our Via for sending `msg` on `flow`. The branch carries this node's
    /// hash (any node can tell whose transaction a response belongs to)
    /// and, when the request came with an RFC 3261 branch, is derived from
    /// that branch and the target: another node can then build the CANCEL
    /// or ACK that matches a branch this node sent, should this node die.
    pub(crate) fn via_for(&mut self, msg: &Message, flow: &Flow) -> Option<String> {
        self.via_for_target(msg, flow, None)
    }

    /// [`Core::via_for`], the branch also derived from `salt` (a request
    /// sent to a second target of the same URI needs a branch of its own).
    fn via_for_target(&mut self, msg: &Message, flow: &Flow, salt: Option<&str>) -> Option<String> {
        let addr = self.our_addr(flow.transport, Some(flow))?;
        let target = msg.request_uri_str().unwrap_or("");
        let branch = match salt {
            Some(salt) => self.branch_for(msg.branch(), &format!("{target}|{salt}")),
            None => self.branch_for(msg.branch(), target),
        };
        Some(format!(
            "SIP/2.0/{} {};branch={branch};rport",
            flow.transport.via_token(),
            Core::hostport(addr)
        ))
    }

    /// The branch for forwarding a request that arrived with branch
    /// `incoming` to `target`, as node `node_hash` makes it.
    pub(crate) fn branch_as(
        &mut self,
        node_hash: u32,
        incoming: Option<&str>,
        target: &str,
    ) -> String {
        let h = match incoming.filter(|b| b.starts_with("z9hG4bK") && b.len() > 7) {
            Some(b) => {
                use hmac::Mac;
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.config.flow_secret)
                    .expect("HMAC takes any key");
                mac.update(b.as_bytes());
                mac.update(b"|");
                mac.update(target.as_bytes());
                let out = mac.finalize().into_bytes();
                u64::from_be_bytes(out[..8].try_into().unwrap_or([0; 8]))
            }
            None => rand::Rng::random(&mut self.rng),
        };
        format!("z9hG4bK-td{node_hash:08x}{h:016x}")
    }

    fn branch_for(&mut self, incoming: Option<&str>, target: &str) -> String {
        self.branch_as(self.node_hash, incoming, target)
    }

    /// Prepares `msg` for one hop and starts its client transaction.
    pub(crate) fn send_branch(
        &mut self,
        now: Now,
        msg: Message,
        inbound: &Flow,
        outbound: Flow,
        record_route: bool,
        layer: &mut TransactionLayer,
    ) -> Option<TxId> {
        self.send_branch_salted(now, msg, inbound, outbound, record_route, None, layer)
    }

    /// [`Core::send_branch`] with a branch salted by `salt` (see
    /// [`Core::via_for_target`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_branch_salted(
        &mut self,
        now: Now,
        mut msg: Message,
        inbound: &Flow,
        outbound: Flow,
        record_route: bool,
        salt: Option<&str>,
        layer: &mut TransactionLayer,
    ) -> Option<TxId> {
        let outbound = self.outbound(outbound);
        if record_route {
            for rr in self.record_routes(inbound, &outbound).into_iter().rev() {
                msg.add_record_route(&rr);
            }
        }
        let via = self.via_for_target(&msg, &outbound, salt)?;
        msg.push_via(&via).ok()?;
        match layer.send_request(now.instant, msg, outbound) {
            Ok(tx) => {
                self.stats.forwarded += 1;
                Some(tx)
            }
            Err(e) => {
                tracing::warn!("cannot start a client transaction: {e}");
                None
            }
        }
    }

    /// Routes a request that created server transaction `tx`.
    pub(crate) fn route_request(
        &mut self,
        now: Now,
        tx: TxId,
        request: Message,
        flow: Flow,
        layer: &mut TransactionLayer,
    ) {
        let method = request.method().cloned().unwrap_or(Method::Options);
        if request.max_forwards() == Some(0) {
            // RFC 3261 §16.3 step 3: OPTIONS may be answered, the rest get 483.
            if method == Method::Options {
                self.answer_options(now, tx, &request, layer);
            } else {
                self.reply(now, tx, 483, None, layer, |b| b);
            }
            return;
        }
        let mut msg = request.clone();
        let (ours, token_flow) = self.pop_our_routes(&mut msg);
        if msg.to_tag().is_some() {
            // In-dialog: only dialogs we record-routed pass through us, so
            // that nobody uses tandem as an open relay with a made-up tag.
            if !ours {
                self.reply(now, tx, 481, None, layer, |b| b);
                return;
            }
            self.route_in_dialog(now, tx, msg, &request, flow, token_flow, layer);
            return;
        }
        if method == Method::Invite && self.shared.cluster.draining() {
            // A node being drained takes no new calls; its peers do.
            self.reply(
                now,
                tx,
                503,
                Some("Service Unavailable (Draining)"),
                layer,
                |b| b.header(HeaderName::RetryAfter, "5"),
            );
            return;
        }
        if msg.routes().next().is_some() {
            // A pre-loaded route to somewhere else: no relaying (yet).
            self.reply(
                now,
                tx,
                403,
                Some("Forbidden (Relaying Denied)"),
                layer,
                |b| b,
            );
            return;
        }
        let Some(Ok(uri)) = msg.request_uri() else {
            self.reply(now, tx, 416, None, layer, |b| b);
            return;
        };
        let Some(sip) = uri.as_sip().copied() else {
            self.reply(now, tx, 416, None, layer, |b| b);
            return;
        };
        if !self.config.identity.is_local_uri(&sip) {
            let target = crate::outbound::query_for(&sip);
            let callee = sip.raw.to_owned();
            self.route_to_other_domain(now, tx, request, msg, flow, target, callee, layer);
            return;
        }
        let Some(user) = sip.user.map(str::to_owned) else {
            // Addressed to the node itself.
            match method {
                Method::Options => self.answer_options(now, tx, &request, layer),
                _ => self.not_allowed(now, tx, layer),
            }
            return;
        };
        if method == Method::Options && !self.extension_exists(&user) {
            self.reply(now, tx, 404, None, layer, |b| b);
            return;
        }
        // Initial requests other than OPTIONS come from extensions that
        // prove who they are (RFC 3261 §22.3).
        let mut caller = None;
        // A carrier's own addresses are trusted instead (IP-authenticated
        // trunks, and the calls to a registered trunk's contact).
        let from_trunk = self.trunk_of_source(flow.remote.ip());
        let mut user = match from_trunk {
            Some(t) => self.inbound_called(t, &request, user),
            None => user,
        };
        if let (Some(t), Method::Invite) = (from_trunk, &method) {
            match self.inbound_destination(now, t, &user) {
                Some(crate::Destination::Extension(n) | crate::Destination::RingGroup(n)) => {
                    user = n
                }
                Some(crate::Destination::Trunk(out)) => {
                    let caller = inbound_caller(&request);
                    self.route_to_trunks(
                        now,
                        tx,
                        &request,
                        &msg,
                        flow,
                        &caller,
                        &user,
                        "inbound",
                        vec![out],
                        layer,
                    );
                    return;
                }
                None => {}
            }
        }
        if method != Method::Options {
            if from_trunk.is_some() {
                caller = Some(inbound_caller(&request));
            } else {
                let Some(user) =
                    self.authenticate_caller(now, tx, &request, &flow, &mut msg, layer)
                else {
                    return;
                };
                caller = Some(user);
            }
        }
        let track = (method == Method::Invite).then(|| {
            CallTrack::new(
                &request,
                caller.clone().unwrap_or_default(),
                user.clone(),
                now,
            )
        });
        if method == Method::Invite && self.ring_group(&user).is_some() {
            self.route_to_ring_group(now, tx, msg, flow, &user, track, layer);
            return;
        }
        if !self.extension_exists(&user) {
            // Only extensions call out: a carrier never relays through us.
            if let Some(c) = caller.as_deref().filter(|_| from_trunk.is_none()) {
                if self.route_by_outbound_rules(now, tx, &request, &msg, flow, c, &user, layer) {
                    return;
                }
            }
            self.reply(now, tx, 404, None, layer, |b| b);
            if let Some(t) = track {
                self.call_ended_unanswered(now, &t, 404, false);
            }
            return;
        }
        let bindings: Vec<Binding> = {
            let replica = self
                .shared
                .replica
                .read()
                .unwrap_or_else(|p| p.into_inner());
            replica
                .bindings(&user, now.unix_ms)
                .into_iter()
                .map(|(_, b)| b.clone())
                .collect()
        };
        if bindings.is_empty() {
            self.reply(now, tx, 480, None, layer, |b| b);
            if let Some(t) = track {
                self.call_ended_unanswered(now, &t, 480, false);
            }
            return;
        }
        msg.decrement_max_forwards();
        let mut branches = Vec::new();
        for b in &bindings {
            let mut out = msg.clone();
            if out.set_request_uri(&b.contact).is_err() {
                continue;
            }
            // RFC 3327: the Path of the registration becomes the route set.
            for p in b.path.iter().rev() {
                out.prepend_header(HeaderName::Route, p);
            }
            let Some(outbound) = self.binding_flow(b, now.unix_ms) else {
                continue;
            };
            if let Some(ctx) =
                self.send_branch(now, out, &flow, outbound, creates_dialog(&method), layer)
            {
                branches.push(Branch {
                    tx: ctx,
                    done: None,
                    provisional: false,
                });
            }
        }
        if branches.is_empty() {
            self.reply(
                now,
                tx,
                480,
                Some("Temporarily Unavailable (No Reachable Contact)"),
                layer,
                |b| b,
            );
            if let Some(t) = track {
                self.call_ended_unanswered(now, &t, 480, false);
            }
            return;
        }
        self.add_context(now, tx, method, branches, track);
    }

    /// Authenticates the extension an initial request comes from (407
    /// challenge, From must match the credentials) and strips our
    /// credentials from the copy that travels on. None: answered already.
    fn authenticate_caller(
        &mut self,
        now: Now,
        tx: TxId,
        request: &Message,
        flow: &Flow,
        msg: &mut Message,
        layer: &mut TransactionLayer,
    ) -> Option<String> {
        let v = self.authenticate(now, tx, request, flow, true, layer)?;
        let from_user = request
            .from()
            .and_then(Result::ok)
            .and_then(|f| f.uri.as_sip().and_then(|u| u.user.map(str::to_owned)));
        if from_user.as_deref() != Some(v.user.as_str()) {
            self.reply(
                now,
                tx,
                403,
                Some("Forbidden (From Does Not Match Credentials)"),
                layer,
                |b| b,
            );
            return None;
        }
        strip_credentials(msg, &self.config.realm);
        Some(v.user)
    }

    /// An initial request for another domain (SIP URI dialing): only from
    /// an authenticated extension, never an open relay; sent to the
    /// targets RFC 3263 resolution gives, one after the other.
    #[allow(clippy::too_many_arguments)]
    fn route_to_other_domain(
        &mut self,
        now: Now,
        tx: TxId,
        request: Message,
        mut msg: Message,
        flow: Flow,
        target: Result<crate::outbound::ResolvedTarget, crate::outbound::ResolveQuery>,
        callee: String,
        layer: &mut TransactionLayer,
    ) {
        let method = request.method().cloned().unwrap_or(Method::Options);
        if !self.config.outbound.sip_uri_dialing || method == Method::Ack {
            self.reply(
                now,
                tx,
                403,
                Some("Forbidden (Relaying Denied)"),
                layer,
                |b| b,
            );
            return;
        }
        let Some(caller) = self.authenticate_caller(now, tx, &request, &flow, &mut msg, layer)
        else {
            return;
        };
        msg.decrement_max_forwards();
        let track =
            (method == Method::Invite).then(|| CallTrack::new(&request, caller, callee, now));
        let record_route = creates_dialog(&method);
        self.send_outbound(
            now,
            tx,
            msg,
            flow,
            method,
            record_route,
            track,
            target,
            layer,
        );
    }

    pub(crate) fn add_context(
        &mut self,
        now: Now,
        tx: TxId,
        method: Method,
        branches: Vec<Branch>,
        call: Option<CallTrack>,
    ) {
        for b in &branches {
            self.proxy.by_client.insert(b.tx, tx);
        }
        let timer_c = (method == Method::Invite).then(|| now.instant + self.config.timer_c);
        if let Some(at) = timer_c {
            self.proxy.timers.insert((at, tx));
        }
        self.proxy.contexts.insert(
            tx,
            Context {
                method,
                branches,
                best: None,
                answered: false,
                final_sent: false,
                cancelled: false,
                timer_c,
                call,
                failover: None,
                ring: None,
            },
        );
    }

    /// The ring group state of context `server`.
    pub(crate) fn ring_state(
        &mut self,
        server: TxId,
    ) -> Option<&mut crate::ring_groups::RingState> {
        self.proxy.contexts.get_mut(&server)?.ring.as_deref_mut()
    }

    /// Gives context `server` a ring group to work through.
    pub(crate) fn set_ring(&mut self, server: TxId, ring: crate::ring_groups::RingState) {
        if let Some(ctx) = self.proxy.contexts.get_mut(&server) {
            ctx.ring = Some(Box::new(ring));
        }
    }

    /// Branches of a ring group's next members, and when they stop ringing.
    pub(crate) fn add_ring_branches(&mut self, server: TxId, txs: &[TxId], until: Option<Instant>) {
        let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
            return;
        };
        for &tx in txs {
            ctx.branches.push(Branch {
                tx,
                done: None,
                provisional: false,
            });
            self.proxy.by_client.insert(tx, server);
        }
        if let Some(ring) = ctx.ring.as_mut() {
            ring.deadline = until;
        }
        if let Some(at) = until {
            self.proxy.timers.insert((at, server));
        }
    }

    /// The failover of context `server`, while it goes on.
    pub(crate) fn open_failover(&mut self, server: TxId) -> Option<&mut Failover> {
        let ctx = self.proxy.contexts.get_mut(&server)?;
        if ctx.answered || ctx.final_sent || ctx.cancelled {
            return None;
        }
        ctx.failover.as_mut()
    }

    /// Marks branch `tx` of `server` ended without counting its answer.
    pub(crate) fn branch_superseded(&mut self, server: TxId, tx: TxId) {
        if let Some(b) = self
            .proxy
            .contexts
            .get_mut(&server)
            .and_then(|c| c.branches.iter_mut().find(|b| b.tx == tx))
        {
            b.done = Some(401);
        }
    }

    /// Whether context `server` is still to be answered and not cancelled.
    pub(crate) fn context_open(&self, server: TxId) -> bool {
        self.proxy
            .contexts
            .get(&server)
            .is_some_and(|c| !c.answered && !c.final_sent && !c.cancelled)
    }

    /// Cancels the branches of `server` that still ring (a ring group
    /// member's time is up).
    pub(crate) fn cancel_pending(&mut self, now: Now, server: TxId, layer: &mut TransactionLayer) {
        self.cancel_branches(now, server, layer);
    }

    /// Replaces a best answer that is only our own cancelling of ringing
    /// members by 480: nobody answered.
    pub(crate) fn nobody_answered(&mut self, server: TxId) {
        if let Some(ctx) = self.proxy.contexts.get_mut(&server) {
            if ctx.best.as_ref().is_none_or(|(code, _)| *code == 487) {
                ctx.best = Some((480, None));
            }
        }
    }

    pub(crate) fn set_failover(&mut self, server: TxId, failover: Failover) {
        if let Some(ctx) = self.proxy.contexts.get_mut(&server) {
            ctx.failover = Some(failover);
        }
    }

    /// The next target of `server`'s failover, with what to send it.
    pub(crate) fn take_next_target(
        &mut self,
        server: TxId,
    ) -> Option<(crate::outbound::ResolvedTarget, Message, Flow, bool, bool)> {
        let ctx = self.proxy.contexts.get_mut(&server)?;
        if ctx.answered || ctx.final_sent || ctx.cancelled {
            return None;
        }
        let first = ctx.branches.is_empty();
        let f = ctx.failover.as_mut()?;
        let target = f.remaining.pop_front()?;
        let msg = match f.target_msgs.iter().position(|(t, _)| *t == target) {
            Some(i) => f.target_msgs.remove(i).1,
            None => f.msg.clone(),
        };
        if f.any_5xx {
            f.sent_msg = Some(msg.clone());
        }
        Some((target, msg, f.inbound, f.record_route, first))
    }

    /// A failover branch went out to `target`.
    pub(crate) fn branch_started(
        &mut self,
        server: TxId,
        tx: TxId,
        target: crate::outbound::ResolvedTarget,
        deadline: Instant,
    ) {
        self.proxy.by_client.insert(tx, server);
        self.proxy.timers.insert((deadline, server));
        if let Some(ctx) = self.proxy.contexts.get_mut(&server) {
            ctx.branches.push(Branch::to_target(tx));
            if let Some(f) = ctx.failover.as_mut() {
                f.current = Some((tx, target));
                f.deadline = Some(deadline);
            }
        }
    }

    /// No target left to try: the caller gets the best answer so far.
    pub(crate) fn all_targets_failed(
        &mut self,
        now: Now,
        server: TxId,
        layer: &mut TransactionLayer,
    ) {
        if let Some(ctx) = self.proxy.contexts.get_mut(&server) {
            if ctx.best.is_none() {
                ctx.best = Some((503, None));
            }
        }
        self.finish_if_done(now, server, layer);
    }

    /// The current target of `server` stayed silent past its timeout:
    /// give up on it (a late provisional still gets its CANCEL) and try
    /// the next.
    pub(crate) fn target_silent(&mut self, now: Now, server: TxId, layer: &mut TransactionLayer) {
        let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
            return;
        };
        let Some(f) = ctx.failover.as_mut() else {
            return;
        };
        f.deadline = None;
        let Some((tx, _)) = f.current else {
            return;
        };
        let silent = ctx
            .branches
            .iter()
            .any(|b| b.tx == tx && b.done.is_none() && !b.provisional);
        if !silent || f.remaining.is_empty() {
            // Ringing, answered, or the last target: its own timers decide.
            return;
        }
        let _ = layer.cancel(now.instant, tx);
        self.branch_final(now, server, tx, 408, None, layer);
    }

    fn extension_exists(&self, user: &str) -> bool {
        self.shared
            .replica
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .extension(user)
            .is_some()
    }

    pub(crate) fn answer_options(
        &mut self,
        now: Now,
        tx: TxId,
        request: &Message,
        layer: &mut TransactionLayer,
    ) {
        self.stats.options_answered += 1;
        let bytes = capabilities::options_ok(request, &self.config.server);
        let _ = layer.respond(now.instant, tx, 200, bytes);
    }

    /// The flow to the next hop of an in-dialog or pre-routed request.
    fn next_hop(
        &self,
        msg: &Message,
        token_flow: Option<Flow>,
        arrived: &Flow,
        now_ms: u64,
    ) -> Option<Flow> {
        if let Some(tf) = token_flow {
            let from_there = tf.transport == arrived.transport && tf.remote == arrived.remote;
            if !from_there && msg.routes().next().is_none() {
                return Some(tf);
            }
        }
        let target = match msg.routes().next() {
            Some(Ok(route)) => route.uri,
            Some(Err(_)) => return None,
            None => msg.request_uri()?.ok()?,
        };
        match target {
            Uri::Sip(u) => self.flow_for_uri(&u, now_ms),
            _ => None,
        }
    }

    /// The next hop's host when it is a name to resolve.
    fn next_hop_name(&self, msg: &Message) -> Option<crate::outbound::ResolveQuery> {
        let target = match msg.routes().next() {
            Some(Ok(route)) => route.uri,
            Some(Err(_)) => return None,
            None => msg.request_uri()?.ok()?,
        };
        match target {
            Uri::Sip(u) => crate::outbound::query_for(&u).err(),
            _ => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn route_in_dialog(
        &mut self,
        now: Now,
        tx: TxId,
        mut msg: Message,
        request: &Message,
        flow: Flow,
        token_flow: Option<Flow>,
        layer: &mut TransactionLayer,
    ) {
        let method = msg.method().cloned().unwrap_or(Method::Options);
        let Some(outbound) = self.next_hop(&msg, token_flow, &flow, now.unix_ms) else {
            // A next hop given as a name (a Route or Contact of another
            // domain): resolved like any request to another domain.
            if let Some(query) = self.next_hop_name(&msg) {
                msg.decrement_max_forwards();
                if method == Method::Bye {
                    self.call_hung_up(now, request);
                }
                self.send_outbound(now, tx, msg, flow, method, false, None, Err(query), layer);
                return;
            }
            self.reply(
                now,
                tx,
                404,
                Some("Not Found (No Route To Target)"),
                layer,
                |b| b,
            );
            return;
        };
        msg.decrement_max_forwards();
        if method == Method::Bye {
            self.call_hung_up(now, request);
        }
        let (msg, restore) = self.shift_in_dialog(msg);
        match self.send_branch(now, msg, &flow, outbound, false, layer) {
            Some(branch) => {
                if let Some(n) = restore {
                    self.restore_cseq(branch, n);
                }
                self.add_context(
                    now,
                    tx,
                    method,
                    vec![Branch {
                        tx: branch,
                        done: None,
                        provisional: false,
                    }],
                    None,
                )
            }
            None => self.reply(now, tx, 500, None, layer, |b| b),
        }
    }

    /// Forwards an ACK for a 2xx (its own transaction-less request) along
    /// the route set.
    pub(crate) fn forward_ack(
        &mut self,
        now: Now,
        request: Message,
        flow: Flow,
        layer: &mut TransactionLayer,
    ) {
        let mut msg = request;
        let (ours, token_flow) = self.pop_our_routes(&mut msg);
        if !ours {
            // Not a dialog we record-routed: perhaps the ACK of a failure
            // whose INVITE another node forwarded.
            if msg.to_tag().is_some() && msg.routes().next().is_none() {
                self.ack_elsewhere(now, &msg, layer);
            }
            return;
        }
        let Some(outbound) = self.next_hop(&msg, token_flow, &flow, now.unix_ms) else {
            return;
        };
        if msg.decrement_max_forwards().is_none() {
            return;
        }
        let (mut msg, _) = self.shift_in_dialog(msg);
        let outbound = self.outbound(outbound);
        let Some(via) = self.via_for(&msg, &outbound) else {
            return;
        };
        if msg.push_via(&via).is_ok() {
            layer.send_stateless(outbound, msg.to_bytes());
        }
    }

    /// A response that matches no client transaction: if its top Via is
    /// ours, pop it and send it to the next Via (RFC 3261 §16.7, §18.2.2).
    pub(crate) fn forward_stray_response(
        &mut self,
        now: Now,
        response: Message,
        layer: &mut TransactionLayer,
    ) {
        let ours = response.top_via().is_some_and(|v| {
            self.config.identity.is_local_host(&v.host)
                && self
                    .config
                    .advertise
                    .iter()
                    .any(|(_, a)| Some(a.port()) == v.port || v.port.is_none())
        });
        if !ours {
            return;
        }
        // A transaction another live node started (the floating IP moved
        // to us meanwhile): hand the response to that node, untouched.
        if let Some(owner) = response.branch().and_then(branch_owner) {
            if owner != self.node_hash {
                let member = self.shared.cluster.live_member(owner);
                if let (Some(addr), Some(local)) = (
                    member.and_then(|m| m.sip_udp),
                    self.our_addr(tandem_transaction::TransportKind::Udp, None),
                ) {
                    self.stats.relayed += 1;
                    let flow = Flow {
                        transport: tandem_transaction::TransportKind::Udp,
                        remote: addr,
                        local,
                        connection: None,
                    };
                    layer.send_stateless(flow, response.to_bytes());
                    return;
                }
            }
        }
        // Its node is gone: the call goes on statelessly, and its records
        // are kept here.
        if matches!(response.cseq(), Some((_, Method::Invite))) {
            match response.status() {
                Some(200..=299) => self.stray_answer(now, &response),
                Some(code @ 300..=699) => self.stray_failure(now, &response, code),
                _ => {}
            }
        }
        let mut msg = response;
        msg.pop_via();
        let Some(next) = msg.top_via() else { return };
        let Some(transport) = tandem_transaction::TransportKind::from_token(next.transport) else {
            return;
        };
        let ip = next.received().or_else(|| next.host.ip());
        let Some(ip) = ip else { return };
        let port = next
            .rport()
            .flatten()
            .or(next.port)
            .unwrap_or_else(|| crate::routing::default_port(transport));
        let Some(local) = self.our_addr(transport, None) else {
            return;
        };
        let flow = self.outbound(Flow {
            transport,
            remote: std::net::SocketAddr::new(ip, port),
            local,
            connection: None,
        });
        layer.send_stateless(flow, msg.to_bytes());
    }

    /// A response on one of our client transactions.
    pub(crate) fn on_response(
        &mut self,
        now: Now,
        tx: TxId,
        response: Message,
        layer: &mut TransactionLayer,
    ) {
        let Some(&server) = self.proxy.by_client.get(&tx) else {
            return;
        };
        let code = response.status().unwrap_or(500);
        if code == 100 {
            return;
        }
        let mut resp = response;
        resp.pop_via();
        if let Some(&cseq) = self.proxy.cseq_restore.get(&tx) {
            resp = crate::trunk_auth::with_cseq(&resp, cseq).unwrap_or(resp);
        }
        if code < 200 {
            if let Some(ctx) = self.proxy.contexts.get_mut(&server) {
                if let Some(b) = ctx.branches.iter_mut().find(|b| b.tx == tx) {
                    b.provisional = true;
                }
                if let Some(old) = ctx.timer_c.take() {
                    self.proxy.timers.remove(&(old, server));
                    let at = now.instant + self.config.timer_c;
                    ctx.timer_c = Some(at);
                    self.proxy.timers.insert((at, server));
                }
            }
            let _ = layer.respond(now.instant, server, code, resp.to_bytes());
            return;
        }
        if (200..300).contains(&code) {
            let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
                return;
            };
            if let Some(b) = ctx.branches.iter_mut().find(|b| b.tx == tx) {
                b.done = Some(code);
            }
            let first = !ctx.answered;
            ctx.answered = true;
            ctx.final_sent = true;
            let is_invite = ctx.method == Method::Invite;
            let pending: Vec<TxId> = ctx
                .branches
                .iter()
                .filter(|b| b.done.is_none())
                .map(|b| b.tx)
                .collect();
            let call = ctx.call.clone();
            // Every 2xx goes up, even a second one from another fork.
            let _ = layer.respond(now.instant, server, code, resp.to_bytes());
            if is_invite && first {
                for p in pending {
                    let _ = layer.cancel(now.instant, p);
                }
                if let (Some(call), Some(to_tag)) = (call, resp.to_tag()) {
                    self.call_answered(now, &call, to_tag);
                }
            }
            return;
        }
        self.branch_final(now, server, tx, code, Some(resp), layer);
    }

    /// A branch ended without a response (Timer B/F, transport error).
    pub(crate) fn on_branch_failed(
        &mut self,
        now: Now,
        tx: TxId,
        code: u16,
        layer: &mut TransactionLayer,
    ) {
        if let Some(&server) = self.proxy.by_client.get(&tx) {
            self.branch_final(now, server, tx, code, None, layer);
        }
    }

    fn branch_final(
        &mut self,
        now: Now,
        server: TxId,
        tx: TxId,
        code: u16,
        resp: Option<Message>,
        layer: &mut TransactionLayer,
    ) {
        // A trunk's digest challenge is answered here, not passed up.
        let (code, resp) = match code {
            401 | 407 => match self.trunk_challenged(now, server, tx, resp.as_ref(), layer) {
                crate::trunk_auth::Challenged::NotTrunk => (code, resp),
                crate::trunk_auth::Challenged::Answered => return,
                crate::trunk_auth::Challenged::Refused => (503, None),
            },
            _ => (code, resp),
        };
        let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
            return;
        };
        if let Some(b) = ctx.branches.iter_mut().find(|b| b.tx == tx) {
            if b.done.is_some() {
                return;
            }
            b.done = Some(code);
        }
        let better = ctx
            .best
            .as_ref()
            .is_none_or(|(best, _)| rank(code) < rank(*best));
        if better {
            ctx.best = Some((code, resp));
        }
        // A request to another domain goes on to its next target.
        let failed_target = ctx.failover.as_ref().and_then(|f| match f.current {
            Some((current, target))
                if current == tx
                    && crate::outbound::fails_over_in(f, code)
                    && !f.remaining.is_empty() =>
            {
                Some(target)
            }
            _ => None,
        });
        let last_failed = ctx.failover.as_ref().and_then(|f| match f.current {
            Some((current, target)) if current == tx && crate::outbound::fails_over_in(f, code) => {
                Some(target)
            }
            _ => None,
        });
        let going_on = !ctx.answered && !ctx.final_sent && !ctx.cancelled;
        if let Some(target) = failed_target.filter(|_| going_on) {
            self.quarantine(now, target);
            self.next_target(now, server, layer);
            return;
        }
        if let Some(target) = last_failed {
            // The last target failed too: remembered, then the answer.
            self.quarantine(now, target);
        }
        let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
            return;
        };
        // A 6xx ends the search: cancel the other branches (§16.7 step 5).
        if code >= 600 && !ctx.answered && !ctx.final_sent {
            self.cancel_branches(now, server, layer);
        }
        self.finish_if_done(now, server, layer);
    }

    /// Sends the aggregated final response once no branch is pending.
    fn finish_if_done(&mut self, now: Now, server: TxId, layer: &mut TransactionLayer) {
        let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
            return;
        };
        let pending = ctx.branches.iter().any(|b| b.done.is_none());
        if pending || ctx.answered || ctx.final_sent {
            return;
        }
        // A ring group rings its next members before anyone gets an answer.
        let ring_more = !ctx.cancelled && ctx.ring.is_some();
        if ring_more && self.ring_next_stage(now, server, layer) {
            return;
        }
        let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
            return;
        };
        ctx.final_sent = true;
        let cancelled = ctx.cancelled;
        let call = ctx.call.clone();
        let (mut best_code, best_msg) = ctx.best.take().unwrap_or((480, None));
        if let Some(at) = ctx.timer_c.take() {
            self.proxy.timers.remove(&(at, server));
        }
        // §16.7 step 6: a 503 must not travel upstream as 503.
        if best_code == 503 {
            best_code = 500;
        }
        match best_msg {
            Some(m) if m.status() == Some(best_code) => {
                let _ = layer.respond(now.instant, server, best_code, m.to_bytes());
            }
            _ => self.reply(now, server, best_code, None, layer, |b| b),
        }
        if let Some(call) = call {
            self.call_ended_unanswered(now, &call, best_code, cancelled);
        }
    }

    /// CANCEL matched server transaction `server`: cancel its branches.
    /// Returns false if the proxy has no context for it.
    pub(crate) fn cancel_context(
        &mut self,
        now: Now,
        server: TxId,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
            return false;
        };
        if ctx.answered {
            return true;
        }
        ctx.cancelled = true;
        self.cancel_branches(now, server, layer);
        true
    }

    /// Cancels every branch still pending. Branches that answered with a
    /// provisional get a CANCEL (RFC 3261 §9.1); the silent ones may not
    /// be sent one yet, so they are ended here with a local 487 (their
    /// transaction still sends the CANCEL if a provisional comes late), and
    /// the caller is not kept waiting for a phone that never answered.
    fn cancel_branches(&mut self, now: Now, server: TxId, layer: &mut TransactionLayer) {
        let Some(ctx) = self.proxy.contexts.get(&server) else {
            return;
        };
        let pending: Vec<(TxId, bool)> = ctx
            .branches
            .iter()
            .filter(|b| b.done.is_none())
            .map(|b| (b.tx, b.provisional))
            .collect();
        for (tx, provisional) in pending {
            let _ = layer.cancel(now.instant, tx);
            if !provisional {
                self.branch_final(now, server, tx, 487, None, layer);
            }
        }
    }

    /// Timer C fired for `server`: cancel what still rings (RFC 3261 §16.8).
    pub(crate) fn timer_c(&mut self, now: Now, server: TxId, layer: &mut TransactionLayer) {
        let Some(ctx) = self.proxy.contexts.get_mut(&server) else {
            return;
        };
        ctx.timer_c = None;
        // The ring time is over for a ring group's later members too.
        ctx.ring = None;
        self.cancel_branches(now, server, layer);
    }

    /// A transaction ended: forget contexts whose server transaction ended.
    pub(crate) fn on_terminated(&mut self, tx: TxId) {
        if let Some(ctx) = self.proxy.contexts.remove(&tx) {
            for b in ctx.branches {
                self.proxy.by_client.remove(&b.tx);
                self.proxy.cseq_restore.remove(&b.tx);
            }
            if let Some(at) = ctx.timer_c {
                self.proxy.timers.remove(&(at, tx));
            }
        }
    }
}

/// Removes the Proxy-Authorization credentials meant for our realm: they
/// must not travel further (RFC 3261 §22.3).
/// The node hash in a branch this software made (`z9hG4bK-td` + 8 hex).
pub(crate) fn branch_owner(branch: &str) -> Option<u32> {
    let hex = branch.strip_prefix("z9hG4bK-td")?.get(..8)?;
    u32::from_str_radix(hex, 16).ok()
}

fn strip_credentials(msg: &mut Message, realm: &str) {
    let others: Vec<String> = msg
        .auth_headers(HeaderName::ProxyAuthorization)
        .flatten()
        .filter(|a| a.param("realm").as_deref() != Some(realm))
        .map(|a| {
            format!(
                "{} {}",
                a.scheme,
                a.params()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    msg.remove_headers(HeaderName::ProxyAuthorization);
    for o in others {
        msg.append_header(HeaderName::ProxyAuthorization, &o);
    }
}

/// The flow to a Path or Route value (`<sip:...;lr>`).
pub(crate) fn parse_route_flow(core: &Core, value: &str, now_ms: u64) -> Option<Flow> {
    let na = tandem_sip::headers::NameAddr::parse(value).ok()?;
    match na.uri {
        Uri::Sip(u) => core.flow_for_uri(&u, now_ms),
        _ => None,
    }
}
