//! Integration tests of the embedded store: revisions, atomicity, expiry,
//! watches (replay, live, other processes, pruning), durability across a
//! SIGKILL, and concurrent commits.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tandem_store::{Change, Error, Op, Record, Rev, Store, Watch};
use tandem_store_embedded::{EmbeddedStore, Options};

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tandem-store-embedded-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("tandem.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Tests need wall-clock expiry times, like the node that writes bindings.
#[allow(clippy::disallowed_methods)]
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn put(key: &str, value: &str) -> Op {
    Op::Put {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        expires_at_ms: None,
    }
}

fn put_expiring(key: &str, value: &str, expires_at_ms: u64) -> Op {
    Op::Put {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        expires_at_ms: Some(expires_at_ms),
    }
}

fn del(key: &str) -> Op {
    Op::Delete { key: key.into() }
}

fn record(key: &str, value: &str, rev: Rev) -> Record {
    Record {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        rev,
        expires_at_ms: None,
    }
}

fn open(path: &Path) -> EmbeddedStore {
    EmbeddedStore::open(path).expect("open store")
}

/// The next change, failing the test after `secs`.
async fn next(w: &mut Watch, secs: u64) -> Result<Change, Error> {
    match tokio::time::timeout(Duration::from_secs(secs), w.recv()).await {
        Ok(Some(c)) => c,
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no change within {secs} s"),
    }
}

/// Asserts nothing arrives for a short while.
async fn quiet(w: &mut Watch) {
    if let Ok(c) = tokio::time::timeout(Duration::from_millis(300), w.recv()).await {
        panic!("unexpected {c:?}");
    }
}

#[tokio::test]
async fn commits_advance_one_revision_each_and_snapshots_see_them() {
    let dir = TempDir::new("revs");
    let store = open(&dir.db());
    assert_eq!(store.describe(), format!("embedded:{}", dir.db().display()));
    assert_eq!(store.snapshot("").await.unwrap().rev, 0);

    assert_eq!(store.commit(vec![put("ext/1000", "a")]).await.unwrap(), 1);
    assert_eq!(
        store
            .commit(vec![put("ext/1001", "b"), put("bind/1000/x", "c")])
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.commit(vec![put("ext/1000", "a2")]).await.unwrap(), 3);
    assert_eq!(
        store
            .commit(vec![del("ext/1001"), del("ext/absent")])
            .await
            .unwrap(),
        4
    );
    // An empty commit is still a commit.
    assert_eq!(store.commit(vec![]).await.unwrap(), 5);

    let all = store.snapshot("").await.unwrap();
    assert_eq!(all.rev, 5);
    assert_eq!(
        all.records,
        vec![record("bind/1000/x", "c", 2), record("ext/1000", "a2", 3)]
    );
    let ext = store.snapshot("ext/").await.unwrap();
    assert_eq!(ext.records, vec![record("ext/1000", "a2", 3)]);
    assert!(store.snapshot("cdr/").await.unwrap().records.is_empty());

    // The revision is in the file: it goes on after a reopen.
    store.close();
    assert!(matches!(
        store.commit(vec![put("ext/x", "y")]).await,
        Err(Error::Closed)
    ));
    drop(store);
    let store = open(&dir.db());
    assert_eq!(store.snapshot("").await.unwrap().rev, 5);
    assert_eq!(store.commit(vec![put("ext/1002", "d")]).await.unwrap(), 6);
}

#[tokio::test]
async fn a_failing_batch_leaves_nothing_and_spends_no_revision() {
    let dir = TempDir::new("atomic");
    let store = open(&dir.db());
    store.commit(vec![put("ext/keep", "1")]).await.unwrap();

    // Queued together, these three are group-committed in one transaction:
    // the bad one (its second op refused after the first was written) is
    // rolled back alone.
    let good1 = store.commit(vec![put("ext/a", "1")]);
    let bad = store.commit(vec![
        put("ext/b", "1"),
        del("ext/keep"),
        put("", "empty key"),
    ]);
    let good2 = store.commit(vec![put("ext/c", "1")]);
    let too_big = store.commit(vec![
        put("ext/d", "1"),
        Op::Put {
            key: "ext/big".into(),
            value: vec![0; tandem_store_embedded::MAX_VALUE_BYTES + 1],
            expires_at_ms: None,
        },
    ]);
    assert_eq!(good1.await.unwrap(), 2);
    assert!(matches!(bad.await, Err(Error::Invalid { .. })));
    assert_eq!(good2.await.unwrap(), 3);
    assert!(matches!(too_big.await, Err(Error::Invalid { .. })));

    let snap = store.snapshot("").await.unwrap();
    assert_eq!(snap.rev, 3);
    let keys: Vec<&str> = snap.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["ext/a", "ext/c", "ext/keep"]);

    // Nor did the failed batches leave anything in the change log.
    let mut w = store.watch("", 0);
    let revs: Vec<Rev> = [
        next(&mut w, 2).await,
        next(&mut w, 2).await,
        next(&mut w, 2).await,
    ]
    .into_iter()
    .map(|c| c.unwrap().rev())
    .collect();
    assert_eq!(revs, [1, 2, 3]);
    quiet(&mut w).await;
}

