//! The transport layer's error type.

use std::net::SocketAddr;
use std::path::PathBuf;
use tandem_transaction::TransportKind;
use thiserror::Error;

/// What can go wrong setting up or using a transport.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A listen address could not be read.
    #[error("invalid listen address {given:?}: {why}")]
    ListenAddr {
        /// What was given.
        given: String,
        /// What is expected.
        why: &'static str,
    },
    /// Binding a listening socket failed.
    #[error("cannot listen on {transport}:{addr}: {source}")]
    Bind {
        /// The transport.
        transport: TransportKind,
        /// The address.
        addr: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A TLS or WSS listener was configured without certificate and key.
    #[error("{transport} listener on {addr} needs tls.certificate and tls.private_key")]
    TlsNotConfigured {
        /// The transport.
        transport: TransportKind,
        /// The address.
        addr: SocketAddr,
    },
    /// A certificate or key file could not be read or used.
    #[error("TLS file {path}: {why}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// No connection exists to send on, and none can be opened for this transport.
    #[error("no {transport} connection to {remote}")]
    NoConnection {
        /// The transport.
        transport: TransportKind,
        /// The far end.
        remote: SocketAddr,
    },
    /// Opening an outbound connection failed.
    #[error("cannot connect to {transport}:{remote}: {source}")]
    Connect {
        /// The transport.
        transport: TransportKind,
        /// The far end.
        remote: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Sending a datagram failed.
    #[error("cannot send to {remote}: {source}")]
    Send {
        /// The far end.
        remote: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
}
