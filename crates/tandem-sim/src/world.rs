//! The simulated world: nodes (agent, kernel address table, guard), the
//! fake store, the network between them, the clock, the fault schedule and
//! the invariant checks.

use crate::store::{FakeEtcd, Watched};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};
use tandem_cluster::{owner_of, Agent, AgentConfig, Command, Input, Member};

/// How a run goes.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed: the same seed replays the same run.
    pub seed: u64,
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Virtual time with faults.
    pub duration: Duration,
    /// Faults injected during `duration`.
    pub faults: usize,
    /// One-way latency between a node and the store, ms (min, max).
    pub latency_ms: (u64, u64),
    /// Probability that one message is lost.
    pub loss: f64,
    /// Keep the event trace (for replaying a failure by hand).
    pub trace: bool,
}

impl SimConfig {
    /// Three nodes, 60 s of virtual time, eight faults.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            nodes: 3,
            duration: Duration::from_secs(60),
            faults: 8,
            latency_ms: (1, 5),
            loss: 0.01,
            trace: false,
        }
    }
}

/// An invariant broken during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Virtual time since the start.
    pub at: Duration,
    /// What was wrong.
    pub what: String,
}

/// What a run saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Invariants broken (empty for a good run).
    pub violations: Vec<Violation>,
    /// Most nodes holding the floating IP at once (kernel view).
    pub max_ip_holders: usize,
    /// Time from each crash of the IP holder to the next holder.
    pub takeovers: Vec<(String, Duration)>,
    /// The takeovers during which no other fault was active (no partition,
    /// store outage, latency spike or other crash): the ones the goals
    /// (median < 1 s, never > 2 s) are about.
    pub clean_takeovers: Vec<(String, Duration)>,
    /// Leaderships (epochs) seen.
    pub epochs: usize,
    /// Registrations acknowledged to phones.
    pub registrations_acked: usize,
    /// Acknowledged registrations missing from the store at the end.
    pub registrations_lost: usize,
    /// Calls (INVITEs) created.
    pub calls: usize,
    /// Calls whose final response reached the caller: through the node
    /// holding the floating IP when the callee answered, or on one of the
    /// callee's retransmissions (RFC 3261 §13.3.1.4: for 32 s).
    pub calls_answered: usize,
    /// Calls whose duties did not have exactly one live owner at the end
    /// (each node computes ownership from its own view of the members).
    pub calls_without_one_owner: usize,
    /// Most live nodes that claimed one call's duties at once during the
    /// faults (2 is possible while views differ; the CDR's end mark makes
    /// the write exactly-once then).
    pub max_duty_claimants: usize,
    /// The event trace, if asked for.
    pub trace: Vec<String>,
}

#[derive(Debug, Clone)]
enum Req {
    Grant { sent_at: Instant },
    KeepAlive { lease: u64, sent_at: Instant },
    Campaign { lease: u64 },
    Resign { epoch: u64 },
    Revoke { lease: u64 },
    Publish { member: Member, lease: u64 },
    Register { key: String },
    CreateCall { call: String },
}

#[derive(Debug, Clone)]
enum Ev {
    Wake {
        node: usize,
        inc: u32,
    },
    ToStore {
        node: usize,
        inc: u32,
        id: u64,
        req: Req,
    },
    Reply {
        node: usize,
        inc: u32,
        id: u64,
        input: Input,
    },
    RegisterAck {
        node: usize,
        inc: u32,
        id: u64,
        key: String,
    },
    Timeout {
        node: usize,
        inc: u32,
        id: u64,
    },
    Watch {
        node: usize,
        inc: u32,
        what: Watched,
    },
    Lessor,
    Fault,
    Restart {
        node: usize,
    },
    Heal {
        node: usize,
    },
    /// The runtime re-reads the members (after writing presence).
    Resync {
        node: usize,
    },
    /// The end of the faulty period: everything is repaired.
    HealAll,
    /// A latency spike ends.
    LatencyBack,
    Traffic,
    /// The callee answers `call` (or retransmits its 2xx, `tries` so far).
    Answer {
        call: String,
        tries: u32,
        waited: Duration,
    },
}

