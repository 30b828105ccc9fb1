//! The cluster runtime: drives the pure cluster agent (`tandem-cluster`)
//! with etcd (through `tandem-store-etcd`'s coordination API), the kernel
//! (the floating IP, through `tandem-vip`) and the clock. It feeds the
//! agent what etcd says (lease grants and renewals, the leader key, the
//! members' presence keys, the operator's control key) and the node's
//! health, carries out the agent's commands, keeps the PBX core's view of
//! the cluster current, and writes the timeline of every failover.

mod actions;
mod floating;
pub mod guard;
mod health;
pub mod records;
pub mod report;

use crate::clock;
use crate::shard::ShardInput;
use floating::{FloatingCommand, FloatingWorker};
use guard::GuardLink;
use records::{
    Control, EventRecord, HealthReport, LeaderValue, Presence, CONTROL_PREFIX, EVENT_KEEP_MS,
    LEADER_KEY, NODES_PREFIX,
};
use std::collections::BTreeMap;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tandem_cluster::{Agent, AgentConfig, ClusterEvent, Command, Input, LeaderInfo, Member, Role};
use tandem_config::{ClusterSection, Config};
use tandem_pbx::{MemberAddr, Shared};
use tandem_store::{Op, Store};
use tandem_store_etcd::{Coordinator, KeepAliveEvent, KeyEvent, LeaseId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What the driver is told.
enum Msg {
    Input(Input),
    LeaseGranted(tandem_store_etcd::Lease, Instant),
    KeepAlive(u64, KeepAliveEvent),
    Leader(Option<LeaderInfo>),
    Members(Vec<Presence>),
    Health(bool, HealthReport),
    Control(Control),
    FloatingFailed,
    /// The floating IP is ours and announced (or we lead without one).
    FloatingTaken {
        epoch: u64,
        add_ms: u64,
        /// Since the old leader's key went, when this was a takeover.
        takeover_ms: Option<u64>,
    },
    Shutdown(oneshot::Sender<()>),
}

/// A snapshot of the cluster as this node sees it (status displays, tests).
#[derive(Debug, Clone, Default)]
pub struct ClusterStatus {
    /// The agent's view.
    pub agent: Option<tandem_cluster::Status>,
    /// The live members' presence records.
    pub members: Vec<Presence>,
    /// This node's last health check.
    pub health: HealthReport,
}

/// The running cluster runtime of a node.
pub struct ClusterHandle {
    tx: mpsc::UnboundedSender<Msg>,
    status: Arc<Mutex<ClusterStatus>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle").finish_non_exhaustive()
    }
}

impl ClusterHandle {
    /// The current view.
    pub fn status(&self) -> ClusterStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Drain (true) or resume (false), as `tandem cluster drain` does.
    pub fn set_draining(&self, drain: bool) {
        let _ = self.tx.send(Msg::Control(Control { drain }));
    }

    /// Graceful leave: drop the floating IP, resign, revoke the lease
    /// (the others take over at once), tell the guard goodbye.
    pub async fn shutdown(self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        }
        self.task.abort();
        // Wait for the task to be gone, so what it held (the webhooks) is
        // released before the node shuts those down.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.task).await;
    }
}

/// Everything the runtime needs from the node.
pub(crate) struct ClusterParams {
    pub(crate) config: Config,
    pub(crate) coordinator: Coordinator,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) shards: Vec<mpsc::Sender<ShardInput>>,
    /// The node's own listeners (the floating IP's excepted).
    pub(crate) listen: Vec<tandem_transport::ListenAddr>,
    pub(crate) guard: Option<std::process::Command>,
    /// The DNS zone to keep in step with the members.
    pub(crate) zone: Option<Arc<crate::zone::ZonePublisher>>,
    /// ActionURLs to call on cluster events.
    pub(crate) webhooks: Option<Arc<tandem_webhook::Dispatcher>>,
}

/// The floating IP from the configuration.
pub(crate) fn floating_ip(config: &Config) -> Option<tandem_vip::FloatingIp> {
    let f = config.cluster.as_ref()?.floating_ip.as_ref()?;
    tandem_vip::FloatingIp::new(&f.interface, f.address, f.prefix_len).ok()
}

