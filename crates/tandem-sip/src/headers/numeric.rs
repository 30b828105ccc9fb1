//! Headers whose value is a number: CSeq (RFC 3261 §20.16), Max-Forwards
//! (§20.22), Content-Length (§20.14), Expires (§20.19), Min-Expires
//! (§20.23), Retry-After (§20.33) and the `delta-seconds` they share.
//! Overlarge values are errors (RFC 4475 §3.1.2.4), never silently wrapped.

use crate::error::HeaderProblem;
use crate::grammar::{is_token_char, Scanner};
use crate::method::Method;

/// Parses `1*DIGIT` into a u32; `Overflow` past 2^32-1.
pub fn delta_seconds(s: &str) -> Result<u32, HeaderProblem> {
    parse_u32(s.trim_matches([' ', '\t']))
}

fn parse_u32(s: &str) -> Result<u32, HeaderProblem> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderProblem::Number);
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        n = n * 10 + u64::from(b - b'0');
        if n > u64::from(u32::MAX) {
            return Err(HeaderProblem::Overflow);
        }
    }
    Ok(n as u32)
}

/// A CSeq value: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number (a 32-bit unsigned integer, RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(s: &str) -> Result<CSeq, HeaderProblem> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let digits = sc.take_while(|b| b.is_ascii_digit());
        let seq = parse_u32(digits)?;
        if !sc.skip_ws() {
            return Err(HeaderProblem::Token);
        }
        let method = sc.take_while(is_token_char);
        if method.is_empty() {
            return Err(HeaderProblem::Token);
        }
        sc.skip_ws();
        if !sc.is_empty() {
            return Err(HeaderProblem::TrailingCharacters);
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(method.as_bytes()),
        })
    }
}

/// Parses Max-Forwards: 0 to 255 (RFC 3261 §20.22).
pub fn max_forwards(s: &str) -> Result<u8, HeaderProblem> {
    let n = delta_seconds(s)?;
    u8::try_from(n).map_err(|_| HeaderProblem::Overflow)
}

/// Parses Content-Length.
pub fn content_length(s: &str) -> Result<u32, HeaderProblem> {
    delta_seconds(s)
}

/// A Retry-After value: seconds, an optional comment and parameters are
/// allowed; only the seconds are returned (RFC 3261 §20.33).
pub fn retry_after(s: &str) -> Result<u32, HeaderProblem> {
    let s = s.trim_start_matches([' ', '\t']);
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let secs = parse_u32(&s[..end])?;
    let rest = s[end..].trim_start_matches([' ', '\t']);
    if !(rest.is_empty() || rest.starts_with('(') || rest.starts_with(';')) {
        return Err(HeaderProblem::TrailingCharacters);
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq() {
        assert_eq!(
            CSeq::parse("  4711   INVITE ").unwrap(),
            CSeq {
                seq: 4711,
                method: Method::Invite
            }
        );
        assert_eq!(
            CSeq::parse("36893488147419103232 REGISTER"),
            Err(HeaderProblem::Overflow)
        );
        assert_eq!(CSeq::parse("1INVITE"), Err(HeaderProblem::Token));
        assert_eq!(CSeq::parse("-1 INVITE"), Err(HeaderProblem::Number));
        assert_eq!(
            CSeq::parse("1 INVITE x"),
            Err(HeaderProblem::TrailingCharacters)
        );
    }

    #[test]
    fn scalars() {
        assert_eq!(max_forwards("70"), Ok(70));
        assert_eq!(max_forwards("300"), Err(HeaderProblem::Overflow));
        assert_eq!(content_length("-999"), Err(HeaderProblem::Number));
        assert_eq!(delta_seconds("4294967295"), Ok(u32::MAX));
        assert_eq!(delta_seconds("4294967296"), Err(HeaderProblem::Overflow));
        assert_eq!(
            delta_seconds(&format!("1{}", "0".repeat(100))),
            Err(HeaderProblem::Overflow)
        );
        assert_eq!(retry_after("120 (I'm in a meeting);duration=60"), Ok(120));
        assert_eq!(
            retry_after("18446744073709551616"),
            Err(HeaderProblem::Overflow)
        );
    }
}
