//! Stream framing for TCP, TLS and WebSocket-less streams (RFC 3261 §18.3):
//! check first, then parse. [`check`] looks at buffered bytes and says how
//! many make up the next message, that more must be read first
//! ([`Frame::Incomplete`], a normal outcome), or that the bytes are a
//! keep-alive (RFC 5626 §3.5.1: CRLFCRLF ping, CRLF pong).

use crate::error::Error;
use crate::grammar::is_ws;
use crate::limits::Limits;
use memchr::{memchr, memmem};

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet to know.
    Incomplete,
    /// A keep-alive ping (CRLFCRLF, 4 bytes): answer with a pong (CRLF).
    Ping,
    /// A keep-alive pong (CRLF, 2 bytes), or a stray line end before a
    /// start line (RFC 3261 §7.5): consume and ignore.
    Pong {
        /// Bytes to consume (1 or 2).
        len: usize,
    },
    /// A complete message of `len` bytes (header section and body).
    Message {
        /// Bytes to hand to [`crate::Message::parse`].
        len: usize,
    },
}

impl Frame {
    /// How many bytes this frame takes from the buffer.
    pub fn len(&self) -> usize {
        match self {
            Frame::Incomplete => 0,
            Frame::Ping => 4,
            Frame::Pong { len } | Frame::Message { len } => *len,
        }
    }

    /// Whether the frame takes no bytes ([`Frame::Incomplete`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The pong a server answers a ping with (RFC 5626 §3.5.1).
pub const PONG: &[u8] = b"\r\n";

/// Looks at the front of a stream buffer. Content-Length is required on
/// streams; a message larger than `limits.message_size_max` is an error
/// before it is even buffered in full.
pub fn check(buf: &[u8], limits: &Limits) -> Result<Frame, Error> {
    if buf.is_empty() {
        return Ok(Frame::Incomplete);
    }
    if buf[0] == b'\r' || buf[0] == b'\n' {
        if buf.starts_with(b"\r\n\r\n") {
            return Ok(Frame::Ping);
        }
        if buf.len() < 4 && b"\r\n\r\n".starts_with(buf) {
            return Ok(Frame::Incomplete);
        }
        if buf.starts_with(b"\r\n") {
            return Ok(Frame::Pong { len: 2 });
        }
        return Ok(Frame::Pong { len: 1 });
    }
    let window = &buf[..buf.len().min(limits.message_size_max)];
    let Some(hdr_end) = memmem::find(window, b"\r\n\r\n") else {
        if buf.len() >= limits.message_size_max {
            return Err(Error::TooLarge {
                size: buf.len(),
                limit: limits.message_size_max,
            });
        }
        return Ok(Frame::Incomplete);
    };
    let body_start = hdr_end + 4;
    let cl = content_length(&buf[..hdr_end + 2])?.ok_or(Error::MissingContentLength)?;
    let total = body_start + cl;
    if total > limits.message_size_max {
        return Err(Error::TooLarge {
            size: total,
            limit: limits.message_size_max,
        });
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Message { len: total })
}

/// Finds Content-Length (or `l`) in a header section whose lines end in CRLF.
fn content_length(head: &[u8]) -> Result<Option<usize>, Error> {
    let bad = || {
        Error::header(
            crate::HeaderName::ContentLength,
            crate::HeaderProblem::Number,
        )
    };
    let mut pos = match memchr(b'\n', head) {
        Some(i) => i + 1,
        None => return Ok(None),
    };
    while pos < head.len() {
        let end = memchr(b'\n', &head[pos..]).map_or(head.len(), |i| pos + i);
        let line = &head[pos..end];
        if let Some(colon) = memchr(b':', line) {
            let mut name = &line[..colon];
            while name.last().is_some_and(|&c| is_ws(c)) {
                name = &name[..name.len() - 1];
            }
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                let value: Vec<u8> = line[colon + 1..]
                    .iter()
                    .copied()
                    .filter(|c| !is_ws(*c) && *c != b'\r')
                    .collect();
                if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
                    return Err(bad());
                }
                let n: u64 = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(bad)?;
                return usize::try_from(n).map(Some).map_err(|_| bad());
            }
        }
        pos = end + 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";

    #[test]
    fn frames() {
        let l = Limits::default();
        assert_eq!(check(b"", &l), Ok(Frame::Incomplete));
        assert_eq!(check(b"\r\n\r\nOPTIONS", &l), Ok(Frame::Ping));
        assert_eq!(check(b"\r\n", &l), Ok(Frame::Incomplete));
        assert_eq!(check(b"\r\nOPT", &l), Ok(Frame::Pong { len: 2 }));
        assert_eq!(check(MSG, &l), Ok(Frame::Message { len: MSG.len() }));
        for cut in 1..MSG.len() {
            assert_eq!(
                check(&MSG[..cut], &l),
                Ok(Frame::Incomplete),
                "cut at {cut}"
            );
        }
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(check(&two, &l), Ok(Frame::Message { len: MSG.len() }));
    }

    #[test]
    fn errors() {
        let l = Limits::default();
        assert_eq!(
            check(b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n\r\n", &l),
            Err(Error::MissingContentLength)
        );
        assert!(check(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", &l).is_err());
        let small = Limits {
            message_size_max: 40,
            ..Limits::default()
        };
        assert!(matches!(
            check(
                b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 100\r\n\r\n",
                &small
            ),
            Err(Error::TooLarge { .. })
        ));
        let junk = vec![b'x'; 100];
        assert!(matches!(check(&junk, &small), Err(Error::TooLarge { .. })));
    }
}
