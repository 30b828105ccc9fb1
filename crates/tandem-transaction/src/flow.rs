//! Where messages come from and go to: the transport kind and addresses of
//! a flow (RFC 3261 §18; RFC 5626 calls a connection-plus-addresses a
//! flow), and the rules for where a response goes (RFC 3261 §18.2.2, RFC
//! 3581 §4).

use bytes::Bytes;
use std::fmt;
use std::net::SocketAddr;
use tandem_sip::Message;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP (RFC 3261 §18): unreliable, so transactions retransmit.
    Udp,
    /// TCP (RFC 3261 §18).
    Tcp,
    /// TLS over TCP (RFC 3261 §26, SIPS).
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
}

impl TransportKind {
    /// Whether the transport delivers reliably, so that transactions do
    /// not retransmit and zero the wait timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// The token used in Via (`UDP`, `TCP`, `TLS`, `WS`, `WSS`).
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
            TransportKind::Ws => "WS",
            TransportKind::Wss => "WSS",
        }
    }

    /// The lower-case name used in URIs and configuration (`udp`, `tls`...).
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
            TransportKind::Ws => "ws",
            TransportKind::Wss => "wss",
        }
    }

    /// Recognises a Via transport token or URI `transport` value, any case.
    pub fn from_token(t: &str) -> Option<TransportKind> {
        [
            TransportKind::Udp,
            TransportKind::Tcp,
            TransportKind::Tls,
            TransportKind::Ws,
            TransportKind::Wss,
        ]
        .into_iter()
        .find(|k| k.name().eq_ignore_ascii_case(t))
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An established connection, as numbered by the transport layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// The path a message took or will take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The transport.
    pub transport: TransportKind,
    /// The far end's address.
    pub remote: SocketAddr,
    /// Our address (the listening socket, or the connection's local end).
    pub local: SocketAddr,
    /// The connection, for connection-oriented transports.
    pub connection: Option<ConnectionId>,
}

impl Flow {
    /// A UDP flow between two addresses.
    pub fn udp(local: SocketAddr, remote: SocketAddr) -> Flow {
        Flow {
            transport: TransportKind::Udp,
            remote,
            local,
            connection: None,
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.remote)?;
        if let Some(c) = self.connection {
            write!(f, "#{}", c.0)?;
        }
        Ok(())
    }
}

/// Bytes to send on a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send.
    pub flow: Flow,
    /// The whole message.
    pub payload: Bytes,
}

/// Where the responses to `request`, received on `flow`, go (RFC 3261
/// §18.2.2 with RFC 3581 §4): on a connection, back over it; over UDP, to
/// the source address when the top Via asks for `rport` (or `force_rport`
/// says to act as if it did, as most PBXs do for phones behind NAT),
/// otherwise to the source IP (the `received` address) at the sent-by
/// port, 5060 by default.
pub fn response_flow(request: &Message, flow: &Flow, force_rport: bool) -> Flow {
    if flow.transport.is_reliable() || force_rport {
        return *flow;
    }
    match request.top_via() {
        Some(via) if via.rport().is_none() => {
            let port = via.port.unwrap_or(5060);
            Flow {
                remote: SocketAddr::new(flow.remote.ip(), port),
                ..*flow
            }
        }
        _ => *flow,
    }
}
