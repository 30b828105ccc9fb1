//! The transaction layer's error type: what the TU asked for that cannot be done.

use crate::TxId;
use thiserror::Error;

/// A refused request from the TU.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// No live transaction has this id (it ended, or never existed).
    #[error("no transaction {tx:?}")]
    NoSuchTransaction {
        /// The id given.
        tx: TxId,
    },
    /// A response was given for a client transaction.
    #[error("{tx:?} is a client transaction")]
    NotAServerTransaction {
        /// The id given.
        tx: TxId,
    },
    /// CANCEL was asked of a non-INVITE transaction.
    #[error("{tx:?} is not a client INVITE transaction")]
    NotAnInvite {
        /// The id given.
        tx: TxId,
    },
    /// A final response was already sent; only 2xx may follow a 2xx.
    #[error("{tx:?} already sent its final response; {code} refused")]
    FinalResponseAlreadySent {
        /// The transaction.
        tx: TxId,
        /// The status refused.
        code: u16,
    },
    /// A response was given where a request was expected.
    #[error("a client transaction needs a request")]
    NotARequest,
    /// ACK for a 2xx is sent outside transactions (RFC 3261 §17.1.1.3).
    #[error("ACK is not sent through a transaction")]
    AckIsNotATransaction,
    /// The request has no top Via branch.
    #[error("the request has no Via branch")]
    MissingBranch,
    /// Another live client transaction uses this branch and method.
    #[error("a client transaction with this branch is already live")]
    DuplicateBranch,
    /// The cap on live transactions is reached.
    #[error("transaction layer full ({limit} live transactions)")]
    Overloaded {
        /// The configured cap.
        limit: usize,
    },
}
