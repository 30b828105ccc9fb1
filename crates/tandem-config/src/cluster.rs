//! `[storage.etcd]` and `[cluster]`: where a cluster keeps its state and
//! how its nodes agree on a leader and the floating IP. Keys are
//! documented in docs/ha.md.

use crate::error::Error;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

/// `[storage.etcd]`: the etcd cluster holding a tandem cluster's state.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct EtcdSection {
    /// Client URLs of the etcd members (`http://10.0.0.1:2379`); list
    /// them all, a node moves to the next when one fails.
    pub endpoints: Vec<String>,
    /// Key prefix: several tandem clusters can share one etcd.
    pub prefix: String,
    /// How long to wait for a connection to a member, milliseconds.
    pub dial_timeout_ms: u64,
    /// How long one request may take before it counts as failed, milliseconds.
    pub request_timeout_ms: u64,
}

impl Default for EtcdSection {
    fn default() -> Self {
        EtcdSection {
            endpoints: Vec::new(),
            prefix: "/tandem/".into(),
            dial_timeout_ms: 1000,
            request_timeout_ms: 2000,
        }
    }
}

/// `[cluster]`: leadership, the floating IP, health. Used with the etcd
/// backend only.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// The node's lease time to live, seconds: how long a node that
    /// vanished without a word (machine crash, cut cable) is still
    /// counted alive. etcd grants at least its own minimum (1.5 election
    /// timeouts).
    pub lease_ttl_secs: u64,
    /// How often the lease is renewed, milliseconds.
    pub keepalive_interval_ms: u64,
    /// How much earlier than etcd a node considers its own lease gone,
    /// milliseconds: covers clock rate drift and scheduling delays. The
    /// leader drops the floating IP this long before anyone else could
    /// win the election.
    pub safety_margin_ms: u64,
    /// Whether this node may become leader.
    pub may_lead: bool,
    /// Where in-dialog requests are sent (the Record-Route address):
    /// `floating` (the floating IP, so they reach whichever node is
    /// alive) or `node` (this node's own address).
    pub record_route: RecordRoute,
    /// How often the node checks its own health, milliseconds.
    pub health_interval_ms: u64,
    /// A health probe (OPTIONS to itself, a store round trip) slower than
    /// this fails, milliseconds.
    pub health_timeout_ms: u64,
    /// Consecutive failed health checks before the node reports itself
    /// unhealthy (and a leader steps down).
    pub health_failures_max: u32,
    /// Run the guard process that withdraws the floating IP and revokes
    /// the lease when tandem dies (kill -9, crash).
    pub guard: bool,
    /// The floating IP, owned by the leader.
    pub floating_ip: Option<FloatingIpSection>,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            lease_ttl_secs: 1,
            keepalive_interval_ms: 100,
            safety_margin_ms: 200,
            may_lead: true,
            record_route: RecordRoute::Floating,
            health_interval_ms: 500,
            health_timeout_ms: 1000,
            health_failures_max: 3,
            guard: true,
            floating_ip: None,
        }
    }
}

/// Which address goes in Record-Route.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecordRoute {
    /// The floating IP (when one is configured).
    Floating,
    /// This node's own address.
    Node,
}

/// `[cluster.floating_ip]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FloatingIpSection {
    /// The address (IPv4 or IPv6).
    pub address: IpAddr,
    /// Its prefix length on the interface.
    pub prefix_len: u8,
    /// The interface it is added to (`eth0`).
    pub interface: String,
    /// Gratuitous ARP / unsolicited neighbour advertisement rounds sent on
    /// taking the address.
    #[serde(default = "default_announce_rounds")]
    pub announce_rounds: u32,
    /// Milliseconds between announcement rounds.
    #[serde(default = "default_announce_interval_ms")]
    pub announce_interval_ms: u64,
}

fn default_announce_rounds() -> u32 {
    3
}

fn default_announce_interval_ms() -> u64 {
    50
}

