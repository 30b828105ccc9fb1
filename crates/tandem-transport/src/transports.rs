//! The transport handle: the sockets and connections a node owns, and the
//! one `send` that takes a [`Transmit`] wherever its flow says (RFC 3261
//! §18.2.2: back over the connection a request came on; otherwise to the
//! address, reusing a connection to it when one exists, as RFC 5923 would).

use crate::error::Error;
use crate::listen::ListenAddr;
use bytes::Bytes;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tandem_sip::Limits;
use tandem_transaction::{ConnectionId, Flow, Transmit, TransportKind};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

/// A message as received: raw bytes and the flow they came on.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Where it came from.
    pub flow: Flow,
    /// One whole message (a datagram, a framed stream message, a WebSocket message).
    pub bytes: Bytes,
}

/// What the node does with received messages. Called on the receiving
/// task, so that stateless answers need no hop to another task.
pub trait InboundHandler: Send + Sync + 'static {
    /// A message arrived.
    fn on_message(&self, transports: &Transports, inbound: Inbound);
    /// A connection closed (RFC 5626 §4.4.1: a flow failed).
    fn on_connection_closed(&self, _flow: Flow) {}
}

/// Where the listeners are in their life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    Running,
    NotAccepting,
    Stopped,
}

/// Settings of the transport layer.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Addresses to listen on.
    pub listen: Vec<ListenAddr>,
    /// Certificate chain and private key (PEM files) for TLS and WSS.
    pub tls: Option<TlsFiles>,
    /// UDP sockets per UDP address (SO_REUSEPORT), so that several cores receive.
    pub udp_sockets_per_addr: usize,
    /// Receive buffer asked for on each UDP socket, in bytes.
    pub udp_recv_buffer_bytes: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Most connections from one IP address.
    pub connections_per_ip_max: usize,
    /// Most connections in all.
    pub connections_max: usize,
    /// Limits for messages read from streams.
    pub limits: Limits,
    /// Addresses that may be bound before they are configured on the host
    /// (IP_FREEBIND): a floating IP is only present while this node leads,
    /// but its listeners exist from the start and receive as soon as it
    /// arrives.
    pub freebind: Vec<IpAddr>,
}

/// Certificate and key files for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub certificate: std::path::PathBuf,
    /// PEM private key.
    pub private_key: std::path::PathBuf,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            listen: Vec::new(),
            tls: None,
            udp_sockets_per_addr: std::thread::available_parallelism().map_or(1, |n| n.get()),
            udp_recv_buffer_bytes: 8 << 20,
            idle_timeout: Duration::from_secs(300),
            connections_per_ip_max: 256,
            connections_max: 20_000,
            limits: Limits::default(),
            freebind: Vec::new(),
        }
    }
}

/// Counters of what the transports did.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Messages received.
    pub received: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Messages that could not be sent.
    pub send_errors: AtomicU64,
    /// Connections accepted.
    pub connections_accepted: AtomicU64,
    /// Connections refused (per-IP or total limit).
    pub connections_refused: AtomicU64,
    /// Stream framing errors (connection closed after answering).
    pub framing_errors: AtomicU64,
    /// CRLF keep-alive pings answered.
    pub keepalive_pings: AtomicU64,
}

pub(crate) struct Connection {
    pub(crate) tx: mpsc::Sender<Bytes>,
    /// Who is at the other end: a flow naming this connection's id but
    /// another remote (a flow token made by another node, whose ids are
    /// its own) must not be sent here.
    pub(crate) remote: (TransportKind, SocketAddr),
}

#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) conns: HashMap<ConnectionId, Connection>,
    pub(crate) by_remote: HashMap<(TransportKind, SocketAddr), ConnectionId>,
    pub(crate) per_ip: HashMap<IpAddr, usize>,
}

pub(crate) struct Inner {
    pub(crate) config: TransportConfig,
    pub(crate) udp: HashMap<SocketAddr, Vec<Arc<UdpSocket>>>,
    pub(crate) registry: Mutex<Registry>,
    pub(crate) next_conn: AtomicU64,
    pub(crate) stats: TransportStats,
    pub(crate) shutdown: watch::Sender<RunState>,
    pub(crate) bound: Vec<ListenAddr>,
    pub(crate) handler: Arc<dyn InboundHandler>,
}

/// A cheap, cloneable handle on a node's transports.
#[derive(Clone)]
pub struct Transports {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Transports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transports")
            .field("bound", &self.inner.bound)
            .finish()
    }
}

impl Transports {
    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain maps behind: keep going.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The addresses actually bound (ports resolved when 0 was asked for).
    pub fn local_addrs(&self) -> &[ListenAddr] {
        &self.inner.bound
    }

    /// The counters.
    pub fn stats(&self) -> &TransportStats {
        &self.inner.stats
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.registry().conns.len()
    }

    /// Stops accepting new connections. UDP keeps receiving and open
    /// connections keep running, so that live transactions can finish.
    pub fn stop_accepting(&self) {
        self.inner.shutdown.send_if_modified(|s| {
            let changed = *s == RunState::Running;
            if changed {
                *s = RunState::NotAccepting;
            }
            changed
        });
    }

