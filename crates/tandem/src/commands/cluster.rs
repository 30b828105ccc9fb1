//! `tandem cluster status|drain|resume`: the operator's view of a cluster
//! and its planned-maintenance controls, read from and written to etcd
//! (the store the config file names), so they work from any machine that
//! reaches etcd, whichever nodes are up.

use super::{block_on, open_store, utc};
use crate::cli::ClusterCommand;
use std::path::Path;
use std::process::ExitCode;
use tandem_node::cluster::records::{control_op, Presence, NODES_PREFIX};

pub(crate) fn run(command: ClusterCommand) -> ExitCode {
    let result = match command {
        ClusterCommand::Status {
            store,
            json,
            events,
        } => status(&store.config, json, events),
        ClusterCommand::Drain { store, node } => control(&store.config, node, true),
        ClusterCommand::Resume { store, node } => control(&store.config, node, false),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e}");
            ExitCode::from(2)
        }
    }
}

fn status(path: &Path, json: bool, events_max: usize) -> Result<(), String> {
    let (config, store) = open_store(path)?;
    if config.storage.backend != "etcd" {
        return Err(format!(
            "{}: a single node (storage.backend = \"{}\"): no cluster to show",
            path.display(),
            config.storage.backend
        ));
    }
    let floating_ip = tandem_node::cluster::report::configured_floating_ip(&config);
    let report = block_on(tandem_node::cluster::report::read(
        store.as_ref(),
        floating_ip,
        events_max,
    ))
    .map_err(|e| e.to_string())?;
    if json {
        outln!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    let head = report.revision;
    let leader = report.leader.as_ref().map(|l| (l, l.epoch));
    let floating = &report.floating_ip;
    let holders = &report.floating_ip_holders;
    let nodes: Vec<&Presence> = report.nodes.iter().map(|n| &n.presence).collect();
    let events = &report.events;
    match &leader {
        Some((l, epoch)) => outln!("leader:       {} (epoch {epoch})", l.node),
        None => outln!("leader:       none (election in progress, or no node is up)"),
    }
    match floating {
        Some(ip) => outln!(
            "floating IP:  {ip} held by {}",
            if holders.is_empty() {
                "nobody".to_string()
            } else {
                holders.join(", ")
            }
        ),
        None => outln!("floating IP:  none configured"),
    }
    outln!("revision:     {head}");
    outln!("");
    outln!(
        "{:<12} {:<11} {:<8} {:<9} {:<10} {:>8} {:>8} {:>8}  {}",
        "NODE",
        "ROLE",
        "HEALTH",
        "DRAINING",
        "FLOATING",
        "LAG",
        "SIP ms",
        "ETCD ms",
        "LISTEN"
    );
    for n in &nodes {
        let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        outln!(
            "{:<12} {:<11} {:<8} {:<9} {:<10} {:>8} {:>8} {:>8}  {}",
            n.node,
            n.role,
            if n.healthy { "ok" } else { "SICK" },
            if n.draining { "yes" } else { "no" },
            if n.holds_floating_ip { "held" } else { "-" },
            head.saturating_sub(n.applied_rev),
            ms(n.health.sip_ms),
            ms(n.health.store_ms),
            n.sip.join(" ")
        );
    }
    if nodes.is_empty() {
        outln!("(no node is up)");
    }
    if !events.is_empty() {
        outln!("");
        outln!("latest events (UTC):");
        for e in events {
            outln!(
                "  {}.{:03}  {:<8} {:<16} {}",
                utc(e.at_ms),
                e.at_ms % 1000,
                e.node,
                e.event,
                e.detail
            );
        }
    }
    Ok(())
}

fn control(path: &Path, node: Option<String>, drain: bool) -> Result<(), String> {
    let (config, store) = open_store(path)?;
    if config.storage.backend != "etcd" {
        return Err(format!(
            "{}: drain and resume are for cluster nodes (storage.backend = \"etcd\")",
            path.display()
        ));
    }
    let node = node
        .or(config.node.name.clone())
        .ok_or("name the node with --node (the config file names none)")?;
    let snap =
        block_on(store.snapshot(&format!("{NODES_PREFIX}{node}"))).map_err(|e| e.to_string())?;
    if !snap
        .records
        .iter()
        .any(|r| r.key == format!("{NODES_PREFIX}{node}"))
    {
        return Err(format!("node {node} is not up (no presence record)"));
    }
    block_on(store.commit(vec![control_op(&node, drain)])).map_err(|e| e.to_string())?;
    if drain {
        outln!("{node}: draining: leadership and the floating IP move to a peer; no new calls; calls in progress go on");
    } else {
        outln!("{node}: resumed");
    }
    Ok(())
}
