//! Authentication headers: credentials in Authorization and
//! Proxy-Authorization, challenges in WWW-Authenticate and
//! Proxy-Authenticate (RFC 3261 §20.7, §20.27, §20.28, §20.44, §25.1;
//! RFC 8760 for SHA-256). Values are borrowed; quoted ones keep their quotes
//! until asked for with [`AuthHeader::param`].

use crate::error::HeaderProblem;
use crate::grammar::{is_token_char, unquote, Scanner};
use std::borrow::Cow;

/// A challenge or credentials: scheme and comma-separated `name=value` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthHeader<'a> {
    /// The scheme, normally `Digest`.
    pub scheme: &'a str,
    /// The parameters as written, after the scheme.
    raw_params: &'a str,
}

impl<'a> AuthHeader<'a> {
    /// Parses `scheme LWS auth-param *(COMMA auth-param)`.
    pub fn parse(s: &'a str) -> Result<AuthHeader<'a>, HeaderProblem> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let scheme = sc.token().ok_or(HeaderProblem::Token)?;
        if !sc.skip_ws() {
            return Err(HeaderProblem::AuthParams);
        }
        let raw_params = sc.rest();
        let header = AuthHeader { scheme, raw_params };
        let mut count = 0;
        for p in header.params_raw() {
            p?;
            count += 1;
        }
        if count == 0 {
            return Err(HeaderProblem::AuthParams);
        }
        Ok(header)
    }

    fn params_raw(&self) -> impl Iterator<Item = Result<(&'a str, &'a str), HeaderProblem>> + 'a {
        let mut sc = Scanner::new(self.raw_params);
        let mut first = true;
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed {
                return None;
            }
            sc.skip_ws();
            if sc.is_empty() {
                return None;
            }
            if !first && !sc.eat_sep(b',') {
                failed = true;
                return Some(Err(HeaderProblem::AuthParams));
            }
            first = false;
            let name = match sc.token() {
                Some(n) => n,
                None => {
                    failed = true;
                    return Some(Err(HeaderProblem::AuthParams));
                }
            };
            if !sc.eat_sep(b'=') {
                failed = true;
                return Some(Err(HeaderProblem::AuthParams));
            }
            let value = if sc.peek() == Some(b'"') {
                sc.quoted_string()
            } else {
                // Tokens, plus '/' and ':' seen in real-world unquoted uri= values.
                let v = sc.take_while(|b| is_token_char(b) || b == b'/' || b == b':');
                (!v.is_empty()).then_some(v)
            };
            match value {
                Some(v) => Some(Ok((name, v))),
                None => {
                    failed = true;
                    Some(Err(HeaderProblem::AuthParams))
                }
            }
        })
    }

    /// Every parameter in order, values as written (quoted ones with quotes).
    pub fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.params_raw().map_while(Result::ok)
    }

    /// The value of parameter `name` (any case), unquoted.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| {
                if v.starts_with('"') {
                    unquote(v)
                } else {
                    Cow::Borrowed(v)
                }
            })
    }

    /// Whether the scheme is `Digest`.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_credentials() {
        let a = AuthHeader::parse(
            "Digest username=\"1000\", realm=\"tandem\",nonce=\"abc\", uri=\"sip:example.com\", response=\"0123\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"x\\\"y\"",
        )
        .unwrap();
        assert!(a.is_digest());
        assert_eq!(a.param("USERNAME").as_deref(), Some("1000"));
        assert_eq!(a.param("algorithm").as_deref(), Some("SHA-256"));
        assert_eq!(a.param("nc").as_deref(), Some("00000001"));
        assert_eq!(a.param("cnonce").as_deref(), Some("x\"y"));
        assert_eq!(a.params().count(), 9);
    }

    #[test]
    fn rejects() {
        assert!(AuthHeader::parse("Digest").is_err());
        assert!(AuthHeader::parse("Digest realm").is_err());
        assert!(AuthHeader::parse("Digest realm=\"open").is_err());
        assert!(AuthHeader::parse("Digest a=b c=d").is_err());
    }
}
