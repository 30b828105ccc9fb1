//! The Via header (RFC 3261 §20.42, §18.2.1) with RFC 3581 `rport`.

use crate::error::HeaderProblem;
use crate::grammar::{is_token, is_ws, Scanner};
use crate::params::{header_params, Params};
use crate::uri::{scan_port, Host};
use std::net::IpAddr;

/// One Via value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The protocol name, normally `SIP`.
    pub protocol: &'a str,
    /// The protocol version, normally `2.0`.
    pub version: &'a str,
    /// The transport token as written (`UDP`, `TCP`, `TLS`, `WS`, `WSS`, `SCTP` or another).
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by port, if given.
    pub port: Option<u16>,
    /// The via parameters.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via value (one element of the comma-separated list).
    pub fn parse(s: &'a str) -> Result<Via<'a>, HeaderProblem> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let protocol = sc.token().ok_or(HeaderProblem::SentProtocol)?;
        if !sc.eat_sep(b'/') {
            return Err(HeaderProblem::SentProtocol);
        }
        let version = sc.token().ok_or(HeaderProblem::SentProtocol)?;
        if !sc.eat_sep(b'/') {
            return Err(HeaderProblem::SentProtocol);
        }
        let transport = sc.token().ok_or(HeaderProblem::SentProtocol)?;
        if !sc.skip_ws() {
            return Err(HeaderProblem::SentProtocol);
        }
        let host = Host::scan(&mut sc).ok_or(HeaderProblem::Uri(crate::UriProblem::Host))?;
        let port = if sc.eat_sep(b':') {
            Some(scan_port(&mut sc).ok_or(HeaderProblem::Uri(crate::UriProblem::Port))?)
        } else {
            None
        };
        let params = header_params(&mut sc).ok_or(HeaderProblem::Parameter)?;
        sc.skip_ws();
        if !sc.is_empty() {
            return Err(HeaderProblem::TrailingCharacters);
        }
        let via = Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        };
        via.check_params()?;
        Ok(via)
    }

    /// Checks the values of the parameters RFC 3261 and RFC 3581 define.
    fn check_params(&self) -> Result<(), HeaderProblem> {
        for (name, value) in self.params.iter() {
            let ok = if name.eq_ignore_ascii_case("branch") {
                value.is_some_and(is_token)
            } else if name.eq_ignore_ascii_case("received") {
                value.is_some_and(|v| parse_received(v).is_some())
            } else if name.eq_ignore_ascii_case("rport") {
                value.is_none_or(|v| v.len() <= 5 && v.parse::<u16>().is_ok())
            } else if name.eq_ignore_ascii_case("ttl") {
                value.is_some_and(|v| v.len() <= 3 && v.parse::<u8>().is_ok())
            } else if name.eq_ignore_ascii_case("maddr") {
                value.is_some_and(|v| Host::parse(v).is_some())
            } else {
                true
            };
            if !ok {
                return Err(HeaderProblem::Parameter);
            }
        }
        Ok(())
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<IpAddr> {
        self.params.value("received").and_then(parse_received)
    }

    /// The `rport` parameter (RFC 3581): `None` if absent, `Some(None)` if
    /// requested without a value, `Some(Some(port))` once filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params.value("ttl").and_then(|v| v.parse().ok())
    }

    /// Whether the branch carries the RFC 3261 magic cookie `z9hG4bK`.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

/// Parses a `received` value: an address, IPv6 ones with or without
/// brackets (RFC 5118 §4.5 asks that the bracketed form be accepted).
fn parse_received(v: &str) -> Option<IpAddr> {
    match v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => crate::uri::parse_ipv6(inner).map(IpAddr::V6),
        None => v.parse().ok(),
    }
}

/// Finds the byte offset just after the first Via value of a header value
/// that may hold several (`a, b`), or `None` if it holds only one. Used to
/// pop a Via without re-parsing the others.
pub(crate) fn first_value_end(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    let mut in_quote = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b',' if !in_quote => {
                let mut j = i + 1;
                while j < b.len() && is_ws(b[j]) {
                    j += 1;
                }
                return Some(j);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_via() {
        let v = Via::parse(
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport=5062;received=198.51.100.7",
        )
        .unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK776"));
        assert_eq!(v.rport(), Some(Some(5062)));
        assert_eq!(v.received(), Some("198.51.100.7".parse().unwrap()));
        assert!(v.is_rfc3261_branch());
    }

    #[test]
    fn lws_around_separators_and_ipv6() {
        let v = Via::parse("SIP / 2.0 / TCP   [2001:db8::9:1] : 5070 ; branch = z9hG4bKx ; rport")
            .unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.branch(), Some("z9hG4bKx"));
    }

    #[test]
    fn rejects() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0 192.0.2.15").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;received=notanip").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;rport=99999").is_err());
        assert!(Via::parse("SIP/2.0/UDP host junk").is_err());
    }

    #[test]
    fn first_value() {
        assert_eq!(first_value_end("SIP/2.0/UDP a, SIP/2.0/UDP b"), Some(15));
        assert_eq!(first_value_end("SIP/2.0/UDP a;x=\"a,b\""), None);
    }
}
