//! The cluster event a webhook carries: its name, the node that reports
//! it, when, under which fencing epoch, and event-specific detail. A POST
//! sends it as its JSON body; a GET spreads its fields over the URL.

use serde::{Deserialize, Serialize};

/// The events tandem fires, which `events` in a webhook's configuration
/// may name.
pub const EVENTS: &[&str] = &[
    LEADER_CHANGED,
    BECAME_LEADER,
    NODE_DOWN,
    NODE_UP,
    FAILOVER_STARTED,
    FAILOVER_FINISHED,
];

/// [`EVENTS`] as one comma-separated string, for error messages.
pub(crate) const EVENTS_LIST: &str =
    "leader_changed, became_leader, node_down, node_up, failover_started, failover_finished";

/// The cluster's leader is now another node (seen by any node).
pub const LEADER_CHANGED: &str = "leader_changed";
/// The reporting node has become the leader (and holds the floating IP).
pub const BECAME_LEADER: &str = "became_leader";
/// A member stopped renewing its presence.
pub const NODE_DOWN: &str = "node_down";
/// A member (re)appeared.
pub const NODE_UP: &str = "node_up";
/// A failover began: the old leader's lease is gone, no new leader yet.
pub const FAILOVER_STARTED: &str = "failover_started";
/// A failover ended: a new leader holds the floating IP.
pub const FAILOVER_FINISHED: &str = "failover_finished";

/// One cluster event, as delivered to a webhook.
///
/// `detail` is free-form; the GET template reads `leader` from it, and
/// `floating_ip` (else `address`) for `{ip}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The event's name, one of [`EVENTS`].
    pub event: String,
    /// The node that reports it.
    pub node: String,
    /// When it happened, Unix milliseconds (the reporting node's clock).
    pub at_ms: u64,
    /// The fencing epoch it happened under, when there is one.
    pub epoch: Option<u64>,
    /// Event-specific fields (`leader`, `floating_ip`, `address`...).
    pub detail: serde_json::Value,
    /// The cluster's name.
    pub cluster: String,
}

impl WebhookEvent {
    /// The detail field `key` as text: strings as they are, numbers and
    /// booleans printed; absent, null, arrays and objects give `None`.
    pub fn detail_text(&self, key: &str) -> Option<String> {
        match self.detail.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The address a DNS-moving webhook should point at: `floating_ip`
    /// from the detail, else `address`.
    pub fn ip(&self) -> Option<String> {
        self.detail_text("floating_ip")
            .or_else(|| self.detail_text("address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail: serde_json::Value) -> WebhookEvent {
        WebhookEvent {
            event: BECAME_LEADER.into(),
            node: "pbx-a".into(),
            at_ms: 1,
            epoch: Some(7),
            detail,
            cluster: "c".into(),
        }
    }

    #[test]
    fn events_list_matches_constant() {
        assert_eq!(EVENTS.join(", "), EVENTS_LIST);
    }

    #[test]
    fn detail_text_prints_scalars_only() {
        let e = event(json!({"s": "x", "n": 3, "b": true, "o": {}, "z": null}));
        assert_eq!(e.detail_text("s").as_deref(), Some("x"));
        assert_eq!(e.detail_text("n").as_deref(), Some("3"));
        assert_eq!(e.detail_text("b").as_deref(), Some("true"));
        assert_eq!(e.detail_text("o"), None);
        assert_eq!(e.detail_text("z"), None);
        assert_eq!(e.detail_text("missing"), None);
    }

    #[test]
    fn ip_prefers_floating_ip_then_address() {
        let both = event(json!({"floating_ip": "192.0.2.10", "address": "192.0.2.1"}));
        assert_eq!(both.ip().as_deref(), Some("192.0.2.10"));
        let addr = event(json!({"address": "192.0.2.1"}));
        assert_eq!(addr.ip().as_deref(), Some("192.0.2.1"));
        assert_eq!(event(json!(null)).ip(), None);
    }
}
