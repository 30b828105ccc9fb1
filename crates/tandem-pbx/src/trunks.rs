//! Carrier trunks in the core: what a trunk is (host resolved by RFC 3263
//! §4, credentials, sources, caller-ID policy), and the registrations the
//! leader keeps with carriers (RFC 3261 §10.2): each trunk's
//! [`TrunkRegistration`] state machine is driven here with real client
//! transactions, its responses are taken before the proxy sees them, and
//! its state is written to `trunk/<name>` for `tandem trunk status`. Only
//! the core the runtime tells it leads runs them; losing leadership stops
//! them at once (fencing).

use crate::core::{Core, Now, Pending};
use crate::digest_client::Challenge;
use crate::outbound::{ResolveQuery, ResolvedTarget};
use crate::trunk_registration::{RegAction, RegResponse, RegisterRequest, TrunkRegistration};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tandem_sip::{HeaderName, Message};
use tandem_store::{trunk_key, Op};
use tandem_transaction::{Flow, TransactionLayer, TransportKind, TxId};

/// An address or network a trunk's carrier sends from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceNet {
    /// The network address.
    pub addr: IpAddr,
    /// Bits that must match.
    pub prefix_len: u8,
}

impl SourceNet {
    /// Whether `ip` is in the network (IPv4-mapped IPv6 as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len.min(32)))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len.min(128)))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// The address of each registered trunk's registrar, by trunk index:
/// the carrier calls the contact we registered from there, so its
/// requests are the trunk's even without `allowed_sources`.
#[derive(Debug, Default)]
pub struct Registrars {
    by_trunk: std::sync::Mutex<HashMap<usize, IpAddr>>,
}

impl Registrars {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<usize, IpAddr>> {
        self.by_trunk.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, trunk: usize, ip: Option<IpAddr>) {
        match ip {
            Some(ip) => self.map().insert(trunk, ip),
            None => self.map().remove(&trunk),
        };
    }

    /// The registered trunk whose registrar is `ip`.
    pub fn trunk_at(&self, ip: IpAddr) -> Option<usize> {
        self.map().iter().find(|(_, a)| **a == ip).map(|(t, _)| *t)
    }
}

/// One carrier trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkSpec {
    /// Its name.
    pub name: String,
    /// The carrier's domain, or the proxy's host: the host of the
    /// Request-URIs sent to it.
    pub host: String,
    /// The proxy's port, when given.
    pub port: Option<u16>,
    /// The transport, when fixed.
    pub transport: Option<TransportKind>,
    /// Whether to register (on the leader).
    pub register: bool,
    /// Digest user name, also the user part of the registered AOR.
    pub username: Option<String>,
    /// Digest password.
    pub password: Option<String>,
    /// Registration expiry asked for, seconds.
    pub expires_secs: u32,
    /// Where the carrier sends from.
    pub allowed_sources: Vec<SourceNet>,
    /// Most concurrent calls out on it.
    pub calls_max: Option<u32>,
    /// Fixed caller number on it.
    pub caller_id: Option<String>,
    /// Whether P-Asserted-Identity may be sent to it (RFC 3325 §2).
    pub trusted: bool,
}

impl TrunkSpec {
    /// `host[:port]` as it goes in URIs.
    pub(crate) fn hostport(&self) -> String {
        let host = match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => self.host.clone(),
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// Where requests for it go: a literal address at once, else a name
    /// for RFC 3263 resolution.
    pub(crate) fn target(&self) -> Result<ResolvedTarget, ResolveQuery> {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => {
                let transport = self.transport.unwrap_or(TransportKind::Udp);
                Ok(ResolvedTarget {
                    transport,
                    addr: SocketAddr::new(
                        ip,
                        self.port
                            .unwrap_or_else(|| crate::routing::default_port(transport)),
                    ),
                })
            }
            Err(_) => Err(ResolveQuery {
                host: self.host.clone(),
                port: self.port,
                transport: self.transport,
                sips: self.transport == Some(TransportKind::Tls),
            }),
        }
    }

