//! Choosing where to send a SIP request from what DNS says: RFC 3263 §4.1
//! (transport), §4.2 (port and address) and the RFC 2782 order of SRV
//! records. Pure: the lookups are done by the caller (the resolver, or a
//! test) and the randomness of the weighted choice is passed in.
//!
//! The steps, for a URI's host, port, `transport=` and scheme:
//!
//! 1. The host is an IP address: that address, on the URI's port or the
//!    transport's default port ([`Plan::Literal`]).
//! 2. A port is given: the host's A/AAAA records on that port
//!    ([`Plan::Address`]).
//! 3. A transport is given: the SRV records of that transport, else the
//!    host's A/AAAA records on its default port ([`Plan::Srv`]).
//! 4. Otherwise NAPTR ([`Plan::Naptr`]): records with flag `s` whose service
//!    is a transport this node has (only `SIPS+...` for a SIPS URI), in
//!    ORDER then PREFERENCE. Each names an SRV owner; the targets of all of
//!    them are listed in that order, so the first transport is tried first
//!    and the later ones are fallbacks. No usable NAPTR: the SRV names of
//!    every transport this node has, in the order it lists them. No SRV
//!    record at all: the host's A/AAAA records on 5060 over UDP (5061 over
//!    TLS for SIPS).
//!
//! Without an explicit transport a SIP URI uses UDP (TCP if this node has
//! no UDP) and a SIPS URI uses TLS (§4.1). In a SIPS URI `transport=tcp`
//! means TLS and `transport=ws` secure WebSocket; `transport=udp` cannot be
//! secured and gives no target.
//!
//! SRV records are ordered by priority; within a priority, repeatedly by a
//! weighted random draw among those left (RFC 2782). Records of weight 0
//! are drawn only once every record of non-zero weight in their priority
//! is placed (RFC 2782 gives them "a very small chance"; here it is none),
//! and then uniformly. A target of `.` means "not offered here" and is
//! skipped.

use crate::name::{child, fqdn};
use crate::records::{NaptrRecord, SrvRecord};
use crate::Transport;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

/// What is resolved: the parts of a SIP or SIPS URI that DNS needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUri {
    /// The host: a domain name, an IPv4 address or an IPv6 address (with
    /// or without brackets).
    pub host: String,
    /// The port, if the URI has one.
    pub port: Option<u16>,
    /// The `transport=` parameter, if any.
    pub transport: Option<Transport>,
    /// Whether the scheme is `sips`.
    pub sips: bool,
}

/// Where to send: one transport, one address and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport.
    pub transport: Transport,
    /// The address and port.
    pub addr: SocketAddr,
    /// The name the address was found under (the SRV target, or the URI's
    /// host), lower-case and fully qualified; the IP itself for a literal.
    /// A TLS peer is still to be checked against the URI's host
    /// (RFC 5922 §4.2), not this.
    pub host: String,
}

/// The lookups a URI calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// The host is an IP address: no lookup.
    Literal,
    /// A port is given: A/AAAA of the host only.
    Address,
    /// A transport is given: its SRV records, then A/AAAA.
    Srv,
    /// Nothing given: NAPTR, then SRV, then A/AAAA.
    Naptr,
    /// No transport this node has fits the URI: nothing to look up.
    Unusable,
}

/// One SRV lookup to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvQuery {
    /// The transport the SRV records lead to.
    pub transport: Transport,
    /// The owner name to look up, lower-case and fully qualified.
    pub name: String,
}

/// What the lookups found. Names are lower-case and fully qualified; a
/// name looked up and found empty may be absent or map to nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The NAPTR records of the host.
    pub naptr: Vec<NaptrRecord>,
    /// SRV records by owner name.
    pub srv: BTreeMap<String, Vec<SrvRecord>>,
    /// A and AAAA addresses by host name.
    pub addrs: BTreeMap<String, Vec<IpAddr>>,
}

