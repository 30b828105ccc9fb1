//! `/api/v1/cluster`: what `tandem cluster status --json` prints (nodes,
//! leader and epoch, floating-IP holders, health, replication lag, the
//! failover timeline), built by the same function; and the drain and
//! resume actions, written as the same control records `tandem cluster
//! drain` writes. A single node (embedded store) reports itself alone.

use crate::params::Params;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tandem_node::cluster::records::{control_op, EventRecord, Presence, NODES_PREFIX};
use tandem_node::cluster::report::{self, ClusterReport, NodeReport};

/// Events a cluster report carries unless asked otherwise.
pub(crate) const EVENTS_DEFAULT: usize = 50;

/// The report for this node's cluster (or this node alone).
pub(crate) async fn read(app: &AppState, events_max: usize) -> Result<ClusterReport, Problem> {
    if app.clustered() {
        let floating = report::configured_floating_ip(&app.config);
        return Ok(report::read(app.store.as_ref(), floating, events_max).await?);
    }
    let now = tandem_node::clock::unix_ms();
    let rev = app.replica.read().unwrap_or_else(|p| p.into_inner()).rev();
    Ok(ClusterReport {
        revision: rev,
        leader: None,
        floating_ip: None,
        floating_ip_holders: Vec::new(),
        nodes: vec![NodeReport {
            presence: Presence {
                node: app.node_name.clone(),
                healthy: true,
                draining: false,
                role: "standalone".into(),
                epoch: None,
                holds_floating_ip: false,
                sip: app.listen.clone(),
                sip_udp: None,
                applied_rev: rev,
                started_ms: app.started_ms,
                updated_ms: now,
                version: env!("CARGO_PKG_VERSION").into(),
                health: Default::default(),
                state_since_ms: app.started_ms,
                srv_priority: 10,
                srv_weight: 100,
            },
            replication_lag_revs: 0,
        }],
        events: Vec::new(),
    })
}

/// `GET /api/v1/cluster` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusQuery {
    /// How many timeline events to include (default 50, at most 1000).
    events: Option<usize>,
}

fn events_max(n: Option<usize>) -> Result<usize, Problem> {
    match n {
        None => Ok(EVENTS_DEFAULT),
        Some(n) if n <= crate::params::LIMIT_MAX => Ok(n),
        Some(_) => Err(Problem::bad_request(
            Some("events"),
            format!("at most {} events", crate::params::LIMIT_MAX),
        )),
    }
}

pub(crate) async fn status(
    State(app): State<Arc<AppState>>,
    Params(q): Params<StatusQuery>,
) -> Result<Json<ClusterReport>, Problem> {
    Ok(Json(read(&app, events_max(q.events)?).await?))
}

/// `GET /api/v1/cluster/events` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    /// The latest this many (default 100, at most 1000).
    limit: Option<usize>,
    /// Only events of this node.
    node: Option<String>,
}

/// The failover timeline, oldest first.
#[derive(Debug, Serialize)]
pub(crate) struct Timeline {
    items: Vec<EventRecord>,
}

pub(crate) async fn events(
    State(app): State<Arc<AppState>>,
    Params(q): Params<EventsQuery>,
) -> Result<Json<Timeline>, Problem> {
    let limit = q.limit.unwrap_or(crate::params::LIMIT_DEFAULT);
    if limit == 0 || limit > crate::params::LIMIT_MAX {
        return Err(Problem::bad_request(
            Some("limit"),
            format!("limit must be 1..={}", crate::params::LIMIT_MAX),
        ));
    }
    let r = read(&app, usize::MAX).await?;
    let mut items: Vec<EventRecord> = r
        .events
        .into_iter()
        .filter(|e| q.node.as_deref().is_none_or(|n| e.node == n))
        .collect();
    let skip = items.len().saturating_sub(limit);
    items.drain(..skip);
    Ok(Json(Timeline { items }))
}

/// What a drain or resume did.
#[derive(Debug, Serialize)]
pub(crate) struct ControlView {
    node: String,
    draining: bool,
    revision: u64,
}

async fn control(app: &AppState, node: String, drain: bool) -> Result<Json<ControlView>, Problem> {
    if !app.clustered() {
        return Err(Problem::conflict(
            "a single node (embedded store): drain and resume are for cluster nodes",
        ));
    }
    let key = format!("{NODES_PREFIX}{node}");
    let snap = app.store.snapshot(&key).await?;
    if !snap.records.iter().any(|r| r.key == key) {
        return Err(Problem::not_found(format!(
            "node {node} is not up (no presence record)"
        )));
    }
    let revision = app.store.commit(vec![control_op(&node, drain)]).await?;
    Ok(Json(ControlView {
        node,
        draining: drain,
        revision,
    }))
}

pub(crate) async fn drain(
    State(app): State<Arc<AppState>>,
    Path(node): Path<String>,
) -> Result<Json<ControlView>, Problem> {
    control(&app, node, true).await
}

pub(crate) async fn resume(
    State(app): State<Arc<AppState>>,
    Path(node): Path<String>,
) -> Result<Json<ControlView>, Problem> {
    control(&app, node, false).await
}
