//! The header indexer: one pass over the buffer that finds the start line,
//! every header field's name and value ranges, the body, and nothing more
//! (RFC 3261 §7). Folded lines (§7.3.1) are unfolded into an owned copy;
//! everything else stays in the shared buffer.

use crate::error::{Error, StartLineProblem, UriProblem};
use crate::grammar::{is_token_char, is_ws};
use crate::header_name::HeaderName;
use crate::headers::numeric;
use crate::limits::ParseOptions;
use crate::message::{Critical, HeaderEntry, Message, StartLine, Text};
use crate::method::Method;
use bytes::Bytes;
use memchr::memchr;

fn trim_ws(b: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_ws(b[start]) {
        start += 1;
    }
    while end > start && is_ws(b[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// Parses `SIP/1*DIGIT.1*DIGIT`; `Ok(true)` for 2.0, `Ok(false)` for another version.
fn check_version(v: &[u8]) -> Result<bool, Error> {
    if v == b"SIP/2.0" {
        return Ok(true);
    }
    let bad = Error::StartLine {
        problem: StartLineProblem::Version,
    };
    if v.len() < 7 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(bad);
    }
    let num = &v[4..];
    let dot = memchr(b'.', num).ok_or(bad.clone())?;
    let (major, minor) = (&num[..dot], &num[dot + 1..]);
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    if !digits(major) || !digits(minor) {
        return Err(bad);
    }
    Ok(major == b"2" && minor == b"0")
}

fn unsupported_version(v: &[u8]) -> Error {
    Error::UnsupportedVersion {
        version: String::from_utf8_lossy(v).into(),
    }
}

/// Parses the start line occupying `b[start..end]`.
fn start_line(b: &[u8], start: usize, end: usize) -> Result<StartLine, Error> {
    let line = &b[start..end];
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return status_line(b, start, end);
    }
    let spacing = Error::StartLine {
        problem: StartLineProblem::Spacing,
    };
    let shape = Error::StartLine {
        problem: StartLineProblem::Shape,
    };
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF, single SPs.
    let sp1 = memchr(b' ', line).ok_or(shape.clone())?;
    let sp2 = memchr::memrchr(b' ', line).ok_or(shape.clone())?;
    if sp1 == sp2 {
        return Err(shape);
    }
    let (method, uri, version) = (&line[..sp1], &line[sp1 + 1..sp2], &line[sp2 + 1..]);
    if method.is_empty() || !method.iter().all(|&c| is_token_char(c)) {
        return Err(
            if method.is_empty() || line[0] == b' ' || line[0] == b'\t' {
                spacing
            } else {
                Error::StartLine {
                    problem: StartLineProblem::Method,
                }
            },
        );
    }
    if version.is_empty() {
        return Err(spacing); // trailing SP (RFC 4475 §3.1.2.10)
    }
    if uri.is_empty() || uri[0] == b' ' || uri[uri.len() - 1] == b' ' {
        return Err(spacing); // several SPs (RFC 4475 §3.1.2.9)
    }
    if uri.iter().any(|&c| c == b' ' || c == b'\t') {
        // White space inside the URI (RFC 4475 §3.1.2.8).
        return Err(Error::RequestUri {
            problem: UriProblem::Character,
        });
    }
    if !check_version(version)? {
        return Err(unsupported_version(version));
    }
    let uri_start = start + sp1 + 1;
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri: Text::buf(uri_start, uri_start + uri.len()),
    })
}

/// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF.
fn status_line(b: &[u8], start: usize, end: usize) -> Result<StartLine, Error> {
    let line = &b[start..end];
    let shape = Error::StartLine {
        problem: StartLineProblem::Shape,
    };
    let sp1 = memchr(b' ', line).ok_or(shape)?;
    let version = &line[..sp1];
    if !check_version(version)? {
        return Err(unsupported_version(version));
    }
    let rest = &line[sp1 + 1..];
    let code_end = memchr(b' ', rest).unwrap_or(rest.len());
    let code = &rest[..code_end];
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return Err(Error::StartLine {
            problem: StartLineProblem::StatusCode,
        });
    }
    let code_num = u16::from(code[0] - b'0') * 100
        + u16::from(code[1] - b'0') * 10
        + u16::from(code[2] - b'0');
    let reason_start = (start + sp1 + 1 + code_end + 1).min(end);
    let reason = &b[reason_start..end];
    if reason
        .iter()
        .any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
        || std::str::from_utf8(reason).is_err()
    {
        return Err(Error::StartLine {
            problem: StartLineProblem::ReasonPhrase,
        });
    }
    Ok(StartLine::Response {
        code: code_num,
        reason: Text::buf(reason_start, end),
    })
}

