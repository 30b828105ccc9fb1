//! The eager part of parsing: the fields every transaction lookup needs
//! (RFC 3261 §17.1.3, §17.2.3): top Via with its branch, CSeq, Call-ID, the
//! From and To tags, Max-Forwards. They are read straight from the bytes,
//! with small grammar-specific scanners; everything else waits until asked for.

use crate::error::{Error, HeaderProblem};
use crate::grammar::{is_token_char, is_ws};
use crate::header_name::HeaderName;
use crate::headers::{call_id, via};
use crate::limits::ParseOptions;
use crate::message::{Critical, HeaderEntry, Message, StartLine, Text};
use crate::method::Method;
use bytes::Bytes;

/// Parses `1*DIGIT` as a u32 (no overflow past 2^32-1).
fn digits_u32(b: &[u8]) -> Result<u32, HeaderProblem> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return Err(HeaderProblem::Number);
    }
    let mut n: u64 = 0;
    for &c in b {
        n = n * 10 + u64::from(c - b'0');
        if n > u64::from(u32::MAX) {
            return Err(HeaderProblem::Overflow);
        }
    }
    Ok(n as u32)
}

/// CSeq = 1*DIGIT LWS Method, on bytes.
fn cseq(b: &[u8]) -> Result<(u32, Method), HeaderProblem> {
    let digits_end = b
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(b.len());
    let seq = digits_u32(&b[..digits_end])?;
    let mut i = digits_end;
    let ws_start = i;
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    let m_start = i;
    while i < b.len() && is_token_char(b[i]) {
        i += 1;
    }
    if i == ws_start || m_start == ws_start || i == m_start {
        return Err(HeaderProblem::Token);
    }
    if i != b.len() {
        return Err(HeaderProblem::TrailingCharacters);
    }
    Ok((seq, Method::from_token(&b[m_start..])))
}

impl Message {
    /// Indexes a message and parses the transaction-critical headers: the
    /// top Via, CSeq, Call-ID, From and To (their tags), Max-Forwards. Fails
    /// if one of Via, From, To, Call-ID or CSeq is missing or malformed, or
    /// if a request's CSeq method differs from its method.
    pub fn parse(buf: impl Into<Bytes>, opts: &ParseOptions) -> Result<Message, Error> {
        let mut msg = Message::index(buf, opts)?;
        msg.parse_critical()?;
        Ok(msg)
    }

    /// Parses the transaction-critical headers of an indexed message.
    pub fn parse_critical(&mut self) -> Result<(), Error> {
        let mut c = Critical::default();
        let mut seen_from = false;
        let mut seen_to = false;
        for h in &self.headers {
            let bad = |p| Error::header(h.name, p);
            match h.name {
                HeaderName::Via if c.top_via.is_none() => {
                    let (value, branch) = self.top_via_of(h)?;
                    c.top_via = Some(value);
                    c.branch = branch;
                }
                HeaderName::CSeq => {
                    if c.cseq.is_some() {
                        return Err(Error::DuplicateHeader { header: h.name });
                    }
                    c.cseq = Some(cseq(self.text(h.value)).map_err(bad)?);
                }
                HeaderName::CallId => {
                    if c.call_id.is_some() {
                        return Err(Error::DuplicateHeader { header: h.name });
                    }
                    call_id::check(self.text(h.value)).map_err(bad)?;
                    c.call_id = Some(h.value);
                }
                HeaderName::From | HeaderName::To => {
                    let seen = if h.name == HeaderName::From {
                        &mut seen_from
                    } else {
                        &mut seen_to
                    };
                    if *seen {
                        return Err(Error::DuplicateHeader { header: h.name });
                    }
                    *seen = true;
                    let tag = self.tag_of(h)?;
                    if h.name == HeaderName::From {
                        c.from_tag = tag;
                    } else {
                        c.to_tag = tag;
                    }
                }
                HeaderName::MaxForwards => {
                    if c.max_forwards.is_some() {
                        return Err(Error::DuplicateHeader { header: h.name });
                    }
                    let n = digits_u32(self.text(h.value)).map_err(bad)?;
                    c.max_forwards =
                        Some(u8::try_from(n).map_err(|_| bad(HeaderProblem::Overflow))?);
                }
                _ => {}
            }
        }
        for (present, header) in [
            (c.top_via.is_some(), HeaderName::Via),
            (seen_from, HeaderName::From),
            (seen_to, HeaderName::To),
            (c.call_id.is_some(), HeaderName::CallId),
            (c.cseq.is_some(), HeaderName::CSeq),
        ] {
            if !present {
                return Err(Error::MissingHeader { header });
            }
        }
        if let (StartLine::Request { method, .. }, Some((_, cseq_method))) = (&self.start, &c.cseq)
        {
            if method != cseq_method {
                return Err(Error::CseqMethodMismatch {
                    unknown_method: matches!(method, Method::Extension(_)),
                });
            }
        }
        self.critical = c;
        Ok(())
    }