    /// Stops every listener, UDP included.
    pub fn stop(&self) {
        let _ = self.inner.shutdown.send(RunState::Stopped);
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<RunState> {
        self.inner.shutdown.subscribe()
    }

    pub(crate) fn next_connection_id(&self) -> ConnectionId {
        ConnectionId(self.inner.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Registers a new connection if the limits allow; returns its outbound queue.
    pub(crate) fn register(&self, flow: Flow) -> Option<mpsc::Receiver<Bytes>> {
        let cfg = &self.inner.config;
        let mut reg = self.registry();
        let ip = flow.remote.ip();
        let count = reg.per_ip.get(&ip).copied().unwrap_or(0);
        if count >= cfg.connections_per_ip_max || reg.conns.len() >= cfg.connections_max {
            self.inner
                .stats
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(remote = %flow.remote, transport = %flow.transport, per_ip = count,
                "connection refused: limit reached (connections_per_ip_max {}, connections_max {})",
                cfg.connections_per_ip_max, cfg.connections_max);
            return None;
        }
        let (tx, rx) = mpsc::channel(256);
        let id = flow.connection.expect("stream flows carry a connection id");
        reg.per_ip.insert(ip, count + 1);
        reg.by_remote.insert((flow.transport, flow.remote), id);
        reg.conns.insert(
            id,
            Connection {
                tx,
                remote: (flow.transport, flow.remote),
            },
        );
        Some(rx)
    }

    pub(crate) fn unregister(&self, flow: Flow) {
        let mut reg = self.registry();
        let Some(id) = flow.connection else { return };
        if reg.conns.remove(&id).is_some() {
            if reg.by_remote.get(&(flow.transport, flow.remote)) == Some(&id) {
                reg.by_remote.remove(&(flow.transport, flow.remote));
            }
            let ip = flow.remote.ip();
            if let Some(n) = reg.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    reg.per_ip.remove(&ip);
                }
            }
        }
        drop(reg);
        self.inner.handler.on_connection_closed(flow);
    }

    /// Sends `t`. Over UDP the datagram leaves from the socket bound to the
    /// flow's local address. Over streams it goes on the flow's connection,
    /// or any open connection to the remote address; failing that a new TCP
    /// connection is opened (TLS and WebSocket connections are only ever
    /// opened by the far end).
    pub fn send(&self, t: Transmit) -> Result<(), Error> {
        let result = match t.flow.transport {
            TransportKind::Udp => self.send_udp(t),
            _ => self.send_stream(t),
        };
        let stat = if result.is_ok() {
            &self.inner.stats.sent
        } else {
            &self.inner.stats.send_errors
        };
        stat.fetch_add(1, Ordering::Relaxed);
        result
    }

    fn send_udp(&self, t: Transmit) -> Result<(), Error> {
        let sockets = self
            .inner
            .udp
            .get(&t.flow.local)
            .or_else(|| self.other_udp(t.flow.remote, None))
            .ok_or(Error::NoConnection {
                transport: TransportKind::Udp,
                remote: t.flow.remote,
            })?;
        let socket = &sockets[(t.flow.remote.port() as usize) % sockets.len()];
        match socket.try_send_to(&t.payload, t.flow.remote) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The socket buffer is full: wait for room on a task rather
                // than drop the message.
                let socket = socket.clone();
                tokio::spawn(async move {
                    if let Err(e) = socket.send_to(&t.payload, t.flow.remote).await {
                        tracing::warn!(remote = %t.flow.remote, "udp send failed: {e}");
                    }
                });
                Ok(())
            }
            // The floating IP left this host (the node stepped down while a
            // transaction it started lives on): answer from the node's own
            // address rather than not at all. Linux reports the missing
            // source as EADDRNOTAVAIL, EINVAL or ENETUNREACH depending on the
            // route lookup, so any error from a floating-IP socket counts.
            Err(e) if self.inner.config.freebind.contains(&t.flow.local.ip()) => {
                let own = self
                    .other_udp(t.flow.remote, Some(t.flow.local.ip()))
                    .ok_or(Error::Send {
                        remote: t.flow.remote,
                        source: e,
                    })?;
                let socket = &own[(t.flow.remote.port() as usize) % own.len()];
                socket
                    .try_send_to(&t.payload, t.flow.remote)
                    .map(|_| ())
                    .map_err(|source| Error::Send {
                        remote: t.flow.remote,
                        source,
                    })
            }
            Err(source) => Err(Error::Send {
                remote: t.flow.remote,
                source,
            }),
        }
    }

    /// UDP sockets of the remote's address family, not bound to the
    /// floating IP (`avoid`) nor to any address that may come and go.
    fn other_udp(&self, remote: SocketAddr, avoid: Option<IpAddr>) -> Option<&Vec<Arc<UdpSocket>>> {
        self.inner.udp.iter().find_map(|(local, v)| {
            let usable = local.is_ipv4() == remote.is_ipv4()
                && Some(local.ip()) != avoid
                && !self.inner.config.freebind.contains(&local.ip());
            usable.then_some(v)
        })
    }

    fn send_stream(&self, t: Transmit) -> Result<(), Error> {
        let queue = {
            let reg = self.registry();
            let by_id = t
                .flow
                .connection
                .and_then(|id| reg.conns.get(&id))
                .filter(|c| c.remote == (t.flow.transport, t.flow.remote));
            let conn = by_id.or_else(|| {
                reg.by_remote
                    .get(&(t.flow.transport, t.flow.remote))
                    .and_then(|id| reg.conns.get(id))
            });
            conn.map(|c| c.tx.clone())
        };
        match queue {
            Some(tx) => tx.try_send(t.payload).map_err(|_| Error::NoConnection {
                transport: t.flow.transport,
                remote: t.flow.remote,
            }),
            None if t.flow.transport == TransportKind::Tcp => {
                crate::stream::connect_tcp(self.clone(), t);
                Ok(())
            }
            None => Err(Error::NoConnection {
                transport: t.flow.transport,
                remote: t.flow.remote,
            }),
        }
    }
}
