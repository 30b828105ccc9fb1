//! What the cluster keeps in etcd besides the PBX's state, under the
//! store's prefix: the leader key, one presence key per live node (both
//! attached to the node's lease, so they vanish with it), the event
//! timeline, and the operator's control keys. `tandem cluster status`
//! reads the same records.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The election key: created with the leader's lease; its create revision
/// is the leader's fencing epoch.
pub const LEADER_KEY: &str = "cluster/leader";
/// `cluster/nodes/<name>`: presence of each live node.
pub const NODES_PREFIX: &str = "cluster/nodes/";
/// `cluster/events/<unix ms, 20 digits>-<node>-<seq>`: the cluster's timeline.
pub const EVENTS_PREFIX: &str = "cluster/events/";
/// `cluster/control/<name>`: what the operator asks of a node (drain).
pub const CONTROL_PREFIX: &str = "cluster/control/";

/// How long timeline events are kept.
pub const EVENT_KEEP_MS: u64 = 7 * 24 * 3600 * 1000;

/// The leader key's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderValue {
    /// The leader's name.
    pub node: String,
}

/// The last health check of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// OPTIONS to itself over UDP, round trip in ms (None: failed or no UDP).
    pub sip_ms: Option<u64>,
    /// A read from etcd, round trip in ms (None: failed).
    pub store_ms: Option<u64>,
    /// Every transaction shard answered a ping, slowest in ms (None: one did not).
    pub shards_ms: Option<u64>,
    /// How late the health timer fired, ms (event-loop lag).
    pub loop_lag_ms: u64,
    /// Consecutive failed checks.
    pub failures: u32,
}

/// A node's presence record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// Node name.
    pub node: String,
    /// Whether its health checks pass.
    pub healthy: bool,
    /// Whether it is draining.
    pub draining: bool,
    /// `leader`, `follower`, `campaigning` or `detached`.
    #[serde(default)]
    pub role: String,
    /// Its epoch, when leader.
    #[serde(default)]
    pub epoch: Option<u64>,
    /// Whether it holds the floating IP (as it knows).
    #[serde(default)]
    pub holds_floating_ip: bool,
    /// Its listeners (`udp:10.0.0.1:5060` ...), the floating IP's excepted.
    #[serde(default)]
    pub sip: Vec<String>,
    /// Its own UDP SIP address, where other nodes relay responses and ACKs.
    #[serde(default)]
    pub sip_udp: Option<SocketAddr>,
    /// The store revision its replica has applied.
    #[serde(default)]
    pub applied_rev: u64,
    /// When it started, Unix ms.
    #[serde(default)]
    pub started_ms: u64,
    /// When this record was written, Unix ms.
    #[serde(default)]
    pub updated_ms: u64,
    /// tandem's version.
    #[serde(default)]
    pub version: String,
    /// Its last health check.
    #[serde(default)]
    pub health: HealthReport,
    /// When `healthy` or `draining` last changed (or the node started),
    /// Unix ms: since when it is in or out of the DNS zone.
    #[serde(default)]
    pub state_since_ms: u64,
    /// Its SRV priority in the DNS zone (`[dns.zone] priority`).
    #[serde(default = "default_srv_priority")]
    pub srv_priority: u16,
    /// Its SRV weight in the DNS zone (`[dns.zone] weight`).
    #[serde(default = "default_srv_weight")]
    pub srv_weight: u16,
}

fn default_srv_priority() -> u16 {
    10
}

fn default_srv_weight() -> u16 {
    100
}

impl Presence {
    /// The node as the DNS zone sees it: served while healthy and not
    /// draining.
    pub fn zone_member(&self) -> crate::zone::ZoneMember {
        crate::zone::ZoneMember {
            node: self.node.clone(),
            listen: self.sip.clone(),
            serving: self.healthy && !self.draining,
            priority: self.srv_priority,
            weight: self.srv_weight,
        }
    }
}

/// One step of the cluster's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// When, Unix ms.
    pub at_ms: u64,
    /// The node that saw it.
    pub node: String,
    /// What happened (`became_leader`, `stepped_down`, `node_down` ...).
    pub event: String,
    /// The details, as the agent reports them, and timings.
    pub detail: serde_json::Value,
}

/// The key of an event: time first (the timeline sorts by key), then
/// the node and its own sequence number (several events in one ms).
pub fn event_key(at_ms: u64, node: &str, seq: u64) -> String {
    format!("{EVENTS_PREFIX}{at_ms:020}-{node}-{seq}")
}

/// What the operator asks of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Move leadership away and take no new calls.
    pub drain: bool,
}

/// The write that asks `node` to drain (or resume): what `tandem cluster
/// drain` and the operations API's drain action commit.
pub fn control_op(node: &str, drain: bool) -> tandem_store::Op {
    tandem_store::Op::Put {
        key: format!("{CONTROL_PREFIX}{node}"),
        value: serde_json::to_vec(&Control { drain }).unwrap_or_default(),
        expires_at_ms: None,
    }
}
