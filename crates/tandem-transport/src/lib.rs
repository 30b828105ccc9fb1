//! # tandem-transport: SIP transports on tokio
//!
//! UDP, TCP, TLS, WebSocket and secure WebSocket listeners (RFC 3261 §18,
//! RFC 7118), and one [`Transports`] handle to send on any of them. What
//! arrives is handed, still raw, to an [`InboundHandler`] on the receiving
//! task; parsing, transactions and everything above belong to the node.
//! This is the runtime layer: it owns sockets and reads tokio's clock for
//! idle timeouts, which the pure crates never do.

mod error;
mod listen;
mod stream;
mod tls;
mod transports;
mod udp;
mod ws;

pub use error::Error;
pub use listen::ListenAddr;
pub use tls::acceptor as tls_acceptor;
pub use transports::{
    Inbound, InboundHandler, TlsFiles, TransportConfig, TransportStats, Transports,
};

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use tandem_transaction::TransportKind;
use tokio::net::TcpListener;

/// Binds every listen address and starts receiving. Must be called within
/// a tokio runtime. Fails without starting anything if an address cannot be
/// bound or TLS is misconfigured.
pub async fn start(
    config: TransportConfig,
    handler: Arc<dyn InboundHandler>,
) -> Result<Transports, Error> {
    let needs_tls = config
        .listen
        .iter()
        .find(|l| matches!(l.transport, TransportKind::Tls | TransportKind::Wss));
    let acceptor = match (needs_tls, &config.tls) {
        (Some(l), None) => {
            return Err(Error::TlsNotConfigured {
                transport: l.transport,
                addr: l.addr,
            })
        }
        (Some(_), Some(files)) => Some(tls::acceptor(files)?),
        (None, _) => None,
    };
    let mut udp = HashMap::new();
    let mut tcp = Vec::new();
    let mut bound = Vec::new();
    for l in &config.listen {
        match l.transport {
            TransportKind::Udp => {
                let sockets = udp::bind(
                    l.addr,
                    config.udp_sockets_per_addr,
                    config.udp_recv_buffer_bytes,
                    config.freebind.contains(&l.addr.ip()),
                )?;
                let actual = sockets[0].local_addr().map_err(|source| Error::Bind {
                    transport: l.transport,
                    addr: l.addr,
                    source,
                })?;
                bound.push(ListenAddr {
                    transport: l.transport,
                    addr: actual,
                });
                udp.insert(actual, sockets);
            }
            transport => {
                let freebind = config.freebind.contains(&l.addr.ip());
                let listener = bind_tcp(l.addr, freebind).map_err(|source| Error::Bind {
                    transport,
                    addr: l.addr,
                    source,
                })?;
                let actual = listener.local_addr().map_err(|source| Error::Bind {
                    transport,
                    addr: l.addr,
                    source,
                })?;
                bound.push(ListenAddr {
                    transport,
                    addr: actual,
                });
                tcp.push((listener, transport));
            }
        }
    }
    let (shutdown, _) = tokio::sync::watch::channel(transports::RunState::Running);
    let transports = Transports {
        inner: Arc::new(transports::Inner {
            config,
            udp,
            registry: Mutex::new(Default::default()),
            next_conn: AtomicU64::new(1),
            stats: Default::default(),
            shutdown,
            bound,
            handler,
        }),
    };
    // Several readers per socket: SO_REUSEPORT spreads different sources
    // over the sockets, and several readers spread one busy source (a
    // trunk, a load generator) over the cores.
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get());
    for sockets in transports.inner.udp.values() {
        for s in sockets {
            for _ in 0..readers {
                tokio::spawn(udp::recv_loop(transports.clone(), s.clone()));
            }
        }
    }
    for (listener, transport) in tcp {
        tokio::spawn(stream::accept_loop(
            transports.clone(),
            listener,
            transport,
            acceptor.clone(),
        ));
    }
    Ok(transports)
}

fn bind_tcp(addr: std::net::SocketAddr, freebind: bool) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if freebind {
        udp::set_freebind(&socket, addr)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}
