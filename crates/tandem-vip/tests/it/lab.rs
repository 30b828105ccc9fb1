//! A throw-away layer-2 lab in network namespaces (`ip-netns(8)`).
//!
//! ```text
//!   ns "<p>-a" eth0 ─┐                     (02:18:00:00:00:11, 198.18.0.11)
//!   ns "<p>-b" eth0 ─┼─ ns "<p>-br": br0    (02:18:00:00:00:12, 198.18.0.12)
//!   ns "<p>-c" eth0 ─┘                     (02:18:00:00:00:50, 198.18.0.50)
//! ```
//!
//! The bridge lives in its own namespace and the veth pairs are created
//! there with their far end placed directly into the node namespace
//! (`ip -n BR link add pX type veth peer name eth0 netns NS`), so nothing is
//! ever created in, or changed on, the root namespace. Every `ip` command
//! names its namespace with `-n`. [`Lab`]'s `Drop` deletes every namespace
//! it created — also when a test panics — which destroys the veths and the
//! bridge with them.
//!
//! Entering a namespace: [`in_ns`] runs a closure on a fresh scoped thread
//! that first joins the namespace with `setns(2)` (`CLONE_NEWNET`, via
//! `nix`) and checks `/proc/thread-self/ns/net` really is the namespace.
//! A network namespace is a per-thread attribute, sockets stay in the
//! namespace they were created in, and `tandem-vip` opens all its sockets on
//! the calling thread, so the library code runs unchanged, in-process, with
//! real errors and return values instead of exit codes of a child process.
//! The thread ends with the closure, so no other code ever runs in the
//! namespace by accident.

use std::fs::File;
use std::net::{IpAddr, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};

/// The three hosts on the lab's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    A,
    B,
    Client,
}

impl Host {
    fn suffix(self) -> &'static str {
        match self {
            Host::A => "a",
            Host::B => "b",
            Host::Client => "c",
        }
    }

    /// Fixed MACs make failures readable; the namespaces are private, so
    /// two labs never share a link.
    pub fn mac(self) -> &'static str {
        match self {
            Host::A => "02:18:00:00:00:11",
            Host::B => "02:18:00:00:00:12",
            Host::Client => "02:18:00:00:00:50",
        }
    }

    fn v4(self) -> &'static str {
        match self {
            Host::A => "198.18.0.11/24",
            Host::B => "198.18.0.12/24",
            Host::Client => "198.18.0.50/24",
        }
    }

    /// IPv6 documentation prefix (RFC 3849), used only inside the lab.
    fn v6(self) -> &'static str {
        match self {
            Host::A => "2001:db8:18::11/64",
            Host::B => "2001:db8:18::12/64",
            Host::Client => "2001:db8:18::50/64",
        }
    }
}

/// Labs run one at a time: they are cheap, and the timings they report are
/// only meaningful when two of them are not competing for 2 cores.
static LAB_LOCK: Mutex<()> = Mutex::new(());
static LAB_COUNTER: AtomicUsize = AtomicUsize::new(0);
const NS_PREFIX: &str = "tvip-";
const PROBE_PORT: u16 = 40_100;
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The namespaces of one lab; dropping it deletes them.
pub struct Lab {
    prefix: String,
    created: Vec<String>,
    _serial: MutexGuard<'static, ()>,
}

impl Lab {
    /// Builds the lab, or panics saying why it cannot (these tests must not
    /// pass silently where they cannot run).
    pub fn new() -> Lab {
        let serial = LAB_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let euid = nix::unistd::geteuid();
        assert!(
            euid.is_root(),
            "tandem-vip's namespace tests must run as root (they create network namespaces \
             and need CAP_NET_ADMIN and CAP_NET_RAW); effective uid is {euid}"
        );
        match Command::new("ip").arg("-V").output() {
            Ok(out) if out.status.success() => {}
            other => panic!("tandem-vip's namespace tests need iproute2's `ip` on PATH: {other:?}"),
        }
        reap_stale_labs();

        let prefix = format!(
            "{NS_PREFIX}{}-{}",
            std::process::id(),
            LAB_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            prefix,
            created: Vec::new(),
            _serial: serial,
        };
        lab.build();
        lab
    }

