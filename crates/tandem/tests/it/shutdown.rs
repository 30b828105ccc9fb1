//! Graceful shutdown: on SIGTERM tandem stops accepting, refuses new
//! requests with 503, lets live transactions finish up to the grace period,
//! then exits.

use crate::node::{self, TempDir};
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use tandem_sip::{Message, ParseOptions};
use tandem_test_support::ports;
use tandem_test_support::process::Signal;

fn invite(n: u32) -> Vec<u8> {
    format!(
        "INVITE sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKshut{n}\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=s{n}\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: shut-{n}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The first final status for call `n` (retransmissions of answers to
/// other calls are skipped).
fn final_status(socket: &UdpSocket, n: u32) -> Option<u16> {
    let mut buf = vec![0u8; 65_536];
    let call_id = format!("shut-{n}");
    while let Ok((len, _)) = socket.recv_from(&mut buf) {
        let m = Message::parse(buf[..len].to_vec(), &ParseOptions::default()).ok()?;
        if m.status() != Some(100) && m.call_id() == Some(call_id.as_str()) {
            return m.status();
        }
    }
    None
}

#[test]
fn sigterm_drains_then_exits_within_the_grace_period() {
    let dir = TempDir::new("shutdown");
    let port = ports::free_port();
    let config = dir.0.join("tandem.toml");
    std::fs::write(
        &config,
        format!("[node]\nshutdown_grace_secs = 3\n\n[sip]\nlisten = [\"udp:127.0.0.1:{port}\"]\n"),
    )
    .unwrap();
    let mut tandem = node::start(&["--config", config.to_str().unwrap()]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    let target = format!("127.0.0.1:{port}");

    // A live transaction: an INVITE answered with a final non-2xx (407:
    // there are no credentials) that we never ACK keeps its server
    // transaction waiting (Timer H, 32 s).
    socket.send_to(&invite(1), &target).unwrap();
    assert!(final_status(&socket, 1).is_some_and(|s| s >= 400));

    let stopped_at = Instant::now();
    tandem.signal(Signal::SIGTERM);
    tandem.wait_for_line("stopping", Duration::from_secs(5));
    // New requests during the drain: 503 with Retry-After.
    socket.send_to(&invite(2), &target).unwrap();
    assert_eq!(final_status(&socket, 2), Some(503));

    let status = tandem
        .wait_exit(Duration::from_secs(10))
        .expect("tandem exits after the grace period");
    assert!(status.success());
    let took = stopped_at.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "exited before the grace period: {took:?}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(tandem.output().contains("transactions still live"));
}
