//! Request input with errors as problem details: query strings and JSON
//! bodies are decoded strictly (unknown fields and wrong types are 400
//! naming the field), and list paging is checked (`limit` 1..=1000,
//! default 100; `offset`).

use crate::problem::Problem;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The most items one page may hold.
pub(crate) const LIMIT_MAX: usize = 1000;
/// Items per page when `limit` is not given.
pub(crate) const LIMIT_DEFAULT: usize = 100;

/// The field a serde error is about: its path, or the unknown field it names.
fn field_of(path: &str, message: &str) -> Option<String> {
    if !path.is_empty() && path != "." {
        return Some(path.to_owned());
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// A query string decoded into `T`.
pub(crate) struct Params<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Params)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                Problem::bad_request(field_of(&path, &message).as_deref(), message)
            })
    }
}

/// A JSON body decoded into `T`.
pub(crate) struct Body<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(Problem::unsupported_media_type());
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::bad_request(None, e.to_string()))?;
        // serde would read a struct from an array too: only objects here.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Problem::bad_request(None, "the body must be a JSON object"));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(Body).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            Problem::bad_request(field_of(&path, &message).as_deref(), message)
        })
    }
}

/// One page of a list.
#[derive(Debug, Serialize)]
pub(crate) struct Page<T> {
    /// The items of this page.
    pub(crate) items: Vec<T>,
    /// How many match in all.
    pub(crate) total: usize,
    /// The page size asked for.
    pub(crate) limit: usize,
    /// Where this page starts.
    pub(crate) offset: usize,
}

/// Checks the paging parameters and cuts one page out of `all`.
pub(crate) fn page<T>(
    all: Vec<T>,
    limit: Option<usize>,
    offset: Option<u32>,
) -> Result<Json<Page<T>>, Problem> {
    let limit = limit.unwrap_or(LIMIT_DEFAULT);
    if limit == 0 || limit > LIMIT_MAX {
        return Err(Problem::bad_request(
            Some("limit"),
            format!("limit must be 1..={LIMIT_MAX}"),
        ));
    }
    let offset = offset.unwrap_or(0) as usize;
    let total = all.len();
    let items = all.into_iter().skip(offset).take(limit).collect();
    Ok(Json(Page {
        items,
        total,
        limit,
        offset,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_refuses_huge_pages() {
        let p = page((0..10).collect(), Some(3), Some(8)).map(|j| j.0);
        let p = p.unwrap_or_else(|_| Page {
            items: vec![],
            total: 0,
            limit: 0,
            offset: 0,
        });
        assert_eq!(
            (p.items, p.total, p.limit, p.offset),
            (vec![8, 9], 10, 3, 8)
        );
        assert!(page(vec![1], Some(LIMIT_MAX + 1), None).is_err());
        assert!(page(vec![1], Some(0), None).is_err());
    }

    #[test]
    fn names_the_field() {
        assert_eq!(field_of("limit", "invalid digit"), Some("limit".into()));
        assert_eq!(
            field_of(".", "unknown field `lmit`, expected one of `limit`"),
            Some("lmit".into())
        );
        assert_eq!(field_of(".", "oops"), None);
    }
}
