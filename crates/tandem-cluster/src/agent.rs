//! The agent's state machine: lease life, leadership and its fencing
//! epoch, the floating IP, health and drain, membership changes.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Settings of the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// This node's name (unique in the cluster).
    pub node: String,
    /// The lease's time to live, as granted by the store.
    pub lease_ttl: Duration,
    /// How often the lease is renewed.
    pub keepalive_interval: Duration,
    /// How much earlier than the store a node considers its lease gone:
    /// clock drift and scheduling slack between the node and the store.
    pub safety_margin: Duration,
    /// How long to wait before asking again after a failed grant or campaign.
    pub retry_interval: Duration,
    /// Whether this node may be leader at all (a node can be configured to
    /// only ever follow).
    pub may_lead: bool,
}

impl AgentConfig {
    /// Defaults for `node`: 1 s lease renewed every 100 ms, 200 ms margin.
    pub fn new(node: &str) -> AgentConfig {
        AgentConfig {
            node: node.to_owned(),
            lease_ttl: Duration::from_secs(1),
            keepalive_interval: Duration::from_millis(100),
            safety_margin: Duration::from_millis(200),
            retry_interval: Duration::from_millis(200),
            may_lead: true,
        }
    }
}

/// Who holds the leader key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    /// The leader node.
    pub node: String,
    /// Its fencing epoch (strictly increasing across leaderships).
    pub epoch: u64,
    /// The lease the leader key is attached to: leadership lives exactly
    /// as long as this lease.
    #[serde(default)]
    pub lease: u64,
}

/// A live member, as its presence record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Node name.
    pub node: String,
    /// Whether it reports itself healthy.
    pub healthy: bool,
    /// Whether it is draining (taking no new calls, not leading).
    pub draining: bool,
}

/// What the store (through the runtime) tells the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A lease was granted; the request had been sent at `sent_at`.
    LeaseGranted {
        /// Its id.
        lease: u64,
        /// When the grant request was sent (the store started the TTL after).
        sent_at: Instant,
    },
    /// Granting a lease failed (store unreachable or without quorum).
    LeaseFailed,
    /// A keep-alive of the lease was acknowledged; it had been sent at `sent_at`.
    KeepAliveAck {
        /// The lease renewed.
        lease: u64,
        /// When the renewal was sent (the lease is alive until this + TTL).
        sent_at: Instant,
    },
    /// A keep-alive failed: the lease is unknown to the store (expired,
    /// revoked) or the store did not answer.
    KeepAliveFailed {
        /// The lease.
        lease: u64,
        /// True if the store said the lease no longer exists.
        lease_gone: bool,
    },
    /// The leader key as the store holds it now (None: no leader).
    Leader(Option<LeaderInfo>),
    /// A campaign with `lease` finished: `Ok(Some(epoch))` won, `Ok(None)`
    /// lost to someone, `Err(())` the store failed.
    CampaignResult {
        /// The lease the campaign was made with.
        lease: u64,
        /// The outcome.
        result: Result<Option<u64>, ()>,
    },
    /// The live members (presence records), after any change.
    Members(Vec<Member>),
    /// The node's own health checks (SIP loop, store latency, event-loop lag).
    Health(bool),
    /// Operator: drain this node (move leadership away, take no new calls).
    Drain,
    /// Operator: stop draining.
    Resume,
}

/// What the agent asks the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Grant a lease with this TTL.
    GrantLease {
        /// Seconds (stores count leases in whole seconds).
        ttl_secs: u64,
    },
    /// Send one keep-alive for `lease` now and report the outcome.
    KeepAlive {
        /// The lease.
        lease: u64,
    },
    /// Write the node's presence record attached to `lease`.
    PublishPresence {
        /// The lease.
        lease: u64,
        /// Healthy?
        healthy: bool,
        /// Draining?
        draining: bool,
    },
    /// Create the leader key with `lease` if absent, and report.
    Campaign {
        /// The lease.
        lease: u64,
    },
    /// Delete the leader key if it is still ours.
    Resign {
        /// Our epoch.
        epoch: u64,
    },
    /// Revoke `lease` (graceful shutdown: everything attached goes at once).
    RevokeLease {
        /// The lease.
        lease: u64,
    },
    /// Configure and announce the floating IP: we lead under `epoch`.
    TakeFloatingIp {
        /// The epoch.
        epoch: u64,
    },
    /// Remove the floating IP now.
    DropFloatingIp,
    /// Start (Some) or stop (None) the leader-only jobs (trunk
    /// registrations, singletons), fenced by the epoch.
    LeaderDuties {
        /// The epoch, or None to stop.
        epoch: Option<u64>,
    },
    /// A member left: adopt the duties it owned (its calls, its contacts).
    Adopt {
        /// The node that left.
        node: String,
    },
}

