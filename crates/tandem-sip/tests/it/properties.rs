//! Property tests: generated well-formed messages parse, print and parse
//! again to the same index; arbitrary bytes never panic the parser.

use crate::{assert_same, check};
use proptest::prelude::*;
use tandem_sip::{framing, Message, ParseOptions};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]([a-z0-9-]{0,7}[a-z0-9])?(\\.[a-z][a-z0-9]{0,8}){0,3}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("INVITE".to_string()),
        Just("REGISTER".to_string()),
        Just("OPTIONS".to_string()),
        Just("BYE".to_string()),
        "[A-Z]{3,10}",
    ]
}

prop_compose! {
    fn request()(
        method in method(),
        user in "[a-z0-9]{1,10}",
        host in host(),
        port in proptest::option::of(1u16..),
        branch in token(),
        tag in token(),
        call_id in "[a-zA-Z0-9.-]{1,30}(@[a-z0-9.]{1,20})?",
        seq in 0u32..,
        mf in 0u8..,
        ws in prop_oneof![Just(""), Just(" "), Just("  "), Just("\t")],
        compact in any::<bool>(),
        extra in proptest::collection::vec(("X-[A-Za-z]{1,10}", "[ -~]{0,40}"), 0..5),
        body in "[ -~]{0,200}",
    ) -> Vec<u8> {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let (v, f, t, i) = if compact { ("v", "f", "t", "i") } else { ("Via", "From", "To", "Call-ID") };
        let mut s = format!(
            "{method} sip:{user}@{host}{port} SIP/2.0\r\n\
{v}{ws}:{ws}SIP/2.0/UDP {host}{port};branch=z9hG4bK{branch};rport\r\n\
{f}:{ws}\"A B\" <sip:{user}@{host}>{ws};{ws}tag={tag}\r\n\
{t}: <sip:{user}@{host}{port}>\r\n\
{i}: {call_id}\r\n\
CSeq: {seq} {method}\r\n\
Max-Forwards: {mf}\r\n"
        );
        for (name, value) in extra {
            s.push_str(&format!("{name}: {}\r\n", value.trim()));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.into_bytes()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_requests_round_trip(req in request()) {
        let m = check(&req).map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&req))))?;
        assert_same(&m, &check(&m.to_bytes()).unwrap());
        assert_same(&m, &check(&m.rebuild()).unwrap());
        // Framing finds exactly this message in a stream.
        let mut stream = req.clone();
        stream.extend_from_slice(b"\r\n\r\n");
        prop_assert_eq!(
            framing::check(&stream, &Default::default()).unwrap(),
            framing::Frame::Message { len: req.len() }
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = Message::parse(bytes.clone(), &ParseOptions::default()) {
            let _ = m.validate();
            let _ = Message::parse(m.rebuild(), &ParseOptions::default());
            let _ = m.contacts().count();
            let _ = m.routes().count();
        }
        let _ = framing::check(&bytes, &Default::default());
    }

    #[test]
    fn mutated_requests_never_panic(req in request(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut req = req;
        let i = at.index(req.len());
        req[i] = byte;
        if let Ok(m) = Message::parse(req, &ParseOptions::default()) {
            let _ = m.validate();
            if let Ok(again) = Message::parse(m.rebuild(), &ParseOptions::default()) {
                let _ = again.validate();
            }
        }
    }
}
