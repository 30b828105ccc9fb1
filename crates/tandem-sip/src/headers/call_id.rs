//! Call-ID (RFC 3261 §20.8): `word [ "@" word ]`.

use crate::error::HeaderProblem;
use crate::grammar::is_word_char;

/// Checks a Call-ID value (already trimmed by the index).
pub fn check(value: &str) -> Result<(), HeaderProblem> {
    let (local, host) = match value.split_once('@') {
        Some((l, h)) => (l, Some(h)),
        None => (value, None),
    };
    let word = |w: &str| !w.is_empty() && w.bytes().all(is_word_char);
    if !word(local) || !host.is_none_or(word) {
        return Err(if value.is_empty() {
            HeaderProblem::Empty
        } else {
            HeaderProblem::Token
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids() {
        assert!(check("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com").is_ok());
        assert!(check("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(check("a b").is_err());
        assert!(check("a@b@c").is_err());
        assert!(check("").is_err());
    }
}