/// The node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role")]
pub enum Role {
    /// No lease yet (starting, or lost the store).
    Detached,
    /// A member, not leader.
    Follower,
    /// Asked to become leader, waiting for the answer.
    Campaigning,
    /// Leader under this epoch.
    Leader {
        /// The fencing epoch.
        epoch: u64,
    },
}

/// A step in the cluster's life, for the operator's timeline and webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum ClusterEvent {
    /// This node became leader.
    BecameLeader {
        /// Its epoch.
        epoch: u64,
    },
    /// This node stopped being leader, and why.
    SteppedDown {
        /// The epoch it held.
        epoch: u64,
        /// `lease lost`, `unhealthy`, `drain`, `superseded`, `shutdown`.
        reason: String,
    },
    /// The cluster's leader changed (seen by every node).
    LeaderChanged {
        /// The new leader, if any.
        leader: Option<LeaderInfo>,
    },
    /// A member appeared.
    NodeUp {
        /// The node.
        node: String,
    },
    /// A member disappeared (its lease expired or was revoked).
    NodeDown {
        /// The node.
        node: String,
    },
    /// This node lost its lease (store unreachable or too slow).
    LeaseLost,
}

/// A snapshot of the agent for status displays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// This node.
    pub node: String,
    /// Its role.
    pub role: Role,
    /// The leader as last seen.
    pub leader: Option<LeaderInfo>,
    /// Live members as last seen.
    pub members: Vec<Member>,
    /// Healthy?
    pub healthy: bool,
    /// Draining?
    pub draining: bool,
    /// Milliseconds of lease life left, if any.
    pub lease_left_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lease {
    id: u64,
    /// The lease is certainly alive until here (send time of the last
    /// acknowledged renewal + TTL − margin).
    valid_until: Instant,
}

/// The cluster agent of one node.
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
    role: Role,
    lease: Option<Lease>,
    grant_pending: bool,
    next_keepalive: Option<Instant>,
    retry_at: Option<Instant>,
    leader: Option<LeaderInfo>,
    leader_known: bool,
    members: BTreeMap<String, Member>,
    healthy: bool,
    draining: bool,
    commands: VecDeque<Command>,
    events: VecDeque<ClusterEvent>,
    /// Whether the floating IP is configured (as far as we asked).
    holds_ip: bool,
}

impl Agent {
    /// A new agent; it starts by asking for a lease.
    pub fn new(config: AgentConfig) -> Agent {
        let mut a = Agent {
            config,
            role: Role::Detached,
            lease: None,
            grant_pending: false,
            next_keepalive: None,
            retry_at: None,
            leader: None,
            leader_known: false,
            members: BTreeMap::new(),
            healthy: true,
            draining: false,
            commands: VecDeque::new(),
            events: VecDeque::new(),
            holds_ip: false,
        };
        a.request_lease();
        a
    }

    fn request_lease(&mut self) {
        if !self.grant_pending {
            self.grant_pending = true;
            self.commands.push_back(Command::GrantLease {
                ttl_secs: self.config.lease_ttl.as_secs().max(1),
            });
        }
    }

    /// Whether this node currently leads (and under which epoch).
    pub fn leading_epoch(&self) -> Option<u64> {
        match self.role {
            Role::Leader { epoch } => Some(epoch),
            _ => None,
        }
    }

    /// Whether the floating IP is held (as far as the agent asked).
    pub fn holds_floating_ip(&self) -> bool {
        self.holds_ip
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.config.node
    }

    fn eligible(&self) -> bool {
        self.config.may_lead && self.healthy && !self.draining && self.lease.is_some()
    }

    /// Stops leading at once: the floating IP goes first, then the duties,
    /// then (if the store is reachable) the leader key.
    fn step_down(&mut self, reason: &str, resign: bool) {
        if let Role::Leader { epoch } = self.role {
            if self.holds_ip {
                self.holds_ip = false;
                self.commands.push_back(Command::DropFloatingIp);
            }
            self.commands
                .push_back(Command::LeaderDuties { epoch: None });
            if resign {
                self.commands.push_back(Command::Resign { epoch });
            }
            self.events.push_back(ClusterEvent::SteppedDown {
                epoch,
                reason: reason.to_owned(),
            });
            self.role = if self.lease.is_some() {
                Role::Follower
            } else {
                Role::Detached
            };
        }
    }

