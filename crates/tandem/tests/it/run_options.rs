//! `tandem run --listen ...` answers OPTIONS over UDP and TCP, driven by
//! SIPp (bounded in count and time).

use crate::node;
use std::time::Duration;
use tandem_test_support::{ports, sipp};

#[test]
fn sipp_options_over_udp_and_tcp() {
    let port = ports::free_port();
    let udp = format!("udp:127.0.0.1:{port}");
    let tcp = format!("tcp:127.0.0.1:{port}");
    let _tandem = node::start(&["--listen", &udp, "--listen", &tcp]);
    let target = format!("127.0.0.1:{port}");
    let scenario = sipp::scenario("options.xml");

    let r = sipp::run(
        &scenario,
        &target,
        &["-m", "500", "-r", "250", "-recv_timeout", "5000"],
        Duration::from_secs(30),
    );
    assert_eq!((r.successful, r.failed), (500, 0), "UDP: {}", r.output);
    assert_eq!(
        r.retransmissions, 0,
        "UDP needed retransmissions: {}",
        r.output
    );

    let r = sipp::run(
        &scenario,
        &target,
        &[
            "-t",
            "t1",
            "-m",
            "500",
            "-r",
            "250",
            "-recv_timeout",
            "5000",
        ],
        Duration::from_secs(30),
    );
    assert_eq!((r.successful, r.failed), (500, 0), "TCP: {}", r.output);
}

#[test]
fn bad_listen_address_is_refused_with_a_clear_message() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["run", "--listen", "udp:127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--listen #1") && err.contains("udp:127.0.0.1"),
        "{err}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no listen address"));
}
