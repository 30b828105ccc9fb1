//! Raw messages on the wire: malformed input gets the status the message
//! layer names (RFC 4475 §3.1.2) or is dropped when no answer can be built;
//! requests tandem cannot serve yet get a correct final response, never
//! silence.

use crate::node;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;
use tandem_sip::{Message, ParseOptions};
use tandem_test_support::{golden, ports};

struct Client {
    socket: UdpSocket,
    target: String,
}

impl Client {
    fn new(port: u16) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        Client {
            socket,
            target: format!("127.0.0.1:{port}"),
        }
    }

    /// Sends `bytes`; returns the first final response to it, if any
    /// arrives (retransmitted answers to earlier requests are skipped by
    /// Call-ID).
    fn ask(&self, bytes: &[u8]) -> Option<Message> {
        let call_id = Message::index(bytes.to_vec(), &ParseOptions::default())
            .ok()
            .and_then(|m| {
                m.header_str(tandem_sip::HeaderName::CallId)
                    .map(str::to_owned)
            });
        self.socket.send_to(bytes, &self.target).unwrap();
        let mut buf = vec![0u8; 65_536];
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((n, _)) => {
                    // Answers to malformed requests copy their (malformed)
                    // Via back: parse if possible, else only index.
                    let raw = buf[..n].to_vec();
                    let m = Message::parse(raw.clone(), &ParseOptions::default())
                        .or_else(|_| Message::index(raw, &ParseOptions::default()))
                        .expect("tandem sends framed SIP");
                    if m.status() == Some(100) {
                        continue;
                    }
                    if call_id.is_some()
                        && m.header_str(tandem_sip::HeaderName::CallId) != call_id.as_deref()
                    {
                        continue;
                    }
                    return Some(m);
                }
                Err(_) => return None,
            }
        }
    }
}

fn request(method: &str, uri: &str, n: u32) -> Vec<u8> {
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKwire{n}\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=w{n}\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: wire-{n}@127.0.0.1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn torture_messages_get_the_rfc_status_over_udp() {
    let port = ports::free_port();
    let tandem = node::start(&["--listen", &format!("udp:127.0.0.1:{port}")]);
    let client = Client::new(port);
    let mut failures = vec![];
    for g in golden::all() {
        let reply = client.ask(&g.bytes);
        match (g.is_valid(), g.is_response(), &reply) {
            (_, true, None) => {}
            (_, true, Some(r)) => failures.push(format!(
                "{}: a response was answered with {:?}",
                g.name,
                r.status()
            )),
            (false, false, Some(r)) if Some(r.status().unwrap()) == g.expect.status => {}
            (false, false, other) => failures.push(format!(
                "{}: expected {:?}, got {:?}",
                g.name,
                g.expect.status,
                other.as_ref().and_then(|m| m.status())
            )),
            // Valid requests: some final answer, never silence (what it is
            // depends on the method; OPTIONS to us is 200).
            (true, false, Some(_)) => {}
            (true, false, None) => {
                // tandem answers the source (sip.force_rport): silence is a bug.
                failures.push(format!("{}: valid request got no answer", g.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n--- tandem output:\n{}",
        failures.join("\n"),
        tandem.output()
    );
}

#[test]
fn requests_it_cannot_serve_yet_get_a_final_response() {
    let port = ports::free_port();
    let _tandem = node::start(&["--listen", &format!("udp:127.0.0.1:{port}")]);
    let client = Client::new(port);
    let uri = format!("sip:127.0.0.1:{port}");
    let ok = client
        .ask(&request("OPTIONS", &uri, 1))
        .expect("OPTIONS answered");
    assert_eq!(ok.status(), Some(200));
    assert!(ok
        .header_str(tandem_sip::HeaderName::Allow)
        .unwrap()
        .contains("INVITE"));
    assert!(ok.to_tag().is_some());
    for (i, method) in ["INVITE", "REGISTER", "SUBSCRIBE", "FOO"]
        .iter()
        .enumerate()
    {
        let r = client
            .ask(&request(method, &uri, 10 + i as u32))
            .unwrap_or_else(|| panic!("{method} got no answer"));
        assert!(r.status().unwrap() >= 400, "{method}: {:?}", r.status());
    }
    // An in-dialog request for a dialog tandem never record-routed.
    let bye = String::from_utf8(request("BYE", &uri, 20))
        .unwrap()
        .replace(
            "To: <sip:b@127.0.0.1>",
            "To: <sip:b@127.0.0.1>;tag=nodialog",
        );
    let bye = client.ask(bye.as_bytes()).expect("BYE answered");
    assert_eq!(bye.status(), Some(481));
    // A CANCEL for nothing: 481 (RFC 3261 §9.2).
    let cancel = client
        .ask(&request("CANCEL", &uri, 21))
        .expect("CANCEL answered");
    assert_eq!(cancel.status(), Some(481));
}

#[test]
fn oversize_message_on_tcp_gets_513_and_the_connection_closes() {
    let port = ports::free_port();
    let tandem = node::start(&["--listen", &format!("tcp:127.0.0.1:{port}")]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let head = "INVITE sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKbig\r\nMax-Forwards: 70\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: big\r\nCSeq: 1 INVITE\r\nContent-Length: 100000\r\n\r\n";
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("SIP/2.0 513"),
        "got {text:?}\n{}",
        tandem.output()
    );
}

#[test]
fn tcp_keepalive_ping_gets_a_pong() {
    let port = ports::free_port();
    let _tandem = node::start(&["--listen", &format!("tcp:127.0.0.1:{port}")]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 2];
    s.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");
}

#[test]
fn ipv6_listener_answers_and_fills_in_rport() {
    let probe = std::net::UdpSocket::bind("[::1]:0");
    if probe.is_err() {
        eprintln!("skipping: no IPv6 loopback here");
        return;
    }
    let port = ports::free_port();
    let _tandem = node::start(&["--listen", &format!("udp:[::1]:{port}")]);
    let socket = UdpSocket::bind("[::1]:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let msg = format!(
        "OPTIONS sip:[::1]:{port} SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:9;branch=z9hG4bKv6;rport\r\nMax-Forwards: 70\r\nFrom: <sip:a@[::1]>;tag=6\r\nTo: <sip:[::1]>\r\nCall-ID: v6\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    socket
        .send_to(msg.as_bytes(), format!("[::1]:{port}"))
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).expect("answer over IPv6");
    let m = Message::parse(buf[..n].to_vec(), &ParseOptions::default()).unwrap();
    assert_eq!(m.status(), Some(200));
    let via = m.top_via().unwrap();
    assert_eq!(via.rport(), Some(Some(socket.local_addr().unwrap().port())));
    assert_eq!(via.received(), Some("::1".parse().unwrap()));
}
