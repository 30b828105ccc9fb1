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
mod digest_client;
mod duties;
mod identity;
mod inbound_rules;
mod outbound;
mod outbound_rules;
mod proxy;
mod registrar;
mod ring_groups;
mod routing;
mod stateless;
mod trunk_auth;
mod trunk_registration;
mod trunks;

pub use crate::core::{Core, CoreConfig, CoreStats, Effect, Now, Shared};
pub use cluster_view::{node_hash, ClusterView, MemberAddr};
pub use digest::{Algorithm, FailureLimiter, NonceKeeper};
pub use identity::LocalIdentity;
pub use inbound_rules::{Destination, InboundRule, NumberMatch, Schedule};
pub use outbound::{OutboundConfig, Quarantine, ResolveQuery, ResolvedTarget};
pub use outbound_rules::{OutboundRule, TrunkCalls};
pub use registrar::RegistrarConfig;
pub use ring_groups::RingGroup;
pub use trunk_auth::CseqShifts;
pub use trunks::{Registrars, SourceNet, TrunkPlan, TrunkSpec};
