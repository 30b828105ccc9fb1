//! # tandem-store: state behind one interface
//!
//! Everything tandem must not lose (extensions, registrations, dialogs,
//! CDRs) is a versioned record under a key, written through the [`Store`]
//! trait. Its semantics are those a clustered backend (etcd) can honour:
//! one global revision that every commit advances, per-record expiry, a
//! consistent snapshot at one revision, and a watch that replays every
//! change after a revision. Each node reads from its in-memory
//! [`Replica`], kept current by the watch (and, for its own writes, by
//! applying them on commit), so no read on the SIP hot path waits for a
//! backend.

mod error;
mod keys;
mod records;
mod replica;
mod store;

pub use error::Error;
pub use keys::{
    binding_key, cdr_key, dialog_key, ended_key, extension_key, trunk_key, Prefix, TRUNK_PREFIX,
};
pub use records::{
    Binding, Cdr, DialogRecord, DialogState, Extension, FlowRecord, HangupBy, TrunkRecord,
};
pub use replica::{contact_identity, Replica, SharedReplica};
pub use store::{Change, Expect, Op, Record, Rev, Snapshot, Store, StoreFuture, Watch};
