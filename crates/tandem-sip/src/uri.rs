//! URIs: SIP and SIPS (RFC 3261 §19.1, §25.1), TEL (RFC 3966) and, kept
//! opaque, any other absolute URI. Hosts may be names, IPv4 addresses or
//! IPv6 references (RFC 5118). Parsing borrows from the input; escapes are
//! validated but not decoded (see [`crate::percent_decode`]).

use crate::error::UriProblem;
use crate::grammar::{escapes_valid, is_hnvchar, is_password_char, is_uric, is_user_char, Scanner};
use crate::params::{uri_params, Params};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme, kept as written.
    Other {
        /// The scheme, as written.
        scheme: &'a str,
        /// Everything after the colon.
        rest: &'a str,
    },
}

impl<'a> Uri<'a> {
    /// Parses a whole URI; the input must hold nothing else.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, UriProblem> {
        let colon = s.find(':').ok_or(UriProblem::Scheme)?;
        let scheme = &s[..colon];
        if scheme.is_empty()
            || !scheme.as_bytes()[0].is_ascii_alphabetic()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(UriProblem::Scheme);
        }
        let rest = &s[colon + 1..];
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_after_scheme(s, rest, false).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_after_scheme(s, rest, true).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_after_scheme(s, rest).map(Uri::Tel)
        } else {
            if rest.is_empty() || !rest.bytes().all(is_uric) {
                return Err(UriProblem::Character);
            }
            if !escapes_valid(rest) {
                return Err(UriProblem::Escape);
            }
            Ok(Uri::Other { scheme, rest })
        }
    }

    /// The SIP or SIPS URI, if that is what this is.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The scheme in lower case: `sip`, `sips`, `tel` or the other scheme as written.
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// The URI's parameters (empty for other schemes).
    pub fn params(&self) -> Params<'a> {
        match self {
            Uri::Sip(u) => u.params,
            Uri::Tel(t) => t.params,
            Uri::Other { .. } => Params::default(),
        }
    }
}

/// A SIP or SIPS URI (RFC 3261 §19.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// The whole URI as written.
    pub raw: &'a str,
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, still escaped.
    pub user: Option<&'a str>,
    /// The password, still escaped (deprecated but legal).
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, if given.
    pub port: Option<u16>,
    /// The URI parameters (`;transport=tcp;lr`).
    pub params: Params<'a>,
    /// The header part after `?`, without the `?`.
    pub headers: Option<&'a str>,
}