/// Removes a floating IP a previous run left configured (killed while
/// leading, and its guard with it): this node does not hold it now.
pub(crate) async fn withdraw_stale_floating_ip(config: &Config) {
    if let Some(f) = floating_ip(config) {
        match f.remove().await {
            Ok(tandem_vip::Outcome::Changed) => {
                tracing::warn!(floating_ip = %f, "removed a floating IP left configured by an earlier run")
            }
            Ok(tandem_vip::Outcome::Unchanged) => {}
            Err(e) => tracing::error!(floating_ip = %f, "cannot manage the floating IP: {e}"),
        }
    }
}

/// Starts the runtime.
pub(crate) async fn start(p: ClusterParams) -> ClusterHandle {
    let section: ClusterSection = p.config.cluster.clone().unwrap_or_default();
    let node = p
        .config
        .node
        .name
        .clone()
        .unwrap_or_else(|| "tandem".into());
    let agent_config = AgentConfig {
        node: node.clone(),
        lease_ttl: Duration::from_secs(section.lease_ttl_secs),
        keepalive_interval: Duration::from_millis(section.keepalive_interval_ms),
        safety_margin: Duration::from_millis(section.safety_margin_ms),
        retry_interval: Duration::from_millis(200),
        may_lead: section.may_lead,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let status = Arc::new(Mutex::new(ClusterStatus::default()));
    let guard = match p.guard {
        Some(cmd) if section.guard => match GuardLink::spawn(cmd) {
            Ok(g) => Some(Arc::new(g)),
            Err(e) => {
                tracing::error!("cannot start the guard process ({e}): a kill -9 of tandem would leave the floating IP configured until the lease expires and another node restarts");
                None
            }
        },
        _ => None,
    };
    let floating = FloatingWorker::start(
        floating_ip(&p.config),
        section
            .floating_ip
            .as_ref()
            .map(|f| tandem_vip::AnnounceSchedule {
                rounds: f.announce_rounds,
                interval: Duration::from_millis(f.announce_interval_ms),
            }),
        p.shared.clone(),
        guard.clone(),
        tx.clone(),
    );
    let sip_udp = p
        .listen
        .iter()
        .find(|l| l.transport == tandem_transaction::TransportKind::Udp)
        .map(|l| l.addr);
    // A restart ends a drain; and the node follows its control key.
    let control_key = format!("{CONTROL_PREFIX}{node}");
    let _ = p
        .store
        .commit(vec![Op::Delete {
            key: control_key.clone(),
        }])
        .await;
    spawn_leader_watch(p.coordinator.clone(), tx.clone());
    spawn_members_watch(p.coordinator.clone(), tx.clone());
    spawn_control_watch(p.coordinator.clone(), control_key, tx.clone());
    let checker = health::HealthChecker {
        interval: Duration::from_millis(section.health_interval_ms),
        timeout: Duration::from_millis(section.health_timeout_ms),
        failures_max: section.health_failures_max,
        sip_udp,
        shards: p.shards.clone(),
        coordinator: p.coordinator.clone(),
    };
    let (health_tx, mut health_rx) = mpsc::unbounded_channel();
    tokio::spawn(checker.run(health_tx));
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some((ok, r)) = health_rx.recv().await {
            if forward.send(Msg::Health(ok, r)).is_err() {
                return;
            }
        }
    });
    let driver = Driver {
        agent: Agent::new(agent_config),
        node,
        coordinator: p.coordinator,
        store: p.store,
        shared: p.shared,
        shards: p.shards,
        tx: tx.clone(),
        keepalive_interval: Duration::from_millis(section.keepalive_interval_ms),
        keepalive: None,
        lease: None,
        floating,
        guard,
        status: status.clone(),
        presence: Presence {
            node: p.config.node.name.clone().unwrap_or_default(),
            healthy: true,
            draining: false,
            role: "detached".into(),
            epoch: None,
            holds_floating_ip: false,
            sip: p.listen.iter().map(ToString::to_string).collect(),
            sip_udp,
            applied_rev: 0,
            started_ms: clock::unix_ms(),
            updated_ms: 0,
            version: env!("CARGO_PKG_VERSION").into(),
            health: HealthReport::default(),
            state_since_ms: clock::unix_ms(),
            srv_priority: crate::zone_priority(&p.config),
            srv_weight: crate::zone_weight(&p.config),
        },
        zone: p.zone,
        webhooks: p.webhooks,
        floating_address: p
            .config
            .cluster
            .as_ref()
            .and_then(|c| c.floating_ip.as_ref())
            .map(|f| f.address),
        cluster_name: p.config.storage.etcd.prefix.trim_matches('/').to_owned(),
        members: Vec::new(),
        leader_gone_at: None,
        event_seq: 0,
    };
    let task = tokio::spawn(driver.run(rx));
    ClusterHandle { tx, status, task }
}

