//! # tandem-node: the runtime
//!
//! Wires a node together on tokio: the transports receive, the dispatcher
//! parses and answers what needs no state, transaction shards (one task
//! each, keyed by Call-ID) run the transaction layer and the PBX core, and
//! a graceful shutdown stops accepting, lets live transactions finish up
//! to a bound, then stops. This crate owns the clock and the OS entropy;
//! the crates below it are pure.

pub mod clock;
pub mod cluster;
mod dispatch;
mod error;
pub mod metrics;
mod resolve;
mod shard;
mod state;
pub mod zone;

pub use state::{extension_record, open_store, OpenedStore};

pub use dispatch::DispatchStats;
pub use error::Error;

use dispatch::Dispatch;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tandem_config::Config;
use tandem_pbx::{
    Algorithm, Core, CoreConfig, FailureLimiter, LocalIdentity, NonceKeeper, RegistrarConfig,
    Shared,
};
use tandem_sip::{Limits, ParseOptions};
use tandem_store::{Replica, Store};
use tandem_transaction::TransactionLayer;
use tandem_transport::{ListenAddr, TlsFiles, TransportConfig, Transports};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The product name and version, as sent in Server headers.
pub const SERVER: &str = concat!("tandem/", env!("CARGO_PKG_VERSION"));

/// How the node is started beyond its configuration.
#[derive(Debug, Default)]
pub struct StartOptions {
    /// Extra listen addresses (the command line's `--listen`).
    pub extra_listen: Vec<ListenAddr>,
    /// The command that starts the guard process (`tandem guard --config
    /// FILE`); the binary knows its own path, a library user may not.
    pub guard: Option<std::process::Command>,
}

/// A running node.
pub struct Node {
    zone: Option<Arc<zone::ZonePublisher>>,
    webhooks: Option<Arc<tandem_webhook::Dispatcher>>,
    cluster: Option<cluster::ClusterHandle>,
    transports: Transports,
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    shards: Vec<mpsc::Sender<ShardInput>>,
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<DispatchStats>,
    grace: Duration,
}

use shard::ShardInput;

impl Node {
    /// Starts a node from a configuration plus extra listen addresses (the
    /// command line's `--listen`). Must be called within a tokio runtime.
    pub async fn start(config: &Config, extra_listen: &[ListenAddr]) -> Result<Node, Error> {
        Node::start_with(
            config,
            StartOptions {
                extra_listen: extra_listen.to_vec(),
                guard: None,
            },
        )
        .await
    }

