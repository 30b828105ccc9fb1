//! What `dns show` prints: the zone's serial and records, and every node
//! with its health and since when (RFC 1035 §5.1 master-file form for the
//! records). Built by [`crate::Zone::describe`]; serializable to JSON.

use crate::ZoneTransport;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// What the zone serves and the state of its nodes, for people (`Display`)
/// and for JSON (`Serialize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneView {
    /// The SIP domain.
    pub domain: String,
    /// The SOA serial.
    pub serial: u32,
    /// The records' TTL.
    pub ttl_secs: u32,
    /// The floating IP, if any.
    pub floating_ip: Option<IpAddr>,
    /// The transports offered.
    pub transports: Vec<ZoneTransport>,
    /// Every node, served or not.
    pub nodes: Vec<NodeView>,
    /// Every record served, in master-file form.
    pub records: Vec<String>,
}

/// One node as `dns show` presents it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// Its name (one label).
    pub name: String,
    /// Its addresses.
    pub addrs: Vec<IpAddr>,
    /// SRV priority.
    pub priority: u16,
    /// SRV weight.
    pub weight: u16,
    /// Whether it is healthy, so in the answers.
    pub healthy: bool,
    /// Since when it is (un)healthy, in milliseconds on the caller's clock.
    pub since_ms: u64,
}

impl fmt::Display for ZoneView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "zone {} serial {} ttl {}s",
            self.domain, self.serial, self.ttl_secs
        )?;
        if let Some(ip) = self.floating_ip {
            write!(f, " floating {ip}")?;
        }
        writeln!(f)?;
        for n in &self.nodes {
            let state = if n.healthy { "in " } else { "OUT" };
            let addrs: Vec<String> = n.addrs.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "node {} {state} since {} ms  priority {} weight {}  {}",
                n.name,
                n.since_ms,
                n.priority,
                n.weight,
                addrs.join(" ")
            )?;
        }
        for r in &self.records {
            writeln!(f, "  {r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Transport, Zone, ZoneNode, ZoneSpec, ZoneTransport};
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn the_view_serializes_to_json() {
        let spec = ZoneSpec {
            transports: vec![ZoneTransport {
                transport: Transport::Tcp,
                port: 5060,
            }],
            nodes: vec![ZoneNode {
                name: "a".into(),
                addrs: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))],
                priority: 10,
                weight: 1,
                healthy: false,
                since_ms: 5_000,
            }],
            ..ZoneSpec::new("pbx.example.test")
        };
        let json = serde_json::to_value(Zone::new(spec, 3).unwrap().describe()).unwrap();
        assert_eq!(json["domain"], "pbx.example.test.");
        assert_eq!(json["serial"], 3);
        assert_eq!(json["transports"][0]["transport"], "tcp");
        assert_eq!(json["nodes"][0]["healthy"], false);
        assert_eq!(json["nodes"][0]["since_ms"], 5_000);
        assert_eq!(json["nodes"][0]["addrs"][0], "192.0.2.1");
        let records = json["records"].as_array().unwrap();
        assert!(records[0]
            .as_str()
            .unwrap()
            .starts_with("pbx.example.test. 5 IN SOA a.pbx.example.test."));
        // The unhealthy node keeps its NS record but no SRV record.
        assert!(records
            .iter()
            .any(|r| r == "pbx.example.test. 5 IN NS a.pbx.example.test."));
        assert!(!records
            .iter()
            .any(|r| r.as_str().unwrap().contains(" IN SRV ")));
    }
}