struct Driver {
    agent: Agent,
    node: String,
    coordinator: Coordinator,
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    shards: Vec<mpsc::Sender<ShardInput>>,
    tx: mpsc::UnboundedSender<Msg>,
    /// How often the lease is renewed (the agent counts its lease from
    /// each acknowledged renewal).
    keepalive_interval: Duration,
    keepalive: Option<JoinHandle<()>>,
    lease: Option<i64>,
    floating: mpsc::UnboundedSender<FloatingCommand>,
    guard: Option<Arc<GuardLink>>,
    status: Arc<Mutex<ClusterStatus>>,
    presence: Presence,
    zone: Option<Arc<crate::zone::ZonePublisher>>,
    webhooks: Option<Arc<tandem_webhook::Dispatcher>>,
    floating_address: Option<std::net::IpAddr>,
    /// Names the cluster in webhook payloads (the etcd prefix).
    cluster_name: String,
    members: Vec<Presence>,
    /// When the leader key was seen to go: the start of a takeover.
    leader_gone_at: Option<Instant>,
    /// Events recorded so far (keys of one node never collide).
    event_seq: u64,
}

/// How often the presence record is rewritten with fresh figures.
const PRESENCE_REFRESH: Duration = Duration::from_secs(1);

impl Driver {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut refresh = tokio::time::interval(PRESENCE_REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.execute();
            let deadline = self.agent.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { return };
                    if let Msg::Shutdown(done) = msg {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    self.handle(msg);
                }
                _ = sleep => self.agent.handle_timeout(clock::now()),
                _ = refresh.tick() => self.publish_presence(),
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        let now = clock::now();
        match msg {
            Msg::Input(input) => self.agent.handle(now, input),
            Msg::LeaseGranted(lease, sent_at) => {
                self.lease = Some(lease.id.0);
                if let Some(g) = &self.guard {
                    g.lease(lease.id.0);
                }
                tracing::info!(
                    lease = format!("{:x}", lease.id.0),
                    ttl_ms = lease.ttl.as_millis() as u64,
                    "lease granted"
                );
                self.start_keepalive(lease);
                self.agent.handle(
                    now,
                    Input::LeaseGranted {
                        lease: lease.id.0 as u64,
                        sent_at,
                    },
                );
            }
            Msg::KeepAlive(lease, event) => match event {
                KeepAliveEvent::Ack { sent_at, .. } => self
                    .agent
                    .handle(now, Input::KeepAliveAck { lease, sent_at }),
                KeepAliveEvent::Failed { error, .. } => {
                    tracing::debug!("lease keep-alive failed: {error}");
                    self.agent.handle(
                        now,
                        Input::KeepAliveFailed {
                            lease,
                            lease_gone: false,
                        },
                    )
                }
                KeepAliveEvent::Expired { .. } => self.agent.handle(
                    now,
                    Input::KeepAliveFailed {
                        lease,
                        lease_gone: true,
                    },
                ),
            },
            Msg::Leader(info) => {
                if info.is_none() && self.leader_gone_at.is_none() {
                    self.leader_gone_at = Some(now);
                }
                self.agent.handle(now, Input::Leader(info));
            }
            Msg::Members(list) => {
                self.shared.cluster.set_members(
                    list.iter()
                        .map(|p| MemberAddr {
                            node: p.node.clone(),
                            sip_udp: p.sip_udp,
                        })
                        .collect(),
                );
                let members = list
                    .iter()
                    .map(|p| Member {
                        node: p.node.clone(),
                        healthy: p.healthy,
                        draining: p.draining,
                    })
                    .collect();
                self.members = list;
                self.publish_zone();
                self.agent.handle(now, Input::Members(members));
            }
            Msg::Health(ok, report) => {
                self.presence.health = report;
                self.agent.handle(now, Input::Health(ok));
            }
            Msg::Control(c) => {
                self.shared.cluster.set_draining(c.drain);
                tracing::info!(
                    drain = c.drain,
                    "operator: {}",
                    if c.drain { "drain" } else { "resume" }
                );
                self.agent
                    .handle(now, if c.drain { Input::Drain } else { Input::Resume });
            }
            Msg::FloatingTaken {
                epoch,
                add_ms,
                takeover_ms,
            } => {
                let mut detail = serde_json::json!({
                    "event": "failover_finished",
                    "epoch": epoch,
                    "add_ms": add_ms,
                });
                if let Some(ip) = self.floating_address {
                    detail["floating_ip"] = ip.to_string().into();
                }
                match takeover_ms {
                    // Took over from a leader that went: a failover.
                    Some(t) => {
                        detail["takeover_ms"] = t.into();
                        self.record_event("failover_finished", detail);
                    }
                    None => {
                        detail["event"] = "floating_ip_taken".into();
                        self.record_event("floating_ip_taken", detail);
                    }
                }
            }
            Msg::FloatingFailed => {
                // Leading without the address serves nobody: step down and
                // let a node that can take it lead.
                self.agent.handle(now, Input::Health(false));
                self.agent.handle(now, Input::Health(true));
            }
            Msg::Shutdown(_) => {}
        }
        self.update_status();
    }

