//! Stream transports, TCP and TLS (RFC 3261 §18.3): accept loops, outbound
//! TCP connections, and the per-connection loop that frames messages with
//! [`tandem_sip::framing::check`], answers CRLF keep-alive pings (RFC 5626
//! §3.5.1), closes idle connections, and answers framing errors before
//! closing.

use crate::transports::{Inbound, Transports};
use bytes::{Buf, Bytes, BytesMut};
use std::sync::atomic::Ordering;
use tandem_sip::builder::reply_to_malformed;
use tandem_sip::framing::{self, Frame, PONG};
use tandem_transaction::{Flow, Transmit, TransportKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Accepts TCP (or, with `tls`, TLS) connections until the listeners stop.
pub(crate) async fn accept_loop(
    transports: Transports,
    listener: TcpListener,
    transport: TransportKind,
    tls: Option<TlsAcceptor>,
) {
    let local = listener.local_addr().ok();
    let mut stop = transports.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s != crate::transports::RunState::Running) => break,
        };
        let (stream, remote) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(?local, "accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(remote);
        let flow = Flow {
            transport,
            remote,
            local,
            connection: Some(transports.next_connection_id()),
        };
        let Some(queue) = transports.register(flow) else {
            continue;
        };
        transports
            .stats()
            .connections_accepted
            .fetch_add(1, Ordering::Relaxed);
        let t = transports.clone();
        match (transport, tls.clone()) {
            (TransportKind::Tls, Some(acceptor)) => {
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        Ok(s) => serve(t, s, flow, queue).await,
                        Err(e) => {
                            tracing::info!(remote = %flow.remote, "TLS handshake failed: {e}");
                            t.unregister(flow);
                        }
                    }
                });
            }
            (TransportKind::Ws, _) => {
                tokio::spawn(crate::ws::serve(t, stream, flow, queue));
            }
            (TransportKind::Wss, Some(acceptor)) => {
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        Ok(s) => crate::ws::serve(t, s, flow, queue).await,
                        Err(e) => {
                            tracing::info!(remote = %flow.remote, "TLS handshake failed: {e}");
                            t.unregister(flow);
                        }
                    }
                });
            }
            _ => {
                tokio::spawn(serve(t, stream, flow, queue));
            }
        }
    }
}

/// Opens a TCP connection to send `first` on, then serves it like an
/// accepted one (responses come back over it).
pub(crate) fn connect_tcp(transports: Transports, first: Transmit) {
    tokio::spawn(async move {
        let remote = first.flow.remote;
        let stream = match TcpStream::connect(remote).await {
            Ok(s) => s,
            Err(e) => {
                transports
                    .stats()
                    .send_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%remote, "TCP connect failed: {e}");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(first.flow.local);
        let flow = Flow {
            transport: TransportKind::Tcp,
            remote,
            local,
            connection: Some(transports.next_connection_id()),
        };
        let Some(queue) = transports.register(flow) else {
            return;
        };
        // Queued now, written as soon as the connection is served.
        let _ = transports.send(Transmit {
            flow,
            payload: first.payload,
        });
        serve(transports, stream, flow, queue).await;
    });
}

/// Serves one framed stream until it closes, fails or idles out.
pub(crate) async fn serve<S>(
    transports: Transports,
    stream: S,
    flow: Flow,
    mut queue: tokio::sync::mpsc::Receiver<Bytes>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        while let Some(bytes) = queue.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let reason = read_loop(&transports, &mut rd, flow).await;
    tracing::debug!(remote = %flow.remote, transport = %flow.transport, "connection closed: {reason}");
    transports.unregister(flow);
    // Dropping the registry entry drops the queue's sender; the writer
    // finishes what is queued and shuts the stream down.
    let _ = writer.await;
}

async fn read_loop<R: AsyncRead + Unpin>(
    transports: &Transports,
    rd: &mut R,
    flow: Flow,
) -> String {
    let config = &transports.inner.config;
    let mut buf = BytesMut::with_capacity(8192);
    loop {
        let read = tokio::time::timeout(config.idle_timeout, rd.read_buf(&mut buf)).await;
        match read {
            Err(_) => return format!("idle for {:?}", config.idle_timeout),
            Ok(Err(e)) => return format!("read error: {e}"),
            Ok(Ok(0)) => return "closed by peer".into(),
            Ok(Ok(_)) => {}
        }
        loop {
            match framing::check(&buf, &config.limits) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::Ping) => {
                    buf.advance(4);
                    transports
                        .stats()
                        .keepalive_pings
                        .fetch_add(1, Ordering::Relaxed);
                    let _ = transports.send(Transmit {
                        flow,
                        payload: Bytes::from_static(PONG),
                    });
                }
                Ok(Frame::Pong { len }) => buf.advance(len),
                Ok(Frame::Message { len }) => {
                    let bytes = buf.split_to(len).freeze();
                    transports.stats().received.fetch_add(1, Ordering::Relaxed);
                    transports
                        .inner
                        .handler
                        .on_message(transports, Inbound { flow, bytes });
                }
                Err(e) => {
                    // The stream cannot be resynchronised: answer what we
                    // can, then close (RFC 3261 §18.3).
                    transports
                        .stats()
                        .framing_errors
                        .fetch_add(1, Ordering::Relaxed);
                    if let Some(reply) =
                        reply_to_malformed(&buf, e.status(), e.reason_phrase(), None)
                    {
                        let _ = transports.send(Transmit {
                            flow,
                            payload: reply,
                        });
                    }
                    return format!("framing error: {e}");
                }
            }
        }
    }
}
