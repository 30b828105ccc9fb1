//! A fake store with the etcd semantics the cluster relies on: leases with
//! a TTL renewed by keep-alives and expired by a lessor that checks in
//! rounds (etcd checks every 500 ms), a leader key created only if absent
//! whose create revision is the epoch, presence keys attached to leases,
//! the calls created (with the node that set each up), and one revision counter.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tandem_cluster::{LeaderInfo, Member};

#[derive(Debug, Clone)]
struct Lease {
    ttl: Duration,
    expires_at: Instant,
}

/// What changed, for watchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watched {
    Leader(Option<LeaderInfo>),
    Members(Vec<Member>),
}

#[derive(Debug, Default)]
pub(crate) struct FakeEtcd {
    rev: u64,
    next_lease: u64,
    leases: BTreeMap<u64, Lease>,
    leader: Option<(LeaderInfo, u64)>,
    presence: BTreeMap<String, (Member, u64)>,
    /// Duty records: call id -> owner node.
    pub(crate) owners: BTreeMap<String, String>,
    /// Acknowledged writes (registrations): key -> revision.
    pub(crate) writes: BTreeMap<String, u64>,
    /// The store refuses everything until then (leader election inside etcd).
    pub(crate) down_until: Option<Instant>,
    /// Changes since the last drain.
    pub(crate) changes: Vec<Watched>,
}

impl FakeEtcd {
    pub(crate) fn available(&self, now: Instant) -> bool {
        self.down_until.is_none_or(|t| now >= t)
    }

    fn bump(&mut self) -> u64 {
        self.rev += 1;
        self.rev
    }

    pub(crate) fn grant(&mut self, now: Instant, ttl: Duration) -> u64 {
        self.next_lease += 1;
        self.leases.insert(
            self.next_lease,
            Lease {
                ttl,
                expires_at: now + ttl,
            },
        );
        self.next_lease
    }

    /// Renews a lease; false if it no longer exists.
    pub(crate) fn keepalive(&mut self, now: Instant, lease: u64) -> bool {
        match self.leases.get_mut(&lease) {
            Some(l) => {
                l.expires_at = now + l.ttl;
                true
            }
            None => false,
        }
    }

    pub(crate) fn revoke(&mut self, lease: u64) {
        if self.leases.remove(&lease).is_some() {
            self.drop_attached(lease);
        }
    }

    fn drop_attached(&mut self, lease: u64) {
        if self.leader.as_ref().is_some_and(|(_, l)| *l == lease) {
            self.leader = None;
            self.bump();
            self.changes.push(Watched::Leader(None));
        }
        let before = self.presence.len();
        self.presence.retain(|_, (_, l)| *l != lease);
        if self.presence.len() != before {
            self.bump();
            self.changes.push(Watched::Members(self.members()));
        }
    }

    /// The lessor's round: every lease past its expiry goes, with its keys.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<u64> {
        let dead: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, l)| l.expires_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in &dead {
            self.leases.remove(id);
            self.drop_attached(*id);
        }
        dead
    }

    /// Creates the leader key if absent: returns the epoch if we won.
    pub(crate) fn campaign(&mut self, node: &str, lease: u64) -> Option<u64> {
        if self.leader.is_some() || !self.leases.contains_key(&lease) {
            return None;
        }
        let epoch = self.bump();
        let info = LeaderInfo {
            node: node.to_owned(),
            epoch,
            lease,
        };
        self.leader = Some((info.clone(), lease));
        self.changes.push(Watched::Leader(Some(info)));
        Some(epoch)
    }

    pub(crate) fn resign(&mut self, epoch: u64) {
        if self.leader.as_ref().is_some_and(|(l, _)| l.epoch == epoch) {
            self.leader = None;
            self.bump();
            self.changes.push(Watched::Leader(None));
        }
    }

    pub(crate) fn publish(&mut self, member: Member, lease: u64) {
        if !self.leases.contains_key(&lease) {
            return;
        }
        let changed = self
            .presence
            .get(&member.node)
            .is_none_or(|(m, l)| *m != member || *l != lease);
        if changed {
            self.presence.insert(member.node.clone(), (member, lease));
            self.bump();
            self.changes.push(Watched::Members(self.members()));
        }
    }

    /// The lease a node's presence record is attached to (what its guard
    /// was told).
    pub(crate) fn lease_of(&self, node: &str) -> Option<u64> {
        self.presence.get(node).map(|(_, l)| *l)
    }

    pub(crate) fn leader(&self) -> Option<LeaderInfo> {
        self.leader.as_ref().map(|(l, _)| l.clone())
    }

    pub(crate) fn members(&self) -> Vec<Member> {
        self.presence.values().map(|(m, _)| m.clone()).collect()
    }

    pub(crate) fn write(&mut self, key: &str) -> u64 {
        let rev = self.bump();
        self.writes.insert(key.to_owned(), rev);
        rev
    }
}
