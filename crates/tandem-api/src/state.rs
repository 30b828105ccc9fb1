//! What every handler reaches: the node's replica, store and counters,
//! the configuration, credentials and the audit log.

use crate::audit::AuditLog;
use crate::auth::Auth;
use std::sync::Arc;
use tandem_config::Config;
use tandem_node::DispatchStats;
use tandem_store::{SharedReplica, Store};
use tandem_transport::Transports;

/// The admin plane's shared state.
pub(crate) struct AppState {
    /// The node's configuration.
    pub(crate) config: Config,
    /// This node's name.
    pub(crate) node_name: String,
    /// The node's SIP listeners, as text.
    pub(crate) listen: Vec<String>,
    /// When the node started, Unix ms.
    pub(crate) started_ms: u64,
    /// The node's in-memory replica.
    pub(crate) replica: SharedReplica,
    /// The store.
    pub(crate) store: Arc<dyn Store>,
    /// Receive-path counters and metrics.
    pub(crate) stats: Arc<DispatchStats>,
    /// The transports, for their counters.
    pub(crate) transports: Transports,
    /// Credentials and the login limiter.
    pub(crate) auth: Auth,
    /// Where changes are written down.
    pub(crate) audit: AuditLog,
    /// Responses sent by the admin plane, by status class.
    pub(crate) http_responses: [std::sync::atomic::AtomicU64; 5],
}

impl AppState {
    /// Whether the node is one of a cluster (etcd backend).
    pub(crate) fn clustered(&self) -> bool {
        self.config.storage.backend == "etcd"
    }
}
