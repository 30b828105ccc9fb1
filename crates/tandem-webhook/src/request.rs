//! Building one webhook request from an event: the URL filled from the
//! template, credentials in the URL moved to an `Authorization: Basic`
//! header (RFC 7617), the tandem headers, the configured headers, and for
//! a POST the JSON body and its signature.
//!
//! The request is built once per delivery and sent as is at each attempt,
//! so every retry carries the same `X-Tandem-Delivery` id (receivers can
//! drop duplicates) and the same signature.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Uri};
use percent_encoding::percent_decode_str;

use crate::config::{Method, WebhookConfig};
use crate::template::{encode_component, Template};
use crate::{Error, WebhookEvent};

/// The header carrying the body's HMAC-SHA256: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-tandem-signature";
/// The header carrying the event's name.
pub const EVENT_HEADER: &str = "x-tandem-event";
/// The header carrying the delivery's id, the same at every attempt.
pub const DELIVERY_HEADER: &str = "x-tandem-delivery";

/// A webhook's configuration, checked and compiled.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) config: WebhookConfig,
    template: Template,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The URL for logs and metrics.
    pub(crate) log_url: String,
}

impl Endpoint {
    /// Checks `config` and compiles it.
    pub(crate) fn new(config: WebhookConfig) -> Result<Endpoint, Error> {
        config.validate()?;
        let template = config.parsed_url()?;
        let headers = config
            .headers
            .iter()
            .map(|(name, value)| {
                let url = || config.url.clone();
                let name_err = || Error::InvalidHeaderName {
                    url: url(),
                    name: name.clone(),
                };
                let value_err = || Error::InvalidHeaderValue {
                    url: url(),
                    name: name.clone(),
                };
                Ok((
                    HeaderName::from_bytes(name.as_bytes()).map_err(|_| name_err())?,
                    HeaderValue::from_str(value).map_err(|_| value_err())?,
                ))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Endpoint {
            log_url: crate::redact::redact_url(&config.url),
            config,
            template,
            headers,
        })
    }

    /// How long one attempt may take.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_ms)
    }

    /// The request for `event`, delivery number `seq`.
    pub(crate) fn prepare(&self, event: &WebhookEvent, seq: u64) -> Result<Prepared, Error> {
        let filled = self.template.render(event);
        let uri: Uri = filled.parse().map_err(|source| Error::InvalidUrl {
            url: filled.clone(),
            source,
        })?;
        let (uri, basic) = split_credentials(uri, &filled)?;

        let unsendable = |header| Error::UnsendableEvent {
            event: event.event.clone(),
            node: event.node.clone(),
            header,
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("tandem-webhook/", env!("CARGO_PKG_VERSION"))),
        );
        headers.insert(
            HeaderName::from_static(EVENT_HEADER),
            HeaderValue::from_str(&event.event).map_err(|_| unsendable(EVENT_HEADER))?,
        );
        headers.insert(
            HeaderName::from_static(DELIVERY_HEADER),
            HeaderValue::from_str(&delivery_id(event, seq))
                .map_err(|_| unsendable(DELIVERY_HEADER))?,
        );
        if let Some(basic) = basic {
            headers.insert(AUTHORIZATION, basic);
        }

        let (method, body) = match self.config.method {
            Method::Get => (http::Method::GET, Bytes::new()),
            Method::Post => {
                let body = Bytes::from(
                    serde_json::to_vec(event).map_err(|source| Error::Encode { source })?,
                );
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                if let Some(secret) = &self.config.secret {
                    let signature = crate::signature::sign(secret.as_bytes(), &body);
                    headers.insert(
                        HeaderName::from_static(SIGNATURE_HEADER),
                        HeaderValue::from_str(&signature)
                            .unwrap_or_else(|_| unreachable!("hex is a valid header value")),
                    );
                }
                (http::Method::POST, body)
            }
        };
        // Configured headers last: they may replace User-Agent or the
        // Authorization taken from the URL.
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        Ok(Prepared {
            method,
            uri,
            headers,
            body,
        })
    }
}

