//! RFC 9457 problem details: every error the API returns is an
//! `application/problem+json` object with `type`, `title`, `status`,
//! `detail`, and, for bad input, the offending `field`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of problem details.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// One problem, ready to be sent.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip)]
    retry_after_secs: Option<u64>,
    #[serde(skip)]
    basic_challenge: bool,
}

impl Problem {
    fn new(status: StatusCode, slug: &str, title: &'static str, detail: String) -> Problem {
        Problem {
            kind: format!("https://tandem.invalid/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail,
            field: None,
            retry_after_secs: None,
            basic_challenge: false,
        }
    }

    /// 400: a query parameter or body field is wrong.
    pub(crate) fn bad_request(field: Option<&str>, detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail.into(),
        );
        p.field = field
            .filter(|f| !f.is_empty() && *f != ".")
            .map(str::to_owned);
        p
    }

    /// 401: no or wrong credentials.
    pub(crate) fn unauthorized(detail: impl Into<String>, challenge: bool) -> Problem {
        let mut p = Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Credentials required",
            detail.into(),
        );
        p.basic_challenge = challenge;
        p
    }

    /// 405: the route exists, not with this method.
    pub(crate) fn method_not_allowed() -> Problem {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this route does not take this method: see /api/v1/openapi.json".into(),
        )
    }

    /// 415: the body is not JSON.
    pub(crate) fn unsupported_media_type() -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json".into(),
        )
    }

    /// 403: the role does not allow it.
    pub(crate) fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            detail.into(),
        )
    }

    /// 404.
    pub(crate) fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            detail.into(),
        )
    }

    /// 409: the record changed (or exists) meanwhile.
    pub(crate) fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail.into())
    }

    /// 429: too many failed logins from this address.
    pub(crate) fn too_many_failures(retry_after_secs: u64) -> Problem {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-failed-logins",
            "Too many failed logins",
            format!("too many failed logins from this address: retry in {retry_after_secs} s"),
        );
        p.retry_after_secs = Some(retry_after_secs);
        p
    }

    /// 503: the store cannot be reached.
    pub(crate) fn unavailable(detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "Store unavailable",
            detail.into(),
        );
        p.retry_after_secs = Some(2);
        p
    }

    /// 500: something that should not happen.
    pub(crate) fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail.into(),
        )
    }

    /// What went wrong, in words.
    pub(crate) fn detail(&self) -> &str {
        &self.detail
    }

    /// The status it is sent with.
    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<tandem_store::Error> for Problem {
    fn from(e: tandem_store::Error) -> Problem {
        match e {
            tandem_store::Error::Conflict { key } => {
                Problem::conflict(format!("{key} changed meanwhile: read it again and retry"))
            }
            tandem_store::Error::Invalid { key, reason } => {
                Problem::bad_request(None, format!("{key}: {reason}"))
            }
            other => Problem::unavailable(other.to_string()),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut r = (self.status(), body).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after_secs {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                h.insert(header::RETRY_AFTER, v);
            }
        }
        if self.basic_challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tandem\", charset=\"UTF-8\""),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_statuses() {
        let p: Problem = tandem_store::Error::Conflict {
            key: "ext/1".into(),
        }
        .into();
        assert_eq!(p.status(), StatusCode::CONFLICT);
        let p: Problem = tandem_store::Error::Unavailable {
            reason: "no quorum".into(),
        }
        .into();
        assert_eq!(p.status(), StatusCode::SERVICE_UNAVAILABLE);
        let v = serde_json::to_value(Problem::bad_request(Some("limit"), "too big"))
            .unwrap_or_default();
        assert_eq!(v["field"], "limit");
        assert_eq!(v["status"], 400);
        assert!(v["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("bad-request")));
    }
}
