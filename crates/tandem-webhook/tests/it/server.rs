//! Test servers on loopback: a recording HTTP server (optionally behind
//! TLS) answering each request with the next status of its script (200
//! once the script is used up), a server that accepts and never answers,
//! and an address nobody listens on.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tandem_webhook::{Stats, WebhookConfig, WebhookEvent};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    /// Path and query, as sent.
    pub(crate) uri: String,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
    /// The status it was answered with.
    pub(crate) status: u16,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    pub(crate) fn event(&self) -> WebhookEvent {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
struct Shared {
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

/// A recording server.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl Server {
    /// A plain HTTP server on a free loopback port.
    pub(crate) async fn start(script: &[u16]) -> Server {
        Server::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), script, None).await
    }

    /// A server on `addr`, behind TLS when `tls` is given.
    pub(crate) async fn start_on(
        addr: SocketAddr,
        script: &[u16],
        tls: Option<TlsAcceptor>,
    ) -> Server {
        assert!(addr.ip().is_loopback());
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Shared::default();
        shared.script.lock().unwrap().extend(script);
        let task = tokio::spawn({
            let shared = shared.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let shared = shared.clone();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| answer(shared.clone(), req));
                        let http = hyper::server::conn::http1::Builder::new();
                        match tls {
                            Some(tls) => {
                                let Ok(stream) = tls.accept(stream).await else {
                                    return;
                                };
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                            None => {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    });
                }
            }
        });
        Server { addr, shared, task }
    }

    /// `http://<addr><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    shared: Shared,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let status = shared.script.lock().unwrap().pop_front().unwrap_or(200);
    shared.requests.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body,
        status,
    });
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"ok")));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
    Ok(response)
}

/// A loopback address where nothing listens (connections are refused).
pub(crate) fn dead_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A loopback server that accepts connections and never answers.
pub(crate) async fn silent() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, task)
}

/// A webhook to `url` with short timings for tests.
pub(crate) fn fast(url: String) -> WebhookConfig {
    WebhookConfig {
        timeout_ms: 2_000,
        retries_max: 5,
        backoff_initial_ms: 10,
        backoff_max_ms: 40,
        ..WebhookConfig::new(url)
    }
}

/// An event named `name` at `at_ms`.
pub(crate) fn event(name: &str, at_ms: u64) -> WebhookEvent {
    WebhookEvent {
        event: name.into(),
        node: "pbx-a".into(),
        at_ms,
        epoch: Some(12),
        detail: serde_json::json!({"leader": "pbx-a", "floating_ip": "192.0.2.10"}),
        cluster: "east".into(),
    }
}

/// Waits (10 s at most) until `done` holds for the totals of `stats`.
pub(crate) async fn until(
    what: &str,
    mut stats: impl FnMut() -> Stats,
    done: impl Fn(&Stats) -> bool,
) {
    for _ in 0..1_000 {
        if done(&stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}: {:?}", stats());
}
