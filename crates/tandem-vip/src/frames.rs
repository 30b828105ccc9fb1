//! The announcement frames, built byte by byte (pure, no I/O).
//!
//! - Gratuitous ARP (RFC 826 packet layout; "gratuitous ARP" as in RFC 5944
//!   §4.6 and RFC 5227 §3): sender protocol address = target protocol
//!   address = the VIP, sender hardware address = our MAC, broadcast. Both
//!   forms are built because receivers differ on which one they honour:
//!   the *request* (target hardware address zero, RFC 5227's "ARP
//!   Announcement") and the *reply* with target hardware address = our MAC.
//!   Linux (`arp_is_garp()` in `net/ipv4/arp.c`) treats a reply as
//!   gratuitous only when THA equals SHA, and only a gratuitous packet
//!   overrides a neighbour entry younger than `locktime` (1 s by default) —
//!   exactly the situation right after a failover.
//! - Unsolicited Neighbor Advertisement (RFC 4861 §4.4, §7.2.6) to the
//!   all-nodes group ff02::1 (Ethernet 33:33:00:00:00:01, RFC 2464 §7),
//!   hop limit 255, Solicited = 0, Override = 1, Router = 0 (a PBX host is
//!   not a router), with the Target Link-Layer Address option (§4.6.1).
//!
//! The frames are small and fixed, so building them here costs fewer lines
//! than pulling in a packet-building crate with its proc-macro toolchain,
//! and the unit tests below pin every field.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Ethernet broadcast.
const BROADCAST: [u8; 6] = [0xff; 6];
/// EtherType ARP (RFC 826).
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
/// EtherType IPv6 (RFC 2464).
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];
/// ICMPv6 next-header value.
const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 Neighbor Advertisement type (RFC 4861 §4.4).
const ND_NEIGHBOR_ADVERT: u8 = 136;
/// Override flag: first byte of the NA flags word (R=0x80, S=0x40, O=0x20).
const NA_FLAG_OVERRIDE: u8 = 0x20;
/// Target Link-Layer Address option type (RFC 4861 §4.6.1).
const ND_OPT_TARGET_LLADDR: u8 = 2;

/// Length of an ARP frame: 14 Ethernet + 28 ARP, padded to the 60-byte
/// Ethernet minimum (without FCS). Real NICs pad by themselves, but veth
/// and some bridges forward runts as they are and a few receivers drop them.
pub(crate) const ARP_FRAME_LEN: usize = 60;
/// NA payload: 24 bytes of message + 8 bytes of TLLA option.
const NA_PAYLOAD_LEN: usize = 32;
/// Length of an NA frame: 14 Ethernet + 40 IPv6 + 32 ICMPv6.
pub(crate) const NA_FRAME_LEN: usize = 14 + 40 + NA_PAYLOAD_LEN;

/// Which ARP operation to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArpOp {
    Request,
    Reply,
}

/// A gratuitous ARP frame announcing that `ip` is at `mac`.
pub(crate) fn gratuitous_arp(mac: [u8; 6], ip: Ipv4Addr, op: ArpOp) -> [u8; ARP_FRAME_LEN] {
    let mut f = [0u8; ARP_FRAME_LEN];
    f[0..6].copy_from_slice(&BROADCAST);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETHERTYPE_ARP);
    // htype Ethernet (1), ptype IPv4 (0x0800), hlen 6, plen 4.
    f[14..20].copy_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4]);
    f[20..22].copy_from_slice(match op {
        ArpOp::Request => &[0x00, 0x01],
        ArpOp::Reply => &[0x00, 0x02],
    });
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    // THA: zero in a request (RFC 5227 §2.3), our MAC in a reply (the
    // condition Linux checks before treating a reply as gratuitous).
    if op == ArpOp::Reply {
        f[32..38].copy_from_slice(&mac);
    }
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// An unsolicited Neighbor Advertisement saying that `ip` is at `mac`.
pub(crate) fn unsolicited_na(mac: [u8; 6], ip: Ipv6Addr) -> [u8; NA_FRAME_LEN] {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut f = [0u8; NA_FRAME_LEN];
    // Ethernet: IPv6 multicast maps to 33:33 + low 32 bits (RFC 2464 §7).
    f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETHERTYPE_IPV6);
    // IPv6 header (RFC 8200 §3): version 6, no traffic class, no flow label.
    let ip6 = &mut f[14..54];
    ip6[0] = 0x60;
    ip6[4..6].copy_from_slice(&(NA_PAYLOAD_LEN as u16).to_be_bytes());
    ip6[6] = IPPROTO_ICMPV6;
    // Receivers drop ND messages whose hop limit is not 255 (RFC 4861 §7.1.2).
    ip6[7] = 255;
    ip6[8..24].copy_from_slice(&ip.octets());
    ip6[24..40].copy_from_slice(&all_nodes.octets());
    // ICMPv6 Neighbor Advertisement.
    let icmp = &mut f[54..];
    icmp[0] = ND_NEIGHBOR_ADVERT;
    icmp[4] = NA_FLAG_OVERRIDE;
    icmp[8..24].copy_from_slice(&ip.octets());
    icmp[24] = ND_OPT_TARGET_LLADDR;
    icmp[25] = 1; // length in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let checksum = icmpv6_checksum(ip, all_nodes, icmp);
    icmp[2..4].copy_from_slice(&checksum.to_be_bytes());
    f
}

