//! The DNS zone and the ActionURLs, end to end with `dig` and a real HTTP
//! receiver: a single node publishes its NAPTR/SRV/A records; in a cluster
//! on etcd a drained or killed node drops out of every node's answers and
//! comes back when it resumes; a leader's death reaches the webhook once
//! per event, signed.

use crate::node::{self, wait_for, TempDir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tandem_test_support::etcd;
use tandem_test_support::ports;
use tandem_test_support::process::{Proc, Signal};

fn have_dig() -> bool {
    std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `dig +short` of `name`/`rtype` at the server, lines sorted.
fn dig(server: &str, port: u16, name: &str, rtype: &str, tcp: bool) -> Vec<String> {
    let mut cmd = std::process::Command::new("dig");
    cmd.args([
        &format!("@{server}"),
        "-p",
        &port.to_string(),
        name,
        rtype,
        "+short",
        "+time=2",
        "+tries=1",
    ]);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd.output().expect("dig runs");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(';'))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

fn tandem(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .args(["-c", config.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn a_single_node_serves_its_naptr_srv_and_address_records() {
    if !have_dig() {
        eprintln!("skipped: dig (dnsutils) is not installed; scripts/test-deps.sh installs it");
        return;
    }
    let dir = TempDir::new("dns-single");
    let (sip, dns) = (ports::free_port(), ports::free_port());
    let config = dir.0.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"pbx1\"\n\n[sip]\nlisten = [\"udp:127.0.0.1:{sip}\", \"tcp:127.0.0.1:{sip}\"]\n\n\
             [storage]\npath = \"state.db\"\n\n[dns.zone]\nlisten = \"127.0.0.1:{dns}\"\ndomain = \"pbx.example.test\"\n"
        ),
    )
    .unwrap();
    let _node = node::start(&["--config", config.to_str().unwrap()]);
    for tcp in [false, true] {
        let naptr = dig("127.0.0.1", dns, "pbx.example.test", "NAPTR", tcp);
        assert_eq!(naptr.len(), 2, "NAPTR for UDP and TCP: {naptr:?}");
        assert!(naptr
            .iter()
            .any(|l| l.contains("\"SIP+D2U\"") && l.contains("_sip._udp.pbx.example.test.")));
        assert!(naptr
            .iter()
            .any(|l| l.contains("\"SIP+D2T\"") && l.contains("_sip._tcp.pbx.example.test.")));
        let srv = dig("127.0.0.1", dns, "_sip._udp.pbx.example.test", "SRV", tcp);
        assert_eq!(srv, vec![format!("10 100 {sip} pbx1.pbx.example.test.")]);
        let a = dig("127.0.0.1", dns, "pbx1.pbx.example.test", "A", tcp);
        assert_eq!(a, vec!["127.0.0.1".to_string()]);
    }
    let out = tandem(&config, &["dns", "show"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("every node is served"), "{text}");
    assert!(text.contains("_sip._udp.pbx.example.test."), "{text}");

    // A bad zone is refused at start, naming the key.
    let bad = dir.0.join("bad.toml");
    std::fs::write(
        &bad,
        format!("[sip]\nlisten = [\"udp:127.0.0.1:{sip}\"]\n\n[dns.zone]\nlisten = \"127.0.0.1:{dns}\"\ndomain = \"pbx..test\"\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["run", "--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("dns.zone.domain"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One request the receiver got: its headers (names lower-case), its body.
type Request = (Vec<(String, String)>, String);

/// A minimal HTTP receiver: answers 200 to everything, keeps each
/// request's headers and body.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let keep = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let mut headers = Vec::new();
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            break;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
                            if k == "content-length" {
                                len = v.parse().unwrap_or(0);
                            }
                            headers.push((k, v));
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        break;
                    }
                    keep.lock()
                        .unwrap()
                        .push((headers, String::from_utf8_lossy(&body).into_owned()));
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                }
            }
        });
        Receiver { port, got }
    }

    fn events(&self) -> Vec<serde_json::Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect()
    }
}

struct Member {
    config: PathBuf,
    proc: Option<Proc>,
}

