//! The web dashboard: plain HTML, CSS and JavaScript embedded in the
//! binary (no build step), served at `/` and `/assets/`. It asks for the
//! same credentials as the API and calls the API with them.

use crate::problem::Problem;
use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

fn with_type(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

pub(crate) async fn index() -> Response {
    with_type(INDEX_HTML, "text/html; charset=utf-8")
}

pub(crate) async fn asset(Path(file): Path<String>) -> Result<Response, Problem> {
    match file.as_str() {
        "app.js" => Ok(with_type(APP_JS, "text/javascript; charset=utf-8")),
        "app.css" => Ok(with_type(APP_CSS, "text/css; charset=utf-8")),
        _ => Err(Problem::not_found(format!("no asset {file}"))),
    }
}
