//! Who "we" are: the host names and addresses a node answers for, so that a
//! request addressed to the node itself (RFC 3261 §16.4: the Request-URI
//! names a resource of this element) is told apart from one to route.

use tandem_sip::{Host, SipUri, Uri};

/// The names and ports of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalIdentity {
    /// Host names and IP literals, lower case, IPv6 without brackets.
    hosts: Vec<String>,
    /// Ports the node listens on.
    ports: Vec<u16>,
}

impl LocalIdentity {
    /// An identity from host names or addresses and listening ports.
    pub fn new(
        hosts: impl IntoIterator<Item = String>,
        ports: impl IntoIterator<Item = u16>,
    ) -> LocalIdentity {
        let mut hosts: Vec<String> = hosts
            .into_iter()
            .map(|h| {
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase()
            })
            .collect();
        hosts.sort();
        hosts.dedup();
        let mut ports: Vec<u16> = ports.into_iter().collect();
        ports.sort_unstable();
        ports.dedup();
        LocalIdentity { hosts, ports }
    }

    /// Whether `host` is one of ours.
    pub fn is_local_host(&self, host: &Host<'_>) -> bool {
        let name = match host {
            Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            Host::Ipv4(a) => a.to_string(),
            Host::Ipv6(a) => a.to_string(),
        };
        self.hosts.contains(&name)
    }

    /// Whether a SIP URI names this node: our host, and our port or none
    /// (RFC 3261 §19.1.2 default ports).
    pub fn is_local_uri(&self, uri: &SipUri<'_>) -> bool {
        self.is_local_host(&uri.host)
            && uri
                .port
                .is_none_or(|p| self.ports.is_empty() || self.ports.contains(&p))
    }

    /// Whether a Request-URI names this node (SIP or SIPS only).
    pub fn is_local_request_uri(&self, uri: &Uri<'_>) -> bool {
        uri.as_sip().is_some_and(|u| self.is_local_uri(u))
    }

    /// The host names and addresses.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_names_addresses_and_ports() {
        let id = LocalIdentity::new(
            ["PBX.example.com".into(), "127.0.0.1".into(), "[::1]".into()],
            [5060],
        );
        assert!(id.is_local_uri(&SipUri::parse("sip:pbx.example.com").unwrap()));
        assert!(id.is_local_uri(&SipUri::parse("sip:1000@127.0.0.1:5060").unwrap()));
        assert!(id.is_local_uri(&SipUri::parse("sip:[::1]").unwrap()));
        assert!(!id.is_local_uri(&SipUri::parse("sip:127.0.0.1:5070").unwrap()));
        assert!(!id.is_local_uri(&SipUri::parse("sip:other.example.com").unwrap()));
    }
}
