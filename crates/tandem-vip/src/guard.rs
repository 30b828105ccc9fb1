//! Entry points for the *guard*: a small separate process that outlives a
//! `kill -9`'d tandem and withdraws its floating addresses, because the
//! kernel keeps an address configured after its process dies (measured in
//! the namespace lab) and a dead leader must not keep attracting traffic.
//!
//! They are synchronous — the guard needs no async runtime, and these build
//! a private current-thread one per call — and they operate on the calling
//! thread's network namespace, which must be the one tandem's interface is
//! in. The guard needs `CAP_NET_ADMIN` there (`capabilities(7)`).
//!
//! Releasing is idempotent and ignores the prefix length: whatever prefix
//! the address was configured with on that interface, it is removed.

use crate::error::Error;
use crate::floating::{FloatingIp, Outcome};

/// Withdraws one floating address; [`Outcome::Unchanged`] if it was not
/// configured (or the interface is gone). Must not be called from inside a
/// tokio runtime ([`Error::BlockingInsideRuntime`]).
pub fn guard_release(spec: &FloatingIp) -> Result<Outcome, Error> {
    spec.remove_blocking()
}

/// Withdraws every address in `specs`, trying all of them even when some
/// fail (one stuck VIP must not keep the others configured); the results
/// are in the order of `specs`.
pub fn guard_release_all(specs: &[FloatingIp]) -> Vec<Result<Outcome, Error>> {
    specs.iter().map(guard_release).collect()
}
