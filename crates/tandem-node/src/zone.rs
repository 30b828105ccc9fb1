//! The node's DNS zone: the authoritative NAPTR/SRV/A records of the
//! cluster's SIP domain (RFC 3263 §4, RFC 2782, RFC 7118 §5), rebuilt from
//! the members' presence records so that only healthy nodes are served.
//! Every node serves the same zone (each builds it from the same member
//! view), so phones and carriers can list every node as a name server.
//! `tandem dns show` builds the zone the same way from the store.

use crate::error::Error;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tandem_config::Config;
use tandem_dns::{Zone, ZoneNode, ZoneServer, ZoneSpec, ZoneTransport, ZoneView};
use tandem_transaction::TransportKind;
use tandem_transport::ListenAddr;
use tokio::sync::watch;

/// A member as the zone sees it (from its presence record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneMember {
    /// Node name: published as `<name>.<domain>`.
    pub node: String,
    /// Its listeners (`udp:10.0.0.1:5060` ...).
    pub listen: Vec<String>,
    /// Whether it passes its health checks and is not draining.
    pub serving: bool,
    /// SRV priority.
    pub priority: u16,
    /// SRV weight.
    pub weight: u16,
}

fn dns_transport(kind: TransportKind) -> tandem_dns::Transport {
    match kind {
        TransportKind::Udp => tandem_dns::Transport::Udp,
        TransportKind::Tcp => tandem_dns::Transport::Tcp,
        TransportKind::Tls => tandem_dns::Transport::Tls,
        TransportKind::Ws => tandem_dns::Transport::Ws,
        TransportKind::Wss => tandem_dns::Transport::Wss,
    }
}

/// The zone's transports: each transport the node listens on, with its
/// first port, in the configuration's order (NAPTR ranks them so).
fn transports(own: &[ListenAddr]) -> Vec<ZoneTransport> {
    let mut out: Vec<ZoneTransport> = Vec::new();
    for l in own {
        let t = dns_transport(l.transport);
        if !out.iter().any(|z| z.transport == t) {
            out.push(ZoneTransport {
                transport: t,
                port: l.addr.port(),
            });
        }
    }
    out
}

/// The floating IP of a cluster configuration.
fn floating_ip(config: &Config) -> Option<IpAddr> {
    config
        .cluster
        .as_ref()
        .and_then(|c| c.floating_ip.as_ref())
        .map(|f| f.address)
}

/// The addresses a member can be reached at: its listeners' IPs, without
/// wildcards (not routable) and without the floating IP (served apart).
fn member_addrs(m: &ZoneMember, floating: Option<IpAddr>) -> Vec<IpAddr> {
    let mut addrs = Vec::new();
    for l in &m.listen {
        if let Ok(a) = l.parse::<ListenAddr>() {
            let ip = a.addr.ip();
            if !ip.is_unspecified() && Some(ip) != floating && !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    addrs
}

/// Builds the zone spec: `since` remembers, per node, when it last changed
/// between served and not (and is updated here).
pub fn zone_spec(
    config: &Config,
    own_listen: &[ListenAddr],
    members: &[ZoneMember],
    since: &mut BTreeMap<String, (bool, u64)>,
    now_ms: u64,
) -> Option<ZoneSpec> {
    let section = config.dns.as_ref()?.zone.as_ref()?;
    let floating = floating_ip(config);
    let mut nodes = Vec::new();
    for m in members {
        let addrs = member_addrs(m, floating);
        if addrs.is_empty() {
            tracing::warn!(node = %m.node, "not in the DNS zone: it listens on no specific address");
            continue;
        }
        let entry = since.entry(m.node.clone()).or_insert((m.serving, now_ms));
        if entry.0 != m.serving {
            *entry = (m.serving, now_ms);
        }
        nodes.push(ZoneNode {
            name: m.node.clone(),
            addrs,
            priority: m.priority,
            weight: m.weight,
            healthy: m.serving,
            since_ms: entry.1,
        });
    }
    since.retain(|n, _| members.iter().any(|m| &m.node == n));
    Some(ZoneSpec {
        domain: section.domain.clone(),
        ttl_secs: section.ttl_secs,
        transports: transports(own_listen),
        nodes,
        floating_ip: floating,
    })
}

/// The zone being served, and its server.
pub struct ZonePublisher {
    config: Config,
    own_listen: Vec<ListenAddr>,
    tx: watch::Sender<Zone>,
    since: Mutex<BTreeMap<String, (bool, u64)>>,
    server: Mutex<Option<ZoneServer>>,
}

impl std::fmt::Debug for ZonePublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZonePublisher").finish_non_exhaustive()
    }
}