    fn build(&mut self) {
        let br = format!("{}-br", self.prefix);
        for ns in [
            br.clone(),
            self.ns(Host::A),
            self.ns(Host::B),
            self.ns(Host::Client),
        ] {
            let out = Command::new("ip")
                .args(["netns", "add", &ns])
                .output()
                .expect("spawn ip");
            assert!(
                out.status.success(),
                "cannot create network namespace {ns} (is netns support available?): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            self.created.push(ns);
        }
        ip(&["-n", &br, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &br, "link", "set", "br0", "up"]);
        for host in [Host::A, Host::B, Host::Client] {
            let ns = self.ns(host);
            let port = format!("p{}", host.suffix());
            ip(&[
                "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ]);
            ip(&["-n", &br, "link", "set", &port, "master", "br0", "up"]);
            ip(&["-n", &ns, "link", "set", "eth0", "address", host.mac()]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "addr", "add", host.v4(), "dev", "eth0"]);
            // nodad: usable at once, no 1 s tentative phase.
            ip(&[
                "-n",
                &ns,
                "-6",
                "addr",
                "add",
                host.v6(),
                "dev",
                "eth0",
                "nodad",
            ]);
        }
        // Wait for a working link rather than guessing how long veths and
        // bridge ports take to come up. (This leaves the client an entry
        // for .11 only; the VIP has none yet.)
        let answer = self.udp_probe(Host::A, "198.18.0.11".parse().unwrap());
        assert_eq!(answer, "A", "lab link check");
    }

    /// Namespace name of a host.
    pub fn ns(&self, host: Host) -> String {
        format!("{}-{}", self.prefix, host.suffix())
    }

    /// `ip -n NS ARGS...` on a host; panics on failure.
    pub fn ip(&self, host: Host, args: &[&str]) -> String {
        let ns = self.ns(host);
        let mut full = vec!["-n", ns.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Runs `f` on a thread inside `host`'s namespace.
    pub fn in_ns<T: Send>(&self, host: Host, f: impl FnOnce() -> T + Send) -> T {
        in_ns(&self.ns(host), f)
    }

    /// Runs a future on a current-thread runtime inside `host`'s namespace.
    pub fn block_in<T: Send, Fut: std::future::Future<Output = T>>(
        &self,
        host: Host,
        f: impl FnOnce() -> Fut + Send,
    ) -> T {
        self.in_ns(host, || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(f())
        })
    }

    /// Sends UDP datagrams from the client to `address` until one is
    /// answered, and returns the name of the host that answered: a
    /// responder bound to `address` runs on `holder`. Panics after 3 s.
    /// (UDP rather than `ping`: no extra package, and the answer names the
    /// host that received it.)
    pub fn udp_probe(&self, holder: Host, address: IpAddr) -> String {
        let done = AtomicBool::new(false);
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::scope(|scope| {
            let responder = scope.spawn(|| {
                self.in_ns(holder, || {
                    let sock = UdpSocket::bind((address, PROBE_PORT))
                        .unwrap_or_else(|e| panic!("bind {address} on {holder:?}: {e}"));
                    sock.set_read_timeout(Some(Duration::from_millis(20)))
                        .unwrap();
                    ready_tx.send(()).unwrap();
                    let deadline = Instant::now() + PROBE_TIMEOUT;
                    let mut buf = [0u8; 64];
                    while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
                        if let Ok((_, from)) = sock.recv_from(&mut buf) {
                            let _ = sock.send_to(format!("{holder:?}").as_bytes(), from);
                        }
                    }
                })
            });
            ready_rx.recv().expect("responder bound");
            let answer = self.in_ns(Host::Client, || {
                let any: IpAddr = if address.is_ipv4() { "0.0.0.0" } else { "::" }
                    .parse()
                    .unwrap();
                let sock = UdpSocket::bind((any, 0)).unwrap();
                sock.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let deadline = Instant::now() + PROBE_TIMEOUT;
                let mut buf = [0u8; 64];
                loop {
                    // Send errors (e.g. no route while links come up) are
                    // retried like lost datagrams.
                    let _ = sock.send_to(b"who is there?", (address, PROBE_PORT));
                    if let Ok((n, _)) = sock.recv_from(&mut buf) {
                        break Some(String::from_utf8_lossy(&buf[..n]).into_owned());
                    }
                    if Instant::now() >= deadline {
                        break None;
                    }
                }
            });
            done.store(true, Ordering::Relaxed);
            responder
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            answer.unwrap_or_else(|| {
                panic!("client got no UDP answer from {address} (responder on {holder:?}) within {PROBE_TIMEOUT:?}")
            })
        })
    }

    /// The MAC the client's neighbour table holds for `address`
    /// (`ip neigh show ADDRESS dev eth0` in the client namespace).
    pub fn client_neighbour(&self, address: &str) -> Option<String> {
        let out = self.ip(Host::Client, &["neigh", "show", address, "dev", "eth0"]);
        let mut words = out.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_owned)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            let out = Command::new("ip").args(["netns", "del", ns]).output();
            match out {
                Ok(out) if out.status.success() => {}
                other => eprintln!("warning: could not delete network namespace {ns}: {other:?}"),
            }
        }
    }
}

/// Deletes labs left by test processes that died without unwinding
/// (SIGKILL): only namespaces named by this file's prefix whose creator pid
/// no longer exists.
fn reap_stale_labs() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// `ip ARGS...`; panics with the command and its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("spawn ip");
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `f` on a scoped thread that has joined the named namespace.
pub fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            setns(&file, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns({path}): {e}"));
            let want = file.metadata().expect("stat netns file").ino();
            let have = std::fs::metadata("/proc/thread-self/ns/net")
                .expect("stat /proc/thread-self/ns/net")
                .ino();
            assert_eq!(want, have, "thread did not enter namespace {ns}");
            f()
        });
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
