//! Helpers shared by tandem's tests: the workspace's golden files (RFC 4475
//! and RFC 5118 torture messages with their expected outcomes) and sample
//! messages for benchmarks and unit tests.

pub mod golden;
pub mod samples;
