//! Measures group-commit throughput: many concurrent callers each commit
//! small single-op batches, as a node's registrar and dialogs do. Meanwhile
//! a second store on the same file (as the CLI would open) commits a few
//! times, to show how long another process waits for the write lock while
//! the node's writer is saturated.
//!
//! ```text
//! cargo run --release -p tandem-store-embedded --example commit_throughput -- [callers] [commits per caller]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_store::{Op, Store};
use tandem_store_embedded::EmbeddedStore;

/// The example's one clock read: it measures elapsed time.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let callers: usize = args.next().map_or(Ok(256), |a| a.parse())?;
    let each: usize = args.next().map_or(Ok(400), |a| a.parse())?;
    let dir = std::env::temp_dir().join(format!("tandem-commit-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir, callers, each);
    std::fs::remove_dir_all(&dir)?;
    let (elapsed, rev, cli) = result?;
    let total = callers * each;
    println!(
        "{total} commits from {callers} callers in {:.2} s: {:.0} commits/s (last revision {rev})",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    let worst = cli.iter().max().copied().unwrap_or_default();
    println!(
        "second process: {} commits during the run, slowest took {worst:?}",
        cli.len()
    );
    Ok(())
}

type Outcome = (Duration, u64, Vec<Duration>);

fn run(
    dir: &std::path::Path,
    callers: usize,
    each: usize,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let db = dir.join("tandem.db");
    let store = Arc::new(EmbeddedStore::open(&db)?);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cli = std::thread::spawn({
        let done = Arc::clone(&done);
        move || -> Result<Vec<Duration>, tandem_store::Error> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| tandem_store::Error::Unavailable {
                    reason: e.to_string(),
                })?;
            let cli = EmbeddedStore::open(&db)?;
            let mut latencies = Vec::new();
            std::thread::sleep(Duration::from_millis(300));
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let start = now();
                let op = Op::Put {
                    key: format!("ext/{}", latencies.len()),
                    value: b"{}".to_vec(),
                    expires_at_ms: None,
                };
                rt.block_on(cli.commit(vec![op]))?;
                latencies.push(now().duration_since(start));
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(latencies)
        }
    });
    let result = rt.block_on(async {
        let start = now();
        let mut tasks = Vec::with_capacity(callers);
        for c in 0..callers {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let mut last = 0;
                for i in 0..each {
                    let op = Op::Put {
                        key: format!("bind/{c}/{i}"),
                        value: br#"{"contact":"sip:phone@192.0.2.1:5060","q_millis":1000}"#
                            .to_vec(),
                        expires_at_ms: None,
                    };
                    last = store.commit(vec![op]).await?;
                }
                Ok::<_, tandem_store::Error>(last)
            }));
        }
        let mut rev = 0;
        for t in tasks {
            rev = rev.max(t.await??);
        }
        Ok::<_, Box<dyn std::error::Error>>((now().duration_since(start), rev))
    });
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let cli = cli
        .join()
        .map_err(|_| "the second store's thread panicked")??;
    store.close();
    let (elapsed, rev) = result?;
    Ok((elapsed, rev, cli))
}
