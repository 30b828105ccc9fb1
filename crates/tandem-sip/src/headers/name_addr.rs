//! Address headers: `name-addr` and `addr-spec` with parameters, as used by
//! From, To, Contact, Route, Record-Route, Path and friends (RFC 3261 §20.10,
//! §20.20, §20.39, §25.1; RFC 3327; RFC 5626 contact parameters).

use crate::error::HeaderProblem;
use crate::grammar::{is_token_char, is_ws, Scanner};
use crate::params::{header_params, Params};
use crate::uri::Uri;

/// The display name before a `<uri>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayName<'a> {
    /// A quoted string, with its quotes (see [`crate::unquote`]).
    Quoted(&'a str),
    /// One or more tokens separated by white space, as written.
    Tokens(&'a str),
}

impl<'a> DisplayName<'a> {
    /// The display name as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            DisplayName::Quoted(s) | DisplayName::Tokens(s) => s,
        }
    }
}

/// An address with optional display name and header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name, if any.
    pub display_name: Option<DisplayName<'a>>,
    /// The URI as written (between `<>` if they were used).
    pub uri_str: &'a str,
    /// The parsed URI.
    pub uri: Uri<'a>,
    /// Whether the URI was enclosed in `<>`.
    pub angle_brackets: bool,
    /// Header parameters after the address (`;tag=...`, `;expires=...`).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses `name-addr / addr-spec` followed by header parameters; the
    /// input must hold one value and nothing else.
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, HeaderProblem> {
        let mut sc = Scanner::new(s);
        let na = Self::scan(&mut sc)?;
        sc.skip_ws();
        if !sc.is_empty() {
            return Err(HeaderProblem::TrailingCharacters);
        }
        Ok(na)
    }

    /// Parses only the `name-addr` form (Route, Record-Route, Path, which
    /// require `<>`).
    pub fn parse_name_addr(s: &'a str) -> Result<NameAddr<'a>, HeaderProblem> {
        let na = Self::parse(s)?;
        if !na.angle_brackets {
            return Err(HeaderProblem::AngleBracketsRequired);
        }
        Ok(na)
    }

    fn scan(sc: &mut Scanner<'a>) -> Result<NameAddr<'a>, HeaderProblem> {
        sc.skip_ws();
        let display_name = match sc.peek() {
            None => return Err(HeaderProblem::Empty),
            Some(b'"') => {
                let q = sc.quoted_string().ok_or(HeaderProblem::UnterminatedQuote)?;
                sc.skip_ws();
                if sc.peek() != Some(b'<') {
                    return Err(HeaderProblem::DisplayName);
                }
                Some(DisplayName::Quoted(q))
            }
            Some(b'<') => None,
            Some(_) => Self::scan_token_display_name(sc)?,
        };
        if sc.eat(b'<') {
            let start = sc.pos();
            sc.take_while(|b| b != b'>');
            let uri_str = sc.slice(start, sc.pos());
            if !sc.eat(b'>') {
                return Err(HeaderProblem::UnbalancedAngleBrackets);
            }
            let uri = Uri::parse(uri_str).map_err(HeaderProblem::Uri)?;
            let params = header_params(sc).ok_or(HeaderProblem::Parameter)?;
            Ok(NameAddr {
                display_name,
                uri_str,
                uri,
                angle_brackets: true,
                params,
            })
        } else {
            // addr-spec: the URI runs to the first ';' or white space, and
            // its parameters belong to the header (RFC 3261 §20.10). A URI
            // with '?' must have been enclosed in '<>' (RFC 4475 §3.1.2.13).
            let start = sc.pos();
            sc.take_while(|b| b != b';' && !is_ws(b) && b != b',' && b != b'>');
            let uri_str = sc.slice(start, sc.pos());
            if uri_str.is_empty() {
                return Err(HeaderProblem::Empty);
            }
            if uri_str.contains('?') {
                return Err(HeaderProblem::AngleBracketsRequired);
            }
            if sc.peek() == Some(b'>') {
                return Err(HeaderProblem::UnbalancedAngleBrackets);
            }
            let uri = Uri::parse(uri_str).map_err(HeaderProblem::Uri)?;
            let params = header_params(sc).ok_or(HeaderProblem::Parameter)?;
            Ok(NameAddr {
                display_name: None,
                uri_str,
                uri,
                angle_brackets: false,
                params,
            })
        }
    }

    /// A display name of tokens, or `None` if what is at the cursor is an
    /// addr-spec (a URI has a ':' straight after its scheme).
    fn scan_token_display_name(
        sc: &mut Scanner<'a>,
    ) -> Result<Option<DisplayName<'a>>, HeaderProblem> {
        let save = sc.clone();
        let start = sc.pos();
        let mut end = start;
        loop {
            let t = sc.take_while(is_token_char);
            if t.is_empty() {
                break;
            }
            end = sc.pos();
            if !sc.skip_ws() {
                break;
            }
        }
        if sc.peek() == Some(b'<') && end > start {
            return Ok(Some(DisplayName::Tokens(sc.slice(start, end))));
        }
        // Not a display name: either an addr-spec, or a display name with
        // characters that needed quoting (RFC 4475 §3.1.2.15).
        *sc = save;
        let rest = sc.rest().as_bytes();
        let scheme_len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
            .count();
        if scheme_len > 0 && rest.get(scheme_len) == Some(&b':') {
            Ok(None)
        } else {
            Err(HeaderProblem::DisplayName)
        }
    }

    /// The `tag` parameter (From, To).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.value("tag")
    }
}

