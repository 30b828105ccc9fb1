//! A small client of the API for the CLI (`tandem status`, `tandem
//! calls`): GET a JSON document with a token or a user's password, over
//! plain HTTP (the admin plane's loopback default).

use crate::error::Error;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// How the CLI proves who it is.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An API token (`Authorization: Bearer`).
    Token(String),
    /// A user and password (HTTP Basic).
    User {
        /// The user.
        name: String,
        /// The password.
        password: String,
    },
}

impl Credentials {
    fn header(&self) -> String {
        match self {
            Credentials::Token(t) => format!("Bearer {t}"),
            Credentials::User { name, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"))
            ),
        }
    }
}

/// GETs `base` + `path` and decodes the JSON answer; a problem document
/// becomes [`Error::Status`] with its detail.
pub async fn get_json(
    base: &str,
    path: &str,
    credentials: &Credentials,
) -> Result<serde_json::Value, Error> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let failed = |reason: String| Error::Request {
        url: url.clone(),
        reason,
    };
    if url.starts_with("https://") {
        return Err(failed(
            "the CLI speaks plain HTTP only: use the loopback http:// address".into(),
        ));
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = hyper::Request::builder()
        .uri(&url)
        .header("authorization", credentials.header())
        .header("accept", "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|e| failed(e.to_string()))?;
    let res = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| failed("no answer within 10 s".into()))?
        .map_err(|e| failed(e.to_string()))?;
    let status = res.status().as_u16();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| failed(e.to_string()))?
        .to_bytes();
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| failed(format!("not JSON: {e}")))?;
    if status >= 400 {
        return Err(Error::Status {
            url,
            status,
            detail: value["detail"].as_str().unwrap_or("").to_owned(),
        });
    }
    Ok(value)
}
