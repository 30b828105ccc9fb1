//! `/api/v1/calls`: the calls in progress, from the dialogs this node's
//! replica holds (every node holds them all), filtered by extension and
//! state.

use crate::params::{page, Page, Params};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tandem_store::DialogState;

/// A call as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct CallView {
    call_id: String,
    caller: String,
    callee: String,
    state: DialogState,
    started_ms: u64,
    answered_ms: Option<u64>,
    /// Talk time so far (answered calls), seconds.
    duration_secs: u64,
    /// The node that owns its duties (CDR, timers).
    owner: String,
}

/// `GET /api/v1/calls` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    limit: Option<usize>,
    offset: Option<u32>,
    /// Only calls from or to this extension.
    extension: Option<String>,
    /// `early` or `confirmed`.
    state: Option<DialogState>,
}

/// Every call in progress, oldest first.
pub(crate) fn all(
    app: &AppState,
    extension: Option<&str>,
    state: Option<DialogState>,
) -> Vec<CallView> {
    let now = tandem_node::clock::unix_ms();
    let r = app.replica.read().unwrap_or_else(|p| p.into_inner());
    let mut v: Vec<CallView> = r
        .dialogs()
        .filter(|d| d.state != DialogState::Terminated)
        .filter(|d| extension.is_none_or(|e| d.caller == e || d.callee == e))
        .filter(|d| state.is_none_or(|s| d.state == s))
        .map(|d| CallView {
            call_id: d.call_id.clone(),
            caller: d.caller.clone(),
            callee: d.callee.clone(),
            state: d.state,
            started_ms: d.started_ms,
            answered_ms: d.answered_ms,
            duration_secs: d.answered_ms.map_or(0, |a| now.saturating_sub(a) / 1000),
            owner: d.owner.clone(),
        })
        .collect();
    v.sort_by_key(|c| c.started_ms);
    v
}

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Params(q): Params<ListQuery>,
) -> Result<Json<Page<CallView>>, Problem> {
    page(
        all(&app, q.extension.as_deref(), q.state),
        q.limit,
        q.offset,
    )
}