#[tokio::test]
async fn conditions_gate_the_whole_batch() {
    use tandem_store::Expect;
    let dir = TempDir::new("require");
    let store = open(&dir.db());
    let require = |key: &str, expect| Op::Require {
        key: key.into(),
        expect,
    };
    // Claim an owner key only if nobody has: the first wins, the second is
    // refused with the key named, and nothing of its batch is written.
    let won = store
        .commit(vec![
            require("own/c1", Expect::Absent),
            put("own/c1", "node-a"),
        ])
        .await
        .unwrap();
    let lost = store
        .commit(vec![
            require("own/c1", Expect::Absent),
            put("own/c1", "node-b"),
            put("ext/x", "1"),
        ])
        .await;
    assert!(
        matches!(lost, Err(Error::Conflict { ref key }) if key == "own/c1"),
        "{lost:?}"
    );

    // Compare-and-set on the revision the winner got.
    let stale = store
        .commit(vec![
            require("own/c1", Expect::Rev(won + 7)),
            put("own/c1", "node-c"),
        ])
        .await;
    assert!(matches!(stale, Err(Error::Conflict { .. })));
    let moved = store
        .commit(vec![
            require("own/c1", Expect::Rev(won)),
            put("own/c1", "node-c"),
        ])
        .await
        .unwrap();
    assert_eq!(moved, won + 1, "refused batches spend no revision");

    // Present: write the CDR only while the dialog exists; a condition sees
    // the batch's own earlier ops.
    assert!(matches!(
        store
            .commit(vec![require("dlg/1", Expect::Present), put("cdr/1", "x")])
            .await,
        Err(Error::Conflict { .. })
    ));
    store
        .commit(vec![
            put("dlg/1", "d"),
            require("dlg/1", Expect::Present),
            put("cdr/1", "x"),
        ])
        .await
        .unwrap();
    // An expired record counts as absent before the sweeper gets to it.
    store
        .commit(vec![put_expiring("dlg/2", "d", now_ms() - 1)])
        .await
        .unwrap();
    store
        .commit(vec![require("dlg/2", Expect::Absent), put("cdr/2", "x")])
        .await
        .unwrap();

    let snap = store.snapshot("").await.unwrap();
    let kv: Vec<(&str, &[u8])> = snap
        .records
        .iter()
        .map(|r| (r.key.as_str(), r.value.as_slice()))
        .collect();
    assert_eq!(
        kv,
        [
            ("cdr/1", &b"x"[..]),
            ("cdr/2", b"x"),
            ("dlg/1", b"d"),
            ("own/c1", b"node-c"),
        ]
    );
}

#[tokio::test]
async fn snapshots_hide_expired_records_before_the_sweep() {
    let dir = TempDir::new("expiry-hidden");
    let mut opts = Options::default();
    opts.sweep_interval = Duration::from_secs(3600);
    let store = EmbeddedStore::open_with(&dir.db(), opts).unwrap();
    // Let the sweep the writer runs at start pass, so that the next one is
    // an hour away.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let now = now_ms();
    store
        .commit(vec![
            put_expiring("bind/1000/old", "x", now - 1),
            put_expiring("bind/1000/live", "y", now + 60_000),
        ])
        .await
        .unwrap();
    let snap = store.snapshot("bind/").await.unwrap();
    let keys: Vec<&str> = snap.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["bind/1000/live"]);
    assert_eq!(snap.records[0].expires_at_ms, Some(now + 60_000));
}

