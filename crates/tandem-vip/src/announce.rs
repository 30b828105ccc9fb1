//! Telling the link that the floating address moved: gratuitous ARP for
//! IPv4, unsolicited Neighbor Advertisement for IPv6 (frames in
//! [`crate::frames`]).
//!
//! Without an announcement, neighbours keep sending to the old holder's MAC
//! until their entry goes stale and is re-probed: 28.9 s measured in the
//! namespace lab, against 51–88 ms with a gratuitous ARP.
//!
//! Frames go out on an `AF_PACKET` socket (`packet(7)`, needs
//! `CAP_NET_RAW`) opened through `pnet_datalink`: the workspace forbids
//! `unsafe`, and neither `socket2` nor `nix` can build the `sockaddr_ll` a
//! packet socket must be bound or sent to without it, while
//! `pnet_datalink::channel` binds to an interface index behind a safe API.
//! The socket is opened on the calling thread (never on a blocking-pool
//! thread), so a caller that entered a network namespace with `setns(2)` on
//! its own thread announces in that namespace.
//!
//! Schedule: RFC 5227 §2.3 spaces ARP announcements 2 s apart and RFC 4861
//! §7.2.6 spaces unsolicited NAs by `RetransTimer` (1 s); a failover cannot
//! wait that long, so by default three rounds go out 50 ms apart (the first
//! one immediately), which covers a lost frame without delaying takeover.
//! [`AnnounceSchedule`] lets the caller choose otherwise.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use pnet_datalink::{Channel, Config, DataLinkSender, MacAddr, NetworkInterface};

use crate::error::{Capability, Error, FrameKind, Operation};
use crate::floating::FloatingIp;
use crate::frames::{gratuitous_arp, unsolicited_na, ArpOp};
use crate::netlink::{self, Target};

/// How many announcement rounds to send and how far apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceSchedule {
    /// Number of rounds; each round sends every frame for the address once
    /// (ARP request + ARP reply for IPv4, one NA for IPv6). Zero sends
    /// nothing.
    pub rounds: u32,
    /// Pause between rounds.
    pub interval: Duration,
}

impl Default for AnnounceSchedule {
    fn default() -> Self {
        AnnounceSchedule {
            rounds: 3,
            interval: Duration::from_millis(50),
        }
    }
}

pub(crate) async fn announce(vip: &FloatingIp, schedule: &AnnounceSchedule) -> Result<(), Error> {
    let target = Target {
        op: Operation::Announce,
        interface: &vip.interface,
        address: vip.address,
    };
    let (link, held) = netlink::with_handle(&target, |handle| async move {
        let link = netlink::link(&handle, &target).await?;
        let held = !netlink::matching_addresses(&handle, &target, link.index)
            .await?
            .is_empty();
        Ok((link, held))
    })
    .await?;

    let mac: [u8; 6] = link
        .mac
        .as_slice()
        .try_into()
        .map_err(|_| Error::NoMacAddress {
            interface: vip.interface.clone(),
            address: vip.address,
            found_len: link.mac.len(),
        })?;
    if !link.up {
        return Err(Error::InterfaceDown {
            interface: vip.interface.clone(),
            address: vip.address,
        });
    }
    if !held {
        return Err(Error::NotHeld {
            interface: vip.interface.clone(),
            address: vip.address,
        });
    }

    let frames: Vec<(FrameKind, Vec<u8>)> = match vip.address {
        IpAddr::V4(ip) => vec![
            (
                FrameKind::ArpRequest,
                gratuitous_arp(mac, ip, ArpOp::Request).to_vec(),
            ),
            (
                FrameKind::ArpReply,
                gratuitous_arp(mac, ip, ArpOp::Reply).to_vec(),
            ),
        ],
        IpAddr::V6(ip) => vec![(
            FrameKind::NeighborAdvertisement,
            unsolicited_na(mac, ip).to_vec(),
        )],
    };

    let mut tx = open_sender(vip, link.index, mac)?;
    for round in 0..schedule.rounds {
        if round > 0 {
            tokio::time::sleep(schedule.interval).await;
        }
        for (kind, frame) in &frames {
            send(&mut *tx, vip, *kind, frame)?;
        }
    }
    Ok(())
}

/// Opens the packet socket bound to the interface. The `NetworkInterface`
/// is built from the netlink answer rather than `pnet_datalink::interfaces()`
/// so that the index and MAC come from the same kernel view as the rest of
/// the crate.
fn open_sender(
    vip: &FloatingIp,
    index: u32,
    mac: [u8; 6],
) -> Result<Box<dyn DataLinkSender>, Error> {
    let interface = NetworkInterface {
        name: vip.interface.clone(),
        description: String::new(),
        index,
        mac: Some(MacAddr::new(mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])),
        ips: Vec::new(),
        flags: 0,
    };
    let config = Config {
        // pnet's default enables PACKET_MR_PROMISC; announcing needs no
        // reception at all, and promiscuity would be visible to others.
        promiscuous: false,
        // The receive half is never read; keep what it may queue small.
        read_buffer_size: 2048,
        read_timeout: Some(Duration::from_millis(1)),
        // pnet polls for writability before each send on its non-blocking
        // socket; bound that so a wedged qdisc cannot stall the caller's
        // runtime thread for long (a packet socket is normally writable at
        // once).
        write_timeout: Some(Duration::from_millis(100)),
        ..Config::default()
    };
    match pnet_datalink::channel(&interface, config) {
        Ok(Channel::Ethernet(tx, _rx)) => Ok(tx),
        Ok(_) => Err(Error::NotEthernetChannel {
            interface: vip.interface.clone(),
            address: vip.address,
        }),
        Err(e) if is_permission(&e) => Err(Error::PermissionDenied {
            op: Operation::Announce,
            interface: vip.interface.clone(),
            address: vip.address,
            capability: Capability::NetRaw,
        }),
        Err(source) => Err(Error::RawSocket {
            interface: vip.interface.clone(),
            address: vip.address,
            source,
        }),
    }
}

fn send(
    tx: &mut dyn DataLinkSender,
    vip: &FloatingIp,
    frame: FrameKind,
    bytes: &[u8],
) -> Result<(), Error> {
    let result = tx.send_to(bytes, None).unwrap_or_else(|| {
        // pnet returns None only for back ends that cannot send to a given
        // interface; the Linux back end always answers Some.
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "datalink back end cannot send",
        ))
    });
    result.map_err(|source| Error::Send {
        interface: vip.interface.clone(),
        address: vip.address,
        frame,
        source,
    })
}

fn is_permission(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES))
}