#[derive(Debug)]
struct Node {
    name: String,
    agent: Option<Agent>,
    inc: u32,
    /// The floating IP is configured in this machine's kernel.
    ip: bool,
    /// The machine is up (a crashed machine answers nothing, holds nothing).
    machine_up: bool,
    partitioned_until: Option<Instant>,
    /// Requests in flight: id -> what to tell the agent if no answer comes.
    pending: HashMap<u64, Input>,
    wake_at: Option<Instant>,
    /// A watch stream delivers in order: nothing arrives before this.
    watch_tail: Instant,
}

struct World {
    cfg: SimConfig,
    t0: Instant,
    now: Instant,
    rng: StdRng,
    seq: u64,
    next_id: u64,
    queue: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    events: Vec<Option<Ev>>,
    store: FakeEtcd,
    nodes: Vec<Node>,
    report: Report,
    epoch_holders: HashMap<u64, String>,
    crash_of_holder: Option<(String, Instant)>,
    /// Whether another node was down or cut off when the holder crashed:
    /// then the takeover waits for it, and is not a clean one.
    others_down_at_crash: bool,
    acked: HashSet<String>,
    calls: usize,
    request_timeout: Duration,
    base_latency: (u64, u64),
    tick: u64,
    /// The last instant any fault other than the crash being measured was
    /// active, and the first instant of the next one.
    disturbed_until: Option<Instant>,
    disturbed_from: Option<Instant>,
}

#[allow(clippy::disallowed_methods)] // the base of virtual time: only differences matter
fn base_instant() -> Instant {
    Instant::now()
}

/// Runs one simulation.
pub fn run(cfg: SimConfig) -> Report {
    let t0 = base_instant();
    let mut w = World {
        rng: StdRng::seed_from_u64(cfg.seed),
        report: Report {
            seed: cfg.seed,
            ..Report::default()
        },
        t0,
        now: t0,
        seq: 0,
        next_id: 1,
        queue: BinaryHeap::new(),
        events: Vec::new(),
        store: FakeEtcd::default(),
        nodes: Vec::new(),
        epoch_holders: HashMap::new(),
        crash_of_holder: None,
        others_down_at_crash: false,
        acked: HashSet::new(),
        calls: 0,
        request_timeout: Duration::from_millis(300),
        base_latency: cfg.latency_ms,
        tick: 0,
        disturbed_until: None,
        disturbed_from: None,
        cfg,
    };
    for i in 0..w.cfg.nodes {
        let name = format!("n{}", i + 1);
        w.nodes.push(Node {
            name,
            agent: None,
            inc: 0,
            ip: false,
            machine_up: true,
            partitioned_until: None,
            pending: HashMap::new(),
            wake_at: None,
            watch_tail: t0,
        });
        w.start_node(i);
    }
    w.at(t0 + Duration::from_millis(500), Ev::Lessor);
    for _ in 0..w.cfg.faults {
        let when = w
            .rng
            .random_range(3_000..w.cfg.duration.as_millis() as u64 - 1_000);
        w.at(t0 + Duration::from_millis(when), Ev::Fault);
    }
    w.at(t0 + Duration::from_millis(1000), Ev::Traffic);
    let heal = t0 + w.cfg.duration;
    w.at(heal, Ev::HealAll);
    let end = t0 + w.cfg.duration + Duration::from_secs(15);
    while let Some(Reverse((at, _, idx))) = w.queue.pop() {
        if at > end {
            break;
        }
        w.now = at;
        let Some(ev) = w.events[idx].take() else {
            continue;
        };
        w.step(ev);
        w.check();
    }
    w.finish();
    w.report
}