#[allow(clippy::too_many_arguments)]
fn member(
    dir: &TempDir,
    name: &str,
    ip: &str,
    sip: u16,
    dns: u16,
    etcd: &[String],
    prefix: &str,
    hook: u16,
) -> Member {
    let endpoints = etcd
        .iter()
        .map(|e| format!("\"http://{e}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let toml = format!(
        "[node]\nname = \"{name}\"\nshutdown_grace_secs = 1\n\n[sip]\nlisten = [\"udp:{ip}:{sip}\"]\n\n\
         [storage]\nbackend = \"etcd\"\n\n[storage.etcd]\nendpoints = [{endpoints}]\nprefix = \"{prefix}\"\n\n\
         [cluster]\nhealth_interval_ms = 200\n\n\
         [dns.zone]\nlisten = \"{ip}:{dns}\"\ndomain = \"ha.example.test\"\n\n\
         [[webhooks]]\nurl = \"http://127.0.0.1:{hook}/hook\"\nsecret = \"s3cret\"\nbackoff_initial_ms = 50\n"
    );
    let config = dir.0.join(format!("{name}.toml"));
    std::fs::write(&config, toml).unwrap();
    let proc = Some(node::start(&["--config", config.to_str().unwrap()]));
    Member { config, proc }
}

#[test]
fn cluster_zone_follows_health_and_webhooks_report_a_failover_once() {
    if !have_dig() {
        eprintln!("skipped: dig (dnsutils) is not installed; scripts/test-deps.sh installs it");
        return;
    }
    let etcd = etcd::Cluster::start(1);
    let dir = TempDir::new("dns-cluster");
    let prefix = format!("/dns{}/", std::process::id());
    let hook = Receiver::start();
    // Two loopback addresses, one port layout: as two machines would be.
    let (sip, dns) = (ports::free_port(), ports::free_port());
    let mut a = member(
        &dir,
        "alpha",
        "127.0.0.2",
        sip,
        dns,
        &etcd.endpoints(),
        &prefix,
        hook.port,
    );
    let status = |m: &Member| -> serde_json::Value {
        let out = tandem(&m.config, &["cluster", "status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    wait_for(Duration::from_secs(10), "alpha leads", || {
        (status(&a)["leader"]["node"] == "alpha").then_some(())
    });
    let b = member(
        &dir,
        "beta",
        "127.0.0.3",
        sip,
        dns,
        &etcd.endpoints(),
        &prefix,
        hook.port,
    );
    let srv = |server: &str| dig(server, dns, "_sip._udp.ha.example.test", "SRV", false);
    let both = vec![
        format!("10 100 {sip} alpha.ha.example.test."),
        format!("10 100 {sip} beta.ha.example.test."),
    ];
    for server in ["127.0.0.2", "127.0.0.3"] {
        wait_for(Duration::from_secs(10), "both nodes served by each", || {
            (srv(server) == both).then_some(())
        });
    }
    assert_eq!(
        dig("127.0.0.3", dns, "alpha.ha.example.test", "A", false),
        vec!["127.0.0.2".to_string()]
    );

    // Drained: out of the zone (of both servers), and back on resume.
    assert!(tandem(&a.config, &["cluster", "drain"]).status.success());
    let only_beta = vec![format!("10 100 {sip} beta.ha.example.test.")];
    for server in ["127.0.0.2", "127.0.0.3"] {
        wait_for(
            Duration::from_secs(5),
            "a drained node leaves the zone",
            || (srv(server) == only_beta).then_some(()),
        );
    }
    let shown = String::from_utf8_lossy(&tandem(&b.config, &["dns", "show"]).stdout).into_owned();
    assert!(
        shown.contains("alpha") && shown.contains("draining"),
        "{shown}"
    );
    assert!(tandem(&a.config, &["cluster", "resume"]).status.success());
    wait_for(Duration::from_secs(5), "a resumed node comes back", || {
        (srv("127.0.0.3") == both).then_some(())
    });

    // Beta leads now (alpha's drain handed over); make alpha lead again
    // by draining beta, then kill -9 alpha: beta takes over.
    assert!(tandem(&b.config, &["cluster", "drain"]).status.success());
    wait_for(Duration::from_secs(5), "alpha leads again", || {
        (status(&a)["leader"]["node"] == "alpha").then_some(())
    });
    assert!(tandem(&b.config, &["cluster", "resume"]).status.success());
    wait_for(Duration::from_secs(5), "beta serving again", || {
        (srv("127.0.0.3") == both).then_some(())
    });
    let unix_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let killed_ms = unix_ms();
    let since_kill = || -> Vec<serde_json::Value> {
        hook.events()
            .into_iter()
            .filter(|e| e["at_ms"].as_u64().unwrap_or(0) >= killed_ms)
            .collect()
    };
    let alpha = a.proc.take().unwrap();
    alpha.signal(Signal::SIGKILL);
    wait_for(
        Duration::from_secs(5),
        "the dead node leaves beta's zone",
        || (srv("127.0.0.3") == only_beta).then_some(()),
    );
    let shown = String::from_utf8_lossy(&tandem(&b.config, &["dns", "show"]).stdout).into_owned();
    assert!(shown.contains("alpha") && shown.contains("down"), "{shown}");

    // The webhook hears of it: each event once, from beta, signed.
    wait_for(Duration::from_secs(10), "failover reported", || {
        since_kill()
            .iter()
            .any(|e| e["event"] == "failover_finished")
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let new = since_kill();
    let count = |name: &str| new.iter().filter(|e| e["event"] == name).count();
    let brief: Vec<String> = new
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["at_ms"], e["node"], e["event"], e["detail"]
            )
        })
        .collect();
    let timeline: Vec<String> = status(&b)["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["at_ms"], e["node"], e["event"], e["detail"]
            )
        })
        .collect();
    let new_events = format!(
        "{}\n--- timeline:\n{}",
        brief.join("\n"),
        timeline.join("\n")
    );
    assert_eq!(count("failover_started"), 1, "{new_events}");
    assert_eq!(count("failover_finished"), 1, "{new_events}");
    assert_eq!(count("became_leader"), 1, "{new_events}");
    assert_eq!(count("node_down"), 1, "{new_events}");
    assert!(new.iter().all(|e| e["node"] == "beta"), "{new_events}");
    // In order: the takeover starts, then finishes.
    let at = |name: &str| new.iter().position(|e| e["event"] == name).unwrap();
    assert!(
        at("failover_started") < at("failover_finished"),
        "{new_events}"
    );
    let down = new.iter().find(|e| e["event"] == "node_down").unwrap();
    assert_eq!(down["detail"]["node"], "alpha");
    // Over the whole run, no event reached the webhook twice.
    // (A leader's going, `leader_changed` to none, happens several times
    // over with the same fields; it is left out.)
    let all: Vec<String> = hook
        .events()
        .iter()
        .filter(|e| !(e["event"] == "leader_changed" && e["detail"]["leader"].is_null()))
        .map(|e| format!("{} {} {}", e["event"], e["epoch"], e["detail"]["node"]))
        .collect();
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "{all:#?}");
    for (headers, body) in hook.got.lock().unwrap().iter() {
        let sig = headers
            .iter()
            .find(|(k, _)| k == "x-tandem-signature")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        assert!(
            tandem_webhook::verify(b"s3cret", body.as_bytes(), sig),
            "signature {sig:?} of {body}"
        );
    }
    drop(b);
}

