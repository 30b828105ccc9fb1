//! `/api/v1/extensions`: list, read, create, change and remove
//! extensions, written to the store as `tandem ext` writes them
//! (`ext/<number>`, digest hashes only). Every node's replica follows
//! the store, so a new extension can register at once. Changes may name
//! the `revision` they were read at: if the record changed since, 409.

use crate::params::{page, Body, Page, Params};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tandem_store::{extension_key, Expect, Extension, Op, Prefix, Record};

/// An extension as the API shows it (never its hashes).
#[derive(Debug, Serialize)]
pub(crate) struct ExtensionView {
    number: String,
    display_name: Option<String>,
    realm: String,
    demo_password: bool,
    caller_id: Option<String>,
    group: Option<String>,
    /// Live registrations (from this node's replica).
    registrations: usize,
    /// The store revision of its last change.
    revision: u64,
}

fn view(app: &AppState, e: Extension, revision: u64) -> ExtensionView {
    let registrations = {
        let r = app.replica.read().unwrap_or_else(|p| p.into_inner());
        r.bindings(&e.number, tandem_node::clock::unix_ms()).len()
    };
    ExtensionView {
        number: e.number,
        display_name: e.display_name,
        realm: e.realm,
        demo_password: e.demo_password,
        caller_id: e.caller_id,
        group: e.group,
        registrations,
        revision,
    }
}

fn decode(r: &Record) -> Option<Extension> {
    serde_json::from_slice(&r.value).ok()
}

/// Reads one extension with its revision from the store.
async fn read(app: &AppState, number: &str) -> Result<Option<(Extension, u64)>, Problem> {
    let key = extension_key(number);
    let snap = app.store.snapshot(&key).await?;
    Ok(snap
        .records
        .iter()
        .find(|r| r.key == key)
        .and_then(|r| Some((decode(r)?, r.rev))))
}

/// `GET /api/v1/extensions` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    limit: Option<usize>,
    offset: Option<u32>,
    /// Only numbers starting with this.
    prefix: Option<String>,
}

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Params(q): Params<ListQuery>,
) -> Result<Json<Page<ExtensionView>>, Problem> {
    let snap = app.store.snapshot(Prefix::Extension.as_str()).await?;
    let mut all: Vec<(Extension, u64)> = snap
        .records
        .iter()
        .filter_map(|r| Some((decode(r)?, r.rev)))
        .filter(|(e, _)| q.prefix.as_deref().is_none_or(|p| e.number.starts_with(p)))
        .collect();
    all.sort_by(|a, b| a.0.number.cmp(&b.0.number));
    let views = all.into_iter().map(|(e, rev)| view(&app, e, rev)).collect();
    page(views, q.limit, q.offset)
}

pub(crate) async fn get(
    State(app): State<Arc<AppState>>,
    Path(number): Path<String>,
) -> Result<Json<ExtensionView>, Problem> {
    match read(&app, &number).await? {
        Some((e, rev)) => Ok(Json(view(&app, e, rev))),
        None => Err(Problem::not_found(format!("no extension {number}"))),
    }
}

/// `POST /api/v1/extensions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewExtension {
    number: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
}

fn check_password(password: &str) -> Result<(), Problem> {
    let chars = password.chars().count();
    if !(4..=128).contains(&chars) {
        return Err(Problem::bad_request(
            Some("password"),
            "the password must be 4 to 128 characters",
        ));
    }
    Ok(())
}

fn check_display_name(name: Option<&str>) -> Result<(), Problem> {
    if name.is_some_and(|n| n.chars().count() > 128 || n.chars().any(char::is_control)) {
        return Err(Problem::bad_request(
            Some("display_name"),
            "at most 128 characters, no control characters",
        ));
    }
    Ok(())
}

fn put_op(e: &Extension) -> Op {
    Op::Put {
        key: extension_key(&e.number),
        value: serde_json::to_vec(e).unwrap_or_default(),
        expires_at_ms: None,
    }
}