impl World {
    fn at(&mut self, when: Instant, ev: Ev) {
        self.seq += 1;
        self.events.push(Some(ev));
        self.queue
            .push(Reverse((when, self.seq, self.events.len() - 1)));
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    fn log(&mut self, line: String) {
        if self.cfg.trace {
            let at = self.elapsed();
            self.report
                .trace
                .push(format!("{:>9.3} {line}", at.as_secs_f64()));
        }
    }

    fn violation(&mut self, what: String) {
        let at = self.elapsed();
        self.log(format!("VIOLATION {what}"));
        self.report.violations.push(Violation { at, what });
    }

    fn latency(&mut self) -> Duration {
        let (lo, hi) = self.cfg.latency_ms;
        Duration::from_micros(self.rng.random_range(lo * 1000..=hi * 1000))
    }

    fn reachable(&self, node: usize) -> bool {
        let n = &self.nodes[node];
        n.machine_up && n.partitioned_until.is_none_or(|t| self.now >= t)
    }

    fn lost(&mut self) -> bool {
        self.rng.random_bool(self.cfg.loss)
    }

    fn start_node(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.inc += 1;
        n.machine_up = true;
        n.pending.clear();
        n.wake_at = None;
        // On start the runtime withdraws a floating IP a previous run left.
        n.ip = false;
        let cfg = AgentConfig::new(&n.name);
        n.agent = Some(Agent::new(cfg));
        let name = n.name.clone();
        self.log(format!("{name} starts"));
        self.drive(i);
        // The runtime reads the leader key and members when it starts.
        let (leader, members) = (self.store.leader(), self.store.members());
        self.watch(i, Watched::Leader(leader));
        self.watch(i, Watched::Members(members));
    }

    /// Delivers a watch event to node `i`, in order after the previous ones.
    fn watch(&mut self, i: usize, what: Watched) {
        let inc = self.nodes[i].inc;
        let l = self.latency();
        let at = (self.now + l).max(self.nodes[i].watch_tail);
        self.nodes[i].watch_tail = at;
        self.at(at, Ev::Watch { node: i, inc, what });
    }

    /// The nodes that consider themselves the owner of `call`'s duties:
    /// the rendezvous winner among the live members each one sees.
    fn duty_claimants(&self, call: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].machine_up)
            .filter(|&i| {
                let Some(agent) = self.nodes[i].agent.as_ref() else {
                    return false;
                };
                let name = self.nodes[i].name.as_str();
                let members: Vec<&str> = agent.member_names().collect();
                members.contains(&name) && owner_of(call, members.iter().copied()) == Some(name)
            })
            .collect()
    }

    /// Carries out what the agent asked for, and schedules its next wake-up.
    fn drive(&mut self, i: usize) {
        while let Some(cmd) = self.nodes[i].agent.as_mut().and_then(Agent::poll_command) {
            self.command(i, cmd);
        }
        if let Some(agent) = &self.nodes[i].agent {
            let at = agent.poll_timeout();
            if at.is_some() && at != self.nodes[i].wake_at {
                self.nodes[i].wake_at = at;
                let inc = self.nodes[i].inc;
                if let Some(at) = at {
                    self.at(at.max(self.now), Ev::Wake { node: i, inc });
                }
            }
        }
    }

    fn send(&mut self, i: usize, req: Req, on_failure: Option<Input>) {
        let id = self.next_id;
        self.next_id += 1;
        let inc = self.nodes[i].inc;
        if let Some(f) = on_failure {
            self.nodes[i].pending.insert(id, f);
            let t = self.now + self.request_timeout;
            self.at(t, Ev::Timeout { node: i, inc, id });
        }
        if !self.reachable(i) || self.lost() {
            return;
        }
        let l = self.latency();
        self.at(
            self.now + l,
            Ev::ToStore {
                node: i,
                inc,
                id,
                req,
            },
        );
    }

    fn command(&mut self, i: usize, cmd: Command) {
        let name = self.nodes[i].name.clone();
        match cmd {
            Command::GrantLease { .. } => {
                let now = self.now;
                self.send(i, Req::Grant { sent_at: now }, Some(Input::LeaseFailed))
            }
            Command::KeepAlive { lease } => {
                let now = self.now;
                self.send(
                    i,
                    Req::KeepAlive {
                        lease,
                        sent_at: now,
                    },
                    Some(Input::KeepAliveFailed {
                        lease,
                        lease_gone: false,
                    }),
                )
            }
            Command::PublishPresence {
                lease,
                healthy,
                draining,
            } => {
                self.send(
                    i,
                    Req::Publish {
                        member: Member {
                            node: name,
                            healthy,
                            draining,
                        },
                        lease,
                    },
                    None,
                );
                // The runtime re-reads the members after writing its own
                // presence, so a lost write is noticed and repeated.
                let l = self.request_timeout;
                self.at(self.now + l, Ev::Resync { node: i });
            }
            Command::Campaign { lease } => self.send(
                i,
                Req::Campaign { lease },
                Some(Input::CampaignResult {
                    lease,
                    result: Err(()),
                }),
            ),
            Command::Resign { epoch } => self.send(i, Req::Resign { epoch }, None),
            Command::RevokeLease { lease } => self.send(i, Req::Revoke { lease }, None),
            Command::TakeFloatingIp { epoch } => {
                self.nodes[i].ip = true;
                self.log(format!("{name} takes the floating IP (epoch {epoch})"));
                match self.epoch_holders.get(&epoch) {
                    Some(other) if *other != name => {
                        self.violation(format!("epoch {epoch} held by {other} and {name}"));
                    }
                    _ => {
                        self.epoch_holders.insert(epoch, name.clone());
                    }
                }
                if let Some((crashed, at)) = self.crash_of_holder.take() {
                    if crashed != name {
                        let took = self.now - at;
                        let clean = !self.others_down_at_crash
                            && self.disturbed_until.is_none_or(|d| d < at)
                            && self.disturbed_from.is_none_or(|f| f > self.now);
                        if clean {
                            self.report.clean_takeovers.push((crashed.clone(), took));
                        }
                        self.report.takeovers.push((crashed, took));
                    }
                }
            }
            Command::DropFloatingIp => {
                self.nodes[i].ip = false;
                self.log(format!("{name} drops the floating IP"));
            }
            Command::LeaderDuties { epoch } => self.log(format!("{name} leader duties {epoch:?}")),
            Command::Adopt { node } => {
                // Ownership is computed, not stored: the members' change is
                // the whole takeover.
                self.log(format!("{name} adopts the share of {node}"));
            }
        }
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Wake { node, inc } => {
                if self.nodes[node].inc != inc || !self.nodes[node].machine_up {
                    return;
                }
                self.nodes[node].wake_at = None;
                let now = self.now;
                if let Some(a) = self.nodes[node].agent.as_mut() {
                    a.handle_timeout(now);
                }
                self.drive(node);
            }
            Ev::ToStore { node, inc, id, req } => self.store_handles(node, inc, id, req),
            Ev::Reply {
                node,
                inc,
                id,
                input,
            } => {
                if self.nodes[node].inc != inc
                    || !self.reachable(node)
                    || self.nodes[node].pending.remove(&id).is_none()
                {
                    return;
                }
                let now = self.now;
                if let Some(a) = self.nodes[node].agent.as_mut() {
                    a.handle(now, input);
                }
                self.drive(node);
            }
            Ev::RegisterAck { node, inc, id, key } => {
                if self.nodes[node].inc == inc
                    && self.reachable(node)
                    && self.nodes[node].pending.remove(&id).is_some()
                {
                    self.report.registrations_acked += 1;
                    self.acked.insert(key);
                }
            }
            Ev::Timeout { node, inc, id } => {
                if self.nodes[node].inc != inc {
                    return;
                }
                if let Some(input) = self.nodes[node].pending.remove(&id) {
                    let now = self.now;
                    if let Some(a) = self.nodes[node].agent.as_mut() {
                        a.handle(now, input);
                    }
                    self.drive(node);
                }
            }
            Ev::Watch { node, inc, what } => {
                if self.nodes[node].inc != inc || !self.reachable(node) {
                    return;
                }
                let input = match what {
                    Watched::Leader(l) => Input::Leader(l),
                    Watched::Members(m) => Input::Members(m),
                };
                let now = self.now;
                if let Some(a) = self.nodes[node].agent.as_mut() {
                    a.handle(now, input);
                }
                self.drive(node);
            }
            Ev::Lessor => {
                let now = self.now;
                for l in self.store.expire(now) {
                    self.log(format!("store expires lease {l}"));
                }
                self.fan_out();
                self.at(now + Duration::from_millis(500), Ev::Lessor);
            }
            Ev::Fault => self.fault(),
            Ev::Restart { node } => {
                if !self.nodes[node].machine_up || self.nodes[node].agent.is_none() {
                    self.start_node(node);
                }
            }
            Ev::Heal { node } => {
                self.nodes[node].partitioned_until = None;
                // A reconnected watch resumes with the current state.
                let (leader, members) = (self.store.leader(), self.store.members());
                self.watch(node, Watched::Leader(leader));
                self.watch(node, Watched::Members(members));
                self.log(format!("{} heals", self.nodes[node].name));
            }
            Ev::Resync { node } => {
                if self.nodes[node].agent.is_some() && self.reachable(node) {
                    let members = self.store.members();
                    self.watch(node, Watched::Members(members));
                }
            }
            Ev::HealAll => {
                self.log("all faults repaired".into());
                self.cfg.latency_ms = self.base_latency;
                self.cfg.loss = 0.0;
                self.store.down_until = None;
                for i in 0..self.nodes.len() {
                    if self.nodes[i].partitioned_until.is_some() {
                        self.step(Ev::Heal { node: i });
                    }
                    if self.nodes[i].agent.is_none() {
                        self.start_node(i);
                    }
                }
            }
            Ev::Answer {
                call,
                tries,
                waited,
            } => {
                // The callee's 2xx goes to the floating IP; whoever holds it
                // (in the kernel's view) forwards it to the caller.
                let held = self
                    .nodes
                    .iter()
                    .any(|n| n.machine_up && n.ip && n.agent.is_some());
                if held {
                    self.report.calls_answered += 1;
                } else {
                    // RFC 3261 §13.3.1.4: T1, doubling up to T2, for 64*T1.
                    let next = Duration::from_millis((500u64 << tries.min(3)).min(4000));
                    if waited + next <= Duration::from_secs(32) {
                        self.at(
                            self.now + next,
                            Ev::Answer {
                                call,
                                tries: tries + 1,
                                waited: waited + next,
                            },
                        );
                    } else {
                        self.violation(format!(
                            "INVITE {call}: its final response found no floating-IP holder for 32 s"
                        ));
                    }
                }
            }
            Ev::LatencyBack => {
                self.cfg.latency_ms = self.base_latency;
                self.log(format!("latency back to {:?} ms", self.cfg.latency_ms));
            }
            Ev::Traffic => {
                // Phones register through the floating IP; the leader creates calls.
                if let Some(i) = (0..self.nodes.len())
                    .find(|&i| self.nodes[i].ip && self.nodes[i].agent.is_some())
                {
                    let n = self.rng.random_range(0..1_000_000u32);
                    let key = format!("bind/{n}");
                    let id = self.next_id;
                    self.next_id += 1;
                    let inc = self.nodes[i].inc;
                    self.nodes[i].pending.insert(id, Input::Health(true));
                    if self.reachable(i) && !self.lost() {
                        let l = self.latency();
                        self.at(
                            self.now + l,
                            Ev::ToStore {
                                node: i,
                                inc,
                                id,
                                req: Req::Register { key },
                            },
                        );
                    }
                    if self.rng.random_bool(0.3) {
                        let call = format!("call-{n}");
                        self.send(i, Req::CreateCall { call }, None);
                    }
                }
                self.tick += 1;
                if self.tick % 20 == 0 {
                    let calls: Vec<String> = self.store.owners.keys().cloned().collect();
                    for call in calls {
                        let n = self.duty_claimants(&call).len();
                        self.report.max_duty_claimants = self.report.max_duty_claimants.max(n);
                    }
                }
                if self.now < self.t0 + self.cfg.duration + Duration::from_secs(10) {
                    self.at(self.now + Duration::from_millis(50), Ev::Traffic);
                }
            }
        }
    }

    fn store_handles(&mut self, node: usize, inc: u32, id: u64, req: Req) {
        let now = self.now;
        if !self.store.available(now) {
            return;
        }
        let name = self.nodes[node].name.clone();
        let reply = match req {
            Req::Grant { sent_at } => Some(Input::LeaseGranted {
                lease: self.store.grant(now, Duration::from_secs(1)),
                sent_at,
            }),
            Req::KeepAlive { lease, sent_at } => {
                let ok = self.store.keepalive(now, lease);
                let age = (now - sent_at).as_millis();
                self.log(format!(
                    "store renews lease {lease} of {name} (sent {age} ms ago): {ok}"
                ));
                Some(if ok {
                    Input::KeepAliveAck { lease, sent_at }
                } else {
                    Input::KeepAliveFailed {
                        lease,
                        lease_gone: true,
                    }
                })
            }
            Req::Campaign { lease } => Some(Input::CampaignResult {
                lease,
                result: Ok(self.store.campaign(&name, lease)),
            }),
            Req::Resign { epoch } => {
                self.store.resign(epoch);
                None
            }
            Req::Revoke { lease } => {
                self.store.revoke(lease);
                None
            }
            Req::Publish { member, lease } => {
                self.store.publish(member, lease);
                None
            }
            Req::Register { key } => {
                self.store.write(&key);
                if !self.lost() {
                    let l = self.latency();
                    self.at(now + l, Ev::RegisterAck { node, inc, id, key });
                }
                None
            }
            Req::CreateCall { call } => {
                self.store.owners.insert(call.clone(), name.clone());
                self.calls += 1;
                let ring = Duration::from_millis(self.rng.random_range(200..3000));
                self.at(
                    now + ring,
                    Ev::Answer {
                        call,
                        tries: 0,
                        waited: Duration::ZERO,
                    },
                );
                None
            }
        };
        self.fan_out();
        if let Some(input) = reply {
            if !self.lost() {
                let l = self.latency();
                self.at(
                    now + l,
                    Ev::Reply {
                        node,
                        inc,
                        id,
                        input,
                    },
                );
            }
        }
    }

    /// Delivers store changes to every node's watch.
    fn fan_out(&mut self) {
        let changes = std::mem::take(&mut self.store.changes);
        for what in changes {
            for i in 0..self.nodes.len() {
                if self.nodes[i].agent.is_some() && self.reachable(i) {
                    self.watch(i, what.clone());
                }
            }
        }
    }

    /// Whether a node other than `i` is down or partitioned now.
    fn others_down(&self, i: usize) -> bool {
        self.nodes.iter().enumerate().any(|(j, n)| {
            j != i && (!n.machine_up || n.agent.is_none() || n.partitioned_until.is_some())
        })
    }

    fn disturb(&mut self, from: Instant, until: Instant) {
        self.disturbed_until = Some(self.disturbed_until.map_or(until, |d| d.max(until)));
        if self.crash_of_holder.is_some() {
            self.disturbed_from = Some(self.disturbed_from.map_or(from, |f| f.min(from)));
        } else {
            self.disturbed_from = None;
        }
    }

    fn fault(&mut self) {
        let i = self.rng.random_range(0..self.nodes.len());
        let kind = self.rng.random_range(0..6);
        let name = self.nodes[i].name.clone();
        let now = self.now;
        // Partitions, outages and spikes disturb any takeover near them; a
        // crash disturbs a takeover already in progress (not its own).
        if kind >= 3 || self.crash_of_holder.is_some() {
            self.disturb(now, now + Duration::from_secs(6));
        }
        match kind {
            0 | 1 => {
                // kill -9 of the process; its guard withdraws the IP and
                // revokes the lease it was told about.
                if self.nodes[i].agent.is_none() {
                    return;
                }
                if self.nodes[i].ip {
                    self.crash_of_holder = Some((name.clone(), now));
                    self.others_down_at_crash = self.others_down(i);
                }
                self.nodes[i].agent = None;
                self.nodes[i].ip = false;
                self.log(format!("{name} killed (guard withdraws IP, revokes lease)"));
                let revoke = self.store.lease_of(&name);
                if let Some(l) = revoke {
                    if self.reachable(i) {
                        let d = self.latency();
                        let id = self.next_id;
                        self.next_id += 1;
                        let inc = self.nodes[i].inc;
                        self.at(
                            now + d,
                            Ev::ToStore {
                                node: i,
                                inc,
                                id,
                                req: Req::Revoke { lease: l },
                            },
                        );
                    }
                }
                self.nodes[i].inc += 1;
                let back = self.rng.random_range(1_000..5_000);
                self.at(now + Duration::from_millis(back), Ev::Restart { node: i });
            }
            2 => {
                // The whole machine dies: nothing is withdrawn or revoked,
                // and its address goes with it.
                if self.nodes[i].agent.is_none() {
                    return;
                }
                if self.nodes[i].ip {
                    self.crash_of_holder = Some((name.clone(), now));
                    self.others_down_at_crash = self.others_down(i);
                }
                self.nodes[i].agent = None;
                self.nodes[i].ip = false;
                self.nodes[i].machine_up = false;
                self.nodes[i].inc += 1;
                self.log(format!("{name} machine down"));
                let back = self.rng.random_range(2_000..6_000);
                self.at(now + Duration::from_millis(back), Ev::Restart { node: i });
            }
            3 => {
                let d = self.rng.random_range(500..5_000);
                self.nodes[i].partitioned_until = Some(now + Duration::from_secs(3600));
                self.at(now + Duration::from_millis(d), Ev::Heal { node: i });
                self.log(format!("{name} cut off for {d} ms"));
            }
            4 => {
                let d = self.rng.random_range(300..2_000);
                self.store.down_until = Some(now + Duration::from_millis(d));
                self.log(format!("store unavailable for {d} ms"));
            }
            _ => {
                let base = self.base_latency;
                self.cfg.latency_ms = (base.0, base.1 + self.rng.random_range(20..150));
                let d = self.rng.random_range(500..4_000);
                self.at(now + Duration::from_millis(d), Ev::LatencyBack);
                self.log(format!("latency {:?} ms for {d} ms", self.cfg.latency_ms));
            }
        }
    }

    fn check(&mut self) {
        let holders: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.machine_up && n.ip)
            .map(|n| n.name.clone())
            .collect();
        self.report.max_ip_holders = self.report.max_ip_holders.max(holders.len());
        if holders.len() > 1 {
            self.violation(format!("two floating-IP holders: {holders:?}"));
        }
        // A holder acts under the epoch the store says leads.
        for n in self.nodes.iter().filter(|n| n.machine_up && n.ip) {
            let epoch = n.agent.as_ref().and_then(Agent::leading_epoch);
            let store = self.store.leader();
            let ok = match (epoch, &store) {
                (Some(e), Some(l)) => l.epoch == e && l.node == n.name,
                _ => false,
            };
            if !ok {
                let what = format!(
                    "{} holds the IP under {epoch:?} but the store says {store:?}",
                    n.name
                );
                self.report.violations.push(Violation {
                    at: self.now - self.t0,
                    what,
                });
            }
        }
    }

    fn finish(&mut self) {
        self.report.epochs = self.epoch_holders.len();
        // Liveness after the faults: one leader, one IP holder, agreed by all.
        let holders: Vec<&Node> = self.nodes.iter().filter(|n| n.machine_up && n.ip).collect();
        if holders.len() != 1 {
            let names: Vec<&str> = holders.iter().map(|n| n.name.as_str()).collect();
            self.violation(format!("after healing, floating-IP holders: {names:?}"));
        }
        let leader = self.store.leader();
        for n in &self.nodes {
            if let Some(a) = &n.agent {
                let seen = a.status(self.now).leader;
                if seen != leader {
                    let what = format!("{} sees leader {seen:?}, store has {leader:?}", n.name);
                    self.report.violations.push(Violation {
                        at: self.now - self.t0,
                        what,
                    });
                }
            }
        }
        let lost = self
            .acked
            .iter()
            .filter(|k| !self.store.writes.contains_key(*k))
            .count();
        self.report.registrations_lost = lost;
        if lost > 0 {
            self.violation(format!("{lost} acknowledged registrations lost"));
        }
        self.report.calls = self.calls;
        let calls: Vec<String> = self.store.owners.keys().cloned().collect();
        let bad: Vec<(String, Vec<String>)> = calls
            .iter()
            .map(|c| {
                let owners = self
                    .duty_claimants(c)
                    .into_iter()
                    .map(|i| self.nodes[i].name.clone())
                    .collect::<Vec<_>>();
                (c.clone(), owners)
            })
            .filter(|(_, o)| o.len() != 1)
            .collect();
        self.report.calls_without_one_owner = bad.len();
        if let Some((call, owners)) = bad.first() {
            self.violation(format!(
                "{} calls without exactly one live owner, e.g. {call}: {owners:?}",
                bad.len()
            ));
        }
    }
}
