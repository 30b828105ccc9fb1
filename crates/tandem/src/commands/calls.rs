//! `tandem calls`: the calls in progress, from the admin API
//! (`GET /api/v1/calls`).

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
    let page = super::api::get(args, "/api/v1/calls?limit=1000")?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    if args.json {
        for c in &items {
            outln!("{c}");
        }
        return Ok(());
    }
    outln!(
        "{:<10} {:<10} {:<10} {:>9}  {:<12} {}",
        "CALLER",
        "CALLEE",
        "STATE",
        "TALK (s)",
        "OWNER",
        "CALL-ID"
    );
    for c in &items {
        outln!(
            "{:<10} {:<10} {:<10} {:>9}  {:<12} {}",
            c["caller"].as_str().unwrap_or("?"),
            c["callee"].as_str().unwrap_or("?"),
            c["state"].as_str().unwrap_or("?"),
            c["duration_secs"].as_u64().unwrap_or(0),
            c["owner"].as_str().unwrap_or("?"),
            c["call_id"].as_str().unwrap_or("?")
        );
    }
    if items.is_empty() {
        outln!("no calls in progress");
    }
    let total = page["total"].as_u64().unwrap_or(0);
    if total > items.len() as u64 {
        outln!("({} of {total} shown)", items.len());
    }
    Ok(())
}
