//! `tandem trunk status`: every configured trunk with the registration
//! state its registering node (the leader) last wrote to `trunk/<name>`
//! (RFC 3261 §10.2 client registration), read from the store the config
//! file names, so it works from any machine, whichever nodes are up.

use super::{block_on, open_store, utc};
use crate::cli::TrunkCommand;
use std::path::Path;
use std::process::ExitCode;
use tandem_store::{TrunkRecord, TRUNK_PREFIX};

pub(crate) fn run(command: TrunkCommand) -> ExitCode {
    let result = match command {
        TrunkCommand::Status { store, json } => status(&store.config, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e}");
            ExitCode::from(2)
        }
    }
}

/// One trunk as shown: its configuration and its stored state, if any.
#[derive(Debug)]
struct Row {
    name: String,
    register: bool,
    host: String,
    state: Option<TrunkRecord>,
}

impl Row {
    /// The stored record's fields, with the configuration's beside them.
    fn json(&self) -> serde_json::Value {
        let mut v = self
            .state
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        if let Some(o) = v.as_object_mut() {
            o.insert("name".into(), self.name.clone().into());
            o.insert("register".into(), self.register.into());
            o.insert("host".into(), self.host.clone().into());
        }
        v
    }
}

fn status(path: &Path, json: bool) -> Result<(), String> {
    let (config, store) = open_store(path)?;
    let snap = block_on(store.snapshot(TRUNK_PREFIX)).map_err(|e| e.to_string())?;
    let stored: Vec<TrunkRecord> = snap
        .records
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.value).ok())
        .collect();
    let rows: Vec<Row> = config
        .trunks
        .iter()
        .map(|t| Row {
            name: t.name.clone(),
            register: t.register,
            host: t
                .domain
                .clone()
                .or_else(|| t.proxy.clone())
                .unwrap_or_default(),
            state: stored.iter().find(|s| s.name == t.name).cloned(),
        })
        .collect();
    if json {
        let trunks: Vec<serde_json::Value> = rows.iter().map(Row::json).collect();
        let value = serde_json::json!({ "revision": snap.rev, "trunks": trunks });
        outln!("{value}");
        return Ok(());
    }
    outln!(
        "{:<14} {:<12} {:<20} {:>6} {:<19} {:>8} {:<10} {:>6}  {}",
        "TRUNK",
        "STATE",
        "EXPIRES (UTC)",
        "STATUS",
        "NEXT TRY (UTC)",
        "FAILURES",
        "NODE",
        "EPOCH",
        "HOST"
    );
    for r in &rows {
        let (state, expires, last, retry, failures, node, epoch) = match &r.state {
            Some(s) => (
                s.state.clone(),
                s.expires_at_ms.map_or("-".into(), utc),
                s.last_status.to_string(),
                s.retry_at_ms.map_or("-".into(), utc),
                s.failures.to_string(),
                s.node.clone(),
                s.epoch.to_string(),
            ),
            None if r.register => (
                "unknown".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ),
            None => (
                "no-register".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ),
        };
        outln!(
            "{:<14} {:<12} {:<20} {:>6} {:<19} {:>8} {:<10} {:>6}  {}",
            r.name,
            state,
            expires,
            last,
            retry,
            failures,
            node,
            epoch,
            r.host
        );
    }
    if rows.is_empty() {
        outln!("(no [[trunks]] in {})", path.display());
    }
    Ok(())
}