/// Replaces each line fold (`[CR] LF 1*WSP`, with white space before it)
/// by one SP (RFC 3261 §7.3.1).
fn unfold(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        let c = v[i];
        if c == b'\r' || c == b'\n' {
            while out.last().is_some_and(|&l| is_ws(l)) {
                out.pop();
            }
            while i < v.len() && (v[i] == b'\r' || v[i] == b'\n' || is_ws(v[i])) {
                i += 1;
            }
            out.push(b' ');
        } else {
            out.push(c);
            i += 1;
        }
    }
    while out.last().is_some_and(|&l| is_ws(l)) {
        out.pop();
    }
    out
}

impl Message {
    /// Indexes a message: start line, header ranges, body. No header value
    /// is typed beyond Content-Length. For a datagram, bytes after
    /// Content-Length are ignored (RFC 3261 §18.3).
    pub fn index(buf: impl Into<Bytes>, opts: &ParseOptions) -> Result<Message, Error> {
        let buf: Bytes = buf.into();
        let limits = &opts.limits;
        let bare_lf = opts.accept_bare_lf;
        let b: &[u8] = &buf;
        if b.len() > limits.message_size_max {
            return Err(Error::TooLarge {
                size: b.len(),
                limit: limits.message_size_max,
            });
        }
        // Leading CRLFs before the start line are ignored (RFC 3261 §7.5).
        let mut pos = 0;
        while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
            pos += 1;
        }
        let msg_start = pos;
        let mut line_no = 1;
        // One iterator over every CR and LF of the header section: the
        // vector search is set up once, not once per line. A CR must start a
        // CRLF: a bare CR inside a line would let a value smuggle a line
        // break past this parser to the next hop.
        let mut ends = memchr::memchr2_iter(b'\r', b'\n', &b[msg_start..]).map(|i| i + msg_start);
        let mut next_line = |_pos: usize, line_no: usize| -> Result<(usize, usize), Error> {
            let at = ends.next().ok_or(Error::Unterminated)?;
            if b[at] == b'\r' {
                if b.get(at + 1) == Some(&b'\n') {
                    ends.next();
                    Ok((at, at + 2))
                } else if at + 1 == b.len() {
                    Err(Error::Unterminated)
                } else {
                    Err(Error::BareCr { line: line_no })
                }
            } else if bare_lf {
                Ok((at, at + 1))
            } else {
                Err(Error::BareLf { line: line_no })
            }
        };
        let (sl_end, next) = next_line(pos, line_no)?;
        if sl_end - pos > limits.header_line_len_max {
            return Err(Error::HeaderLineTooLong {
                line: line_no,
                limit: limits.header_line_len_max,
            });
        }
        let start = start_line(b, pos, sl_end)?;
        pos = next;

