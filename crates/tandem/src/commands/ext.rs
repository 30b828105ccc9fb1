//! `tandem ext add|list|rm`: extensions in the store the config file names.
//! The embedded store may be written while the node runs; the node sees
//! the change within a moment through its watch.

use super::{block_on, open_store};
use crate::cli::ExtCommand;
use std::process::ExitCode;
use tandem_store::{binding_key, extension_key, Binding, Extension, Op, Prefix};

pub(crate) fn run(command: ExtCommand) -> ExitCode {
    let result = match command {
        ExtCommand::Add {
            store,
            number,
            password,
            name,
        } => add(&store.config, &number, &password, name),
        ExtCommand::Import { store, file } => import(&store.config, &file),
        ExtCommand::List { store, json } => list(&store.config, json),
        ExtCommand::Rm { store, number } => rm(&store.config, &number),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e}");
            ExitCode::from(2)
        }
    }
}

fn check_extension(number: &str, password: &str) -> Result<(), String> {
    if number.is_empty()
        || !number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
    {
        return Err(format!(
            "extension number {number:?}: use digits, letters or - _ . +"
        ));
    }
    if password.len() < 4 {
        return Err(format!(
            "extension {number}: the password must be at least 4 characters"
        ));
    }
    Ok(())
}

/// Ops per commit when importing: well inside every backend's batch limit.
const IMPORT_BATCH: usize = 100;

fn import(path: &std::path::Path, file: &std::path::Path) -> Result<(), String> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))?
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?
    };
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.splitn(3, ',').map(str::trim);
        let number = fields.next().unwrap_or_default();
        let password = fields.next().unwrap_or_default();
        let name = fields.next().filter(|n| !n.is_empty()).map(str::to_owned);
        check_extension(number, password)
            .map_err(|e| format!("{}:{}: {e}", file.display(), i + 1))?;
        if !seen.insert(number.to_owned()) {
            return Err(format!(
                "{}:{}: extension {number} is listed twice",
                file.display(),
                i + 1
            ));
        }
        rows.push((number.to_owned(), password.to_owned(), name));
    }
    let (config, store) = open_store(path)?;
    let realm = config.realm();
    let mut ops = Vec::with_capacity(rows.len());
    for (number, password, name) in &rows {
        let ext = tandem_node::extension_record(number, password, &realm, name.clone());
        ops.push(Op::Put {
            key: extension_key(number),
            value: serde_json::to_vec(&ext).map_err(|e| e.to_string())?,
            expires_at_ms: None,
        });
    }
    let commits = ops
        .chunks(IMPORT_BATCH)
        .map(|chunk| store.commit(chunk.to_vec()))
        .collect::<Vec<_>>();
    let mut rev = 0;
    block_on(async {
        for c in commits {
            rev = rev.max(c.await?);
        }
        Ok::<_, tandem_store::Error>(())
    })
    .map_err(|e| e.to_string())?;
    outln!(
        "{} extension(s) saved (realm {realm}, revision {rev})",
        rows.len()
    );
    Ok(())
}

fn add(
    path: &std::path::Path,
    number: &str,
    password: &str,
    name: Option<String>,
) -> Result<(), String> {
    check_extension(number, password)?;
    let (config, store) = open_store(path)?;
    let ext = tandem_node::extension_record(number, password, &config.realm(), name);
    let op = Op::Put {
        key: extension_key(number),
        value: serde_json::to_vec(&ext).map_err(|e| e.to_string())?,
        expires_at_ms: None,
    };
    let rev = block_on(store.commit(vec![op])).map_err(|e| e.to_string())?;
    outln!(
        "extension {number} saved (realm {}, revision {rev})",
        config.realm()
    );
    if ext.demo_password {
        eprintln!("warning: {password} is the published demo password of {number}");
    }
    Ok(())
}

fn list(path: &std::path::Path, json: bool) -> Result<(), String> {
    let (_, store) = open_store(path)?;
    let (exts, binds) = block_on(async {
        let e = store.snapshot(Prefix::Extension.as_str()).await?;
        let b = store.snapshot(Prefix::Binding.as_str()).await?;
        Ok::<_, tandem_store::Error>((e, b))
    })
    .map_err(|e| e.to_string())?;
    let bindings: Vec<Binding> = binds
        .records
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.value).ok())
        .collect();
    let mut rows: Vec<Extension> = exts
        .records
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.value).ok())
        .collect();
    rows.sort_by(|a, b| a.number.cmp(&b.number));
    for e in &rows {
        let contacts: Vec<&Binding> = bindings.iter().filter(|b| b.aor == e.number).collect();
        if json {
            let v = serde_json::json!({
                "number": e.number,
                "display_name": e.display_name,
                "realm": e.realm,
                "demo_password": e.demo_password,
                "contacts": contacts.iter().map(|b| serde_json::json!({"contact": b.contact, "expires_at_ms": b.expires_at_ms, "source": b.source.remote, "transport": b.source.transport, "user_agent": b.user_agent})).collect::<Vec<_>>(),
            });
            outln!("{v}");
        } else {
            let name = e.display_name.clone().unwrap_or_default();
            let regs = if contacts.is_empty() {
                "-".to_string()
            } else {
                contacts
                    .iter()
                    .map(|b| format!("{} ({})", b.contact, b.source.transport))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            outln!("{:<8} {:<20} {}", e.number, name, regs);
        }
    }
    if !json && rows.is_empty() {
        outln!("no extensions");
    }
    Ok(())
}

fn rm(path: &std::path::Path, number: &str) -> Result<(), String> {
    let (_, store) = open_store(path)?;
    let binds = block_on(store.snapshot(&format!("bind/{number}/"))).map_err(|e| e.to_string())?;
    let exists = block_on(store.snapshot(&extension_key(number))).map_err(|e| e.to_string())?;
    if !exists
        .records
        .iter()
        .any(|r| r.key == extension_key(number))
    {
        return Err(format!("no extension {number}"));
    }
    let mut ops = vec![Op::Delete {
        key: extension_key(number),
    }];
    for r in &binds.records {
        if let Ok(b) = serde_json::from_slice::<Binding>(&r.value) {
            if b.aor == number {
                ops.push(Op::Delete { key: r.key.clone() });
            }
        }
    }
    let _ = binding_key;
    let n = ops.len() - 1;
    block_on(store.commit(ops)).map_err(|e| e.to_string())?;
    outln!("extension {number} removed with {n} registration(s)");
    Ok(())
}
