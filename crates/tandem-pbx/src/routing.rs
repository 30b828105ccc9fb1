//! Where requests go next (RFC 3261 §16.4–§16.6, §19.1): the node's own
//! addresses for Via and Record-Route, flow tokens in Record-Route so that
//! in-dialog requests find phones behind NAT or on WebSocket connections
//! (the idea of RFC 5626 §5.3), loose routing, and turning a URI or a
//! registration into a flow to send on.

use crate::core::Core;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use tandem_sip::{Message, SipUri, Uri};
use tandem_store::{Binding, FlowRecord};
use tandem_transaction::{ConnectionId, Flow, TransportKind};

/// A flow as it goes into stores and tokens.
pub(crate) fn flow_record(flow: &Flow, node: &str) -> FlowRecord {
    FlowRecord {
        transport: flow.transport.name().to_owned(),
        remote: flow.remote.to_string(),
        local: flow.local.to_string(),
        connection: flow.connection.map(|c| c.0),
        node: node.to_owned(),
    }
}

/// A stored flow back as a flow.
pub(crate) fn flow_of_record(r: &FlowRecord) -> Option<Flow> {
    Some(Flow {
        transport: TransportKind::from_token(&r.transport)?,
        remote: r.remote.parse().ok()?,
        local: r.local.parse().ok()?,
        connection: r.connection.map(ConnectionId),
    })
}

/// The default port of a transport (RFC 3261 §19.1.2, RFC 7118 §5).
pub(crate) fn default_port(t: TransportKind) -> u16 {
    match t {
        TransportKind::Udp | TransportKind::Tcp => 5060,
        TransportKind::Tls => 5061,
        TransportKind::Ws => 80,
        TransportKind::Wss => 443,
    }
}

/// The transport a SIP URI asks for.
pub(crate) fn uri_transport(uri: &SipUri<'_>) -> TransportKind {
    match uri.transport().and_then(TransportKind::from_token) {
        Some(t) => t,
        None if uri.secure => TransportKind::Tls,
        None => TransportKind::Udp,
    }
}

type HmacSha256 = Hmac<Sha256>;

impl Core {
    /// Whether `addr` on transport `t` is one of our listeners that we may
    /// send from now (the floating IP's only while we hold it).
    fn usable_local(&self, t: TransportKind, addr: SocketAddr) -> bool {
        (Some(addr.ip()) != self.config.floating || self.shared.cluster.floating_held())
            && self
                .config
                .advertise
                .iter()
                .any(|(k, a)| *k == t && *a == addr)
    }

    /// The floating IP's listener on transport `t`.
    pub(crate) fn floating_addr(&self, t: TransportKind) -> Option<SocketAddr> {
        let ip = self.config.floating?;
        self.config
            .advertise
            .iter()
            .find(|(k, a)| *k == t && a.ip() == ip)
            .map(|(_, a)| *a)
    }

    /// Our address on transport `t`: where `flow` arrived if that is one of
    /// our listeners; else the floating IP while we hold it (so responses
    /// and requests reach whichever node holds it next); else the first
    /// configured one; else the local end of `flow`.
    pub(crate) fn our_addr(&self, t: TransportKind, flow: Option<&Flow>) -> Option<SocketAddr> {
        if let Some(f) = flow.filter(|f| f.transport == t) {
            if !f.local.ip().is_unspecified() && self.usable_local(t, f.local) {
                return Some(f.local);
            }
        }
        if self.shared.cluster.floating_held() {
            if let Some(a) = self.floating_addr(t) {
                return Some(a);
            }
        }
        self.config
            .advertise
            .iter()
            .find(|(k, a)| *k == t && Some(a.ip()) != self.config.floating)
            .map(|(_, a)| *a)
            .or_else(|| flow.filter(|f| f.transport == t).map(|f| f.local))
    }

    /// `flow` made sendable from this node: over UDP the datagram must
    /// leave from one of our listeners that we may use now (a stored flow
    /// may name another node's address, or the floating IP we no longer
    /// hold). Streams go on their connection whatever the local address.
    pub(crate) fn outbound(&self, mut flow: Flow) -> Flow {
        if flow.transport == TransportKind::Udp && !self.usable_local(flow.transport, flow.local) {
            if let Some(a) = self.our_addr(flow.transport, None) {
                flow.local = a;
            }
        }
        flow
    }

    /// The `host:port` text of an address for URIs and Via.
    pub(crate) fn hostport(addr: SocketAddr) -> String {
        match addr.ip() {
            IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
            IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
        }
    }

