//! The Via header (RFC 3261 §20.42, §18.2.1) with RFC 3581 `rport`.
//!
//! One byte-level scanner ([`scan`]) reads a via-parm and checks the
//! parameters RFC 3261 and RFC 3581 define as it goes; the transaction
//! layer's eager parse uses its offsets directly, [`Via::parse`] turns them
//! into a typed view.

use crate::error::{HeaderProblem, UriProblem};
use crate::grammar::{is_token_char, is_ws};
use crate::params::Params;
use crate::uri::{classify_host_name, parse_ipv6, Host};
use std::net::IpAddr;
use std::ops::Range;

/// Offsets of the parts of one via-parm, relative to the scanned bytes.
#[derive(Debug, Clone)]
pub(crate) struct ViaScan {
    pub(crate) protocol: Range<usize>,
    pub(crate) version: Range<usize>,
    pub(crate) transport: Range<usize>,
    pub(crate) host: Range<usize>,
    pub(crate) port: Option<u16>,
    /// From the first `;` to the end of the last parameter.
    pub(crate) params: Range<usize>,
    pub(crate) branch: Option<Range<usize>>,
    /// Where scanning stopped: the end of input, or a top-level `,` that
    /// starts the next via-parm.
    pub(crate) end: usize,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    #[inline]
    fn ws(&mut self) -> bool {
        let start = self.i;
        while self.i < self.b.len() && is_ws(self.b[self.i]) {
            self.i += 1;
        }
        self.i != start
    }

    #[inline]
    fn token(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        while self.i < self.b.len() && is_token_char(self.b[self.i]) {
            self.i += 1;
        }
        (self.i != start).then_some(start..self.i)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// `SWS c SWS`.
    #[inline]
    fn sep(&mut self, c: u8) -> bool {
        let save = self.i;
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            self.ws();
            true
        } else {
            self.i = save;
            false
        }
    }

    fn port(&mut self) -> Option<u16> {
        let start = self.i;
        let mut n: u32 = 0;
        while self.i < self.b.len() && self.b[self.i].is_ascii_digit() && self.i - start < 5 {
            n = n * 10 + u32::from(self.b[self.i] - b'0');
            self.i += 1;
        }
        if self.i == start || self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        u16::try_from(n).ok()
    }
}

fn ascii(b: &[u8]) -> &str {
    // Only called on ranges already checked to be ASCII.
    std::str::from_utf8(b).unwrap_or("")
}

/// How much a scan checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Structure only: what transaction matching needs (the eager parse).
    Locate,
    /// Structure plus the host and the values of the parameters RFC 3261
    /// and RFC 3581 define (typed access, validation).
    Full,
}

/// Scans one via-parm (RFC 3261 §25.1) from the start of `b`, stopping at
/// the end or at a top-level comma.
pub(crate) fn scan(b: &[u8], depth: Depth) -> Result<ViaScan, HeaderProblem> {
    let sp = HeaderProblem::SentProtocol;
    let mut c = Cursor { b, i: 0 };
    c.ws();
    let protocol = c.token().ok_or(sp)?;
    if !c.sep(b'/') {
        return Err(sp);
    }
    let version = c.token().ok_or(sp)?;
    if !c.sep(b'/') {
        return Err(sp);
    }
    let transport = c.token().ok_or(sp)?;
    if !c.ws() {
        return Err(sp);
    }
    let host_start = c.i;
    if c.peek() == Some(b'[') {
        while c.i < b.len() && b[c.i] != b']' {
            c.i += 1;
        }
        if c.i >= b.len()
            || (depth == Depth::Full && parse_ipv6(ascii(&b[host_start + 1..c.i])).is_none())
        {
            return Err(HeaderProblem::Uri(UriProblem::Host));
        }
        c.i += 1;
    } else {
        while c.i < b.len() && (b[c.i].is_ascii_alphanumeric() || b[c.i] == b'-' || b[c.i] == b'.')
        {
            c.i += 1;
        }
        if c.i == host_start
            || (depth == Depth::Full && classify_host_name(&b[host_start..c.i]).is_none())
        {
            return Err(HeaderProblem::Uri(UriProblem::Host));
        }
    }
    let host = host_start..c.i;
    let port = if c.sep(b':') {
        Some(c.port().ok_or(HeaderProblem::Uri(UriProblem::Port))?)
    } else {
        None
    };
    let mut params = c.i..c.i;
    let mut first_param = true;
    let mut branch = None;
    while c.sep(b';') {
        if first_param {
            params.start = c.i - 1;
            while params.start > 0 && b[params.start] != b';' {
                params.start -= 1;
            }
            first_param = false;
        }
        let name = c.token().ok_or(HeaderProblem::Parameter)?;
        let value = if c.sep(b'=') {
            let start = c.i;
            if c.peek() == Some(b'"') {
                c.i += 1;
                while c.i < b.len() && b[c.i] != b'"' {
                    c.i += if b[c.i] == b'\\' { 2 } else { 1 };
                }
                if c.i >= b.len() {
                    return Err(HeaderProblem::UnterminatedQuote);
                }
                c.i += 1;
            } else {
                while c.i < b.len()
                    && (is_token_char(b[c.i]) || matches!(b[c.i], b':' | b'[' | b']'))
                {
                    c.i += 1;
                }
            }
            if c.i == start {
                return Err(HeaderProblem::Parameter);
            }
            Some(start..c.i)
        } else {
            None
        };
        if depth == Depth::Full {
            check_param(&b[name.clone()], value.as_ref().map(|v| &b[v.clone()]))?;
        }
        if branch.is_none() && b[name].eq_ignore_ascii_case(b"branch") {
            branch = value;
        }
        params.end = c.i;
    }
    c.ws();
    if c.i < b.len() && b[c.i] != b',' {
        return Err(HeaderProblem::TrailingCharacters);
    }
    Ok(ViaScan {
        protocol,
        version,
        transport,
        host,
        port,
        params,
        branch,
        end: c.i,
    })
}

