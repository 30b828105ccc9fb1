//! `tandem status`: this node and its cluster at a glance, from the admin
//! API (`GET /api/v1/status`).

use crate::cli::ApiArgs;
use std::process::ExitCode;

pub(crate) fn run(args: &ApiArgs) -> ExitCode {
    match show(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e}");
            ExitCode::from(2)
        }
    }
}

fn show(args: &ApiArgs) -> Result<(), String> {
    let s = super::api::get(args, "/api/v1/status")?;
    if args.json {
        outln!("{s}");
        return Ok(());
    }
    let up = s["uptime_secs"].as_u64().unwrap_or(0);
    outln!(
        "node {}  tandem {}  up {}h {:02}m",
        s["node"].as_str().unwrap_or("?"),
        s["version"].as_str().unwrap_or("?"),
        up / 3600,
        (up % 3600) / 60
    );
    let c = &s["counts"];
    let num = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    outln!(
        "registrations {}   calls {} ({} ringing)   extensions {}   revision {}",
        num(&c["registrations"]),
        num(&c["calls_confirmed"]) + num(&c["calls_early"]),
        num(&c["calls_early"]),
        num(&c["extensions"]),
        num(&c["revision"])
    );
    let cl = &s["cluster"];
    match cl["leader"]["node"].as_str() {
        Some(l) => outln!("leader {l} (epoch {})", num(&cl["leader"]["epoch"])),
        None => outln!("leader none"),
    }
    if let Some(ip) = cl["floating_ip"].as_str() {
        let holders: Vec<&str> = cl["floating_ip_holders"]
            .as_array()
            .map(|a| a.iter().filter_map(|h| h.as_str()).collect())
            .unwrap_or_default();
        outln!(
            "floating IP {ip} held by {}",
            if holders.is_empty() {
                "nobody".to_string()
            } else {
                holders.join(", ")
            }
        );
    }
    outln!("");
    outln!(
        "{:<12} {:<11} {:<8} {:<9} {:<8} {:>6}  {}",
        "NODE",
        "ROLE",
        "HEALTH",
        "FLOATING",
        "DRAINING",
        "LAG",
        "SIP"
    );
    for n in cl["nodes"].as_array().into_iter().flatten() {
        let sip: Vec<&str> = n["sip"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        outln!(
            "{:<12} {:<11} {:<8} {:<9} {:<8} {:>6}  {}",
            n["node"].as_str().unwrap_or("?"),
            n["role"].as_str().unwrap_or("?"),
            if n["healthy"] == true { "ok" } else { "SICK" },
            if n["holds_floating_ip"] == true {
                "held"
            } else {
                "-"
            },
            if n["draining"] == true { "yes" } else { "no" },
            num(&n["replication_lag_revs"]),
            sip.join(" ")
        );
    }
    Ok(())
}
