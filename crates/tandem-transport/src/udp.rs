//! UDP (RFC 3261 §18): several sockets per address with SO_REUSEPORT so that
//! every core receives, each with a large receive buffer; each datagram is
//! one message.

use crate::error::Error;
use crate::transports::{Inbound, Transports};
use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tandem_transaction::{Flow, TransportKind};
use tokio::net::UdpSocket;

/// Binds `count` sockets to `addr` (port 0 is resolved by the first one).
pub(crate) fn bind(
    addr: SocketAddr,
    count: usize,
    recv_buffer: usize,
    freebind: bool,
) -> Result<Vec<Arc<UdpSocket>>, Error> {
    let bind_err = |source| Error::Bind {
        transport: TransportKind::Udp,
        addr,
        source,
    };
    let mut sockets = Vec::with_capacity(count.max(1));
    let mut actual = addr;
    for _ in 0..count.max(1) {
        let socket = Socket::new(
            Domain::for_address(actual),
            Type::DGRAM,
            Some(Protocol::UDP),
        )
        .map_err(bind_err)?;
        if actual.is_ipv6() {
            socket.set_only_v6(true).map_err(bind_err)?;
        }
        socket.set_reuse_port(true).map_err(bind_err)?;
        if freebind {
            set_freebind(&socket, actual).map_err(bind_err)?;
        }
        // Best effort: the kernel caps this at net.core.rmem_max.
        let _ = socket.set_recv_buffer_size(recv_buffer);
        let _ = socket.set_send_buffer_size(recv_buffer);
        socket.set_nonblocking(true).map_err(bind_err)?;
        socket.bind(&actual.into()).map_err(bind_err)?;
        if actual.port() == 0 {
            actual = socket
                .local_addr()
                .map_err(bind_err)?
                .as_socket()
                .unwrap_or(actual);
        }
        let std_socket: std::net::UdpSocket = socket.into();
        sockets.push(Arc::new(UdpSocket::from_std(std_socket).map_err(bind_err)?));
    }
    Ok(sockets)
}

/// Lets `socket` bind `addr` before the address exists on the host.
pub(crate) fn set_freebind(socket: &Socket, addr: SocketAddr) -> std::io::Result<()> {
    if addr.is_ipv4() {
        socket.set_freebind_v4(true)
    } else {
        socket.set_freebind_v6(true)
    }
}

/// Receives on one socket until the listeners stop.
pub(crate) async fn recv_loop(transports: Transports, socket: Arc<UdpSocket>) {
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut stop = transports.shutdown_signal();
    let mut buf = vec![0u8; 65_536];
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = stop.wait_for(|s| *s == crate::transports::RunState::Stopped) => break,
        };
        match received {
            Ok((n, remote)) => {
                if n == 0 || buf[..n].iter().all(|&c| c == b'\r' || c == b'\n' || c == 0) {
                    // Keep-alive noise (CRLF, or the zero bytes some phones send).
                    continue;
                }
                transports.stats().received.fetch_add(1, Ordering::Relaxed);
                let flow = Flow {
                    transport: TransportKind::Udp,
                    remote,
                    local,
                    connection: None,
                };
                let bytes = Bytes::copy_from_slice(&buf[..n]);
                transports
                    .inner
                    .handler
                    .on_message(&transports, Inbound { flow, bytes });
            }
            Err(e) => {
                // ICMP port unreachable from an earlier send shows up here on
                // Linux; it is not fatal to the socket.
                tracing::debug!(%local, "udp recv: {e}");
            }
        }
    }
}
