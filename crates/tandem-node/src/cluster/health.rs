//! The node's own health, checked the way a caller would notice trouble:
//! an OPTIONS to itself over UDP (transport, parser, dispatcher), a ping
//! through every transaction shard (a wedged or overloaded shard), a read
//! from etcd (a slow or unreachable store), and how late the check's own
//! timer fired (event-loop lag). A leader that fails its checks several
//! times in a row steps down; it comes back after as many good ones.

use super::records::HealthReport;
use crate::clock;
use crate::shard::ShardInput;
use std::net::SocketAddr;
use std::time::Duration;
use tandem_store_etcd::Coordinator;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// What the checker needs.
pub(crate) struct HealthChecker {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) failures_max: u32,
    pub(crate) sip_udp: Option<SocketAddr>,
    pub(crate) shards: Vec<mpsc::Sender<ShardInput>>,
    pub(crate) coordinator: Coordinator,
}

impl HealthChecker {
    /// Checks every interval and reports each result: `(healthy, report)`.
    pub(crate) async fn run(self, report: mpsc::UnboundedSender<(bool, HealthReport)>) {
        let mut healthy = true;
        let mut failures = 0u32;
        let mut passes = 0u32;
        let mut seq = 0u64;
        loop {
            let asked = clock::now();
            tokio::time::sleep(self.interval).await;
            let lag = clock::now()
                .saturating_duration_since(asked)
                .saturating_sub(self.interval);
            seq += 1;
            let (sip_ms, shards_ms, store_ms) =
                tokio::join!(self.check_sip(seq), self.check_shards(), self.check_store());
            let ok = (self.sip_udp.is_none() || sip_ms.is_some())
                && shards_ms.is_some()
                && store_ms.is_some()
                && lag < self.timeout;
            if ok {
                failures = 0;
                passes += 1;
                if !healthy && passes >= self.failures_max {
                    healthy = true;
                    tracing::info!("health checks pass again");
                }
            } else {
                passes = 0;
                failures += 1;
                if healthy && failures >= self.failures_max {
                    healthy = false;
                    tracing::warn!(?sip_ms, ?shards_ms, ?store_ms, lag_ms = lag.as_millis() as u64,
                        "health checks failed {failures} times in a row: this node reports itself unhealthy");
                }
            }
            let r = HealthReport {
                sip_ms,
                store_ms,
                shards_ms,
                loop_lag_ms: lag.as_millis() as u64,
                failures,
            };
            if report.send((healthy, r)).is_err() {
                return;
            }
        }
    }

    async fn check_sip(&self, seq: u64) -> Option<u64> {
        let target = self.sip_udp?;
        let start = clock::now();
        let probe = async {
            let bind = SocketAddr::new(target.ip(), 0);
            let socket = UdpSocket::bind(bind).await.ok()?;
            let local = socket.local_addr().ok()?;
            let host = |a: SocketAddr| match a {
                SocketAddr::V4(v) => v.to_string(),
                SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
            };
            let request = format!(
                "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-health{seq:x};rport\r\nMax-Forwards: 70\r\nFrom: <sip:health@{local}>;tag=health\r\nTo: <sip:{target}>\r\nCall-ID: health-{seq:x}@{local}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                target = host(target),
                local = host(local),
            );
            socket.send_to(request.as_bytes(), target).await.ok()?;
            let mut buf = [0u8; 2048];
            loop {
                let (n, _) = socket.recv_from(&mut buf).await.ok()?;
                if buf[..n].starts_with(b"SIP/2.0 200") {
                    return Some(());
                }
            }
        };
        tokio::time::timeout(self.timeout, probe)
            .await
            .ok()
            .flatten()?;
        Some(clock::now().saturating_duration_since(start).as_millis() as u64)
    }

    async fn check_shards(&self) -> Option<u64> {
        let start = clock::now();
        let pings = async {
            let mut waits = Vec::with_capacity(self.shards.len());
            for s in &self.shards {
                let (tx, rx) = oneshot::channel();
                s.try_send(ShardInput::Ping(tx)).ok()?;
                waits.push(rx);
            }
            for w in waits {
                w.await.ok()?;
            }
            Some(())
        };
        tokio::time::timeout(self.timeout, pings)
            .await
            .ok()
            .flatten()?;
        Some(clock::now().saturating_duration_since(start).as_millis() as u64)
    }

    async fn check_store(&self) -> Option<u64> {
        let start = clock::now();
        tokio::time::timeout(
            self.timeout,
            self.coordinator.get(super::records::LEADER_KEY),
        )
        .await
        .ok()?
        .ok()?;
        Some(clock::now().saturating_duration_since(start).as_millis() as u64)
    }
}