/// Checks the value of a parameter RFC 3261 or RFC 3581 defines.
fn check_param(name: &[u8], value: Option<&[u8]>) -> Result<(), HeaderProblem> {
    let ok = match name.len() {
        6 if name.eq_ignore_ascii_case(b"branch") => {
            value.is_some_and(|v| v.iter().all(|&c| is_token_char(c)))
        }
        8 if name.eq_ignore_ascii_case(b"received") => {
            value.is_some_and(|v| parse_received(ascii(v)).is_some())
        }
        5 if name.eq_ignore_ascii_case(b"rport") => value.is_none_or(|v| {
            let mut c = Cursor { b: v, i: 0 };
            c.port().is_some() && c.i == v.len()
        }),
        3 if name.eq_ignore_ascii_case(b"ttl") => {
            value.is_some_and(|v| v.len() <= 3 && ascii(v).parse::<u8>().is_ok())
        }
        5 if name.eq_ignore_ascii_case(b"maddr") => {
            value.is_some_and(|v| Host::parse(ascii(v)).is_some())
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(HeaderProblem::Parameter)
    }
}

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
    /// The sent-by host as written (IPv6 references with brackets).
    pub host_str: &'a str,
    /// The sent-by port, if given.
    pub port: Option<u16>,
    /// The via parameters.
    pub params: Params<'a>,
    branch: Option<&'a str>,
}

impl<'a> Via<'a> {
    /// Parses one Via value (one element of the comma-separated list).
    pub fn parse(s: &'a str) -> Result<Via<'a>, HeaderProblem> {
        let v = scan(s.as_bytes(), Depth::Full)?;
        if v.end != s.len() {
            return Err(HeaderProblem::TrailingCharacters);
        }
        Ok(Via::from_scan(s, &v))
    }

    pub(crate) fn from_scan(s: &'a str, v: &ViaScan) -> Via<'a> {
        let host_str = &s[v.host.clone()];
        let host = match host_str.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(inner) => parse_ipv6(inner).map(Host::Ipv6),
            None => Host::from_name(host_str),
        }
        .unwrap_or(Host::Domain(host_str));
        Via {
            protocol: &s[v.protocol.clone()],
            version: &s[v.version.clone()],
            transport: &s[v.transport.clone()],
            host,
            host_str,
            port: v.port,
            params: Params::from_validated(&s[v.params.clone()]),
            branch: v.branch.clone().map(|r| &s[r]),
        }
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
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
        Some(inner) => parse_ipv6(inner).map(IpAddr::V6),
        None => v.parse().ok(),
    }
}

/// Finds the byte offset of the second Via value of a header value that
/// may hold several (`a, b`), or `None` if it holds only one. Used to pop
/// a Via without re-parsing the others.
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
        assert_eq!(v.host, Host::Ipv4("192.0.2.1".parse().unwrap()));
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bK776"));
        assert_eq!(v.rport(), Some(Some(5062)));
        assert_eq!(v.received(), Some("198.51.100.7".parse().unwrap()));
        assert!(v.is_rfc3261_branch());
        assert_eq!(v.params.iter().count(), 3);
    }

    #[test]
    fn lws_around_separators_and_ipv6() {
        let v = Via::parse("SIP / 2.0 / TCP   [2001:db8::9:1] : 5070 ; branch = z9hG4bKx ; rport")
            .unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host_str, "[2001:db8::9:1]");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.branch(), Some("z9hG4bKx"));
    }

    #[test]
    fn scan_stops_at_the_next_value() {
        let s = "SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , SIP/2.0/TCP b";
        let v = scan(s.as_bytes(), Depth::Full).unwrap();
        assert_eq!(&s[v.end..], ", SIP/2.0/TCP b");
        assert_eq!(&s[v.branch.unwrap()], "z9hG4bK1");
    }

    #[test]
    fn rejects() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0 192.0.2.15").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;received=notanip").is_err());
        assert!(Via::parse("SIP/2.0/UDP host;rport=99999").is_err());
        assert!(Via::parse("SIP/2.0/UDP host junk").is_err());
        assert!(Via::parse("SIP/2.0/UDP 300.1.1.1").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:").is_err());
        assert!(Via::parse("SIP/2.0/UDP host, x").is_err());
    }

    #[test]
    fn first_value() {
        assert_eq!(first_value_end("SIP/2.0/UDP a, SIP/2.0/UDP b"), Some(15));
        assert_eq!(first_value_end("SIP/2.0/UDP a;x=\"a,b\""), None);
    }
}
