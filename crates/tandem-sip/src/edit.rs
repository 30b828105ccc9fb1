//! The in-place edits a proxy makes when it forwards a message (RFC 3261
//! §16.6, §16.7; RFC 3581 §4): push and pop Via, pop Route, decrement
//! Max-Forwards, add Record-Route, rewrite the Request-URI, fill in
//! `received` and `rport`. Each edit touches only the index: new text goes
//! into an owned segment, the rest of the message stays in the shared
//! buffer and is not parsed again.

use crate::error::Error;
use crate::header_name::HeaderName;
use crate::headers::via::{first_value_end, Via};
use crate::message::{HeaderEntry, Message, StartLine, Text};
use crate::uri::Uri;
use bytes::Bytes;
use std::fmt::Write as _;
use std::net::IpAddr;

impl Message {
    fn own(&mut self, bytes: Bytes) -> Text {
        let t = Text {
            src: self.extra.len() as u32,
            start: 0,
            end: bytes.len() as u32,
        };
        self.extra.push(bytes);
        t
    }

    fn new_entry(&mut self, name: HeaderName, value: &str) -> HeaderEntry {
        let raw_name = self.own(Bytes::from_static(name.as_str().as_bytes()));
        let value = self.own(Bytes::copy_from_slice(value.as_bytes()));
        HeaderEntry {
            name,
            raw_name,
            value,
        }
    }

    fn first_index(&self, name: HeaderName) -> Option<usize> {
        self.headers.iter().position(|h| h.name == name)
    }

    /// Re-reads the top Via into the eagerly parsed fields after an edit.
    fn refresh_top_via(&mut self) {
        let top = self
            .first_index(HeaderName::Via)
            .and_then(|i| self.top_via_of(&self.headers[i]).ok());
        (self.critical.top_via, self.critical.branch) = match top {
            Some((v, b)) => (Some(v), b),
            None => (None, None),
        };
    }

    /// Removes the first element of the first `name` header; drops the
    /// header line when it held only that element.
    fn pop_first_element(&mut self, name: HeaderName) -> bool {
        let Some(i) = self.first_index(name) else {
            return false;
        };
        let h = self.headers[i];
        let next = self.value_str(&h).ok().and_then(first_value_end);
        match next {
            Some(off) => self.headers[i].value = h.value.sub(off, h.value.len()),
            None => {
                self.headers.remove(i);
            }
        }
        self.edited = true;
        true
    }

    /// Adds a Via value on top (RFC 3261 §16.6 step 8). `value` is a whole
    /// via-parm such as `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK...`.
    pub fn push_via(&mut self, value: &str) -> Result<(), Error> {
        Via::parse(value).map_err(|p| Error::header(HeaderName::Via, p))?;
        let entry = self.new_entry(HeaderName::Via, value);
        let at = self.first_index(HeaderName::Via).unwrap_or(0);
        self.headers.insert(at, entry);
        self.edited = true;
        self.refresh_top_via();
        Ok(())
    }

    /// Removes the top Via value (a proxy forwarding a response, RFC 3261
    /// §16.7 step 3). Returns whether there was one.
    pub fn pop_via(&mut self) -> bool {
        let popped = self.pop_first_element(HeaderName::Via);
        self.refresh_top_via();
        popped
    }

    /// Removes the top Route value (RFC 3261 §16.4). Returns whether there was one.
    pub fn pop_route(&mut self) -> bool {
        self.pop_first_element(HeaderName::Route)
    }

    /// Decrements Max-Forwards, adding `Max-Forwards: 70` first if the
    /// request has none (RFC 3261 §16.6 step 3). Returns the new value, or
    /// `None` if it was already 0: the proxy must then answer 483.
    pub fn decrement_max_forwards(&mut self) -> Option<u8> {
        let current = match self.critical.max_forwards {
            Some(v) => v,
            None => match self.header_str(HeaderName::MaxForwards) {
                Some(s) => crate::headers::numeric::max_forwards(s).ok()?,
                None => 71,
            },
        };
        let next = current.checked_sub(1)?;
        let value = self.own(Bytes::from(next.to_string()));
        match self.first_index(HeaderName::MaxForwards) {
            Some(i) => self.headers[i].value = value,
            None => {
                let raw_name = self.own(Bytes::from_static(b"Max-Forwards"));
                self.headers.push(HeaderEntry {
                    name: HeaderName::MaxForwards,
                    raw_name,
                    value,
                });
            }
        }
        self.critical.max_forwards = Some(next);
        self.edited = true;
        Some(next)
    }

