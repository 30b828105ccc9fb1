//! SIP over WebSocket (RFC 7118): the HTTP upgrade must offer the `sip`
//! subprotocol, which the answer then names; each WebSocket message carries
//! exactly one SIP message, so no stream framing is needed.

use crate::transports::{Inbound, Transports};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering;
use tandem_transaction::Flow;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Checks the upgrade request for the `sip` subprotocol and names it in the answer.
#[allow(clippy::result_large_err)] // the error type is tungstenite's
fn negotiate(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offers_sip = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("sip"));
    if !offers_sip {
        let mut err = ErrorResponse::new(Some(
            "WebSocket subprotocol 'sip' required (RFC 7118)".into(),
        ));
        *err.status_mut() = StatusCode::BAD_REQUEST;
        return Err(err);
    }
    resp.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    Ok(resp)
}

/// Serves one WebSocket connection (plain or over TLS) until it closes.
pub(crate) async fn serve<S>(
    transports: Transports,
    stream: S,
    flow: Flow,
    mut queue: tokio::sync::mpsc::Receiver<Bytes>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws = match tokio_tungstenite::accept_hdr_async(stream, negotiate).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::info!(remote = %flow.remote, "WebSocket handshake failed: {e}");
            transports.unregister(flow);
            return;
        }
    };
    let (mut sink, mut stream) = ws.split();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = queue.recv().await {
            let msg = match String::from_utf8(bytes.to_vec()) {
                Ok(text) => WsMessage::text(text),
                Err(_) => WsMessage::binary(bytes),
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let idle = transports.inner.config.idle_timeout;
    let reason = loop {
        let next = match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => break format!("idle for {idle:?}"),
            Ok(None) => break "closed by peer".to_string(),
            Ok(Some(Err(e))) => break format!("read error: {e}"),
            Ok(Some(Ok(m))) => m,
        };
        let bytes: Bytes = match next {
            WsMessage::Text(t) => Bytes::copy_from_slice(t.as_bytes()),
            WsMessage::Binary(b) => b,
            WsMessage::Close(_) => break "closed by peer".to_string(),
            _ => continue, // ping and pong are answered by tungstenite
        };
        if bytes.len() > transports.inner.config.limits.message_size_max {
            transports
                .stats()
                .framing_errors
                .fetch_add(1, Ordering::Relaxed);
            break format!("message of {} bytes over the limit", bytes.len());
        }
        // RFC 5626 keep-alives are plain CRLFs on streams; over WebSocket a
        // lone CRLF is still only a keep-alive.
        if bytes.iter().all(|&c| c == b'\r' || c == b'\n') {
            continue;
        }
        transports.stats().received.fetch_add(1, Ordering::Relaxed);
        transports
            .inner
            .handler
            .on_message(&transports, Inbound { flow, bytes });
    };
    tracing::debug!(remote = %flow.remote, "WebSocket closed: {reason}");
    transports.unregister(flow);
    let _ = writer.await;
}
