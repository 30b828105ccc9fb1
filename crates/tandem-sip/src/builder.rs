//! Building messages: responses to a request (RFC 3261 §8.2.6, §16.7), new
//! requests, and the best-effort answer to a request too malformed to parse
//! (RFC 3261 §8.2, §18.2.1).

use crate::header_name::HeaderName;
use crate::message::Message;
use crate::status::default_reason;
use bytes::{BufMut, Bytes, BytesMut};
use memchr::memchr;

/// A message under construction, written straight into one buffer.
#[derive(Debug)]
pub struct MessageBuilder {
    out: BytesMut,
    body: Bytes,
    content_type: Option<String>,
}

impl MessageBuilder {
    /// Starts a request: `METHOD uri SIP/2.0`.
    pub fn request(method: &str, uri: &str) -> MessageBuilder {
        let mut out = BytesMut::with_capacity(512);
        out.put_slice(method.as_bytes());
        out.put_u8(b' ');
        out.put_slice(uri.as_bytes());
        out.put_slice(b" SIP/2.0\r\n");
        MessageBuilder {
            out,
            body: Bytes::new(),
            content_type: None,
        }
    }

    /// Starts a response with the status line only.
    pub fn status_line(code: u16, reason: Option<&str>) -> MessageBuilder {
        let mut out = BytesMut::with_capacity(512);
        out.put_slice(b"SIP/2.0 ");
        out.put_slice(code.to_string().as_bytes());
        out.put_u8(b' ');
        out.put_slice(reason.unwrap_or(default_reason(code)).as_bytes());
        out.put_slice(b"\r\n");
        MessageBuilder {
            out,
            body: Bytes::new(),
            content_type: None,
        }
    }

    /// Starts a response to `req` (RFC 3261 §8.2.6.2): copies every Via,
    /// From, To, Call-ID and CSeq; adds `to_tag` to To if To has no tag.
    pub fn response(
        req: &Message,
        code: u16,
        reason: Option<&str>,
        to_tag: Option<&str>,
    ) -> MessageBuilder {
        let mut b = MessageBuilder::status_line(code, reason);
        for h in req.headers.iter() {
            match h.name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    b.raw_header(req.text(h.raw_name), req.text(h.value));
                }
                HeaderName::To => {
                    b.out.put_slice(req.text(h.raw_name));
                    b.out.put_slice(b": ");
                    b.out.put_slice(req.text(h.value));
                    if let (None, Some(tag)) = (req.to_tag(), to_tag) {
                        b.out.put_slice(b";tag=");
                        b.out.put_slice(tag.as_bytes());
                    }
                    b.out.put_slice(b"\r\n");
                }
                _ => {}
            }
        }
        b
    }

    /// Replaces the reason phrase of a response's status line.
    pub fn reason(mut self, reason: &str) -> MessageBuilder {
        if !self.out.starts_with(b"SIP/2.0 ") {
            return self;
        }
        let Some(eol) = memchr(b'\n', &self.out) else {
            return self;
        };
        let code_end = 8 + 3;
        let mut rebuilt = BytesMut::with_capacity(self.out.len() + reason.len());
        rebuilt.put_slice(&self.out[..code_end]);
        rebuilt.put_u8(b' ');
        rebuilt.put_slice(reason.as_bytes());
        rebuilt.put_slice(b"\r\n");
        rebuilt.put_slice(&self.out[eol + 1..]);
        self.out = rebuilt;
        self
    }

    fn raw_header(&mut self, name: &[u8], value: &[u8]) {
        self.out.put_slice(name);
        self.out.put_slice(b": ");
        self.out.put_slice(value);
        self.out.put_slice(b"\r\n");
    }

    /// Adds a header line.
    pub fn header(mut self, name: HeaderName, value: &str) -> MessageBuilder {
        self.raw_header(name.as_str().as_bytes(), value.as_bytes());
        self
    }

    /// Adds a header line whose value is copied as bytes (from another message).
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> MessageBuilder {
        self.raw_header(name.as_bytes(), value);
        self
    }

    /// Adds a header line with any name.
    pub fn other_header(mut self, name: &str, value: &str) -> MessageBuilder {
        self.raw_header(name.as_bytes(), value.as_bytes());
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> MessageBuilder {
        self.content_type = Some(content_type.to_owned());
        self.body = body.into();
        self
    }

    /// Finishes the message: Content-Type if there is a body, Content-Length
    /// always (streams require it, RFC 3261 §18.3).
    pub fn build(mut self) -> Bytes {
        if let Some(ct) = self.content_type.take() {
            self.raw_header(b"Content-Type", ct.as_bytes());
        }
        let len = self.body.len().to_string();
        self.raw_header(b"Content-Length", len.as_bytes());
        self.out.put_slice(b"\r\n");
        self.out.put_slice(&self.body);
        self.out.freeze()
    }
}