    /// Starts a node with [`StartOptions`].
    pub async fn start_with(config: &Config, options: StartOptions) -> Result<Node, Error> {
        let clustered = config.storage.backend == "etcd";
        let floating = if clustered {
            config
                .cluster
                .as_ref()
                .and_then(|c| c.floating_ip.as_ref())
                .map(|f| f.address)
        } else {
            None
        };
        let mut listen = config.listen_addrs();
        for l in &options.extra_listen {
            if !listen.contains(l) {
                listen.push(*l);
            }
        }
        if listen.is_empty() {
            return Err(Error::NoListenAddress);
        }
        // The node's own listeners, then one on the floating IP for each
        // (bound before the address exists: it arrives when we lead).
        let own_listen = listen.clone();
        if let Some(ip) = floating {
            for l in &own_listen {
                listen.push(ListenAddr {
                    transport: l.transport,
                    addr: std::net::SocketAddr::new(ip, l.addr.port()),
                });
            }
        }
        let limits = Limits {
            message_size_max: config.sip.message_size_max,
            header_count_max: config.sip.header_count_max,
            header_line_len_max: config.sip.header_line_len_max,
            via_count_max: config.sip.via_count_max,
            route_count_max: config.sip.route_count_max,
        };
        let shard_count = config
            .node
            .shards
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let transport_config = TransportConfig {
            listen: listen.clone(),
            tls: config.tls.as_ref().map(|t| TlsFiles {
                certificate: t.certificate.clone(),
                private_key: t.private_key.clone(),
            }),
            idle_timeout: Duration::from_secs(config.sip.idle_timeout_secs),
            connections_per_ip_max: config.sip.connections_per_ip_max,
            connections_max: config.sip.connections_max,
            udp_recv_buffer_bytes: config.sip.udp_recv_buffer_bytes,
            limits: limits.clone(),
            freebind: floating.into_iter().collect(),
            ..TransportConfig::default()
        };
        // State first: nothing is answered before the replica holds it.
        if clustered {
            // A floating IP left by a crashed run (and its guard) is not ours.
            cluster::withdraw_stale_floating_ip(config).await;
        }
        let opened = state::open_store(config).await?;
        let metrics = Arc::new(metrics::NodeMetrics::default());
        let store = metrics::metered(opened.store, metrics.clone());
        let coordinator = opened.coordinator;
        let secret = state::shared_secret(&store).await?;
        let replica = Replica::shared();
        let rev = state::bootstrap(&store, &replica, config).await?;
        tokio::spawn(state::follow(store.clone(), replica.clone(), rev));
        let shared = Arc::new(Shared {
            replica,
            nonces: NonceKeeper::new(
                derive(&secret, b"nonce"),
                config.auth.nonce_lifetime_secs * 1000,
            ),
            failures: FailureLimiter::new(
                config.auth.failures_max,
                config.auth.failures_window_secs * 1000,
                config.auth.block_secs * 1000,
            ),
            cluster: tandem_pbx::ClusterView::default(),
            quarantine: Default::default(),
            trunk_calls: Default::default(),
            cseq_shifts: Default::default(),
            registrars: Default::default(),
        });
        let flow_secret = derive(&secret, b"flow");
        let stats = Arc::new(DispatchStats {
            metrics,
            ..DispatchStats::default()
        });
        // The identity needs the bound addresses, known only after binding:
        // the dispatcher starts with the configured ones.
        let dispatch = Arc::new(Dispatch {
            opts: ParseOptions {
                limits,
                accept_bare_lf: false,
            },
            force_rport: config.sip.force_rport,
            stateless: Core::new(
                core_config(config, &listen, flow_secret, floating),
                shared.clone(),
                0,
            ),
            shards: OnceLock::new(),
            stats: stats.clone(),
            salt: std::sync::atomic::AtomicU64::new(clock::seed()),
        });
        let transports = tandem_transport::start(transport_config, dispatch.clone()).await?;
        let bound: Vec<ListenAddr> = transports.local_addrs().to_vec();
        let core_cfg = core_config(config, &bound, flow_secret, floating);
        let tx_config = tandem_transaction::Config {
            t1: Duration::from_millis(config.transactions.t1_ms),
            t2: Duration::from_millis(config.transactions.t2_ms),
            t4: Duration::from_millis(config.transactions.t4_ms),
            trying_delay: Duration::from_millis(config.transactions.trying_delay_ms),
            transactions_max: (config.transactions.max / shard_count).max(1),
            force_rport: config.sip.force_rport,
            ..tandem_transaction::Config::default()
        };
        let resolver = resolve::Resolver::new(config, &bound, clock::seed())?;
        let mut shards = Vec::with_capacity(shard_count);
        let mut tasks = Vec::with_capacity(shard_count);
        for _ in 0..shard_count {
            let (tx, rx) = mpsc::channel(4096);
            let shard = shard::Shard {
                rx,
                tx: tx.clone(),
                transports: transports.clone(),
                layer: TransactionLayer::new(tx_config.clone()),
                core: Core::new(core_cfg.clone(), shared.clone(), clock::seed()),
                store: store.clone(),
                resolver: resolver.clone(),
            };
            tasks.push(tokio::spawn(shard::run(shard)));
            shards.push(tx);
        }
        let _ = dispatch.shards.set(shards.clone());
        warn_demo_passwords(config, &bound, &shared);
        let own_bound: Vec<ListenAddr> = bound
            .iter()
            .filter(|l| Some(l.addr.ip()) != floating)
            .copied()
            .collect();
        // The DNS zone starts with this node alone; a cluster node adds its
        // peers as their presence arrives.
        let me = zone::ZoneMember {
            node: config.node.name.clone().unwrap_or_else(|| "tandem".into()),
            listen: own_bound.iter().map(ToString::to_string).collect(),
            serving: true,
            priority: zone_priority(config),
            weight: zone_weight(config),
        };
        let zone = zone::ZonePublisher::start(config, &own_bound, &[me]).await?;
        let webhooks = if config.webhooks.is_empty() {
            None
        } else {
            Some(Arc::new(
                tandem_webhook::Dispatcher::start(config.webhooks.clone())
                    .map_err(|source| Error::Webhooks { source })?,
            ))
        };
        let cluster = match coordinator {
            Some(coordinator) => Some(
                cluster::start(cluster::ClusterParams {
                    config: config.clone(),
                    coordinator,
                    store: store.clone(),
                    shared: shared.clone(),
                    shards: shards.clone(),
                    listen: own_bound,
                    guard: options.guard,
                    zone: zone.clone(),
                    webhooks: webhooks.clone(),
                })
                .await,
            ),
            None => {
                // A single node always leads: it registers the trunks.
                let _ = shards[0]
                    .send(ShardInput::Leading(Some(0), shards.len()))
                    .await;
                // One node owns every call's duties.
                let shard = shards[0].clone();
                let me = config.node.name.clone().unwrap_or_else(|| "tandem".into());
                tasks.push(tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    loop {
                        tick.tick().await;
                        if shard
                            .send(ShardInput::Duties(vec![me.clone()]))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }));
                None
            }
        };
        let grace = Duration::from_secs(config.node.shutdown_grace_secs.unwrap_or(32));
        Ok(Node {
            zone,
            webhooks,
            cluster,
            transports,
            shared,
            store,
            shards,
            tasks,
            stats,
            grace,
        })
    }

    /// The addresses the node listens on (ports resolved).
    pub fn local_addrs(&self) -> &[ListenAddr] {
        self.transports.local_addrs()
    }

    /// Receive-path counters.
    pub fn stats(&self) -> &DispatchStats {
        &self.stats
    }

    /// Receive-path counters and the node's metrics, shared (the operations plane keeps them).
    pub fn stats_handle(&self) -> Arc<DispatchStats> {
        self.stats.clone()
    }

    /// The DNS zone served, if `[dns.zone]` is configured.
    pub fn zone(&self) -> Option<&Arc<zone::ZonePublisher>> {
        self.zone.as_ref()
    }

    /// The ActionURL dispatcher, if `[[webhooks]]` are configured.
    pub fn webhooks(&self) -> Option<&Arc<tandem_webhook::Dispatcher>> {
        self.webhooks.as_ref()
    }

    /// The shared state (replica, nonces), for tests and status.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The cluster runtime, when the node is part of a cluster.
    pub fn cluster(&self) -> Option<&cluster::ClusterHandle> {
        self.cluster.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The transports, for their counters.
    pub fn transports(&self) -> &Transports {
        &self.transports
    }

    /// Logs what the node did, for the operator reading the last lines.
    pub fn log_totals(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let d = &self.stats;
        let t = self.transports.stats();
        tracing::info!(
            received = t.received.load(Relaxed),
            sent = t.sent.load(Relaxed),
            send_errors = t.send_errors.load(Relaxed),
            malformed_answered = d.malformed_answered.load(Relaxed),
            malformed_dropped = d.malformed_dropped.load(Relaxed),
            options_answered = d.options_answered.load(Relaxed),
            shard_overload = d.shard_overload.load(Relaxed),
            connections_accepted = t.connections_accepted.load(Relaxed),
            connections_refused = t.connections_refused.load(Relaxed),
            framing_errors = t.framing_errors.load(Relaxed),
            "totals"
        );
    }

    /// Graceful shutdown: stop accepting connections, answer new requests
    /// with 503, let live transactions finish (up to the grace period),
    /// then stop every listener and shard. Returns whether every
    /// transaction finished within the grace period.
    pub async fn shutdown(mut self) -> bool {
        // Leave the cluster first: the floating IP and the lease go to a
        // peer at once, which takes the new calls while ours finish.
        if let Some(c) = self.cluster.take() {
            c.shutdown().await;
        }
        // Trunk registrations stop (a single node's are removed at the
        // carrier); the drain below waits for that REGISTER to finish.
        if let Some(first) = self.shards.first() {
            let _ = first
                .send(ShardInput::Leading(None, self.shards.len()))
                .await;
        }
        self.transports.stop_accepting();
        let mut waits = Vec::new();
        for shard in &self.shards {
            let (done_tx, done_rx) = oneshot::channel();
            if shard.send(ShardInput::Drain(done_tx)).await.is_ok() {
                waits.push(done_rx);
            }
        }
        // Logged once every shard has been told: a request read after this
        // line reaches its shard behind the drain, and gets 503.
        tracing::info!("stopping: no new connections or requests; finishing live transactions");
        let all = async {
            for w in waits {
                let _ = w.await;
            }
        };
        let clean = tokio::time::timeout(self.grace, all).await.is_ok();
        self.transports.stop();
        if let Some(z) = self.zone.take() {
            z.shutdown().await;
        }
        if let Some(w) = self.webhooks.take() {
            // The last events (stepped down, left) get a short chance out.
            if let Ok(w) = Arc::try_unwrap(w) {
                w.shutdown(Duration::from_secs(2)).await;
            }
        }
        self.log_totals();
        for t in &self.tasks {
            t.abort();
        }
        clean
    }
}