    /// Encodes a flow as a token that only this cluster can forge.
    pub(crate) fn flow_token(&self, flow: &Flow) -> String {
        let body = format!(
            "{}|{}|{}|{}",
            flow.transport.name(),
            flow.remote,
            flow.local,
            flow.connection.map_or(0, |c| c.0)
        );
        let mut mac =
            HmacSha256::new_from_slice(&self.config.flow_secret).expect("HMAC takes any key");
        mac.update(body.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut raw = body.into_bytes();
        raw.push(b'|');
        raw.extend_from_slice(&tag[..8]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decodes a token made by [`Core::flow_token`].
    pub(crate) fn flow_from_token(&self, token: &str) -> Option<Flow> {
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        if raw.len() < 10 {
            return None;
        }
        let (body, tag) = raw.split_at(raw.len() - 9);
        let mut mac = HmacSha256::new_from_slice(&self.config.flow_secret).ok()?;
        mac.update(body);
        if mac.finalize().into_bytes()[..8] != tag[1..] {
            return None;
        }
        let text = std::str::from_utf8(body).ok()?;
        let mut parts = text.split('|');
        let transport = TransportKind::from_token(parts.next()?)?;
        let remote = parts.next()?.parse().ok()?;
        let local = parts.next()?.parse().ok()?;
        let conn: u64 = parts.next()?.parse().ok()?;
        Some(Flow {
            transport,
            remote,
            local,
            connection: (conn != 0).then_some(ConnectionId(conn)),
        })
    }

    /// The Record-Route values a proxy adds when it forwards from `inbound`
    /// to `outbound` (RFC 3261 §16.6 step 4): one, or two when the
    /// transports differ (RFC 5658). The one facing the caller carries the
    /// caller's flow token.
    pub(crate) fn record_routes(&self, inbound: &Flow, outbound: &Flow) -> Vec<String> {
        let token = self.flow_token(inbound);
        let rr = |t: TransportKind, flow: &Flow, user: Option<&str>| -> Option<String> {
            let floating = self
                .config
                .record_route_floating
                .then(|| self.floating_addr(t))
                .flatten();
            let addr = floating.or_else(|| self.our_addr(t, Some(flow)))?;
            let user = user.map(|u| format!("{u}@")).unwrap_or_default();
            let transport = if t == TransportKind::Udp {
                String::new()
            } else {
                format!(";transport={}", t.name())
            };
            Some(format!(
                "<sip:{user}{}{transport};lr>",
                Core::hostport(addr)
            ))
        };
        let inbound_rr = rr(inbound.transport, inbound, Some(&token));
        if inbound.transport == outbound.transport {
            return inbound_rr.into_iter().collect();
        }
        // Top: the interface toward the callee; below it, toward the caller.
        rr(outbound.transport, outbound, None)
            .into_iter()
            .chain(inbound_rr)
            .collect()
    }

    /// Whether a URI names this node (a Route or Request-URI we put there).
    pub(crate) fn is_us(&self, uri: &SipUri<'_>) -> bool {
        let port_ok = |p: Option<u16>| match p {
            None => true,
            Some(p) => {
                self.config.advertise.iter().any(|(_, a)| a.port() == p)
                    || self.config.identity.is_local_uri(uri)
            }
        };
        self.config.identity.is_local_host(&uri.host) && port_ok(uri.port)
    }

    /// Loose routing (RFC 3261 §16.4): pops every top Route that names us;
    /// returns whether any was popped, and the flow token of the last one
    /// popped, if it carried one.
    pub(crate) fn pop_our_routes(&self, msg: &mut Message) -> (bool, Option<Flow>) {
        let mut token_flow = None;
        let mut popped = false;
        loop {
            let ours = match msg.routes().next() {
                Some(Ok(route)) => match route.uri {
                    Uri::Sip(u) if self.is_us(&u) => {
                        Some(u.user.and_then(|t| self.flow_from_token(t)))
                    }
                    _ => None,
                },
                _ => None,
            };
            match ours {
                Some(flow) => {
                    msg.pop_route();
                    popped = true;
                    if flow.is_some() {
                        token_flow = flow;
                    }
                }
                None => return (popped, token_flow),
            }
        }
    }

    /// The flow to reach a SIP URI: a literal address with its port and
    /// transport, `localhost`, or a registered contact (phones behind NAT,
    /// WebSocket phones whose host is `*.invalid`).
    pub(crate) fn flow_for_uri(&self, uri: &SipUri<'_>, now_ms: u64) -> Option<Flow> {
        if let Some(b) = self.binding_by_contact(uri.raw, now_ms) {
            return flow_of_record(&b.source);
        }
        let transport = uri_transport(uri);
        let ip = match uri.host.ip() {
            Some(ip) => ip,
            None if matches!(uri.host, tandem_sip::Host::Domain(d) if d.eq_ignore_ascii_case("localhost")) => {
                IpAddr::from([127, 0, 0, 1])
            }
            None => return None,
        };
        let remote = SocketAddr::new(ip, uri.port.unwrap_or_else(|| default_port(transport)));
        let local = self.our_addr(transport, None)?;
        Some(Flow {
            transport,
            remote,
            local,
            connection: None,
        })
    }

    fn binding_by_contact(&self, contact: &str, now_ms: u64) -> Option<Binding> {
        let replica = self
            .shared
            .replica
            .read()
            .unwrap_or_else(|p| p.into_inner());
        replica
            .bindings_by_contact(contact, now_ms)
            .into_iter()
            .find(|b| contact_eq(&b.contact, contact))
            .cloned()
    }
}

/// Whether two contact URIs are the same contact: compared without their
/// parameters' order mattering is overkill here; user@host:port and
/// transport decide.
pub(crate) fn contact_eq(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    match (SipUri::parse(a), SipUri::parse(b)) {
        (Ok(x), Ok(y)) => {
            x.user == y.user
                && x.host.to_string().eq_ignore_ascii_case(&y.host.to_string())
                && x.port == y.port
                && x.transport().map(str::to_ascii_lowercase)
                    == y.transport().map(str::to_ascii_lowercase)
        }
        _ => false,
    }
}
