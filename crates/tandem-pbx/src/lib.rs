//! # tandem-pbx: the PBX core
//!
//! The transaction user of a tandem node: registrar (RFC 3261 §10, RFC 3327,
//! RFC 5626), digest authentication (RFC 2617, RFC 8760), stateful
//! record-routing proxy with forking (RFC 3261 §16), call tracking and CDRs.
//! Pure: no sockets, no clock reads, randomness from a seeded generator,
//! durable writes requested as effects, so the same code runs under tokio
//! and in the deterministic simulator.

mod calls;
pub mod capabilities;
mod cluster_view;
mod core;
pub mod digest;
mod duties;
mod identity;
mod outbound;
mod proxy;
mod registrar;
mod routing;
mod stateless;

pub use crate::core::{Core, CoreConfig, CoreStats, Effect, Now, Shared};
pub use cluster_view::{node_hash, ClusterView, MemberAddr};
pub use digest::{Algorithm, FailureLimiter, NonceKeeper};
pub use identity::LocalIdentity;
pub use outbound::{OutboundConfig, Quarantine, ResolveQuery, ResolvedTarget};
pub use registrar::RegistrarConfig;
