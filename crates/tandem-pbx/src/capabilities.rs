//! What tandem says about itself: the Allow, Supported and Accept values of
//! OPTIONS answers and 405/501 responses (RFC 3261 §11.2, §20.5), and the
//! stateless answer to OPTIONS addressed to the node (RFC 3261 §11; a
//! keep-alive probe from phones, trunks and load balancers).

use bytes::Bytes;
use std::hash::{DefaultHasher, Hash, Hasher};
use tandem_sip::builder::MessageBuilder;
use tandem_sip::{HeaderName, Message};

/// Methods tandem answers.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";
/// Extensions tandem supports.
pub const SUPPORTED: &str = "path, outbound";
/// Bodies tandem accepts.
pub const ACCEPT: &str = "application/sdp";

/// A To tag for a stateless answer: derived from the request, so that a
/// retransmitted request gets the same tag (RFC 3261 §8.2.6.2 asks that the
/// tag be unique; §16.11 lets stateless elements derive it).
pub fn stateless_to_tag(request: &Message) -> String {
    let mut h = DefaultHasher::new();
    request.call_id().hash(&mut h);
    request.from_tag().hash(&mut h);
    request.branch().hash(&mut h);
    request.cseq().map(|(n, _)| n).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The 200 OK to an OPTIONS addressed to the node.
pub fn options_ok(request: &Message, server: &str) -> Bytes {
    let tag = stateless_to_tag(request);
    MessageBuilder::response(request, 200, None, Some(&tag))
        .header(HeaderName::Allow, ALLOW)
        .header(HeaderName::Supported, SUPPORTED)
        .header(HeaderName::Accept, ACCEPT)
        .header(HeaderName::Server, server)
        .build()
}

/// A To tag for the answer to a message too malformed to parse: derived
/// from its bytes, so a retransmission gets the same tag.
pub fn stateless_to_tag_raw(raw: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    raw.hash(&mut h);
    format!("{:016x}", h.finish())
}