    /// Carries out the agent's commands and records its events.
    fn execute(&mut self) {
        while let Some(cmd) = self.agent.poll_command() {
            self.command(cmd);
        }
        while let Some(event) = self.agent.poll_event() {
            self.event(event);
        }
    }

    fn command(&mut self, cmd: Command) {
        let coord = self.coordinator.clone();
        let tx = self.tx.clone();
        match cmd {
            Command::GrantLease { ttl_secs } => {
                tokio::spawn(async move {
                    let sent_at = clock::now();
                    let msg = match coord.grant_lease(ttl_secs).await {
                        Ok(lease) => Msg::LeaseGranted(lease, sent_at),
                        Err(e) => {
                            tracing::warn!("cannot get a lease from etcd: {e}");
                            Msg::Input(Input::LeaseFailed)
                        }
                    };
                    let _ = tx.send(msg);
                });
            }
            // The keep-alive driver renews on its own schedule.
            Command::KeepAlive { .. } => {}
            Command::PublishPresence {
                lease,
                healthy,
                draining,
            } => {
                if (healthy, draining) != (self.presence.healthy, self.presence.draining) {
                    self.presence.state_since_ms = clock::unix_ms();
                }
                self.presence.healthy = healthy;
                self.presence.draining = draining;
                self.put_presence(lease as i64);
                // The zone follows this node's own state at once, not
                // only when the watch brings the record back.
                self.publish_zone();
            }
            Command::Campaign { lease } => {
                let value = serde_json::to_vec(&LeaderValue {
                    node: self.node.clone(),
                })
                .unwrap_or_default();
                tokio::spawn(async move {
                    let result = coord
                        .campaign(LEADER_KEY, &value, LeaseId(lease as i64))
                        .await
                        .map(|won| won.map(|e| e.0))
                        .map_err(|e| tracing::warn!("campaign failed: {e}"));
                    let _ = tx.send(Msg::Input(Input::CampaignResult { lease, result }));
                });
            }
            Command::Resign { epoch } => {
                tokio::spawn(async move {
                    if let Err(e) = coord
                        .resign(LEADER_KEY, tandem_store_etcd::Epoch(epoch))
                        .await
                    {
                        tracing::warn!(
                            epoch,
                            "resign failed (the key goes with the lease anyway): {e}"
                        );
                    }
                });
            }
            Command::RevokeLease { lease } => {
                tokio::spawn(async move {
                    let _ = coord.revoke(LeaseId(lease as i64)).await;
                });
            }
            Command::TakeFloatingIp { epoch } => {
                let leader_gone_at = self.leader_gone_at.take();
                if let Some(gone) = leader_gone_at {
                    // The takeover began when the old leader's key went.
                    let ago = clock::now().saturating_duration_since(gone).as_millis() as u64;
                    let mut detail = serde_json::json!({
                        "event": "failover_started",
                        "epoch": epoch,
                        "detected_ms_ago": ago,
                    });
                    if let Some(ip) = self.floating_address {
                        detail["floating_ip"] = ip.to_string().into();
                    }
                    self.record_event_at("failover_started", detail, clock::unix_ms() - ago);
                }
                let _ = self.floating.send(FloatingCommand::Take {
                    epoch,
                    asked_at: clock::now(),
                    leader_gone_at,
                });
            }
            Command::DropFloatingIp => {
                // Shards stop using the address before it goes.
                self.shared.cluster.set_floating_held(false);
                let _ = self.floating.send(FloatingCommand::Drop);
            }
            Command::LeaderDuties { epoch } => {
                // Trunk registrations live on the leader only; queued in
                // order behind nothing that could reorder start and stop.
                if let Some(shard) = self.shards.first() {
                    if let Err(e) = shard.try_send(ShardInput::Leading(epoch, self.shards.len())) {
                        tracing::error!("trunk registrations not told of leadership: {e}");
                    }
                }
                tracing::info!(
                    ?epoch,
                    "leader duties {}",
                    if epoch.is_some() {
                        "started"
                    } else {
                        "stopped"
                    }
                );
            }
            Command::Adopt { node } => {
                tracing::info!(%node, "a member left: its calls' duties move to the survivors");
                self.run_duties();
            }
        }
    }

