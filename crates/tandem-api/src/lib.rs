//! # tandem-api: the operations plane
//!
//! Started by `tandem run` next to a node when the configuration has an
//! `[admin]` section: a REST API under `/api/v1` described by an OpenAPI
//! document, server-sent events for live counts, the web dashboard at
//! `/`, and Prometheus metrics at `/metrics`. It sits above the node: it
//! reads the node's replica and counters and writes through the store the
//! node follows, exactly as the CLI does. Every request needs
//! credentials (HTTP Basic users with Argon2id hashes, or Bearer tokens),
//! read-only users may only read, failed logins are limited per address,
//! and every change is written to an audit log. Documented in
//! docs/operations.md.

mod audit;
mod auth;
mod calls;
mod cdrs;
pub mod client;
mod cluster;
mod dashboard;
mod error;
mod events;
mod extensions;
mod metrics;
mod openapi;
mod params;
mod password;
mod problem;
mod registrations;
mod server;
mod state;

pub use error::Error;
pub use password::hash_password;

use auth::Principal;
use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use problem::Problem;
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use tandem_config::Config;
use tandem_node::Node;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The running admin plane.
pub struct AdminPlane {
    addr: SocketAddr,
    https: bool,
    initial: Option<(String, String)>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for AdminPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminPlane")
            .field("addr", &self.addr)
            .field("https", &self.https)
            .finish_non_exhaustive()
    }
}

async fn whoami(
    State(app): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({"name": p.name, "role": p.role, "node": app.node_name}))
}

async fn status(State(app): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, Problem> {
    let cluster = cluster::read(&app, 10).await?;
    let now = tandem_node::clock::unix_ms();
    Ok(Json(serde_json::json!({
        "node": app.node_name,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": now.saturating_sub(app.started_ms) / 1000,
        "counts": events::counts(&app),
        "cluster": cluster,
    })))
}

async fn not_found() -> Problem {
    Problem::not_found("no such route: see /api/v1/openapi.json")
}

async fn method_not_allowed() -> Problem {
    Problem::method_not_allowed()
}

fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(dashboard::index))
        .route("/assets/{file}", get(dashboard::asset))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/status", get(status))
        .route(
            "/api/v1/extensions",
            get(extensions::list).post(extensions::create),
        )
        .route(
            "/api/v1/extensions/{number}",
            get(extensions::get)
                .put(extensions::update)
                .delete(extensions::delete),
        )
        .route("/api/v1/registrations", get(registrations::list))
        .route("/api/v1/registrations/{id}", delete(registrations::delete))
        .route("/api/v1/calls", get(calls::list))
        .route("/api/v1/cdrs", get(cdrs::list))
        .route("/api/v1/cluster", get(cluster::status))
        .route("/api/v1/cluster/events", get(cluster::events))
        .route("/api/v1/cluster/nodes/{node}/drain", post(cluster::drain))
        .route("/api/v1/cluster/nodes/{node}/resume", post(cluster::resume))
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/openapi.json", get(openapi::get))
        .route("/metrics", get(metrics::get))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(app.clone(), auth::require))
        .layer(from_fn_with_state(app.clone(), audit::record))
        .with_state(app)
}

impl AdminPlane {
    /// Starts the admin plane of `node` as `config`'s `[admin]` section
    /// says; on first start, creates the initial admin user (see
    /// [`AdminPlane::initial_credentials`]).
    pub async fn start(node: &Node, config: &Config) -> Result<AdminPlane, Error> {
        let admin = config.admin.clone().ok_or(Error::NotConfigured)?;
        let store = node.store().clone();
        let now_ms = tandem_node::clock::unix_ms();
        let initial = password::ensure_initial_user(&store, &admin.initial_user, now_ms)
            .await?
            .map(|pw| (admin.initial_user.clone(), pw));
        let tls = match &admin.tls {
            Some(t) => Some(tandem_transport::tls_acceptor(
                &tandem_transport::TlsFiles {
                    certificate: t.certificate.clone(),
                    private_key: t.private_key.clone(),
                },
            )?),
            None => None,
        };
        let audit = audit::AuditLog::open(&admin.audit_log_path(config))?;
        let auth = auth::Auth::new(&admin, store.clone())?;
        let app = Arc::new(AppState {
            config: config.clone(),
            node_name: config.node.name.clone().unwrap_or_else(|| "tandem".into()),
            listen: node.local_addrs().iter().map(|l| l.to_string()).collect(),
            started_ms: now_ms,
            replica: node.shared().replica.clone(),
            store,
            stats: node.stats_handle(),
            transports: node.transports().clone(),
            auth,
            audit,
            http_responses: Default::default(),
        });
        let want = admin.listen_addr();
        let listener = tokio::net::TcpListener::bind(want)
            .await
            .map_err(|source| Error::Bind { addr: want, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr: want, source })?;
        let (stop, stopped) = watch::channel(false);
        let https = tls.is_some();
        let task = tokio::spawn(server::run(listener, tls, router(app), stopped));
        tracing::info!(target: "tandem::admin", %addr, https, "admin plane listening");
        Ok(AdminPlane {
            addr,
            https,
            initial,
            stop,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL (`http://127.0.0.1:8080`).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.addr
        )
    }

    /// The user and password created on this start, if the store had no
    /// admin user: to be shown once, then forgotten.
    pub fn initial_credentials(&self) -> Option<(&str, &str)> {
        self.initial.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Stops serving: the listener and every connection close.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
