//! # tandem-node: the runtime
//!
//! Wires a node together on tokio: the transports receive, the dispatcher
//! parses and answers what needs no state, transaction shards (one task
//! each, keyed by Call-ID) run the transaction layer and the PBX core, and
//! a graceful shutdown stops accepting, lets live transactions finish up
//! to a bound, then stops. This crate owns the clock and the OS entropy;
//! the crates below it are pure.

mod clock;
mod dispatch;
mod error;
mod shard;

pub use dispatch::DispatchStats;
pub use error::Error;

use dispatch::Dispatch;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tandem_config::Config;
use tandem_pbx::{Core, CoreConfig, LocalIdentity};
use tandem_sip::{Limits, ParseOptions};
use tandem_transaction::TransactionLayer;
use tandem_transport::{ListenAddr, TlsFiles, TransportConfig, Transports};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The product name and version, as sent in Server headers.
pub const SERVER: &str = concat!("tandem/", env!("CARGO_PKG_VERSION"));

/// A running node.
pub struct Node {
    transports: Transports,
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
        let mut listen = config.listen_addrs();
        for l in extra_listen {
            if !listen.contains(l) {
                listen.push(*l);
            }
        }
        if listen.is_empty() {
            return Err(Error::NoListenAddress);
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
            ..TransportConfig::default()
        };
        let stats = Arc::new(DispatchStats::default());
        // The identity needs the bound addresses, known only after binding:
        // build the dispatcher lazily around a placeholder and fill it in.
        let dispatch = Arc::new(Dispatch {
            opts: ParseOptions {
                limits,
                accept_bare_lf: false,
            },
            force_rport: config.sip.force_rport,
            stateless: Core::new(core_config(config, &listen), 0),
            shards: OnceLock::new(),
            stats: stats.clone(),
        });
        let transports = tandem_transport::start(transport_config, dispatch.clone()).await?;
        let bound: Vec<ListenAddr> = transports.local_addrs().to_vec();
        let core_cfg = core_config(config, &bound);
        let tx_config = tandem_transaction::Config {
            t1: Duration::from_millis(config.transactions.t1_ms),
            t2: Duration::from_millis(config.transactions.t2_ms),
            t4: Duration::from_millis(config.transactions.t4_ms),
            trying_delay: Duration::from_millis(config.transactions.trying_delay_ms),
            transactions_max: (config.transactions.max / shard_count).max(1),
            force_rport: config.sip.force_rport,
            ..tandem_transaction::Config::default()
        };
        let mut shards = Vec::with_capacity(shard_count);
        let mut tasks = Vec::with_capacity(shard_count);
        for _ in 0..shard_count {
            let (tx, rx) = mpsc::channel(4096);
            let layer = TransactionLayer::new(tx_config.clone());
            let core = Core::new(core_cfg.clone(), clock::seed());
            tasks.push(tokio::spawn(shard::run(
                rx,
                transports.clone(),
                layer,
                core,
            )));
            shards.push(tx);
        }
        let _ = dispatch.shards.set(shards.clone());
        let grace = Duration::from_secs(config.node.shutdown_grace_secs.unwrap_or(32));
        Ok(Node {
            transports,
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
    pub async fn shutdown(self) -> bool {
        self.transports.stop_accepting();
        let mut waits = Vec::new();
        for shard in &self.shards {
            let (done_tx, done_rx) = oneshot::channel();
            if shard.send(ShardInput::Drain(done_tx)).await.is_ok() {
                waits.push(done_rx);
            }
        }
        let all = async {
            for w in waits {
                let _ = w.await;
            }
        };
        let clean = tokio::time::timeout(self.grace, all).await.is_ok();
        self.transports.stop();
        self.log_totals();
        for t in &self.tasks {
            t.abort();
        }
        clean
    }
}

/// The core's view of the node: its names are the configured domains, the
/// host name, and every address it listens on (all local addresses when
/// bound to a wildcard).
fn core_config(config: &Config, listen: &[ListenAddr]) -> CoreConfig {
    let mut hosts: Vec<String> = config.node.domains.clone();
    hosts.push("localhost".into());
    if let Some(name) = &config.node.name {
        hosts.push(name.clone());
    }
    for l in listen {
        if l.addr.ip().is_unspecified() {
            hosts.push(if l.addr.is_ipv4() {
                "127.0.0.1".into()
            } else {
                "::1".into()
            });
        } else {
            hosts.push(l.addr.ip().to_string());
        }
    }
    let ports = listen.iter().map(|l| l.addr.port());
    CoreConfig {
        identity: LocalIdentity::new(hosts, ports),
        server: SERVER.into(),
    }
}
