//! The cluster as an operator sees it: leader and epoch, floating-IP
//! holders, each node's presence with its replication lag, and the latest
//! events of the timeline, read from the `cluster/` records in one
//! snapshot. `tandem cluster status` prints it; the operations API serves
//! it as is.

use super::records::{EventRecord, LeaderValue, Presence, EVENTS_PREFIX, LEADER_KEY, NODES_PREFIX};
use serde::Serialize;
use std::net::IpAddr;
use tandem_store::{Snapshot, Store};

/// The leader and its fencing epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderReport {
    /// The leader's name.
    pub node: String,
    /// Its epoch (the leader key's create revision).
    pub epoch: u64,
}

/// One live node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    /// Its presence record.
    #[serde(flatten)]
    pub presence: Presence,
    /// Revisions its replica is behind the store's head.
    pub replication_lag_revs: u64,
}

/// Everything `tandem cluster status --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterReport {
    /// The store revision the report was read at.
    pub revision: u64,
    /// The leader, if one is elected.
    pub leader: Option<LeaderReport>,
    /// The configured floating IP.
    pub floating_ip: Option<String>,
    /// The nodes that say they hold it (one, normally).
    pub floating_ip_holders: Vec<String>,
    /// The live nodes.
    pub nodes: Vec<NodeReport>,
    /// The latest events, oldest first.
    pub events: Vec<EventRecord>,
}

/// Builds the report from a snapshot of `cluster/`, keeping the latest
/// `events_max` events.
pub fn build(snap: &Snapshot, floating_ip: Option<IpAddr>, events_max: usize) -> ClusterReport {
    let head = snap.rev;
    let leader = snap
        .records
        .iter()
        .find(|r| r.key == LEADER_KEY)
        .and_then(|r| {
            let l: LeaderValue = serde_json::from_slice(&r.value).ok()?;
            Some(LeaderReport {
                node: l.node,
                epoch: r.rev,
            })
        });
    let nodes: Vec<NodeReport> = snap
        .records
        .iter()
        .filter(|r| r.key.starts_with(NODES_PREFIX))
        .filter_map(|r| serde_json::from_slice::<Presence>(&r.value).ok())
        .map(|p| NodeReport {
            replication_lag_revs: head.saturating_sub(p.applied_rev),
            presence: p,
        })
        .collect();
    let mut events: Vec<EventRecord> = snap
        .records
        .iter()
        .filter(|r| r.key.starts_with(EVENTS_PREFIX))
        .filter_map(|r| serde_json::from_slice(&r.value).ok())
        .collect();
    events.sort_by_key(|e| e.at_ms);
    let skip = events.len().saturating_sub(events_max);
    events.drain(..skip);
    let floating_ip_holders = nodes
        .iter()
        .filter(|n| n.presence.holds_floating_ip)
        .map(|n| n.presence.node.clone())
        .collect();
    ClusterReport {
        revision: head,
        leader,
        floating_ip: floating_ip.map(|ip| ip.to_string()),
        floating_ip_holders,
        nodes,
        events,
    }
}

/// Reads `cluster/` from the store and builds the report.
pub async fn read(
    store: &dyn Store,
    floating_ip: Option<IpAddr>,
    events_max: usize,
) -> Result<ClusterReport, tandem_store::Error> {
    let snap = store.snapshot("cluster/").await?;
    Ok(build(&snap, floating_ip, events_max))
}

/// The floating IP a configuration names, if any.
pub fn configured_floating_ip(config: &tandem_config::Config) -> Option<IpAddr> {
    config
        .cluster
        .as_ref()
        .and_then(|c| c.floating_ip.as_ref())
        .map(|f| f.address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_store::Record;

    fn rec(key: &str, rev: u64, value: serde_json::Value) -> Record {
        Record {
            key: key.into(),
            value: serde_json::to_vec(&value).unwrap_or_default(),
            rev,
            expires_at_ms: None,
        }
    }

    #[test]
    fn reports_leader_lag_holders_and_latest_events() {
        let snap = Snapshot {
            rev: 50,
            records: vec![
                rec(LEADER_KEY, 7, serde_json::json!({"node": "a"})),
                rec(
                    "cluster/nodes/a",
                    40,
                    serde_json::json!({"node": "a", "healthy": true, "draining": false,
                        "holds_floating_ip": true, "applied_rev": 48}),
                ),
                rec(
                    "cluster/nodes/b",
                    41,
                    serde_json::json!({"node": "b", "healthy": true, "draining": false, "applied_rev": 50}),
                ),
                rec(
                    "cluster/events/1",
                    3,
                    serde_json::json!({"at_ms": 2, "node": "a", "event": "became_leader", "detail": {}}),
                ),
                rec(
                    "cluster/events/0",
                    2,
                    serde_json::json!({"at_ms": 1, "node": "b", "event": "node_down", "detail": {}}),
                ),
            ],
        };
        let r = build(&snap, "10.0.0.9".parse().ok(), 1);
        assert_eq!(
            r.leader,
            Some(LeaderReport {
                node: "a".into(),
                epoch: 7
            })
        );
        assert_eq!(r.floating_ip_holders, vec!["a".to_string()]);
        assert_eq!(r.nodes[0].replication_lag_revs, 2);
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].event, "became_leader");
        let v = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(v["nodes"][1]["replication_lag_revs"], 0);
        assert_eq!(v["nodes"][0]["node"], "a");
        assert_eq!(v["leader"]["epoch"], 7);
    }
}