    /// Whether a request from `ip` comes from this carrier.
    pub fn is_source(&self, ip: IpAddr) -> bool {
        self.allowed_sources.iter().any(|n| n.contains(ip))
    }
}

/// Trunks and the rules that use them.
#[derive(Debug, Clone, Default)]
pub struct TrunkPlan {
    /// The trunks, in configuration order.
    pub trunks: Vec<TrunkSpec>,
    /// Outbound rules, first match wins.
    pub outbound_rules: Vec<crate::OutboundRule>,
    /// Inbound rules, first match wins.
    pub inbound_rules: Vec<crate::InboundRule>,
    /// Ring groups.
    pub ring_groups: Vec<crate::RingGroup>,
}

/// One registration and the dialog-less identity of its REGISTERs.
#[derive(Debug)]
struct Reg {
    trunk: usize,
    fsm: TrunkRegistration,
    call_id: String,
    from_tag: String,
    /// The target being used, and whether it came from DNS.
    target: Option<ResolvedTarget>,
    /// The Contact of our last REGISTER (to read its granted expiry).
    contact: String,
}

/// The registrations this core runs (only while told it leads).
#[derive(Debug, Default)]
pub(crate) struct TrunkRegs {
    leading: Option<u64>,
    regs: Vec<Reg>,
    by_tx: HashMap<TxId, usize>,
    /// Resolutions asked for, and the REGISTER waiting for each.
    resolving: HashMap<u64, (usize, RegisterRequest)>,
}

impl TrunkRegs {
    fn next_deadline(&self) -> Option<Instant> {
        self.regs.iter().filter_map(|r| r.fsm.next_deadline()).min()
    }
}

impl Core {
    /// The runtime says whether this core leads: `Some(epoch)` starts
    /// registering every `register = true` trunk under that epoch, `None`
    /// stops them at once (leadership lost, or the node stopping). When
    /// stopping, a binding whose contact is this node's own address is
    /// removed (`Expires: 0`); one on the floating IP is left for the next
    /// leader, whose REGISTER replaces it. `call_id_ok` tells which
    /// Call-IDs reach this core (the runtime routes by Call-ID).
    pub fn set_leading(
        &mut self,
        now: Now,
        epoch: Option<u64>,
        call_id_ok: &dyn Fn(&str) -> bool,
        layer: &mut TransactionLayer,
    ) {
        if self.trunk_regs.leading == epoch {
            return;
        }
        self.trunk_regs.leading = epoch;
        self.trunk_regs.by_tx.clear();
        self.trunk_regs.resolving.clear();
        let Some(epoch) = epoch else {
            let deregister = self.config.floating.is_none();
            for i in 0..self.trunk_regs.regs.len() {
                let actions = self.trunk_regs.regs[i].fsm.stop(deregister);
                self.reg_actions(now, i, actions, layer);
                let trunk = self.trunk_regs.regs[i].trunk;
                self.shared.registrars.set(trunk, None);
            }
            return;
        };
        if self.trunk_regs.regs.is_empty() {
            let trunks = self.config.trunks.trunks.clone();
            for (i, t) in trunks.iter().enumerate() {
                let (Some(user), Some(pw)) = (&t.username, &t.password) else {
                    continue;
                };
                if !t.register {
                    continue;
                }
                let uri = format!("sip:{}", t.hostport());
                self.trunk_regs.regs.push(Reg {
                    trunk: i,
                    fsm: TrunkRegistration::new(&t.name, user, pw, &uri, t.expires_secs),
                    call_id: String::new(),
                    from_tag: String::new(),
                    target: None,
                    contact: String::new(),
                });
            }
        }
        for i in 0..self.trunk_regs.regs.len() {
            // A fresh Call-ID per leadership: the carrier sees a new
            // registration from the new leader (RFC 3261 §10.2.4 lets a
            // new Call-ID replace a binding of the same contact).
            let call_id = loop {
                let id = format!("trunk-{}@{}", self.tag(), self.config.node);
                if call_id_ok(&id) {
                    break id;
                }
            };
            let from_tag = self.tag();
            let reg = &mut self.trunk_regs.regs[i];
            reg.call_id = call_id;
            reg.from_tag = from_tag;
            reg.target = None;
            let actions = reg.fsm.start(epoch);
            tracing::info!(trunk = %reg.fsm.name, epoch, "trunk registration started");
            self.reg_actions(now, i, actions, layer);
        }
    }

