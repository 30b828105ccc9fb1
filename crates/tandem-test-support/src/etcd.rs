//! Real etcd on loopback for tests and examples: members spawned from the
//! `etcd` binary (Debian: `etcd-server`) with fresh data directories under
//! the system temp dir, free ports, and the short raft timers of
//! `shared/notes/test-equipment.md` (`--heartbeat-interval 50
//! --election-timeout 300`: re-election in well under a second). Members
//! are killed by PID (SIGKILL) when dropped, and their directories removed;
//! a watchdog shell per member kills it if the test process dies first.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How long a cluster may take to elect a leader and answer.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// One member's process and addresses.
pub struct Member {
    /// Member name (`m0`, `m1` ...).
    pub name: String,
    /// Client port on 127.0.0.1.
    pub client_port: u16,
    /// Peer port on 127.0.0.1.
    pub peer_port: u16,
    child: Option<Child>,
    /// Kills the member if this process dies without dropping the cluster
    /// (SIGKILL, a closed pipe): see [`Cluster::spawn`].
    watchdog: Option<Child>,
}

impl Member {
    /// `host:port` of its client URL.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Whether its process is still running.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// A cluster of members on loopback, killed and removed when dropped.
pub struct Cluster {
    /// The members, in start order.
    pub members: Vec<Member>,
    dir: PathBuf,
}

/// A free loopback port (held until the caller drops the listener, so
/// that ports picked together differ).
fn free_port() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = l.local_addr().expect("local addr").port();
    (l, port)
}

impl Cluster {
    /// Starts `n` members and waits until every one answers `/health`
    /// (which needs a leader).
    pub fn start(n: usize) -> Cluster {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("tandem-etcd-test-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster's temp dir");
        let mut held = Vec::new();
        let mut members = Vec::new();
        for i in 0..n {
            let (l1, client_port) = free_port();
            let (l2, peer_port) = free_port();
            held.push(l1);
            held.push(l2);
            members.push(Member {
                name: format!("m{i}"),
                client_port,
                peer_port,
                child: None,
                watchdog: None,
            });
        }
        let initial: Vec<String> = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect();
        let initial = initial.join(",");
        drop(held);
        let mut cluster = Cluster { members, dir };
        for i in 0..n {
            cluster.spawn(i, &initial, &format!("tandem-{id}"));
        }
        cluster.wait_healthy(START_TIMEOUT);
        cluster
    }

    fn spawn(&mut self, i: usize, initial: &str, token: &str) {
        let m = &self.members[i];
        let data = self.dir.join(&m.name);
        let log = std::fs::File::create(self.dir.join(format!("{}.log", m.name)))
            .expect("create the member's log");
        let client = format!("http://127.0.0.1:{}", m.client_port);
        let peer = format!("http://127.0.0.1:{}", m.peer_port);
        let child = Command::new("etcd")
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", initial])
            .args(["--initial-cluster-token", token])
            .args(["--initial-cluster-state", "new"])
            .args(["--heartbeat-interval", "50", "--election-timeout", "300"])
            .args(["--logger", "zap", "--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd (Debian package etcd-server)");
        // A test process killed outright (a CI timeout, `| head`) runs no
        // destructor: this shell kills the member, by its PID, once this
        // process is gone. It is itself killed when the member is, so
        // that it can never kill a reused PID.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; kill -9 {} 2>/dev/null; \
                 sleep 1; rm -rf '{}'",
                std::process::id(),
                child.id(),
                self.dir.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        self.members[i].child = Some(child);
        self.members[i].watchdog = watchdog;
    }

    /// Client endpoints of the running members.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::endpoint).collect()
    }

    /// Waits until every running member reports healthy.
    pub fn wait_healthy(&self, timeout: Duration) {
        let mut waited = Duration::ZERO;
        let step = Duration::from_millis(50);
        loop {
            let unhealthy: Vec<&str> = self
                .members
                .iter()
                .filter(|m| m.running() && !healthy(m.client_port))
                .map(|m| m.name.as_str())
                .collect();
            if unhealthy.is_empty() {
                return;
            }
            assert!(
                waited < timeout,
                "etcd members {unhealthy:?} not healthy after {timeout:?}; logs in {}",
                self.dir.display()
            );
            std::thread::sleep(step);
            waited += step;
        }
    }

    /// Kills member `i` with SIGKILL (by PID) and reaps it.
    pub fn kill(&mut self, i: usize) {
        // The watchdog first: once the member is reaped its PID may be
        // reused.
        if let Some(mut watchdog) = self.members[i].watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The index of the member that is the raft leader, as the running
    /// members tell through etcd's HTTP gateway (`/v3/maintenance/status`,
    /// where each names itself and its leader).
    pub fn leader(&self) -> Option<usize> {
        let statuses: Vec<(usize, String, String)> = self
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.running())
            .filter_map(|(i, m)| {
                let status = post(m.client_port, "/v3/maintenance/status", "{}")?;
                let member = json_field(&status, "member_id")?;
                let leader = json_field(&status, "leader")?;
                Some((i, member, leader))
            })
            .collect();
        statuses.iter().find_map(|(i, member, _)| {
            statuses
                .iter()
                .any(|(_, _, leader)| leader == member)
                .then_some(*i)
        })
    }

    /// The cluster's directory (data and logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the member answers `GET /health` with `"health":"true"`.
fn healthy(port: u16) -> bool {
    http(port, "GET /health HTTP/1.0\r\n\r\n").is_some_and(|body| body.contains("\"true\""))
}

/// POSTs JSON to etcd's gRPC gateway; the body of a 200 answer.
fn post(port: u16, path: &str, body: &str) -> Option<String> {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn http(port: u16, request: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_owned())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_owned()))
}

/// A scalar field of a flat-enough JSON answer (etcd's gateway writes
/// 64-bit numbers as strings): enough for `member_id` and `leader`.
fn json_field(json: &str, name: &str) -> Option<String> {
    let at = json.find(&format!("\"{name}\""))? + name.len() + 2;
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(['"', ',', '}'])?;
    Some(rest[..end].to_owned())
}
