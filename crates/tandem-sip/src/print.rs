//! The printer. An unedited message prints as the exact bytes it was
//! parsed from (a slice of the shared buffer, no copy); an edited one is
//! rebuilt from its index with CRLF line ends (RFC 3261 §7).

use crate::message::{Message, StartLine};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

impl Message {
    /// The message as bytes to send.
    pub fn to_bytes(&self) -> Bytes {
        if self.edited {
            self.rebuild()
        } else {
            self.buf.slice(self.msg_start..self.msg_end)
        }
    }

    /// Rebuilds the message from its index: `Name: value` lines, CRLF line
    /// ends, one SP after each colon. Equivalent to the original (RFC 3261
    /// §7.3.1); used after edits, and by tests to exercise the printer.
    pub fn rebuild(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len_estimate());
        match &self.start {
            StartLine::Request { method, uri } => {
                out.put_slice(method.as_str().as_bytes());
                out.put_u8(b' ');
                out.put_slice(self.text(*uri));
                out.put_slice(b" SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                out.put_slice(b"SIP/2.0 ");
                out.put_slice(code.to_string().as_bytes());
                out.put_u8(b' ');
                out.put_slice(self.text(*reason));
                out.put_slice(b"\r\n");
            }
        }
        for h in &self.headers {
            out.put_slice(self.text(h.raw_name));
            out.put_slice(b": ");
            out.put_slice(self.text(h.value));
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
        out.put_slice(self.body());
        out.freeze()
    }

    fn encoded_len_estimate(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.raw_name.len() + h.value.len() + 4)
            .sum();
        64 + headers + self.body.len()
    }
}

impl fmt::Display for Message {
    /// The message as text (invalid UTF-8 replaced), for logs and tools.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}
