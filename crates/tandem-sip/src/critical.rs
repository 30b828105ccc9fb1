//! The eager part of parsing: the fields every transaction lookup needs
//! (RFC 3261 §17.1.3, §17.2.3): top Via with its branch, CSeq, Call-ID, the
//! From and To tags, Max-Forwards. Everything else waits until asked for.

use crate::error::{Error, HeaderProblem};
use crate::header_name::HeaderName;
use crate::headers::{call_id, name_addr::NameAddr, numeric, via};
use crate::limits::ParseOptions;
use crate::message::{Critical, HeaderEntry, Message, StartLine, Text};
use crate::method::Method;
use bytes::Bytes;

/// The offset of `inner` within `outer` (both views of the same string).
fn offset_in(outer: &str, inner: &str) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
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
                    let s = self.value_str(h)?;
                    let cseq = numeric::CSeq::parse(s).map_err(|p| Error::header(h.name, p))?;
                    c.cseq = Some((cseq.seq, cseq.method));
                }
                HeaderName::CallId => {
                    if c.call_id.is_some() {
                        return Err(Error::DuplicateHeader { header: h.name });
                    }
                    let s = self.value_str(h)?;
                    call_id::check(s).map_err(|p| Error::header(h.name, p))?;
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
                    let s = self.value_str(h)?;
                    c.max_forwards =
                        Some(numeric::max_forwards(s).map_err(|p| Error::header(h.name, p))?);
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

    /// Parses the first value of a Via header; returns its text and branch.
    pub(crate) fn top_via_of(&self, h: &HeaderEntry) -> Result<(Text, Option<Text>), Error> {
        let s = self.value_str(h)?;
        let first_len = via::first_value_end(s)
            .map(|next| s[..next].trim_end_matches([',', ' ', '\t']).len())
            .unwrap_or(s.len());
        let first = &s[..first_len];
        let v = via::Via::parse(first).map_err(|p| Error::header(HeaderName::Via, p))?;
        let value = h.value.sub(0, first_len);
        let branch = v.branch().map(|b| {
            let off = offset_in(s, b);
            h.value.sub(off, off + b.len())
        });
        Ok((value, branch))
    }

    /// Parses a From or To header and returns the text of its tag.
    fn tag_of(&self, h: &HeaderEntry) -> Result<Option<Text>, Error> {
        let s = self.value_str(h)?;
        let na = NameAddr::parse(s).map_err(|p| Error::header(h.name, p))?;
        match na.params.get("tag") {
            None => Ok(None),
            Some(Some(tag)) if crate::grammar::is_token(tag) => {
                let off = offset_in(s, tag);
                Ok(Some(h.value.sub(off, off + tag.len())))
            }
            Some(_) => Err(Error::header(h.name, HeaderProblem::Parameter)),
        }
    }
}
