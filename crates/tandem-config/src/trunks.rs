//! `[[trunks]]` and `[[outbound_rules]]`: carrier trunks (RFC 3261 §10
//! client registration with RFC 2617 / RFC 8760 digest, RFC 3263 lookup of
//! the carrier's domain, RFC 3325 P-Asserted-Identity towards trusted
//! carriers) and the rules that send dialled numbers out through them.
//! Checked at start: every error names `trunks[i].key` or
//! `outbound_rules[i].key`. Keys are documented in docs/trunks.md.

use crate::error::Error;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

/// One `[[trunks]]` entry: a carrier.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TrunkEntry {
    /// The trunk's name (rules refer to it; `trunk/<name>` in the store).
    pub name: String,
    /// The carrier's SIP domain, resolved by RFC 3263 (NAPTR, SRV, A);
    /// also the host of the Request-URI of calls sent to it.
    #[serde(default)]
    pub domain: Option<String>,
    /// Or a fixed proxy, `host[:port]`, used instead of resolving `domain`.
    #[serde(default)]
    pub proxy: Option<String>,
    /// `udp`, `tcp` or `tls`; absent: what RFC 3263 finds (UDP for a proxy).
    #[serde(default)]
    pub transport: Option<String>,
    /// Whether tandem registers with the carrier (from the leader only).
    #[serde(default)]
    pub register: bool,
    /// Digest user name (and the user part of the registered AOR).
    #[serde(default)]
    pub username: Option<String>,
    /// Digest password.
    #[serde(default)]
    pub password: Option<String>,
    /// Registration expiry asked for, seconds.
    #[serde(default = "default_expires_secs")]
    pub expires_secs: u32,
    /// Addresses (`192.0.2.7`) or networks (`192.0.2.0/24`) the carrier
    /// sends from: requests from them are not challenged.
    #[serde(default)]
    pub allowed_sources: Vec<String>,
    /// Most concurrent calls sent to this trunk; more get 503.
    #[serde(default)]
    pub calls_max: Option<u32>,
    /// Number sent as the caller for every call on this trunk.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Whether the carrier is trusted with P-Asserted-Identity (RFC 3325).
    #[serde(default)]
    pub trusted: bool,
}

fn default_expires_secs() -> u32 {
    300
}

/// One `[[outbound_rules]]` entry: dialled numbers that leave on trunks.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutboundRuleEntry {
    /// A name for logs and errors (default `outbound_rules[i]`).
    #[serde(default)]
    pub name: Option<String>,
    /// Regular expression on the dialled user part, e.g. `"^0[1-9][0-9]+$"`.
    pub pattern: String,
    /// Only for calls from these extensions (empty: from any).
    #[serde(default)]
    pub from_extensions: Vec<String>,
    /// Digits removed from the front of the dialled number.
    #[serde(default)]
    pub strip: usize,
    /// Digits put in front after stripping.
    #[serde(default)]
    pub prepend: String,
    /// E.164: the tenant's country code (`"49"`); with `national_prefix`,
    /// a national number `0301234` becomes `+49301234`.
    #[serde(default)]
    pub country_code: Option<String>,
    /// The national trunk prefix replaced by `+<country_code>` (`"0"`).
    #[serde(default)]
    pub national_prefix: Option<String>,
    /// Trunks tried in order; the next one when a trunk answers 5xx, 408
    /// or stays silent.
    pub trunks: Vec<String>,
    /// Numbers matching the rule but refused (403): premium, by policy.
    #[serde(default)]
    pub blocked: Vec<String>,
}

impl OutboundRuleEntry {
    /// The rule's name for messages.
    pub fn label(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("outbound_rules[{index}]"))
    }
}

/// A parsed `allowed_sources` entry: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceNet {
    /// The network address.
    pub addr: IpAddr,
    /// Bits that must match.
    pub prefix_len: u8,
}

impl SourceNet {
    /// Parses `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`.
    pub fn parse(text: &str) -> Option<SourceNet> {
        let (ip, len) = match text.split_once('/') {
            Some((ip, len)) => (ip, Some(len)),
            None => (text, None),
        };
        let addr: IpAddr = ip.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            Some(l) => l.trim().parse::<u8>().ok().filter(|l| *l <= max)?,
            None => max,
        };
        Some(SourceNet { addr, prefix_len })
    }

    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// Splits `host[:port]` (`[v6]:port` for IPv6).
pub fn split_host_port(text: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Some((host.to_owned(), Some(port.parse().ok()?)))
        }
        _ => Some((text.to_owned(), None)),
    }
}

fn is_host(h: &str) -> bool {
    h.parse::<IpAddr>().is_ok()
        || (!h.is_empty()
            && h.len() <= 253
            && h.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }))
}

