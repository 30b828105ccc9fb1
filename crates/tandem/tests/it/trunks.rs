//! Trunks end to end, with SIPp playing the carrier on its own loopback
//! addresses (127.0.0.2, 127.0.0.3) and phones on 127.0.0.1: the trunk
//! registers and answers the carrier's digest challenge, shows in `tandem
//! trunk status`, and de-registers when tandem stops; a call to a national
//! number leaves E.164-normalised on the first trunk and fails over to the
//! second when the first answers 503; a call from the carrier's address
//! reaches the extension its DID names without a challenge; bad rules are
//! refused at start with exit code 2.

use crate::node::{self, wait_for, TempDir};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tandem_test_support::process::Signal;
use tandem_test_support::{ports, sipp};

fn tandem(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap()
}

/// A single node on 127.0.0.1:`port` with extensions 1000..1002 and `extra`.
fn config(dir: &TempDir, port: u16, extra: &str) -> PathBuf {
    let mut toml = format!(
        "[node]\nname = \"pbx1\"\nshutdown_grace_secs = 3\n\n[sip]\nlisten = [\"udp:127.0.0.1:{port}\"]\n\n[pbx]\ndomain = \"127.0.0.1\"\nrealm = \"tandem\"\n\n[storage]\npath = \"state.db\"\n\n[dns]\ntarget_timeout_ms = 2000\n\n{extra}\n"
    );
    for n in 1000..1003 {
        toml.push_str(&format!(
            "[[extensions]]\nnumber = \"{n}\"\npassword = \"pw-{n}\"\noutbound_caller_id = \"+4930{n}\"\n\n"
        ));
    }
    let path = dir.0.join("tandem.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn trunk_status(config: &Path) -> serde_json::Value {
    let out = tandem(config, &["trunk", "status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_trunk_registers_answers_the_challenge_and_leaves_at_shutdown() {
    let dir = TempDir::new("trunk-register");
    let carrier = ports::free_port();
    let port = ports::free_port();
    let cport = carrier.to_string();
    let registrar = sipp::spawn(
        &sipp::scenario("carrier_register.xml"),
        None,
        &[
            "-i",
            "127.0.0.2",
            "-p",
            &cport,
            "-m",
            "1",
            "-recv_timeout",
            "30000",
        ],
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_millis(300));
    let cfg = config(
        &dir,
        port,
        &format!(
            "[[trunks]]\nname = \"carrier\"\nproxy = \"127.0.0.2:{carrier}\"\nregister = true\nusername = \"trunkuser\"\npassword = \"trunkpw\"\nexpires_secs = 60\n"
        ),
    );
    let mut pbx = node::start(&["--config", cfg.to_str().unwrap()]);
    let state = wait_for(Duration::from_secs(10), "trunk registered", || {
        let v = trunk_status(&cfg);
        let t = v["trunks"][0].clone();
        (t["state"] == "registered").then_some(t)
    });
    assert_eq!(state["name"], "carrier");
    assert_eq!(state["last_status"], 200);
    assert_eq!(state["node"], "pbx1");
    assert_eq!(state["epoch"], 0, "a single node leads with epoch 0");
    assert_eq!(state["failures"], 0);
    // The carrier granted 120 s (its Contact's expires), not the 60 asked.
    let expires = state["expires_at_ms"].as_u64().unwrap();
    let updated = state["updated_ms"].as_u64().unwrap();
    assert!(
        (119_000..=121_000).contains(&(expires - updated)),
        "{state}"
    );
    let log = pbx.output();
    assert!(log.contains("trunk registration started"), "{log}");
    // The carrier calls the registered contact (sip:trunkuser@...) from
    // its registrar's address, the DID in To: no allowed_sources needed.
    let target = format!("127.0.0.1:{port}");
    let callee = ports::free_port();
    register_callee(&target, "1001", callee);
    let uas = sipp::spawn(
        &sipp::scenario("uas.xml"),
        None,
        &[
            "-p",
            &callee.to_string(),
            "-m",
            "1",
            "-recv_timeout",
            "15000",
        ],
        Duration::from_secs(30),
    );
    std::thread::sleep(Duration::from_millis(300));
    let from = ports::free_port().to_string();
    let r = sipp::run(
        &sipp::scenario("carrier_uac.xml"),
        &target,
        &[
            "-i",
            "127.0.0.2",
            "-p",
            &from,
            "-s",
            "trunkuser",
            "-key",
            "did",
            "1001",
            "-m",
            "1",
            "-recv_timeout",
            "5000",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        pbx.output()
    );
    assert_eq!(uas.wait().successful, 1);
    // Graceful stop: the binding is removed (Expires: 0, challenged and
    // answered again), which is the rest of the carrier's scenario.
    pbx.signal(Signal::SIGTERM);
    pbx.wait_exit(Duration::from_secs(15)).expect("stopped");
    let r = registrar.wait();
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        pbx.output()
    );
    let v = trunk_status(&cfg);
    assert_eq!(v["trunks"][0]["state"], "stopped", "{v}");
}

#[test]
fn calls_leave_on_the_first_trunk_and_fail_over_to_the_second() {
    let dir = TempDir::new("trunk-outbound");
    let port = ports::free_port();
    let (p1, p2) = (ports::free_port(), ports::free_port());
    let (s1, s2) = (p1.to_string(), p2.to_string());
    // Trunk a answers 503; trunk b takes the call.
    let a = sipp::spawn(
        &sipp::scenario("uas_503.xml"),
        None,
        &[
            "-i",
            "127.0.0.2",
            "-p",
            &s1,
            "-m",
            "1",
            "-recv_timeout",
            "20000",
        ],
        Duration::from_secs(40),
    );
    let b = sipp::spawn(
        &sipp::scenario("carrier_uas.xml"),
        None,
        &[
            "-i",
            "127.0.0.3",
            "-p",
            &s2,
            "-m",
            "1",
            "-recv_timeout",
            "20000",
        ],
        Duration::from_secs(40),
    );
    std::thread::sleep(Duration::from_millis(300));
    let cfg = config(
        &dir,
        port,
        &format!(
            "[[trunks]]\nname = \"a\"\nproxy = \"127.0.0.2:{p1}\"\nallowed_sources = [\"127.0.0.2\"]\n\n\
             [[trunks]]\nname = \"b\"\nproxy = \"127.0.0.3:{p2}\"\nallowed_sources = [\"127.0.0.3\"]\n\n\
             [[outbound_rules]]\nname = \"national\"\npattern = \"^0[1-9][0-9]+$\"\ncountry_code = \"49\"\nnational_prefix = \"0\"\ntrunks = [\"a\", \"b\"]\nblocked = [\"^0900\"]\n"
        ),
    );
    let pbx = node::start(&["--config", cfg.to_str().unwrap()]);
    let target = format!("127.0.0.1:{port}");
    let call = |number: &str| {
        let uac = ports::free_port().to_string();
        let auth_uri = format!("{number}@{target}");
        sipp::call(
            "uac_auth.xml",
            &target,
            &sipp::Caller {
                port: &uac,
                caller: "1000",
                callee: number,
                auth_uri: &auth_uri,
            },
            &["-recv_timeout", "10000", "-m", "1"],
            Duration::from_secs(30),
        )
    };
    let r = call("030123456");
    let ra = a.wait();
    let rb = b.wait();
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}\ntrunk b: {}",
        r.output,
        pbx.output(),
        rb.output
    );
    assert_eq!(ra.successful, 1, "trunk a was tried first and said 503");
    assert_eq!(
        (rb.successful, rb.failed),
        (1, 0),
        "trunk b took it as E.164: {}",
        rb.output
    );
    let log = pbx.output();
    assert!(log.contains("call out on trunks"), "{log}");
    assert!(log.contains("target failed: set aside"), "{log}");
    // A blocked destination is refused (403) and logged.
    let r = call("0900123456");
    assert_eq!((r.successful, r.failed), (0, 1));
    assert!(
        pbx.output()
            .contains("call to a blocked destination refused"),
        "{}",
        pbx.output()
    );
    // The CDR names the number as sent.
    let out = tandem(&cfg, &["cdr", "list", "--format", "jsonl"]);
    let cdrs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        cdrs.iter()
            .any(|c| c["callee"] == "+4930123456" && c["answer_ms"].is_u64()),
        "{cdrs:?}"
    );
}

