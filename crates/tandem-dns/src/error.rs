//! The DNS layer's error type: zone checks, the server's sockets and the
//! resolver's lookups.

use crate::Transport;
use hickory_proto::rr::RecordType;
use std::net::SocketAddr;
use thiserror::Error;

/// What can go wrong building a zone, serving it or resolving a SIP target.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A domain or node name is not a valid host name (RFC 1123 §2.1).
    #[error("invalid DNS name {name:?}: {why}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Two nodes of a zone have the same name.
    #[error("node {name:?} is listed twice in the zone")]
    DuplicateNode {
        /// The repeated name.
        name: String,
    },
    /// A node of a zone has no address, so no SRV target could lead to it.
    #[error("node {name:?} has no address")]
    NodeWithoutAddress {
        /// The node.
        name: String,
    },
    /// A transport is listed twice in the zone.
    #[error("transport {transport} is listed twice in the zone")]
    DuplicateTransport {
        /// The repeated transport.
        transport: Transport,
    },
    /// The zone server could not bind its socket.
    #[error("cannot serve DNS over {protocol} on {addr}: {source}")]
    Bind {
        /// `"udp"` or `"tcp"`.
        protocol: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The zone server's tasks ended with an error while shutting down.
    #[error("DNS server shut down with an error: {source}")]
    Shutdown {
        /// hickory's reason.
        source: hickory_proto::ProtoError,
    },
    /// The system's resolver configuration (`/etc/resolv.conf`) could not be read.
    #[error("cannot read the system resolver configuration: {source}")]
    SystemConfig {
        /// hickory's reason.
        source: hickory_resolver::ResolveError,
    },
    /// A lookup failed (server failure, refusal, no server reachable) and no
    /// other lookup gave a target.
    #[error("{record_type} lookup of {name} failed: {source}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// The record type asked for.
        record_type: RecordType,
        /// hickory's reason.
        source: hickory_resolver::ResolveError,
    },
    /// A lookup got no answer in time and no other lookup gave a target.
    #[error("{record_type} lookup of {name} timed out")]
    Timeout {
        /// The name looked up.
        name: String,
        /// The record type asked for.
        record_type: RecordType,
    },
    /// DNS answered, but nothing it named can be reached with the
    /// transports this node has (or the host has no records at all).
    #[error("no usable SIP target for {host}")]
    NoTargets {
        /// The URI's host.
        host: String,
    },
}
