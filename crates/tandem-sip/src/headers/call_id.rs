//! Call-ID (RFC 3261 §20.8): `word [ "@" word ]`.

use crate::error::HeaderProblem;
use crate::grammar::is_word_char;

/// Checks a Call-ID value (already trimmed by the index).
pub fn check(value: &[u8]) -> Result<(), HeaderProblem> {
    if value.is_empty() {
        return Err(HeaderProblem::Empty);
    }
    let mut ats = 0;
    let mut prev = b'@';
    for &c in value {
        if c == b'@' {
            ats += 1;
            if prev == b'@' {
                return Err(HeaderProblem::Token);
            }
        } else if !is_word_char(c) {
            return Err(HeaderProblem::Token);
        }
        prev = c;
    }
    if ats > 1 || prev == b'@' {
        return Err(HeaderProblem::Token);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids() {
        assert!(check(b"f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com").is_ok());
        assert!(check(b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(check(b"a b").is_err());
        assert!(check(b"a@b@c").is_err());
        assert!(check(b"@b").is_err());
        assert!(check(b"").is_err());
    }
}