        let mut headers: Vec<HeaderEntry> = Vec::with_capacity(20);
        let mut folded: Vec<usize> = Vec::new();
        let mut content_length_at: Option<usize> = None;
        let mut via_count = 0usize;
        let mut route_count = 0usize;
        let body_start;
        loop {
            line_no += 1;
            let (end, next) = next_line(pos, line_no)?;
            if end == pos {
                body_start = next;
                break;
            }
            if is_ws(b[pos]) {
                // A continuation line: extend the previous field (RFC 3261 §7.3.1).
                let last = headers
                    .last_mut()
                    .ok_or(Error::HeaderSyntax { line: line_no })?;
                let line_start = last.raw_name.start as usize;
                if end - line_start > limits.header_line_len_max {
                    return Err(Error::HeaderLineTooLong {
                        line: line_no,
                        limit: limits.header_line_len_max,
                    });
                }
                let (vs, vend) = trim_ws(b, pos, end);
                // A continuation of white space only adds nothing.
                if vend > vs {
                    if last.value.start == last.value.end {
                        last.value.start = vs as u32;
                    }
                    last.value.end = vend as u32;
                    if folded.last() != Some(&(headers.len() - 1)) {
                        folded.push(headers.len() - 1);
                    }
                }
                pos = next;
                continue;
            }
            if end - pos > limits.header_line_len_max {
                return Err(Error::HeaderLineTooLong {
                    line: line_no,
                    limit: limits.header_line_len_max,
                });
            }
            if headers.len() >= limits.header_count_max {
                return Err(Error::TooManyHeaders {
                    limit: limits.header_count_max,
                });
            }
            // field-name = token, then HCOLON = *( SP / HTAB ) ":" SWS.
            let mut name_end = pos;
            while name_end < end && is_token_char(b[name_end]) {
                name_end += 1;
            }
            let mut colon = name_end;
            while colon < end && is_ws(b[colon]) {
                colon += 1;
            }
            if name_end == pos || colon >= end || b[colon] != b':' {
                return Err(Error::HeaderSyntax { line: line_no });
            }
            let name = HeaderName::from_buffer(b, pos, name_end);
            // Values usually start after one SP and end at the CR: test
            // that first, fall back to the general trim.
            let (vs, ve) = if colon + 2 < end
                && b[colon + 1] == b' '
                && !is_ws(b[colon + 2])
                && !is_ws(b[end - 1])
            {
                (colon + 2, end)
            } else {
                trim_ws(b, colon + 1, end)
            };
            match name {
                HeaderName::Via => {
                    via_count += 1 + memchr::memchr_iter(b',', &b[vs..ve]).count();
                    if via_count > limits.via_count_max {
                        return Err(Error::TooManyValues {
                            header: name,
                            limit: limits.via_count_max,
                        });
                    }
                }
                HeaderName::Route | HeaderName::RecordRoute => {
                    route_count += 1 + memchr::memchr_iter(b',', &b[vs..ve]).count();
                    if route_count > limits.route_count_max {
                        return Err(Error::TooManyValues {
                            header: name,
                            limit: limits.route_count_max,
                        });
                    }
                }
                HeaderName::ContentLength => {
                    if content_length_at.is_some() {
                        return Err(Error::DuplicateHeader { header: name });
                    }
                    content_length_at = Some(headers.len());
                }
                _ => {}
            }
            headers.push(HeaderEntry {
                name,
                raw_name: Text::buf(pos, name_end),
                value: Text::buf(vs, ve),
            });
            pos = next;
        }

        let mut extra = Vec::new();
        for &i in &folded {
            let h = &mut headers[i];
            let unfolded = unfold(&b[h.value.start as usize..h.value.end as usize]);
            h.value = Text {
                src: extra.len() as u32,
                start: 0,
                end: unfolded.len() as u32,
            };
            extra.push(Bytes::from(unfolded));
        }

