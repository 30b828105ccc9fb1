//! The crate's one error type: configuration mistakes found by
//! [`WebhookConfig::validate`](crate::WebhookConfig::validate), and the
//! reasons one delivery attempt failed (logged by the dispatcher, never
//! returned to the code that fired the event).

use std::time::Duration;

/// What went wrong with a webhook's configuration or with one delivery
/// attempt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The webhook's `url` is empty.
    #[error("webhook url is empty")]
    EmptyUrl,

    /// The URL does not start with `http://` or `https://`.
    #[error("webhook url {url:?}: scheme must be http or https")]
    UnsupportedScheme {
        /// The URL (template) as configured.
        url: String,
    },

    /// The URL names no host.
    #[error("webhook url {url:?}: no host")]
    MissingHost {
        /// The URL (template) as configured.
        url: String,
    },

    /// A `{name}` placeholder that the template does not know.
    #[error("webhook url {url:?}: unknown placeholder {{{name}}} (known: {known})")]
    UnknownPlaceholder {
        /// The URL template as configured.
        url: String,
        /// The name between the braces.
        name: String,
        /// The placeholders that are known, comma-separated.
        known: &'static str,
    },

    /// A `{` without its closing `}`.
    #[error("webhook url {url:?}: placeholder opened at byte {at} is never closed (write {{{{ for a literal brace)")]
    UnclosedPlaceholder {
        /// The URL template as configured.
        url: String,
        /// Byte offset of the opening brace.
        at: usize,
    },

    /// A `}` that closes no placeholder.
    #[error(
        "webhook url {url:?}: stray closing brace at byte {at} (write }}}} for a literal brace)"
    )]
    StrayBrace {
        /// The URL template as configured.
        url: String,
        /// Byte offset of the brace.
        at: usize,
    },

    /// The URL, once its placeholders are filled, is not a valid URI.
    #[error("webhook url {url:?} is not a valid URI: {source}")]
    InvalidUrl {
        /// The URL (template, or the filled-in URL at delivery) concerned.
        url: String,
        /// Why the URI parser refused it.
        #[source]
        source: http::uri::InvalidUri,
    },

    /// An `events` entry that names no event tandem fires.
    #[error("webhook url {url:?}: unknown event {event:?} in events (known: {known})")]
    UnknownEvent {
        /// The URL of the webhook that lists it.
        url: String,
        /// The unknown name.
        event: String,
        /// The events that are known, comma-separated.
        known: &'static str,
    },

    /// A `secret` on a GET webhook: there is no body to sign, and a
    /// configured but unused secret would only look like protection.
    #[error("webhook url {url:?}: secret is only used with method = \"POST\" (a GET has no body to sign)")]
    SecretWithGet {
        /// The webhook's URL.
        url: String,
    },

    /// An empty `secret`.
    #[error("webhook url {url:?}: secret is empty")]
    EmptySecret {
        /// The webhook's URL.
        url: String,
    },

    /// A timing setting out of range.
    #[error("webhook url {url:?}: {key} = {value} is out of range ({rule})")]
    OutOfRange {
        /// The webhook's URL.
        url: String,
        /// The configuration key.
        key: &'static str,
        /// The configured value.
        value: u64,
        /// What the value must satisfy.
        rule: &'static str,
    },

    /// A configured header whose name is not a valid HTTP field name.
    #[error("webhook url {url:?}: invalid header name {name:?}")]
    InvalidHeaderName {
        /// The webhook's URL.
        url: String,
        /// The name as configured.
        name: String,
    },

    /// A configured header whose value is not a valid HTTP field value.
    #[error("webhook url {url:?}: invalid value for header {name:?}")]
    InvalidHeaderValue {
        /// The webhook's URL.
        url: String,
        /// The header's name.
        name: String,
    },

    /// A configured header that the dispatcher sets itself.
    #[error("webhook url {url:?}: header {name:?} is set by tandem and cannot be configured")]
    ReservedHeader {
        /// The webhook's URL.
        url: String,
        /// The header's name.
        name: String,
    },

    /// An event's name or node cannot be carried in an HTTP header.
    #[error("event {event:?} from node {node:?} cannot be carried in the {header} header")]
    UnsendableEvent {
        /// The event's name.
        event: String,
        /// The reporting node.
        node: String,
        /// The header it was to go in.
        header: &'static str,
    },

    /// The event could not be encoded as JSON.
    #[error("event cannot be encoded as JSON: {source}")]
    Encode {
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },

    /// [`Dispatcher::start`](crate::Dispatcher::start) was called outside a
    /// Tokio runtime, where its delivery tasks cannot be spawned.
    #[error("webhook dispatcher started outside a Tokio runtime")]
    NoRuntime,

    /// The request could not be sent or its response not read: connection
    /// refused or reset, DNS failure, TLS handshake failure...
    #[error("request failed: {source}")]
    Http {
        /// The client's error.
        #[source]
        source: hyper_util::client::legacy::Error,
    },

    /// No response (status line and headers) within the webhook's timeout.
    #[error("no response within {timeout:?}")]
    Timeout {
        /// The configured timeout.
        timeout: Duration,
    },
}

impl Error {
    /// Whether a later attempt may succeed where this one failed: true for
    /// connection errors and timeouts, false for anything that would fail
    /// the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Http { .. } | Error::Timeout { .. })
    }
}