/// One delivery's request, ready to send at each attempt.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) method: http::Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Prepared {
    /// The request for one attempt.
    pub(crate) fn to_request(&self) -> http::Request<http_body_util::Full<Bytes>> {
        let mut request = http::Request::new(http_body_util::Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// The delivery id: `<event>-<node>-<at_ms>-<seq>`, event and node
/// percent-encoded, `seq` counted by the dispatcher (so two events from
/// one node in the same millisecond differ).
pub(crate) fn delivery_id(event: &WebhookEvent, seq: u64) -> String {
    format!(
        "{}-{}-{}-{seq}",
        encode_component(&event.event),
        encode_component(&event.node),
        event.at_ms
    )
}

/// Takes `user:password@` out of `uri`'s authority, returning the URI
/// without it and the Basic authorization it stands for.
fn split_credentials(uri: Uri, filled: &str) -> Result<(Uri, Option<HeaderValue>), Error> {
    let Some((userinfo, host)) = uri
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
        .map(|(u, h)| (u.to_owned(), h.to_owned()))
    else {
        return Ok((uri, None));
    };
    let mut parts = uri.into_parts();
    parts.authority = Some(host.parse().map_err(|source| Error::InvalidUrl {
        url: crate::redact::redact_url(filled),
        source,
    })?);
    let uri = Uri::from_parts(parts)
        .unwrap_or_else(|_| unreachable!("a valid URI with a shorter authority stays valid"));
    let (user, password) = userinfo.split_once(':').unwrap_or((&userinfo, ""));
    let decode = |s: &str| percent_decode_str(s).collect::<Vec<u8>>();
    let mut pair = decode(user);
    pair.push(b':');
    pair.extend(decode(password));
    let token = base64::engine::general_purpose::STANDARD.encode(pair);
    let value = HeaderValue::from_str(&format!("Basic {token}"))
        .unwrap_or_else(|_| unreachable!("base64 is a valid header value"));
    Ok((uri, Some(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> WebhookEvent {
        WebhookEvent {
            event: "node_down".into(),
            node: "pbx b".into(),
            at_ms: 1_000,
            epoch: Some(3),
            detail: json!({"address": "192.0.2.7"}),
            cluster: "main".into(),
        }
    }

    #[test]
    fn post_has_json_body_signature_and_ids() {
        let mut c = WebhookConfig::new("http://h:81/hook");
        c.secret = Some("key".into());
        c.headers = vec![("X-Api-Key".into(), "abc".into())];
        let p = Endpoint::new(c).unwrap().prepare(&event(), 9).unwrap();
        assert_eq!(p.method, http::Method::POST);
        assert_eq!(p.uri, "http://h:81/hook");
        let back: WebhookEvent = serde_json::from_slice(&p.body).unwrap();
        assert_eq!(back, event());
        let h = |n: &str| p.headers.get(n).unwrap().to_str().unwrap().to_owned();
        assert_eq!(h("content-type"), "application/json");
        assert_eq!(h(EVENT_HEADER), "node_down");
        assert_eq!(h(DELIVERY_HEADER), "node_down-pbx%20b-1000-9");
        assert_eq!(h(SIGNATURE_HEADER), crate::signature::sign(b"key", &p.body));
        assert_eq!(h("x-api-key"), "abc");
        assert!(h("user-agent").starts_with("tandem-webhook/"));
    }

    #[test]
    fn get_fills_template_without_body_or_signature() {
        let mut c = WebhookConfig::new("http://dns.example/update?host=sip&ip={ip}&n={node}");
        c.method = Method::Get;
        let p = Endpoint::new(c).unwrap().prepare(&event(), 1).unwrap();
        assert_eq!(p.method, http::Method::GET);
        assert_eq!(
            p.uri,
            "http://dns.example/update?host=sip&ip=192.0.2.7&n=pbx%20b"
        );
        assert!(p.body.is_empty());
        assert!(p.headers.get(SIGNATURE_HEADER).is_none());
        assert!(p.headers.get("content-type").is_none());
    }

    #[test]
    fn credentials_in_url_become_basic_auth() {
        let mut c = WebhookConfig::new("https://us%40er:p%3Ass@dns.example/nic/update?ip={ip}");
        c.method = Method::Get;
        let p = Endpoint::new(c).unwrap().prepare(&event(), 1).unwrap();
        assert_eq!(p.uri, "https://dns.example/nic/update?ip=192.0.2.7");
        let auth = p.headers.get("authorization").unwrap().to_str().unwrap();
        let token = auth.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token)
            .unwrap();
        assert_eq!(decoded, b"us@er:p:ss");
    }

    #[test]
    fn unsendable_event_name() {
        let p = Endpoint::new(WebhookConfig::new("http://h/")).unwrap();
        let mut e = event();
        e.event = "bad\nname".into();
        assert!(matches!(
            p.prepare(&e, 1),
            Err(Error::UnsendableEvent {
                header: EVENT_HEADER,
                ..
            })
        ));
    }
}
