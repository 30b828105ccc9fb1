//! CANCEL (RFC 3261 §9): matching on the server, the races on the client.

use crate::harness::*;
use tandem_transaction::{Event, TransportKind};

#[test]
fn cancel_matches_its_invite_on_the_server() {
    let mut h = Harness::udp();
    let (now, flow) = (h.now, h.a.flow_to_peer);
    let invite_tx =
        h.a.layer
            .send_request(now, request("INVITE", TransportKind::Udp), flow)
            .unwrap();
    let mut state = 0;
    h.run(secs(40.0), |h| {
        let now = h.now;
        let reqs = requests(&h.b);
        if state == 0 && !reqs.is_empty() {
            h.b.layer
                .respond_with(now, reqs[0].0, 180, Some("b"), |m| m)
                .unwrap();
            state = 1;
        }
        if state == 1 && responses(&h.a).contains(&180) {
            h.a.layer.cancel(now, invite_tx).unwrap();
            state = 2;
        }
        if state == 2 {
            let cancel = h.b.events.iter().find_map(|(_, e)| match e {
                Event::Request {
                    tx,
                    request,
                    cancels,
                    ..
                } if request.method().unwrap().as_str() == "CANCEL" => Some((*tx, *cancels)),
                _ => None,
            });
            if let Some((cancel_tx, cancels)) = cancel {
                assert_eq!(cancels, Some(reqs[0].0));
                h.b.layer
                    .respond_with(now, cancel_tx, 200, Some("b"), |m| m)
                    .unwrap();
                h.b.layer
                    .respond_with(now, reqs[0].0, 487, Some("b"), |m| m)
                    .unwrap();
                state = 3;
            }
        }
    });
    assert_eq!(state, 3);
    assert_eq!(responses(&h.a), [180, 200, 487]);
    assert_eq!(
        h.sent(true, "ACK").len(),
        1,
        "the 487 is acknowledged hop by hop"
    );
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut h = Harness::udp();
    // Hold back B's TU for 1 s and disable its automatic 100 (a proxy-less UAS that is slow).
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.lose = Box::new(|from_a, line, _| !from_a && line.starts_with("SIP/2.0 100"));
    let invite_tx =
        h.a.layer
            .send_request(now, request("INVITE", TransportKind::Udp), flow)
            .unwrap();
    h.a.layer.cancel(now, invite_tx).unwrap();
    let mut ringing = false;
    h.run(secs(3.0), |h| {
        if !ringing && h.elapsed() >= secs(1.0) {
            let reqs = requests(&h.b);
            let now = h.now;
            h.b.layer
                .respond_with(now, reqs[0].0, 180, Some("b"), |m| m)
                .unwrap();
            ringing = true;
        }
    });
    let cancels = h.sent(true, "CANCEL");
    assert!(!cancels.is_empty(), "sent once the 180 arrived");
    assert!(cancels[0] >= secs(1.0), "not before: {cancels:?}");
}

#[test]
fn cancel_after_2xx_sends_nothing() {
    let mut h = Harness::udp();
    let (now, flow) = (h.now, h.a.flow_to_peer);
    let invite_tx =
        h.a.layer
            .send_request(now, request("INVITE", TransportKind::Udp), flow)
            .unwrap();
    let mut done = false;
    h.run(secs(1.0), |h| {
        if !done {
            if let Some((tx, _)) = requests(&h.b).first().cloned() {
                let now = h.now;
                h.b.layer
                    .respond_with(now, tx, 200, Some("b"), |m| m)
                    .unwrap();
                done = true;
            }
        }
    });
    let now = h.now;
    h.a.layer.cancel(now, invite_tx).unwrap();
    h.run(secs(2.0), |_| {});
    assert!(h.sent(true, "CANCEL").is_empty());
}

#[test]
fn cancel_without_invite_is_reported_unmatched() {
    let mut h = Harness::udp();
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("CANCEL", TransportKind::Udp), flow)
        .unwrap();
    h.run(secs(0.1), |_| {});
    let cancels: Vec<_> =
        h.b.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Request { cancels, .. } => Some(*cancels),
                _ => None,
            })
            .collect();
    assert_eq!(cancels, [None]);
}
