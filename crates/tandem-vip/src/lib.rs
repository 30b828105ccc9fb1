//! tandem's floating IP ("virtual IP"): the address a cluster leader owns
//! and moves to itself on takeover.
//!
//! - [`FloatingIp::add`] / [`FloatingIp::remove`] configure and withdraw the
//!   address through rtnetlink (`RTM_NEWADDR` / `RTM_DELADDR`,
//!   `rtnetlink(7)`); both are idempotent and report an [`Outcome`].
//! - [`FloatingIp::is_present`] reads the *kernel's* view (`RTM_GETADDR`
//!   dump), never a remembered state: addresses survive the process that
//!   configured them.
//! - [`FloatingIp::announce`] sends gratuitous ARP (IPv4, RFC 826 /
//!   RFC 5227) or an unsolicited Neighbor Advertisement (IPv6, RFC 4861
//!   §7.2.6) so that neighbours switch to the new holder's MAC at once
//!   instead of after their entry expires (tens of seconds).
//! - [`guard_release`] is the synchronous entry point for the guard process
//!   that withdraws the address after tandem is killed.
//!
//! Crates: `rtnetlink` (the rust-netlink project's maintained async
//! netlink client) for addresses;
//! `pnet_datalink` for the `AF_PACKET` socket (`packet(7)`) that sends the
//! announcement frames. The workspace forbids `unsafe`, and neither
//! `socket2` nor `nix` can build the `sockaddr_ll` a packet socket must be
//! bound to without it, whereas `pnet_datalink::channel` binds one to an
//! interface index behind a safe API. The frames themselves are a few fixed
//! bytes, built by hand (with unit tests) rather than with `pnet_packet`'s
//! proc-macro machinery.
//!
//! Namespaces: every socket is opened on the calling thread, so a thread
//! that joined another network namespace with `setns(2)` (as the
//! integration tests do) operates there. Capabilities: `CAP_NET_ADMIN` to
//! add or remove, `CAP_NET_RAW` to announce; querying needs neither.

mod announce;
mod error;
mod floating;
mod frames;
mod guard;
mod netlink;

pub use announce::AnnounceSchedule;
pub use error::{Capability, Error, FrameKind, Operation};
pub use floating::{FloatingIp, Outcome};
pub use guard::{guard_release, guard_release_all};