/// Registers a SIPp callee as `user` from `port`.
fn register_callee(target: &str, user: &str, port: u16) {
    let r = sipp::register(target, user, &format!("pw-{user}"), port);
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "register {user}: {}",
        r.output
    );
}

#[test]
fn a_call_from_the_carrier_reaches_the_extension_of_its_did_unchallenged() {
    let dir = TempDir::new("trunk-inbound");
    let port = ports::free_port();
    let cfg = config(
        &dir,
        port,
        "[[trunks]]\nname = \"carrier\"\nproxy = \"127.0.0.2\"\nallowed_sources = [\"127.0.0.2/32\"]\n",
    );
    let pbx = node::start(&["--config", cfg.to_str().unwrap()]);
    let target = format!("127.0.0.1:{port}");
    let callee = ports::free_port();
    register_callee(&target, "1001", callee);
    let c = callee.to_string();
    let uas = sipp::spawn(
        &sipp::scenario("uas.xml"),
        None,
        &["-p", &c, "-m", "1", "-recv_timeout", "15000"],
        Duration::from_secs(30),
    );
    std::thread::sleep(Duration::from_millis(300));
    let from = ports::free_port().to_string();
    let r = sipp::run(
        &sipp::scenario("carrier_uac.xml"),
        &target,
        &[
            "-i",
            "127.0.0.2",
            "-p",
            &from,
            "-s",
            "1001",
            "-key",
            "did",
            "1001",
            "-m",
            "1",
            "-recv_timeout",
            "5000",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        pbx.output()
    );
    assert_eq!(uas.wait().successful, 1);
    // The same call from an address that is not the carrier's is challenged.
    let r = sipp::run(
        &sipp::scenario("carrier_uac.xml"),
        &target,
        &[
            "-i",
            "127.0.0.4",
            "-p",
            &from,
            "-s",
            "1001",
            "-key",
            "did",
            "1001",
            "-m",
            "1",
            "-recv_timeout",
            "3000",
        ],
        Duration::from_secs(20),
    );
    assert_eq!((r.successful, r.failed), (0, 1), "{}", r.output);
}

#[test]
fn bad_rules_are_refused_at_start_naming_the_rule() {
    let dir = TempDir::new("trunk-bad");
    let port = ports::free_port();
    let trunk = "[[trunks]]\nname = \"carrier\"\nproxy = \"127.0.0.2\"\n\n";
    let cases = [
        (
            "[[outbound_rules]]\nname = \"national\"\npattern = \"^0\"\ntrunks = [\"nope\"]\n",
            "unknown trunk \"nope\"",
        ),
        (
            "[[outbound_rules]]\nname = \"broken\"\npattern = \"^0[\"\ntrunks = [\"carrier\"]\n",
            "invalid pattern",
        ),
        (
            "[[outbound_rules]]\nname = \"first\"\npattern = \"^0\"\ntrunks = [\"carrier\"]\n\n[[outbound_rules]]\nname = \"second\"\npattern = \"^0\"\ntrunks = [\"carrier\"]\n",
            "rule second has the same pattern and callers as rule first",
        ),
        (
            "[[inbound_rules]]\nname = \"day\"\nnumber = \"4930123\"\ndays = [\"mon\"]\ndestination = \"extension:1000\"\n\n[[inbound_rules]]\nname = \"also day\"\nnumber = \"4930123\"\ndays = [\"mon\"]\ndestination = \"extension:1001\"\n",
            "rule also day overlaps rule day",
        ),
    ];
    for (rules, message) in cases {
        let cfg = config(&dir, port, &format!("{trunk}{rules}"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["run", "--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(message), "{message}: {err}");
        assert!(err.contains("_rules["), "{err}");
    }
}

#[test]
fn a_ring_group_rings_both_members_at_once() {
    let dir = TempDir::new("trunk-ring-all");
    let port = ports::free_port();
    let cfg = config(
        &dir,
        port,
        "[[ring_groups]]\nnumber = \"600\"\nstrategy = \"all\"\nmembers = [\"1001\", \"1002\"]\nmember_timeout_secs = 20\n",
    );
    let pbx = node::start(&["--config", cfg.to_str().unwrap()]);
    let target = format!("127.0.0.1:{port}");
    let (p1, p2) = (ports::free_port(), ports::free_port());
    register_callee(&target, "1001", p1);
    register_callee(&target, "1002", p2);
    // 1002 rings and is cancelled once 1001 answers: both were rung.
    let rings = sipp::spawn(
        &sipp::scenario("uas_ring_cancel.xml"),
        None,
        &["-p", &p2.to_string(), "-m", "1", "-recv_timeout", "15000"],
        Duration::from_secs(30),
    );
    std::thread::sleep(Duration::from_millis(300));
    let answers = sipp::spawn(
        &sipp::scenario("uas.xml"),
        None,
        &["-p", &p1.to_string(), "-m", "1", "-recv_timeout", "15000"],
        Duration::from_secs(30),
    );
    std::thread::sleep(Duration::from_millis(300));
    let uac = ports::free_port().to_string();
    let auth_uri = format!("600@{target}");
    let r = sipp::call(
        "uac_auth.xml",
        &target,
        &sipp::Caller {
            port: &uac,
            caller: "1000",
            callee: "600",
            auth_uri: &auth_uri,
        },
        &["-d", "300", "-recv_timeout", "10000", "-m", "1"],
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        pbx.output()
    );
    assert_eq!(answers.wait().successful, 1);
    let rr = rings.wait();
    assert_eq!(
        (rr.successful, rr.failed),
        (1, 0),
        "1002 rang and was cancelled: {}",
        rr.output
    );
}

#[test]
fn an_inbound_rule_sends_a_did_to_a_sequential_ring_group() {
    let dir = TempDir::new("trunk-ring-seq");
    let port = ports::free_port();
    let cfg = config(
        &dir,
        port,
        "[[trunks]]\nname = \"carrier\"\nproxy = \"127.0.0.2\"\nallowed_sources = [\"127.0.0.2\"]\n\n\
         [[ring_groups]]\nnumber = \"600\"\nstrategy = \"sequential\"\nmembers = [\"1001\", \"1002\"]\nmember_timeout_secs = 2\n\n\
         [[inbound_rules]]\nname = \"main number\"\ntrunk = \"carrier\"\nnumber = \"4930123\"\ndestination = \"ring_group:600\"\n",
    );
    let pbx = node::start(&["--config", cfg.to_str().unwrap()]);
    let target = format!("127.0.0.1:{port}");
    let (p1, p2) = (ports::free_port(), ports::free_port());
    register_callee(&target, "1001", p1);
    register_callee(&target, "1002", p2);
    // 1001 rings for its 2 s and is cancelled; then 1002 answers.
    let first = sipp::spawn(
        &sipp::scenario("uas_ring_cancel.xml"),
        None,
        &["-p", &p1.to_string(), "-m", "1", "-recv_timeout", "15000"],
        Duration::from_secs(30),
    );
    let second = sipp::spawn(
        &sipp::scenario("uas.xml"),
        None,
        &["-p", &p2.to_string(), "-m", "1", "-recv_timeout", "15000"],
        Duration::from_secs(30),
    );
    std::thread::sleep(Duration::from_millis(300));
    let from = ports::free_port().to_string();
    let started = Instant::now();
    let r = sipp::run(
        &sipp::scenario("carrier_uac.xml"),
        &target,
        &[
            "-i",
            "127.0.0.2",
            "-p",
            &from,
            "-s",
            "4930123",
            "-key",
            "did",
            "4930123",
            "-m",
            "1",
            "-recv_timeout",
            "8000",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        pbx.output()
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the first member rang 2 s"
    );
    let f = first.wait();
    assert_eq!(
        (f.successful, f.failed),
        (1, 0),
        "1001 rang, then was cancelled: {}",
        f.output
    );
    assert_eq!(second.wait().successful, 1);
    let log = pbx.output();
    assert!(log.contains("main number"), "{log}");
}

/// One REGISTER as a carrier saw it.
#[derive(Debug, Clone)]
struct SeenRegister {
    at: Instant,
    from: std::net::SocketAddr,
    call_id: String,
    expires: String,
    authorized: bool,
}

/// A carrier's registrar on `addr`: challenges every REGISTER without
/// credentials (401), accepts the others (200, the expiry asked for), and
/// remembers each one. Digest checking itself is SIPp's job in the
/// single-node test; this one watches who registers when.
fn carrier_registrar(
    addr: &str,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<SeenRegister>>>,
) {
    let socket = std::net::UdpSocket::bind(addr).unwrap();
    let local = socket.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let Ok(m) = tandem_sip::Message::parse(
                bytes::Bytes::copy_from_slice(&buf[..n]),
                &tandem_sip::ParseOptions::default(),
            ) else {
                continue;
            };
            if m.method() != Some(&tandem_sip::Method::Register) {
                continue;
            }
            use tandem_sip::HeaderName as H;
            let h = |name| m.header_str(name).unwrap_or_default().to_owned();
            let authorized = m.header_str(H::Authorization).is_some();
            let expires = h(H::Expires);
            log.lock().unwrap().push(SeenRegister {
                at: Instant::now(),
                from,
                call_id: h(H::CallId),
                expires: expires.clone(),
                authorized,
            });
            let (status, extra) = if authorized {
                (
                    "200 OK",
                    format!("Contact: {};expires={expires}\r\n", h(H::Contact)),
                )
            } else {
                (
                    "401 Unauthorized",
                    "WWW-Authenticate: Digest realm=\"carrier.test\", nonce=\"n1\", algorithm=MD5\r\n"
                        .to_string(),
                )
            };
            let reply = format!(
                "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=reg\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
                h(H::Via),
                h(H::From),
                h(H::To),
                h(H::CallId),
                h(H::CSeq)
            );
            let _ = socket.send_to(reply.as_bytes(), from);
        }
    });
    (local, seen)
}

#[test]
fn the_registration_moves_to_the_new_leader_after_kill_9_and_is_never_held_twice() {
    let etcd = tandem_test_support::etcd::Cluster::start(1);
    let dir = TempDir::new("trunk-cluster");
    let prefix = format!("/trunks{}/", std::process::id());
    let (carrier, seen) = carrier_registrar("127.0.0.9:0");
    let sip = ports::free_port();
    let endpoints = etcd
        .endpoints()
        .iter()
        .map(|e| format!("\"http://{e}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let member = |name: &str, ip: &str| {
        let toml = format!(
            "[node]\nname = \"{name}\"\nshutdown_grace_secs = 1\n\n[sip]\nlisten = [\"udp:{ip}:{sip}\"]\n\n\
             [storage]\nbackend = \"etcd\"\n\n[storage.etcd]\nendpoints = [{endpoints}]\nprefix = \"{prefix}\"\n\n\
             [cluster]\nhealth_interval_ms = 200\n\n\
             [[trunks]]\nname = \"carrier\"\nproxy = \"{carrier}\"\nregister = true\nusername = \"trunkuser\"\npassword = \"trunkpw\"\nexpires_secs = 30\n"
        );
        let config = dir.0.join(format!("{name}.toml"));
        std::fs::write(&config, toml).unwrap();
        let proc = node::start(&["--config", config.to_str().unwrap()]);
        (config, proc)
    };
    let registered_by = |ip: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .any(|r| r.authorized && r.from.ip().to_string() == ip)
    };
    let (alpha_cfg, alpha) = member("alpha", "127.0.0.2");
    wait_for(Duration::from_secs(30), "alpha leads and registers", || {
        registered_by("127.0.0.2").then_some(())
    });
    let first = wait_for(
        Duration::from_secs(15),
        "status: registered by alpha",
        || {
            let t = trunk_status(&alpha_cfg)["trunks"][0].clone();
            (t["state"] == "registered" && t["node"] == "alpha").then_some(t)
        },
    );
    let (beta_cfg, beta) = member("beta", "127.0.0.3");
    // A follower never registers.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.from.ip().to_string() == "127.0.0.3"),
        "beta registered while alpha led: {:?}",
        seen.lock().unwrap()
    );
    alpha.signal(Signal::SIGKILL);
    let killed = Instant::now();
    wait_for(
        Duration::from_secs(15),
        "beta takes over the registration",
        || registered_by("127.0.0.3").then_some(()),
    );
    let took = killed.elapsed();
    eprintln!("the registration moved to beta {took:?} after kill -9");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let after = wait_for(
        Duration::from_secs(15),
        "status: registered by beta",
        || {
            let t = trunk_status(&beta_cfg)["trunks"][0].clone();
            (t["state"] == "registered" && t["node"] == "beta").then_some(t)
        },
    );
    assert!(
        after["epoch"].as_u64() > first["epoch"].as_u64(),
        "a later epoch: {first} then {after}"
    );
    // Never two at once: every REGISTER from alpha came before the kill
    // and before any from beta; beta's carry a new Call-ID.
    let all = seen.lock().unwrap().clone();
    let from = |ip: &str| -> Vec<&SeenRegister> {
        all.iter()
            .filter(|r| r.from.ip().to_string() == ip)
            .collect()
    };
    let (a, b) = (from("127.0.0.2"), from("127.0.0.3"));
    assert!(a.iter().all(|r| r.at < killed), "{all:?}");
    assert!(b.iter().all(|r| r.at > killed), "{all:?}");
    assert!(b.iter().all(|r| r.call_id != a[0].call_id), "{all:?}");
    assert!(all.iter().all(|r| r.expires == "30"), "{all:?}");
    drop(beta);
}

#[test]
fn a_trunk_that_challenges_calls_gets_the_trunks_credentials() {
    let dir = TempDir::new("trunk-call-auth");
    let port = ports::free_port();
    let carrier = ports::free_port();
    let c = carrier.to_string();
    let uas = sipp::spawn(
        &sipp::scenario("carrier_uas_auth.xml"),
        None,
        &[
            "-i",
            "127.0.0.2",
            "-p",
            &c,
            "-m",
            "1",
            "-recv_timeout",
            "20000",
        ],
        Duration::from_secs(40),
    );
    std::thread::sleep(Duration::from_millis(300));
    let cfg = config(
        &dir,
        port,
        &format!(
            "[[trunks]]\nname = \"carrier\"\nproxy = \"127.0.0.2:{carrier}\"\nusername = \"trunkuser\"\npassword = \"trunkpw\"\n\n\
             [[outbound_rules]]\npattern = \"^0[1-9]\"\ntrunks = [\"carrier\"]\n"
        ),
    );
    let pbx = node::start(&["--config", cfg.to_str().unwrap()]);
    let target = format!("127.0.0.1:{port}");
    let uac = ports::free_port().to_string();
    let auth_uri = format!("030123456@{target}");
    let r = sipp::call(
        "uac_auth.xml",
        &target,
        &sipp::Caller {
            port: &uac,
            caller: "1000",
            callee: "030123456",
            auth_uri: &auth_uri,
        },
        &["-recv_timeout", "10000", "-m", "1"],
        Duration::from_secs(30),
    );
    let carrier_side = uas.wait();
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}\ncarrier: {}",
        r.output,
        pbx.output(),
        carrier_side.output
    );
    assert_eq!(
        (carrier_side.successful, carrier_side.failed),
        (1, 0),
        "the carrier checked the credentials and the CSeq numbering: {}",
        carrier_side.output
    );
    assert!(pbx
        .output()
        .contains("the trunk challenged the call: answered with its credentials"));
}