    fn event(&mut self, event: ClusterEvent) {
        let value = serde_json::to_value(&event).unwrap_or_default();
        let name = value
            .get("event")
            .and_then(|e| e.as_str())
            .unwrap_or("event")
            .to_owned();
        tracing::info!(target: "tandem::cluster", event = %name, detail = %value, "cluster event");
        if matches!(event, ClusterEvent::LeaderChanged { leader: Some(_) }) {
            // Someone leads again: a takeover not ours has ended.
            if self.agent.leading_epoch().is_none() {
                self.leader_gone_at = None;
            }
        }
        self.record_event(&name, value);
    }

    fn record_event(&mut self, name: &str, detail: serde_json::Value) {
        self.record_event_at(name, detail, clock::unix_ms());
    }

    /// Keeps the DNS zone in step with the members (this node as it knows
    /// itself, which is ahead of its record in the store).
    fn publish_zone(&self) {
        let Some(zone) = &self.zone else { return };
        let mut members: Vec<_> = self
            .members
            .iter()
            .filter(|p| p.node != self.node)
            .map(Presence::zone_member)
            .collect();
        members.push(self.presence.zone_member());
        zone.publish(&members);
    }

    /// Records a timeline event, and calls the webhooks if this node is
    /// the one that reports it.
    fn record_event_at(&mut self, name: &str, mut detail: serde_json::Value, at_ms: u64) {
        if let Some(webhooks) = &self.webhooks {
            if actions::reports(name, &detail, &self.node, &self.members) {
                let mut d = detail.clone();
                actions::enrich(&mut d, self.floating_address);
                let epoch = d
                    .get("epoch")
                    .or_else(|| d.get("leader_epoch"))
                    .and_then(serde_json::Value::as_u64)
                    .or_else(|| self.agent.leading_epoch());
                webhooks.fire(tandem_webhook::WebhookEvent {
                    event: name.to_owned(),
                    node: self.node.clone(),
                    at_ms,
                    epoch,
                    detail: d,
                    cluster: self.cluster_name.clone(),
                });
            }
        }
        if let serde_json::Value::Object(m) = &mut detail {
            m.entry("event").or_insert_with(|| name.into());
        }
        self.event_seq += 1;
        let record = EventRecord {
            at_ms,
            node: self.node.clone(),
            event: name.to_owned(),
            detail,
        };
        let store = self.store.clone();
        let key = records::event_key(at_ms, &self.node, self.event_seq);
        tokio::spawn(async move {
            let _ = store
                .commit(vec![Op::Put {
                    key,
                    value: serde_json::to_vec(&record).unwrap_or_default(),
                    expires_at_ms: Some(at_ms + EVENT_KEEP_MS),
                }])
                .await;
        });
    }

