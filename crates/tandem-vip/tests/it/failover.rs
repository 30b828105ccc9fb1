//! The failover scenario: the VIP is added and announced on node A, then
//! withdrawn from A and taken over by node B; the client's neighbour entry
//! must follow each announcement (timings printed, `--nocapture` shows
//! them) and its traffic must reach the current holder.

use std::net::IpAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tandem_vip::{FloatingIp, Outcome};

use crate::lab::{Host, Lab};

/// A MAC no lab host has: the entry clients keep from an earlier holder.
const EARLIER_HOLDER_MAC: &str = "02:18:00:00:00:99";
/// The bound the takeover must meet (gratuitous ARP measured 51–88 ms by
/// hand with arping; without it 28.9 s).
const MOVE_BUDGET: Duration = Duration::from_millis(200);

/// When the client's neighbour entry was seen to change, relative to the
/// start of `announce()`: after `not_before` (the last dump that still saw
/// the old entry began) and by `seen_by` (the dump that saw it returned).
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

/// The link-layer address the calling thread's namespace has for `address`
/// (`RTM_GETNEIGH` dump; a dump takes well under a millisecond, where
/// spawning `ip neigh` takes a few, so timings are measured this way and the
/// result is then confirmed with `ip -n client neigh`).
async fn neighbour_mac(handle: &rtnetlink::Handle, address: IpAddr) -> Option<String> {
    use futures_util::TryStreamExt;
    use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute};
    let mut dump = handle.neighbours().get().execute();
    while let Some(msg) = dump.try_next().await.expect("neighbour dump") {
        let destination = msg.attributes.iter().find_map(|a| match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
            _ => None,
        });
        if destination != Some(address) {
            continue;
        }
        return msg.attributes.iter().find_map(|a| match a {
            NeighbourAttribute::LinkLayerAddress(mac) => Some(
                mac.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
            ),
            _ => None,
        });
    }
    None
}

/// Announces from `host` while a thread in the client's namespace dumps its
/// neighbour table until the VIP's entry shows `host`'s MAC.
fn announce_and_watch(lab: &Lab, host: Host, vip: &FloatingIp) -> Observed {
    let want = host.mac();
    let (start_tx, start_rx) = mpsc::channel::<Instant>();
    let (watching_tx, watching_rx) = mpsc::channel::<()>();
    let observed = thread::scope(|scope| {
        let watcher = scope.spawn(move || {
            lab.block_in(Host::Client, || async move {
                let (connection, handle, _) = rtnetlink::new_connection().expect("netlink socket");
                tokio::spawn(connection);
                watching_tx.send(()).expect("announcer waiting");
                let t0 = start_rx.recv().expect("announcer started");
                let mut dump_started = t0;
                loop {
                    let previous = dump_started;
                    dump_started = Instant::now();
                    let seen = neighbour_mac(&handle, vip.address).await;
                    let returned = Instant::now();
                    if seen.as_deref() == Some(want) {
                        return Ok(Observed {
                            not_before: previous.saturating_duration_since(t0),
                            seen_by: returned - t0,
                        });
                    }
                    if returned - t0 > Duration::from_secs(3) {
                        return Err(seen);
                    }
                    // Yield the core briefly; the announcer shares it.
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            })
        });
        watching_rx.recv().expect("watcher ready");
        lab.block_in(host, || async {
            start_tx.send(Instant::now()).expect("watcher alive");
            vip.announce().await
        })
        .unwrap_or_else(|e| panic!("announce on {host:?}: {e}"));
        watcher
            .join()
            .expect("watcher panicked")
            .unwrap_or_else(|seen| {
                panic!(
                    "client's entry for {} still {seen:?} 3 s after {host:?} ({want}) announced",
                    vip.address
                )
            })
    });
    // The same fact as `ip` shows it.
    assert_eq!(
        lab.client_neighbour(&vip.address.to_string()).as_deref(),
        Some(want),
        "`ip -n client neigh` disagrees"
    );
    observed
}

fn addr_shown(lab: &Lab, host: Host, vip: &FloatingIp) -> bool {
    let family = if vip.address.is_ipv4() { "-4" } else { "-6" };
    let want = format!(" {}/{} ", vip.address, vip.prefix_len);
    lab.ip(host, &[family, "addr", "show", "dev", "eth0"])
        .contains(&want)
}

fn takeover(vip: FloatingIp) {
    let lab = Lab::new();
    let address = vip.address.to_string();
    lab.ip(
        Host::Client,
        &[
            "neigh",
            "replace",
            &address,
            "lladdr",
            EARLIER_HOLDER_MAC,
            "dev",
            "eth0",
            "nud",
            "stale",
        ],
    );

    // Node A takes the VIP; a second add is a no-op.
    let (first, second, present) = lab.block_in(Host::A, || async {
        (vip.add().await, vip.add().await, vip.is_present().await)
    });
    assert_eq!(first.expect("add on A"), Outcome::Changed);
    assert_eq!(second.expect("second add on A"), Outcome::Unchanged);
    assert!(
        present.expect("is_present on A"),
        "kernel of A does not list {vip}"
    );
    assert!(
        addr_shown(&lab, Host::A, &vip),
        "`ip addr` on A does not show {vip}"
    );
    assert_eq!(holders(&lab, &vip), [Host::A]);

    let to_a = announce_and_watch(&lab, Host::A, &vip);
    assert_eq!(lab.udp_probe(Host::A, vip.address), "A");

    // Failover, within a second of the client's last exchange with A: its
    // entry is fresh, so only a gratuitous ARP / Override NA may replace it
    // (Linux honours plain ARP only after `locktime`).
    let t_move = Instant::now();
    assert_eq!(
        lab.block_in(Host::A, || vip.remove()).expect("remove on A"),
        Outcome::Changed
    );
    assert_eq!(
        lab.block_in(Host::A, || vip.remove())
            .expect("second remove on A"),
        Outcome::Unchanged
    );
    assert!(
        !addr_shown(&lab, Host::A, &vip),
        "`ip addr` on A still shows {vip}"
    );
    assert_eq!(
        lab.block_in(Host::B, || vip.add()).expect("add on B"),
        Outcome::Changed
    );
    let handover = t_move.elapsed();
    assert_eq!(holders(&lab, &vip), [Host::B]);
    assert!(
        addr_shown(&lab, Host::B, &vip),
        "`ip addr` on B does not show {vip}"
    );
    // Control: moving the address alone does not move the client.
    assert_eq!(
        lab.client_neighbour(&address).as_deref(),
        Some(Host::A.mac()),
        "the client's entry moved before B announced"
    );

    let to_b = announce_and_watch(&lab, Host::B, &vip);
    assert!(
        to_b.seen_by <= MOVE_BUDGET,
        "client followed the VIP to B only after {:?} (budget {MOVE_BUDGET:?})",
        to_b.seen_by
    );
    assert_eq!(lab.udp_probe(Host::B, vip.address), "B");

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
