//! `/api/v1/cdrs`: call detail records from the store, by end time range
//! and extension, newest first (or oldest with `order=asc`), as a JSON
//! page or a CSV export (`format=csv`).

use crate::params::{page, Params, LIMIT_MAX};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use tandem_store::{Cdr, Prefix};

/// The most rows one CSV export holds.
const CSV_ROWS_MAX: usize = 1_000_000;

/// Sort order.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// Output format.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// A JSON page.
    #[default]
    Json,
    /// CSV with a header line.
    Csv,
}

/// `GET /api/v1/cdrs` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Query {
    /// Calls that ended at or after this Unix time, ms.
    from_ms: Option<u64>,
    /// Calls that ended before this Unix time, ms.
    to_ms: Option<u64>,
    /// Only calls from or to this extension.
    extension: Option<String>,
    limit: Option<usize>,
    offset: Option<u32>,
    #[serde(default)]
    order: Order,
    #[serde(default)]
    format: Format,
}

/// The longest key prefix every CDR ending in `[from, to)` shares, so
/// that the snapshot reads only that part of the store.
fn scan_prefix(from: u64, to: u64) -> String {
    let (a, b) = (
        format!("{from:020}"),
        format!("{:020}", to.saturating_sub(1)),
    );
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    format!("{}{}", Prefix::Cdr.as_str(), &a[..common])
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv(rows: &[Cdr]) -> String {
    let mut out = String::from(
        "id,call_id,caller,callee,start,answer,end,start_ms,answer_ms,end_ms,duration_ms,end_cause,status,hangup_by,node\n",
    );
    for c in rows {
        let hang = c
            .hangup_by
            .map(|h| format!("{h:?}").to_lowercase())
            .unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&c.id),
            csv_field(&c.call_id),
            csv_field(&c.caller),
            csv_field(&c.callee),
            crate::audit::rfc3339(c.start_ms),
            c.answer_ms.map(crate::audit::rfc3339).unwrap_or_default(),
            crate::audit::rfc3339(c.end_ms),
            c.start_ms,
            c.answer_ms.map(|a| a.to_string()).unwrap_or_default(),
            c.end_ms,
            c.duration_ms,
            csv_field(&c.end_cause),
            c.status,
            hang,
            csv_field(&c.node)
        ));
    }
    out
}

pub(crate) async fn list(
    State(app): State<Arc<AppState>>,
    Params(q): Params<Query>,
) -> Result<Response, Problem> {
    let from = q.from_ms.unwrap_or(0);
    let to = q.to_ms.unwrap_or(u64::MAX);
    // An empty range holds nothing (and needs no read).
    let snap = if from < to {
        app.store.snapshot(&scan_prefix(from, to)).await?
    } else {
        tandem_store::Snapshot::default()
    };
    let mut rows: Vec<Cdr> = snap
        .records
        .iter()
        .filter_map(|r| serde_json::from_slice::<Cdr>(&r.value).ok())
        .filter(|c| c.end_ms >= from && c.end_ms < to)
        .filter(|c| {
            q.extension
                .as_deref()
                .is_none_or(|e| c.caller == e || c.callee == e)
        })
        .collect();
    rows.sort_by(|a, b| (a.end_ms, &a.id).cmp(&(b.end_ms, &b.id)));
    if q.order == Order::Desc {
        rows.reverse();
    }
    match q.format {
        Format::Json => Ok(page(rows, q.limit, q.offset)?.into_response()),
        Format::Csv => {
            let limit = q.limit.unwrap_or(CSV_ROWS_MAX);
            if limit == 0 || limit > CSV_ROWS_MAX {
                return Err(Problem::bad_request(
                    Some("limit"),
                    format!(
                        "a CSV export holds 1..={CSV_ROWS_MAX} rows (JSON pages up to {LIMIT_MAX})"
                    ),
                ));
            }
            let rows: Vec<Cdr> = rows
                .into_iter()
                .skip(q.offset.unwrap_or(0) as usize)
                .take(limit)
                .collect();
            let mut r = csv(&rows).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"cdrs.csv\""),
            );
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_only_the_range() {
        assert_eq!(scan_prefix(0, u64::MAX), "cdr/");
        assert_eq!(
            scan_prefix(1_700_000_000_000, 1_700_000_100_000),
            "cdr/000000017000000"
        );
    }

    #[test]
    fn quotes_csv_fields() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        let row = Cdr {
            id: "x".into(),
            call_id: "c,1".into(),
            caller: "1000".into(),
            callee: "1001".into(),
            start_ms: 0,
            answer_ms: Some(1000),
            end_ms: 3000,
            duration_ms: 2000,
            end_cause: "answered".into(),
            status: 200,
            hangup_by: Some(tandem_store::HangupBy::Caller),
            node: "n".into(),
        };
        let text = csv(&[row]);
        assert_eq!(text.lines().count(), 2);
        assert!(text
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("x,\"c,1\",1000,1001,1970-01-01T00:00:00.000Z")));
        assert!(text.ends_with(",2000,answered,200,caller,n\n"));
    }
}