pub(crate) fn check(config: &crate::Config, path: &Path) -> Result<(), Error> {
    let invalid = |key: &str, problem: String| Error::Invalid {
        path: path.to_owned(),
        key: key.into(),
        problem,
    };
    let etcd = &config.storage.etcd;
    if config.storage.backend != "etcd" {
        if config.cluster.is_some() {
            return Err(invalid(
                "cluster",
                "a [cluster] needs storage.backend = \"etcd\" (the embedded store is one node's)"
                    .into(),
            ));
        }
        return Ok(());
    }
    if etcd.endpoints.is_empty() {
        return Err(invalid(
            "storage.etcd.endpoints",
            "list the etcd members' client URLs, e.g. [\"http://127.0.0.1:2379\"]".into(),
        ));
    }
    for (i, e) in etcd.endpoints.iter().enumerate() {
        if !(e.starts_with("http://") || e.starts_with("https://")) || e.len() < 10 {
            return Err(invalid(
                &format!("storage.etcd.endpoints[{i}]"),
                format!("{e:?} is not a URL like \"http://10.0.0.1:2379\""),
            ));
        }
    }
    if etcd.prefix.is_empty() || !etcd.prefix.ends_with('/') {
        return Err(invalid(
            "storage.etcd.prefix",
            format!("{:?}: use a non-empty prefix ending in '/'", etcd.prefix),
        ));
    }
    if !(10..=60_000).contains(&etcd.request_timeout_ms) {
        return Err(invalid(
            "storage.etcd.request_timeout_ms",
            format!("{} is out of range 10..=60000", etcd.request_timeout_ms),
        ));
    }
    match &config.node.name {
        None => {
            return Err(invalid(
                "node.name",
                "every node of a cluster needs a unique name".into(),
            ))
        }
        Some(n)
            if n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            return Err(invalid(
                "node.name",
                format!("{n:?}: use letters, digits, - _ ."),
            ))
        }
        Some(_) => {}
    }
    let c = config.cluster.clone().unwrap_or_default();
    if !(1..=60).contains(&c.lease_ttl_secs) {
        return Err(invalid(
            "cluster.lease_ttl_secs",
            format!("{} is out of range 1..=60", c.lease_ttl_secs),
        ));
    }
    let ttl_ms = c.lease_ttl_secs * 1000;
    if c.keepalive_interval_ms == 0 || c.keepalive_interval_ms * 2 > ttl_ms {
        return Err(invalid(
            "cluster.keepalive_interval_ms",
            format!(
                "{} must be above 0 and at most half the lease ({ttl_ms} ms)",
                c.keepalive_interval_ms
            ),
        ));
    }
    if c.safety_margin_ms + c.keepalive_interval_ms >= ttl_ms {
        return Err(invalid(
            "cluster.safety_margin_ms",
            format!(
                "{} plus the keep-alive interval must stay below the lease ({ttl_ms} ms)",
                c.safety_margin_ms
            ),
        ));
    }
    if c.health_interval_ms < 50 || c.health_timeout_ms < 10 || c.health_failures_max == 0 {
        return Err(invalid(
            "cluster.health_interval_ms",
            "need health_interval_ms >= 50, health_timeout_ms >= 10, health_failures_max >= 1"
                .into(),
        ));
    }
    if let Some(f) = &c.floating_ip {
        let max = if f.address.is_ipv4() { 32 } else { 128 };
        if f.prefix_len == 0 || f.prefix_len > max {
            return Err(invalid(
                "cluster.floating_ip.prefix_len",
                format!("{} is out of range 1..={max}", f.prefix_len),
            ));
        }
        if f.interface.is_empty() || f.interface.len() > 15 || f.interface.contains(['/', ':', ' '])
        {
            return Err(invalid(
                "cluster.floating_ip.interface",
                format!("{:?} is not an interface name", f.interface),
            ));
        }
        // Replies must leave from the address a request came to: a
        // wildcard listener would answer from the node's own address.
        for (i, l) in config.listen_addrs().iter().enumerate() {
            if l.addr.ip().is_unspecified() {
                return Err(invalid(
                    &format!("sip.listen[{i}]"),
                    format!(
                        "{l}: with a floating IP, listen on the node's own address, not a wildcard \
                         (tandem adds a listener on the floating IP for each)"
                    ),
                ));
            }
            if l.addr.ip() == f.address {
                return Err(invalid(
                    &format!("sip.listen[{i}]"),
                    format!("{l}: do not list the floating IP; tandem listens on it by itself"),
                ));
            }
        }
        if f.announce_rounds > 20 || f.announce_interval_ms > 10_000 {
            return Err(invalid(
                "cluster.floating_ip.announce_rounds",
                "at most 20 rounds, at most 10000 ms apart".into(),
            ));
        }
    }
    Ok(())
}
