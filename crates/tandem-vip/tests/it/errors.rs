//! Failure paths against the real kernel: errors name the operation, the
//! interface and the address, and say which capability is missing; the
//! guard entry points withdraw whatever holds the address.

use std::net::IpAddr;

use tandem_vip::{
    guard_release, guard_release_all, Capability, Error, FloatingIp, Operation, Outcome,
};

use crate::lab::{Host, Lab};

const VIP: &str = "198.18.0.100";

fn vip_on(interface: &str) -> FloatingIp {
    FloatingIp::new(interface, VIP.parse::<IpAddr>().unwrap(), 24).unwrap()
}

fn assert_names_target(err: &Error, interface: &str) {
    let text = err.to_string();
    assert!(text.contains(interface) && text.contains(VIP), "{text}");
}

#[test]
fn missing_interface_and_unheld_address() {
    let lab = Lab::new();
    let ghost = vip_on("nosuch0");
    let vip = vip_on("eth0");
    lab.block_in(Host::A, || async {
        let err = ghost.add().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InterfaceNotFound {
                    op: Operation::Add,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_names_target(&err, "nosuch0");
        let err = ghost.is_present().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InterfaceNotFound {
                    op: Operation::Query,
                    ..
                }
            ),
            "{err:?}"
        );
        // Nothing can be held on a missing interface: removing succeeds.
        assert_eq!(ghost.remove().await.unwrap(), Outcome::Unchanged);

        let err = vip.announce().await.unwrap_err();
        assert!(matches!(err, Error::NotHeld { .. }), "{err:?}");
        assert_names_target(&err, "eth0");
        assert_eq!(vip.remove().await.unwrap(), Outcome::Unchanged);
    });

    // An interface that is down cannot announce (a veth pair inside A,
    // left down; the `dummy` link type may be missing from the kernel).
    lab.ip(
        Host::A,
        &[
            "link", "add", "down0", "type", "veth", "peer", "name", "down1",
        ],
    );
    let on_down = vip_on("down0");
    lab.block_in(Host::A, || async {
        assert_eq!(on_down.add().await.unwrap(), Outcome::Changed);
        let err = on_down.announce().await.unwrap_err();
        assert!(matches!(err, Error::InterfaceDown { .. }), "{err:?}");
        assert_names_target(&err, "down0");
    });
}

#[test]
fn guard_release_withdraws_whatever_prefix() {
    let lab = Lab::new();
    let vip = vip_on("eth0");
    // The guard has no runtime: the blocking API, on a plain thread.
    lab.in_ns(Host::A, || {
        assert_eq!(vip.add_blocking().unwrap(), Outcome::Changed);
        assert!(vip.is_present_blocking().unwrap());
        assert_eq!(guard_release(&vip).unwrap(), Outcome::Changed);
        assert!(!vip.is_present_blocking().unwrap());
        assert_eq!(guard_release(&vip).unwrap(), Outcome::Unchanged);
    });
    // Configured by someone else with another prefix: still withdrawn.
    lab.ip(Host::A, &["addr", "add", "198.18.0.100/32", "dev", "eth0"]);
    let results = lab.in_ns(Host::A, || {
        guard_release_all(&[vip.clone(), vip_on("nosuch0")])
    });
    assert!(
        matches!(results[..], [Ok(Outcome::Changed), Ok(Outcome::Unchanged)]),
        "{results:?}"
    );
    assert!(!lab
        .ip(Host::A, &["-4", "addr", "show", "dev", "eth0"])
        .contains(VIP));
}

#[test]
fn missing_capabilities_are_named() {
    let lab = Lab::new();
    let vip = vip_on("eth0");
    lab.block_in(Host::A, || vip.add()).unwrap();
    lab.in_ns(Host::A, || {
        // Capabilities are per thread: this only affects the lab thread.
        for cap in [caps::Capability::CAP_NET_ADMIN, caps::Capability::CAP_NET_RAW] {
            caps::drop(None, caps::CapSet::Effective, cap).expect("drop capability");
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Reading the kernel's view needs no capability.
            assert!(vip.is_present().await.unwrap());
            for (op, result) in [
                (Operation::Remove, vip.remove().await.map(drop)),
                (Operation::Add, vip_on("lo").add().await.map(drop)),
            ] {
                let err = result.unwrap_err();
                assert!(
                    matches!(&err, Error::PermissionDenied { op: o, capability: Capability::NetAdmin, .. } if *o == op),
                    "{err:?}"
                );
                assert!(err.to_string().contains("CAP_NET_ADMIN"), "{err}");
            }
            let err = vip.announce().await.unwrap_err();
            assert_eq!(err.missing_capability(), Some(Capability::NetRaw), "{err:?}");
            assert!(err.to_string().contains("CAP_NET_RAW"), "{err}");
            assert_names_target(&err, "eth0");
        });
    });
    assert!(
        lab.block_in(Host::A, || vip.is_present()).unwrap(),
        "the refused remove must not have removed"
    );
}
