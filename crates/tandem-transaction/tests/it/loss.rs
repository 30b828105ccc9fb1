//! Loss of each message in each flow, and retransmission absorption: the
//! transactions recover every loss the RFC says they must.

use crate::harness::*;
use tandem_transaction::{Event, TransportKind};

/// INVITE / 180 / 486 / ACK with the message `lost_line` lost once.
fn invite_rejected_losing(lost: &'static str) -> Harness {
    let mut h = Harness::udp();
    h.lose = Box::new(move |_, line, seen| line.starts_with(lost) && seen == 0);
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("INVITE", TransportKind::Udp), flow)
        .unwrap();
    let mut answered = false;
    h.run(secs(40.0), |h| {
        if !answered {
            if let Some((tx, _)) = requests(&h.b).first().cloned() {
                let now = h.now;
                h.b.layer
                    .respond_with(now, tx, 180, Some("b"), |m| m)
                    .unwrap();
                h.b.layer
                    .respond_with(now, tx, 486, Some("b"), |m| m)
                    .unwrap();
                answered = true;
            }
        }
    });
    h
}

#[test]
fn lost_invite_is_retransmitted() {
    let h = invite_rejected_losing("INVITE");
    assert_eq!(h.sent(true, "INVITE").len(), 2);
    assert_eq!(requests(&h.b).len(), 1);
    assert_eq!(responses(&h.a), [180, 486]);
}

#[test]
fn lost_provisional_is_harmless() {
    let h = invite_rejected_losing("SIP/2.0 180");
    assert_eq!(responses(&h.a), [486]);
    assert_eq!(h.sent(true, "ACK").len(), 1);
}

#[test]
fn lost_final_is_retransmitted_by_timer_g() {
    let h = invite_rejected_losing("SIP/2.0 486");
    assert_eq!(h.sent(false, "SIP/2.0 486").len(), 2);
    assert_eq!(responses(&h.a), [180, 486]);
    assert_eq!(h.sent(true, "ACK").len(), 1);
    assert!(h
        .b
        .events
        .iter()
        .all(|(_, e)| !matches!(e, Event::AckTimeout { .. })));
}

#[test]
fn lost_ack_is_resent_when_the_final_comes_again() {
    let h = invite_rejected_losing("ACK");
    // The server retransmits the 486; the client answers each copy with its ACK.
    assert_eq!(h.sent(false, "SIP/2.0 486").len(), 2);
    assert_eq!(h.sent(true, "ACK").len(), 2);
    assert_eq!(responses(&h.a), [180, 486], "the TU sees the final once");
    assert!(h
        .b
        .events
        .iter()
        .all(|(_, e)| !matches!(e, Event::AckTimeout { .. })));
}

#[test]
fn lost_2xx_is_resent_by_the_tu_and_invite_retransmissions_are_absorbed() {
    let mut h = Harness::udp();
    h.lose = Box::new(|from_a, line, seen| !from_a && line.starts_with("SIP/2.0 200") && seen == 0);
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("INVITE", TransportKind::Udp), flow)
        .unwrap();
    let mut tx = None;
    let mut resent = false;
    h.run(secs(5.0), |h| {
        let now = h.now;
        match tx {
            None => {
                if let Some((t, _)) = requests(&h.b).first().cloned() {
                    h.b.layer
                        .respond_with(now, t, 200, Some("b"), |m| m)
                        .unwrap();
                    tx = Some(t);
                }
            }
            Some(t) if !resent && h.elapsed() >= secs(0.5) => {
                // The UAS core retransmits its 2xx (RFC 3261 §13.3.1.4); the
                // transaction in Accepted lets it through.
                h.b.layer
                    .respond_with(now, t, 200, Some("b"), |m| m)
                    .unwrap();
                resent = true;
            }
            _ => {}
        }
    });
    assert_eq!(requests(&h.b).len(), 1, "retransmitted INVITEs absorbed");
    assert!(h.sent(true, "INVITE").len() >= 2);
    assert_eq!(responses(&h.a), [200]);
    // A 3xx after the 2xx is refused.
    let now = h.now;
    assert!(h
        .b
        .layer
        .respond_with(now, tx.unwrap(), 486, None, |m| m)
        .is_err());
}

#[test]
fn non_invite_losses() {
    // Request lost once: Timer E resends it.
    let mut h = Harness::udp();
    h.lose = Box::new(|from_a, _, seen| from_a && seen == 0);
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("OPTIONS", TransportKind::Udp), flow)
        .unwrap();
    let mut done = false;
    h.run(secs(10.0), |h| {
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
    assert_eq!(responses(&h.a), [200]);

    // Response lost once: the request's retransmission draws it again.
    let mut h = Harness::udp();
    h.lose = Box::new(|from_a, _, seen| !from_a && seen == 0);
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("OPTIONS", TransportKind::Udp), flow)
        .unwrap();
    let mut done = false;
    h.run(secs(10.0), |h| {
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
    assert_eq!(responses(&h.a), [200]);
    assert_eq!(requests(&h.b).len(), 1);
    assert_eq!(h.b.layer.stats().retransmissions_absorbed, 1);
    assert_eq!(h.sent(false, "SIP/2.0 200").len(), 2);
}
