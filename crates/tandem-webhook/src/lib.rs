//! ActionURL webhooks: HTTP(S) callbacks fired on cluster events, in the
//! manner of Vodia's ActionURL that moves a DNS name to the new leader on
//! failover.
//!
//! Each configured webhook ([`WebhookConfig`], the configuration file's
//! `[[webhooks]]`) gets its own Tokio task and bounded queue in the
//! [`Dispatcher`]. The runtime calls [`Dispatcher::fire`] with a
//! [`WebhookEvent`]; the call never blocks and never fails. A webhook is
//! sent either
//!
//! - as a **POST** of the event as JSON, signed with HMAC-SHA256 in
//!   `X-Tandem-Signature: sha256=<hex>` when a secret is set ([`sign`],
//!   [`verify`]), with `X-Tandem-Event` and `X-Tandem-Delivery` (the same
//!   id at every retry), or
//! - as a **GET** of a URL template whose placeholders (`{event}`,
//!   `{node}`, `{epoch}`, `{at_ms}`, `{cluster}`, `{leader}`, `{ip}`) are
//!   filled, percent-encoded, from the event, e.g.
//!   `https://dns.example/update?host=sip&ip={ip}`.
//!
//! Connection errors, timeouts, 429 and 5xx are retried with exponential
//! backoff ([`backoff_delay`]); 2xx delivers; any other status fails the
//! delivery at once. Events reach each webhook in the order fired. Every
//! attempt is logged (target `tandem::webhook`) and counted ([`Stats`]).
//!
//! This crate is runtime layer: it reads the monotonic clock, in
//! `clock.rs` only.

mod backoff;
mod client;
mod clock;
mod config;
mod dispatcher;
mod error;
mod event;
mod queue;
mod redact;
mod request;
mod signature;
mod stats;
mod template;
mod verdict;

pub use backoff::backoff_delay;
pub use config::{
    Method, WebhookConfig, DEFAULT_BACKOFF_INITIAL_MS, DEFAULT_BACKOFF_MAX_MS, DEFAULT_QUEUE_MAX,
    DEFAULT_RETRIES_MAX, DEFAULT_TIMEOUT_MS,
};
pub use dispatcher::Dispatcher;
pub use error::Error;
pub use event::{
    WebhookEvent, BECAME_LEADER, EVENTS, FAILOVER_FINISHED, FAILOVER_STARTED, LEADER_CHANGED,
    NODE_DOWN, NODE_UP,
};
pub use request::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
pub use signature::{sign, verify};
pub use stats::{Stats, WebhookStats};