    fn start_keepalive(&mut self, lease: tandem_store_etcd::Lease) {
        if let Some(old) = self.keepalive.take() {
            old.abort();
        }
        let interval = self.keepalive_interval;
        let mut ka = self.coordinator.keep_alive(lease, interval);
        let tx = self.tx.clone();
        let id = lease.id.0 as u64;
        self.keepalive = Some(tokio::spawn(async move {
            while let Some(event) = ka.recv().await {
                if tx.send(Msg::KeepAlive(id, event)).is_err() {
                    return;
                }
            }
        }));
    }

    fn put_presence(&mut self, lease: i64) {
        self.presence.updated_ms = clock::unix_ms();
        self.presence.applied_rev = self
            .shared
            .replica
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .rev();
        let (role, epoch) = match self.agent.status(clock::now()).role {
            Role::Leader { epoch } => ("leader", Some(epoch)),
            Role::Follower => ("follower", None),
            Role::Campaigning => ("campaigning", None),
            Role::Detached => ("detached", None),
        };
        self.presence.role = role.into();
        self.presence.epoch = epoch;
        self.presence.holds_floating_ip = self.shared.cluster.floating_held();
        let value = serde_json::to_vec(&self.presence).unwrap_or_default();
        let key = format!("{NODES_PREFIX}{}", self.node);
        let coord = self.coordinator.clone();
        tokio::spawn(async move {
            if let Err(e) = coord.put_with_lease(&key, &value, LeaseId(lease)).await {
                tracing::debug!("presence not written: {e}");
            }
        });
    }

    fn publish_presence(&mut self) {
        if let (Some(lease), Some(_)) = (self.lease, self.agent.status(clock::now()).lease_left_ms)
        {
            self.put_presence(lease);
        }
        self.run_duties();
    }

    /// Asks one shard to run the per-call duties this node owns.
    fn run_duties(&self) {
        let mut members = self.shared.cluster.live_names();
        if !members.contains(&self.node) {
            members.push(self.node.clone());
        }
        if let Some(shard) = self.shards.first() {
            let _ = shard.try_send(ShardInput::Duties(members));
        }
    }

    fn update_status(&self) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        s.agent = Some(self.agent.status(clock::now()));
        s.members = self.members.clone();
        s.health = self.presence.health.clone();
    }

    async fn shutdown(&mut self) {
        self.shared.cluster.set_floating_held(false);
        self.agent.shutdown();
        while let Some(cmd) = self.agent.poll_command() {
            match cmd {
                Command::DropFloatingIp => {
                    let (done, wait) = oneshot::channel();
                    let _ = self.floating.send(FloatingCommand::DropAndTell(done));
                    let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
                }
                Command::Resign { epoch } => {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        self.coordinator
                            .resign(LEADER_KEY, tandem_store_etcd::Epoch(epoch)),
                    )
                    .await;
                }
                Command::RevokeLease { lease } => {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        self.coordinator.revoke(LeaseId(lease as i64)),
                    )
                    .await;
                }
                _ => {}
            }
        }
        while let Some(event) = self.agent.poll_event() {
            self.event(event);
        }
        if let Some(k) = self.keepalive.take() {
            k.abort();
        }
        if let Some(g) = &self.guard {
            g.bye();
        }
        tracing::info!("left the cluster: floating IP released, lease revoked");
    }
}

