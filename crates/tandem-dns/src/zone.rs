//! The authoritative zone of the cluster's SIP domain (RFC 1035 §4.3.2
//! answers, RFC 2308 negative answers), built from what the cluster knows:
//! its transports, its nodes and their health, its floating IP.
//!
//! For a domain `D` the zone holds:
//!
//! | owner | records |
//! |---|---|
//! | `D` | SOA; NS `<node>.D` for every node; one NAPTR per transport (RFC 3263 §4.1); A/AAAA of the floating IP |
//! | `sip.D` | A/AAAA of the floating IP (none without one: NODATA) |
//! | `_sip._udp.D`, `_sip._tcp.D`, `_sips._tcp.D`, `_sip._ws.D`, `_sips._ws.D` | SRV `<node>.D` for every healthy node (RFC 2782), for the transports the zone offers |
//! | `<node>.D` | A/AAAA of the node while it is healthy |
//!
//! A node that fails its health check drops out of the SRV records and
//! loses its addresses (its name stays, answering NODATA), so nobody is
//! sent to it. With no healthy node the SRV names answer NODATA: nothing
//! stale is served. NAPTR records are ordered as the transports are listed
//! (ORDER 10, 20, 30...; PREFERENCE 10). Negative answers carry the SOA,
//! whose MINIMUM is the zone's TTL, so they are cached no longer than
//! positive ones (RFC 2308 §5).
//!
//! The zone is pure data: no I/O and no clock. [`Zone::update`] replaces
//! the spec and bumps the SOA serial only when an answer changed.

use crate::name::{check_domain, check_node_name, child, fqdn, is_within};
use crate::records::{NaptrRecord, RecordData, SoaRecord, SrvRecord, ZoneRecord};
use crate::view::{NodeView, ZoneView};
use crate::{Error, Transport};
use hickory_proto::rr::RecordType;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The TTL the zone's records get unless told otherwise: short, so a node
/// that drops out is forgotten by caches within seconds.
pub const DEFAULT_TTL_SECS: u32 = 5;

/// SOA REFRESH. The zone is never transferred (every node computes it), so
/// REFRESH, RETRY and EXPIRE are informative only.
const SOA_REFRESH_SECS: u32 = 60;
/// SOA RETRY.
const SOA_RETRY_SECS: u32 = 30;
/// SOA EXPIRE.
const SOA_EXPIRE_SECS: u32 = 600;
/// NAPTR PREFERENCE of every transport; ORDER alone ranks them.
const NAPTR_PREFERENCE: u16 = 10;
/// The label of the name that always points at the floating IP.
const FLOATING_LABEL: &str = "sip";
/// The local part of the SOA RNAME.
const HOSTMASTER_LABEL: &str = "hostmaster";

/// What the zone is built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneSpec {
    /// The SIP domain, e.g. `pbx.example.test.` (the final dot is optional).
    pub domain: String,
    /// TTL of every record, and of negative answers.
    pub ttl_secs: u32,
    /// The transports every node offers, in the order NAPTR should rank them.
    pub transports: Vec<ZoneTransport>,
    /// The cluster's nodes.
    pub nodes: Vec<ZoneNode>,
    /// The floating IP, served for the apex and `sip.<domain>`.
    pub floating_ip: Option<IpAddr>,
}

/// One transport the nodes offer, and its port (the same on every node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ZoneTransport {
    /// The transport.
    pub transport: Transport,
    /// The port the nodes listen on for it.
    pub port: u16,
}

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneNode {
    /// Its name: one label, served as `<name>.<domain>`.
    pub name: String,
    /// Its addresses (at least one).
    pub addrs: Vec<IpAddr>,
    /// SRV priority (lower is tried first).
    pub priority: u16,
    /// SRV weight (share of the load among equal priorities).
    pub weight: u16,
    /// Whether it passes its health check; only healthy nodes are served.
    pub healthy: bool,
    /// When `healthy` last changed, in milliseconds on the caller's clock
    /// (shown by `describe`, never served).
    pub since_ms: u64,
}

impl ZoneSpec {
    /// A spec with the default TTL and nothing else.
    pub fn new(domain: impl Into<String>) -> Self {
        ZoneSpec {
            domain: domain.into(),
            ttl_secs: DEFAULT_TTL_SECS,
            transports: Vec::new(),
            nodes: Vec::new(),
            floating_ip: None,
        }
    }

