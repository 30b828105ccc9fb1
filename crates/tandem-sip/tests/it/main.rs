#![allow(unreachable_pub)]
//! Integration tests of the message layer: golden files, round trips,
//! property tests.

mod golden;
mod properties;
mod roundtrip;

use tandem_sip::{Error, Message, ParseOptions};

/// Parses and fully validates a message, as tandem does at its edge.
pub fn check(bytes: &[u8]) -> Result<Message, Error> {
    let msg = Message::parse(bytes.to_vec(), &ParseOptions::default())?;
    msg.validate()?;
    Ok(msg)
}

/// Asserts that two messages have the same start line, headers and body.
pub fn assert_same(a: &Message, b: &Message) {
    assert_eq!(a.method(), b.method());
    assert_eq!(a.request_uri_str(), b.request_uri_str());
    assert_eq!(a.status(), b.status());
    assert_eq!(a.reason(), b.reason());
    let ha: Vec<_> = a
        .headers()
        .map(|h| (h.name, h.raw_name.to_vec(), h.value.to_vec()))
        .collect();
    let hb: Vec<_> = b
        .headers()
        .map(|h| (h.name, h.raw_name.to_vec(), h.value.to_vec()))
        .collect();
    assert_eq!(ha, hb);
    assert_eq!(a.body(), b.body());
    assert_eq!(a.call_id(), b.call_id());
    assert_eq!(a.branch(), b.branch());
    assert_eq!(a.cseq(), b.cseq());
}
