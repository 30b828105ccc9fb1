//! Helpers shared by tandem's tests: the workspace's golden files (RFC 4475
//! and RFC 5118 torture messages with their expected outcomes) and sample
//! messages for benchmarks and unit tests; and, for end-to-end tests, free
//! loopback ports, child processes that are stopped when dropped, SIPp runs
//! and test certificates.

// Process helpers wait on real time; only the pure crates are held to
// injected time.
#![allow(clippy::disallowed_methods)]

pub mod certs;
pub mod etcd;
pub mod golden;
pub mod ports;
pub mod process;
pub mod samples;
pub mod sipp;