    fn maybe_campaign(&mut self, now: Instant) {
        if self.role != Role::Follower
            || !self.eligible()
            || !self.leader_known
            || self.leader.is_some()
        {
            return;
        }
        if self.retry_at.is_some_and(|t| now < t) {
            return;
        }
        if let Some(l) = self.lease {
            self.role = Role::Campaigning;
            self.commands.push_back(Command::Campaign { lease: l.id });
        }
    }

    fn publish(&mut self) {
        if let Some(l) = self.lease {
            self.commands.push_back(Command::PublishPresence {
                lease: l.id,
                healthy: self.healthy,
                draining: self.draining,
            });
        }
    }

    /// Feeds an input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::LeaseGranted { lease, sent_at } => {
                self.grant_pending = false;
                // Counted from when the grant was asked for: the store
                // started the TTL somewhere after that.
                self.lease = Some(Lease {
                    id: lease,
                    valid_until: self.valid_from(sent_at),
                });
                self.next_keepalive = Some(now + self.config.keepalive_interval);
                if self.role == Role::Detached {
                    self.role = Role::Follower;
                }
                self.publish();
                self.maybe_campaign(now);
            }
            Input::LeaseFailed => {
                self.grant_pending = false;
                self.retry_at = Some(now + self.config.retry_interval);
            }
            Input::KeepAliveAck { lease, sent_at } => {
                if let Some(l) = &mut self.lease {
                    if l.id == lease {
                        let until = sent_at
                            + self
                                .config
                                .lease_ttl
                                .saturating_sub(self.config.safety_margin);
                        l.valid_until = l.valid_until.max(until);
                    }
                }
            }
            Input::KeepAliveFailed { lease, lease_gone } => {
                if lease_gone && self.lease.is_some_and(|l| l.id == lease) {
                    self.lose_lease();
                }
            }
            Input::Leader(info) => {
                self.leader_known = true;
                let changed = self.leader != info;
                self.leader = info.clone();
                if changed {
                    self.events.push_back(ClusterEvent::LeaderChanged {
                        leader: info.clone(),
                    });
                }
                match (&self.role, &info) {
                    // Our campaign won but its answer was lost: the watch
                    // tells us instead.
                    (Role::Campaigning, Some(l)) if l.node == self.config.node => {
                        let (epoch, lease) = (l.epoch, l.lease);
                        self.handle(
                            now,
                            Input::CampaignResult {
                                lease,
                                result: Ok(Some(epoch)),
                            },
                        );
                        return;
                    }
                    // A key in our name we do not hold (a previous run's,
                    // or a campaign we gave up on): give it back.
                    (Role::Follower | Role::Detached, Some(l)) if l.node == self.config.node => {
                        self.commands.push_back(Command::Resign { epoch: l.epoch });
                    }
                    // Someone else holds the key while we thought we led:
                    // our lease must have gone. Never keep the IP then.
                    (Role::Leader { epoch }, Some(l))
                        if l.node != self.config.node || l.epoch != *epoch =>
                    {
                        self.step_down("superseded", false);
                    }
                    (Role::Leader { .. }, None) => self.step_down("leader key gone", false),
                    _ => {}
                }
                self.maybe_campaign(now);
            }
            Input::CampaignResult { lease, result } => {
                let current = self.lease.is_some_and(|l| l.id == lease);
                if self.role != Role::Campaigning || !current {
                    // A campaign made with a lease we no longer hold: if it
                    // won, its key dies with that lease; give it back now.
                    if let Ok(Some(epoch)) = result {
                        if !current {
                            self.commands.push_back(Command::Resign { epoch });
                        }
                    }
                    return;
                }
                match result {
                    Ok(Some(epoch)) if self.lease_alive(now) && self.eligible() => {
                        self.role = Role::Leader { epoch };
                        self.leader = Some(LeaderInfo {
                            node: self.config.node.clone(),
                            epoch,
                            lease,
                        });
                        self.holds_ip = true;
                        self.commands.push_back(Command::TakeFloatingIp { epoch });
                        self.commands
                            .push_back(Command::LeaderDuties { epoch: Some(epoch) });
                        self.events.push_back(ClusterEvent::BecameLeader { epoch });
                    }
                    Ok(Some(epoch)) => {
                        // Won too late to be sure of the lease, or no longer
                        // eligible: give it back at once.
                        self.role = Role::Follower;
                        self.commands.push_back(Command::Resign { epoch });
                    }
                    Ok(None) => self.role = Role::Follower,
                    Err(()) => {
                        self.role = Role::Follower;
                        self.retry_at = Some(now + self.config.retry_interval);
                    }
                }
            }
            Input::Members(list) => {
                let new: BTreeMap<String, Member> =
                    list.into_iter().map(|m| (m.node.clone(), m)).collect();
                // Our own presence is missing or stale (a write was lost):
                // write it again.
                let me = new.get(&self.config.node);
                if self.lease.is_some()
                    && me.is_none_or(|m| m.healthy != self.healthy || m.draining != self.draining)
                {
                    self.publish();
                }
                for gone in self.members.keys().filter(|n| !new.contains_key(*n)) {
                    self.events
                        .push_back(ClusterEvent::NodeDown { node: gone.clone() });
                    if *gone != self.config.node {
                        self.commands
                            .push_back(Command::Adopt { node: gone.clone() });
                    }
                }
                for came in new.keys().filter(|n| !self.members.contains_key(*n)) {
                    self.events
                        .push_back(ClusterEvent::NodeUp { node: came.clone() });
                }
                self.members = new;
            }
            Input::Health(ok) => {
                if ok != self.healthy {
                    self.healthy = ok;
                    self.publish();
                    if !ok {
                        self.step_down("unhealthy", true);
                    }
                    self.maybe_campaign(now);
                }
            }
            Input::Drain => {
                self.draining = true;
                self.publish();
                self.step_down("drain", true);
            }
            Input::Resume => {
                self.draining = false;
                self.publish();
                self.maybe_campaign(now);
            }
        }
    }

    fn valid_from(&self, sent_at: Instant) -> Instant {
        sent_at
            + self
                .config
                .lease_ttl
                .saturating_sub(self.config.safety_margin)
    }

    fn lease_alive(&self, now: Instant) -> bool {
        self.lease.is_some_and(|l| now < l.valid_until)
    }

    fn lose_lease(&mut self) {
        self.step_down("lease lost", false);
        if self.lease.take().is_some() {
            self.events.push_back(ClusterEvent::LeaseLost);
        }
        self.role = Role::Detached;
        self.next_keepalive = None;
        self.request_lease();
    }

    /// Runs what is due at `now`: the lease's deadline, keep-alives, retries.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(l) = self.lease {
            if now >= l.valid_until {
                // Not sure the lease lives any more: stop acting on it
                // before the store could hand leadership to someone else.
                self.lose_lease();
                return;
            }
        }
        if self.next_keepalive.is_some_and(|t| now >= t) {
            // Renewals are not held back while one is unanswered: a lost
            // renewal must not delay the next (two losses in a row would
            // then cost the lease).
            if let Some(l) = self.lease {
                self.commands.push_back(Command::KeepAlive { lease: l.id });
            }
            self.next_keepalive = Some(now + self.config.keepalive_interval);
        }
        if self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            if self.lease.is_none() {
                self.request_lease();
            }
            self.maybe_campaign(now);
        }
    }

    /// When [`Agent::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.lease.map(|l| l.valid_until),
            self.next_keepalive,
            self.retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next command.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next timeline event.
    pub fn poll_event(&mut self) -> Option<ClusterEvent> {
        self.events.pop_front()
    }

    /// Graceful shutdown: drop the IP, stop duties, resign, revoke the lease.
    pub fn shutdown(&mut self) {
        self.step_down("shutdown", true);
        if let Some(l) = self.lease.take() {
            self.commands
                .push_back(Command::RevokeLease { lease: l.id });
        }
        self.role = Role::Detached;
        self.next_keepalive = None;
    }

    /// A snapshot for status displays.
    pub fn status(&self, now: Instant) -> Status {
        Status {
            node: self.config.node.clone(),
            role: self.role,
            leader: self.leader.clone(),
            members: self.members.values().cloned().collect(),
            healthy: self.healthy,
            draining: self.draining,
            lease_left_ms: self
                .lease
                .map(|l| l.valid_until.saturating_duration_since(now).as_millis() as u64),
        }
    }

    /// Names of live members.
    pub fn member_names(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // the base of virtual time in tests
    fn t0() -> Instant {
        Instant::now()
    }

    fn drain(a: &mut Agent) -> Vec<Command> {
        std::iter::from_fn(|| a.poll_command()).collect()
    }

    #[test]
    fn wins_an_empty_election_and_takes_the_ip() {
        let t = t0();
        let mut a = Agent::new(AgentConfig::new("n1"));
        assert_eq!(drain(&mut a), [Command::GrantLease { ttl_secs: 1 }]);
        a.handle(
            t,
            Input::LeaseGranted {
                lease: 7,
                sent_at: t,
            },
        );
        a.handle(t, Input::Leader(None));
        let c = drain(&mut a);
        assert!(c.contains(&Command::Campaign { lease: 7 }));
        a.handle(
            t,
            Input::CampaignResult {
                lease: 7,
                result: Ok(Some(42)),
            },
        );
        let c = drain(&mut a);
        assert_eq!(
            c,
            [
                Command::TakeFloatingIp { epoch: 42 },
                Command::LeaderDuties { epoch: Some(42) }
            ]
        );
        assert_eq!(a.leading_epoch(), Some(42));
    }

    #[test]
    fn drops_the_ip_before_the_lease_could_expire() {
        let t = t0();
        let cfg = AgentConfig::new("n1");
        let (ttl, margin) = (cfg.lease_ttl, cfg.safety_margin);
        let mut a = Agent::new(cfg);
        a.handle(
            t,
            Input::LeaseGranted {
                lease: 1,
                sent_at: t,
            },
        );
        a.handle(t, Input::Leader(None));
        a.handle(
            t,
            Input::CampaignResult {
                lease: 1,
                result: Ok(Some(5)),
            },
        );
        drain(&mut a);
        // No keep-alive is ever acknowledged (the store is unreachable).
        let mut now = t;
        while a.holds_floating_ip() {
            now = a.poll_timeout().unwrap();
            a.handle_timeout(now);
        }
        assert!(now <= t + ttl - margin, "dropped at {:?}", now - t);
        let c = drain(&mut a);
        assert!(c.contains(&Command::DropFloatingIp));
        assert!(c.contains(&Command::GrantLease { ttl_secs: 1 }));
    }

    #[test]
    fn keepalives_extend_the_lease() {
        let t = t0();
        let mut a = Agent::new(AgentConfig::new("n1"));
        a.handle(
            t,
            Input::LeaseGranted {
                lease: 1,
                sent_at: t,
            },
        );
        for i in 1..20u32 {
            let now = t + Duration::from_millis(200) * i;
            a.handle_timeout(now);
            if drain(&mut a).contains(&Command::KeepAlive { lease: 1 }) {
                a.handle(
                    now,
                    Input::KeepAliveAck {
                        lease: 1,
                        sent_at: now,
                    },
                );
            }
        }
        assert!(a.status(t + Duration::from_secs(4)).lease_left_ms.is_some());
    }

    #[test]
    fn unhealthy_leader_drops_ip_then_resigns() {
        let t = t0();
        let mut a = Agent::new(AgentConfig::new("n1"));
        a.handle(
            t,
            Input::LeaseGranted {
                lease: 1,
                sent_at: t,
            },
        );
        a.handle(t, Input::Leader(None));
        a.handle(
            t,
            Input::CampaignResult {
                lease: 1,
                result: Ok(Some(3)),
            },
        );
        drain(&mut a);
        a.handle(t, Input::Health(false));
        let c = drain(&mut a);
        let drop_at = c
            .iter()
            .position(|c| *c == Command::DropFloatingIp)
            .unwrap();
        let resign_at = c
            .iter()
            .position(|c| *c == Command::Resign { epoch: 3 })
            .unwrap();
        assert!(drop_at < resign_at);
        // And it does not campaign again while unhealthy.
        a.handle(t, Input::Leader(None));
        assert!(!drain(&mut a)
            .iter()
            .any(|c| matches!(c, Command::Campaign { .. })));
    }

    #[test]
    fn a_departed_member_is_adopted() {
        let t = t0();
        let mut a = Agent::new(AgentConfig::new("n1"));
        let m = |n: &str| Member {
            node: n.into(),
            healthy: true,
            draining: false,
        };
        a.handle(t, Input::Members(vec![m("n1"), m("n2"), m("n3")]));
        drain(&mut a);
        a.handle(t, Input::Members(vec![m("n1"), m("n3")]));
        assert_eq!(drain(&mut a), [Command::Adopt { node: "n2".into() }]);
    }
}
