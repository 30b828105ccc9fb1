//! ActionURLs on cluster events (Vodia's "ActionURL" that moves DNS when
//! the standby takes over): which node reports which event, so that each
//! event of the cluster reaches the webhooks once, not once per node.
//!
//! - `became_leader`, `failover_started`, `failover_finished`: the node
//!   they happened to (the new leader), which alone knows their timings.
//! - `leader_changed`: the new leader; when the cluster has none, the
//!   reporter below.
//! - `node_up`, `node_down`: the reporter, the live member with the
//!   smallest name in this node's view. Every survivor sees the same
//!   members once a change has settled, so exactly one reports.

use super::records::Presence;
use serde_json::Value;

/// Whether this node (`me`) reports `event` to the webhooks.
pub(crate) fn reports(event: &str, detail: &Value, me: &str, members: &[Presence]) -> bool {
    let reporter = || {
        members
            .iter()
            .map(|p| p.node.as_str())
            .chain(std::iter::once(me))
            .min()
            == Some(me)
    };
    match event {
        "became_leader" | "failover_started" | "failover_finished" => true,
        "leader_changed" => match detail.get("leader").and_then(|l| l.get("node")) {
            Some(Value::String(leader)) => leader == me,
            _ => reporter(),
        },
        "node_up" | "node_down" => {
            // A node does not report itself coming up: it may be the only
            // one that sees itself yet.
            reporter() && detail.get("node").and_then(Value::as_str) != Some(me)
        }
        _ => false,
    }
}

/// Fields a GET template may use: `leader` and `floating_ip` flattened
/// from the agent's detail.
pub(crate) fn enrich(detail: &mut Value, floating_ip: Option<std::net::IpAddr>) {
    let Value::Object(map) = detail else { return };
    if let Some(Value::Object(l)) = map.get("leader") {
        if let Some(node) = l.get("node").cloned() {
            if let Some(epoch) = l.get("epoch").cloned() {
                map.insert("leader_epoch".into(), epoch);
            }
            map.insert("leader".into(), node);
        }
    }
    if let Some(ip) = floating_ip {
        map.entry("floating_ip")
            .or_insert_with(|| Value::String(ip.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(node: &str) -> Presence {
        Presence {
            node: node.into(),
            healthy: true,
            draining: false,
            role: String::new(),
            epoch: None,
            holds_floating_ip: false,
            sip: Vec::new(),
            sip_udp: None,
            applied_rev: 0,
            started_ms: 0,
            updated_ms: 0,
            version: String::new(),
            health: Default::default(),
            state_since_ms: 0,
            srv_priority: 10,
            srv_weight: 100,
        }
    }

    #[test]
    fn each_event_has_one_reporter() {
        let members = [member("b"), member("c")];
        let down = json!({"event": "node_down", "node": "a"});
        let reporters: Vec<&str> = ["b", "c"]
            .into_iter()
            .filter(|me| reports("node_down", &down, me, &members))
            .collect();
        assert_eq!(reporters, ["b"]);
        let changed =
            json!({"event": "leader_changed", "leader": {"node": "c", "epoch": 7, "lease": 1}});
        let reporters: Vec<&str> = ["b", "c"]
            .into_iter()
            .filter(|me| reports("leader_changed", &changed, me, &members))
            .collect();
        assert_eq!(reporters, ["c"]);
        let none = json!({"event": "leader_changed", "leader": null});
        assert!(reports("leader_changed", &none, "b", &members));
        assert!(!reports("leader_changed", &none, "c", &members));
        assert!(reports("became_leader", &json!({}), "c", &members));
        assert!(!reports("stepped_down", &json!({}), "b", &members));
        // A node coming up does not announce itself.
        let up = json!({"event": "node_up", "node": "b"});
        assert!(!reports("node_up", &up, "b", &members));
    }

    #[test]
    fn templates_get_flat_fields() {
        let mut d = json!({"event": "leader_changed", "leader": {"node": "c", "epoch": 7}});
        enrich(&mut d, Some("198.18.0.100".parse().unwrap()));
        assert_eq!(d["leader"], "c");
        assert_eq!(d["leader_epoch"], 7);
        assert_eq!(d["floating_ip"], "198.18.0.100");
    }
}
