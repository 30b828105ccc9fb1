//! `[dns]` and `[[webhooks]]`: how tandem finds other SIP servers by DNS
//! (RFC 3263), the authoritative zone it serves for its own domain (only
//! healthy nodes are published), and the ActionURLs called on cluster
//! events. Keys are documented in docs/dns.md.

use crate::error::Error;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

/// `[dns]`: resolution of outbound targets, and the zone served.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSection {
    /// Name servers asked for NAPTR, SRV, A and AAAA (`"10.0.0.53:53"`);
    /// empty: the system's (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// How long one DNS lookup may take, milliseconds.
    pub lookup_timeout_ms: u64,
    /// How long a target may stay silent before the next one is tried,
    /// milliseconds (shorter than Timer B/F's 32 s, so failover happens
    /// while the caller still waits).
    pub target_timeout_ms: u64,
    /// How long a target that failed (transport error, 503, timeout) is
    /// set aside, seconds: it is tried last until then.
    pub quarantine_secs: u64,
    /// `[dns.zone]`: serve the cluster's SIP domain; absent: no server.
    pub zone: Option<ZoneSection>,
}

impl Default for DnsSection {
    fn default() -> Self {
        DnsSection {
            nameservers: Vec::new(),
            lookup_timeout_ms: 2000,
            target_timeout_ms: 4000,
            quarantine_secs: 30,
            zone: None,
        }
    }
}

/// `[dns.zone]`: the authoritative zone of the cluster's SIP domain.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ZoneSection {
    /// Where the zone is served, UDP and TCP (`"10.0.0.1:53"`).
    pub listen: SocketAddr,
    /// The SIP domain, e.g. `"pbx.example.com"`.
    pub domain: String,
    /// TTL of every record and of negative answers, seconds.
    #[serde(default = "default_ttl_secs")]
    pub ttl_secs: u32,
    /// This node's SRV priority (lower is tried first; give a backup
    /// node a higher number).
    #[serde(default = "default_priority")]
    pub priority: u16,
    /// This node's SRV weight among nodes of the same priority.
    #[serde(default = "default_weight")]
    pub weight: u16,
}

fn default_ttl_secs() -> u32 {
    5
}
fn default_priority() -> u16 {
    10
}
fn default_weight() -> u16 {
    100
}

pub(crate) fn check(config: &crate::Config, path: &Path) -> Result<(), Error> {
    let invalid = |key: &str, problem: String| Error::Invalid {
        path: path.to_owned(),
        key: key.into(),
        problem,
    };
    if let Some(dns) = &config.dns {
        if !(100..=30_000).contains(&dns.lookup_timeout_ms) {
            return Err(invalid(
                "dns.lookup_timeout_ms",
                format!("{} is out of range 100..=30000", dns.lookup_timeout_ms),
            ));
        }
        if !(100..=31_000).contains(&dns.target_timeout_ms) {
            return Err(invalid(
                "dns.target_timeout_ms",
                format!(
                    "{} is out of range 100..=31000 (it must end before Timer B's 32 s)",
                    dns.target_timeout_ms
                ),
            ));
        }
        if dns.quarantine_secs > 3600 {
            return Err(invalid(
                "dns.quarantine_secs",
                format!("{} is more than an hour", dns.quarantine_secs),
            ));
        }
        if let Some(zone) = &dns.zone {
            let d = zone.domain.trim_end_matches('.');
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            if d.is_empty() || d.len() > 253 || !d.split('.').all(label_ok) {
                return Err(invalid(
                    "dns.zone.domain",
                    format!(
                        "{:?} is not a domain name like \"pbx.example.com\"",
                        zone.domain
                    ),
                ));
            }
            if !(1..=86_400).contains(&zone.ttl_secs) {
                return Err(invalid(
                    "dns.zone.ttl_secs",
                    format!("{} is out of range 1..=86400", zone.ttl_secs),
                ));
            }
            if let Some(name) = &config.node.name {
                if !label_ok(name) {
                    return Err(invalid(
                        "node.name",
                        format!(
                            "{name:?} is published as <name>.{d} by [dns.zone]: use letters, digits and '-'"
                        ),
                    ));
                }
            }
        }
    }
    for (i, w) in config.webhooks.iter().enumerate() {
        w.validate()
            .map_err(|e| invalid(&format!("webhooks[{i}]"), e.to_string()))?;
    }
    Ok(())
}