/// This node's SRV priority in `[dns.zone]`.
pub(crate) fn zone_priority(config: &Config) -> u16 {
    config
        .dns
        .as_ref()
        .and_then(|d| d.zone.as_ref())
        .map_or(10, |z| z.priority)
}

/// This node's SRV weight in `[dns.zone]`.
pub(crate) fn zone_weight(config: &Config) -> u16 {
    config
        .dns
        .as_ref()
        .and_then(|d| d.zone.as_ref())
        .map_or(100, |z| z.weight)
}

/// Warns loudly when published demo passwords are reachable from a network.
fn warn_demo_passwords(config: &Config, listen: &[ListenAddr], shared: &Shared) {
    let exposed: Vec<&ListenAddr> = listen
        .iter()
        .filter(|l| !l.addr.ip().is_loopback())
        .collect();
    if exposed.is_empty() {
        return;
    }
    let replica = shared.replica.read().unwrap_or_else(|p| p.into_inner());
    let demo: Vec<&str> = replica
        .extensions()
        .into_iter()
        .filter(|e| e.demo_password)
        .map(|e| e.number.as_str())
        .collect();
    if demo.is_empty() {
        return;
    }
    let line = "!".repeat(78);
    let file = config
        .source
        .as_ref()
        .map_or("the command line".into(), |p| p.display().to_string());
    let addrs = exposed
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    tracing::warn!("{line}");
    tracing::warn!("DEMO PASSWORDS ON A NETWORK ADDRESS: extensions {} use the published password pw-<number>,", demo.join(", "));
    tracing::warn!(
        "and tandem listens on {addrs} ({file}). Anyone who can reach it can register and call."
    );
    tracing::warn!(
        "Change those passwords (tandem ext add NUMBER --password ...) or listen on loopback only."
    );
    tracing::warn!("{line}");
}

