//! The HTTP client: hyper's pooled client over plain TCP or TLS (rustls on
//! the ring provider, as tandem-transport; HTTP/1.1), and one attempt: send
//! the request, wait for the status within the deadline, then drain a
//! bounded amount of body so the connection can be reused.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::backoff::parse_retry_after;
use crate::request::Prepared;
use crate::Error;

/// The client every webhook of a dispatcher shares.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How much of a response body is read (and thrown away).
const BODY_DRAIN_MAX: usize = 64 * 1024;

/// A TLS configuration trusting the host's certificate store.
pub(crate) fn native_tls_config() -> rustls::ClientConfig {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(target: "tandem::webhook", %error, "reading the host's trusted certificates");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!(
            target: "tandem::webhook",
            ignored,
            "no trusted certificates found on the host: https webhooks will fail"
        );
    }
    client_config(roots)
}

/// A TLS configuration trusting `roots`, on the ring provider.
pub(crate) fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The shared client, speaking http and https.
pub(crate) fn build(tls: rustls::ClientConfig) -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1)
        .build(connector)
}

/// What one attempt got back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    /// The `Retry-After` delay, when given in seconds.
    pub(crate) retry_after: Option<Duration>,
}

/// Sends `request` once; the status must arrive before `deadline`.
pub(crate) async fn attempt(
    client: &HttpClient,
    request: &Prepared,
    deadline: Instant,
    timeout: Duration,
) -> Result<Response, Error> {
    let response = tokio::time::timeout_at(deadline, client.request(request.to_request()))
        .await
        .map_err(|_| Error::Timeout { timeout })?
        .map_err(|source| Error::Http { source })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| parse_retry_after(v.as_bytes()));
    // The verdict is already known; the body only matters for reusing the
    // connection, so a slow or huge one just loses it.
    let _ = tokio::time::timeout_at(
        deadline,
        Limited::new(response.into_body(), BODY_DRAIN_MAX).collect(),
    )
    .await;
    Ok(Response {
        status,
        retry_after,
    })
}
