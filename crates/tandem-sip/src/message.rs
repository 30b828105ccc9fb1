//! The message: one shared buffer, a start line, and an index of header
//! fields as byte ranges (RFC 3261 §7). Typed views are parsed on use; the
//! few fields transaction matching needs are parsed once, eagerly, by
//! [`Message::parse`].

use crate::error::{Error, HeaderProblem, UriProblem};
use crate::grammar::split_commas;
use crate::header_name::HeaderName;
use crate::headers::{
    auth::AuthHeader, content_type::MediaType, name_addr::Contact, name_addr::NameAddr, numeric,
    session_expires::SessionExpires, token_list, via::Via,
};
use crate::method::Method;
use crate::uri::Uri;
use bytes::Bytes;

/// Where a piece of text lives: in the received buffer or in one of the
/// owned segments that edits and unfolding add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Text {
    /// [`Text::BUF`] for the received buffer, else an index into `extra`.
    pub(crate) src: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Text {
    pub(crate) const BUF: u32 = u32::MAX;

    pub(crate) fn buf(start: usize, end: usize) -> Text {
        Text {
            src: Text::BUF,
            start: start as u32,
            end: end as u32,
        }
    }

    pub(crate) fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// A sub-range, given offsets relative to this text.
    pub(crate) fn sub(&self, from: usize, to: usize) -> Text {
        Text {
            src: self.src,
            start: self.start + from as u32,
            end: self.start + to as u32,
        }
    }
}

/// One entry of the header index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderEntry {
    pub(crate) name: HeaderName,
    /// The name as written (any case, maybe compact).
    pub(crate) raw_name: Text,
    /// The value, trimmed, unfolded.
    pub(crate) value: Text,
}

/// The first line of a message.
#[derive(Debug, Clone)]
pub(crate) enum StartLine {
    Request { method: Method, uri: Text },
    Response { code: u16, reason: Text },
}

/// The fields transaction matching needs (RFC 3261 §17.1.3, §17.2.3),
/// parsed eagerly by [`Message::parse`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Critical {
    /// The first value of the top Via.
    pub(crate) top_via: Option<Text>,
    pub(crate) branch: Option<Text>,
    pub(crate) cseq: Option<(u32, Method)>,
    pub(crate) call_id: Option<Text>,
    pub(crate) from_tag: Option<Text>,
    pub(crate) to_tag: Option<Text>,
    pub(crate) max_forwards: Option<u8>,
}

/// A SIP request or response over one shared buffer.
///
/// Cloning is cheap: the buffer is reference-counted; only the index is copied.
#[derive(Debug, Clone)]
pub struct Message {
    pub(crate) buf: Bytes,
    pub(crate) extra: Vec<Bytes>,
    pub(crate) start: StartLine,
    /// Where the message starts in `buf` (after leading CRLFs).
    pub(crate) msg_start: usize,
    /// Where the message ends in `buf` (bytes after it are ignored, RFC 3261 §18.3).
    pub(crate) msg_end: usize,
    pub(crate) headers: Vec<HeaderEntry>,
    pub(crate) body: Text,
    pub(crate) content_length: Option<u32>,
    pub(crate) critical: Critical,
    /// Set by any edit: the printer then rebuilds instead of slicing.
    pub(crate) edited: bool,
}

/// A header field as indexed: name and value bytes, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// The recognised name ([`HeaderName::Other`] for unknown ones).
    pub name: HeaderName,
    /// The name as written.
    pub raw_name: &'a [u8],
    /// The value, trimmed of surrounding white space, with folding undone.
    pub value: &'a [u8],
}

impl HeaderField<'_> {
    /// The value as UTF-8, if it is.
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(self.value).ok()
    }
}

impl Message {
    pub(crate) fn text(&self, t: Text) -> &[u8] {
        let src: &[u8] = if t.src == Text::BUF {
            &self.buf
        } else {
            &self.extra[t.src as usize]
        };
        &src[t.start as usize..t.end as usize]
    }

    /// The text as `&str`. Only used on text that was validated as UTF-8
    /// (or ASCII) when it was indexed or parsed, so the fallback never shows.
    pub(crate) fn text_str(&self, t: Text) -> &str {
        std::str::from_utf8(self.text(t)).unwrap_or("")
    }