    /// The trunk registrations' states, for tests and status.
    pub fn trunk_states(&self) -> Vec<tandem_store::TrunkRecord> {
        self.trunk_regs
            .regs
            .iter()
            .map(|r| r.fsm.record(&self.config.node, 0))
            .collect()
    }

    fn reg_actions(
        &mut self,
        now: Now,
        i: usize,
        actions: Vec<RegAction>,
        layer: &mut TransactionLayer,
    ) {
        for a in actions {
            match a {
                RegAction::Record => {
                    let r = &self.trunk_regs.regs[i];
                    let rec = r.fsm.record(&self.config.node, now.unix_ms);
                    tracing::info!(trunk = %rec.name, state = %rec.state, last_status = rec.last_status, failures = rec.failures, epoch = rec.epoch, "trunk registration");
                    let value = serde_json::to_vec(&rec).unwrap_or_default();
                    let ops = vec![Op::Put {
                        key: trunk_key(&rec.name),
                        value,
                        expires_at_ms: None,
                    }];
                    self.commit(ops, Pending::Status);
                }
                RegAction::Send(req) => self.reg_send(now, i, req, layer),
            }
        }
    }

    /// Sends a REGISTER: to the target in use, or after resolving the
    /// carrier's host.
    fn reg_send(&mut self, now: Now, i: usize, req: RegisterRequest, layer: &mut TransactionLayer) {
        let reg = &self.trunk_regs.regs[i];
        if let Some(t) = reg.target {
            self.reg_send_to(now, i, t, req, layer);
            return;
        }
        match self.config.trunks.trunks[reg.trunk].target() {
            Ok(t) => self.reg_send_to(now, i, t, req, layer),
            Err(query) => {
                let token = self.next_resolve_token();
                self.trunk_regs.resolving.insert(token, (i, req));
                self.push_effect(crate::Effect::Resolve { token, query });
            }
        }
    }

    /// The answer to a resolution this module asked for; false if the
    /// token is not ours.
    pub(crate) fn trunk_resolved(
        &mut self,
        now: Now,
        token: u64,
        result: &Result<Vec<ResolvedTarget>, String>,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some((i, req)) = self.trunk_regs.resolving.remove(&token) else {
            return false;
        };
        let q = &self.shared.quarantine;
        let pick = match result {
            Ok(targets) => targets
                .iter()
                .find(|t| !q.holds(t, now.unix_ms))
                .or(targets.first())
                .copied(),
            Err(_) => None,
        };
        match pick {
            Some(t) => self.reg_send_to(now, i, t, req, layer),
            None => {
                let why = result
                    .as_ref()
                    .err()
                    .cloned()
                    .unwrap_or_else(|| "no targets".into());
                tracing::warn!(trunk = %self.trunk_regs.regs[i].fsm.name, reason = %why, "trunk host does not resolve");
                let actions = self.trunk_regs.regs[i].fsm.on_failure(now, 503);
                self.reg_actions(now, i, actions, layer);
            }
        }
        true
    }

