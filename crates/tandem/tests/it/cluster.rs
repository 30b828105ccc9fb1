//! Two tandem nodes on one real etcd, on loopback: registrations made on
//! one node route calls on the other, every call gets exactly one CDR
//! whichever node sees its BYE, a kill -9 of the leader hands leadership
//! over at once (its guard revokes the lease), and a drained node gives
//! up leadership and refuses new calls. The floating IP itself needs
//! network namespaces: `lab/failover.sh` covers it.

use crate::node::{self, TempDir};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tandem_test_support::etcd;
use tandem_test_support::process::{Proc, Signal};
use tandem_test_support::{ports, sipp};

struct ClusterNode {
    name: String,
    port: u16,
    config: PathBuf,
    proc: Option<Proc>,
}

impl ClusterNode {
    fn start(dir: &TempDir, name: &str, endpoints: &[String], prefix: &str) -> ClusterNode {
        let port = ports::free_port();
        let endpoints = endpoints
            .iter()
            .map(|e| format!("\"http://{e}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut toml = format!(
            "[node]\nname = \"{name}\"\nshutdown_grace_secs = 1\n\n[sip]\nlisten = [\"udp:127.0.0.1:{port}\"]\n\n[pbx]\ndomain = \"127.0.0.1\"\nrealm = \"tandem\"\n\n[storage]\nbackend = \"etcd\"\n\n[storage.etcd]\nendpoints = [{endpoints}]\nprefix = \"{prefix}\"\n\n[cluster]\nhealth_interval_ms = 200\n\n"
        );
        for n in 1000..1004 {
            toml.push_str(&format!(
                "[[extensions]]\nnumber = \"{n}\"\npassword = \"pw-{n}\"\n\n"
            ));
        }
        let config = dir.0.join(format!("{name}.toml"));
        std::fs::write(&config, toml).unwrap();
        let proc = Some(node::start(&["--config", config.to_str().unwrap()]));
        ClusterNode {
            name: name.into(),
            port,
            config,
            proc,
        }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn output(&self) -> String {
        self.proc.as_ref().map(|p| p.output()).unwrap_or_default()
    }

    fn tandem(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(args)
            .args(["-c", self.config.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tandem {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.tandem(&["cluster", "status", "--json"])).unwrap()
    }

    fn cdrs(&self) -> Vec<serde_json::Value> {
        self.tandem(&["cdr", "list", "--format", "jsonl"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Polls the cluster status until `ok` holds (or panics after `limit`).
fn wait_status(
    n: &ClusterNode,
    limit: Duration,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let s = n.status();
        if ok(&s) {
            return s;
        }
        assert!(start.elapsed() < limit, "{what}: status is {s:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn leader(s: &serde_json::Value) -> Option<String> {
    s["leader"]["node"].as_str().map(str::to_owned)
}

fn register(node: &ClusterNode, user: &str, port: u16) {
    let r = sipp::register(&node.target(), user, &format!("pw-{user}"), port);
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "register {user}: {}",
        r.output
    );
}

fn call(node: &ClusterNode, callee: &str, port: u16, calls: u32, hold_ms: u32) -> sipp::SippResult {
    let target = node.target();
    let auth_uri = format!("{callee}@{target}");
    let (p, m, d) = (port.to_string(), calls.to_string(), hold_ms.to_string());
    sipp::call(
        "uac_auth.xml",
        &target,
        &sipp::Caller {
            port: &p,
            caller: "1000",
            callee,
            auth_uri: &auth_uri,
        },
        &["-recv_timeout", "5000", "-m", &m, "-r", "10", "-d", &d],
        Duration::from_secs(40),
    )
}

#[test]
fn two_nodes_share_state_lead_hand_over_and_drain() {
    let etcd = etcd::Cluster::start(1);
    let dir = TempDir::new("cluster");
    let prefix = format!("/t{}/", std::process::id());
    let endpoints = etcd.endpoints();
    let mut a = ClusterNode::start(&dir, "alpha", &endpoints, &prefix);
    let b = ClusterNode::start(&dir, "beta", &endpoints, &prefix);
    let s = wait_status(&a, Duration::from_secs(10), "two members, a leader", |s| {
        s["nodes"].as_array().is_some_and(|n| n.len() == 2) && leader(s).is_some()
    });
    assert_eq!(
        leader(&s).as_deref(),
        Some("alpha"),
        "the first node up leads"
    );

    // Registered through alpha, called through beta: the replica of each
    // node holds what the other committed.
    let (uas_port, uac_port) = (ports::free_port(), ports::free_port());
    register(&a, "1001", uas_port);
    let uas = sipp::spawn(
        &sipp::scenario("uas.xml"),
        None,
        &[
            "-p",
            &uas_port.to_string(),
            "-m",
            "10",
            "-recv_timeout",
            "15000",
        ],
        Duration::from_secs(40),
    );
    let r = call(&b, "1001", uac_port, 5, 100);
    assert_eq!(
        (r.successful, r.failed),
        (5, 0),
        "calls through beta: {}\n{}",
        r.output,
        b.output()
    );
    let r = call(&a, "1001", uac_port, 5, 100);
    assert_eq!(
        (r.successful, r.failed),
        (5, 0),
        "calls through alpha: {}\n{}",
        r.output,
        a.output()
    );
    assert_eq!(uas.wait().failed, 0);
    let answered = |n: &ClusterNode| {
        n.cdrs()
            .iter()
            .filter(|c| c["end_cause"] == "answered" && c["callee"] == "1001")
            .count()
    };
    assert_eq!(answered(&a), 10, "one CDR per call, read from either node");

    // Drain alpha: it resigns, beta leads, alpha refuses new calls.
    a.tandem(&["cluster", "drain"]);
    let s = wait_status(
        &b,
        Duration::from_secs(5),
        "beta leads after alpha's drain",
        |s| leader(s).as_deref() == Some("beta"),
    );
    let alpha = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "alpha")
        .unwrap();
    assert_eq!(alpha["draining"], true, "{s:#}");
    let uas = sipp::spawn(
        &sipp::scenario("uas.xml"),
        None,
        &[
            "-p",
            &uas_port.to_string(),
            "-m",
            "1",
            "-recv_timeout",
            "8000",
        ],
        Duration::from_secs(30),
    );
    let r = call(&a, "1001", uac_port, 1, 100);
    assert_eq!(
        r.successful, 0,
        "a draining node takes no new call: {}",
        r.output
    );
    let r = call(&b, "1001", uac_port, 1, 100);
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "its peer does: {}",
        r.output
    );
    let _ = uas.wait();
    a.tandem(&["cluster", "resume"]);
    wait_status(&b, Duration::from_secs(5), "alpha resumed", |s| {
        s["nodes"]
            .as_array()
            .is_some_and(|n| n.iter().all(|n| n["draining"] == false))
    });

    // kill -9 of a member: its guard revokes the lease, so the other sees
    // it gone at once rather than after the lease's time to live.
    let mut alpha_proc = a.proc.take().unwrap();
    alpha_proc.signal(Signal::SIGKILL);
    alpha_proc
        .wait_exit(Duration::from_secs(5))
        .expect("killed");
    // Events are written after the fact (never on the SIP path), so the
    // timeline may trail the member list by a commit: wait for both.
    wait_status(
        &b,
        Duration::from_secs(5),
        "alpha gone, beta leads, the timeline shows alpha's death",
        |s| {
            s["nodes"].as_array().is_some_and(|n| n.len() == 1)
                && leader(s).as_deref() == Some("beta")
                && s["events"].as_array().is_some_and(|events| {
                    events
                        .iter()
                        .any(|e| e["node"] == "beta" && e["event"] == "node_down")
                })
        },
    );
    let guard_said = alpha_proc.output();
    assert!(
        guard_said.contains("revoked"),
        "the guard revoked alpha's lease: {guard_said}"
    );
    // Registrations live in etcd: beta still reaches 1001.
    let uas = sipp::spawn(
        &sipp::scenario("uas.xml"),
        None,
        &[
            "-p",
            &uas_port.to_string(),
            "-m",
            "1",
            "-recv_timeout",
            "8000",
        ],
        Duration::from_secs(30),
    );
    let r = call(&b, "1001", uac_port, 1, 100);
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "after alpha's death: {}",
        r.output
    );
    assert_eq!(uas.wait().failed, 0);
    assert_eq!(answered(&b), 12);
    drop(b);
    drop(etcd);
    let _ = a.name;
}
