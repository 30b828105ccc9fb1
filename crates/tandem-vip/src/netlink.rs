//! rtnetlink plumbing: one short-lived `NETLINK_ROUTE` connection per
//! operation, link lookup and address dumps (`rtnetlink(7)`, `netlink(7)`).
//!
//! The connection is driven *inside* the calling future (raced against the
//! request with `select`) rather than spawned: no task outlives the call, the
//! socket is closed when the call returns, and the socket is created on the
//! calling thread — so a thread that entered another network namespace with
//! `setns(2)` operates on that namespace.

use std::future::Future;
use std::net::IpAddr;
use std::pin::pin;

use futures_util::future::{select, Either};
use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::Handle;

use crate::error::{Capability, Error, Operation};

/// What an operation is about: used to build errors that name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) op: Operation,
    pub(crate) interface: &'a str,
    pub(crate) address: IpAddr,
}

impl Target<'_> {
    /// Classifies an rtnetlink error: the errno values a caller can act on
    /// (missing capability, missing interface) get their own variants.
    pub(crate) fn netlink_error(&self, err: rtnetlink::Error) -> Error {
        match err {
            rtnetlink::Error::NetlinkError(msg) => match msg.raw_code().abs() {
                // The kernel answers EPERM when `netlink_ns_capable(..,
                // CAP_NET_ADMIN)` fails in the rtnetlink handlers.
                libc::EPERM | libc::EACCES => Error::PermissionDenied {
                    op: self.op,
                    interface: self.interface.to_owned(),
                    address: self.address,
                    capability: Capability::NetAdmin,
                },
                // RTM_GETLINK by name and RTM_NEWADDR on a vanished index.
                libc::ENODEV => self.interface_not_found(),
                _ => Error::Kernel {
                    op: self.op,
                    interface: self.interface.to_owned(),
                    address: self.address,
                    source: msg.to_io(),
                },
            },
            other => Error::Netlink {
                op: self.op,
                interface: self.interface.to_owned(),
                address: self.address,
                source: other,
            },
        }
    }

    pub(crate) fn interface_not_found(&self) -> Error {
        Error::InterfaceNotFound {
            op: self.op,
            interface: self.interface.to_owned(),
            address: self.address,
        }
    }
}

/// The errno carried by an rtnetlink error, if it is a kernel answer.
pub(crate) fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => Some(msg.raw_code().abs()),
        _ => None,
    }
}

/// Opens a connection, runs `work` with its handle while driving the
/// connection, and closes it.
pub(crate) async fn with_handle<T, F, Fut>(target: &Target<'_>, work: F) -> Result<T, Error>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let (connection, handle, _unsolicited) =
        rtnetlink::new_connection().map_err(|source| Error::NetlinkSocket {
            op: target.op,
            interface: target.interface.to_owned(),
            address: target.address,
            source,
        })?;
    let work = pin!(work(handle));
    let connection = pin!(connection);
    match select(work, connection).await {
        Either::Left((result, _connection)) => result,
        // The connection future only completes when its socket fails or
        // every handle is gone; the work still holds one, so this is a
        // failure of the socket.
        Either::Right(((), _work)) => Err(Error::NetlinkClosed {
            op: target.op,
            interface: target.interface.to_owned(),
            address: target.address,
        }),
    }
}

/// What the floating-address code needs to know about an interface.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) index: u32,
    /// The link-layer address (`IFLA_ADDRESS`); empty if there is none.
    pub(crate) mac: Vec<u8>,
    /// `IFF_UP`: administratively up.
    pub(crate) up: bool,
}

/// `RTM_GETLINK` by name.
pub(crate) async fn link(handle: &Handle, target: &Target<'_>) -> Result<Link, Error> {
    let mut links = handle
        .link()
        .get()
        .match_name(target.interface.to_owned())
        .execute();
    let msg = links
        .try_next()
        .await
        .map_err(|e| target.netlink_error(e))?
        .ok_or_else(|| target.interface_not_found())?;
    let mac = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(mac) => Some(mac.clone()),
            _ => None,
        })
        .unwrap_or_default();
    Ok(Link {
        index: msg.header.index,
        mac,
        up: msg.header.flags.contains(LinkFlags::Up),
    })
}

/// The interface's own address of an address message: `IFA_LOCAL` when
/// present (on point-to-point links `IFA_ADDRESS` is the *peer*), else
/// `IFA_ADDRESS` (IPv6 on broadcast links carries only that one).
fn local_address(msg: &AddressMessage) -> Option<IpAddr> {
    let mut address = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(local) => return Some(*local),
            AddressAttribute::Address(addr) => address = Some(*addr),
            _ => {}
        }
    }
    address
}

/// `RTM_GETADDR` dump of one interface's addresses equal to `address`,
/// whatever their prefix length (a holder is a holder, and the guard must
/// withdraw the address even if it was configured with another prefix).
pub(crate) async fn matching_addresses(
    handle: &Handle,
    target: &Target<'_>,
    index: u32,
) -> Result<Vec<AddressMessage>, Error> {
    let mut request = handle.address().get().set_link_index_filter(index);
    // Narrow the kernel's dump to the family; the index is filtered in user
    // space because the kernel ignores it without strict checking.
    request.message_mut().header.family = match target.address {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    request
        .execute()
        .map_err(|e| target.netlink_error(e))
        .try_filter(|msg| std::future::ready(local_address(msg) == Some(target.address)))
        .try_collect()
        .await
}

/// Strips a dumped address message down to what `RTM_DELADDR` matches on
/// (header plus `IFA_LOCAL`/`IFA_ADDRESS`), so that read-only attributes
/// such as `IFA_CACHEINFO` are never echoed back to the kernel.
pub(crate) fn deletion_message(dumped: &AddressMessage) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header = dumped.header.clone();
    msg.attributes = dumped
        .attributes
        .iter()
        .filter(|a| matches!(a, AddressAttribute::Local(_) | AddressAttribute::Address(_)))
        .cloned()
        .collect();
    msg
}