/// The ICMPv6 checksum over the IPv6 pseudo-header (RFC 8200 §8.1) and the
/// message, whose checksum field must be zero.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let mut sum = 0u32;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u32::from);
            sum += hi | lo;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(message.len() as u32).to_be_bytes());
    add(&[0, 0, 0, IPPROTO_ICMPV6]);
    add(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x18, 0x00, 0x00, 0x00, 0x11];

    #[test]
    fn arp_request_layout() {
        let f = gratuitous_arp(MAC, Ipv4Addr::new(198, 18, 0, 100), ArpOp::Request);
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x18, 0x00, 0x00, 0x00, 0x11, 0x08,
            0x06, //
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, //
            0x02, 0x18, 0x00, 0x00, 0x00, 0x11, 198, 18, 0, 100, //
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 198, 18, 0, 100,
        ];
        assert_eq!(&f[..42], &expected);
        assert!(f[42..].iter().all(|&b| b == 0), "padding is zero");
    }

    #[test]
    fn arp_reply_has_tha_equal_sha() {
        let f = gratuitous_arp(MAC, Ipv4Addr::new(198, 18, 0, 100), ArpOp::Reply);
        assert_eq!(&f[20..22], &[0x00, 0x02]);
        assert_eq!(&f[22..28], &f[32..38]);
        assert_eq!(&f[28..32], &f[38..42]);
    }

    #[test]
    fn na_layout_and_checksum() {
        let ip: Ipv6Addr = "2001:db8:18::100".parse().unwrap();
        let f = unsolicited_na(MAC, ip);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(f[14] >> 4, 6);
        assert_eq!(u16::from_be_bytes([f[18], f[19]]), 32);
        assert_eq!(f[20], 58);
        assert_eq!(f[21], 255);
        assert_eq!(&f[22..38], &ip.octets());
        assert_eq!(&f[38..54], &"ff02::1".parse::<Ipv6Addr>().unwrap().octets());
        let icmp = &f[54..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[1], 0);
        assert_eq!(icmp[4], 0x20, "override set, solicited and router clear");
        assert_eq!(&icmp[8..24], &ip.octets());
        assert_eq!(&icmp[24..32], &[2, 1, 0x02, 0x18, 0x00, 0x00, 0x00, 0x11]);
        // A correct checksum makes the one's-complement sum over the
        // pseudo-header and the message (checksum included) all ones,
        // i.e. recomputing it over the finished message yields zero.
        let dst: Ipv6Addr = "ff02::1".parse().unwrap();
        assert_eq!(icmpv6_checksum(ip, dst, icmp), 0);
    }

    #[test]
    fn checksum_matches_a_known_value() {
        // RFC 1071 §3 worked example words 0x0001 0xf203 0xf4f5 0xf6f7 sum to
        // 0xddf2 after folding; with an all-zero pseudo-header apart from the
        // length (8) and next header (58) the sum grows by 8 + 58.
        let zero = Ipv6Addr::UNSPECIFIED;
        let msg = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(icmpv6_checksum(zero, zero, &msg), !(0xddf2u16 + 8 + 58));
    }
}