fn created(app: &AppState, e: Extension, rev: u64, status: StatusCode) -> Response {
    let location = format!("/api/v1/extensions/{}", e.number);
    let mut r = (status, Json(view(app, e, rev))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub(crate) async fn create(
    State(app): State<Arc<AppState>>,
    Body(b): Body<NewExtension>,
) -> Result<Response, Problem> {
    if !tandem_config::is_valid_extension_number(&b.number) {
        return Err(Problem::bad_request(
            Some("number"),
            format!("{:?}: use 1 to 64 digits, letters or - _ . +", b.number),
        ));
    }
    check_password(&b.password)?;
    check_display_name(b.display_name.as_deref())?;
    let e =
        tandem_node::extension_record(&b.number, &b.password, &app.config.realm(), b.display_name);
    let ops = vec![
        Op::Require {
            key: extension_key(&e.number),
            expect: Expect::Absent,
        },
        put_op(&e),
    ];
    match app.store.commit(ops).await {
        Ok(rev) => Ok(created(&app, e, rev, StatusCode::CREATED)),
        Err(tandem_store::Error::Conflict { .. }) => Err(Problem::conflict(format!(
            "extension {} exists: change it with PUT",
            e.number
        ))),
        Err(other) => Err(other.into()),
    }
}

/// `PUT /api/v1/extensions/{number}` body: what to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExtensionChange {
    /// A new SIP password (the hashes are remade).
    #[serde(default)]
    password: Option<String>,
    /// A new display name (`null` or absent: none).
    #[serde(default)]
    display_name: Option<String>,
    /// The revision the client read; if the record changed since, 409.
    #[serde(default, deserialize_with = "integral")]
    revision: Option<u64>,
}

/// An optional non-negative integer, also written as a number with no
/// fraction (`7.0`): JSON Schema's `integer`.
fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error as _;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{n} is not a non-negative integer"))),
    }
}

pub(crate) async fn update(
    State(app): State<Arc<AppState>>,
    Path(number): Path<String>,
    Body(b): Body<ExtensionChange>,
) -> Result<Response, Problem> {
    if let Some(p) = &b.password {
        check_password(p)?;
    }
    check_display_name(b.display_name.as_deref())?;
    let Some((current, rev)) = read(&app, &number).await? else {
        return Err(Problem::not_found(format!("no extension {number}")));
    };
    if b.revision.is_some_and(|r| r != rev) {
        return Err(Problem::conflict(format!(
            "extension {number} is at revision {rev}, not {}: read it again",
            b.revision.unwrap_or_default()
        )));
    }
    let next = match &b.password {
        Some(p) => Extension {
            caller_id: current.caller_id.clone(),
            group: current.group.clone(),
            ..tandem_node::extension_record(&number, p, &app.config.realm(), b.display_name)
        },
        None => Extension {
            display_name: b.display_name,
            ..current
        },
    };
    let ops = vec![
        Op::Require {
            key: extension_key(&number),
            expect: Expect::Rev(rev),
        },
        put_op(&next),
    ];
    let rev = app.store.commit(ops).await?;
    Ok(created(&app, next, rev, StatusCode::OK))
}

/// `DELETE /api/v1/extensions/{number}` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteQuery {
    /// The revision the client read; if the record changed since, 409.
    revision: Option<u64>,
}

pub(crate) async fn delete(
    State(app): State<Arc<AppState>>,
    Path(number): Path<String>,
    Params(q): Params<DeleteQuery>,
) -> Result<StatusCode, Problem> {
    let Some((_, rev)) = read(&app, &number).await? else {
        return Err(Problem::not_found(format!("no extension {number}")));
    };
    if q.revision.is_some_and(|r| r != rev) {
        return Err(Problem::conflict(format!(
            "extension {number} is at revision {rev}: read it again"
        )));
    }
    let mut ops = vec![
        Op::Require {
            key: extension_key(&number),
            expect: Expect::Rev(rev),
        },
        Op::Delete {
            key: extension_key(&number),
        },
    ];
    // Its registrations go with it.
    let bindings = app
        .store
        .snapshot(&format!("{}{number}/", Prefix::Binding.as_str()))
        .await?;
    for r in &bindings.records {
        ops.push(Op::Delete { key: r.key.clone() });
    }
    app.store.commit(ops).await?;
    Ok(StatusCode::NO_CONTENT)
}
