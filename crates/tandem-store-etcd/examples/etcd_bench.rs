//! Measures the etcd backend against local etcd it starts itself (one
//! member by default; fresh data directories, loopback, the test timers):
//! single-op
//! commit throughput with many concurrent callers (group commit), and the
//! time from revoking a leader's lease to a watcher of the leader key
//! seeing the delete (how soon the cluster agents learn a leader left).
//!
//! ```text
//! cargo run --release -p tandem-store-etcd --example etcd_bench -- [callers] [commits per caller] [max in flight] [members]
//! ```

use tandem_test_support::etcd;

use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_store::{Op, Store};
use tandem_store_etcd::{EtcdConfig, EtcdStore, KeyEvent};

/// The example's one clock read: it measures elapsed time.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let callers: usize = args.next().map_or(Ok(256), |a| a.parse())?;
    let each: usize = args.next().map_or(Ok(200), |a| a.parse())?;
    let max_in_flight: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let members: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let cluster = etcd::Cluster::start(members);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let config = EtcdConfig {
            endpoints: cluster.endpoints(),
            prefix: "/tandem/bench/".into(),
            max_in_flight,
            ..EtcdConfig::default()
        };
        let store = Arc::new(EtcdStore::connect(config).await?);
        // Warm-up, and the one-caller baseline: one commit per round trip.
        throughput(&store, 1, 2000).await?;
        throughput(&store, callers, each).await?;
        revoke_to_delete(&store, 50).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    drop(cluster);
    Ok(())
}

async fn throughput(
    store: &Arc<EtcdStore>,
    callers: usize,
    each: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let start = now();
    let mut tasks = Vec::with_capacity(callers);
    for c in 0..callers {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::with_capacity(each);
            for i in 0..each {
                let op = Op::Put {
                    key: format!("bind/{callers}/{c}/{i}"),
                    value: br#"{"contact":"sip:phone@192.0.2.1:5060","q_millis":1000}"#.to_vec(),
                    expires_at_ms: None,
                };
                revs.push(store.commit(vec![op]).await?);
            }
            Ok::<_, tandem_store::Error>(revs)
        }));
    }
    let mut revs = std::collections::HashSet::new();
    for t in tasks {
        revs.extend(t.await??);
    }
    let elapsed = start.elapsed();
    let total = callers * each;
    println!(
        "{total} single-op commits from {callers} callers in {:.2} s: {:.0} commits/s, \
         {} transactions ({:.1} commits each)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        revs.len(),
        total as f64 / revs.len() as f64
    );
    Ok(())
}

async fn revoke_to_delete(
    store: &EtcdStore,
    samples: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let coord = store.coordinator();
    let mut took = Vec::with_capacity(samples);
    for _ in 0..samples {
        let lease = coord.grant_lease(10).await?;
        coord
            .campaign("leader", b"node", lease.id)
            .await?
            .ok_or("seat taken")?;
        let (at, _) = coord.get("leader").await?;
        let mut seat = coord.watch_key("leader", at);
        // Let the watch reach etcd first, as the agents' long-standing
        // watches have: a watch created after the delete would be served
        // by etcd's catch-up loop (every 100 ms), which is not what this
        // measures.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = now();
        coord.revoke(lease.id).await?;
        loop {
            match seat.recv().await.ok_or("watch ended")?? {
                KeyEvent::Delete { .. } => break,
                KeyEvent::Put(_) => {}
            }
        }
        took.push(start.elapsed());
    }
    took.sort();
    let pct = |p: usize| took[(took.len() - 1) * p / 100];
    println!(
        "revoke to leader-key watcher seeing the delete, {samples} samples: median {:?}, p90 {:?}, max {:?}",
        pct(50),
        pct(90),
        took[took.len() - 1]
    );
    Ok(())
}
