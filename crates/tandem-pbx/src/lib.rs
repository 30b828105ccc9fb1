//! # tandem-pbx: the PBX core
//!
//! The transaction user of a tandem node: what it answers and, as the PBX
//! grows, the registrar, location service and stateful proxy. Pure: no
//! sockets, no clock reads, randomness from a seeded generator, so the same
//! code runs under tokio and in the deterministic simulator.

pub mod capabilities;
mod core;
mod identity;

pub use crate::core::{Core, CoreConfig, CoreStats};
pub use identity::LocalIdentity;
