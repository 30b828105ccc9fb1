//! The runtime's clock and entropy: the only places in tandem that read the
//! wall clock or the OS random source. Everything pure is handed their values.

use std::time::Instant;

/// The current instant.
#[allow(clippy::disallowed_methods)] // the runtime layer owns the clock
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// A random seed from the operating system, for the cores' generators.
pub(crate) fn seed() -> u64 {
    // Without OS entropy, fall back to the clock's low bits rather than
    // refuse to start; tags then stay unique within the process.
    getrandom::u64().unwrap_or_else(|_| now().elapsed().as_nanos() as u64 ^ 0x9e37_79b9_7f4a_7c15)
}
