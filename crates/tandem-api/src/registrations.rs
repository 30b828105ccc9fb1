//! `/api/v1/registrations`: the live bindings this node's replica holds
//! (every node holds them all), filtered by extension; removing one
//! deletes its record from the store, as an unREGISTER would.

use crate::params::{page, Page, Params};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tandem_store::{Expect, Op, Prefix};

/// A registration as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct RegistrationView {
    /// Its key in the store (`bind/<aor>/<id>`): what DELETE takes.
    id: String,
    extension: String,
    contact: String,
    transport: String,
    /// The phone's address as the node saw it.
    source: String,
    /// The node holding its connection (connection-oriented transports).
    node: String,
    user_agent: Option<String>,
    instance: Option<String>,
    q: f32,
    registered_at_ms: u64,
    expires_at_ms: u64,
    expires_in_secs: u64,
}

/// `GET /api/v1/registrations` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    limit: Option<usize>,
    offset: Option<u32>,
    /// Only this extension's.
    extension: Option<String>,
}

/// Every live registration, ordered by extension then contact.
pub(crate) fn all(app: &AppState, extension: Option<&str>) -> Vec<RegistrationView> {
    let now = tandem_node::clock::unix_ms();
    let r = app.replica.read().unwrap_or_else(|p| p.into_inner());
    let mut aors: Vec<String> = r.all_bindings(now).iter().map(|b| b.aor.clone()).collect();
    aors.dedup();
    let mut out = Vec::new();
    for aor in aors.iter().filter(|a| extension.is_none_or(|e| e == *a)) {
        for (key, b) in r.bindings(aor, now) {
            out.push(RegistrationView {
                id: key.to_owned(),
                extension: b.aor.clone(),
                contact: b.contact.clone(),
                transport: b.source.transport.clone(),
                source: b.source.remote.clone(),
                node: b.source.node.clone(),
                user_agent: b.user_agent.clone(),
                instance: b.instance.clone(),
                q: f32::from(b.q_millis) / 1000.0,
                registered_at_ms: b.registered_at_ms,
                expires_at_ms: b.expires_at_ms,
                expires_in_secs: b.expires_at_ms.saturating_sub(now) / 1000,
            });
        }
    }
    out
}

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Params(q): Params<ListQuery>,
) -> Result<Json<Page<RegistrationView>>, Problem> {
    page(all(&app, q.extension.as_deref()), q.limit, q.offset)
}

pub(crate) async fn delete(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    if !id.starts_with(Prefix::Binding.as_str()) {
        // Registration ids are store keys under bind/: anything else names none.
        return Err(Problem::not_found(format!("no registration {id}")));
    }
    let ops = vec![
        Op::Require {
            key: id.clone(),
            expect: Expect::Present,
        },
        Op::Delete { key: id.clone() },
    ];
    match app.store.commit(ops).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(tandem_store::Error::Conflict { .. }) => {
            Err(Problem::not_found(format!("no registration {id}")))
        }
        Err(e) => Err(e.into()),
    }
}
