//! The store interface every backend implements (embedded, etcd).

use crate::error::Error;
use std::future::Future;
use std::pin::Pin;

/// A global revision: every commit advances it; records carry the revision
/// of their last change.
pub type Rev = u64;

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The key.
    pub key: String,
    /// The value (JSON).
    pub value: Vec<u8>,
    /// The revision of its last change.
    pub rev: Rev,
    /// When it expires, Unix milliseconds.
    pub expires_at_ms: Option<u64>,
}

/// One write in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create or replace.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
        /// When the backend deletes it by itself, Unix milliseconds.
        expires_at_ms: Option<u64>,
    },
    /// Remove (no error if absent).
    Delete {
        /// The key.
        key: String,
    },
    /// A condition: the whole commit fails with [`crate::Error::Conflict`]
    /// unless `key` is as expected when it is applied. This is how exactly
    /// one node writes a call's CDR, or adopts a dead node's call.
    Require {
        /// The key.
        key: String,
        /// What it must be.
        expect: Expect,
    },
}

/// What a [`Op::Require`] expects of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The key does not exist.
    Absent,
    /// The key exists.
    Present,
    /// The key exists and was last changed at this revision.
    Rev(Rev),
}

impl Op {
    /// The key the op is about.
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key } | Op::Require { key, .. } => key,
        }
    }
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A record was created or replaced.
    Put(Record),
    /// A record was removed (deleted or expired).
    Delete {
        /// The key.
        key: String,
        /// The revision of the removal.
        rev: Rev,
    },
}

impl Change {
    /// The revision of the change.
    pub fn rev(&self) -> Rev {
        match self {
            Change::Put(r) => r.rev,
            Change::Delete { rev, .. } => *rev,
        }
    }

    /// The key changed.
    pub fn key(&self) -> &str {
        match self {
            Change::Put(r) => &r.key,
            Change::Delete { key, .. } => key,
        }
    }
}

/// Every record under a prefix, at one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The revision the snapshot was taken at.
    pub rev: Rev,
    /// The records.
    pub records: Vec<Record>,
}

/// A boxed future, so that the trait is object-safe.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

/// A stream of changes: every change after the starting revision, in
/// revision order, then new ones as they happen.
pub type Watch = tokio::sync::mpsc::Receiver<Result<Change, Error>>;

/// A backend.
pub trait Store: Send + Sync + 'static {
    /// Applies every op atomically (all or none, durable when the future
    /// resolves: quorum for a cluster, the disk's log for one node) and
    /// returns the revision of the commit.
    fn commit(&self, ops: Vec<Op>) -> StoreFuture<Rev>;
    /// Every record whose key starts with `prefix`, at one revision.
    fn snapshot(&self, prefix: &str) -> StoreFuture<Snapshot>;
    /// Changes to keys under `prefix` with a revision greater than `after`.
    fn watch(&self, prefix: &str, after: Rev) -> Watch;
    /// A short name for logs (`embedded:/path`, `etcd:host:port`).
    fn describe(&self) -> String;
}
