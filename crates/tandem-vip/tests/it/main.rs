//! Integration tests of `tandem-vip` against the real kernel, in a lab of
//! network namespaces built by [`lab`]: addresses are added, counted and
//! removed through netlink, announced with real frames, and the effect is
//! read back from a client's neighbour table (`ip-neighbour(8)`).
//!
//! They must run as root (CI does) and fail, rather than skip, elsewhere.
#![allow(unreachable_pub)]
// The tests measure how fast a neighbour table follows an announcement,
// which needs the real clock.
#![allow(clippy::disallowed_methods)]

mod errors;
mod failover;
mod lab;