#[tokio::test]
async fn the_sweeper_deletes_expired_records_as_watchers_see() {
    let dir = TempDir::new("expiry-watch");
    let store = open(&dir.db());
    let mut w = store.watch("bind/", 0);
    let expires = now_ms() + 200;
    let rev = store
        .commit(vec![put_expiring("bind/1000/a", "x", expires)])
        .await
        .unwrap();
    match next(&mut w, 2).await.unwrap() {
        Change::Put(r) => {
            assert_eq!(
                (r.key.as_str(), r.rev, r.expires_at_ms),
                ("bind/1000/a", rev, Some(expires))
            )
        }
        other => panic!("{other:?}"),
    }
    // Sweeps run every 500 ms.
    match next(&mut w, 3).await.unwrap() {
        Change::Delete { key, rev: gone } => {
            assert_eq!(key, "bind/1000/a");
            assert_eq!(gone, rev + 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(now_ms() >= expires);
    let snap = store.snapshot("").await.unwrap();
    assert!(snap.records.is_empty());
    assert_eq!(snap.rev, rev + 1);
}

#[tokio::test]
async fn a_watch_replays_history_in_order_then_follows() {
    let dir = TempDir::new("replay");
    let store = open(&dir.db());
    store.commit(vec![put("ext/a", "1")]).await.unwrap(); // 1, overwritten at 3
    store.commit(vec![put("ext/b", "1")]).await.unwrap(); // 2, deleted at 4
    store
        .commit(vec![put("ext/a", "2"), put("cdr/x", "1")])
        .await
        .unwrap(); // 3
    store.commit(vec![del("ext/b")]).await.unwrap(); // 4
    store
        .commit(vec![put("ext/c", "1"), put("ext/c", "2")])
        .await
        .unwrap(); // 5: logged once

    // From 0: puts later overwritten or deleted are skipped (their later
    // change is reported); deletes always are; other prefixes are not.
    let mut w = store.watch("ext/", 0);
    assert_eq!(
        next(&mut w, 2).await.unwrap(),
        Change::Put(record("ext/a", "2", 3))
    );
    assert_eq!(
        next(&mut w, 2).await.unwrap(),
        Change::Delete {
            key: "ext/b".into(),
            rev: 4
        }
    );
    assert_eq!(
        next(&mut w, 2).await.unwrap(),
        Change::Put(record("ext/c", "2", 5))
    );
    quiet(&mut w).await;

    // From a later revision: only what came after it.
    let mut w4 = store.watch("", 4);
    assert_eq!(
        next(&mut w4, 2).await.unwrap(),
        Change::Put(record("ext/c", "2", 5))
    );

    // Then live changes, in order.
    store.commit(vec![put("cdr/y", "1")]).await.unwrap(); // 6
    store.commit(vec![del("ext/a")]).await.unwrap(); // 7
    store.commit(vec![put("ext/d", "1")]).await.unwrap(); // 8
    assert_eq!(
        next(&mut w, 2).await.unwrap(),
        Change::Delete {
            key: "ext/a".into(),
            rev: 7
        }
    );
    assert_eq!(
        next(&mut w, 2).await.unwrap(),
        Change::Put(record("ext/d", "1", 8))
    );
    let revs: Vec<Rev> = [
        next(&mut w4, 2).await,
        next(&mut w4, 2).await,
        next(&mut w4, 2).await,
    ]
    .into_iter()
    .map(|c| c.unwrap().rev())
    .collect();
    assert_eq!(revs, [6, 7, 8]);

    // A watch from the current revision sees only what comes next.
    let mut now = store.watch("", 8);
    quiet(&mut now).await;
    store.commit(vec![put("ext/e", "1")]).await.unwrap();
    assert_eq!(next(&mut now, 2).await.unwrap().rev(), 9);
}

#[tokio::test]
async fn a_slow_watcher_gets_everything_in_order() {
    let dir = TempDir::new("slow");
    let mut opts = Options::default();
    opts.watch_capacity = 4;
    let store = EmbeddedStore::open_with(&dir.db(), opts).unwrap();
    let mut w = store.watch("", 0);
    let mut futures = Vec::new();
    for i in 0..300 {
        futures.push(store.commit(vec![put(&format!("k/{i}"), "v")]));
    }
    for f in futures {
        f.await.unwrap();
    }
    for rev in 1..=300 {
        assert_eq!(next(&mut w, 2).await.unwrap().rev(), rev);
    }
    quiet(&mut w).await;
}

#[tokio::test]
async fn another_process_writing_the_file_is_seen_by_watchers() {
    let dir = TempDir::new("cli");
    let node = open(&dir.db());
    node.commit(vec![put("ext/1000", "node")]).await.unwrap();
    let mut w = node.watch("ext/", 1);

    // The CLI opens the same file and writes while the node runs.
    let cli = open(&dir.db());
    let rev = cli.commit(vec![put("ext/1001", "cli")]).await.unwrap();
    assert_eq!(rev, 2, "one revision counter, shared through the file");
    assert_eq!(
        next(&mut w, 1).await.unwrap(),
        Change::Put(record("ext/1001", "cli", 2))
    );
    drop(cli);

    // And the node goes on from there.
    assert_eq!(node.commit(vec![put("ext/1002", "node")]).await.unwrap(), 3);
    assert_eq!(node.snapshot("ext/").await.unwrap().records.len(), 3);
}

#[tokio::test]
async fn a_watch_from_before_the_pruned_log_is_told_to_resnapshot() {
    let dir = TempDir::new("pruned");
    let mut opts = Options::default();
    opts.keep_revisions = 10;
    opts.sweep_interval = Duration::from_millis(50);
    let store = EmbeddedStore::open_with(&dir.db(), opts).unwrap();
    for i in 0..30 {
        store
            .commit(vec![put(&format!("k/{i}"), "v")])
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut old = store.watch("k/", 5);
    match next(&mut old, 2).await {
        Err(Error::Unavailable { reason }) => assert!(reason.contains("snapshot"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(old.recv().await.is_none(), "the watch ends after the error");

    let mut recent = store.watch("k/", 25);
    for rev in 26..=30 {
        assert_eq!(next(&mut recent, 2).await.unwrap().rev(), rev);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_get_distinct_increasing_revisions() {
    const TASKS: usize = 32;
    const EACH: usize = 200;
    let dir = TempDir::new("concurrent");
    let store = Arc::new(open(&dir.db()));
    let mut w = store.watch("", 0);
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let mut revs = Vec::with_capacity(EACH);
            for i in 0..EACH {
                revs.push(
                    store
                        .commit(vec![put(&format!("c/{t}/{i}"), "v")])
                        .await
                        .unwrap(),
                );
            }
            revs
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        let revs = h.await.unwrap();
        assert!(
            revs.windows(2).all(|p| p[0] < p[1]),
            "one caller's commits are ordered"
        );
        all.extend(revs);
    }
    all.sort_unstable();
    let n = (TASKS * EACH) as Rev;
    assert_eq!(
        all,
        (1..=n).collect::<Vec<_>>(),
        "distinct, none lost, no gap"
    );
    let snap = store.snapshot("c/").await.unwrap();
    assert_eq!((snap.rev, snap.records.len()), (n, TASKS * EACH));
    for rev in 1..=n {
        assert_eq!(next(&mut w, 2).await.unwrap().rev(), rev);
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = TempDir::new("schema");
    drop(open(&dir.db()));
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    conn.execute(
        "UPDATE meta SET value = 99 WHERE name = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    match EmbeddedStore::open(&dir.db()) {
        Err(Error::Storage { reason, .. }) => assert!(reason.contains("newer tandem"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_closed_store_refuses_work() {
    let dir = TempDir::new("closed");
    let store = open(&dir.db());
    let mut w = store.watch("", 0);
    store.close();
    store.close();
    assert!(matches!(next(&mut w, 2).await, Err(Error::Closed)));
    assert!(matches!(store.snapshot("").await, Err(Error::Closed)));
    let mut late = store.watch("", 0);
    assert!(matches!(next(&mut late, 2).await, Err(Error::Closed)));
}

const CHILD_DB: &str = "TANDEM_STORE_EMBEDDED_CHILD_DB";

/// Not a test on its own: the body of the child process of
/// `commits_survive_sigkill`, which runs this binary with `CHILD_DB` set.
#[test]
fn durability_child() {
    let Some(db) = std::env::var_os(CHILD_DB) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = open(Path::new(&db));
        for i in 0.. {
            let rev = store
                .commit(vec![put(&format!("dur/{i:05}"), "v")])
                .await
                .unwrap();
            // Stdout is a pipe: print and flush at once, so that the parent
            // may kill us the moment it reads this line.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "COMMITTED {i} {rev}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[tokio::test]
async fn commits_survive_sigkill() {
    let dir = TempDir::new("sigkill");
    // Open before the child writes: its commits reach this watcher only by
    // polling the file, as the CLI's reach the node.
    let watching = open(&dir.db());
    let mut w = watching.watch("dur/", 0);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "durability_child",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_DB, dir.db())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let last = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("COMMITTED ") {
                let mut parts = rest.split(' ');
                let i: u32 = parts.next().unwrap().parse().unwrap();
                let rev: Rev = parts.next().unwrap().parse().unwrap();
                if i == 200 {
                    return (i, rev);
                }
            }
        }
        panic!("child ended before committing");
    })
    .await
    .unwrap();
    // SIGKILL, right after the commit's future resolved: no close, no
    // destructor, no checkpoint.
    child.kill().unwrap();
    child.wait().unwrap();

    match next(&mut w, 1).await.unwrap() {
        Change::Put(r) => assert_eq!((r.key.as_str(), r.rev), ("dur/00000", 1)),
        other => panic!("{other:?}"),
    }
    drop(watching);

    let store = open(&dir.db());
    let snap = store.snapshot("dur/").await.unwrap();
    assert!(
        snap.rev >= last.1,
        "revision {} lost (file at {})",
        last.1,
        snap.rev
    );
    for i in 0..=last.0 {
        let key = format!("dur/{i:05}");
        assert!(snap.records.iter().any(|r| r.key == key), "{key} lost");
    }
}
