//! The audit log: every change asked of the admin plane (POST, PUT,
//! PATCH, DELETE), whether it succeeded or not, appended as one JSON line:
//! time, user, source address, method, path, status.

use crate::auth::{Peer, Principal};
use crate::error::Error;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An append-only JSON-lines file.
pub(crate) struct AuditLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl AuditLog {
    /// Opens (creates) the file for appending.
    pub(crate) fn open(path: &Path) -> Result<AuditLog, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::AuditLog {
                path: path.to_owned(),
                source,
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| Error::AuditLog {
                path: path.to_owned(),
                source,
            })?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends one entry.
    pub(crate) fn write(&self, entry: &serde_json::Value) {
        let mut line = entry.to_string();
        line.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(line.as_bytes()) {
            tracing::error!(target: "tandem::admin", path = %self.path.display(), "cannot write the audit log: {e}");
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` from Unix milliseconds.
pub(crate) fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date, by 400-year eras.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

/// The middleware: after a change is answered, write it down.
pub(crate) async fn record(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let changes = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let ip = req.extensions().get::<Peer>().map(|p| p.0.ip().to_string());
    let response = next.run(req).await;
    let class = (response.status().as_u16() / 100).clamp(1, 5) as usize - 1;
    app.http_responses[class].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if changes {
        let user = response
            .extensions()
            .get::<Principal>()
            .map_or("-".to_owned(), |p| p.name.clone());
        let now = tandem_node::clock::unix_ms();
        app.audit.write(&serde_json::json!({
            "time": rfc3339(now),
            "user": user,
            "source_ip": ip,
            "method": method,
            "path": path,
            "status": response.status().as_u16(),
        }));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_798_761_599_000), "2026-12-31T23:59:59.000Z");
    }

    #[test]
    fn appends_lines() {
        let dir = std::env::temp_dir().join(format!("tandem-audit-{}", std::process::id()));
        let path = dir.join("sub").join("audit.jsonl");
        let log = AuditLog::open(&path).expect("opened");
        log.write(&serde_json::json!({"a": 1}));
        log.write(&serde_json::json!({"a": 2}));
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");
        let _ = std::fs::remove_dir_all(dir);
    }
}
