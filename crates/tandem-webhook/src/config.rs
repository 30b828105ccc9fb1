//! One webhook's configuration, as the configuration file's `[[webhooks]]`
//! tables will hold it, with its defaults and its checks.
//!
//! ```toml
//! [[webhooks]]
//! url = "https://dns.example/update?host=sip&ip={ip}"
//! method = "GET"
//! events = ["became_leader"]
//! ```

use std::fmt;

use serde::Deserialize;

use crate::event::{EVENTS, EVENTS_LIST};
use crate::template::Template;
use crate::{Error, WebhookEvent};

/// Default for [`WebhookConfig::timeout_ms`].
pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;
/// Default for [`WebhookConfig::retries_max`].
pub const DEFAULT_RETRIES_MAX: u32 = 5;
/// Default for [`WebhookConfig::backoff_initial_ms`].
pub const DEFAULT_BACKOFF_INITIAL_MS: u64 = 500;
/// Default for [`WebhookConfig::backoff_max_ms`].
pub const DEFAULT_BACKOFF_MAX_MS: u64 = 30_000;
/// Default for [`WebhookConfig::queue_max`].
pub const DEFAULT_QUEUE_MAX: usize = 256;

/// Headers the dispatcher sets itself, which `headers` may not name.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "x-tandem-signature",
    "x-tandem-event",
    "x-tandem-delivery",
];

/// How the event is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Method {
    /// The event as a JSON body, signed when a secret is set.
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    /// The event's fields in the URL template, no body (Vodia ActionURL
    /// style).
    #[serde(rename = "GET", alias = "get")]
    Get,
}

/// One webhook: where to send which events, and how hard to try.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL, `http://` or `https://`; a template whose placeholders
    /// (`{event}`, `{node}`, `{epoch}`, `{at_ms}`, `{cluster}`, `{leader}`,
    /// `{ip}`) are filled, percent-encoded, for each event. Credentials in
    /// it (`https://user:pass@host/...`) are sent as HTTP Basic
    /// authorization.
    pub url: String,
    /// `"POST"` (default) or `"GET"`.
    #[serde(default)]
    pub method: Method,
    /// The events to send (see [`EVENTS`]); empty, the default, sends all.
    #[serde(default)]
    pub events: Vec<String>,
    /// POST only: the HMAC-SHA256 key the body is signed with, in
    /// `X-Tandem-Signature: sha256=<hex>`.
    #[serde(default)]
    pub secret: Option<String>,
    /// How long one attempt may wait for the response, milliseconds
    /// (connection, TLS, request and status line included).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many times a failed attempt is retried (so at most
    /// `1 + retries_max` attempts); 0 never retries.
    #[serde(default = "default_retries_max")]
    pub retries_max: u32,
    /// The wait before the first retry, milliseconds; it doubles at each
    /// retry.
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// The longest wait between two attempts, milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// How many events may wait for this webhook; when full, the oldest is
    /// dropped (and counted) so that firing never blocks.
    #[serde(default = "default_queue_max")]
    pub queue_max: usize,
    /// Extra request headers, as `[["Name", "value"], ...]`.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}
fn default_retries_max() -> u32 {
    DEFAULT_RETRIES_MAX
}
fn default_backoff_initial_ms() -> u64 {
    DEFAULT_BACKOFF_INITIAL_MS
}
fn default_backoff_max_ms() -> u64 {
    DEFAULT_BACKOFF_MAX_MS
}
fn default_queue_max() -> usize {
    DEFAULT_QUEUE_MAX
}

