//! Requests to other SIP domains (RFC 3263 §4): the core asks the runtime
//! to resolve the target's host ([`Effect::Resolve`]: NAPTR, SRV, A/AAAA
//! happen outside the pure core), parks the request, and on the answer
//! sends it to the first target. A target that fails (transport error,
//! 503, Timer B/F, or silence past the per-target timeout, RFC 3263 §4.3)
//! is set aside for a while and the request goes to the next one, while
//! the caller still waits; only when every target failed does the caller
//! get the best final response (a 503 becomes 500, RFC 3261 §16.7).

use crate::calls::CallTrack;
use crate::core::{Core, Effect, Now};
use crate::proxy::{Branch, Failover};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;
use tandem_sip::{Message, Method, SipUri};
use tandem_transaction::{Flow, TransactionLayer, TransportKind, TxId};

/// What to resolve: a SIP URI's host part and what the URI fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveQuery {
    /// The host (a domain name; literal addresses are never asked).
    pub host: String,
    /// An explicit port (then only A/AAAA are looked up).
    pub port: Option<u16>,
    /// An explicit `transport=` parameter.
    pub transport: Option<TransportKind>,
    /// A SIPS URI (TLS only).
    pub sips: bool,
}

/// One place to send the request, in the order to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResolvedTarget {
    /// How.
    pub transport: TransportKind,
    /// Where.
    pub addr: SocketAddr,
}

/// Settings of outbound resolution and failover.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Whether authenticated extensions may call SIP URIs of other
    /// domains (`sip:bob@example.com`).
    pub sip_uri_dialing: bool,
    /// How long a target may stay silent (not even 100 Trying) before
    /// the next is tried.
    pub target_timeout: Duration,
    /// How long a failed target is tried last.
    pub quarantine: Duration,
    /// Most targets tried for one request.
    pub targets_max: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            sip_uri_dialing: true,
            target_timeout: Duration::from_secs(4),
            quarantine: Duration::from_secs(30),
            targets_max: 8,
        }
    }
}

/// A request waiting for its target's resolution.
#[derive(Debug)]
struct Parked {
    server: TxId,
    msg: Message,
    inbound: Flow,
    method: Method,
    record_route: bool,
    call: Option<CallTrack>,
}

/// Requests waiting for DNS.
#[derive(Debug, Default)]
pub(crate) struct OutboundState {
    parked: HashMap<u64, Parked>,
    next_token: u64,
}

/// Targets that failed lately and until when (Unix ms) they are tried
/// last; one per node, shared by its shards.
#[derive(Debug, Default)]
pub struct Quarantine {
    until: std::sync::Mutex<HashMap<ResolvedTarget, u64>>,
}

impl Quarantine {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<ResolvedTarget, u64>> {
        self.until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets `target` aside until `until_ms`.
    pub fn set_aside(&self, target: ResolvedTarget, now_ms: u64, until_ms: u64) {
        let mut q = self.map();
        if q.len() >= QUARANTINE_MAX {
            q.retain(|_, until| *until > now_ms);
            if q.len() >= QUARANTINE_MAX {
                q.clear();
            }
        }
        q.insert(target, until_ms);
    }

    /// Whether `target` is set aside at `now_ms`.
    pub fn holds(&self, target: &ResolvedTarget, now_ms: u64) -> bool {
        self.map().get(target).is_some_and(|until| *until > now_ms)
    }
}

/// Most quarantined targets remembered (bounded: a flood of failing
/// names cannot grow it without end).
const QUARANTINE_MAX: usize = 4096;

/// What the URI says about where to send: a literal address, or a name
/// to resolve.
pub(crate) fn query_for(uri: &SipUri<'_>) -> Result<ResolvedTarget, ResolveQuery> {
    let transport = crate::routing::uri_transport(uri);
    let explicit = uri.transport().and_then(TransportKind::from_token);
    let sips = uri.secure;
    match uri.host.ip() {
        Some(ip) => Ok(ResolvedTarget {
            transport,
            addr: SocketAddr::new(
                ip,
                uri.port
                    .unwrap_or_else(|| crate::routing::default_port(transport)),
            ),
        }),
        None => Err(ResolveQuery {
            host: uri.host.to_string(),
            port: uri.port,
            transport: explicit,
            sips,
        }),
    }
}

impl Core {
    /// A token for an [`Effect::Resolve`] asked for by another module
    /// (one numbering, so answers never reach the wrong continuation).
    pub(crate) fn next_resolve_token(&mut self) -> u64 {
        let token = self.outbound.next_token;
        self.outbound.next_token += 1;
        token
    }

    /// Sends `msg` (already prepared for the next hop, our Via not yet
    /// pushed) towards `uri`'s host: at once for a literal address, after
    /// resolution for a name.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_outbound(
        &mut self,
        now: Now,
        server: TxId,
        msg: Message,
        inbound: Flow,
        method: Method,
        record_route: bool,
        call: Option<CallTrack>,
        target: Result<ResolvedTarget, ResolveQuery>,
        layer: &mut TransactionLayer,
    ) {
        match target {
            Ok(t) => {
                let remaining = VecDeque::from([t]);
                self.start_failover(
                    now,
                    server,
                    msg,
                    inbound,
                    method,
                    record_route,
                    call,
                    remaining,
                    layer,
                );
            }
            Err(query) => {
                let token = self.outbound.next_token;
                self.outbound.next_token += 1;
                self.outbound.parked.insert(
                    token,
                    Parked {
                        server,
                        msg,
                        inbound,
                        method,
                        record_route,
                        call,
                    },
                );
                self.push_effect(Effect::Resolve { token, query });
            }
        }
    }

