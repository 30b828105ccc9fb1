//! Why the operations plane could not start.

use std::net::SocketAddr;
use std::path::PathBuf;
use thiserror::Error;

/// A failure to start the admin plane.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address cannot be bound.
    #[error("admin plane: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The HTTPS certificate or key cannot be used.
    #[error("admin plane: {0}")]
    Tls(#[from] tandem_transport::Error),
    /// The audit log cannot be opened for appending.
    #[error("admin plane: audit log {path}: {source}")]
    AuditLog {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A user's `password_file` cannot be read or holds no PHC string.
    #[error("admin plane: password file of user {user}: {path}: {problem}")]
    PasswordFile {
        /// The user.
        user: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The store refused the initial admin user.
    #[error("admin plane: cannot create the initial admin user: {source}")]
    InitialUser {
        /// The store's error.
        source: tandem_store::Error,
    },
    /// The API could not be reached (the CLI's client).
    #[error("{url}: {reason}")]
    Request {
        /// What was asked.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The API answered with an error (the CLI's client).
    #[error("{url}: {status}: {detail}")]
    Status {
        /// What was asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The problem's detail.
        detail: String,
    },
    /// The configuration has no `[admin]` section.
    #[error("admin plane: the configuration has no [admin] section")]
    NotConfigured,
}