impl WebhookConfig {
    /// A POST webhook to `url` for every event, with every default.
    pub fn new(url: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            method: Method::Post,
            events: Vec::new(),
            secret: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            retries_max: DEFAULT_RETRIES_MAX,
            backoff_initial_ms: DEFAULT_BACKOFF_INITIAL_MS,
            backoff_max_ms: DEFAULT_BACKOFF_MAX_MS,
            queue_max: DEFAULT_QUEUE_MAX,
            headers: Vec::new(),
        }
    }

    /// Checks everything that can be checked before an event is sent: the
    /// URL (scheme, host, placeholders, that it is a valid URI once
    /// filled), the event names, the secret, the timings and the headers.
    pub fn validate(&self) -> Result<(), Error> {
        self.parsed_url().map(|_| ())?;
        let url = || self.url.clone();
        for event in &self.events {
            if !EVENTS.contains(&event.as_str()) {
                return Err(Error::UnknownEvent {
                    url: url(),
                    event: event.clone(),
                    known: EVENTS_LIST,
                });
            }
        }
        match (&self.secret, self.method) {
            (Some(s), _) if s.is_empty() => return Err(Error::EmptySecret { url: url() }),
            (Some(_), Method::Get) => return Err(Error::SecretWithGet { url: url() }),
            _ => {}
        }
        let range = |key, value: u64, ok: bool, rule| {
            if ok {
                Ok(())
            } else {
                Err(Error::OutOfRange {
                    url: url(),
                    key,
                    value,
                    rule,
                })
            }
        };
        range(
            "timeout_ms",
            self.timeout_ms,
            self.timeout_ms > 0,
            "at least 1",
        )?;
        range(
            "backoff_initial_ms",
            self.backoff_initial_ms,
            self.backoff_initial_ms > 0,
            "at least 1",
        )?;
        range(
            "backoff_max_ms",
            self.backoff_max_ms,
            self.backoff_max_ms >= self.backoff_initial_ms,
            "at least backoff_initial_ms",
        )?;
        range(
            "queue_max",
            u64::try_from(self.queue_max).unwrap_or(u64::MAX),
            self.queue_max > 0,
            "at least 1",
        )?;
        for (name, value) in &self.headers {
            let header = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::InvalidHeaderName {
                    url: url(),
                    name: name.clone(),
                }
            })?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(Error::ReservedHeader {
                    url: url(),
                    name: name.clone(),
                });
            }
            http::HeaderValue::from_str(value).map_err(|_| Error::InvalidHeaderValue {
                url: url(),
                name: name.clone(),
            })?;
        }
        Ok(())
    }

    /// Parses the template and checks the URL it gives for a sample event.
    pub(crate) fn parsed_url(&self) -> Result<Template, Error> {
        if self.url.trim().is_empty() {
            return Err(Error::EmptyUrl);
        }
        let template = Template::parse(&self.url)?;
        let sample = WebhookEvent {
            event: "failover_finished".into(),
            node: "node-1".into(),
            at_ms: 1,
            epoch: Some(1),
            detail: serde_json::json!({"leader": "node-1", "floating_ip": "192.0.2.1"}),
            cluster: "cluster".into(),
        };
        let filled = template.render(&sample);
        let uri: http::Uri = filled.parse().map_err(|source| Error::InvalidUrl {
            url: self.url.clone(),
            source,
        })?;
        match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
            _ => {
                return Err(Error::UnsupportedScheme {
                    url: self.url.clone(),
                })
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(Error::MissingHost {
                url: self.url.clone(),
            });
        }
        Ok(template)
    }

    /// Whether this webhook wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