/// The carrier's zone: `_sip._udp.carrier.test` with `a` first (priority
/// 10) and `b` as backup (priority 20), both on SIP port `port`.
fn carrier_zone(a: &str, b: &str, port: u16) -> tandem_dns::ZoneSpec {
    let node = |name: &str, ip: &str, priority| tandem_dns::ZoneNode {
        name: name.into(),
        addrs: vec![ip.parse().unwrap()],
        priority,
        weight: 100,
        healthy: true,
        since_ms: 0,
    };
    tandem_dns::ZoneSpec {
        domain: "carrier.test".into(),
        ttl_secs: 1,
        transports: vec![tandem_dns::ZoneTransport {
            transport: tandem_dns::Transport::Udp,
            port,
        }],
        nodes: vec![node("a", a, 10), node("b", b, 20)],
        floating_ip: None,
    }
}

#[test]
fn calls_to_another_domain_follow_naptr_srv_and_fail_over() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let carrier_port = ports::free_port();
    let zone =
        tandem_dns::Zone::new(carrier_zone("127.0.0.2", "127.0.0.3", carrier_port), 1).unwrap();
    let (zone_tx, zone_rx) = tokio::sync::watch::channel(zone);
    let server = rt
        .block_on(tandem_dns::ZoneServer::start(
            "127.0.0.1:0".parse().unwrap(),
            zone_rx,
        ))
        .unwrap();
    let dns_port = server.local_addr().port();

    let dir = TempDir::new("dns-outbound");
    let sip = ports::free_port();
    let config = dir.0.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[sip]\nlisten = [\"udp:127.0.0.1:{sip}\"]\n\n[storage]\npath = \"state.db\"\n\n\
             [dns]\nnameservers = [\"127.0.0.1:{dns_port}\"]\ntarget_timeout_ms = 1000\n\n\
             [[extensions]]\nnumber = \"1000\"\npassword = \"pw-1000\"\n"
        ),
    )
    .unwrap();
    let node = node::start(&["--config", config.to_str().unwrap()]);
    let target = format!("127.0.0.1:{sip}");
    let call = || {
        let uac = ports::free_port().to_string();
        tandem_test_support::sipp::call(
            "uac_auth_domain.xml",
            &target,
            &tandem_test_support::sipp::Caller {
                port: &uac,
                caller: "1000",
                callee: "bob",
                auth_uri: "bob@carrier.test",
            },
            &[
                "-key",
                "domain",
                "carrier.test",
                "-recv_timeout",
                "8000",
                "-m",
                "1",
            ],
            Duration::from_secs(20),
        )
    };
    let set_aside = |out: &str| out.matches("target failed: set aside").count();
    let port = carrier_port.to_string();
    // a answers 503: the call goes on to b.
    let a = tandem_test_support::sipp::spawn(
        &tandem_test_support::sipp::scenario("uas_503.xml"),
        None,
        &[
            "-i",
            "127.0.0.2",
            "-p",
            &port,
            "-m",
            "1",
            "-recv_timeout",
            "15000",
        ],
        Duration::from_secs(30),
    );
    let b = tandem_test_support::sipp::spawn(
        &tandem_test_support::sipp::scenario("uas.xml"),
        None,
        &[
            "-i",
            "127.0.0.3",
            "-p",
            &port,
            "-m",
            "3",
            "-recv_timeout",
            "30000",
        ],
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_millis(300));
    let r = call();
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        node.output()
    );
    assert_eq!(a.wait().successful, 1, "a was tried first and said 503");
    assert_eq!(set_aside(&node.output()), 1);
    // a is set aside for a while: the next call goes to b at once.
    let r = call();
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        node.output()
    );
    assert_eq!(set_aside(&node.output()), 1, "a was not tried again");
    // A silent first target (nothing listens at .4): after the per-target
    // timeout, b.
    zone_tx.send_modify(|z| {
        z.update(carrier_zone("127.0.0.4", "127.0.0.3", carrier_port))
            .unwrap();
    });
    std::thread::sleep(Duration::from_millis(1500));
    let r = call();
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        node.output()
    );
    assert_eq!(set_aside(&node.output()), 2, "{}", node.output());
    assert_eq!(b.wait().successful, 3);
    // A name that does not resolve: 404 at once, with its CDR.
    let uac = ports::free_port().to_string();
    let r = tandem_test_support::sipp::call(
        "uac_auth_domain.xml",
        &target,
        &tandem_test_support::sipp::Caller {
            port: &uac,
            caller: "1000",
            callee: "bob",
            auth_uri: "bob@nowhere.test",
        },
        &[
            "-key",
            "domain",
            "nowhere.test",
            "-recv_timeout",
            "8000",
            "-m",
            "1",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(r.failed, 1);
    assert!(
        node.output().contains("does not resolve"),
        "{}",
        node.output()
    );
    rt.block_on(server.shutdown()).unwrap();
}

#[test]
fn srv_weights_spread_the_calls_and_a_dead_first_choice_costs_one_timeout() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = ports::free_port();
    // a and b share priority 10 with weights 3:1; c is the backup.
    let node = |name: &str, ip: &str, priority, weight| tandem_dns::ZoneNode {
        name: name.into(),
        addrs: vec![ip.parse().unwrap()],
        priority,
        weight,
        healthy: true,
        since_ms: 0,
    };
    let spec = tandem_dns::ZoneSpec {
        domain: "spread.test".into(),
        ttl_secs: 60,
        transports: vec![tandem_dns::ZoneTransport {
            transport: tandem_dns::Transport::Udp,
            port,
        }],
        nodes: vec![
            node("a", "127.0.0.2", 10, 300),
            node("b", "127.0.0.3", 10, 100),
            node("c", "127.0.0.4", 20, 100),
        ],
        floating_ip: None,
    };
    let (_zone_tx, zone_rx) = tokio::sync::watch::channel(tandem_dns::Zone::new(spec, 1).unwrap());
    let server = rt
        .block_on(tandem_dns::ZoneServer::start(
            "127.0.0.1:0".parse().unwrap(),
            zone_rx,
        ))
        .unwrap();
    let dir = TempDir::new("dns-spread");
    let sip = ports::free_port();
    let config = dir.0.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[sip]\nlisten = [\"udp:127.0.0.1:{sip}\"]\n\n[storage]\npath = \"state.db\"\n\n\
             [dns]\nnameservers = [\"{}\"]\ntarget_timeout_ms = 1000\n\n\
             [[extensions]]\nnumber = \"1000\"\npassword = \"pw-1000\"\n",
            server.local_addr()
        ),
    )
    .unwrap();
    let tandem = node::start(&["--config", config.to_str().unwrap()]);
    let p = port.to_string();
    let uas = |ip: &str| {
        tandem_test_support::sipp::spawn(
            &tandem_test_support::sipp::scenario("uas.xml"),
            None,
            &["-i", ip, "-p", &p, "-recv_timeout", "60000"],
            Duration::from_secs(120),
        )
    };
    let (a, b, c) = (uas("127.0.0.2"), uas("127.0.0.3"), uas("127.0.0.4"));
    std::thread::sleep(Duration::from_millis(300));
    let target = format!("127.0.0.1:{sip}");
    let calls = |n: u32, rate: u32| {
        let uac = ports::free_port().to_string();
        let m = n.to_string();
        let r = rate.to_string();
        tandem_test_support::sipp::call(
            "uac_auth_domain.xml",
            &target,
            &tandem_test_support::sipp::Caller {
                port: &uac,
                caller: "1000",
                callee: "bob",
                auth_uri: "bob@spread.test",
            },
            &[
                "-key",
                "domain",
                "spread.test",
                "-recv_timeout",
                "8000",
                "-m",
                &m,
                "-r",
                &r,
            ],
            Duration::from_secs(60),
        )
    };
    let r = calls(80, 20);
    assert_eq!(
        (r.successful, r.failed),
        (80, 0),
        "{}\n{}",
        r.output,
        tandem.output()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let a_calls = a.stop().successful;
    // RFC 2782: a gets 3/4 of the calls (60 expected; 4 standard
    // deviations either side), b the rest, the backup none.
    assert!((45..=75).contains(&a_calls), "a took {a_calls} of 80");
    // a is gone now (its UAS stopped): a call that picks it first waits
    // one per-target timeout, then goes to b; a is set aside then, so the
    // calls after go straight to b. None is lost. (Two calls a second: at
    // most the calls started within that first timeout meet a.)
    let r = calls(20, 2);
    assert_eq!(
        (r.successful, r.failed),
        (20, 0),
        "{}\n{}",
        r.output,
        tandem.output()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let b_calls = b.stop().successful;
    let c_calls = c.stop().successful;
    assert_eq!(b_calls + a_calls, 100, "b took the rest: {b_calls}");
    assert_eq!(c_calls, 0, "the backup priority was never needed");
    let set_aside = tandem.output().matches("target failed: set aside").count();
    assert!(
        (1..=3).contains(&set_aside),
        "a was set aside by the first calls only ({set_aside} times): {}",
        tandem.output()
    );
    rt.block_on(server.shutdown()).unwrap();
}
