//! Every timer's schedule (RFC 3261 §17, table 4; RFC 6026 Timers L, M).

use crate::harness::*;
use std::time::Duration;
use tandem_transaction::{Config, Event, TransportKind};

fn offsets(v: &[Duration]) -> Vec<f64> {
    v.iter()
        .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
        .collect()
}

#[test]
fn timer_a_doubles_until_timer_b() {
    let mut h = Harness::udp();
    h.lose = Box::new(|from_a, _, _| from_a); // nothing reaches B
    let invite = request("INVITE", TransportKind::Udp);
    let flow = h.a.flow_to_peer;
    let now = h.now;
    h.a.layer.send_request(now, invite, flow).unwrap();
    h.run(secs(40.0), |_| {});
    assert_eq!(
        offsets(&h.sent(true, "INVITE")),
        [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    );
    let timeouts: Vec<_> =
        h.a.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Timeout { .. }))
            .map(|(t, _)| *t)
            .collect();
    assert_eq!(timeouts, [secs(32.0)]);
    assert!(h.a.layer.is_empty());
}

#[test]
fn timer_e_doubles_to_t2_until_timer_f() {
    let mut h = Harness::udp();
    h.lose = Box::new(|from_a, _, _| from_a);
    let opt = request("OPTIONS", TransportKind::Udp);
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer.send_request(now, opt, flow).unwrap();
    h.run(secs(40.0), |_| {});
    assert_eq!(
        offsets(&h.sent(true, "OPTIONS")),
        [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert_eq!(h.a.layer.stats().timeouts, 1);
}

#[test]
fn reliable_transports_do_not_retransmit_but_still_time_out() {
    let mut h = Harness::new(TransportKind::Tcp, Config::default(), Config::default());
    h.lose = Box::new(|from_a, _, _| from_a);
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("INVITE", TransportKind::Tcp), flow)
        .unwrap();
    h.a.layer
        .send_request(now, request("OPTIONS", TransportKind::Tcp), flow)
        .unwrap();
    h.run(secs(40.0), |_| {});
    assert_eq!(h.sent(true, "INVITE").len(), 1);
    assert_eq!(h.sent(true, "OPTIONS").len(), 1);
    let timeouts =
        h.a.events
            .iter()
            .filter(|(t, e)| matches!(e, Event::Timeout { .. }) && *t == secs(32.0))
            .count();
    assert_eq!(timeouts, 2);
}

#[test]
fn timer_g_retransmits_final_until_timer_h() {
    let mut h = Harness::udp();
    // B's final response never arrives, so A never ACKs; A's INVITE
    // retransmissions are lost too, so that only Timer G resends the 486.
    h.lose = Box::new(|from_a, line, seen| {
        (!from_a && line.starts_with("SIP/2.0 486"))
            || (from_a && line.starts_with("INVITE") && seen > 0)
    });
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
                    .respond_with(now, tx, 486, Some("b1"), |m| m)
                    .unwrap();
                answered = true;
            }
        }
    });
    let sent: Vec<f64> = offsets(&h.sent(false, "SIP/2.0 486"));
    // First send at 0.01 s (after the network delay), then T1, 2T1, 4T1, T2, T2...
    let gaps: Vec<f64> = sent
        .windows(2)
        .map(|w| ((w[1] - w[0]) * 1000.0).round() / 1000.0)
        .collect();
    assert_eq!(&gaps[..4], [0.5, 1.0, 2.0, 4.0]);
    assert!(gaps[4..].iter().all(|g| *g == 4.0));
    let ack_timeouts: Vec<_> =
        h.b.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::AckTimeout { .. }))
            .map(|(t, _)| *t)
            .collect();
    assert_eq!(ack_timeouts.len(), 1);
    assert!((ack_timeouts[0].as_secs_f64() - 32.01).abs() < 1e-6);
}