        let available = b.len() - body_start;
        let (content_length, msg_end) = match content_length_at {
            Some(i) => {
                let h = headers[i];
                let v = if h.value.src == Text::BUF {
                    &b[h.value.start as usize..h.value.end as usize]
                } else {
                    &extra[h.value.src as usize][..]
                };
                let s = std::str::from_utf8(v).map_err(|_| {
                    Error::header(HeaderName::ContentLength, crate::HeaderProblem::Utf8)
                })?;
                let cl = numeric::content_length(s)
                    .map_err(|p| Error::header(HeaderName::ContentLength, p))?;
                if cl as usize > available {
                    return Err(Error::ContentLengthExceedsBody {
                        declared: cl,
                        available,
                    });
                }
                (Some(cl), body_start + cl as usize)
            }
            None => (None, b.len()),
        };
        Ok(Message {
            start,
            msg_start,
            msg_end,
            headers,
            body: Text::buf(body_start, msg_end),
            content_length,
            critical: Critical::default(),
            edited: false,
            extra,
            buf,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ParseOptions {
        ParseOptions::default()
    }

    #[test]
    fn indexes_request() {
        let m = Message::index(
            &b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nl: 4\r\nX-Odd :  v \r\n\r\nbodyextra"[..],
            &opts(),
        )
        .unwrap();
        assert_eq!(m.method(), Some(&Method::Options));
        assert_eq!(m.request_uri_str(), Some("sip:a@b"));
        assert_eq!(m.header_count(), 3);
        assert_eq!(m.body(), b"body");
        let f: Vec<_> = m.headers().collect();
        assert_eq!(f[2].raw_name, b"X-Odd");
        assert_eq!(f[2].value, b"v");
    }

    #[test]
    fn unfolds() {
        let m = Message::index(
            &b"SIP/2.0 200 OK\r\nSubject: a\r\n  b \r\n\tc\r\nTo: x\r\n\r\n"[..],
            &opts(),
        )
        .unwrap();
        assert_eq!(m.header_str(HeaderName::Subject), Some("a b c"));
        assert_eq!(m.header_str(HeaderName::To), Some("x"));
    }

    #[test]
    fn start_line_errors() {
        let e = |s: &str| Message::index(s.as_bytes().to_vec(), &opts()).unwrap_err();
        assert_eq!(
            e("INVITE  sip:a@b SIP/2.0\r\n\r\n"),
            Error::StartLine {
                problem: StartLineProblem::Spacing
            }
        );
        assert_eq!(
            e("INVITE sip:a@b SIP/2.0 \r\n\r\n"),
            Error::StartLine {
                problem: StartLineProblem::Spacing
            }
        );
        assert_eq!(
            e("INVITE sip:a@b; lr SIP/2.0\r\n\r\n"),
            Error::RequestUri {
                problem: UriProblem::Character
            }
        );
        assert_eq!(e("OPTIONS sip:a@b SIP/7.0\r\n\r\n").status(), 505);
        assert_eq!(
            e("SIP/2.0 4294967301 big\r\n\r\n"),
            Error::StartLine {
                problem: StartLineProblem::StatusCode
            }
        );
        assert_eq!(e("INVITE sip:a@b SIP/2.0\n\n"), Error::BareLf { line: 1 });
        assert_eq!(
            e("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"),
            Error::Unterminated
        );
        assert_eq!(
            e("INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n"),
            Error::HeaderSyntax { line: 2 }
        );
    }

    #[test]
    fn empty_reason_phrase() {
        let m = Message::index(&b"SIP/2.0 100 \r\n\r\n"[..], &opts()).unwrap();
        assert_eq!(m.status(), Some(100));
        assert_eq!(m.reason(), Some(""));
        let m = Message::index(&b"SIP/2.0 100\r\n\r\n"[..], &opts()).unwrap();
        assert_eq!(m.reason(), Some(""));
    }

    #[test]
    fn bare_lf_when_allowed() {
        let o = ParseOptions {
            accept_bare_lf: true,
            ..opts()
        };
        let m = Message::index(&b"OPTIONS sip:a@b SIP/2.0\nTo: x\n\n"[..], &o).unwrap();
        assert_eq!(m.header_str(HeaderName::To), Some("x"));
    }

    #[test]
    fn content_length_checks() {
        let e = |s: &str| Message::index(s.as_bytes().to_vec(), &opts()).unwrap_err();
        assert!(matches!(
            e("SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
            Error::ContentLengthExceedsBody {
                declared: 10,
                available: 3
            }
        ));
        assert_eq!(e("SIP/2.0 200 OK\r\nl: -1\r\n\r\n").status(), 400);
        assert!(matches!(
            e("SIP/2.0 200 OK\r\nl: 0\r\nContent-Length: 0\r\n\r\n"),
            Error::DuplicateHeader { .. }
        ));
    }

    #[test]
    fn limits() {
        let mut o = opts();
        o.limits.header_count_max = 2;
        assert!(matches!(
            Message::index(&b"SIP/2.0 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"[..], &o),
            Err(Error::TooManyHeaders { limit: 2 })
        ));
        o = opts();
        o.limits.via_count_max = 2;
        assert!(matches!(
            Message::index(&b"SIP/2.0 200 OK\r\nVia: a, b\r\nv: c\r\n\r\n"[..], &o),
            Err(Error::TooManyValues { .. })
        ));
        o = opts();
        o.limits.message_size_max = 10;
        assert_eq!(
            Message::index(&b"SIP/2.0 200 OK\r\n\r\n"[..], &o)
                .unwrap_err()
                .status(),
            513
        );
    }
}
