//! The node's state at start and after: open the store, load a consistent
//! snapshot into the replica, create or update the extensions the config
//! lists, and follow the store's watch so that changes made elsewhere (the
//! CLI, other nodes) reach the replica.

use crate::error::Error;
use std::sync::Arc;
use tandem_config::{is_demo_password, Config};
use tandem_pbx::Algorithm;
use tandem_store::{extension_key, Extension, Op, SharedReplica, Store};

/// Opens the configured backend (the CLI uses it too: the embedded store
/// may be opened by several processes at once).
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, Error> {
    match config.storage.backend.as_str() {
        "embedded" => {
            let store =
                tandem_store_embedded::EmbeddedStore::open(&config.storage.path).map_err(|e| {
                    Error::Store {
                        backend: format!("embedded:{}", config.storage.path.display()),
                        reason: e.to_string(),
                    }
                })?;
            Ok(Arc::new(store))
        }
        other => Err(Error::Store {
            backend: other.to_owned(),
            reason: "this backend is not available in this build yet".into(),
        }),
    }
}

/// The extension record for a number and password in `realm`.
pub fn extension_record(
    number: &str,
    password: &str,
    realm: &str,
    display_name: Option<String>,
) -> Extension {
    Extension {
        number: number.to_owned(),
        display_name,
        realm: realm.to_owned(),
        ha1_md5: Algorithm::Md5.ha1(number, realm, password),
        ha1_sha256: Algorithm::Sha256.ha1(number, realm, password),
        demo_password: is_demo_password(number, password),
        caller_id: None,
        group: None,
    }
}

/// Loads everything into the replica, then writes the config's extensions
/// that are missing or differ. Returns the revision to watch from.
pub(crate) async fn bootstrap(
    store: &Arc<dyn Store>,
    replica: &SharedReplica,
    config: &Config,
) -> Result<u64, Error> {
    let unavailable = |e: tandem_store::Error| Error::Store {
        backend: store.describe(),
        reason: e.to_string(),
    };
    let snapshot = store.snapshot("").await.map_err(unavailable)?;
    {
        let mut r = replica.write().unwrap_or_else(|p| p.into_inner());
        r.clear();
        r.load(snapshot.rev, &snapshot.records);
    }
    let realm = config.realm();
    let mut ops = Vec::new();
    {
        let r = replica.read().unwrap_or_else(|p| p.into_inner());
        for e in &config.extensions {
            let want = extension_record(&e.number, &e.password, &realm, e.display_name.clone());
            if r.extension(&e.number) != Some(&want) {
                ops.push(Op::Put {
                    key: extension_key(&e.number),
                    value: serde_json::to_vec(&want).unwrap_or_default(),
                    expires_at_ms: None,
                });
            }
        }
    }
    let mut rev = snapshot.rev;
    if !ops.is_empty() {
        let count = ops.len();
        rev = store.commit(ops.clone()).await.map_err(unavailable)?;
        replica
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .apply_ops(&ops, rev);
        tracing::info!(
            count,
            "extensions from the config file written to the store"
        );
    }
    let r = replica.read().unwrap_or_else(|p| p.into_inner());
    tracing::info!(store = %store.describe(), rev, extensions = r.extensions().len(), "state loaded");
    Ok(rev)
}

/// Follows the store from `after`, applying every change to the replica;
/// if the watch breaks (backend restarted, too far behind), reloads a
/// snapshot and starts again.
pub(crate) async fn follow(store: Arc<dyn Store>, replica: SharedReplica, mut after: u64) {
    loop {
        let mut watch = store.watch("", after);
        while let Some(change) = watch.recv().await {
            match change {
                Ok(c) => {
                    after = after.max(c.rev());
                    replica.write().unwrap_or_else(|p| p.into_inner()).apply(&c);
                }
                Err(e) => {
                    tracing::warn!("store watch interrupted: {e}; reloading a snapshot");
                    break;
                }
            }
        }
        // Reload: the replica must not miss a change.
        loop {
            match store.snapshot("").await {
                Ok(s) => {
                    let mut r = replica.write().unwrap_or_else(|p| p.into_inner());
                    r.clear();
                    r.load(s.rev, &s.records);
                    after = s.rev;
                    break;
                }
                Err(e) => {
                    tracing::warn!("store unavailable: {e}; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
    }
}