    fn reg_send_to(
        &mut self,
        now: Now,
        i: usize,
        target: ResolvedTarget,
        req: RegisterRequest,
        layer: &mut TransactionLayer,
    ) {
        let Some(local) = self.our_addr(target.transport, None) else {
            tracing::warn!(transport = ?target.transport, "no listener for the trunk's transport");
            let actions = self.trunk_regs.regs[i].fsm.on_failure(now, 503);
            self.reg_actions(now, i, actions, layer);
            return;
        };
        // The contact is the floating IP when there is one: whichever node
        // leads answers there, and the next leader's REGISTER replaces the
        // same binding instead of adding a second one.
        let contact_addr = self
            .config
            .floating
            .and_then(|_| self.floating_addr(target.transport))
            .unwrap_or(local);
        let flow = self.outbound(Flow {
            transport: target.transport,
            remote: target.addr,
            local,
            connection: None,
        });
        let via_host = Core::hostport(
            self.our_addr(target.transport, Some(&flow))
                .unwrap_or(local),
        );
        let branch: u64 = rand::Rng::random(&mut self.rng);
        let reg = &self.trunk_regs.regs[i];
        let spec = &self.config.trunks.trunks[reg.trunk];
        let user = spec.username.clone().unwrap_or_default();
        let transport_param = match target.transport {
            TransportKind::Udp => String::new(),
            t => format!(";transport={}", t.name()),
        };
        let contact = format!(
            "sip:{user}@{}{transport_param}",
            Core::hostport(contact_addr)
        );
        let auth = req
            .authorization
            .as_ref()
            .map(|(name, value)| format!("{}: {value}\r\n", name.as_str()))
            .unwrap_or_default();
        let text = format!(
            "REGISTER sip:{hp} SIP/2.0\r\nVia: SIP/2.0/{via_t} {via_host};branch=z9hG4bK-td{node:08x}{branch:016x};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{hp}>;tag={tag}\r\nTo: <sip:{user}@{hp}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>\r\nExpires: {expires}\r\n{auth}User-Agent: {server}\r\nContent-Length: 0\r\n\r\n",
            hp = spec.hostport(),
            via_t = target.transport.via_token(),
            node = self.node_hash,
            tag = reg.from_tag,
            call_id = reg.call_id,
            cseq = req.cseq,
            expires = req.expires,
            server = self.config.server,
        );
        let sent = Message::parse(
            bytes::Bytes::from(text),
            &tandem_sip::ParseOptions::default(),
        )
        .map_err(|e| e.to_string())
        .and_then(|m| {
            layer
                .send_request(now.instant, m, flow)
                .map_err(|e| e.to_string())
        });
        match sent {
            Ok(tx) => {
                let reg = &mut self.trunk_regs.regs[i];
                reg.target = Some(target);
                reg.contact = contact;
                self.trunk_regs.by_tx.insert(tx, i);
            }
            Err(e) => {
                tracing::warn!(trunk = %self.trunk_regs.regs[i].fsm.name, "cannot send REGISTER: {e}");
                let actions = self.trunk_regs.regs[i].fsm.on_failure(now, 503);
                self.reg_actions(now, i, actions, layer);
            }
        }
    }

    /// A response to one of our REGISTERs: true if it was ours.
    pub(crate) fn trunk_response(
        &mut self,
        now: Now,
        tx: TxId,
        response: &Message,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some(&i) = self.trunk_regs.by_tx.get(&tx) else {
            return false;
        };
        let status = response.status().unwrap_or(500);
        if status < 200 {
            return true;
        }
        self.trunk_regs.by_tx.remove(&tx);
        let reg = &self.trunk_regs.regs[i];
        let granted = response
            .contacts()
            .flatten()
            .find(|c| {
                c.address()
                    .is_some_and(|a| crate::routing::contact_eq(a.uri_str, &reg.contact))
            })
            .and_then(|c| c.expires())
            .or_else(|| response.expires().and_then(Result::ok));
        let min_expires = response
            .header_str(HeaderName::MinExpires)
            .and_then(|v| v.trim().parse().ok());
        let r = RegResponse {
            status,
            challenge: Challenge::from_response(response),
            granted_secs: granted,
            min_expires,
        };
        if status == 503 {
            // The carrier's server is out of service: try another next time.
            if let Some(t) = self.trunk_regs.regs[i].target.take() {
                self.quarantine(now, t);
            }
        }
        let cnonce = format!("{:016x}", rand::Rng::random::<u64>(&mut self.rng));
        let actions = self.trunk_regs.regs[i].fsm.on_response(now, &r, &cnonce);
        self.reg_actions(now, i, actions, layer);
        self.note_registrar(i);
        true
    }