fn leader_info(entry: &tandem_store_etcd::Entry) -> Option<LeaderInfo> {
    let v: LeaderValue = serde_json::from_slice(&entry.value).ok()?;
    Some(LeaderInfo {
        node: v.node,
        epoch: entry.epoch.0,
        lease: entry.lease.map_or(0, |l| l.0 as u64),
    })
}

/// Follows the leader key: its value now, then every change; starts over
/// from a fresh read whenever the watch breaks.
fn spawn_leader_watch(coord: Coordinator, tx: mpsc::UnboundedSender<Msg>) {
    tokio::spawn(async move {
        loop {
            let (rev, entry) = match coord.get(LEADER_KEY).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("reading the leader key: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if tx
                .send(Msg::Leader(entry.as_ref().and_then(leader_info)))
                .is_err()
            {
                return;
            }
            let mut watch = coord.watch_key(LEADER_KEY, rev);
            while let Some(event) = watch.recv().await {
                let info = match event {
                    Ok(KeyEvent::Put(e)) => leader_info(&e),
                    Ok(KeyEvent::Delete { .. }) => None,
                    Err(e) => {
                        tracing::debug!("leader watch broke: {e}");
                        break;
                    }
                };
                if tx.send(Msg::Leader(info)).is_err() {
                    return;
                }
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Follows the presence keys: the full list after every change.
fn spawn_members_watch(coord: Coordinator, tx: mpsc::UnboundedSender<Msg>) {
    tokio::spawn(async move {
        loop {
            let (rev, entries) = match coord.list(NODES_PREFIX).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("listing members: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let mut members: BTreeMap<String, Presence> = entries
                .iter()
                .filter_map(|e| serde_json::from_slice::<Presence>(&e.value).ok())
                .map(|p| (p.node.clone(), p))
                .collect();
            if tx
                .send(Msg::Members(members.values().cloned().collect()))
                .is_err()
            {
                return;
            }
            let mut watch = coord.watch_prefix(NODES_PREFIX, rev);
            while let Some(event) = watch.recv().await {
                match event {
                    Ok(KeyEvent::Put(e)) => {
                        if let Ok(p) = serde_json::from_slice::<Presence>(&e.value) {
                            let changed = members.get(&p.node).is_none_or(|old| {
                                old.healthy != p.healthy
                                    || old.draining != p.draining
                                    || old.sip_udp != p.sip_udp
                            });
                            members.insert(p.node.clone(), p);
                            if !changed {
                                continue;
                            }
                        }
                    }
                    Ok(KeyEvent::Delete { key, .. }) => {
                        let name = key.strip_prefix(NODES_PREFIX).unwrap_or(&key);
                        if members.remove(name).is_none() {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::debug!("members watch broke: {e}");
                        break;
                    }
                }
                if tx
                    .send(Msg::Members(members.values().cloned().collect()))
                    .is_err()
                {
                    return;
                }
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Follows this node's control key (`tandem cluster drain|resume`).
fn spawn_control_watch(coord: Coordinator, key: String, tx: mpsc::UnboundedSender<Msg>) {
    tokio::spawn(async move {
        loop {
            let rev = match coord.get(&key).await {
                Ok((rev, _)) => rev,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let mut watch = coord.watch_key(&key, rev);
            while let Some(event) = watch.recv().await {
                let control = match event {
                    Ok(KeyEvent::Put(e)) => {
                        // Written by the CLI through the store: strip the
                        // store's value envelope if there is one.
                        let value = e
                            .value
                            .iter()
                            .position(|b| *b == b'{')
                            .map_or(&e.value[..], |i| &e.value[i..]);
                        serde_json::from_slice::<Control>(value).unwrap_or_default()
                    }
                    Ok(KeyEvent::Delete { .. }) => continue,
                    Err(_) => break,
                };
                if tx.send(Msg::Control(control)).is_err() {
                    return;
                }
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}
