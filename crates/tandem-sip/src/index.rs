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

/// The end of a header name: the first ':', SP or HTAB at or after `pos`
/// (or `end`), found eight bytes at a time.
#[inline]
fn name_end(b: &[u8], pos: usize, end: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn has(w: u64, c: u8) -> u64 {
        let x = w ^ (ONES * u64::from(c));
        x.wrapping_sub(ONES) & !x & HIGHS
    }
    let mut i = pos;
    while i < end && i + 8 <= b.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[i..i + 8]);
        let w = u64::from_le_bytes(word);
        let m = has(w, b':') | has(w, b' ') | has(w, b'\t');
        if m != 0 {
            // The lowest flagged byte is exact (borrows only run upwards).
            return (i + (m.trailing_zeros() / 8) as usize).min(end);
        }
        i += 8;
    }
    while i < end && !matches!(b[i], b':' | b' ' | b'\t') {
        i += 1;
    }
    i.min(end)
}

/// How many list elements a value holds, at most (commas inside quotes
/// count too, which only makes the limit stricter).
#[inline]
fn elements(v: &[u8]) -> usize {
    match memchr(b',', v) {
        None => 1,
        Some(first) => 2 + memchr::memchr_iter(b',', &v[first + 1..]).count(),
    }
}

/// Builds the error for the first bare CR of the header section.
#[cold]
fn bare_cr(b: &[u8], start: usize, end: usize) -> Error {
    let mut line = 1;
    for i in start..end {
        match b[i] {
            b'\n' => line += 1,
            b'\r' if b.get(i + 1) != Some(&b'\n') => return Error::BareCr { line },
            _ => {}
        }
    }
    Error::BareCr { line }
}

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
        // One iterator over every LF: the vector search is set up once, not
        // once per line. Bare CRs are caught after the loop by counting.
        let mut lfs = memchr::memchr_iter(b'\n', &b[msg_start..]).map(|i| i + msg_start);
        let mut crlf_lines = 0usize;
        let mut next_line = |pos: usize, line_no: usize| -> Result<(usize, usize), Error> {
            let lf = lfs.next().ok_or(Error::Unterminated)?;
            if lf > pos && b[lf - 1] == b'\r' {
                crlf_lines += 1;
                Ok((lf - 1, lf + 1))
            } else if bare_lf {
                Ok((lf, lf + 1))
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
            let name_end = name_end(b, pos, end);
            let mut colon = name_end;
            while colon < end && is_ws(b[colon]) {
                colon += 1;
            }
            if name_end == pos || colon >= end || b[colon] != b':' {
                return Err(Error::HeaderSyntax { line: line_no });
            }
            let name = HeaderName::from_buffer(b, pos, name_end);
            // A known name matched byte for byte (any case), so it is a
            // token; only unknown names need their characters checked.
            if name == HeaderName::Other && !b[pos..name_end].iter().all(|&c| is_token_char(c)) {
                return Err(Error::HeaderSyntax { line: line_no });
            }
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
                    via_count += elements(&b[vs..ve]);
                    if via_count > limits.via_count_max {
                        return Err(Error::TooManyValues {
                            header: name,
                            limit: limits.via_count_max,
                        });
                    }
                }
                HeaderName::Route | HeaderName::RecordRoute => {
                    route_count += elements(&b[vs..ve]);
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

        // Every CR of the header section must end a line (RFC 3261 §7): a
        // bare CR could smuggle a line break past us to the next hop.
        let crs = memchr::memchr_iter(b'\r', &b[msg_start..body_start]).count();
        if crs != crlf_lines {
            return Err(bare_cr(b, msg_start, body_start));
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