    /// Keeps [`Registrars`] in step with registration `i`'s state.
    fn note_registrar(&self, i: usize) {
        let reg = &self.trunk_regs.regs[i];
        let registered = reg.fsm.state == crate::trunk_registration::RegState::Registered;
        let ip = reg.target.filter(|_| registered).map(|t| t.addr.ip());
        self.shared.registrars.set(reg.trunk, ip);
    }

    /// A REGISTER of ours timed out or could not be sent: true if ours.
    pub(crate) fn trunk_failed(
        &mut self,
        now: Now,
        tx: TxId,
        code: u16,
        layer: &mut TransactionLayer,
    ) -> bool {
        let Some(i) = self.trunk_regs.by_tx.remove(&tx) else {
            return false;
        };
        // The next attempt resolves again and skips this target for a while.
        if let Some(t) = self.trunk_regs.regs[i].target.take() {
            self.quarantine(now, t);
        }
        let actions = self.trunk_regs.regs[i].fsm.on_failure(now, code);
        self.reg_actions(now, i, actions, layer);
        self.note_registrar(i);
        true
    }

    /// When a registration next needs the core.
    pub(crate) fn trunk_deadline(&self) -> Option<Instant> {
        self.trunk_regs.next_deadline()
    }

    /// Refreshes and retries that are due.
    pub(crate) fn trunk_timers(&mut self, now: Now, layer: &mut TransactionLayer) {
        for i in 0..self.trunk_regs.regs.len() {
            let actions = self.trunk_regs.regs[i].fsm.on_timer(now);
            if !actions.is_empty() {
                self.reg_actions(now, i, actions, layer);
            }
        }
    }
}

/// Who calls in from a carrier: the From user (the caller's number).
pub(crate) fn inbound_caller(request: &Message) -> String {
    request
        .from()
        .and_then(Result::ok)
        .and_then(|f| f.uri.as_sip().and_then(|u| u.user.map(str::to_owned)))
        .unwrap_or_else(|| "anonymous".into())
}

impl Core {
    /// The trunk whose carrier sends from `ip`: its `allowed_sources`, or
    /// the registrar this node holds its registration with.
    pub(crate) fn trunk_of_source(&self, ip: IpAddr) -> Option<usize> {
        self.config
            .trunks
            .trunks
            .iter()
            .position(|t| t.is_source(ip))
            .or_else(|| self.shared.registrars.trunk_at(ip))
    }

    /// The number a carrier's request is for: the Request-URI's user,
    /// unless that is our registered contact (the trunk's user name), in
    /// which case the carrier put the DID in To (RFC 3261 §10.2.1: it
    /// sends to the contact we registered).
    pub(crate) fn inbound_called(&self, trunk: usize, request: &Message, user: String) -> String {
        if self.config.trunks.trunks[trunk].username.as_deref() != Some(user.as_str()) {
            return user;
        }
        request
            .to()
            .and_then(Result::ok)
            .and_then(|t| t.uri.as_sip().and_then(|u| u.user.map(str::to_owned)))
            .unwrap_or(user)
    }
}

impl Core {
    /// Where an inbound rule sends a call from trunk `trunk` to `number`
    /// now; none: the number names the extension itself.
    pub(crate) fn inbound_destination(
        &self,
        now: Now,
        trunk: usize,
        number: &str,
    ) -> Option<crate::Destination> {
        let rule = crate::inbound_rules::decide(
            &self.config.trunks.inbound_rules,
            trunk,
            number,
            now.unix_ms,
        )?;
        tracing::info!(rule = %rule.name, trunk = %self.config.trunks.trunks[trunk].name, %number, destination = ?rule.destination, "inbound call");
        Some(rule.destination.clone())
    }
}
