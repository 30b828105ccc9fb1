//! The records the zone holds and the resolver reads, as plain data: SOA
//! (RFC 1035 §3.3.13), NS (§3.3.11), A/AAAA (§3.4.1, RFC 3596), SRV
//! (RFC 2782) and NAPTR (RFC 3403 §4.1). `Display` writes each record in
//! master-file form (RFC 1035 §5.1), as `dig` shows it.

use hickory_proto::rr::RecordType;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One resource record: owner, TTL and data (class IN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ZoneRecord {
    /// Owner name, lower-case and fully qualified.
    pub name: String,
    /// Time to live.
    pub ttl_secs: u32,
    /// The record's data.
    pub data: RecordData,
}

/// The data of a record, by type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordData {
    /// Start of authority.
    Soa(SoaRecord),
    /// An authoritative name server: its host name.
    Ns(String),
    /// A naming-authority pointer.
    Naptr(NaptrRecord),
    /// A service location.
    Srv(SrvRecord),
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
}

impl RecordData {
    /// The record's type.
    pub fn record_type(&self) -> RecordType {
        match self {
            RecordData::Soa(_) => RecordType::SOA,
            RecordData::Ns(_) => RecordType::NS,
            RecordData::Naptr(_) => RecordType::NAPTR,
            RecordData::Srv(_) => RecordType::SRV,
            RecordData::A(_) => RecordType::A,
            RecordData::Aaaa(_) => RecordType::AAAA,
        }
    }
}

/// SOA data (RFC 1035 §3.3.13). Times are in seconds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SoaRecord {
    /// MNAME: the primary name server.
    pub mname: String,
    /// RNAME: the responsible mailbox, as a domain name.
    pub rname: String,
    /// SERIAL: the zone's version (RFC 1982 arithmetic).
    pub serial: u32,
    /// REFRESH.
    pub refresh_secs: u32,
    /// RETRY.
    pub retry_secs: u32,
    /// EXPIRE.
    pub expire_secs: u32,
    /// MINIMUM: the TTL of negative answers (RFC 2308 §4).
    pub minimum_secs: u32,
}

/// NAPTR data (RFC 3403 §4.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NaptrRecord {
    /// ORDER: lower is processed first.
    pub order: u16,
    /// PREFERENCE: among equal orders, lower is preferred.
    pub preference: u16,
    /// FLAGS: `s` means the replacement is an SRV owner name.
    pub flags: String,
    /// SERVICES: `SIP+D2U` and the like (RFC 3263 §4.1).
    pub services: String,
    /// REGEXP: empty for SIP (RFC 3263 §4.1).
    pub regexp: String,
    /// REPLACEMENT: the next name to look up, fully qualified.
    pub replacement: String,
}

/// SRV data (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SrvRecord {
    /// Priority: lower is tried first.
    pub priority: u16,
    /// Weight: share of the load among equal priorities.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host, fully qualified; `.` means "not offered here".
    pub target: String,
}

impl fmt::Display for ZoneRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} IN {} {}",
            self.name,
            self.ttl_secs,
            self.data.record_type(),
            self.data
        )
    }
}

impl fmt::Display for RecordData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordData::Soa(s) => write!(
                f,
                "{} {} {} {} {} {} {}",
                s.mname,
                s.rname,
                s.serial,
                s.refresh_secs,
                s.retry_secs,
                s.expire_secs,
                s.minimum_secs
            ),
            RecordData::Ns(host) => f.write_str(host),
            RecordData::Naptr(n) => write!(
                f,
                "{} {} \"{}\" \"{}\" \"{}\" {}",
                n.order, n.preference, n.flags, n.services, n.regexp, n.replacement
            ),
            RecordData::Srv(s) => write!(f, "{} {} {} {}", s.priority, s.weight, s.port, s.target),
            RecordData::A(ip) => write!(f, "{ip}"),
            RecordData::Aaaa(ip) => write!(f, "{ip}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_print_in_master_file_form() {
        let naptr = ZoneRecord {
            name: "pbx.example.test.".into(),
            ttl_secs: 5,
            data: RecordData::Naptr(NaptrRecord {
                order: 10,
                preference: 10,
                flags: "s".into(),
                services: "SIP+D2U".into(),
                regexp: String::new(),
                replacement: "_sip._udp.pbx.example.test.".into(),
            }),
        };
        assert_eq!(
            naptr.to_string(),
            "pbx.example.test. 5 IN NAPTR 10 10 \"s\" \"SIP+D2U\" \"\" _sip._udp.pbx.example.test."
        );
        let srv = ZoneRecord {
            name: "_sip._udp.pbx.example.test.".into(),
            ttl_secs: 5,
            data: RecordData::Srv(SrvRecord {
                priority: 10,
                weight: 50,
                port: 5060,
                target: "a.pbx.example.test.".into(),
            }),
        };
        assert_eq!(
            srv.to_string(),
            "_sip._udp.pbx.example.test. 5 IN SRV 10 50 5060 a.pbx.example.test."
        );
    }
}
