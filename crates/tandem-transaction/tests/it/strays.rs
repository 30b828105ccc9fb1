//! Stray ACKs and responses, overload, and TU errors.

use crate::harness::*;
use bytes::Bytes;
use tandem_sip::{Message, ParseOptions};
use tandem_transaction::{Config, Error, Event, TransportKind, TxId};

fn parse(s: &str) -> Message {
    Message::parse(
        Bytes::from(s.replace('\n', "\r\n")),
        &ParseOptions::default(),
    )
    .unwrap()
}

#[test]
fn stray_ack_and_response_go_to_the_tu() {
    let mut h = Harness::udp();
    let now = h.now;
    let flow = h.b.flow_to_peer;
    h.b.layer.handle_message(now, parse("ACK sip:b@h SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnew\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: c\nCSeq: 1 ACK\n\n"), flow);
    h.b.layer.handle_message(now, parse("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKnotours\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: c\nCSeq: 1 INVITE\n\n"), flow);
    let mut kinds = vec![];
    while let Some(e) = h.b.layer.poll_event() {
        kinds.push(match e {
            Event::Ack { .. } => "ack",
            Event::StrayResponse { .. } => "stray",
            _ => "other",
        });
    }
    assert_eq!(kinds, ["ack", "stray"]);
    assert!(
        h.b.layer.poll_transmit().is_none(),
        "strays are never answered by the layer"
    );
    assert_eq!(h.b.layer.stats().stray_acks, 1);
    assert_eq!(h.b.layer.stats().stray_responses, 1);
}

#[test]
fn overload_is_answered_503_with_retry_after() {
    let small = Config {
        transactions_max: 2,
        ..Config::default()
    };
    let mut h = Harness::new(TransportKind::Udp, Config::default(), small);
    let (now, flow) = (h.now, h.a.flow_to_peer);
    for _ in 0..3 {
        h.a.layer
            .send_request(now, request("OPTIONS", TransportKind::Udp), flow)
            .unwrap();
    }
    h.run(secs(0.1), |_| {});
    assert_eq!(requests(&h.b).len(), 2);
    assert_eq!(responses(&h.a), [503]);
    assert_eq!(h.b.layer.stats().overload_rejections, 1);
}

#[test]
fn tu_errors() {
    let mut h = Harness::udp();
    let now = h.now;
    let flow = h.a.flow_to_peer;
    assert!(matches!(
        h.a.layer.respond(now, TxId(99), 200, Bytes::new()),
        Err(Error::NoSuchTransaction { .. })
    ));
    let ack = request("ACK", TransportKind::Udp);
    assert_eq!(
        h.a.layer.send_request(now, ack, flow),
        Err(Error::AckIsNotATransaction)
    );
    let opt = request("OPTIONS", TransportKind::Udp);
    let tx = h.a.layer.send_request(now, opt.clone(), flow).unwrap();
    assert_eq!(
        h.a.layer.send_request(now, opt, flow),
        Err(Error::DuplicateBranch)
    );
    assert!(matches!(
        h.a.layer.cancel(now, tx),
        Err(Error::NotAnInvite { .. })
    ));
}

#[test]
fn transport_error_ends_the_client_transaction() {
    let mut h = Harness::new(TransportKind::Tcp, Config::default(), Config::default());
    let (now, flow) = (h.now, h.a.flow_to_peer);
    let tx =
        h.a.layer
            .send_request(now, request("INVITE", TransportKind::Tcp), flow)
            .unwrap();
    h.a.layer.transport_error(tx);
    let events: Vec<_> = std::iter::from_fn(|| h.a.layer.poll_event()).collect();
    assert!(matches!(events[0], Event::TransportError { .. }));
    assert!(h.a.layer.is_empty());
}
