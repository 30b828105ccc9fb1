//! [`EmbeddedStore`]: opening the file, starting and stopping the four
//! threads (writer, watch, reader, checkpoint), and the [`Store`] trait on top of
//! their channels.

use crate::checkpoint::{CheckpointMsg, Checkpointer};
use crate::reader::{ReadMsg, Reader};
use crate::schema;
use crate::watch::{WatchMsg, WatchThread};
use crate::writer::{Batch, Writer, WriterMsg};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tandem_store::{Change, Error, Op, Rev, Snapshot, Store, StoreFuture, Watch};
use tokio::sync::{mpsc, oneshot};

/// Tunables. The defaults suit a node; tests shorten them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Change-log revisions kept for watches; a watch from further back is
    /// refused (re-snapshot).
    pub keep_revisions: u64,
    /// How often expired records are deleted and the change log pruned.
    pub sweep_interval: Duration,
    /// How often the watch thread looks for other processes' commits.
    pub poll_interval: Duration,
    /// The capacity of each watch channel.
    pub watch_capacity: usize,
    /// The most batches one group commit takes.
    pub max_group: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_revisions: 100_000,
            sweep_interval: Duration::from_millis(500),
            poll_interval: Duration::from_millis(100),
            watch_capacity: 4096,
            max_group: 1024,
        }
    }
}