impl ZonePublisher {
    /// Starts serving `[dns.zone]` with `members` (this node alone for a
    /// single node; a cluster node publishes its peers as they come).
    /// None when the configuration has no zone.
    pub async fn start(
        config: &Config,
        own_listen: &[ListenAddr],
        members: &[ZoneMember],
    ) -> Result<Option<Arc<ZonePublisher>>, Error> {
        let Some(section) = config.dns.as_ref().and_then(|d| d.zone.clone()) else {
            return Ok(None);
        };
        let mut since = BTreeMap::new();
        let now_ms = crate::clock::unix_ms();
        let spec = zone_spec(config, own_listen, members, &mut since, now_ms)
            .unwrap_or_else(|| ZoneSpec::new(section.domain.clone()));
        // A serial that grows across restarts, so secondaries follow.
        let serial = (now_ms / 1000) as u32;
        let zone = Zone::new(spec, serial).map_err(|source| Error::Zone { source })?;
        let (tx, rx) = watch::channel(zone);
        let server = ZoneServer::start(section.listen, rx)
            .await
            .map_err(|source| Error::Zone { source })?;
        tracing::info!(
            listen = %server.local_addr(),
            domain = %section.domain,
            "serving the DNS zone of the SIP domain (healthy nodes only)"
        );
        Ok(Some(Arc::new(ZonePublisher {
            config: config.clone(),
            own_listen: own_listen.to_vec(),
            tx,
            since: Mutex::new(since),
            server: Mutex::new(Some(server)),
        })))
    }

    /// Rebuilds the zone from the members; logs what changed.
    pub fn publish(&self, members: &[ZoneMember]) {
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        let Some(spec) = zone_spec(
            &self.config,
            &self.own_listen,
            members,
            &mut since,
            crate::clock::unix_ms(),
        ) else {
            return;
        };
        let served: Vec<&str> = spec
            .nodes
            .iter()
            .filter(|n| n.healthy)
            .map(|n| n.name.as_str())
            .collect();
        let served = served.join(",");
        let mut error = None;
        let changed = self.tx.send_if_modified(|zone| match zone.update(spec) {
            Ok(changed) => changed,
            Err(e) => {
                error = Some(e);
                false
            }
        });
        if let Some(e) = error {
            tracing::error!("the DNS zone was not updated: {e}");
        } else if changed {
            tracing::info!(
                serial = self.tx.borrow().serial(),
                served = %served,
                "DNS zone updated"
            );
        }
    }

    /// What the zone answers now.
    pub fn view(&self) -> ZoneView {
        self.tx.borrow().describe()
    }

    /// Stops the server.
    pub async fn shutdown(&self) {
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(s) = server {
            let _ = s.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> Config {
        Config::from_toml(
            toml,
            std::path::Path::new("t.toml"),
            std::path::Path::new("."),
        )
        .unwrap()
    }

    fn member(node: &str, ip: &str, serving: bool) -> ZoneMember {
        ZoneMember {
            node: node.into(),
            listen: vec![format!("udp:{ip}:5060"), format!("tcp:{ip}:5060")],
            serving,
            priority: 10,
            weight: 100,
        }
    }

    #[test]
    fn members_become_nodes_and_unhealthy_ones_are_marked_since_their_change() {
        let c = config("[dns.zone]\nlisten = \"127.0.0.1:5353\"\ndomain = \"pbx.example.test\"\n");
        let own: Vec<ListenAddr> = vec!["udp:127.0.0.1:5060".parse().unwrap()];
        let mut since = BTreeMap::new();
        let m = [member("a", "127.0.0.1", true), member("b", "0.0.0.0", true)];
        let spec = zone_spec(&c, &own, &m, &mut since, 1000).unwrap();
        // b listens on a wildcard only: it cannot be published.
        assert_eq!(spec.nodes.len(), 1);
        assert_eq!(
            spec.nodes[0].addrs,
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(spec.transports.len(), 1);
        let m = [member("a", "127.0.0.1", false)];
        let spec = zone_spec(&c, &own, &m, &mut since, 5000).unwrap();
        assert!(!spec.nodes[0].healthy);
        assert_eq!(spec.nodes[0].since_ms, 5000);
        let spec = zone_spec(&c, &own, &m, &mut since, 9000).unwrap();
        assert_eq!(
            spec.nodes[0].since_ms, 5000,
            "unchanged health keeps its time"
        );
        assert!(zone_spec(&config(""), &own, &m, &mut since, 0).is_none());
    }
}