    /// Checks names (host-name syntax; no node may be called `sip`) and
    /// that nodes and transports are listed once and nodes have addresses.
    pub fn check(&self) -> Result<(), Error> {
        check_domain(&self.domain)?;
        let mut names = BTreeSet::new();
        for node in &self.nodes {
            check_node_name(&node.name)?;
            let name = node.name.to_ascii_lowercase();
            if name == FLOATING_LABEL {
                return Err(Error::InvalidName {
                    name: node.name.clone(),
                    why: "`sip` is the floating IP's name",
                });
            }
            if node.addrs.is_empty() {
                return Err(Error::NodeWithoutAddress {
                    name: node.name.clone(),
                });
            }
            if !names.insert(name) {
                return Err(Error::DuplicateNode {
                    name: node.name.clone(),
                });
            }
        }
        let mut transports = BTreeSet::new();
        for t in &self.transports {
            if !transports.insert(t.transport) {
                return Err(Error::DuplicateTransport {
                    transport: t.transport,
                });
            }
        }
        Ok(())
    }

    /// The same spec with the domain and node names in canonical form.
    fn normalized(mut self) -> Self {
        self.domain = fqdn(&self.domain);
        for node in &mut self.nodes {
            node.name.make_ascii_lowercase();
        }
        self
    }
}

/// The answer to one question about the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The name has records of the type asked for.
    Records {
        /// The answer section.
        answers: Vec<ZoneRecord>,
        /// Addresses of SRV targets, for the additional section (RFC 2782).
        additionals: Vec<ZoneRecord>,
    },
    /// NODATA: the name exists but has no record of that type (RFC 2308 §2.2).
    NoData {
        /// The SOA, for the authority section.
        soa: ZoneRecord,
    },
    /// NXDOMAIN: no such name in the zone (RFC 2308 §2.1).
    NxDomain {
        /// The SOA, for the authority section.
        soa: ZoneRecord,
    },
    /// The name is outside the zone: not ours to answer (REFUSED).
    Refused,
}

/// The zone: its spec, its serial and the record sets computed from them.
#[derive(Debug, Clone)]
pub struct Zone {
    spec: ZoneSpec,
    serial: u32,
    /// Every owner name the zone holds (SOA aside), each with its records
    /// sorted; an empty set is a name that answers NODATA.
    rrsets: BTreeMap<String, Vec<RecordData>>,
}

impl Zone {
    /// Builds the zone, its SOA serial starting at `serial_start`.
    pub fn new(spec: ZoneSpec, serial_start: u32) -> Result<Zone, Error> {
        spec.check()?;
        let spec = spec.normalized();
        let rrsets = rrsets(&spec);
        Ok(Zone {
            spec,
            serial: serial_start,
            rrsets,
        })
    }

    /// Replaces the spec. Returns whether any answer changed, in which case
    /// the serial was incremented (RFC 1982 wrap-around). A change seen
    /// only by [`Zone::describe`] (a `since_ms`) keeps the serial. On error
    /// the zone is left as it was.
    pub fn update(&mut self, spec: ZoneSpec) -> Result<bool, Error> {
        spec.check()?;
        let spec = spec.normalized();
        let rrsets = rrsets(&spec);
        let changed = rrsets != self.rrsets || spec.ttl_secs != self.spec.ttl_secs;
        self.spec = spec;
        self.rrsets = rrsets;
        if changed {
            self.serial = self.serial.wrapping_add(1);
        }
        Ok(changed)
    }

