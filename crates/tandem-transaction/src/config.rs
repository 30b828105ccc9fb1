//! Transaction-layer settings: the RFC 3261 timer bases T1, T2, T4
//! (§17.1.1.1, table 4), when a server INVITE transaction says 100 Trying
//! (§17.2.1), and the cap on live transactions.

use std::time::Duration;

/// Settings of a transaction layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// T1, the round-trip estimate (RFC 3261: 500 ms).
    pub t1: Duration,
    /// T2, the cap on retransmission intervals of non-INVITE requests and
    /// INVITE responses (RFC 3261: 4 s).
    pub t2: Duration,
    /// T4, how long a message may stay in the network (RFC 3261: 5 s).
    pub t4: Duration,
    /// How long a server INVITE transaction waits for the TU before it
    /// sends 100 Trying itself: 200 ms for a UAS (RFC 3261 §17.2.1), zero
    /// for a stateful proxy, which answers at once (§16.2).
    pub trying_delay: Duration,
    /// Most live transactions (client and server together). Past it, a new
    /// request is answered 503 with Retry-After, statelessly.
    pub transactions_max: usize,
    /// The Retry-After value, in seconds, of that 503.
    pub overload_retry_after_secs: u32,
    /// Answer UDP requests at their source address and port even without
    /// `rport` (see [`crate::response_flow`]).
    pub force_rport: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Duration::from_millis(200),
            transactions_max: 200_000,
            overload_retry_after_secs: 5,
            force_rport: false,
        }
    }
}

impl Config {
    /// 64*T1: Timers B, F, H, J (UDP), L and M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: at least 32 s over UDP (RFC 3261 §17.1.1.2), zero over
    /// reliable transports.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Duration::from_secs(32).max(self.t1x64())
        }
    }
}
