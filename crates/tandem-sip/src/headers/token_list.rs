//! Comma-separated token lists: Require, Proxy-Require, Supported,
//! Unsupported (option tags, RFC 3261 §20.29, §20.32, §20.37, §20.40) and
//! Allow (methods, §20.5). An empty Supported or Allow is legal.

use crate::error::HeaderProblem;
use crate::grammar::{is_token, split_commas};

/// Checks a token list value; an empty value is a list of none.
pub fn check(value: &str) -> Result<(), HeaderProblem> {
    if value.trim_matches([' ', '\t']).is_empty() {
        return Ok(());
    }
    for t in split_commas(value) {
        if !is_token(t) {
            return Err(HeaderProblem::Token);
        }
    }
    Ok(())
}

/// The tokens of a list value, skipping malformed elements.
pub fn tokens(value: &str) -> impl Iterator<Item = &str> {
    split_commas(value).filter(|t| is_token(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert!(check("100rel, timer ,path").is_ok());
        assert!(check("").is_ok());
        assert!(check("a,,b").is_err());
        assert!(check("a b").is_err());
        assert_eq!(
            tokens("INVITE, ACK,BYE").collect::<Vec<_>>(),
            ["INVITE", "ACK", "BYE"]
        );
    }
}
