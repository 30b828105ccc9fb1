//! `tandem dns show`: what the cluster's DNS zone answers now and why:
//! built the way every node builds it (from the members' presence records
//! in etcd, or from the node's own configuration for a single node), with
//! the nodes left out and since when.

use super::{block_on, open_store, utc};
use crate::cli::DnsCommand;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use tandem_node::cluster::records::{Presence, NODES_PREFIX};
use tandem_node::zone::{zone_spec, ZoneMember};
use tandem_transport::ListenAddr;

pub(crate) fn run(command: DnsCommand) -> ExitCode {
    let result = match command {
        DnsCommand::Show { store, json } => show(&store.config, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e}");
            ExitCode::from(2)
        }
    }
}

/// A node that is not served, and why.
#[derive(Debug, serde::Serialize)]
struct Out {
    node: String,
    why: &'static str,
    since_ms: u64,
}

fn show(path: &Path, json: bool) -> Result<(), String> {
    let (config, store) = open_store(path)?;
    if config.dns.as_ref().and_then(|d| d.zone.as_ref()).is_none() {
        return Err(format!(
            "{}: no [dns.zone] section: this node serves no DNS zone",
            path.display()
        ));
    }
    let own: Vec<ListenAddr> = config.listen_addrs();
    let mut since = BTreeMap::new();
    let mut out = Vec::new();
    let members: Vec<ZoneMember> = if config.storage.backend == "etcd" {
        let snap = block_on(store.snapshot("cluster/")).map_err(|e| e.to_string())?;
        let presences: Vec<Presence> = snap
            .records
            .iter()
            .filter(|r| r.key.starts_with(NODES_PREFIX))
            .filter_map(|r| serde_json::from_slice(&r.value).ok())
            .collect();
        for p in &presences {
            since.insert(p.node.clone(), (p.healthy && !p.draining, p.state_since_ms));
            let why = match (p.healthy, p.draining) {
                (false, _) => Some("unhealthy"),
                (true, true) => Some("draining"),
                _ => None,
            };
            if let Some(why) = why {
                out.push(Out {
                    node: p.node.clone(),
                    why,
                    since_ms: p.state_since_ms,
                });
            }
        }
        // Nodes that left: the latest node_down of a node not present.
        let report = tandem_node::cluster::report::build(&snap, None, 1000);
        let mut gone: BTreeMap<String, u64> = BTreeMap::new();
        for e in report.events.iter().filter(|e| e.event == "node_down") {
            if let Some(n) = e.detail.get("node").and_then(|n| n.as_str()) {
                if !presences.iter().any(|p| p.node == n) {
                    gone.insert(n.to_owned(), e.at_ms);
                }
            }
        }
        for (node, at) in gone {
            out.push(Out {
                node,
                why: "down (no presence: its lease ended)",
                since_ms: at,
            });
        }
        presences.iter().map(Presence::zone_member).collect()
    } else {
        vec![ZoneMember {
            node: config.node.name.clone().unwrap_or_else(|| "tandem".into()),
            listen: own.iter().map(ToString::to_string).collect(),
            serving: true,
            priority: config
                .dns
                .as_ref()
                .and_then(|d| d.zone.as_ref())
                .map_or(10, |z| z.priority),
            weight: config
                .dns
                .as_ref()
                .and_then(|d| d.zone.as_ref())
                .map_or(100, |z| z.weight),
        }]
    };
    let now = tandem_node::clock::unix_ms();
    let spec =
        zone_spec(&config, &own, &members, &mut since, now).ok_or("no [dns.zone] section")?;
    let zone =
        tandem_dns::Zone::new(spec, 0).map_err(|e| format!("the zone cannot be built: {e}"))?;
    let view = zone.describe();
    if json {
        let v = serde_json::json!({
            "domain": view.domain,
            "ttl_secs": view.ttl_secs,
            "floating_ip": view.floating_ip,
            "nodes": view.nodes,
            "out": out,
            "records": view.records,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    outln!(
        "zone {} (TTL {} s){}",
        view.domain,
        view.ttl_secs,
        view.floating_ip
            .map(|ip| format!(", floating IP {ip}"))
            .unwrap_or_default()
    );
    if config.storage.backend != "etcd" {
        outln!("single node: the zone is served by the node itself while it runs");
    }
    if out.is_empty() {
        outln!("every node is served");
    } else {
        outln!("left out:");
        for o in &out {
            outln!("  {:<16} {} since {} UTC", o.node, o.why, utc(o.since_ms));
        }
    }
    outln!("answers:");
    for r in &view.records {
        outln!("  {r}");
    }
    Ok(())
}