fn is_number(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or(n);
    !digits.is_empty() && digits.len() <= 32 && digits.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn check(config: &crate::Config, path: &Path) -> Result<(), Error> {
    let invalid = |key: String, problem: String| Error::Invalid {
        path: path.to_owned(),
        key,
        problem,
    };
    let mut names = std::collections::HashSet::new();
    for (i, t) in config.trunks.iter().enumerate() {
        let key = |k: &str| format!("trunks[{i}].{k}");
        if t.name.is_empty()
            || t.name.len() > 64
            || !t
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(invalid(
                key("name"),
                format!("{:?}: use letters, digits or - _ .", t.name),
            ));
        }
        if !names.insert(t.name.as_str()) {
            return Err(invalid(
                key("name"),
                format!("trunk {:?} is listed twice", t.name),
            ));
        }
        match (&t.domain, &t.proxy) {
            (None, None) | (Some(_), Some(_)) => {
                return Err(invalid(
                    key("domain"),
                    "give exactly one of domain (resolved by RFC 3263) or proxy (host[:port])"
                        .into(),
                ))
            }
            (Some(d), None) if !is_host(d) => {
                return Err(invalid(key("domain"), format!("{d:?} is not a host name")))
            }
            (None, Some(p)) if !split_host_port(p).is_some_and(|(h, _)| is_host(&h)) => {
                return Err(invalid(key("proxy"), format!("{p:?} is not host[:port]")))
            }
            _ => {}
        }
        if let Some(tr) = &t.transport {
            if !matches!(tr.to_ascii_lowercase().as_str(), "udp" | "tcp" | "tls") {
                return Err(invalid(
                    key("transport"),
                    format!("{tr:?} is not \"udp\", \"tcp\" or \"tls\""),
                ));
            }
        }
        if t.register && (t.username.is_none() || t.password.is_none()) {
            return Err(invalid(
                key("username"),
                "a trunk with register = true needs username and password".into(),
            ));
        }
        if t.username.is_some() != t.password.is_some() {
            return Err(invalid(
                key("password"),
                "give both username and password, or neither".into(),
            ));
        }
        if !(30..=86_400).contains(&t.expires_secs) {
            return Err(invalid(
                key("expires_secs"),
                format!("{} is out of range 30..=86400", t.expires_secs),
            ));
        }
        for (j, s) in t.allowed_sources.iter().enumerate() {
            if SourceNet::parse(s).is_none() {
                return Err(invalid(
                    format!("trunks[{i}].allowed_sources[{j}]"),
                    format!("{s:?} is not an address or network like \"192.0.2.0/24\""),
                ));
            }
        }
        if t.calls_max == Some(0) {
            return Err(invalid(key("calls_max"), "must be at least 1".into()));
        }
        if let Some(c) = &t.caller_id {
            if !is_number(c) {
                return Err(invalid(
                    key("caller_id"),
                    format!("{c:?} is not a number like \"+4930123456\""),
                ));
            }
        }
    }
    for (i, e) in config.extensions.iter().enumerate() {
        if let Some(c) = &e.outbound_caller_id {
            if !is_number(c) {
                return Err(invalid(
                    format!("extensions[{i}].outbound_caller_id"),
                    format!("{c:?} is not a number like \"+4930123456\""),
                ));
            }
        }
    }
    let mut seen: Vec<(String, &OutboundRuleEntry)> = Vec::new();
    for (i, r) in config.outbound_rules.iter().enumerate() {
        let label = r.label(i);
        let key = |k: &str| format!("outbound_rules[{i}].{k}");
        if let Err(e) = regex::Regex::new(&r.pattern) {
            return Err(invalid(
                key("pattern"),
                format!("rule {label}: invalid pattern {:?}: {e}", r.pattern),
            ));
        }
        for (j, b) in r.blocked.iter().enumerate() {
            if let Err(e) = regex::Regex::new(b) {
                return Err(invalid(
                    format!("outbound_rules[{i}].blocked[{j}]"),
                    format!("rule {label}: invalid pattern {b:?}: {e}"),
                ));
            }
        }
        if r.trunks.is_empty() {
            return Err(invalid(
                key("trunks"),
                format!("rule {label}: name at least one trunk"),
            ));
        }
        for (j, name) in r.trunks.iter().enumerate() {
            if !config.trunks.iter().any(|t| &t.name == name) {
                return Err(invalid(
                    format!("outbound_rules[{i}].trunks[{j}]"),
                    format!("rule {label}: unknown trunk {name:?}"),
                ));
            }
        }
        // Digits, or `+` then digits (`00` stripped, `+` prepended).
        let digits = r.prepend.strip_prefix('+').unwrap_or(&r.prepend);
        if digits.len() > 32 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                key("prepend"),
                format!(
                    "rule {label}: {:?} is not digits (with an optional leading +)",
                    r.prepend
                ),
            ));
        }
        if let Some(cc) = &r.country_code {
            if !is_number(cc) || cc.starts_with('+') || cc.len() > 3 {
                return Err(invalid(
                    key("country_code"),
                    format!("rule {label}: {cc:?} is not a country code like \"49\""),
                ));
            }
        }
        if let Some(np) = &r.national_prefix {
            if r.country_code.is_none() {
                return Err(invalid(
                    key("national_prefix"),
                    format!("rule {label}: national_prefix needs country_code"),
                ));
            }
            if !is_number(np) || np.starts_with('+') {
                return Err(invalid(
                    key("national_prefix"),
                    format!("rule {label}: {np:?} is not digits"),
                ));
            }
        }
        // Two rules with the same matchers: the second could never match,
        // which is always a mistake in the file.
        let mut froms = r.from_extensions.clone();
        froms.sort();
        if let Some((other, _)) = seen.iter().find(|(_, o)| {
            let mut of = o.from_extensions.clone();
            of.sort();
            o.pattern == r.pattern && of == froms
        }) {
            return Err(invalid(
                key("pattern"),
                format!("rule {label} has the same pattern and callers as rule {other}: the second could never match"),
            ));
        }
        seen.push((label, r));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn load(extra: &str) -> Result<Config, Error> {
        Config::from_toml(extra, Path::new("t.toml"), Path::new("."))
    }

    const TRUNK: &str = "[[trunks]]\nname = \"carrier\"\ndomain = \"sip.carrier.test\"\nregister = true\nusername = \"u\"\npassword = \"p\"\nallowed_sources = [\"192.0.2.0/24\"]\n\n";

    #[test]
    fn a_trunk_and_a_rule_load() {
        let c = load(&format!(
            "{TRUNK}[[outbound_rules]]\npattern = \"^0[1-9][0-9]+$\"\ntrunks = [\"carrier\"]\ncountry_code = \"49\"\nnational_prefix = \"0\"\n\n[[outbound_rules]]\npattern = \"^00\"\nstrip = 2\nprepend = \"+\"\ntrunks = [\"carrier\"]\n"
        ))
        .unwrap();
        assert_eq!(c.trunks[0].expires_secs, 300);
        assert_eq!(c.outbound_rules[0].trunks, vec!["carrier".to_string()]);
    }

    fn err(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_key_and_the_rule() {
        let e = err(&format!(
            "{TRUNK}[[outbound_rules]]\nname = \"national\"\npattern = \"^0\"\ntrunks = [\"carrier\", \"nope\"]\n"
        ));
        assert!(
            e.contains("outbound_rules[0].trunks[1]")
                && e.contains("national")
                && e.contains("\"nope\""),
            "{e}"
        );
        let e = err(&format!(
            "{TRUNK}[[outbound_rules]]\npattern = \"^0[\"\ntrunks = [\"carrier\"]\n"
        ));
        assert!(
            e.contains("outbound_rules[0].pattern") && e.contains("invalid pattern"),
            "{e}"
        );
        let e = err(&format!(
            "{TRUNK}[[outbound_rules]]\nname = \"a\"\npattern = \"^0\"\ntrunks = [\"carrier\"]\n\n[[outbound_rules]]\nname = \"b\"\npattern = \"^0\"\ntrunks = [\"carrier\"]\n"
        ));
        assert!(
            e.contains("outbound_rules[1].pattern") && e.contains("rule b") && e.contains("rule a"),
            "{e}"
        );
        let e = err("[[trunks]]\nname = \"x\"\n");
        assert!(e.contains("trunks[0].domain"), "{e}");
        let e = err("[[trunks]]\nname = \"x\"\nproxy = \"1.2.3.4:5060\"\nregister = true\n");
        assert!(e.contains("trunks[0].username"), "{e}");
        let e = err("[[trunks]]\nname = \"x\"\nproxy = \"1.2.3.4:99999\"\n");
        assert!(e.contains("trunks[0].proxy"), "{e}");
        let e = err(
            "[[trunks]]\nname = \"x\"\nproxy = \"1.2.3.4\"\nallowed_sources = [\"1.2.3.0/33\"]\n",
        );
        assert!(e.contains("trunks[0].allowed_sources[0]"), "{e}");
        let e = err("[[extensions]]\nnumber = \"1000\"\npassword = \"secret\"\noutbound_caller_id = \"03 0\"\n");
        assert!(e.contains("extensions[0].outbound_caller_id"), "{e}");
        let e = err(&format!("{TRUNK}{TRUNK}"));
        assert!(e.contains("trunks[1].name"), "{e}");
    }

    #[test]
    fn source_networks_match_addresses() {
        let n = SourceNet::parse("192.0.2.0/24").unwrap();
        assert!(n.contains("192.0.2.77".parse().unwrap()));
        assert!(n.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        let one = SourceNet::parse("10.1.2.3").unwrap();
        assert!(one.contains("10.1.2.3".parse().unwrap()));
        assert!(!one.contains("10.1.2.4".parse().unwrap()));
        let all = SourceNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert_eq!(
            split_host_port("[::1]:5080"),
            Some(("::1".into(), Some(5080)))
        );
        assert_eq!(split_host_port("a.b"), Some(("a.b".into(), None)));
    }
}