/// The secret and header values are not printed: they are credentials.
impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("WebhookConfig")
            .field("url", &crate::redact::redact_url(&self.url))
            .field("method", &self.method)
            .field("events", &self.events)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("timeout_ms", &self.timeout_ms)
            .field("retries_max", &self.retries_max)
            .field("backoff_initial_ms", &self.backoff_initial_ms)
            .field("backoff_max_ms", &self.backoff_max_ms)
            .field("queue_max", &self.queue_max)
            .field("headers", &headers)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> WebhookConfig {
        WebhookConfig {
            method: Method::Get,
            ..WebhookConfig::new(url)
        }
    }

    #[test]
    fn defaults_from_minimal_table() {
        let c: WebhookConfig = serde_json::from_str(r#"{"url": "http://h/"}"#).unwrap();
        assert_eq!(c, WebhookConfig::new("http://h/"));
        assert_eq!(c.method, Method::Post);
        assert_eq!(c.timeout_ms, 2_000);
        assert_eq!(c.retries_max, 5);
        assert_eq!(c.backoff_initial_ms, 500);
        assert_eq!(c.backoff_max_ms, 30_000);
        assert_eq!(c.queue_max, 256);
        c.validate().unwrap();
    }

    #[test]
    fn full_table_and_unknown_key() {
        let c: WebhookConfig = serde_json::from_str(
            r#"{"url": "https://h/?ip={ip}", "method": "GET", "events": ["node_down"],
                "timeout_ms": 100, "retries_max": 0, "backoff_initial_ms": 1,
                "backoff_max_ms": 2, "queue_max": 4, "headers": [["X-Key", "v"]]}"#,
        )
        .unwrap();
        assert_eq!(c.method, Method::Get);
        assert_eq!(c.headers, vec![("X-Key".to_owned(), "v".to_owned())]);
        c.validate().unwrap();
        let err = serde_json::from_str::<WebhookConfig>(r#"{"url": "http://h/", "retry": 1}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `retry`"), "{err}");
        let err = serde_json::from_str::<WebhookConfig>(r#"{"url": "http://h/", "method": "PUT"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown variant `PUT`"), "{err}");
    }

    #[test]
    fn url_errors() {
        assert!(matches!(
            WebhookConfig::new("").validate(),
            Err(Error::EmptyUrl)
        ));
        assert!(matches!(
            WebhookConfig::new("  ").validate(),
            Err(Error::EmptyUrl)
        ));
        for bad in ["ftp://h/", "h/path", "//h/", "file:///etc/passwd"] {
            assert!(
                matches!(
                    WebhookConfig::new(bad).validate(),
                    Err(Error::UnsupportedScheme { .. } | Error::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            WebhookConfig::new("ftp://h/").validate(),
            Err(Error::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            WebhookConfig::new("http:// bad/").validate(),
            Err(Error::InvalidUrl { .. })
        ));
        WebhookConfig::new("HTTPS://h:8443/x").validate().unwrap();
        WebhookConfig::new("http://user:pa%40ss@h/x")
            .validate()
            .unwrap();
    }

    #[test]
    fn unknown_placeholder_in_get_template() {
        let err = get("http://dns.example/update?host=sip&ip={addr}")
            .validate()
            .unwrap_err();
        assert!(matches!(&err, Error::UnknownPlaceholder { name, .. } if name == "addr"));
        let text = err.to_string();
        assert!(text.contains("{addr}") && text.contains("ip"), "{text}");
        get("http://dns.example/update?host=sip&ip={ip}&e={epoch}")
            .validate()
            .unwrap();
    }

    #[test]
    fn event_secret_timing_and_header_errors() {
        let mut c = WebhookConfig::new("http://h/");
        c.events = vec!["node_down".into(), "leader_change".into()];
        assert!(
            matches!(c.validate(), Err(Error::UnknownEvent { event, .. }) if event == "leader_change")
        );

        let mut c = get("http://h/");
        c.secret = Some("k".into());
        assert!(matches!(c.validate(), Err(Error::SecretWithGet { .. })));
        c.method = Method::Post;
        c.validate().unwrap();
        c.secret = Some(String::new());
        assert!(matches!(c.validate(), Err(Error::EmptySecret { .. })));

        let mut c = WebhookConfig::new("http://h/");
        c.timeout_ms = 0;
        assert!(matches!(
            c.validate(),
            Err(Error::OutOfRange {
                key: "timeout_ms",
                ..
            })
        ));
        let mut c = WebhookConfig::new("http://h/");
        c.backoff_max_ms = 10;
        assert!(matches!(
            c.validate(),
            Err(Error::OutOfRange {
                key: "backoff_max_ms",
                ..
            })
        ));
        let mut c = WebhookConfig::new("http://h/");
        c.queue_max = 0;
        assert!(matches!(
            c.validate(),
            Err(Error::OutOfRange {
                key: "queue_max",
                ..
            })
        ));

        let mut c = WebhookConfig::new("http://h/");
        c.headers = vec![("Bad Name".into(), "v".into())];
        assert!(matches!(c.validate(), Err(Error::InvalidHeaderName { .. })));
        c.headers = vec![("X-Ok".into(), "line\nbreak".into())];
        assert!(matches!(
            c.validate(),
            Err(Error::InvalidHeaderValue { .. })
        ));
        c.headers = vec![("X-Tandem-Signature".into(), "forged".into())];
        assert!(matches!(c.validate(), Err(Error::ReservedHeader { .. })));
    }

    #[test]
    fn wants_filters_by_event() {
        let mut c = WebhookConfig::new("http://h/");
        assert!(c.wants("node_up"));
        c.events = vec!["node_down".into()];
        assert!(c.wants("node_down"));
        assert!(!c.wants("node_up"));
    }

    #[test]
    fn debug_hides_credentials() {
        let mut c = WebhookConfig::new("https://u:p@h/x?token=t");
        c.secret = Some("s3cret".into());
        c.headers = vec![("X-Key".into(), "hidden-value".into())];
        let text = format!("{c:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("hidden-value"),
            "{text}"
        );
        assert!(!text.contains("token=t") && !text.contains("u:p"), "{text}");
    }
}
