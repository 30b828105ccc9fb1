//! SIP transports as DNS names them: NAPTR services (RFC 3263 §4.1,
//! RFC 7118 §5), SRV service labels (RFC 3263 §4.1, RFC 2782) and default
//! ports (RFC 3261 §19.1.2).

use serde::Serialize;
use std::fmt;

/// A SIP transport that DNS can point to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SIP over UDP: NAPTR `SIP+D2U`, SRV `_sip._udp`.
    Udp,
    /// SIP over TCP: NAPTR `SIP+D2T`, SRV `_sip._tcp`.
    Tcp,
    /// SIP over TLS over TCP: NAPTR `SIPS+D2T`, SRV `_sips._tcp`.
    Tls,
    /// SIP over WebSocket: NAPTR `SIP+D2W`, SRV `_sip._ws` (RFC 7118 §5).
    Ws,
    /// SIP over secure WebSocket: NAPTR `SIPS+D2W`, SRV `_sips._ws` (RFC 7118 §5).
    Wss,
}

impl Transport {
    /// Every transport, in the order the zone lists them by default.
    pub const ALL: [Transport; 5] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Tls,
        Transport::Ws,
        Transport::Wss,
    ];

    /// The NAPTR service field naming this transport (RFC 3263 §4.1).
    pub fn naptr_service(self) -> &'static str {
        match self {
            Transport::Udp => "SIP+D2U",
            Transport::Tcp => "SIP+D2T",
            Transport::Tls => "SIPS+D2T",
            Transport::Ws => "SIP+D2W",
            Transport::Wss => "SIPS+D2W",
        }
    }

    /// The transport a NAPTR service field names, in any case; `None` for
    /// services that are not SIP (or not a transport tandem knows).
    pub fn from_naptr_service(service: &str) -> Option<Transport> {
        Transport::ALL
            .into_iter()
            .find(|t| t.naptr_service().eq_ignore_ascii_case(service))
    }

    /// The SRV service and protocol labels, `_sip._udp` and so on, without
    /// the domain.
    pub fn srv_prefix(self) -> &'static str {
        match self {
            Transport::Udp => "_sip._udp",
            Transport::Tcp => "_sip._tcp",
            Transport::Tls => "_sips._tcp",
            Transport::Ws => "_sip._ws",
            Transport::Wss => "_sips._ws",
        }
    }

    /// Whether the transport is secure, so fit for a SIPS URI (RFC 3261 §26.2.2).
    pub fn is_secure(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// The port a URI without one means (RFC 3261 §19.1.2): 5061 for the
    /// secure transports, 5060 otherwise.
    pub fn default_port(self) -> u16 {
        if self.is_secure() {
            5061
        } else {
            5060
        }
    }

    /// The lower-case name, as in a `transport=` URI parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naptr_services_round_trip_in_any_case() {
        for t in Transport::ALL {
            assert_eq!(Transport::from_naptr_service(t.naptr_service()), Some(t));
            let lower = t.naptr_service().to_ascii_lowercase();
            assert_eq!(Transport::from_naptr_service(&lower), Some(t));
        }
        assert_eq!(Transport::from_naptr_service("E2U+sip"), None);
    }

    #[test]
    fn secure_transports_use_sips_labels_and_5061() {
        for t in Transport::ALL {
            assert_eq!(t.srv_prefix().starts_with("_sips."), t.is_secure());
            assert_eq!(t.default_port() == 5061, t.is_secure());
        }
    }
}