    /// The SIP domain, lower-case and fully qualified.
    pub fn domain(&self) -> &str {
        &self.spec.domain
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The spec the zone was last built from (names in canonical form).
    pub fn spec(&self) -> &ZoneSpec {
        &self.spec
    }

    /// Answers a question for `name` (any case, final dot optional).
    /// `ANY` gets every record of the name.
    pub fn answer(&self, name: &str, record_type: RecordType) -> Answer {
        let name = fqdn(name);
        if !is_within(&name, &self.spec.domain) {
            return Answer::Refused;
        }
        let soa = self.soa();
        let Some(set) = self.rrsets.get(&name) else {
            // An empty non-terminal such as `_udp.D` exists (RFC 8020 §2).
            let below = self.rrsets.keys().any(|owner| is_within(owner, &name));
            return if below {
                Answer::NoData { soa }
            } else {
                Answer::NxDomain { soa }
            };
        };
        let wanted =
            |data: &RecordData| record_type == RecordType::ANY || data.record_type() == record_type;
        let mut answers = Vec::new();
        if name == self.spec.domain
            && (record_type == RecordType::SOA || record_type == RecordType::ANY)
        {
            answers.push(soa.clone());
        }
        answers.extend(
            set.iter()
                .filter(|d| wanted(d))
                .map(|d| self.record(&name, d)),
        );
        if answers.is_empty() {
            return Answer::NoData { soa };
        }
        let additionals = answers
            .iter()
            .filter_map(|r| match &r.data {
                RecordData::Srv(srv) => Some(srv.target.as_str()),
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .flat_map(|target| {
                self.rrsets
                    .get(target)
                    .into_iter()
                    .flatten()
                    .map(move |d| self.record(target, d))
            })
            .collect();
        Answer::Records {
            answers,
            additionals,
        }
    }

    /// What the zone serves and the state of every node, for `dns show`.
    pub fn describe(&self) -> ZoneView {
        let mut records = vec![self.soa().to_string()];
        for (owner, set) in &self.rrsets {
            records.extend(set.iter().map(|d| self.record(owner, d).to_string()));
        }
        ZoneView {
            domain: self.spec.domain.clone(),
            serial: self.serial,
            ttl_secs: self.spec.ttl_secs,
            floating_ip: self.spec.floating_ip,
            transports: self.spec.transports.clone(),
            nodes: self
                .spec
                .nodes
                .iter()
                .map(|n| NodeView {
                    name: n.name.clone(),
                    addrs: n.addrs.clone(),
                    priority: n.priority,
                    weight: n.weight,
                    healthy: n.healthy,
                    since_ms: n.since_ms,
                })
                .collect(),
            records,
        }
    }

    fn record(&self, owner: &str, data: &RecordData) -> ZoneRecord {
        ZoneRecord {
            name: owner.to_owned(),
            ttl_secs: self.spec.ttl_secs,
            data: data.clone(),
        }
    }

    fn soa(&self) -> ZoneRecord {
        let domain = &self.spec.domain;
        let mname = self.rrsets[domain]
            .iter()
            .find_map(|d| match d {
                RecordData::Ns(host) => Some(host.clone()),
                _ => None,
            })
            .unwrap_or_else(|| domain.clone());
        ZoneRecord {
            name: domain.clone(),
            ttl_secs: self.spec.ttl_secs,
            data: RecordData::Soa(SoaRecord {
                mname,
                rname: child(HOSTMASTER_LABEL, domain),
                serial: self.serial,
                refresh_secs: SOA_REFRESH_SECS,
                retry_secs: SOA_RETRY_SECS,
                expire_secs: SOA_EXPIRE_SECS,
                minimum_secs: self.spec.ttl_secs,
            }),
        }
    }
}

/// Every owner name of the zone and its records, sorted (SOA aside).
fn rrsets(spec: &ZoneSpec) -> BTreeMap<String, Vec<RecordData>> {
    let domain = &spec.domain;
    let mut sets: BTreeMap<String, Vec<RecordData>> = BTreeMap::new();
    let apex = sets.entry(domain.clone()).or_default();
    apex.extend(
        spec.nodes
            .iter()
            .map(|n| RecordData::Ns(child(&n.name, domain))),
    );
    for (rank, zt) in (1u16..).zip(&spec.transports) {
        apex.push(RecordData::Naptr(NaptrRecord {
            order: rank * 10,
            preference: NAPTR_PREFERENCE,
            flags: "s".to_owned(),
            services: zt.transport.naptr_service().to_owned(),
            regexp: String::new(),
            replacement: child(zt.transport.srv_prefix(), domain),
        }));
    }
    apex.extend(spec.floating_ip.map(address));
    sets.entry(child(FLOATING_LABEL, domain))
        .or_default()
        .extend(spec.floating_ip.map(address));
    let healthy = || spec.nodes.iter().filter(|n| n.healthy);
    for zt in &spec.transports {
        sets.entry(child(zt.transport.srv_prefix(), domain))
            .or_default()
            .extend(healthy().map(|n| {
                RecordData::Srv(SrvRecord {
                    priority: n.priority,
                    weight: n.weight,
                    port: zt.port,
                    target: child(&n.name, domain),
                })
            }));
    }
    for node in &spec.nodes {
        let set = sets.entry(child(&node.name, domain)).or_default();
        if node.healthy {
            set.extend(node.addrs.iter().copied().map(address));
        }
    }
    for set in sets.values_mut() {
        set.sort();
        set.dedup();
    }
    sets
}

fn address(ip: IpAddr) -> RecordData {
    match ip {
        IpAddr::V4(v4) => RecordData::A(v4),
        IpAddr::V6(v6) => RecordData::Aaaa(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const D: &str = "pbx.example.test.";

    fn node(name: &str, last_octet: u8, priority: u16, weight: u16) -> ZoneNode {
        ZoneNode {
            name: name.into(),
            addrs: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, last_octet))],
            priority,
            weight,
            healthy: true,
            since_ms: 1_000,
        }
    }

    fn spec() -> ZoneSpec {
        let mut b = node("b", 12, 10, 50);
        b.addrs
            .push(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 12)));
        ZoneSpec {
            transports: vec![
                ZoneTransport {
                    transport: Transport::Udp,
                    port: 5060,
                },
                ZoneTransport {
                    transport: Transport::Tcp,
                    port: 5060,
                },
                ZoneTransport {
                    transport: Transport::Tls,
                    port: 5061,
                },
            ],
            nodes: vec![node("a", 11, 10, 50), b, node("c", 13, 20, 0)],
            floating_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
            ..ZoneSpec::new("PBX.example.test")
        }
    }

