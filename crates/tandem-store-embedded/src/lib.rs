//! # tandem-store-embedded: the single-node store
//!
//! The no-setup backend of [`tandem_store::Store`]: one SQLite file
//! (compiled in, no system package), in WAL mode.
//!
//! - **Revisions.** One global revision, persisted in the file; every
//!   successful commit advances it by exactly one, and each record carries
//!   the revision of its last change.
//! - **Commits** are group-committed by a writer thread: all batches queued
//!   at a moment share one SQLite transaction, each with its own revision
//!   and savepoint (see the `writer` module). A commit is durable
//!   against the process being killed when its future resolves; with
//!   `synchronous=NORMAL`, a power loss may lose the last commits.
//! - **Expiry.** A put may carry `expires_at_ms`; snapshots hide expired
//!   records at once and the writer deletes them every sweep, as a normal
//!   revisioned delete that watchers see.
//! - **Watches** replay the change log after a revision, then follow new
//!   changes, including those other processes commit to the same file (the
//!   CLI), found by polling (see the `watch` module). A put since
//!   overwritten or deleted is skipped in favour of its later change;
//!   revision order is kept and deletes are always reported. The log keeps
//!   the last [`Options::keep_revisions`] revisions: a watch that needs
//!   older changes gets one `Err(Error::Unavailable)` saying to re-snapshot,
//!   then ends.
//! - **Checkpoints** run on their own thread (see the `checkpoint`
//!   module), off the writer's path.
//! - **Several processes** may open the file: a write waits (about 5 s) for
//!   another process's instead of failing, and a saturated writer pauses
//!   briefly every 20 ms so that the other process gets its turn.
//!
//! [`EmbeddedStore::open`] blocks while it creates or checks the schema:
//! call it before serving, or from a blocking-capable thread.

mod checkpoint;
mod clock;
mod error;
mod prefix;
mod reader;
mod schema;
mod store;
mod watch;
mod writer;

pub use store::{EmbeddedStore, Options};
pub use writer::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
