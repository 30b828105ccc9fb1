//! The node's state at start and after: open the store, load a consistent
//! snapshot into the replica, create or update the extensions the config
//! lists, and follow the store's watch so that changes made elsewhere (the
//! CLI, other nodes) reach the replica.

use crate::error::Error;
use std::sync::Arc;
use tandem_config::{is_demo_password, Config};
use tandem_pbx::Algorithm;
use tandem_store::{extension_key, Extension, Op, SharedReplica, Store};

/// Extensions written per commit at start (etcd allows 128 operations
/// in one transaction).
const EXTENSION_BATCH: usize = 100;
/// An opened store, and for the etcd backend the coordination client the
/// cluster agent works through.
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn Store>,
    /// etcd's leases, elections and presence keys (etcd backend only).
    pub coordinator: Option<tandem_store_etcd::Coordinator>,
}

/// The etcd client settings from the configuration.
pub(crate) fn etcd_config(config: &Config) -> tandem_store_etcd::EtcdConfig {
    let e = &config.storage.etcd;
    tandem_store_etcd::EtcdConfig {
        endpoints: e.endpoints.clone(),
        prefix: e.prefix.clone(),
        dial_timeout: std::time::Duration::from_millis(e.dial_timeout_ms),
        request_timeout: std::time::Duration::from_millis(e.request_timeout_ms),
        ..tandem_store_etcd::EtcdConfig::default()
    }
}

/// Opens the configured backend (the CLI uses it too: the embedded store
/// may be opened by several processes at once, etcd by any number).
pub async fn open_store(config: &Config) -> Result<OpenedStore, Error> {
    match config.storage.backend.as_str() {
        "embedded" => {
            let store =
                tandem_store_embedded::EmbeddedStore::open(&config.storage.path).map_err(|e| {
                    Error::Store {
                        backend: format!("embedded:{}", config.storage.path.display()),
                        reason: e.to_string(),
                    }
                })?;
            Ok(OpenedStore {
                store: Arc::new(store),
                coordinator: None,
            })
        }
        "etcd" => {
            let store = tandem_store_etcd::EtcdStore::connect(etcd_config(config))
                .await
                .map_err(|e| Error::Store {
                    backend: format!("etcd:{}", config.storage.etcd.endpoints.join(",")),
                    reason: e.to_string(),
                })?;
            let coordinator = store.coordinator();
            Ok(OpenedStore {
                store: Arc::new(store),
                coordinator: Some(coordinator),
            })
        }
        other => Err(Error::Store {
            backend: other.to_owned(),
            reason: "unknown backend (use \"embedded\" or \"etcd\")".into(),
        }),
    }
}

fn unavailable(store: &Arc<dyn Store>, e: tandem_store::Error) -> Error {
    Error::Store {
        backend: store.describe(),
        reason: e.to_string(),
    }
}

/// The key of the cluster-wide secret (nonces, flow tokens).
const SECRET_KEY: &str = "cluster/secret";

/// The secret every node of the store shares: digest nonces and
/// Record-Route flow tokens made by one node are good on every other and
/// across restarts. Created by the first node that finds none.
pub(crate) async fn shared_secret(store: &Arc<dyn Store>) -> Result<[u8; 32], Error> {
    let unavailable = |e| unavailable(store, e);
    for _ in 0..5 {
        let snap = store.snapshot(SECRET_KEY).await.map_err(unavailable)?;
        if let Some(r) = snap.records.iter().find(|r| r.key == SECRET_KEY) {
            if let Ok(s) = <[u8; 32]>::try_from(r.value.as_slice()) {
                return Ok(s);
            }
        }
        let fresh = crate::clock::secret();
        let created = store
            .commit(vec![
                Op::Require {
                    key: SECRET_KEY.into(),
                    expect: tandem_store::Expect::Absent,
                },
                Op::Put {
                    key: SECRET_KEY.into(),
                    value: fresh.to_vec(),
                    expires_at_ms: None,
                },
            ])
            .await;
        match created {
            Ok(_) => return Ok(fresh),
            // Another node created it first (or a malformed one is there):
            // read again.
            Err(tandem_store::Error::Conflict { .. }) => {
                if let Some(r) = snap.records.iter().find(|r| r.key == SECRET_KEY) {
                    // Malformed: replace it, guarded by its revision.
                    let _ = store
                        .commit(vec![
                            Op::Require {
                                key: SECRET_KEY.into(),
                                expect: tandem_store::Expect::Rev(r.rev),
                            },
                            Op::Put {
                                key: SECRET_KEY.into(),
                                value: fresh.to_vec(),
                                expires_at_ms: None,
                            },
                        ])
                        .await;
                }
            }
            Err(e) => return Err(unavailable(e)),
        }
    }
    Err(Error::Store {
        backend: store.describe(),
        reason: "could not agree on the cluster secret".into(),
    })
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
    let unavailable = |e| unavailable(store, e);
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
            let want = Extension {
                caller_id: e.outbound_caller_id.clone(),
                ..extension_record(&e.number, &e.password, &realm, e.display_name.clone())
            };
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
        // In batches: etcd takes at most 128 operations per transaction.
        for batch in ops.chunks(EXTENSION_BATCH) {
            rev = store.commit(batch.to_vec()).await.map_err(unavailable)?;
            replica
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .apply_ops(batch, rev);
        }
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
