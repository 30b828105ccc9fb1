//! The runtime's error type.

use thiserror::Error;

/// Why a node could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A transport could not be set up.
    #[error(transparent)]
    Transport(#[from] tandem_transport::Error),
    /// The store cannot be opened or read.
    #[error("store {backend}: {reason}")]
    Store {
        /// Which store.
        backend: String,
        /// What went wrong.
        reason: String,
    },
    /// The DNS zone (`[dns.zone]`) cannot be built or served.
    #[error("DNS zone: {source}")]
    Zone {
        /// Why.
        source: tandem_dns::Error,
    },
    /// The ActionURL webhooks (`[[webhooks]]`) cannot start.
    #[error("webhooks: {source}")]
    Webhooks {
        /// Why.
        source: tandem_webhook::Error,
    },
    /// Nothing to listen on.
    #[error("no listen address: give --listen (e.g. --listen udp:127.0.0.1:5060) or sip.listen in the config file")]
    NoListenAddress,
}
