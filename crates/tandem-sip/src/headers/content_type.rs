//! Content-Type (RFC 3261 §20.15): `type/subtype` with parameters.

use crate::error::HeaderProblem;
use crate::grammar::Scanner;
use crate::params::{header_params, Params};

/// A media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// The top-level type, as written (`application`).
    pub type_: &'a str,
    /// The subtype, as written (`sdp`).
    pub subtype: &'a str,
    /// The parameters (`;boundary=...`).
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses `m-type SLASH m-subtype *(SEMI m-parameter)`.
    pub fn parse(s: &'a str) -> Result<MediaType<'a>, HeaderProblem> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let type_ = sc.token().ok_or(HeaderProblem::Token)?;
        if !sc.eat_sep(b'/') {
            return Err(HeaderProblem::Token);
        }
        let subtype = sc.token().ok_or(HeaderProblem::Token)?;
        let params = header_params(&mut sc).ok_or(HeaderProblem::Parameter)?;
        sc.skip_ws();
        if !sc.is_empty() {
            return Err(HeaderProblem::TrailingCharacters);
        }
        Ok(MediaType {
            type_,
            subtype,
            params,
        })
    }

    /// Whether this is `type/subtype`, ignoring case.
    pub fn is(&self, type_: &str, subtype: &str) -> bool {
        self.type_.eq_ignore_ascii_case(type_) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let m = MediaType::parse("multipart/mixed;boundary=\"unique-boundary-1\"").unwrap();
        assert!(m.is("Multipart", "MIXED"));
        assert_eq!(m.params.value("boundary"), Some("\"unique-boundary-1\""));
        assert!(MediaType::parse("application").is_err());
        assert!(MediaType::parse("application/sdp extra").is_err());
    }
}
