//! The crate's one error type.
//!
//! Every variant that concerns a floating address names the operation, the
//! interface and the address, because the reader of a failover log needs to
//! know *which* VIP on *which* node could not move — and, when the kernel
//! refused, which capability was missing (`capabilities(7)`: netlink address
//! changes need `CAP_NET_ADMIN`, `AF_PACKET` sockets need `CAP_NET_RAW`).

use std::fmt;
use std::io;
use std::net::IpAddr;

/// What was being attempted when an [`Error`] occurred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `RTM_NEWADDR`: configuring the address.
    Add,
    /// `RTM_DELADDR`: withdrawing the address.
    Remove,
    /// `RTM_GETADDR` / `RTM_GETLINK` dumps: reading the kernel's view.
    Query,
    /// Gratuitous ARP / unsolicited Neighbor Advertisement.
    Announce,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Add => "adding",
            Operation::Remove => "removing",
            Operation::Query => "querying",
            Operation::Announce => "announcing",
        })
    }
}

/// A Linux capability whose absence made the kernel refuse (`capabilities(7)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Needed for `RTM_NEWADDR` / `RTM_DELADDR`.
    NetAdmin,
    /// Needed to open an `AF_PACKET` socket (`packet(7)`).
    NetRaw,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
        })
    }
}

/// Which announcement frame failed to go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Gratuitous ARP request (RFC 5227 §3 "ARP Announcement").
    ArpRequest,
    /// Gratuitous ARP reply (target hardware address = sender's).
    ArpReply,
    /// Unsolicited Neighbor Advertisement (RFC 4861 §7.2.6).
    NeighborAdvertisement,
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameKind::ArpRequest => "gratuitous ARP request",
            FrameKind::ArpReply => "gratuitous ARP reply",
            FrameKind::NeighborAdvertisement => "unsolicited neighbor advertisement",
        })
    }
}

/// Everything that can go wrong while managing a floating address.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The prefix length does not fit the address family.
    #[error("invalid prefix length /{prefix_len} for {address}: at most /{max}")]
    InvalidPrefix {
        /// The address.
        address: IpAddr,
        /// The prefix length given.
        prefix_len: u8,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },

    /// The interface name cannot name a Linux interface (`IFNAMSIZ` is 16
    /// bytes with the NUL; `/`, whitespace and `:` are refused by
    /// `dev_valid_name()` or are ambiguous in specs).
    #[error("invalid interface name {interface:?}: 1 to 15 bytes, no '/', ':' or whitespace")]
    InvalidInterfaceName {
        /// The name given.
        interface: String,
    },

    /// A textual spec could not be parsed (see `FloatingIp`'s `FromStr`).
    #[error("cannot parse floating IP spec {input:?}: {problem}; expected \"ADDRESS/PREFIX dev INTERFACE\"")]
    InvalidSpec {
        /// The text given.
        input: String,
        /// Which part was wrong.
        problem: &'static str,
    },

    /// No `NETLINK_ROUTE` socket could be opened (`netlink(7)`).
    #[error("{op} {address} on {interface}: cannot open a NETLINK_ROUTE socket: {source}")]
    NetlinkSocket {
        /// What was attempted.
        op: Operation,
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
        /// The `socket(2)` / `bind(2)` error.
        source: io::Error,
    },

    /// The interface does not exist in the caller's network namespace.
    #[error(
        "{op} {address} on {interface}: no interface named {interface:?} in this network namespace"
    )]
    InterfaceNotFound {
        /// What was attempted.
        op: Operation,
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
    },

    /// The kernel refused for lack of a capability.
    #[error("{op} {address} on {interface}: permission denied, the process needs {capability} in this network namespace")]
    PermissionDenied {
        /// What was attempted.
        op: Operation,
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
        /// The capability that is missing.
        capability: Capability,
    },

    /// The kernel answered a netlink request with an error code.
    #[error("{op} {address} on {interface}: the kernel answered: {source}")]
    Kernel {
        /// What was attempted.
        op: Operation,
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
        /// The errno the kernel returned, as an I/O error.
        source: io::Error,
    },

    /// The netlink exchange failed for a reason other than a kernel errno
    /// (unexpected or undecodable message, closed connection).
    #[error("{op} {address} on {interface}: netlink exchange failed: {source}")]
    Netlink {
        /// What was attempted.
        op: Operation,
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
        /// rtnetlink's error.
        source: rtnetlink::Error,
    },

    /// The netlink connection task ended before the request completed.
    #[error(
        "{op} {address} on {interface}: the netlink connection closed before the kernel answered"
    )]
    NetlinkClosed {
        /// What was attempted.
        op: Operation,
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
    },

    /// Announcing needs an Ethernet MAC (ARP and NDP over Ethernet).
    #[error("announcing {address} on {interface}: the interface has no 6-byte Ethernet address (found {found_len} bytes)")]
    NoMacAddress {
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
        /// Length of the link-layer address the kernel reported (0 = none).
        found_len: usize,
    },

    /// The interface is administratively down: nothing can be sent.
    #[error("announcing {address} on {interface}: the interface is down")]
    InterfaceDown {
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
    },

    /// Announcing an address this node does not hold would attract traffic
    /// to a host that drops it, so it is refused.
    #[error("announcing {address} on {interface}: the address is not configured on the interface (add it first)")]
    NotHeld {
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
    },

    /// The `AF_PACKET` socket could not be opened or bound (`packet(7)`).
    #[error("announcing {address} on {interface}: cannot open an AF_PACKET socket: {source}")]
    RawSocket {
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
        /// The `socket(2)` / `bind(2)` error.
        source: io::Error,
    },

    /// `pnet_datalink` handed back a channel type other than Ethernet.
    #[error(
        "announcing {address} on {interface}: the datalink channel is not an Ethernet channel"
    )]
    NotEthernetChannel {
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
    },

    /// Sending one announcement frame failed.
    #[error("announcing {address} on {interface}: sending the {frame} failed: {source}")]
    Send {
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
        /// Which frame.
        frame: FrameKind,
        /// The `sendto(2)` error.
        source: io::Error,
    },

    /// A `*_blocking` method was called on a thread that runs a tokio
    /// runtime; blocking there would stall the runtime (and tokio panics).
    #[error("{op} {address} on {interface}: blocking call made from inside a tokio runtime; use the async method")]
    BlockingInsideRuntime {
        /// What was attempted.
        op: Operation,
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
    },

    /// The private runtime of a `*_blocking` method could not be built.
    #[error("{op} {address} on {interface}: cannot build a tokio runtime: {source}")]
    Runtime {
        /// What was attempted.
        op: Operation,
        /// The interface.
        interface: String,
        /// The floating address.
        address: IpAddr,
        /// The runtime builder's error.
        source: io::Error,
    },
}

impl Error {
    /// The capability whose absence caused this error, if that is the cause.
    pub fn missing_capability(&self) -> Option<Capability> {
        match self {
            Error::PermissionDenied { capability, .. } => Some(*capability),
            _ => None,
        }
    }
}
