//! Parameter lists: `;name[=value]` as found in URIs (RFC 3261 §19.1.1
//! `uri-parameters`) and after header values (`generic-param`, RFC 3261 §25.1).
//!
//! A [`Params`] is a validated, borrowed view; names are matched without
//! regard to case, values are returned as written (quoted values keep their
//! quotes; see [`crate::unquote`]).

use crate::grammar::{is_paramchar, is_token_char, Scanner};

/// A validated list of parameters, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    /// The parameters as written, starting at the first `;` (or empty).
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// Wraps text that a scanner has already checked to be a parameter list.
    pub(crate) fn from_validated(raw: &'a str) -> Params<'a> {
        Params { raw }
    }

    /// The parameters as written, from the first `;`.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Every parameter in order: name and, if present, value.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            sc: Scanner::new(self.raw),
        }
    }

    /// The parameter `name`: `None` if absent, `Some(None)` if present
    /// without a value, `Some(Some(v))` with one.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of `name`, if the parameter is present with a value.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten()
    }

    /// Whether the parameter `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Iterator over [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    sc: Scanner<'a>,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        // The list was validated when the Params was made, so this walk
        // only has to find boundaries.
        if !self.sc.eat_sep(b';') {
            return None;
        }
        let name = self
            .sc
            .take_while(|b| b != b'=' && b != b';' && b != b' ' && b != b'\t');
        if self.sc.eat_sep(b'=') {
            let value = if self.sc.peek() == Some(b'"') {
                self.sc.quoted_string().unwrap_or("")
            } else {
                self.sc.take_while(|b| b != b';' && b != b' ' && b != b'\t')
            };
            Some((name, Some(value)))
        } else {
            Some((name, None))
        }
    }
}

/// Characters allowed in an unquoted header parameter value: `token`, and
/// the `host` characters (`:` `[` `]`) so that IPv6 addresses fit (RFC 3261
/// §25.1 `gen-value`).
fn is_gen_value_char(b: u8) -> bool {
    is_token_char(b) || b == b':' || b == b'[' || b == b']'
}

/// Reads header parameters (`*( SEMI generic-param )`) at the cursor.
/// Returns `None` if a parameter is empty or malformed.
pub(crate) fn header_params<'a>(sc: &mut Scanner<'a>) -> Option<Params<'a>> {
    let start = sc.pos();
    let mut end = start;
    loop {
        if !sc.eat_sep(b';') {
            break;
        }
        sc.token()?;
        if sc.eat_sep(b'=') {
            if sc.peek() == Some(b'"') {
                sc.quoted_string()?;
            } else if sc.take_while(is_gen_value_char).is_empty() {
                return None;
            }
        }
        end = sc.pos();
    }
    // Trailing white space after the last parameter is not part of the list.
    let raw = sc.slice(start, end);
    Some(Params {
        raw: raw.trim_start_matches([' ', '\t']),
    })
}

/// Reads URI parameters (`*( ";" uri-parameter )`) at the cursor: no white
/// space, values of `paramchar`. Returns `None` if one is empty or malformed.
pub(crate) fn uri_params<'a>(sc: &mut Scanner<'a>) -> Option<Params<'a>> {
    let start = sc.pos();
    while sc.eat(b';') {
        if sc.take_while(is_paramchar).is_empty() {
            return None;
        }
        if sc.eat(b'=') && sc.take_while(is_paramchar).is_empty() {
            return None;
        }
    }
    Some(Params {
        raw: sc.slice(start, sc.pos()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> Option<(Params<'_>, String)> {
        let mut sc = Scanner::new(s);
        header_params(&mut sc).map(|p| (p, sc.rest().to_string()))
    }

    #[test]
    fn header_params_with_spaces_quotes_and_flags() {
        let (p, rest) = hp(" ; tag = abc ;lr; x=\"a;b\" ;received=[2001:db8::1]").unwrap();
        assert_eq!(rest, "");
        assert_eq!(p.value("TAG"), Some("abc"));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.value("x"), Some("\"a;b\""));
        assert_eq!(p.value("received"), Some("[2001:db8::1]"));
        assert_eq!(p.iter().count(), 4);
    }

    #[test]
    fn empty_params_are_rejected() {
        assert!(hp(";;").is_none());
        assert!(hp(";a=").is_none());
        assert!(hp(";a=\"open").is_none());
    }

    #[test]
    fn stops_before_other_text() {
        let (p, rest) = hp(";a=1 , next").unwrap();
        assert_eq!(p.value("a"), Some("1"));
        assert_eq!(rest, " , next");
    }

    #[test]
    fn uri_params_strict() {
        let mut sc = Scanner::new(";transport=tcp;lr?x=y");
        let p = uri_params(&mut sc).unwrap();
        assert_eq!(p.value("transport"), Some("tcp"));
        assert!(p.contains("lr"));
        assert_eq!(sc.rest(), "?x=y");
        assert!(uri_params(&mut Scanner::new(";;")).is_none());
    }
}
