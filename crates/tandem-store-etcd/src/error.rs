//! Mapping etcd's failures onto the shared `tandem_store::Error`: the
//! trait speaks that enum only, and the coordination API uses it too, so
//! this crate adds no error type of its own.
//!
//! etcd reports errors as gRPC statuses (`etcdserver/api/v3rpc/rpctypes`):
//! no leader, leader changed, request timed out and every transport
//! failure are `Unavailable`/`DeadlineExceeded` and mean "retry later"; a
//! missing lease is `NotFound`; a compacted revision `OutOfRange`; a
//! request etcd will never take (too large, too many ops) is
//! `InvalidArgument`; a full database (`NOSPACE` alarm) is
//! `ResourceExhausted` and needs an operator.

use tandem_store::Error;
use tonic::Code;

/// What a failure means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No quorum, no leader, unreachable, timed out: retry later.
    Unavailable,
    /// The lease a put named is gone (expired or revoked).
    LeaseNotFound,
    /// The revision asked for was compacted away.
    Compacted,
    /// etcd refuses this request and always will.
    Refused,
    /// Anything else: misconfiguration, permissions, a full database.
    Other,
}

pub(crate) fn kind(e: &etcd_client::Error) -> Kind {
    use etcd_client::Error as E;
    match e {
        E::GRpcStatus(status) => match status.code() {
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Aborted
            | Code::Unknown
            | Code::Internal => Kind::Unavailable,
            Code::NotFound if status.message().contains("lease not found") => Kind::LeaseNotFound,
            Code::OutOfRange => Kind::Compacted,
            Code::InvalidArgument | Code::FailedPrecondition => Kind::Refused,
            _ => Kind::Other,
        },
        E::TransportError(_) | E::IoError(_) | E::WatchError(_) => Kind::Unavailable,
        E::LeaseKeepAliveError(m) if m.contains("not found") => Kind::LeaseNotFound,
        E::LeaseKeepAliveError(_) => Kind::Unavailable,
        _ => Kind::Other,
    }
}

/// The store error for an etcd failure talking to `endpoints`.
pub(crate) fn to_store(e: &etcd_client::Error, endpoints: &str) -> Error {
    match kind(e) {
        Kind::Unavailable | Kind::Compacted => Error::Unavailable {
            reason: format!("etcd {endpoints}: {e}"),
        },
        Kind::LeaseNotFound | Kind::Refused => Error::Invalid {
            key: String::new(),
            reason: format!("etcd {endpoints} refused the request: {e}"),
        },
        Kind::Other => Error::Storage {
            path: format!("etcd {endpoints}"),
            reason: e.to_string(),
        },
    }
}

/// A request that did not complete within its bound.
pub(crate) fn timed_out(what: &str, endpoints: &str) -> Error {
    Error::Unavailable {
        reason: format!("etcd {endpoints}: {what} timed out (no quorum, or unreachable)"),
    }
}