#[test]
fn wait_timers_d_i_j_k_l_m() {
    // D (client INVITE, Completed) and I (server INVITE, Confirmed).
    let mut h = Harness::udp();
    let (now, flow) = (h.now, h.a.flow_to_peer);
    let a_tx =
        h.a.layer
            .send_request(now, request("INVITE", TransportKind::Udp), flow)
            .unwrap();
    let mut b_tx = None;
    h.run(secs(1.0), |h| {
        if b_tx.is_none() {
            if let Some((tx, _)) = requests(&h.b).first().cloned() {
                let now = h.now;
                h.b.layer
                    .respond_with(now, tx, 603, Some("b"), |m| m)
                    .unwrap();
                b_tx = Some(tx);
            }
        }
    });
    assert_eq!(
        h.a.layer.client_invite_state(a_tx),
        Some(tandem_transaction::ClientInviteState::Completed)
    );
    assert_eq!(
        h.b.layer.server_invite_state(b_tx.unwrap()),
        Some(tandem_transaction::ServerInviteState::Confirmed)
    );
    h.run(secs(5.5), |_| {});
    assert_eq!(
        h.b.layer.server_invite_state(b_tx.unwrap()),
        None,
        "Timer I is T4"
    );
    assert!(h.a.layer.client_invite_state(a_tx).is_some());
    h.run(secs(33.0), |_| {});
    assert_eq!(h.a.layer.client_invite_state(a_tx), None, "Timer D is 32 s");

    // K (client non-INVITE) and J (server non-INVITE).
    let mut h = Harness::udp();
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("OPTIONS", TransportKind::Udp), flow)
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
    assert_eq!((h.a.layer.len(), h.b.layer.len()), (1, 1));
    h.run(secs(5.1), |_| {});
    assert_eq!((h.a.layer.len(), h.b.layer.len()), (0, 1), "Timer K is T4");
    h.run(secs(33.0), |_| {});
    assert_eq!(h.b.layer.len(), 0, "Timer J is 64*T1");

    // L (server Accepted) and M (client Accepted).
    let mut h = Harness::udp();
    let (now, flow) = (h.now, h.a.flow_to_peer);
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
    assert_eq!((h.a.layer.len(), h.b.layer.len()), (1, 1));
    h.run(secs(31.9), |_| {});
    assert_eq!((h.a.layer.len(), h.b.layer.len()), (1, 1));
    h.run(secs(32.1), |_| {});
    assert_eq!(
        (h.a.layer.len(), h.b.layer.len()),
        (0, 0),
        "Timers L and M are 64*T1"
    );
}

#[test]
fn trying_after_200_ms_unless_the_tu_answers() {
    // A slow TU: 100 Trying at 200 ms.
    let mut h = Harness::udp();
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("INVITE", TransportKind::Udp), flow)
        .unwrap();
    h.run(secs(1.0), |_| {});
    assert_eq!(offsets(&h.sent(false, "SIP/2.0 100")), [0.21]);
    assert_eq!(responses(&h.a), [100]);
    // The INVITE is not retransmitted once 100 arrived (Timer A stops).
    assert_eq!(h.sent(true, "INVITE").len(), 1);

    // A fast TU: no 100.
    let mut h = Harness::udp();
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("INVITE", TransportKind::Udp), flow)
        .unwrap();
    let mut done = false;
    h.run(secs(1.0), |h| {
        if !done {
            if let Some((tx, _)) = requests(&h.b).first().cloned() {
                let now = h.now;
                h.b.layer
                    .respond_with(now, tx, 180, Some("b"), |m| m)
                    .unwrap();
                done = true;
            }
        }
    });
    assert!(h.sent(false, "SIP/2.0 100").is_empty());

    // A proxy: 100 at once.
    let proxy = Config {
        trying_delay: Duration::ZERO,
        ..Config::default()
    };
    let mut h = Harness::new(TransportKind::Udp, Config::default(), proxy);
    let (now, flow) = (h.now, h.a.flow_to_peer);
    h.a.layer
        .send_request(now, request("INVITE", TransportKind::Udp), flow)
        .unwrap();
    h.run(secs(1.0), |_| {});
    assert_eq!(offsets(&h.sent(false, "SIP/2.0 100")), [0.01]);
}