    /// Scans the first value of a Via header; returns its text and branch.
    pub(crate) fn top_via_of(&self, h: &HeaderEntry) -> Result<(Text, Option<Text>), Error> {
        let b = self.text(h.value);
        let v = via::scan(b, via::Depth::Locate).map_err(|p| Error::header(HeaderName::Via, p))?;
        let mut first_len = v.end;
        while first_len > 0 && is_ws(b[first_len - 1]) {
            first_len -= 1;
        }
        Ok((
            h.value.sub(0, first_len),
            v.branch.map(|r| h.value.sub(r.start, r.end)),
        ))
    }

    /// Finds the tag of a From or To header without typing its URI (that
    /// waits for [`Message::validate`] or [`Message::from`]): skips the
    /// display name and the address, then reads the header parameters.
    fn tag_of(&self, h: &HeaderEntry) -> Result<Option<Text>, Error> {
        let bad = |p| Error::header(h.name, p);
        let b = self.text(h.value);
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    if i >= b.len() {
                        return Err(bad(HeaderProblem::UnterminatedQuote));
                    }
                }
                b'<' => match memchr::memchr(b'>', &b[i..]) {
                    Some(j) => i += j,
                    None => return Err(bad(HeaderProblem::UnbalancedAngleBrackets)),
                },
                b';' => break,
                _ => {}
            }
            i += 1;
        }
        // Header parameters: *( SEMI generic-param ).
        let mut tag = None;
        let skip_ws = |i: &mut usize| {
            while *i < b.len() && is_ws(b[*i]) {
                *i += 1;
            }
        };
        while i < b.len() {
            skip_ws(&mut i);
            if i >= b.len() {
                break;
            }
            if b[i] != b';' {
                return Err(bad(HeaderProblem::TrailingCharacters));
            }
            i += 1;
            skip_ws(&mut i);
            let name_start = i;
            while i < b.len() && is_token_char(b[i]) {
                i += 1;
            }
            if i == name_start {
                return Err(bad(HeaderProblem::Parameter));
            }
            let name = &b[name_start..i];
            skip_ws(&mut i);
            if i < b.len() && b[i] == b'=' {
                i += 1;
                skip_ws(&mut i);
                let v_start = i;
                if i < b.len() && b[i] == b'"' {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    if i >= b.len() {
                        return Err(bad(HeaderProblem::UnterminatedQuote));
                    }
                    i += 1;
                } else {
                    while i < b.len() && (is_token_char(b[i]) || matches!(b[i], b':' | b'[' | b']'))
                    {
                        i += 1;
                    }
                }
                if i == v_start {
                    return Err(bad(HeaderProblem::Parameter));
                }
                if name.eq_ignore_ascii_case(b"tag") {
                    if !b[v_start..i].iter().all(|&c| is_token_char(c)) {
                        return Err(bad(HeaderProblem::Parameter));
                    }
                    tag = Some(h.value.sub(v_start, i));
                }
            } else if name.eq_ignore_ascii_case(b"tag") {
                return Err(bad(HeaderProblem::Parameter));
            }
        }
        Ok(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_bytes() {
        assert_eq!(cseq(b"4711 INVITE"), Ok((4711, Method::Invite)));
        assert_eq!(cseq(b"1  ACK"), Ok((1, Method::Ack)));
        assert_eq!(
            cseq(b"36893488147419103232 REGISTER"),
            Err(HeaderProblem::Overflow)
        );
        assert_eq!(cseq(b"1INVITE"), Err(HeaderProblem::Token));
        assert_eq!(cseq(b"1 INVITE x"), Err(HeaderProblem::TrailingCharacters));
        assert_eq!(cseq(b"-1 INVITE"), Err(HeaderProblem::Number));
    }
}
