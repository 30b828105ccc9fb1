//! # tandem-sip: the SIP message layer
//!
//! Sans-IO, zero-copy and lazily typed (RFC 3261 §7, §20, §25):
//!
//! - [`Message::index`] makes one pass over a shared buffer and records the
//!   start line and each header field's name and value as byte ranges.
//! - [`Message::parse`] also types the transaction-critical headers (top
//!   Via, CSeq, Call-ID, From and To tags, Max-Forwards), once.
//! - Every other header is typed when asked for (`msg.contacts()`,
//!   `msg.auth_headers(..)`...); [`Message::validate`] types them all, for
//!   strictness at the edge (RFC 4475 §3.1.2).
//! - Edits a proxy makes (push/pop Via, pop Route, Max-Forwards, Record-Route,
//!   Request-URI, `received`/`rport`) change the index only; the printer
//!   slices the buffer when nothing changed.
//! - [`framing::check`] frames stream transports: check, then parse.
//!
//! Errors are one enum, [`Error`], and each knows the status an element
//! answers with ([`Error::status`]).

pub mod builder;
mod critical;
mod edit;
mod error;
pub mod framing;
mod grammar;
mod header_name;
pub mod headers;
mod index;
mod limits;
mod message;
mod method;
mod params;
mod print;
mod status;
mod uri;
mod validate;

pub use error::{Error, HeaderProblem, StartLineProblem, UriProblem};
pub use grammar::{percent_decode, unquote};
pub use header_name::HeaderName;
pub use limits::{Limits, ParseOptions};
pub use message::{HeaderField, Message};
pub use method::Method;
pub use params::{ParamIter, Params};
pub use status::default_reason;
pub use uri::{Host, SipUri, TelUri, Uri};