    /// The runtime's answer to [`Effect::Resolve`] `token`: the targets in
    /// RFC 3263 order, or why there are none.
    pub fn on_resolved(
        &mut self,
        now: Now,
        token: u64,
        result: Result<Vec<ResolvedTarget>, String>,
        layer: &mut TransactionLayer,
    ) {
        if self.trunk_resolved(now, token, &result, layer)
            || self.trunk_call_resolved(now, token, &result, layer)
        {
            return;
        }
        let Some(p) = self.outbound.parked.remove(&token) else {
            return;
        };
        let targets = match result {
            Ok(t) if !t.is_empty() => t,
            Ok(_) | Err(_) => {
                let why = result.err().unwrap_or_else(|| "no targets".into());
                tracing::info!(reason = %why, "request to another domain: its host does not resolve");
                self.reply(
                    now,
                    p.server,
                    404,
                    Some("Not Found (Unresolvable Destination)"),
                    layer,
                    |b| b,
                );
                if let Some(call) = p.call {
                    self.call_ended_unanswered(now, &call, 404, false);
                }
                return;
            }
        };
        // Failed targets last, in the order they came (RFC 3263 §4.3:
        // still tried, once the others failed too).
        let q = &self.shared.quarantine;
        let (mut good, bad): (Vec<_>, Vec<_>) =
            targets.into_iter().partition(|t| !q.holds(t, now.unix_ms));
        good.extend(bad);
        good.truncate(self.config.outbound.targets_max.max(1));
        self.start_failover(
            now,
            p.server,
            p.msg,
            p.inbound,
            p.method,
            p.record_route,
            p.call,
            good.into(),
            layer,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn start_failover(
        &mut self,
        now: Now,
        server: TxId,
        msg: Message,
        inbound: Flow,
        method: Method,
        record_route: bool,
        call: Option<CallTrack>,
        remaining: VecDeque<ResolvedTarget>,
        layer: &mut TransactionLayer,
    ) {
        let failover = Failover {
            msg,
            inbound,
            record_route,
            remaining,
            current: None,
            deadline: None,
            target_msgs: Vec::new(),
            any_5xx: false,
            trunk_of: Vec::new(),
            sent_msg: None,
            authed: Vec::new(),
        };
        self.add_context(now, server, method, Vec::new(), call);
        self.set_failover(server, failover);
        self.next_target(now, server, layer);
    }

    /// Starts a call out on trunks: each target with its trunk's request,
    /// and any 5xx (not only 503) moves it to the next.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_trunk_failover(
        &mut self,
        now: Now,
        server: TxId,
        inbound: Flow,
        method: Method,
        call: Option<CallTrack>,
        targets: Vec<(ResolvedTarget, Message, usize)>,
        layer: &mut TransactionLayer,
    ) {
        let Some((_, first, _)) = targets.first() else {
            return;
        };
        let failover = Failover {
            msg: first.clone(),
            inbound,
            record_route: method == Method::Invite,
            remaining: targets.iter().map(|(t, _, _)| *t).collect(),
            current: None,
            deadline: None,
            trunk_of: targets.iter().map(|(t, _, i)| (*t, *i)).collect(),
            target_msgs: targets.into_iter().map(|(t, m, _)| (t, m)).collect(),
            any_5xx: true,
            sent_msg: None,
            authed: Vec::new(),
        };
        self.add_context(now, server, method, Vec::new(), call);
        self.set_failover(server, failover);
        self.next_target(now, server, layer);
    }

    /// Sends the request of context `server` to its next target; when none
    /// is left, the aggregated answer goes to the caller.
    pub(crate) fn next_target(&mut self, now: Now, server: TxId, layer: &mut TransactionLayer) {
        loop {
            let Some((target, msg, inbound, record_route, first)) = self.take_next_target(server)
            else {
                self.all_targets_failed(now, server, layer);
                return;
            };
            let Some(local) = self.our_addr(target.transport, None) else {
                // No listener for that transport: not a target for us.
                continue;
            };
            let flow = Flow {
                transport: target.transport,
                remote: target.addr,
                local,
                connection: None,
            };
            // The first target's branch is the one a peer node can derive
            // (for a stateless CANCEL); later ones are salted by their
            // address, each a transaction of its own.
            let salt = (!first).then(|| target.addr.to_string());
            if let Some(tx) = self.send_branch_salted(
                now,
                msg,
                &inbound,
                flow,
                record_route,
                salt.as_deref(),
                layer,
            ) {
                let deadline = now.instant + self.config.outbound.target_timeout;
                self.branch_started(server, tx, target, deadline);
                return;
            }
        }
    }

    /// Target `target` failed: tried last for a while.
    pub(crate) fn quarantine(&mut self, now: Now, target: ResolvedTarget) {
        let until = now.unix_ms + self.config.outbound.quarantine.as_millis() as u64;
        self.shared.quarantine.set_aside(target, now.unix_ms, until);
        tracing::info!(target = %target.addr, transport = ?target.transport, "target failed: set aside, trying the next");
    }

    /// Whether `target` is set aside now.
    pub fn is_quarantined(&self, now_ms: u64, target: &ResolvedTarget) -> bool {
        self.shared.quarantine.holds(target, now_ms)
    }
}

/// Whether a branch's final status lets the request go to the next target
/// (RFC 3263 §4.3: transport failure or 503; 408 is Timer B/F).
pub(crate) fn fails_over(code: u16) -> bool {
    matches!(code, 408 | 503)
}

/// [`fails_over`] for a failover that moves on at any 5xx (trunks).
pub(crate) fn fails_over_in(f: &Failover, code: u16) -> bool {
    fails_over(code) || (f.any_5xx && (500..600).contains(&code))
}

impl Branch {
    /// A branch towards one resolved target.
    pub(crate) fn to_target(tx: TxId) -> Branch {
        Branch {
            tx,
            done: None,
            provisional: false,
        }
    }
}