    fn answers(zone: &Zone, name: &str, rt: RecordType) -> Vec<RecordData> {
        match zone.answer(name, rt) {
            Answer::Records { answers, .. } => answers.into_iter().map(|r| r.data).collect(),
            other => panic!("{name} {rt}: expected records, got {other:?}"),
        }
    }

    fn srv_targets(zone: &Zone, name: &str) -> Vec<(u16, u16, u16, String)> {
        match zone.answer(name, RecordType::SRV) {
            Answer::Records { answers, .. } => answers
                .into_iter()
                .map(|r| match r.data {
                    RecordData::Srv(s) => (s.priority, s.weight, s.port, s.target),
                    other => panic!("not SRV: {other:?}"),
                })
                .collect(),
            Answer::NoData { .. } => Vec::new(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn naptr_names_each_transport_in_listed_order() {
        let zone = Zone::new(spec(), 1).unwrap();
        let naptr: Vec<_> = answers(&zone, D, RecordType::NAPTR)
            .into_iter()
            .map(|d| match d {
                RecordData::Naptr(n) => (n.order, n.preference, n.flags, n.services, n.replacement),
                other => panic!("not NAPTR: {other:?}"),
            })
            .collect();
        let want = [
            (10, 10, "s", "SIP+D2U", "_sip._udp.pbx.example.test."),
            (20, 10, "s", "SIP+D2T", "_sip._tcp.pbx.example.test."),
            (30, 10, "s", "SIPS+D2T", "_sips._tcp.pbx.example.test."),
        ];
        assert_eq!(naptr.len(), want.len());
        for (got, want) in naptr.iter().zip(want) {
            assert_eq!(
                (got.0, got.1, got.2.as_str(), got.3.as_str(), got.4.as_str()),
                want
            );
        }
    }

    #[test]
    fn srv_lists_each_healthy_node_with_its_priority_weight_and_port() {
        let zone = Zone::new(spec(), 1).unwrap();
        assert_eq!(
            srv_targets(&zone, "_sips._tcp.pbx.example.test"),
            vec![
                (10, 50, 5061, "a.pbx.example.test.".to_owned()),
                (10, 50, 5061, "b.pbx.example.test.".to_owned()),
                (20, 0, 5061, "c.pbx.example.test.".to_owned()),
            ]
        );
        // Transports the zone does not offer have no SRV name at all.
        assert!(matches!(
            zone.answer("_sip._ws.pbx.example.test.", RecordType::SRV),
            Answer::NxDomain { .. }
        ));
    }

    #[test]
    fn srv_answers_carry_the_targets_addresses() {
        let zone = Zone::new(spec(), 1).unwrap();
        let Answer::Records { additionals, .. } =
            zone.answer("_sip._udp.pbx.example.test.", RecordType::SRV)
        else {
            panic!("SRV expected");
        };
        let text: Vec<String> = additionals.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "a.pbx.example.test. 5 IN A 192.0.2.11",
                "b.pbx.example.test. 5 IN A 192.0.2.12",
                "b.pbx.example.test. 5 IN AAAA 2001:db8::c",
                "c.pbx.example.test. 5 IN A 192.0.2.13",
            ]
        );
    }

    #[test]
    fn unhealthy_node_drops_out_of_srv_and_addresses_but_keeps_its_name() {
        let mut s = spec();
        s.nodes[1].healthy = false;
        let zone = Zone::new(s, 1).unwrap();
        let targets: Vec<String> = srv_targets(&zone, "_sip._udp.pbx.example.test.")
            .into_iter()
            .map(|t| t.3)
            .collect();
        assert_eq!(targets, ["a.pbx.example.test.", "c.pbx.example.test."]);
        assert!(matches!(
            zone.answer("b.pbx.example.test.", RecordType::A),
            Answer::NoData { .. }
        ));
        assert!(matches!(
            zone.answer("b.pbx.example.test.", RecordType::AAAA),
            Answer::NoData { .. }
        ));
        assert_eq!(
            answers(&zone, "a.pbx.example.test.", RecordType::A),
            [RecordData::A(Ipv4Addr::new(192, 0, 2, 11))]
        );
        // NS names every node: the name server set does not follow health.
        assert_eq!(answers(&zone, D, RecordType::NS).len(), 3);
    }

    #[test]
    fn no_healthy_node_means_nodata_for_srv_not_stale_records() {
        let mut s = spec();
        for n in &mut s.nodes {
            n.healthy = false;
        }
        let zone = Zone::new(s, 1).unwrap();
        for t in ["_sip._udp", "_sip._tcp", "_sips._tcp"] {
            let answer = zone.answer(&format!("{t}.{D}"), RecordType::SRV);
            let Answer::NoData { soa } = answer else {
                panic!("{t}: NODATA expected, got {answer:?}");
            };
            assert_eq!(soa.data.record_type(), RecordType::SOA);
        }
        // The floating IP is still served.
        assert_eq!(
            answers(&zone, "sip.pbx.example.test.", RecordType::A),
            [RecordData::A(Ipv4Addr::new(192, 0, 2, 10))]
        );
    }

    #[test]
    fn apex_and_sip_name_point_at_the_floating_ip_when_there_is_one() {
        let zone = Zone::new(spec(), 1).unwrap();
        let floating = RecordData::A(Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(
            answers(&zone, D, RecordType::A),
            std::slice::from_ref(&floating)
        );
        assert_eq!(
            answers(&zone, "SIP.pbx.Example.Test", RecordType::A),
            [floating]
        );
        let mut s = spec();
        s.floating_ip = None;
        let zone = Zone::new(s, 1).unwrap();
        assert!(matches!(
            zone.answer(D, RecordType::A),
            Answer::NoData { .. }
        ));
        assert!(matches!(
            zone.answer("sip.pbx.example.test.", RecordType::A),
            Answer::NoData { .. }
        ));
    }

    #[test]
    fn negative_answers_and_refusals() {
        let zone = Zone::new(spec(), 7).unwrap();
        assert_eq!(zone.answer("example.org.", RecordType::A), Answer::Refused);
        assert_eq!(
            zone.answer("example.test.", RecordType::SOA),
            Answer::Refused
        );
        let Answer::NxDomain { soa } = zone.answer("nope.pbx.example.test.", RecordType::A) else {
            panic!("NXDOMAIN expected");
        };
        assert_eq!(
            soa.to_string(),
            "pbx.example.test. 5 IN SOA a.pbx.example.test. hostmaster.pbx.example.test. 7 60 30 600 5"
        );
        // `_udp.D` is an empty non-terminal: NODATA, not NXDOMAIN.
        assert!(matches!(
            zone.answer("_udp.pbx.example.test.", RecordType::SRV),
            Answer::NoData { .. }
        ));
        // a has no IPv6 address.
        assert!(matches!(
            zone.answer("a.pbx.example.test.", RecordType::AAAA),
            Answer::NoData { .. }
        ));
        assert!(matches!(
            zone.answer(D, RecordType::SRV),
            Answer::NoData { .. }
        ));
    }

    #[test]
    fn soa_is_answered_at_the_apex_only_and_any_gets_everything() {
        let zone = Zone::new(spec(), 3).unwrap();
        assert!(
            matches!(answers(&zone, D, RecordType::SOA).as_slice(), [RecordData::Soa(s)] if s.serial == 3)
        );
        assert!(matches!(
            zone.answer("sip.pbx.example.test.", RecordType::SOA),
            Answer::NoData { .. }
        ));
        // SOA + 3 NS + 3 NAPTR + 1 A.
        assert_eq!(answers(&zone, D, RecordType::ANY).len(), 8);
    }

    #[test]
    fn update_bumps_the_serial_only_when_answers_change() {
        let mut zone = Zone::new(spec(), 41).unwrap();
        assert!(!zone.update(spec()).unwrap());
        assert_eq!(zone.serial(), 41);

        // Only the health timestamp moved: nothing served changed.
        let mut s = spec();
        s.nodes[0].since_ms = 99;
        assert!(!zone.update(s.clone()).unwrap());
        assert_eq!(zone.serial(), 41);
        assert_eq!(zone.describe().nodes[0].since_ms, 99);

        // Listing nodes in another order changes no record set.
        s.nodes.reverse();
        assert!(!zone.update(s.clone()).unwrap());

        s.nodes[0].healthy = false;
        assert!(zone.update(s.clone()).unwrap());
        assert_eq!(zone.serial(), 42);
        s.nodes[0].healthy = true;
        assert!(zone.update(s.clone()).unwrap());
        assert_eq!(zone.serial(), 43);

        s.ttl_secs = 30;
        assert!(zone.update(s.clone()).unwrap());
        assert_eq!(zone.serial(), 44);
    }

    #[test]
    fn serial_wraps_around() {
        let mut zone = Zone::new(spec(), u32::MAX).unwrap();
        let mut s = spec();
        s.nodes[0].healthy = false;
        assert!(zone.update(s).unwrap());
        assert_eq!(zone.serial(), 0);
    }

    #[test]
    fn bad_specs_are_refused_and_leave_the_zone_alone() {
        let mut zone = Zone::new(spec(), 1).unwrap();
        let mut dup = spec();
        dup.nodes.push(node("A", 99, 1, 1));
        assert!(matches!(zone.update(dup), Err(Error::DuplicateNode { .. })));
        let mut sip = spec();
        sip.nodes[0].name = "sip".into();
        assert!(matches!(zone.update(sip), Err(Error::InvalidName { .. })));
        let mut bare = spec();
        bare.nodes[0].addrs.clear();
        assert!(matches!(
            zone.update(bare),
            Err(Error::NodeWithoutAddress { .. })
        ));
        let mut twice = spec();
        twice.transports.push(ZoneTransport {
            transport: Transport::Udp,
            port: 5080,
        });
        assert!(matches!(
            zone.update(twice),
            Err(Error::DuplicateTransport { .. })
        ));
        assert!(matches!(
            Zone::new(ZoneSpec::new("localhost"), 1),
            Err(Error::InvalidName { .. })
        ));
        assert_eq!(zone.serial(), 1);
        assert_eq!(srv_targets(&zone, "_sip._udp.pbx.example.test.").len(), 3);
    }

    #[test]
    fn describe_shows_who_is_out_and_since_when() {
        let mut s = spec();
        s.nodes[2].healthy = false;
        s.nodes[2].since_ms = 123_456;
        let view = Zone::new(s, 9).unwrap().describe();
        assert_eq!(view.serial, 9);
        assert_eq!(view.domain, D);
        let c = &view.nodes[2];
        assert!(!c.healthy);
        assert_eq!(c.since_ms, 123_456);
        assert!(view
            .records
            .iter()
            .all(|r| !r.contains("c.pbx.example.test. 5 IN A")));
        let text = view.to_string();
        assert!(text.contains("node c OUT since 123456 ms"), "{text}");
        assert!(
            text.contains("_sip._udp.pbx.example.test. 5 IN SRV 10 50 5060 a.pbx.example.test.")
        );
    }
}
