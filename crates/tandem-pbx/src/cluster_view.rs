//! What the PBX core knows of its cluster, as the runtime's cluster agent
//! keeps it current: whether this node holds the floating IP (then it
//! sends from that address, so that responses and in-dialog requests reach
//! whichever node holds it next), whether it is draining (no new calls),
//! and the live members with their own SIP addresses (a response to a
//! transaction another live node started is relayed to that node; one for
//! a node that died is forwarded statelessly by its Via, RFC 3261 §16.7).
//!
//! Branches this node creates carry its [`node_hash`], so that any node
//! can tell whose transaction a response belongs to.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// A short, stable name of a node for branch parameters (FNV-1a, 32 bits).
pub fn node_hash(node: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in node.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// A live member of the cluster as the core needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAddr {
    /// The node's name.
    pub node: String,
    /// Its own UDP SIP address (not the floating IP).
    pub sip_udp: Option<SocketAddr>,
}

/// Members that left, remembered so that their transactions can still be
/// recognised (their hashes), up to this many.
const DEPARTED_MAX: usize = 64;

#[derive(Debug, Default)]
struct Members {
    live: Vec<(u32, MemberAddr)>,
    departed: VecDeque<u32>,
}

/// The core's view of the cluster; every shard reads it, the cluster
/// runtime writes it. A single node has the default: no floating IP, not
/// draining, no other members.
#[derive(Debug, Default)]
pub struct ClusterView {
    floating_held: AtomicBool,
    draining: AtomicBool,
    members: RwLock<Members>,
}

impl ClusterView {
    /// Whether this node holds the floating IP right now.
    pub fn floating_held(&self) -> bool {
        self.floating_held.load(Ordering::Acquire)
    }

    /// The runtime took (true) or dropped (false) the floating IP.
    pub fn set_floating_held(&self, held: bool) {
        self.floating_held.store(held, Ordering::Release);
    }

    /// Whether the node is draining: no new calls.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Starts or stops draining.
    pub fn set_draining(&self, draining: bool) {
        self.draining.store(draining, Ordering::Release);
    }

    /// Replaces the live members; those that left are remembered as
    /// departed.
    pub fn set_members(&self, live: Vec<MemberAddr>) {
        let mut m = self.members.write().unwrap_or_else(|p| p.into_inner());
        let new: Vec<(u32, MemberAddr)> =
            live.into_iter().map(|a| (node_hash(&a.node), a)).collect();
        let gone: Vec<u32> = m
            .live
            .iter()
            .filter(|(h, _)| !new.iter().any(|(n, _)| n == h))
            .map(|(h, _)| *h)
            .collect();
        for h in gone {
            m.departed.retain(|d| *d != h);
            m.departed.push_back(h);
            if m.departed.len() > DEPARTED_MAX {
                m.departed.pop_front();
            }
        }
        m.departed.retain(|d| !new.iter().any(|(n, _)| n == d));
        m.live = new;
    }

    /// The own address of the live member whose hash is `hash`.
    pub fn live_member(&self, hash: u32) -> Option<MemberAddr> {
        let m = self.members.read().unwrap_or_else(|p| p.into_inner());
        m.live
            .iter()
            .find(|(h, _)| *h == hash)
            .map(|(_, a)| a.clone())
    }

    /// Names of the live members (this node included once it is present).
    pub fn live_names(&self) -> Vec<String> {
        let m = self.members.read().unwrap_or_else(|p| p.into_inner());
        m.live.iter().map(|(_, a)| a.node.clone()).collect()
    }

    /// Hashes of members that left.
    pub fn departed(&self) -> Vec<u32> {
        let m = self.members.read().unwrap_or_else(|p| p.into_inner());
        m.departed.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(n: &str, port: u16) -> MemberAddr {
        MemberAddr {
            node: n.into(),
            sip_udp: Some(SocketAddr::from(([127, 0, 0, 1], port))),
        }
    }

    #[test]
    fn members_that_leave_are_remembered_until_they_return() {
        let v = ClusterView::default();
        v.set_members(vec![member("a", 1), member("b", 2)]);
        assert_eq!(
            v.live_member(node_hash("b"))
                .unwrap()
                .sip_udp
                .unwrap()
                .port(),
            2
        );
        v.set_members(vec![member("a", 1)]);
        assert!(v.live_member(node_hash("b")).is_none());
        assert_eq!(v.departed(), vec![node_hash("b")]);
        v.set_members(vec![member("a", 1), member("b", 3)]);
        assert!(v.departed().is_empty());
        assert_eq!(v.live_names(), vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn node_hashes_differ_and_are_stable() {
        assert_eq!(node_hash("node1"), node_hash("node1"));
        assert_ne!(node_hash("node1"), node_hash("node2"));
    }
}
