//! Domain names as the zone and the resolver compare them: lower-case,
//! fully qualified (RFC 1034 §3.1, case-insensitive per RFC 4343), and
//! host-name syntax for the names the zone owns (RFC 1123 §2.1).

use crate::Error;

/// Longest name, in presentation form without the final dot (RFC 1035 §2.3.4).
const MAX_NAME_CHARS: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
const MAX_LABEL_CHARS: usize = 63;

/// `name` in lower case with exactly one final dot.
pub(crate) fn fqdn(name: &str) -> String {
    let trimmed = name.trim_end_matches('.');
    let mut out = trimmed.to_ascii_lowercase();
    out.push('.');
    out
}

/// `label.domain.` for a fully qualified `domain`.
pub(crate) fn child(label: &str, domain: &str) -> String {
    format!("{label}.{domain}")
}

/// Whether the fully qualified `name` is `domain` or below it.
pub(crate) fn is_within(name: &str, domain: &str) -> bool {
    name == domain
        || (name.len() > domain.len()
            && name.ends_with(domain)
            && name.as_bytes()[name.len() - domain.len() - 1] == b'.')
}

/// Checks that `name` is a host name of at least two labels.
pub(crate) fn check_domain(name: &str) -> Result<(), Error> {
    let bare = name.trim_end_matches('.');
    let invalid = |why| Error::InvalidName {
        name: name.to_owned(),
        why,
    };
    if bare.is_empty() {
        return Err(invalid("the root cannot be the SIP domain"));
    }
    if bare.len() > MAX_NAME_CHARS {
        return Err(invalid("longer than 253 characters"));
    }
    if !bare.contains('.') {
        return Err(invalid("needs at least two labels"));
    }
    bare.split('.')
        .try_for_each(|label| check_label(label).map_err(invalid))
}

/// Checks that `name` is one host-name label (a node's name).
pub(crate) fn check_node_name(name: &str) -> Result<(), Error> {
    check_label(name).map_err(|why| Error::InvalidName {
        name: name.to_owned(),
        why,
    })
}

fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("empty label");
    }
    if label.len() > MAX_LABEL_CHARS {
        return Err("label longer than 63 characters");
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("only letters, digits and '-' are allowed");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a label cannot start or end with '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_lowercases_and_adds_one_dot() {
        assert_eq!(fqdn("PBX.Example.test"), "pbx.example.test.");
        assert_eq!(fqdn("pbx.example.test."), "pbx.example.test.");
        assert_eq!(fqdn("pbx.example.test.."), "pbx.example.test.");
    }

    #[test]
    fn within_means_equal_or_below_at_a_label_boundary() {
        let d = "pbx.example.test.";
        assert!(is_within("pbx.example.test.", d));
        assert!(is_within("_sip._udp.pbx.example.test.", d));
        assert!(!is_within("xpbx.example.test.", d));
        assert!(!is_within("example.test.", d));
    }

    #[test]
    fn host_name_syntax_is_enforced() {
        assert!(check_domain("pbx.example.test.").is_ok());
        assert!(check_domain("pbx").is_err());
        assert!(check_domain(".").is_err());
        assert!(check_domain("pbx..test").is_err());
        assert!(check_domain("_sip.example.test").is_err());
        assert!(check_node_name("node-1").is_ok());
        assert!(check_node_name("-node").is_err());
        assert!(check_node_name("a.b").is_err());
        assert!(check_node_name(&"x".repeat(64)).is_err());
    }
}