/// The core's view of the node: its names are the domain and configured
/// domains, the node name, `localhost`, and every address it listens on
/// (loopback when bound to a wildcard).
fn core_config(
    config: &Config,
    listen: &[ListenAddr],
    flow_secret: [u8; 32],
    floating: Option<std::net::IpAddr>,
) -> CoreConfig {
    let mut hosts: Vec<String> = config.node.domains.clone();
    hosts.push(config.domain());
    hosts.push("localhost".into());
    if let Some(name) = &config.node.name {
        hosts.push(name.clone());
    }
    let advertise: Vec<(tandem_transaction::TransportKind, std::net::SocketAddr)> = listen
        .iter()
        .map(|l| {
            let ip = match l.addr.ip() {
                ip if !ip.is_unspecified() => ip,
                std::net::IpAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            };
            (l.transport, std::net::SocketAddr::new(ip, l.addr.port()))
        })
        .collect();
    for (_, a) in &advertise {
        hosts.push(a.ip().to_string());
    }
    let ports = listen.iter().map(|l| l.addr.port());
    let algorithms = config
        .auth
        .algorithms
        .iter()
        .filter_map(|a| Algorithm::from_token(Some(a)))
        .collect();
    CoreConfig {
        identity: LocalIdentity::new(hosts, ports),
        server: SERVER.into(),
        node: config.node.name.clone().unwrap_or_else(|| "tandem".into()),
        realm: config.realm(),
        algorithms,
        registrar: RegistrarConfig {
            expires_default_secs: config.registrar.expires_default_secs,
            expires_min_secs: config.registrar.expires_min_secs,
            expires_max_secs: config.registrar.expires_max_secs,
            contacts_per_aor_max: config.registrar.contacts_per_aor_max,
            keepalive_interval_secs: config.registrar.keepalive_interval_secs,
        },
        advertise,
        flow_secret,
        timer_c: Duration::from_secs(config.pbx.ring_timeout_secs.unwrap_or(180)),
        call_max_secs: config.pbx.call_max_secs.unwrap_or(12 * 3600),
        floating,
        record_route_floating: config
            .cluster
            .as_ref()
            .is_none_or(|c| c.record_route == tandem_config::RecordRoute::Floating),
        outbound: {
            let dns = config.dns.clone().unwrap_or_default();
            tandem_pbx::OutboundConfig {
                sip_uri_dialing: config.pbx.sip_uri_dialing.unwrap_or(true),
                target_timeout: Duration::from_millis(dns.target_timeout_ms),
                quarantine: Duration::from_secs(dns.quarantine_secs),
                ..tandem_pbx::OutboundConfig::default()
            }
        },
        trunks: trunk_plan(config),
    }
}

