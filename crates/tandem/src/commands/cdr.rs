//! `tandem cdr list`: call detail records from the store, as a table, CSV
//! or JSON lines.

use super::{block_on, open_store, utc};
use crate::cli::{CdrCommand, CdrFormat};
use std::process::ExitCode;
use tandem_store::{Cdr, Prefix};

pub(crate) fn run(command: CdrCommand) -> ExitCode {
    let CdrCommand::List {
        store,
        ext,
        since,
        limit,
        format,
    } = command;
    match list(&store.config, ext.as_deref(), since, limit, format) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e}");
            ExitCode::from(2)
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn list(
    path: &std::path::Path,
    ext: Option<&str>,
    since: Option<u64>,
    limit: Option<usize>,
    format: CdrFormat,
) -> Result<(), String> {
    let (_, store) = open_store(path)?;
    let snap = block_on(store.snapshot(Prefix::Cdr.as_str())).map_err(|e| e.to_string())?;
    let mut cdrs: Vec<Cdr> = snap
        .records
        .iter()
        .filter_map(|r| serde_json::from_slice::<Cdr>(&r.value).ok())
        .filter(|c| ext.is_none_or(|e| c.caller == e || c.callee == e))
        .filter(|c| since.is_none_or(|s| c.end_ms >= s * 1000))
        .collect();
    cdrs.sort_by_key(|c| (c.end_ms, c.id.clone()));
    if let Some(n) = limit {
        let skip = cdrs.len().saturating_sub(n);
        cdrs.drain(..skip);
    }
    match format {
        CdrFormat::Jsonl => {
            for c in &cdrs {
                outln!("{}", serde_json::to_string(c).map_err(|e| e.to_string())?);
            }
        }
        CdrFormat::Csv => {
            outln!("id,call_id,caller,callee,start,answer,end,duration_s,end_cause,status,hangup_by,node");
            for c in &cdrs {
                let hang = c
                    .hangup_by
                    .map(|h| format!("{h:?}").to_lowercase())
                    .unwrap_or_default();
                outln!(
                    "{},{},{},{},{},{},{},{:.3},{},{},{},{}",
                    c.id,
                    csv_field(&c.call_id),
                    csv_field(&c.caller),
                    csv_field(&c.callee),
                    utc(c.start_ms),
                    c.answer_ms.map(utc).unwrap_or_default(),
                    utc(c.end_ms),
                    c.duration_ms as f64 / 1000.0,
                    c.end_cause,
                    c.status,
                    hang,
                    csv_field(&c.node)
                );
            }
        }
        CdrFormat::Table => {
            outln!(
                "{:<19}  {:<8} {:<8} {:>9}  {:<11} {:>6}  {}",
                "ended (UTC)",
                "caller",
                "callee",
                "talk (s)",
                "cause",
                "status",
                "hung up"
            );
            for c in &cdrs {
                let hang = c
                    .hangup_by
                    .map(|h| format!("{h:?}").to_lowercase())
                    .unwrap_or_else(|| "-".into());
                outln!(
                    "{:<19}  {:<8} {:<8} {:>9.1}  {:<11} {:>6}  {}",
                    utc(c.end_ms),
                    c.caller,
                    c.callee,
                    c.duration_ms as f64 / 1000.0,
                    c.end_cause,
                    c.status,
                    hang
                );
            }
            if cdrs.is_empty() {
                outln!("no call detail records");
            }
        }
    }
    Ok(())
}