/// Which lookups `uri` calls for, given the transports this node has.
pub fn plan(uri: &TargetUri, supported: &[Transport]) -> Plan {
    if literal_ip(&uri.host).is_some() || uri.port.is_some() {
        if direct_transport(uri, supported).is_none() {
            return Plan::Unusable;
        }
        return if literal_ip(&uri.host).is_some() {
            Plan::Literal
        } else {
            Plan::Address
        };
    }
    if uri.transport.is_some() {
        return match direct_transport(uri, supported) {
            Some(_) => Plan::Srv,
            None => Plan::Unusable,
        };
    }
    if supported.iter().any(|&t| fits(uri, supported, t)) {
        Plan::Naptr
    } else {
        Plan::Unusable
    }
}

/// The SRV lookups to make once the NAPTR records (if any were asked for)
/// are known, most preferred first.
pub fn srv_queries(
    uri: &TargetUri,
    supported: &[Transport],
    naptr: &[NaptrRecord],
) -> Vec<SrvQuery> {
    let host = fqdn(&uri.host);
    let query = |transport: Transport| SrvQuery {
        transport,
        name: child(transport.srv_prefix(), &host),
    };
    match plan(uri, supported) {
        Plan::Literal | Plan::Address | Plan::Unusable => return Vec::new(),
        Plan::Srv => {
            return direct_transport(uri, supported)
                .map(query)
                .into_iter()
                .collect()
        }
        Plan::Naptr => {}
    }
    let mut usable: Vec<(&NaptrRecord, Transport)> = naptr
        .iter()
        .filter(|n| n.flags.eq_ignore_ascii_case("s"))
        .filter_map(|n| Some((n, Transport::from_naptr_service(&n.services)?)))
        .filter(|&(_, t)| fits(uri, supported, t))
        .collect();
    usable.sort_by_key(|(n, _)| (n.order, n.preference));
    let mut queries: Vec<SrvQuery> = Vec::new();
    for (n, transport) in usable {
        let name = fqdn(&n.replacement);
        if !queries
            .iter()
            .any(|q| q.name == name && q.transport == transport)
        {
            queries.push(SrvQuery { transport, name });
        }
    }
    if queries.is_empty() {
        for &t in supported {
            if fits(uri, supported, t) && !queries.iter().any(|q| q.transport == t) {
                queries.push(query(t));
            }
        }
    }
    queries
}

/// The host names whose addresses [`select`] will want, given the SRV
/// records found for `queries`: every SRV target, or the URI's host when
/// there is no SRV record at all.
pub fn address_names(uri: &TargetUri, queries: &[SrvQuery], found: &Found) -> Vec<String> {
    let mut names = BTreeSet::new();
    let mut any_srv = false;
    for q in queries {
        for srv in found.srv.get(&q.name).into_iter().flatten() {
            any_srv = true;
            if srv.target != "." {
                names.insert(fqdn(&srv.target));
            }
        }
    }
    if !any_srv {
        names.insert(fqdn(&uri.host));
    }
    names.into_iter().collect()
}

