//! `/api/v1/events`: server-sent events for the dashboard. Once a second,
//! a `snapshot` event with the live counts (registrations, calls,
//! extensions, calls started) and the cluster report with its latest
//! timeline events.

use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde::Serialize;
use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tandem_node::cluster::report::ClusterReport;
use tandem_store::DialogState;

/// How often a snapshot is sent.
const PERIOD: Duration = Duration::from_secs(1);
/// Timeline events a snapshot carries.
const SNAPSHOT_EVENTS: usize = 30;

/// Live counts.
#[derive(Debug, Serialize)]
pub(crate) struct Counts {
    registrations: usize,
    calls_early: usize,
    calls_confirmed: usize,
    extensions: usize,
    calls_started_total: u64,
    revision: u64,
}

/// One `snapshot` event.
#[derive(Debug, Serialize)]
pub(crate) struct Snapshot {
    /// When, Unix ms.
    at_ms: u64,
    /// The node serving this stream.
    node: String,
    counts: Counts,
    cluster: Option<ClusterReport>,
    /// Why `cluster` is missing (store unavailable), if it is.
    cluster_error: Option<String>,
}

pub(crate) fn counts(app: &AppState) -> Counts {
    let now = tandem_node::clock::unix_ms();
    let r = app.replica.read().unwrap_or_else(|p| p.into_inner());
    let (mut early, mut confirmed) = (0, 0);
    for d in r.dialogs() {
        match d.state {
            DialogState::Early => early += 1,
            DialogState::Confirmed => confirmed += 1,
            DialogState::Terminated => {}
        }
    }
    Counts {
        registrations: r.binding_count(now),
        calls_early: early,
        calls_confirmed: confirmed,
        extensions: r.extensions().len(),
        calls_started_total: app.stats.metrics.calls_started.load(Relaxed),
        revision: r.rev(),
    }
}

async fn snapshot(app: &AppState) -> Snapshot {
    let (cluster, cluster_error) = match crate::cluster::read(app, SNAPSHOT_EVENTS).await {
        Ok(c) => (Some(c), None),
        Err(p) => (None, Some(p.detail().to_owned())),
    };
    Snapshot {
        at_ms: tandem_node::clock::unix_ms(),
        node: app.node_name.clone(),
        counts: counts(app),
        cluster,
        cluster_error,
    }
}

pub(crate) async fn stream(
    State(app): State<Arc<AppState>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let events = futures_util::stream::unfold((app, true), |(app, first)| async move {
        if !first {
            tokio::time::sleep(PERIOD).await;
        }
        let s = snapshot(&app).await;
        let event = Event::default()
            .event("snapshot")
            .data(serde_json::to_string(&s).unwrap_or_default());
        Some((Ok(event), (app, false)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