    /// Adds a Record-Route value above the existing ones (RFC 3261 §16.6
    /// step 4). `value` is a name-addr such as `<sip:192.0.2.1;lr>`.
    pub fn add_record_route(&mut self, value: &str) {
        let entry = self.new_entry(HeaderName::RecordRoute, value);
        let at = self
            .first_index(HeaderName::RecordRoute)
            .unwrap_or_else(|| self.new_header_position());
        self.headers.insert(at, entry);
        self.edited = true;
    }

    /// Where a header new to the message goes: before the Content-*
    /// headers that conventionally close the header section.
    fn new_header_position(&self) -> usize {
        self.headers
            .iter()
            .position(|h| matches!(h.name, HeaderName::ContentLength | HeaderName::ContentType))
            .unwrap_or(self.headers.len())
    }

    /// Adds a header value above the existing ones of the same name (Route,
    /// Path: order matters), or at the end if there are none.
    pub fn prepend_header(&mut self, name: HeaderName, value: &str) {
        let entry = self.new_entry(name, value);
        let at = self
            .first_index(name)
            .unwrap_or_else(|| self.new_header_position());
        self.headers.insert(at, entry);
        self.edited = true;
    }

    /// Appends a header field after all others.
    pub fn append_header(&mut self, name: HeaderName, value: &str) {
        let entry = self.new_entry(name, value);
        let at = self.new_header_position();
        self.headers.insert(at, entry);
        self.edited = true;
    }

    /// Appends a header field with a name tandem does not know.
    pub fn append_other_header(&mut self, raw_name: &str, value: &str) {
        let name = self.own(Bytes::copy_from_slice(raw_name.as_bytes()));
        let value = self.own(Bytes::copy_from_slice(value.as_bytes()));
        self.headers.push(HeaderEntry {
            name: HeaderName::from_bytes(raw_name.as_bytes()),
            raw_name: name,
            value,
        });
        self.edited = true;
    }

    /// Removes every `name` header; returns how many lines were removed.
    pub fn remove_headers(&mut self, name: HeaderName) -> usize {
        let before = self.headers.len();
        self.headers.retain(|h| h.name != name);
        let removed = before - self.headers.len();
        if removed > 0 {
            self.edited = true;
            if name == HeaderName::Via {
                self.refresh_top_via();
            }
        }
        removed
    }

    /// Replaces the Request-URI (RFC 3261 §16.6 step 2, §16.4 strict routing).
    pub fn set_request_uri(&mut self, uri: &str) -> Result<(), Error> {
        Uri::parse(uri).map_err(|problem| Error::RequestUri { problem })?;
        let text = self.own(Bytes::copy_from_slice(uri.as_bytes()));
        match &mut self.start {
            StartLine::Request { uri, .. } => *uri = text,
            StartLine::Response { .. } => return Ok(()),
        }
        self.edited = true;
        Ok(())
    }

