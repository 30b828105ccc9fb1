//! A transaction shard: one task owning a transaction layer and a PBX core,
//! fed the messages of the Call-IDs that hash to it, the outcomes of the
//! core's commits, and woken at the earlier of its timers. Its outputs go
//! straight to the transports; its durable writes go to the store on tasks
//! of their own, so a slow commit never holds up other calls.

use crate::clock;
use std::sync::Arc;
use tandem_pbx::{Core, Effect, Now};
use tandem_sip::Message;
use tandem_store::{Rev, Store};
use tandem_transaction::{Flow, TransactionLayer};
use tandem_transport::Transports;
use tokio::sync::{mpsc, oneshot};

/// What a shard is told. Messages travel unboxed: one allocation less per
/// message matters more than the channel slot size.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ShardInput {
    /// A parsed message.
    Message(Message, Flow),
    /// A commit the core asked for finished.
    Committed(u64, Result<Rev, tandem_store::Error>),
    /// Stop taking new requests; answer when no transaction is left.
    Drain(oneshot::Sender<()>),
    /// Answer at once (health check: the shard's loop turns).
    Ping(oneshot::Sender<()>),
    /// Run the per-call duties this node owns among these live members.
    Duties(Vec<String>),
    /// A resolution the core asked for finished.
    Resolved(u64, Result<Vec<tandem_pbx::ResolvedTarget>, String>),
    /// This node leads (`Some(epoch)`) or not: trunk registrations start
    /// or stop. Sent to shard 0 only; the number is the shard count, so
    /// the core picks Call-IDs the dispatcher routes back to shard 0.
    Leading(Option<u64>, usize),
}

pub(crate) struct Shard {
    pub(crate) rx: mpsc::Receiver<ShardInput>,
    pub(crate) tx: mpsc::Sender<ShardInput>,
    pub(crate) transports: Transports,
    pub(crate) layer: TransactionLayer,
    pub(crate) core: Core,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) resolver: crate::resolve::Resolver,
}

pub(crate) async fn run(mut s: Shard) {
    let mut drained: Option<oneshot::Sender<()>> = None;
    loop {
        let deadline = [s.layer.poll_timeout(), s.core.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            input = s.rx.recv() => {
                let Some(input) = input else { break };
                handle(&mut s, input, &mut drained);
                // Take what else is queued before flushing, up to a bound.
                for _ in 0..64 {
                    match s.rx.try_recv() {
                        Ok(input) => handle(&mut s, input, &mut drained),
                        Err(_) => break,
                    }
                }
            }
            _ = sleep => {
                let now = clock::now_pair();
                s.layer.handle_timeout(now.instant);
                s.core.handle_timeout(now, &mut s.layer);
            }
        }
        flush(clock::now_pair(), &mut s);
        if s.layer.is_empty() {
            if let Some(done) = drained.take() {
                let _ = done.send(());
            }
        }
    }
}

fn handle(s: &mut Shard, input: ShardInput, drained: &mut Option<oneshot::Sender<()>>) {
    match input {
        ShardInput::Message(msg, flow) => s.layer.handle_message(clock::now(), msg, flow),
        ShardInput::Committed(token, result) => {
            s.core
                .on_committed(clock::now_pair(), token, result, &mut s.layer)
        }
        ShardInput::Drain(done) => {
            s.layer.set_accepting(false);
            *drained = Some(done);
        }
        ShardInput::Ping(reply) => {
            let _ = reply.send(());
        }
        ShardInput::Duties(members) => {
            s.core.run_duties(clock::now_pair(), &members, &mut s.layer);
        }
        ShardInput::Resolved(token, result) => {
            s.core
                .on_resolved(clock::now_pair(), token, result, &mut s.layer);
        }
        ShardInput::Leading(epoch, shards) => {
            let ours = |call_id: &str| crate::dispatch::shard_of(call_id, shards) == 0;
            s.core
                .set_leading(clock::now_pair(), epoch, &ours, &mut s.layer);
        }
    }
}

/// Runs the core on every event, starts every commit, sends every
/// transmit, until all queues are empty.
fn flush(now: Now, s: &mut Shard) {
    loop {
        let mut progressed = false;
        while let Some(event) = s.layer.poll_event() {
            s.core.on_event(now, event, &mut s.layer);
            progressed = true;
        }
        while let Some(effect) = s.core.poll_effect() {
            let back = s.tx.clone();
            match effect {
                Effect::Commit { token, ops } => {
                    let store = s.store.clone();
                    tokio::spawn(async move {
                        let result = store.commit(ops).await;
                        let _ = back.send(ShardInput::Committed(token, result)).await;
                    });
                }
                Effect::Resolve { token, query } => {
                    let resolver = s.resolver.clone();
                    tokio::spawn(async move {
                        let result = resolver.resolve(query).await;
                        let _ = back.send(ShardInput::Resolved(token, result)).await;
                    });
                }
            }
            progressed = true;
        }
        while let Some(t) = s.layer.poll_transmit() {
            if let Err(e) = s.transports.send(t) {
                tracing::warn!("send failed: {e}");
            }
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
}