/// The targets for `uri`, most preferred first, from what the lookups of
/// its [`plan`] found. `rng` orders SRV records of equal priority.
pub fn select<R: Rng + ?Sized>(
    uri: &TargetUri,
    supported: &[Transport],
    found: &Found,
    rng: &mut R,
) -> Vec<Target> {
    let plan = plan(uri, supported);
    let mut targets = Vec::new();
    match plan {
        Plan::Unusable => {}
        Plan::Literal => {
            if let (Some(ip), Some(t)) = (literal_ip(&uri.host), direct_transport(uri, supported)) {
                targets.push(Target {
                    transport: t,
                    addr: SocketAddr::new(ip, uri.port.unwrap_or(t.default_port())),
                    host: ip.to_string(),
                });
            }
        }
        Plan::Address => {
            if let (Some(port), Some(t)) = (uri.port, direct_transport(uri, supported)) {
                push_host(&mut targets, found, &fqdn(&uri.host), t, port);
            }
        }
        Plan::Srv | Plan::Naptr => {
            let naptr: &[NaptrRecord] = if plan == Plan::Naptr {
                &found.naptr
            } else {
                &[]
            };
            let mut any_srv = false;
            for q in srv_queries(uri, supported, naptr) {
                let records = found.srv.get(&q.name).map(Vec::as_slice).unwrap_or(&[]);
                any_srv |= !records.is_empty();
                for srv in order_srv(records, rng) {
                    if srv.target != "." {
                        push_host(
                            &mut targets,
                            found,
                            &fqdn(&srv.target),
                            q.transport,
                            srv.port,
                        );
                    }
                }
            }
            if !any_srv {
                if let Some(t) = direct_transport(uri, supported) {
                    push_host(&mut targets, found, &fqdn(&uri.host), t, t.default_port());
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    targets.retain(|t| seen.insert((t.transport, t.addr)));
    targets
}

/// SRV records in the order to try them (RFC 2782): by priority, then by
/// weighted random draws within each priority.
pub fn order_srv<R: Rng + ?Sized>(records: &[SrvRecord], rng: &mut R) -> Vec<SrvRecord> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|r| r.priority);
    let mut ordered = Vec::with_capacity(sorted.len());
    for group in sorted.chunk_by(|a, b| a.priority == b.priority) {
        let mut left: Vec<&SrvRecord> = group.iter().collect();
        while !left.is_empty() {
            let total: u32 = left.iter().map(|r| u32::from(r.weight)).sum();
            let pick = if total == 0 {
                rng.random_range(0..left.len())
            } else {
                let mut draw = rng.random_range(0..total);
                left.iter()
                    .position(|r| {
                        let weight = u32::from(r.weight);
                        if draw < weight {
                            true
                        } else {
                            draw -= weight;
                            false
                        }
                    })
                    .unwrap_or(left.len() - 1)
            };
            ordered.push(left.remove(pick).clone());
        }
    }
    ordered
}

fn push_host(
    targets: &mut Vec<Target>,
    found: &Found,
    host: &str,
    transport: Transport,
    port: u16,
) {
    for &ip in found.addrs.get(host).into_iter().flatten() {
        targets.push(Target {
            transport,
            addr: SocketAddr::new(ip, port),
            host: host.to_owned(),
        });
    }
}

/// The host as an IP address, if it is one (`[...]` around IPv6 allowed).
fn literal_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Whether `t` may carry a request for `uri`: this node has it, and it is
/// secure if the URI is SIPS.
fn fits(uri: &TargetUri, supported: &[Transport], t: Transport) -> bool {
    supported.contains(&t) && (!uri.sips || t.is_secure())
}

/// The transport used without NAPTR: the URI's (secured for SIPS), else
/// UDP (TCP without UDP) for SIP and TLS for SIPS.
fn direct_transport(uri: &TargetUri, supported: &[Transport]) -> Option<Transport> {
    let candidates: &[Transport] = match (uri.transport, uri.sips) {
        (Some(t), false) => &[t],
        (Some(Transport::Udp), true) => &[],
        (Some(Transport::Tcp | Transport::Tls), true) => &[Transport::Tls],
        (Some(Transport::Ws | Transport::Wss), true) => &[Transport::Wss],
        (None, false) => &[Transport::Udp, Transport::Tcp],
        (None, true) => &[Transport::Tls],
    };
    candidates.iter().copied().find(|t| supported.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use Transport::{Tcp, Tls, Udp, Wss};

    const ALL: &[Transport] = &Transport::ALL;

    fn uri(host: &str) -> TargetUri {
        TargetUri {
            host: host.into(),
            port: None,
            transport: None,
            sips: false,
        }
    }

    fn naptr(order: u16, service: &str, replacement: &str) -> NaptrRecord {
        NaptrRecord {
            order,
            preference: 50,
            flags: "s".into(),
            services: service.into(),
            regexp: String::new(),
            replacement: replacement.into(),
        }
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    /// example.com as in RFC 3263 §4.1: TLS, TCP and UDP, one server each.
    fn example() -> Found {
        let mut f = Found {
            naptr: vec![
                naptr(50, "SIPS+D2T", "_sips._tcp.example.com."),
                naptr(90, "SIP+D2T", "_sip._tcp.example.com."),
                naptr(100, "SIP+D2U", "_sip._udp.example.com."),
            ],
            ..Found::default()
        };
        f.srv.insert(
            "_sips._tcp.example.com.".into(),
            vec![srv(0, 0, 5061, "tls.example.com.")],
        );
        f.srv.insert(
            "_sip._tcp.example.com.".into(),
            vec![srv(0, 0, 5060, "tcp.example.com.")],
        );
        f.srv.insert(
            "_sip._udp.example.com.".into(),
            vec![srv(0, 0, 5060, "udp.example.com.")],
        );
        f.addrs.insert("tls.example.com.".into(), vec![v4(1)]);
        f.addrs.insert("tcp.example.com.".into(), vec![v4(2)]);
        f.addrs.insert("udp.example.com.".into(), vec![v4(3)]);
        f.addrs.insert("example.com.".into(), vec![v4(9)]);
        f
    }

    fn summary(targets: &[Target]) -> Vec<(Transport, String)> {
        targets
            .iter()
            .map(|t| (t.transport, t.addr.to_string()))
            .collect()
    }

    #[test]
    fn numeric_ip_needs_no_lookup() {
        let empty = Found::default();
        assert_eq!(plan(&uri("192.0.2.7"), ALL), Plan::Literal);
        assert_eq!(
            summary(&select(&uri("192.0.2.7"), ALL, &empty, &mut rng())),
            [(Udp, "192.0.2.7:5060".into())]
        );
        let v6 = TargetUri {
            port: Some(5080),
            ..uri("[2001:db8::7]")
        };
        let t = select(&v6, ALL, &empty, &mut rng());
        assert_eq!(
            t[0].addr,
            SocketAddr::new(
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
                5080
            )
        );
        let sips = TargetUri {
            sips: true,
            ..uri("192.0.2.7")
        };
        assert_eq!(
            summary(&select(&sips, ALL, &empty, &mut rng())),
            [(Tls, "192.0.2.7:5061".into())]
        );
        let tcp = TargetUri {
            transport: Some(Tcp),
            ..uri("192.0.2.7")
        };
        assert_eq!(
            summary(&select(&tcp, ALL, &empty, &mut rng())),
            [(Tcp, "192.0.2.7:5060".into())]
        );
        // Without UDP, a bare SIP URI falls to TCP.
        assert_eq!(
            summary(&select(&uri("192.0.2.7"), &[Tcp, Tls], &empty, &mut rng())),
            [(Tcp, "192.0.2.7:5060".into())]
        );
    }

    #[test]
    fn explicit_port_uses_address_records_only() {
        let u = TargetUri {
            port: Some(5070),
            ..uri("example.com")
        };
        assert_eq!(plan(&u, ALL), Plan::Address);
        assert!(srv_queries(&u, ALL, &example().naptr).is_empty());
        assert_eq!(
            summary(&select(&u, ALL, &example(), &mut rng())),
            [(Udp, "192.0.2.9:5070".into())]
        );
        let s = TargetUri { sips: true, ..u };
        assert_eq!(
            summary(&select(&s, ALL, &example(), &mut rng())),
            [(Tls, "192.0.2.9:5070".into())]
        );
    }

    #[test]
    fn explicit_transport_skips_naptr_and_uses_its_srv() {
        let u = TargetUri {
            transport: Some(Tcp),
            ..uri("Example.COM")
        };
        assert_eq!(plan(&u, ALL), Plan::Srv);
        assert_eq!(
            srv_queries(&u, ALL, &example().naptr),
            [SrvQuery {
                transport: Tcp,
                name: "_sip._tcp.example.com.".into()
            }]
        );
        let t = select(&u, ALL, &example(), &mut rng());
        assert_eq!(summary(&t), [(Tcp, "192.0.2.2:5060".into())]);
        assert_eq!(t[0].host, "tcp.example.com.");
        // No SRV for it: A/AAAA of the host on the transport's default port.
        let mut f = example();
        f.srv.clear();
        let tls = TargetUri {
            transport: Some(Tls),
            ..uri("example.com")
        };
        assert_eq!(
            summary(&select(&tls, ALL, &f, &mut rng())),
            [(Tls, "192.0.2.9:5061".into())]
        );
    }

    #[test]
    fn naptr_is_filtered_by_the_transports_this_node_has() {
        // RFC 3263 §4.1's example: a client with TCP and UDP uses TCP first.
        let u = uri("example.com");
        assert_eq!(plan(&u, &[Udp, Tcp]), Plan::Naptr);
        let t = select(&u, &[Udp, Tcp], &example(), &mut rng());
        assert_eq!(
            summary(&t),
            [
                (Tcp, "192.0.2.2:5060".into()),
                (Udp, "192.0.2.3:5060".into())
            ]
        );
        // With everything, NAPTR order rules: TLS, TCP, UDP.
        let t = select(&u, ALL, &example(), &mut rng());
        assert_eq!(
            t.iter().map(|t| t.transport).collect::<Vec<_>>(),
            [Tls, Tcp, Udp]
        );
    }

    #[test]
    fn sips_keeps_only_secure_naptr_services() {
        let u = TargetUri {
            sips: true,
            ..uri("example.com")
        };
        let q = srv_queries(&u, ALL, &example().naptr);
        assert_eq!(
            q,
            [SrvQuery {
                transport: Tls,
                name: "_sips._tcp.example.com.".into()
            }]
        );
        assert_eq!(
            summary(&select(&u, ALL, &example(), &mut rng())),
            [(Tls, "192.0.2.1:5061".into())]
        );
        // sips with transport=tcp means TLS; transport=udp cannot be secured.
        let tcp = TargetUri {
            transport: Some(Tcp),
            ..u.clone()
        };
        assert_eq!(
            summary(&select(&tcp, ALL, &example(), &mut rng())),
            [(Tls, "192.0.2.1:5061".into())]
        );
        let udp = TargetUri {
            transport: Some(Udp),
            ..u.clone()
        };
        assert_eq!(plan(&udp, ALL), Plan::Unusable);
        assert!(select(&udp, ALL, &example(), &mut rng()).is_empty());
        // A node without TLS or WSS cannot reach a SIPS URI.
        assert_eq!(plan(&u, &[Udp, Tcp]), Plan::Unusable);
    }

    #[test]
    fn unusable_naptr_falls_back_to_srv_for_each_supported_transport() {
        let mut f = example();
        f.naptr = vec![
            naptr(10, "E2U+sip", "_sip._udp.example.com."),
            NaptrRecord {
                flags: "a".into(),
                ..naptr(20, "SIP+D2U", "_sip._udp.example.com.")
            },
            naptr(30, "SIP+D2W", "_sip._ws.example.com."),
        ];
        let q = srv_queries(&uri("example.com"), &[Udp, Tls], &f.naptr);
        assert_eq!(
            q,
            [
                SrvQuery {
                    transport: Udp,
                    name: "_sip._udp.example.com.".into()
                },
                SrvQuery {
                    transport: Tls,
                    name: "_sips._tcp.example.com.".into()
                },
            ]
        );
        let t = select(&uri("example.com"), &[Udp, Tls], &f, &mut rng());
        assert_eq!(
            summary(&t),
            [
                (Udp, "192.0.2.3:5060".into()),
                (Tls, "192.0.2.1:5061".into())
            ]
        );
        // No NAPTR at all: the same.
        f.naptr.clear();
        assert_eq!(srv_queries(&uri("example.com"), &[Udp, Tls], &f.naptr), q);
    }

    #[test]
    fn no_srv_falls_back_to_address_records_on_default_ports() {
        let mut f = Found::default();
        f.addrs.insert(
            "example.com.".into(),
            vec![v4(9), IpAddr::V6(Ipv6Addr::LOCALHOST)],
        );
        let u = uri("example.com");
        let q = srv_queries(&u, ALL, &f.naptr);
        assert_eq!(address_names(&u, &q, &f), ["example.com."]);
        assert_eq!(
            summary(&select(&u, ALL, &f, &mut rng())),
            [(Udp, "192.0.2.9:5060".into()), (Udp, "[::1]:5060".into())]
        );
        let s = TargetUri { sips: true, ..u };
        assert_eq!(
            summary(&select(&s, ALL, &f, &mut rng()))[0],
            (Tls, "192.0.2.9:5061".into())
        );
    }

    #[test]
    fn dot_target_means_not_offered_and_stops_the_fallback() {
        let mut f = Found::default();
        f.srv
            .insert("_sip._udp.example.com.".into(), vec![srv(0, 0, 5060, ".")]);
        f.addrs.insert("example.com.".into(), vec![v4(9)]);
        let u = uri("example.com");
        assert!(address_names(&u, &srv_queries(&u, &[Udp], &[]), &f).is_empty());
        assert!(select(&u, &[Udp], &f, &mut rng()).is_empty());
    }

    #[test]
    fn address_names_are_the_srv_targets() {
        let u = uri("example.com");
        let f = example();
        let q = srv_queries(&u, &[Udp, Tcp], &f.naptr);
        assert_eq!(
            address_names(&u, &q, &f),
            ["tcp.example.com.", "udp.example.com."]
        );
    }

    #[test]
    fn lower_priority_always_comes_first() {
        let records = [
            srv(20, 1000, 1, "b."),
            srv(10, 1, 2, "a."),
            srv(30, 0, 3, "c."),
            srv(10, 0, 4, "z."),
        ];
        let mut r = rng();
        for _ in 0..200 {
            let ordered = order_srv(&records, &mut r);
            let priorities: Vec<u16> = ordered.iter().map(|s| s.priority).collect();
            assert_eq!(priorities, [10, 10, 20, 30]);
            // Weight 0 goes after non-zero weight within a priority.
            assert_eq!(ordered[0].target, "a.");
        }
    }

    #[test]
    fn weighted_choice_follows_the_weights() {
        let records = [srv(10, 3, 1, "heavy."), srv(10, 1, 2, "light.")];
        let mut r = StdRng::seed_from_u64(2024);
        let draws = 4000;
        let heavy_first = (0..draws)
            .filter(|_| order_srv(&records, &mut r)[0].target == "heavy.")
            .count();
        // Expect 3000; a binomial standard deviation is about 27.
        assert!(
            (2850..=3150).contains(&heavy_first),
            "heavy first {heavy_first} times of {draws}"
        );
    }

    #[test]
    fn zero_weights_are_shuffled_uniformly() {
        let records = [srv(10, 0, 1, "a."), srv(10, 0, 2, "b.")];
        let mut r = rng();
        let a_first = (0..2000)
            .filter(|_| order_srv(&records, &mut r)[0].target == "a.")
            .count();
        assert!(
            (900..=1100).contains(&a_first),
            "a first {a_first} times of 2000"
        );
    }

    #[test]
    fn same_seed_same_order() {
        let records: Vec<SrvRecord> = (0..6).map(|i| srv(10, 10, i, "x.")).collect();
        assert_eq!(
            order_srv(&records, &mut rng()),
            order_srv(&records, &mut rng())
        );
    }

    #[test]
    fn targets_are_listed_once() {
        let mut f = Found::default();
        f.srv.insert(
            "_sip._udp.example.com.".into(),
            vec![
                srv(10, 1, 5060, "a.example.com."),
                srv(20, 1, 5060, "a.example.com."),
            ],
        );
        f.addrs.insert("a.example.com.".into(), vec![v4(1)]);
        assert_eq!(select(&uri("example.com"), &[Udp], &f, &mut rng()).len(), 1);
        let wss = TargetUri {
            transport: Some(Wss),
            ..uri("192.0.2.1")
        };
        assert_eq!(plan(&wss, &[Udp]), Plan::Unusable);
    }
}
