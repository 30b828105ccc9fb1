//! The failover scenario: the VIP is added and announced on node A, then
//! withdrawn from A and taken over by node B; the client's neighbour entry
//! must follow each announcement (timings printed, `--nocapture` shows
//! them) and its traffic must reach the current holder.

use std::net::{IpAddr, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tandem_vip::{FloatingIp, Outcome};

use crate::lab::{Host, Lab};

/// A MAC no lab host has: the entry clients keep from an earlier holder.
const EARLIER_HOLDER_MAC: &str = "02:18:00:00:00:99";
const PROBE_PORT: u16 = 40_100;
/// The bound the takeover must meet (gratuitous ARP measured 51–88 ms by
/// hand with arping; without it 28.9 s).
const MOVE_BUDGET: Duration = Duration::from_millis(200);

/// When the client's neighbour entry was seen to change, relative to the
/// start of `announce()`: after `not_before` (last poll that still saw the
/// old entry began) and by `seen_by` (the poll that saw it had returned).
#[derive(Debug, Clone, Copy)]
struct Observed {
    not_before: Duration,
    seen_by: Duration,
}

/// Which lab nodes the kernel says hold the VIP.
fn holders(lab: &Lab, vip: &FloatingIp) -> Vec<Host> {
    [Host::A, Host::B]
        .into_iter()
        .filter(|&host| {
            lab.block_in(host, || vip.is_present())
                .unwrap_or_else(|e| panic!("is_present on {host:?}: {e}"))
        })
        .collect()
}

/// Announces from `host` while another thread polls the client's neighbour
/// table until it shows `host`'s MAC.
fn announce_and_watch(lab: &Lab, host: Host, vip: &FloatingIp) -> Observed {
    let address = vip.address.to_string();
    let want = host.mac();
    let (start_tx, start_rx) = mpsc::channel::<Instant>();
    thread::scope(|scope| {
        let address = &address;
        let watcher = scope.spawn(move || {
            let t0 = start_rx.recv().expect("announcer started");
            let mut poll_started = t0;
            loop {
                let previous_poll = poll_started;
                poll_started = Instant::now();
                let seen = lab.client_neighbour(address);
                let returned = Instant::now();
                if seen.as_deref() == Some(want) {
                    return Ok(Observed {
                        not_before: previous_poll.saturating_duration_since(t0),
                        seen_by: returned - t0,
                    });
                }
                if returned - t0 > Duration::from_secs(3) {
                    return Err(seen);
                }
                thread::sleep(Duration::from_millis(1));
            }
        });
        lab.block_in(host, || async {
            start_tx.send(Instant::now()).expect("watcher alive");
            vip.announce().await
        })
        .unwrap_or_else(|e| panic!("announce on {host:?}: {e}"));
        watcher.join().expect("watcher panicked").unwrap_or_else(|seen| {
            panic!("client's entry for {address} still {seen:?} 3 s after {host:?} ({want}) announced")
        })
    })
}

/// Sends a UDP datagram from the client to the VIP and returns the name of
/// the host that answered (a responder bound to the VIP runs on `holder`).
fn udp_probe(lab: &Lab, holder: Host, vip: IpAddr) -> String {
    let (ready_tx, ready_rx) = mpsc::channel();
    thread::scope(|scope| {
        let responder = scope.spawn(|| {
            lab.in_ns(holder, || {
                let sock = UdpSocket::bind((vip, PROBE_PORT)).expect("bind the VIP on its holder");
                sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                ready_tx.send(()).unwrap();
                let mut buf = [0u8; 64];
                let (_, from) = sock
                    .recv_from(&mut buf)
                    .unwrap_or_else(|e| panic!("probe did not reach {holder:?}: {e}"));
                sock.send_to(format!("{holder:?}").as_bytes(), from).unwrap();
            })
        });
        ready_rx.recv().expect("responder bound");
        let answer = lab.in_ns(Host::Client, || {
            let any: IpAddr = if vip.is_ipv4() { "0.0.0.0" } else { "::" }.parse().unwrap();
            let sock = UdpSocket::bind((any, 0)).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            sock.send_to(b"who holds the VIP?", (vip, PROBE_PORT)).unwrap();
            let mut buf = [0u8; 64];
            let (n, _) = sock
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("no answer from the VIP {vip}: {e}"));
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        responder.join().expect("responder panicked");
        answer
    })
}

fn addr_shown(lab: &Lab, host: Host, vip: &FloatingIp) -> bool {
    let family = if vip.address.is_ipv4() { "-4" } else { "-6" };
    let want = format!(" {}/{} ", vip.address, vip.prefix_len);
    lab.ip(host, &[family, "addr", "show", "dev", "eth0"]).contains(&want)
}

fn takeover(vip: FloatingIp) {
    let lab = Lab::new();
    let address = vip.address.to_string();
    lab.ip(
        Host::Client,
        &["neigh", "replace", &address, "lladdr", EARLIER_HOLDER_MAC, "dev", "eth0", "nud", "stale"],
    );

    // Node A takes the VIP; a second add is a no-op.
    let (first, second, present) = lab.block_in(Host::A, || async {
        (vip.add().await, vip.add().await, vip.is_present().await)
    });
    assert_eq!(first.expect("add on A"), Outcome::Changed);
    assert_eq!(second.expect("second add on A"), Outcome::Unchanged);
    assert!(present.expect("is_present on A"), "kernel of A does not list {vip}");
    assert!(addr_shown(&lab, Host::A, &vip), "`ip addr` on A does not show {vip}");
    assert_eq!(holders(&lab, &vip), [Host::A]);

    let to_a = announce_and_watch(&lab, Host::A, &vip);
    assert_eq!(lab.client_neighbour(&address).as_deref(), Some(Host::A.mac()));
    assert_eq!(udp_probe(&lab, Host::A, vip.address), "A");

    // Failover, within a second of the client's last exchange with A: its
    // entry is fresh, so only a gratuitous ARP / Override NA may replace it
    // (Linux honours plain ARP only after `locktime`).
    let t_move = Instant::now();
    assert_eq!(lab.block_in(Host::A, || vip.remove()).expect("remove on A"), Outcome::Changed);
    assert_eq!(lab.block_in(Host::A, || vip.remove()).expect("second remove on A"), Outcome::Unchanged);
    assert!(!addr_shown(&lab, Host::A, &vip), "`ip addr` on A still shows {vip}");
    assert_eq!(lab.block_in(Host::B, || vip.add()).expect("add on B"), Outcome::Changed);
    let handover = t_move.elapsed();
    assert_eq!(holders(&lab, &vip), [Host::B]);
    assert!(addr_shown(&lab, Host::B, &vip), "`ip addr` on B does not show {vip}");

    let to_b = announce_and_watch(&lab, Host::B, &vip);
    assert!(
        to_b.seen_by <= MOVE_BUDGET,
        "client followed the VIP to B only after {:?} (budget {MOVE_BUDGET:?})",
        to_b.seen_by
    );
    assert_eq!(udp_probe(&lab, Host::B, vip.address), "B");
    let ping = if vip.address.is_ipv4() { "ping" } else { "ping6" };
    let ping_ok = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.ns(Host::Client), ping, "-c", "1", "-W", "1", &address])
        .status()
        .expect("spawn ping")
        .success();
    assert!(ping_ok, "client cannot ping {address} after the move");

    eprintln!(
        "{vip}: client neighbour entry -> A after {:?}..{:?}; remove(A)+add(B) took {handover:?}; \
         -> B after {:?}..{:?} from the start of announce()",
        to_a.not_before, to_a.seen_by, to_b.not_before, to_b.seen_by
    );
}

#[test]
fn ipv4_vip_moves_between_nodes_with_gratuitous_arp() {
    takeover(FloatingIp::new("eth0", "198.18.0.100".parse().unwrap(), 24).unwrap());
}

#[test]
fn ipv6_vip_moves_between_nodes_with_unsolicited_na() {
    takeover(FloatingIp::new("eth0", "2001:db8:18::100".parse().unwrap(), 64).unwrap());
}