impl<'a> SipUri<'a> {
    /// Parses a SIP or SIPS URI; the input must hold nothing else.
    pub fn parse(s: &'a str) -> Result<SipUri<'a>, UriProblem> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(UriProblem::Scheme),
        }
    }

    fn parse_after_scheme(raw: &'a str, rest: &'a str, secure: bool) -> Result<Self, UriProblem> {
        // userinfo cannot hold an unescaped '@', nor can anything after the
        // host, so the first '@' ends the userinfo (RFC 3261 §25.1).
        let (user, password, hostpart) = match rest.find('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                let (user, password) = match userinfo.find(':') {
                    Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                    None => (userinfo, None),
                };
                if user.is_empty() || !user.bytes().all(is_user_char) {
                    return Err(UriProblem::UserInfo);
                }
                if let Some(p) = password {
                    if !p.bytes().all(is_password_char) {
                        return Err(UriProblem::UserInfo);
                    }
                }
                if !escapes_valid(userinfo) {
                    return Err(UriProblem::Escape);
                }
                (Some(user), password, &rest[at + 1..])
            }
            None => (None, None, rest),
        };
        let mut sc = Scanner::new(hostpart);
        let host = Host::scan(&mut sc).ok_or(UriProblem::Host)?;
        let port = if sc.eat(b':') {
            Some(scan_port(&mut sc).ok_or(UriProblem::Port)?)
        } else {
            None
        };
        let params = uri_params(&mut sc).ok_or(UriProblem::Parameter)?;
        if !escapes_valid(params.as_str()) {
            return Err(UriProblem::Escape);
        }
        let headers = if sc.eat(b'?') {
            let h = sc.take_while(|b| is_hnvchar(b) || b == b'=' || b == b'&');
            if h.is_empty() || !h.split('&').all(|kv| !kv.is_empty() && kv.contains('=')) {
                return Err(UriProblem::Headers);
            }
            if !escapes_valid(h) {
                return Err(UriProblem::Escape);
            }
            Some(h)
        } else {
            None
        };
        if !sc.is_empty() {
            return Err(UriProblem::Character);
        }
        Ok(SipUri {
            raw,
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The `transport` parameter, if any.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.value("transport")
    }

    /// Whether the URI has the `lr` parameter (RFC 3261 §19.1.1, loose routing).
    pub fn is_loose_route(&self) -> bool {
        self.params.contains("lr")
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Reads 1 to 5 digits as a port number.
pub(crate) fn scan_port(sc: &mut Scanner<'_>) -> Option<u16> {
    let digits = sc.take_while(|b| b.is_ascii_digit());
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    digits.parse::<u16>().ok()
}

/// Parses the inside of an IPv6 reference. RFC 5118 §4.10 asks that the
/// common mistake of three colons before an embedded IPv4 address
/// (`2001:db8:::192.0.2.1`) be tolerated.
pub(crate) fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    s.parse::<Ipv6Addr>().ok().or_else(|| {
        let fixed = s.replacen(":::", "::", 1);
        (fixed.len() + 1 == s.len())
            .then(|| fixed.parse().ok())
            .flatten()
    })
}

/// Checks a host name or dotted quad (RFC 3261 §25.1 `hostname` /
/// `IPv4address`) in one pass: `Some(Some(addr))` for an IPv4 address,
/// `Some(None)` for a valid name, `None` if it is neither. Labels may not
/// be empty or start or end with '-'; one trailing '.' is allowed.
pub(crate) fn classify_host_name(b: &[u8]) -> Option<Option<Ipv4Addr>> {
    if b.is_empty() {
        return None;
    }
    let mut octets = [0u16; 4];
    let mut dots = 0usize;
    let mut all_digits = true;
    let mut label_len = 0usize;
    let mut prev = b'.';
    for &c in b {
        match c {
            b'.' => {
                if label_len == 0 || prev == b'-' {
                    return None;
                }
                dots += 1;
                label_len = 0;
            }
            b'0'..=b'9' => {
                if dots < 4 {
                    octets[dots] = octets[dots]
                        .saturating_mul(10)
                        .saturating_add(u16::from(c - b'0'));
                }
                label_len += 1;
            }
            b'-' => {
                if label_len == 0 {
                    return None;
                }
                all_digits = false;
                label_len += 1;
            }
            c if c.is_ascii_alphabetic() => {
                all_digits = false;
                label_len += 1;
            }
            _ => return None,
        }
        prev = c;
    }
    if prev == b'-' {
        return None;
    }
    if all_digits {
        // A dotted quad: exactly four 1-3 digit octets up to 255.
        if dots != 3 || label_len == 0 || octets.iter().any(|&o| o > 255) {
            return None;
        }
        if b.split(|&c| c == b'.').any(|l| l.len() > 3) {
            return None;
        }
        return Some(Some(Ipv4Addr::new(
            octets[0] as u8,
            octets[1] as u8,
            octets[2] as u8,
            octets[3] as u8,
        )));
    }
    Some(None)
}

/// A host: a name, an IPv4 address or an IPv6 reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A host name, as written.
    Domain(&'a str),
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 reference (`[...]` on the wire).
    Ipv6(Ipv6Addr),
}

impl<'a> Host<'a> {
    /// Reads a host at the cursor (RFC 3261 §25.1 `host`).
    pub(crate) fn scan(sc: &mut Scanner<'a>) -> Option<Host<'a>> {
        if sc.eat(b'[') {
            let inner = sc.take_while(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if !sc.eat(b']') {
                return None;
            }
            return parse_ipv6(inner).map(Host::Ipv6);
        }
        let name = sc.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        Host::from_name(name)
    }

    /// Parses a host written on its own (`[v6]`, dotted quad or name).
    pub fn parse(s: &'a str) -> Option<Host<'a>> {
        let mut sc = Scanner::new(s);
        let h = Host::scan(&mut sc)?;
        sc.is_empty().then_some(h)
    }

    pub(crate) fn from_name(name: &'a str) -> Option<Host<'a>> {
        match classify_host_name(name.as_bytes())? {
            Some(v4) => Some(Host::Ipv4(v4)),
            None => Some(Host::Domain(name)),
        }
    }

    /// The address, if the host is a literal address.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
            Host::Domain(_) => None,
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A TEL URI (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The whole URI as written.
    pub raw: &'a str,
    /// The number, with visual separators as written (`+1-201-555-0123`).
    pub number: &'a str,
    /// The parameters (`;phone-context=...`).
    pub params: Params<'a>,
}

impl<'a> TelUri<'a> {
    fn parse_after_scheme(raw: &'a str, rest: &'a str) -> Result<Self, UriProblem> {
        let mut sc = Scanner::new(rest);
        let number = sc.take_while(|b| {
            b.is_ascii_hexdigit() || matches!(b, b'+' | b'*' | b'#' | b'-' | b'.' | b'(' | b')')
        });
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty()
            || digits.contains('+')
            || !digits
                .bytes()
                .any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
        {
            return Err(UriProblem::TelephoneNumber);
        }
        let params = uri_params(&mut sc).ok_or(UriProblem::Parameter)?;
        if !sc.is_empty() {
            return Err(UriProblem::Character);
        }
        Ok(TelUri {
            raw,
            number,
            params,
        })
    }

    /// Whether the number is global (starts with `+`).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sip_uri() {
        let u =
            SipUri::parse("sip:alice:secret@example.com:5070;transport=tcp;lr?subject=x").unwrap();
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("secret"));
        assert_eq!(u.host, Host::Domain("example.com"));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.is_loose_route());
        assert_eq!(u.headers, Some("subject=x"));
    }

    #[test]
    fn ipv6_and_ipv4_hosts() {
        let u = SipUri::parse("sips:[2001:db8::10]:5061").unwrap();
        assert!(u.secure);
        assert_eq!(u.host.ip(), Some("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5061));
        let u = SipUri::parse("SIP:192.0.2.1").unwrap();
        assert_eq!(u.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(SipUri::parse("sip:[2001:db8::10").is_err());
        assert!(SipUri::parse("sip:2001:db8::10").is_err());
        assert!(SipUri::parse("sip:300.1.1.1").is_err());
    }

    #[test]
    fn semicolons_in_user_part() {
        let u = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert!(u.params.is_empty());
    }

    #[test]
    fn rejects_bad_characters() {
        assert_eq!(
            SipUri::parse("sip:user@exa mple.com"),
            Err(UriProblem::Character)
        );
        assert_eq!(
            SipUri::parse("sip:us er@example.com"),
            Err(UriProblem::UserInfo)
        );
        assert_eq!(
            SipUri::parse("sip:user@example.com:"),
            Err(UriProblem::Port)
        );
        assert_eq!(
            SipUri::parse("sip:user@example.com:99999"),
            Err(UriProblem::Port)
        );
        assert_eq!(
            SipUri::parse("sip:%zz@example.com"),
            Err(UriProblem::Escape)
        );
        assert_eq!(SipUri::parse("sip:@example.com"), Err(UriProblem::UserInfo));
    }

    #[test]
    fn tel_and_other() {
        match Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap() {
            Uri::Tel(t) => {
                assert!(t.is_global());
                assert_eq!(t.params.value("phone-context"), Some("example.com"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Uri::parse("mailto:a@example.com"),
            Ok(Uri::Other { .. })
        ));
        assert!(Uri::parse("tel:").is_err());
        assert!(Uri::parse("nocolon").is_err());
    }
}