    pub(crate) fn value_str(&self, h: &HeaderEntry) -> Result<&str, Error> {
        std::str::from_utf8(self.text(h.value))
            .map_err(|_| Error::header(h.name, HeaderProblem::Utf8))
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, for a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written, for a request.
    pub fn request_uri_str(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(self.text_str(*uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, parsed, for a request. Request-URIs may not carry
    /// URI headers (RFC 3261 §19.1.5).
    pub fn request_uri(&self) -> Option<Result<Uri<'_>, Error>> {
        let s = self.request_uri_str()?;
        Some(parse_request_uri(s))
    }

    /// The status code, for a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase, for a response.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response { reason, .. } => Some(self.text_str(*reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// Every header field in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderField<'_>> + '_ {
        self.headers.iter().map(move |h| HeaderField {
            name: h.name,
            raw_name: self.text(h.raw_name),
            value: self.text(h.value),
        })
    }

    /// Number of header fields (lines, after unfolding).
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The values of every header field called `name`, in order (whole
    /// lines; list elements are not split).
    pub fn header_values(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(move |h| self.text(h.value))
    }

    /// The first value of the header called `name`, as UTF-8.
    pub fn header_str(&self, name: HeaderName) -> Option<&str> {
        let h = self.headers.iter().find(|h| h.name == name)?;
        self.value_str(h).ok()
    }

    /// The values of an unknown header, matched by name without regard to case.
    pub fn other_header(&self, raw_name: &str) -> impl Iterator<Item = &[u8]> + '_ {
        let raw_name = raw_name.to_owned();
        self.headers
            .iter()
            .filter(move |h| {
                h.name == HeaderName::Other
                    && self
                        .text(h.raw_name)
                        .eq_ignore_ascii_case(raw_name.as_bytes())
            })
            .map(move |h| self.text(h.value))
    }

    /// Every element of every `name` header, split at top-level commas, as UTF-8.
    pub(crate) fn list_values(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<&str, Error>> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .flat_map(move |h| {
                let (single, list) = match self.value_str(h) {
                    Ok(v) => (None, Some(split_commas(v))),
                    Err(e) => (Some(Err(e)), None),
                };
                single.into_iter().chain(list.into_iter().flatten().map(Ok))
            })
    }

    /// The body (exactly Content-Length bytes when that header is present).
    pub fn body(&self) -> &[u8] {
        self.text(self.body)
    }

    /// The Content-Length header's value, if present.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// The whole received buffer, as it was handed to the parser.
    pub fn raw(&self) -> &Bytes {
        &self.buf
    }

    // ---- eagerly parsed fields (set by `parse`) ----

    /// The Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.critical.call_id.map(|t| self.text_str(t))
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, &Method)> {
        self.critical.cseq.as_ref().map(|(n, m)| (*n, m))
    }

    /// The `branch` of the top Via.
    pub fn branch(&self) -> Option<&str> {
        self.critical.branch.map(|t| self.text_str(t))
    }

    /// The From tag.
    pub fn from_tag(&self) -> Option<&str> {
        self.critical.from_tag.map(|t| self.text_str(t))
    }

    /// The To tag.
    pub fn to_tag(&self) -> Option<&str> {
        self.critical.to_tag.map(|t| self.text_str(t))
    }

    /// The Max-Forwards value.
    pub fn max_forwards(&self) -> Option<u8> {
        self.critical.max_forwards
    }

    /// The top Via value (the first element of the first Via header).
    pub fn top_via(&self) -> Option<Via<'_>> {
        let t = self.critical.top_via?;
        Via::parse(self.text_str(t)).ok()
    }

    // ---- typed views, parsed on each call ----