/// The single-node store: one SQLite file, which other processes (the
/// CLI) may open at the same time.
///
/// Methods never block on SQLite: work goes to the store's threads and the
/// returned futures wait for their answer, so they may be awaited on any
/// async runtime. A commit is queued when [`Store::commit`] is called, not
/// when its future is first polled: commits are applied in call order, and
/// dropping the future does not cancel it.
///
/// The commit queue is unbounded: callers are expected to await their
/// commits, which bounds it by their number.
///
/// [`EmbeddedStore::close`] (or dropping the store) commits what is queued,
/// then stops the threads and waits for them: a few milliseconds at most,
/// during which the calling thread blocks.
#[derive(Debug)]
pub struct EmbeddedStore {
    path: PathBuf,
    writer: Sender<WriterMsg>,
    watch: Sender<WatchMsg>,
    reader: Sender<ReadMsg>,
    checkpoint: Sender<CheckpointMsg>,
    watch_capacity: usize,
    closed: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl EmbeddedStore {
    /// Opens (creating if missing) the database at `path` with default
    /// [`Options`].
    pub fn open(path: &Path) -> Result<EmbeddedStore, Error> {
        EmbeddedStore::open_with(path, Options::default())
    }

    /// Opens (creating if missing) the database at `path`. The directory
    /// must exist. Refuses a file written by a newer tandem.
    pub fn open_with(path: &Path, opts: Options) -> Result<EmbeddedStore, Error> {
        let name = path.display().to_string();
        let sql = |e: rusqlite::Error| crate::error::sql(&name, &e);
        let mut write_conn = schema::connect(path).map_err(sql)?;
        // The checkpoint thread does it, off the commit path.
        write_conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql)?;
        schema::init(&mut write_conn, &name)?;
        let watch_conn = schema::connect(path).map_err(sql)?;
        let read_conn = schema::connect(path).map_err(sql)?;
        let checkpoint_conn = schema::connect(path).map_err(sql)?;

        let (writer_tx, writer_rx) = channel();
        let (watch_tx, watch_rx) = channel();
        let (reader_tx, reader_rx) = channel();
        let (checkpoint_tx, checkpoint_rx) = channel();
        let watch_capacity = opts.watch_capacity.max(1);
        // If a spawn fails, returning drops the senders and the threads
        // already started see their channel close and exit.
        let restart_wal = Arc::new(AtomicBool::new(false));
        let spawn = |thread: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(format!("tandem-store-{thread}"))
                .spawn(f)
                .map_err(|e| Error::Storage {
                    path: name.clone(),
                    reason: format!("cannot start the {thread} thread: {e}"),
                })
        };
        let threads = vec![
            spawn(
                "writer",
                Box::new({
                    let w = Writer {
                        conn: write_conn,
                        path: name.clone(),
                        rx: writer_rx,
                        wake: watch_tx.clone(),
                        opts: opts.clone(),
                        restart_wal: Arc::clone(&restart_wal),
                    };
                    move || w.run()
                }),
            )?,
            spawn(
                "watch",
                Box::new({
                    let w = WatchThread {
                        conn: watch_conn,
                        path: name.clone(),
                        rx: watch_rx,
                        opts,
                    };
                    move || w.run()
                }),
            )?,
            spawn(
                "reader",
                Box::new({
                    let r = Reader {
                        conn: read_conn,
                        path: name.clone(),
                        rx: reader_rx,
                    };
                    move || r.run()
                }),
            )?,
            spawn(
                "checkpoint",
                Box::new({
                    let c = Checkpointer {
                        conn: checkpoint_conn,
                        path: name.clone(),
                        rx: checkpoint_rx,
                        restart_wal: Arc::clone(&restart_wal),
                    };
                    move || c.run()
                }),
            )?,
        ];
        Ok(EmbeddedStore {
            path: path.to_path_buf(),
            writer: writer_tx,
            watch: watch_tx,
            reader: reader_tx,
            checkpoint: checkpoint_tx,
            watch_capacity,
            closed: AtomicBool::new(false),
            threads: Mutex::new(threads),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits what is queued, stops the threads and waits for them. Later
    /// calls fail with [`Error::Closed`]; open watches get `Err(Closed)`
    /// and end. Idempotent.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        // The writer first, so that its last commits reach the watch
        // thread before it stops.
        let _ = self.writer.send(WriterMsg::Close);
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        let mut threads = threads.into_iter();
        if let Some(writer) = threads.next() {
            let _ = writer.join();
        }
        let _ = self.watch.send(WatchMsg::Close);
        let _ = self.reader.send(ReadMsg::Close);
        let _ = self.checkpoint.send(CheckpointMsg::Close);
        for t in threads {
            // A panicked thread has already failed its callers (their
            // oneshots were dropped): nothing more to report here.
            let _ = t.join();
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl Store for EmbeddedStore {
    fn commit(&self, ops: Vec<Op>) -> StoreFuture<Rev> {
        let (reply, answer) = oneshot::channel();
        let queued = !self.is_closed()
            && self
                .writer
                .send(WriterMsg::Commit(Batch { ops, reply }))
                .is_ok();
        Box::pin(async move {
            if !queued {
                return Err(Error::Closed);
            }
            // A dropped reply means the writer stopped before answering.
            answer.await.unwrap_or(Err(Error::Closed))
        })
    }

    fn snapshot(&self, prefix: &str) -> StoreFuture<Snapshot> {
        let (reply, answer) = oneshot::channel();
        let queued = !self.is_closed()
            && self
                .reader
                .send(ReadMsg::Snapshot {
                    prefix: prefix.to_owned(),
                    reply,
                })
                .is_ok();
        Box::pin(async move {
            if !queued {
                return Err(Error::Closed);
            }
            answer.await.unwrap_or(Err(Error::Closed))
        })
    }

    fn watch(&self, prefix: &str, after: Rev) -> Watch {
        let (tx, rx) = mpsc::channel::<Result<Change, Error>>(self.watch_capacity);
        if self.is_closed() {
            let _ = tx.try_send(Err(Error::Closed));
            return rx;
        }
        if let Err(std::sync::mpsc::SendError(WatchMsg::Register { tx, .. })) =
            self.watch.send(WatchMsg::Register {
                prefix: prefix.to_owned(),
                after,
                tx,
            })
        {
            let _ = tx.try_send(Err(Error::Closed));
        }
        rx
    }

    fn describe(&self) -> String {
        format!("embedded:{}", self.path.display())
    }
}
