//! Between this crate's records and hickory's wire types: SOA, NS, A
//! (RFC 1035 §3.3-3.4), AAAA (RFC 3596), SRV (RFC 2782) and NAPTR
//! (RFC 3403 §4.1).

use crate::name::fqdn;
use crate::records::{NaptrRecord, RecordData, SrvRecord, ZoneRecord};
use hickory_proto::rr::rdata::{A, AAAA, NAPTR, NS, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::ProtoError;

/// The hickory record for `record`; fails only on a name hickory refuses.
pub(crate) fn to_record(record: &ZoneRecord) -> Result<Record, ProtoError> {
    let rdata = match &record.data {
        RecordData::Soa(s) => RData::SOA(SOA::new(
            Name::from_ascii(&s.mname)?,
            Name::from_ascii(&s.rname)?,
            s.serial,
            seconds(s.refresh_secs),
            seconds(s.retry_secs),
            seconds(s.expire_secs),
            s.minimum_secs,
        )),
        RecordData::Ns(host) => RData::NS(NS(Name::from_ascii(host)?)),
        RecordData::Naptr(n) => RData::NAPTR(NAPTR::new(
            n.order,
            n.preference,
            n.flags.as_bytes().into(),
            n.services.as_bytes().into(),
            n.regexp.as_bytes().into(),
            Name::from_ascii(&n.replacement)?,
        )),
        RecordData::Srv(s) => RData::SRV(SRV::new(
            s.priority,
            s.weight,
            s.port,
            Name::from_ascii(&s.target)?,
        )),
        RecordData::A(ip) => RData::A(A(*ip)),
        RecordData::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
    };
    Ok(Record::from_rdata(
        Name::from_ascii(&record.name)?,
        record.ttl_secs,
        rdata,
    ))
}

/// SOA times are signed on the wire (as hickory types them).
fn seconds(secs: u32) -> i32 {
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// A NAPTR record as the selection reads it.
pub(crate) fn naptr_from(n: &NAPTR) -> NaptrRecord {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    NaptrRecord {
        order: n.order(),
        preference: n.preference(),
        flags: text(n.flags()),
        services: text(n.services()),
        regexp: text(n.regexp()),
        replacement: fqdn(&n.replacement().to_ascii()),
    }
}

/// An SRV record as the selection reads it.
pub(crate) fn srv_from(s: &SRV) -> SrvRecord {
    SrvRecord {
        priority: s.priority(),
        weight: s.weight(),
        port: s.port(),
        target: fqdn(&s.target().to_ascii()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naptr_and_srv_survive_the_round_trip() {
        let naptr = NaptrRecord {
            order: 20,
            preference: 10,
            flags: "s".into(),
            services: "SIPS+D2T".into(),
            regexp: String::new(),
            replacement: "_sips._tcp.pbx.example.test.".into(),
        };
        let srv = SrvRecord {
            priority: 10,
            weight: 60,
            port: 5061,
            target: "a.pbx.example.test.".into(),
        };
        for data in [
            RecordData::Naptr(naptr.clone()),
            RecordData::Srv(srv.clone()),
        ] {
            let record = to_record(&ZoneRecord {
                name: "pbx.example.test.".into(),
                ttl_secs: 5,
                data,
            })
            .unwrap();
            assert_eq!(record.ttl(), 5);
            match record.data() {
                RData::NAPTR(n) => assert_eq!(naptr_from(n), naptr),
                RData::SRV(s) => assert_eq!(srv_from(s), srv),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn root_target_reads_as_a_dot() {
        let s = SRV::new(0, 0, 0, Name::root());
        assert_eq!(srv_from(&s).target, ".");
    }
}