    /// Every Via value, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, Error>> + '_ {
        self.list_values(HeaderName::Via)
            .map(|v| v.and_then(|s| Via::parse(s).map_err(|p| Error::header(HeaderName::Via, p))))
    }

    fn single_name_addr(&self, name: HeaderName) -> Option<Result<NameAddr<'_>, Error>> {
        let h = self.headers.iter().find(|h| h.name == name)?;
        Some(
            self.value_str(h)
                .and_then(|s| NameAddr::parse(s).map_err(|p| Error::header(name, p))),
        )
    }

    /// The From header.
    pub fn from(&self) -> Option<Result<NameAddr<'_>, Error>> {
        self.single_name_addr(HeaderName::From)
    }

    /// The To header.
    pub fn to(&self) -> Option<Result<NameAddr<'_>, Error>> {
        self.single_name_addr(HeaderName::To)
    }

    /// Every Contact value.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, Error>> + '_ {
        self.list_values(HeaderName::Contact).map(|v| {
            v.and_then(|s| Contact::parse(s).map_err(|p| Error::header(HeaderName::Contact, p)))
        })
    }

    /// Every value of a `name-addr` list header: Route, Record-Route, Path,
    /// Service-Route, P-Asserted-Identity.
    pub fn name_addrs(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<NameAddr<'_>, Error>> + '_ {
        self.list_values(name).map(move |v| {
            v.and_then(|s| NameAddr::parse_name_addr(s).map_err(|p| Error::header(name, p)))
        })
    }

    /// Every Route value, top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Error>> + '_ {
        self.name_addrs(HeaderName::Route)
    }

    /// Every Record-Route value, top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Error>> + '_ {
        self.name_addrs(HeaderName::RecordRoute)
    }

    /// Every Path value (RFC 3327), top first.
    pub fn paths(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Error>> + '_ {
        self.name_addrs(HeaderName::Path)
    }

    fn single_number(
        &self,
        name: HeaderName,
        parse: fn(&str) -> Result<u32, HeaderProblem>,
    ) -> Option<Result<u32, Error>> {
        let h = self.headers.iter().find(|h| h.name == name)?;
        Some(
            self.value_str(h)
                .and_then(|s| parse(s).map_err(|p| Error::header(name, p))),
        )
    }

    /// The Expires header.
    pub fn expires(&self) -> Option<Result<u32, Error>> {
        self.single_number(HeaderName::Expires, numeric::delta_seconds)
    }

    /// The Min-Expires header.
    pub fn min_expires(&self) -> Option<Result<u32, Error>> {
        self.single_number(HeaderName::MinExpires, numeric::delta_seconds)
    }

    /// The Content-Type header.
    pub fn content_type(&self) -> Option<Result<MediaType<'_>, Error>> {
        let h = self
            .headers
            .iter()
            .find(|h| h.name == HeaderName::ContentType)?;
        Some(self.value_str(h).and_then(|s| {
            MediaType::parse(s).map_err(|p| Error::header(HeaderName::ContentType, p))
        }))
    }

    /// Every value of an authentication header (Authorization,
    /// Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate), one per line.
    pub fn auth_headers(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<AuthHeader<'_>, Error>> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(move |h| {
                self.value_str(h)
                    .and_then(|s| AuthHeader::parse(s).map_err(|p| Error::header(name, p)))
            })
    }

    /// The tokens of a list header such as Require, Supported, Unsupported or Allow.
    pub fn tokens(&self, name: HeaderName) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .filter_map(move |h| self.value_str(h).ok())
            .flat_map(token_list::tokens)
    }

    /// Whether a list header such as Supported or Require holds `token` (any case).
    pub fn has_token(&self, name: HeaderName, token: &str) -> bool {
        self.tokens(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// The Session-Expires header (RFC 4028).
    pub fn session_expires(&self) -> Option<Result<SessionExpires<'_>, Error>> {
        let h = self
            .headers
            .iter()
            .find(|h| h.name == HeaderName::SessionExpires)?;
        Some(self.value_str(h).and_then(|s| {
            SessionExpires::parse(s).map_err(|p| Error::header(HeaderName::SessionExpires, p))
        }))
    }
}

/// Parses a Request-URI with the rules only Request-URIs have: no `<>`
/// (RFC 4475 §3.1.2.7) and no URI headers (RFC 4475 §3.1.2.11).
pub(crate) fn parse_request_uri(s: &str) -> Result<Uri<'_>, Error> {
    if s.starts_with('<') {
        return Err(Error::RequestUri {
            problem: UriProblem::AngleBrackets,
        });
    }
    let uri = Uri::parse(s).map_err(|problem| Error::RequestUri { problem })?;
    match &uri {
        Uri::Sip(u) if u.headers.is_some() => Err(Error::RequestUri {
            problem: UriProblem::HeadersInRequestUri,
        }),
        _ => Ok(uri),
    }
}
