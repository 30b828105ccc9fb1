//! Session-Expires (RFC 4028 §4): interval and refresher.

use super::numeric::delta_seconds;
use crate::error::HeaderProblem;
use crate::grammar::Scanner;
use crate::params::{header_params, Params};

/// Who refreshes the session (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// The caller.
    Uac,
    /// The callee.
    Uas,
}

/// A Session-Expires value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    /// The session interval in seconds.
    pub interval_secs: u32,
    /// The `refresher` parameter, if present.
    pub refresher: Option<Refresher>,
    /// All parameters.
    pub params: Params<'a>,
}

impl<'a> SessionExpires<'a> {
    /// Parses `delta-seconds *(SEMI se-params)`.
    pub fn parse(s: &'a str) -> Result<SessionExpires<'a>, HeaderProblem> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let digits = sc.take_while(|b| b.is_ascii_digit());
        let interval_secs = delta_seconds(digits)?;
        let params = header_params(&mut sc).ok_or(HeaderProblem::Parameter)?;
        sc.skip_ws();
        if !sc.is_empty() {
            return Err(HeaderProblem::TrailingCharacters);
        }
        let refresher = match params.get("refresher") {
            None => None,
            Some(Some(v)) if v.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(Some(v)) if v.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            Some(_) => return Err(HeaderProblem::Parameter),
        };
        Ok(SessionExpires {
            interval_secs,
            refresher,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_expires() {
        let s = SessionExpires::parse("1800;refresher=uas").unwrap();
        assert_eq!(s.interval_secs, 1800);
        assert_eq!(s.refresher, Some(Refresher::Uas));
        assert!(SessionExpires::parse("1800;refresher=x").is_err());
        assert!(SessionExpires::parse("abc").is_err());
    }
}