/// The trunks and outbound rules as the core uses them (the file was
/// checked at load: patterns compile, names resolve).
fn trunk_plan(config: &Config) -> tandem_pbx::TrunkPlan {
    let trunks: Vec<tandem_pbx::TrunkSpec> = config
        .trunks
        .iter()
        .map(|t| {
            let (host, port) = match (&t.domain, &t.proxy) {
                (Some(d), _) => (d.clone(), None),
                (None, Some(p)) => tandem_config::split_host_port(p).unwrap_or((p.clone(), None)),
                (None, None) => (String::new(), None),
            };
            tandem_pbx::TrunkSpec {
                name: t.name.clone(),
                host,
                port,
                transport: t
                    .transport
                    .as_deref()
                    .and_then(tandem_transaction::TransportKind::from_token),
                register: t.register,
                username: t.username.clone(),
                password: t.password.clone(),
                expires_secs: t.expires_secs,
                allowed_sources: t
                    .allowed_sources
                    .iter()
                    .filter_map(|s| tandem_config::SourceNet::parse(s))
                    .map(|n| tandem_pbx::SourceNet {
                        addr: n.addr,
                        prefix_len: n.prefix_len,
                    })
                    .collect(),
                calls_max: t.calls_max,
                caller_id: t.caller_id.clone(),
                trusted: t.trusted,
            }
        })
        .collect();
    let outbound_rules = config
        .outbound_rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            Some(tandem_pbx::OutboundRule {
                name: r.label(i),
                pattern: regex::Regex::new(&r.pattern).ok()?,
                from_extensions: r.from_extensions.clone(),
                strip: r.strip,
                prepend: r.prepend.clone(),
                country_code: r.country_code.clone(),
                national_prefix: r.national_prefix.clone(),
                trunks: r
                    .trunks
                    .iter()
                    .filter_map(|n| config.trunks.iter().position(|t| &t.name == n))
                    .collect(),
                blocked: r
                    .blocked
                    .iter()
                    .filter_map(|b| regex::Regex::new(b).ok())
                    .collect(),
            })
        })
        .collect();
    let trunk_index = |n: &str| config.trunks.iter().position(|t| t.name == n);
    let destination = |d: &str| match tandem_config::Destination::parse(d)? {
        tandem_config::Destination::Extension(n) => Some(tandem_pbx::Destination::Extension(n)),
        tandem_config::Destination::RingGroup(n) => Some(tandem_pbx::Destination::RingGroup(n)),
        tandem_config::Destination::Trunk(n) => trunk_index(&n).map(tandem_pbx::Destination::Trunk),
    };
    let inbound_rules = config
        .inbound_rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let number = match (&r.number, &r.prefix, &r.pattern) {
                (Some(n), _, _) => tandem_pbx::NumberMatch::Exact(n.clone()),
                (_, Some(p), _) => tandem_pbx::NumberMatch::Prefix(p.clone()),
                (_, _, Some(p)) => tandem_pbx::NumberMatch::Pattern(regex::Regex::new(p).ok()?),
                _ => tandem_pbx::NumberMatch::Any,
            };
            let window = match (&r.from, &r.to) {
                (Some(f), Some(t)) => {
                    Some((tandem_config::parse_hhmm(f)?, tandem_config::parse_hhmm(t)?))
                }
                _ => None,
            };
            Some(tandem_pbx::InboundRule {
                name: r.label(i),
                trunk: match &r.trunk {
                    Some(t) => Some(trunk_index(t)?),
                    None => None,
                },
                number,
                schedule: tandem_pbx::Schedule {
                    days: r
                        .days
                        .iter()
                        .filter_map(|d| tandem_config::day_index(d))
                        .collect(),
                    window,
                    utc_offset_minutes: r.utc_offset_minutes,
                    holidays: r.holidays.clone(),
                },
                destination: destination(&r.destination)?,
            })
        })
        .collect();
    let ring_groups = config
        .ring_groups
        .iter()
        .map(|g| tandem_pbx::RingGroup {
            number: g.number.clone(),
            sequential: g.strategy == "sequential",
            members: g.members.clone(),
            member_timeout: Duration::from_secs(u64::from(g.member_timeout_secs)),
            fallback: g.fallback.as_deref().and_then(
                |f| match tandem_config::Destination::parse(f)? {
                    tandem_config::Destination::Extension(n) => Some(n),
                    _ => None,
                },
            ),
        })
        .collect();
    tandem_pbx::TrunkPlan {
        trunks,
        outbound_rules,
        inbound_rules,
        ring_groups,
    }
}

/// A secret for one purpose, derived from the shared one: a nonce key
/// that leaked would not forge flow tokens.
fn derive(secret: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(purpose);
    h.update(secret);
    h.finalize().into()
}
