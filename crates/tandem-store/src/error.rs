//! The store's error type, shared by every backend.

use thiserror::Error;

/// Why a store operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The backend cannot be reached or has no quorum: retry later.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What the backend said.
        reason: String,
    },
    /// The backend's files or data are unusable.
    #[error("store {path}: {reason}")]
    Storage {
        /// The file or endpoint.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A record's value does not decode as the type its key promises.
    #[error("record {key}: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// The decoding error.
        reason: String,
    },
    /// A write was refused before reaching the store: an empty or
    /// oversized key or value.
    #[error("refused write to {key:?}: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A commit's condition ([`crate::Op::Require`]) did not hold: nothing
    /// was written.
    #[error("condition on {key:?} did not hold")]
    Conflict {
        /// The key whose condition failed.
        key: String,
    },
    /// The store was closed.
    #[error("store closed")]
    Closed,
}