    /// Records where a request really came from in its top Via: adds
    /// `received` when the source differs from the sent-by host (RFC 3261
    /// §18.2.1) or `rport` was requested, and fills in `rport` (RFC 3581 §4).
    pub fn set_via_received(&mut self, source: IpAddr, source_port: u16) -> Result<(), Error> {
        let Some(i) = self.first_index(HeaderName::Via) else {
            return Err(Error::MissingHeader {
                header: HeaderName::Via,
            });
        };
        let h = self.headers[i];
        let all = self.value_str(&h)?;
        let first_end = first_value_end(all);
        let first = match first_end {
            Some(next) => all[..next].trim_end_matches([',', ' ', '\t']),
            None => all,
        };
        let via = Via::parse(first).map_err(|p| Error::header(HeaderName::Via, p))?;
        let wants_rport = via.rport().is_some();
        let needs_received = wants_rport || via.host.ip() != Some(source);
        if !needs_received {
            return Ok(());
        }
        let params_at = first.len() - via.params.as_str().len();
        let mut new = String::with_capacity(first.len() + 40);
        new.push_str(first[..params_at].trim_end());
        for (name, value) in via.params.iter() {
            if name.eq_ignore_ascii_case("received") {
                continue;
            }
            if name.eq_ignore_ascii_case("rport") {
                let _ = write!(new, ";rport={source_port}");
                continue;
            }
            new.push(';');
            new.push_str(name);
            if let Some(v) = value {
                new.push('=');
                new.push_str(v);
            }
        }
        let _ = write!(new, ";received={source}");
        let entry = self.new_entry(HeaderName::Via, &new);
        match first_end {
            Some(off) => {
                self.headers[i].value = h.value.sub(off, h.value.len());
                self.headers.insert(i, entry);
            }
            None => self.headers[i].value = entry.value,
        }
        self.edited = true;
        self.refresh_top_via();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{HeaderName, Message, ParseOptions};

    const REQ: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: abc\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 4\r\n\r\nbody";

    fn parse(b: &[u8]) -> Message {
        Message::parse(b.to_vec(), &ParseOptions::default()).unwrap()
    }

    #[test]
    fn proxy_edits_round_trip() {
        let mut m = parse(REQ);
        m.set_via_received("192.0.2.9".parse().unwrap(), 6000)
            .unwrap();
        assert_eq!(
            m.top_via().unwrap().received(),
            Some("192.0.2.9".parse().unwrap())
        );
        assert_eq!(m.top_via().unwrap().rport(), Some(Some(6000)));
        assert!(m.pop_route());
        assert_eq!(m.decrement_max_forwards(), Some(69));
        m.add_record_route("<sip:proxy.example.com;lr>");
        m.set_request_uri("sip:bob@192.0.2.20:5070").unwrap();
        m.push_via("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy")
            .unwrap();
        assert_eq!(m.branch(), Some("z9hG4bKproxy"));

        let out = m.to_bytes();
        let again = parse(&out);
        assert_eq!(again.request_uri_str(), Some("sip:bob@192.0.2.20:5070"));
        assert_eq!(again.branch(), Some("z9hG4bKproxy"));
        assert_eq!(again.max_forwards(), Some(69));
        assert_eq!(again.routes().count(), 1);
        assert_eq!(again.vias().count(), 3);
        assert_eq!(again.record_routes().count(), 1);
        assert_eq!(again.body(), b"body");
        let vias: Vec<_> = again
            .vias()
            .map(|v| v.unwrap().branch().unwrap().to_owned())
            .collect();
        assert_eq!(vias, ["z9hG4bKproxy", "z9hG4bKa", "z9hG4bKb"]);
        again.validate().unwrap();
    }

    #[test]
    fn pop_via_from_multi_value_header() {
        let mut m = parse(REQ);
        assert!(m.pop_via());
        assert_eq!(m.branch(), Some("z9hG4bKb"));
        assert!(m.pop_via());
        assert_eq!(m.branch(), None);
        assert!(!m.pop_via());
    }

    #[test]
    fn max_forwards_zero_and_missing() {
        let mut m = parse(&REQ.to_vec().replace_mf(b"Max-Forwards: 0"));
        assert_eq!(m.decrement_max_forwards(), None);
        let mut m = parse(&REQ.to_vec().replace_mf(b"X-Nothing: 0"));
        assert_eq!(m.decrement_max_forwards(), Some(70));
        assert_eq!(
            parse(&m.to_bytes()).header_str(HeaderName::MaxForwards),
            Some("70")
        );
    }

    trait ReplaceMf {
        fn replace_mf(self, with: &[u8]) -> Vec<u8>;
    }
    impl ReplaceMf for Vec<u8> {
        fn replace_mf(self, with: &[u8]) -> Vec<u8> {
            let s = String::from_utf8(self).unwrap();
            s.replace("Max-Forwards: 70", std::str::from_utf8(with).unwrap())
                .into_bytes()
        }
    }
}
