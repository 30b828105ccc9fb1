//! The runtime's clock and entropy: the only places in tandem that read the
//! wall clock or the OS random source. Everything pure is handed their values.

use std::time::Instant;

/// The current instant.
#[allow(clippy::disallowed_methods)] // the runtime layer owns the clock
pub fn now() -> Instant {
    Instant::now()
}

/// The wall clock, Unix milliseconds.
#[allow(clippy::disallowed_methods)] // the runtime layer owns the clock
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Both clocks at once, as the PBX core takes them.
pub(crate) fn now_pair() -> tandem_pbx::Now {
    tandem_pbx::Now {
        instant: now(),
        unix_ms: unix_ms(),
    }
}

/// 32 random bytes from the operating system (secrets for nonces and flow tokens).
pub fn secret() -> [u8; 32] {
    let mut s = [0u8; 32];
    if getrandom::fill(&mut s).is_err() {
        for (i, b) in s.iter_mut().enumerate() {
            *b = (seed() >> ((i % 8) * 8)) as u8;
        }
    }
    s
}

/// A random seed from the operating system, for the cores' generators.
pub(crate) fn seed() -> u64 {
    // Without OS entropy, fall back to the clock's low bits rather than
    // refuse to start; tags then stay unique within the process.
    getrandom::u64().unwrap_or_else(|_| now().elapsed().as_nanos() as u64 ^ 0x9e37_79b9_7f4a_7c15)
}
