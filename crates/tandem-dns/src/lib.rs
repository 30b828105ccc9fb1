//! # tandem-dns: the cluster's SIP zone and RFC 3263 resolution
//!
//! Two halves of the same protocol (RFC 3263 §4, RFC 2782, RFC 3403):
//!
//! - **Serving.** [`Zone`] is the authoritative zone of the cluster's SIP
//!   domain, computed from a [`ZoneSpec`] (transports, nodes and their
//!   health, the floating IP): NAPTR records naming the transports, SRV
//!   records naming the healthy nodes, A/AAAA records for them. It is pure
//!   data: no I/O, no clock. [`ZoneServer`] answers for it over UDP and TCP
//!   and always reads the zone's current version, so a node that fails its
//!   health check drops out of the answers with the next query.
//! - **Resolving.** [`select`] turns what DNS said about a SIP URI into an
//!   ordered list of [`Target`]s (RFC 3263 §4.1 transport, §4.2 port and
//!   address, RFC 2782 weighted order), with randomness passed in.
//!   [`Quarantine`] sets aside targets that just failed, on injected time.
//!   [`SipResolver`] does the lookups, on hickory's caching resolver.
//!
//! Names handed in may be given with or without the final dot and in any
//! case; names handed out are lower-case and fully qualified.

mod error;
mod name;
mod quarantine;
mod records;
mod resolve;
pub mod select;
mod server;
mod transport;
mod view;
mod wire;
mod zone;

pub use error::Error;
pub use quarantine::Quarantine;
pub use records::{NaptrRecord, RecordData, SoaRecord, SrvRecord, ZoneRecord};
pub use resolve::{ResolverConfig, SipResolver};
pub use select::{Found, Plan, SrvQuery, Target, TargetUri};
pub use server::ZoneServer;
pub use transport::Transport;
pub use view::{NodeView, ZoneView};
pub use zone::{Answer, Zone, ZoneNode, ZoneSpec, ZoneTransport, DEFAULT_TTL_SECS};

/// The DNS record type, as hickory names it (`A`, `AAAA`, `SRV`...).
pub use hickory_proto::rr::RecordType;
