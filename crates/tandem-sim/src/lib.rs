//! # tandem-sim: the deterministic failover simulator
//!
//! Several nodes, each running the real [`tandem_cluster::Agent`], talk to
//! a fake store with etcd's semantics (leases counted by a lessor that
//! expires them in rounds, a leader key whose create revision is the
//! fencing epoch, presence keys attached to leases, watches) over a
//! simulated network on a simulated clock. Faults are drawn from a seeded
//! generator: process crashes (with the guard that withdraws the floating
//! IP and revokes the lease), machine crashes (nothing withdrawn), network
//! partitions, store outages, latency spikes, lost messages. After every
//! step the invariants are checked; a failure reports the seed, and the same
//! seed replays the same run exactly.

mod store;
mod world;

pub use world::{run, Report, SimConfig, Violation};