/// Builds the answer to a request that could not be parsed, from whatever
/// Via, From, To, Call-ID and CSeq lines can be found in the raw bytes.
/// Returns `None` for responses (never answered) and for requests without a
/// Via (nowhere to send the answer): those are dropped.
pub fn reply_to_malformed(
    raw: &[u8],
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
) -> Option<Bytes> {
    let start = raw.iter().position(|&c| c != b'\r' && c != b'\n')?;
    let raw = &raw[start..];
    if raw.len() >= 4 && raw[..4].eq_ignore_ascii_case(b"SIP/") {
        return None;
    }
    let mut b = MessageBuilder::status_line(code, Some(reason));
    let mut pos = memchr(b'\n', raw)? + 1;
    let mut has_via = false;
    let mut seen = [false; 4]; // From, To, Call-ID, CSeq
    while pos < raw.len() {
        let end = memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i);
        let line = raw[pos..end].strip_suffix(b"\r").unwrap_or(&raw[pos..end]);
        pos = end + 1;
        if line.is_empty() {
            break;
        }
        let Some(colon) = memchr(b':', line) else {
            continue;
        };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii_end());
        let value = line[colon + 1..].trim_ascii();
        if value.len() > 1024 {
            continue;
        }
        let slot = match name {
            HeaderName::Via => {
                has_via = true;
                b.raw_header(b"Via", value);
                continue;
            }
            HeaderName::From => 0,
            HeaderName::To => 1,
            HeaderName::CallId => 2,
            HeaderName::CSeq => 3,
            _ => continue,
        };
        if std::mem::replace(&mut seen[slot], true) {
            continue;
        }
        if slot == 1 {
            let has_tag = value.windows(5).any(|w| w.eq_ignore_ascii_case(b";tag="));
            b.out.put_slice(b"To: ");
            b.out.put_slice(value);
            if let (false, Some(tag)) = (has_tag, to_tag) {
                b.out.put_slice(b";tag=");
                b.out.put_slice(tag.as_bytes());
            }
            b.out.put_slice(b"\r\n");
        } else {
            b.raw_header(name.as_str().as_bytes(), value);
        }
    }
    has_via.then(|| b.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseOptions;

    #[test]
    fn response_copies_dialog_headers() {
        let req = Message::parse(
            &b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nv: SIP/2.0/UDP g\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n"[..],
            &ParseOptions::default(),
        )
        .unwrap();
        let resp = MessageBuilder::response(&req, 200, None, Some("t1"))
            .header(HeaderName::Allow, "INVITE, OPTIONS")
            .build();
        let r = Message::parse(resp, &ParseOptions::default()).unwrap();
        assert_eq!(r.status(), Some(200));
        assert_eq!(r.reason(), Some("OK"));
        assert_eq!(r.vias().count(), 2);
        assert_eq!(r.to_tag(), Some("t1"));
        assert_eq!(r.branch(), Some("z9hG4bK1"));
        assert_eq!(r.content_length(), Some(0));
        r.validate().unwrap();
    }

    #[test]
    fn malformed_reply() {
        let raw = b"INVITE  sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:x@y>;tag=9\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        let out = reply_to_malformed(raw, 400, "Bad Request", Some("x")).unwrap();
        let r = Message::parse(out, &ParseOptions::default()).unwrap();
        assert_eq!(r.status(), Some(400));
        assert_eq!(r.to_tag(), Some("x"));
        assert!(reply_to_malformed(b"SIP/2.0 200 OK\r\n\r\n", 400, "x", None).is_none());
        assert!(reply_to_malformed(b"INVITE x\r\nTo: a\r\n\r\n", 400, "x", None).is_none());
    }
}
