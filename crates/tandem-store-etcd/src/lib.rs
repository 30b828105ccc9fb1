//! # tandem-store-etcd: the clustered store
//!
//! The etcd backend of [`tandem_store::Store`] (etcd v3 API, through the
//! `etcd-client` crate on tokio), and the coordination primitives the
//! cluster agent's decisions are carried out with.
//!
//! - **Keys** live under [`EtcdConfig::prefix`] (`/tandem/<cluster>/`),
//!   prepended on the way in and stripped on the way out.
//! - **Members.** Requests go to one member at a time and move to the
//!   next when it fails (see the `pool` module), so a dead member costs
//!   one failed request, not a share of all of them.
//! - **Revisions** are etcd's: a commit returns the header revision of its
//!   transaction, and each record carries its `mod_revision`.
//! - **Commits** are one etcd transaction each, durable (on a quorum's
//!   disks) when the future resolves, and group-committed: concurrent
//!   callers' batches are merged into one transaction within etcd's limits
//!   (see the `writer` module). Ops are checked before anything is sent:
//!   an empty or oversized key, a value over [`MAX_VALUE_BYTES`], or a
//!   batch over etcd's transaction limits ([`MAX_TXN_OPS`],
//!   [`MAX_TXN_BYTES`]) is refused with `Invalid`. Conditions
//!   (`Op::Require`) become etcd compares; one that fails writes nothing of
//!   its batch and answers `Conflict`. Without quorum, a commit fails with
//!   `Unavailable` within [`EtcdConfig::request_timeout`].
//! - **Expiry.** A put's `expires_at_ms` is kept in a small envelope in
//!   front of the value (see the `envelope` module: callers get back exactly
//!   the bytes they wrote), and the key is attached to a lease shared by
//!   every key expiring in the same time bucket (see the `expiry` module),
//!   so etcd deletes it — a revisioned delete watchers see — at most a
//!   bucket and a margin after it expired; snapshots hide it from its
//!   expiry on.
//! - **Snapshots** are one read at one revision (paginated, every page at
//!   the first page's revision).
//! - **Watches** are etcd watches from `after + 1`, resumed on another
//!   member when a stream breaks (see the `watch` module); on compaction,
//!   or when they cannot resume, one `Err(Unavailable)` says to re-snapshot.
//!   A replayed put carries its `expires_at_ms` even if that has passed
//!   (its delete follows when etcd expires it): consumers compare it with
//!   their clock, as the replica does.
//! - **Operating etcd**: run it with auto-compaction (e.g.
//!   `--auto-compaction-mode=revision --auto-compaction-retention=100000`),
//!   or history grows without bound; a watch that falls further behind
//!   than that re-snapshots.
//! - **Coordination** ([`Coordinator`]): leases and their keep-alive,
//!   campaign and resign with fencing epochs, presence keys.
//!
//! Differences from the embedded backend, all within the trait's contract:
//! merged commits share one revision (the embedded backend gives each
//! batch its own); a commit that changes nothing (only conditions, deletes
//! of absent keys, or no ops) does not advance the revision and returns
//! the current one; a watch replays every change, including puts since
//! overwritten (the embedded one skips those); history is kept
//! until etcd compacts it (`--auto-compaction-*`), not for a fixed number
//! of revisions; and a commit is limited to etcd's 128 keys and about
//! 1.4 MB.

mod clock;
mod config;
pub mod coordination;
mod envelope;
mod error;
mod expiry;
mod keys;
mod pool;
mod store;
mod watch;
mod writer;

pub use config::EtcdConfig;
pub use coordination::{
    Coordinator, Entry, Epoch, KeepAlive, KeepAliveEvent, KeyEvent, Lease, LeaseId,
};
pub use keys::{MAX_KEY_BYTES, MAX_TXN_BYTES, MAX_TXN_OPS, MAX_VALUE_BYTES};
pub use store::EtcdStore;
