//! The floating IP's worker: one task that adds and removes the address
//! in the order the agent asked, so that a drop is never overtaken by an
//! earlier take. The guard hears of the address before it is added and
//! after it is removed; the PBX core uses it only between a successful
//! add and the drop.

use super::guard::GuardLink;
use super::Msg;
use crate::clock;
use std::sync::Arc;
use std::time::Instant;
use tandem_pbx::Shared;
use tandem_vip::{AnnounceSchedule, FloatingIp};
use tokio::sync::{mpsc, oneshot};

/// What the worker is asked.
pub(crate) enum FloatingCommand {
    /// Add and announce: this node leads under `epoch`.
    Take {
        epoch: u64,
        /// When the agent decided.
        asked_at: Instant,
        /// When the old leader's key was seen to go, if it was.
        leader_gone_at: Option<Instant>,
    },
    /// Remove.
    Drop,
    /// Remove, then say so (shutdown).
    DropAndTell(oneshot::Sender<()>),
}

pub(crate) struct FloatingWorker;

impl FloatingWorker {
    pub(crate) fn start(
        ip: Option<FloatingIp>,
        schedule: Option<AnnounceSchedule>,
        shared: Arc<Shared>,
        guard: Option<Arc<GuardLink>>,
        driver: mpsc::UnboundedSender<Msg>,
    ) -> mpsc::UnboundedSender<FloatingCommand> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                match cmd {
                    FloatingCommand::Take {
                        epoch,
                        asked_at,
                        leader_gone_at,
                    } => {
                        let Some(ip) = &ip else {
                            tracing::info!(epoch, "leading (no floating IP configured)");
                            let _ = driver.send(Msg::FloatingTaken {
                                epoch,
                                add_ms: 0,
                                takeover_ms: leader_gone_at.map(|t| {
                                    clock::now().saturating_duration_since(t).as_millis() as u64
                                }),
                            });
                            continue;
                        };
                        if let Some(g) = &guard {
                            g.floating_ip(true);
                        }
                        if let Err(e) = ip.add().await {
                            tracing::error!(floating_ip = %ip, epoch, "cannot add the floating IP: {e}");
                            let _ = ip.remove().await;
                            if let Some(g) = &guard {
                                g.floating_ip(false);
                            }
                            let _ = driver.send(Msg::FloatingFailed);
                            continue;
                        }
                        shared.cluster.set_floating_held(true);
                        let added = clock::now();
                        let announced = match &schedule {
                            Some(s) => ip.announce_with(s).await,
                            None => ip.announce().await,
                        };
                        if let Err(e) = announced {
                            tracing::warn!(floating_ip = %ip, "announcing the floating IP failed (clients learn it when their ARP entry expires): {e}");
                        }
                        let since =
                            |t: Instant| added.saturating_duration_since(t).as_millis() as u64;
                        tracing::info!(
                            floating_ip = %ip,
                            epoch,
                            add_ms = since(asked_at),
                            since_leader_gone_ms = leader_gone_at.map(since),
                            "floating IP taken and announced"
                        );
                        let _ = driver.send(Msg::FloatingTaken {
                            epoch,
                            add_ms: since(asked_at),
                            takeover_ms: leader_gone_at.map(since),
                        });
                    }
                    FloatingCommand::Drop => drop_ip(ip.as_ref(), &shared, guard.as_deref()).await,
                    FloatingCommand::DropAndTell(done) => {
                        drop_ip(ip.as_ref(), &shared, guard.as_deref()).await;
                        let _ = done.send(());
                    }
                }
            }
        });
        tx
    }
}

async fn drop_ip(ip: Option<&FloatingIp>, shared: &Shared, guard: Option<&GuardLink>) {
    shared.cluster.set_floating_held(false);
    let Some(ip) = ip else { return };
    match ip.remove().await {
        Ok(outcome) => tracing::info!(floating_ip = %ip, ?outcome, "floating IP dropped"),
        Err(e) => tracing::error!(floating_ip = %ip, "cannot remove the floating IP: {e}"),
    }
    if let Some(g) = guard {
        g.floating_ip(false);
    }
}
