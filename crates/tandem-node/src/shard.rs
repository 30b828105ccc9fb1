//! A transaction shard: one task owning a transaction layer and a PBX core,
//! fed the messages of the Call-IDs that hash to it and woken at its next
//! timer. Its outputs go straight to the transports.

use crate::clock;
use std::time::Instant;
use tandem_pbx::Core;
use tandem_sip::Message;
use tandem_transaction::{Flow, TransactionLayer};
use tandem_transport::Transports;
use tokio::sync::{mpsc, oneshot};

/// What a shard is told. Messages travel unboxed: one allocation less per
/// message matters more than the channel slot size.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ShardInput {
    /// A parsed message.
    Message(Message, Flow),
    /// Stop taking new requests; answer when no transaction is left.
    Drain(oneshot::Sender<()>),
}

pub(crate) async fn run(
    mut rx: mpsc::Receiver<ShardInput>,
    transports: Transports,
    mut layer: TransactionLayer,
    mut core: Core,
) {
    let mut drained: Option<oneshot::Sender<()>> = None;
    loop {
        let deadline = layer.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            input = rx.recv() => {
                let Some(input) = input else { break };
                handle(input, &mut layer, &mut drained);
                // Take what else is queued before flushing, up to a bound.
                for _ in 0..64 {
                    match rx.try_recv() {
                        Ok(input) => handle(input, &mut layer, &mut drained),
                        Err(_) => break,
                    }
                }
            }
            _ = sleep => layer.handle_timeout(clock::now()),
        }
        flush(clock::now(), &mut layer, &mut core, &transports);
        if layer.is_empty() {
            if let Some(done) = drained.take() {
                let _ = done.send(());
            }
        }
    }
}

fn handle(
    input: ShardInput,
    layer: &mut TransactionLayer,
    drained: &mut Option<oneshot::Sender<()>>,
) {
    match input {
        ShardInput::Message(msg, flow) => layer.handle_message(clock::now(), msg, flow),
        ShardInput::Drain(done) => {
            layer.set_accepting(false);
            *drained = Some(done);
        }
    }
}

/// Runs the core on every event and sends every transmit, until both queues are empty.
fn flush(now: Instant, layer: &mut TransactionLayer, core: &mut Core, transports: &Transports) {
    loop {
        let mut progressed = false;
        while let Some(event) = layer.poll_event() {
            core.on_event(now, event, layer);
            progressed = true;
        }
        while let Some(t) = layer.poll_transmit() {
            if let Err(e) = transports.send(t) {
                tracing::warn!("send failed: {e}");
            }
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
}
