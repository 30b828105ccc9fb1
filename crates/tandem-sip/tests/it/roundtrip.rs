//! Round trips of the sample messages through parse, edit and print.

use crate::{assert_same, check};
use tandem_sip::HeaderName;
use tandem_test_support::samples;

#[test]
fn samples_round_trip() {
    for s in [samples::INVITE, samples::REGISTER, samples::OK_200] {
        let m = check(s).unwrap();
        assert_eq!(&m.to_bytes()[..], s);
        assert_same(&m, &check(&m.rebuild()).unwrap());
    }
}

#[test]
fn register_typed_views() {
    let m = check(samples::REGISTER).unwrap();
    let auth = m
        .auth_headers(HeaderName::Authorization)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(auth.param("username").as_deref(), Some("1000"));
    assert_eq!(auth.param("nc").as_deref(), Some("00000001"));
    assert_eq!(m.expires().unwrap().unwrap(), 3600);
    assert!(m.has_token(HeaderName::Supported, "OUTBOUND"));
    let c = m.contacts().next().unwrap().unwrap();
    let uri = *c.address().unwrap().uri.as_sip().unwrap();
    assert_eq!(uri.transport(), Some("udp"));
}

#[test]
fn proxy_forwarding_a_response_pops_its_via() {
    let mut m = check(samples::OK_200).unwrap();
    assert!(m.pop_via());
    let out = check(&m.to_bytes()).unwrap();
    assert_eq!(out.branch(), Some("z9hG4bK-524287-1---7c9a6e1f3b2d4a58"));
    assert_eq!(out.vias().count(), 1);
}