/// One Contact value: the wildcard `*` or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *`, only valid in a REGISTER with `Expires: 0`.
    Wildcard,
    /// A contact address.
    Address(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact value and checks the parameters RFC 3261 and
    /// RFC 5626 define (`q`, `expires`, `reg-id`, `+sip.instance`).
    pub fn parse(s: &'a str) -> Result<Contact<'a>, HeaderProblem> {
        if s.trim_matches([' ', '\t']) == "*" {
            return Ok(Contact::Wildcard);
        }
        let na = NameAddr::parse(s)?;
        for (name, value) in na.params.iter() {
            let ok = if name.eq_ignore_ascii_case("q") {
                value.is_some_and(|v| parse_qvalue(v).is_some())
            } else if name.eq_ignore_ascii_case("expires") {
                value.is_some_and(|v| super::numeric::delta_seconds(v).is_ok())
            } else if name.eq_ignore_ascii_case("reg-id") {
                value.is_some_and(|v| v.len() <= 10 && v.parse::<u32>().is_ok_and(|n| n > 0))
            } else if name.eq_ignore_ascii_case("+sip.instance") {
                value.is_some_and(|v| v.starts_with('"') && v.ends_with('"') && v.len() >= 2)
            } else {
                true
            };
            if !ok {
                return Err(if name.eq_ignore_ascii_case("expires") {
                    HeaderProblem::Overflow
                } else {
                    HeaderProblem::Parameter
                });
            }
        }
        Ok(Contact::Address(na))
    }

    /// The address, unless this is the wildcard.
    pub fn address(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Address(a) => Some(a),
            Contact::Wildcard => None,
        }
    }

    /// The `q` parameter in thousandths (1000 = 1.0), if present.
    pub fn q_millis(&self) -> Option<u16> {
        self.address()?.params.value("q").and_then(parse_qvalue)
    }

    /// The `expires` parameter, if present.
    pub fn expires(&self) -> Option<u32> {
        self.address()?
            .params
            .value("expires")
            .and_then(|v| super::numeric::delta_seconds(v).ok())
    }

    /// The `+sip.instance` parameter without its quotes (RFC 5626 §4.1).
    pub fn instance(&self) -> Option<&'a str> {
        let v = self.address()?.params.value("+sip.instance")?;
        v.strip_prefix('"')?.strip_suffix('"')
    }

    /// The `reg-id` parameter (RFC 5626 §4.2).
    pub fn reg_id(&self) -> Option<u32> {
        self.address()?.params.value("reg-id")?.parse().ok()
    }
}

/// Parses a `qvalue` (RFC 3261 §25.1) into thousandths.
pub fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, f),
        None => (v, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut millis: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        millis += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(millis),
        "1" if millis == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Host;

    #[test]
    fn quoted_display_name() {
        let na = NameAddr::parse("\"Mr. Watson\" <sip:watson@example.com>;tag=9fxced76sl").unwrap();
        assert_eq!(na.display_name, Some(DisplayName::Quoted("\"Mr. Watson\"")));
        assert_eq!(na.tag(), Some("9fxced76sl"));
        assert_eq!(na.uri.as_sip().unwrap().host, Host::Domain("example.com"));
    }

    #[test]
    fn token_display_name_without_space() {
        let na = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(na.display_name, Some(DisplayName::Tokens("caller")));
        let na = NameAddr::parse("Mr  Watson <sip:w@example.com>").unwrap();
        assert_eq!(na.display_name, Some(DisplayName::Tokens("Mr  Watson")));
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let na = NameAddr::parse("sip:user@example.com;tag=abc").unwrap();
        assert!(!na.angle_brackets);
        assert_eq!(na.tag(), Some("abc"));
        assert!(na.uri.params().is_empty());
    }

    #[test]
    fn rejects() {
        assert_eq!(
            NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>"),
            Err(HeaderProblem::UnterminatedQuote)
        );
        assert_eq!(
            NameAddr::parse("Bell, Alexander <sip:a.g.bell@bell-tel.com>"),
            Err(HeaderProblem::DisplayName)
        );
        assert!(NameAddr::parse("<sip:a.g.bell@ bell-tel.com>").is_err());
        assert_eq!(
            NameAddr::parse("sip:user@example.com?Route=%3Csip:x%3E"),
            Err(HeaderProblem::AngleBracketsRequired)
        );
        assert_eq!(
            NameAddr::parse("<sip:a@b"),
            Err(HeaderProblem::UnbalancedAngleBrackets)
        );
        assert_eq!(
            NameAddr::parse("<sip:a@b>;;"),
            Err(HeaderProblem::Parameter)
        );
        assert_eq!(
            NameAddr::parse_name_addr("sip:a@b").err(),
            Some(HeaderProblem::AngleBracketsRequired)
        );
    }

    #[test]
    fn contact_params() {
        let c = Contact::parse(
            "<sip:a@192.0.2.4;transport=tcp>;q=0.7;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1",
        )
        .unwrap();
        assert_eq!(c.q_millis(), Some(700));
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(c.reg_id(), Some(1));
        assert_eq!(
            c.instance(),
            Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>")
        );
        assert_eq!(Contact::parse(" * "), Ok(Contact::Wildcard));
        assert!(Contact::parse("<sip:a@b>;expires=280297596632815").is_err());
        assert!(Contact::parse("<sip:a@b>;q=1.5").is_err());
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.25"), Some(250));
        assert_eq!(parse_qvalue("1.1"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
    }
}
