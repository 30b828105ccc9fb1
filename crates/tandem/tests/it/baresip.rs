//! A real softphone through tandem: baresip 1.0.0 (headless, driven over
//! its ctrl_tcp socket) registers as extension 1000 and calls 1001, a SIPp
//! UAS registered through tandem as well. The call carries real RTP (a
//! 440 Hz tone in PCMU; SIPp echoes it back with `-rtp_echo`) for about
//! two seconds, then baresip hangs up. Checked: SIPp completed its one
//! call, baresip saw the call established, RTP received and the call
//! closed, and tandem wrote an answered CDR 1000 -> 1001 hung up by the
//! caller.
//!
//! tandem runs with its default challenge (MD5 only). Offering SHA-256 as
//! well (`auth.algorithms = ["MD5", "SHA-256"]`) makes baresip 1.0.0 fail
//! to register: its SIP stack (libre 1.1.0, Debian 12) gives up on the
//! first challenge that is not MD5 ("Register: Function not implemented")
//! instead of answering the one it supports. That is why MD5 alone is the
//! default.
//!
//! Needs `baresip` (Debian package `baresip-core`) and `sipp`
//! (`sip-tester`): scripts/test-deps.sh.

use crate::node::{self, TempDir};
use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tandem_test_support::golden::testdata_dir;
use tandem_test_support::process::Proc;
use tandem_test_support::{ports, sipp};

/// How long the call stays up with RTP flowing.
const TALK: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// `transport` in tandem's `ext list --json`.
    fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

#[test]
fn baresip_registers_and_calls_a_sipp_uas_through_tandem() {
    call_through_tandem(Transport::Udp);
}

#[test]
fn baresip_registers_and_calls_a_sipp_uas_through_tandem_over_tcp() {
    call_through_tandem(Transport::Tcp);
}

fn call_through_tandem(transport: Transport) {
    let started = Instant::now();
    // Declared first, dropped last: the processes stop before their folder goes.
    let dir = TempDir::new(&format!("baresip-{}", transport.name()));
    let tandem_port = ports::free_port();
    let config = write_tandem_config(&dir.0, tandem_port, r#"["MD5"]"#);
    let tandem = node::start(&["--config", config.to_str().unwrap()]);
    let tandem_addr = format!("127.0.0.1:{tandem_port}");
    let tcp: &[&str] = if transport == Transport::Tcp {
        &["-t", "t1"]
    } else {
        &[]
    };

    // The callee: SIPp registers 1001 from its port, exits, and a second
    // SIPp answers one call on that same port.
    let uas_port = ports::free_port();
    let uas_port_s = uas_port.to_string();
    let mut args = vec!["-p", &uas_port_s, "-s", "1001", "-ap", "pw-1001"];
    args.extend([
        "-key",
        "expires",
        "3600",
        "-m",
        "1",
        "-recv_timeout",
        "5000",
        "-timeout",
        "10",
    ]);
    args.extend(tcp);
    let reg = sipp::run(
        &sipp::scenario("uas_register.xml"),
        &tandem_addr,
        &args,
        Duration::from_secs(15),
    );
    assert_eq!(
        (reg.successful, reg.failed),
        (1, 0),
        "SIPp could not register 1001: {}",
        reg.output
    );
    let uas = Uas::start(uas_port, transport, &dir.0);

    // The caller: baresip registers 1000.
    let phone = Phone::start(&dir.0, tandem_port, transport);
    let mut ctrl = phone.control();
    ctrl.wait_registered(Duration::from_secs(10), &phone, &tandem);
    let contact = registered_contact(&config, "1000", transport).unwrap_or_else(|| {
        panic!(
            "tandem has no {} contact for 1000: {}",
            transport.name(),
            ext_list(&config)
        )
    });
    assert!(contact.contains("127.0.0.1"), "{contact}");

    // Call 1001, talk, hang up.
    let dial = ctrl.command("dial", Some("1001"), Duration::from_secs(5));
    assert_eq!(dial["ok"], Value::Bool(true), "dial refused: {dial}");
    let established = ctrl.wait_event("CALL_ESTABLISHED", Duration::from_secs(10), &phone);
    let call_id = established["id"]
        .as_str()
        .expect("call id in CALL_ESTABLISHED")
        .to_owned();
    assert!(
        established["peeruri"]
            .as_str()
            .is_some_and(|u| u.starts_with("sip:1001@")),
        "{established}"
    );
    let up_at = Instant::now();
    // The first RTP packet came back from SIPp's echo.
    ctrl.wait_event("CALL_RTPESTAB", Duration::from_secs(5), &phone);
    let calls = ctrl.command("listcalls", None, Duration::from_secs(5));
    assert!(
        calls["data"]
            .as_str()
            .is_some_and(|d| d.contains("ESTABLISHED")),
        "listcalls: {calls}"
    );
    // Talk time: nothing to wait for but the clock.
    std::thread::sleep(TALK.saturating_sub(up_at.elapsed()));
    let hangup = ctrl.command("hangup", None, Duration::from_secs(5));
    assert_eq!(hangup["ok"], Value::Bool(true), "hangup refused: {hangup}");
    let closed = ctrl.wait_event("CALL_CLOSED", Duration::from_secs(10), &phone);
    assert_eq!(closed["id"].as_str(), Some(call_id.as_str()), "{closed}");

    // baresip's RTP counters for the call (rtp_stats), printed as it closes:
    // "packets:   <sent>   <received>".
    let line = phone.proc.wait_for_line("packets:", Duration::from_secs(5));
    let counts: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        counts.len() == 2 && counts[0] >= 50 && counts[1] >= 50,
        "too little RTP in a {TALK:?} call (sent, received): {line}"
    );

    eprintln!(
        "baresip over {}: RTP packets (sent, received) {counts:?}",
        transport.name()
    );

    // SIPp answered and completed its one call (INVITE, ACK, BYE).
    let uas_result = uas.finish(Duration::from_secs(10));
    assert_eq!(
        (uas_result.0, uas_result.1),
        (1, 0),
        "SIPp UAS (successful, failed); output:\n{}",
        uas_result.2
    );

    // tandem's call detail record.
    let cdr = wait_cdr(&config, &call_id, Duration::from_secs(5));
    assert_eq!(cdr["caller"], "1000", "{cdr}");
    assert_eq!(cdr["callee"], "1001", "{cdr}");
    assert_eq!(cdr["end_cause"], "answered", "{cdr}");
    assert_eq!(cdr["status"], 200, "{cdr}");
    assert_eq!(cdr["hangup_by"], "caller", "{cdr}");
    let duration_ms = cdr["duration_ms"].as_u64().unwrap_or(0);
    assert!(
        (1_000..15_000).contains(&duration_ms),
        "duration_ms {duration_ms}: {cdr}"
    );
    eprintln!("tandem CDR: {cdr}");

    // baresip quits, unregistering first.
    ctrl.send("quit", None);
    let mut phone = phone;
    assert!(
        phone.proc.wait_exit(Duration::from_secs(10)).is_some(),
        "baresip did not quit: {}",
        phone.proc.output()
    );
    wait_until(Duration::from_secs(5), || {
        registered_contact(&config, "1000", transport).is_none()
    })
    .unwrap_or_else(|| {
        panic!(
            "1000 still registered after baresip quit: {}",
            ext_list(&config)
        )
    });
    drop(tandem);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// Writes `tandem.toml` (from testdata/baresip/tandem.toml.in) into `dir`.
fn write_tandem_config(dir: &Path, port: u16, algorithms: &str) -> PathBuf {
    let text = template("tandem.toml.in")
        .replace("@PORT@", &port.to_string())
        .replace("@ALGORITHMS@", algorithms);
    let path = dir.join("tandem.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn template(name: &str) -> String {
    let path = testdata_dir().join("baresip").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Calls `check` every 50 ms until it returns true; None after `timeout`.
fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return Some(());
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tandem_cli(config: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .expect("run tandem");
    assert!(
        out.status.success(),
        "tandem {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ext_list(config: &Path) -> String {
    tandem_cli(config, &["ext", "list", "--json"])
}

/// The contact `number` registered over `transport`, per `tandem ext list`.
fn registered_contact(config: &Path, number: &str, transport: Transport) -> Option<String> {
    ext_list(config)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["number"] == number)?["contacts"]
        .as_array()?
        .iter()
        .find(|c| c["transport"] == transport.name())
        .and_then(|c| c["contact"].as_str().map(str::to_owned))
}

/// Waits for tandem's CDR of the call with this Call-ID.
fn wait_cdr(config: &Path, call_id: &str, timeout: Duration) -> Value {
    let mut found = None;
    let mut last = String::new();
    wait_until(timeout, || {
        last = tandem_cli(config, &["cdr", "list", "--format", "jsonl"]);
        found = last
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|c| c["call_id"] == call_id);
        found.is_some()
    });
    found.unwrap_or_else(|| {
        panic!("no CDR for Call-ID {call_id} within {timeout:?}; cdr list:\n{last}")
    })
}

/// Whether something listens on 127.0.0.1:`port` (UDP bound, or TCP in
/// LISTEN), read from /proc/net without touching the port.
fn bound(port: u16, transport: Transport) -> bool {
    let (file, state) = match transport {
        Transport::Udp => ("/proc/net/udp", "07"),
        Transport::Tcp => ("/proc/net/tcp", "0A"),
    };
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == local && f[3] == state
        })
}

/// The SIPp UAS answering as 1001 (testdata/sipp/uas.xml), echoing RTP.
struct Uas {
    proc: Proc,
    stats: PathBuf,
}

impl Uas {
    fn start(port: u16, transport: Transport, dir: &Path) -> Uas {
        let media = free_pair(2);
        let stats = dir.join("uas-stats.csv");
        let mut cmd = Command::new("sipp");
        cmd.arg("-sf")
            .arg(sipp::scenario("uas.xml"))
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-mp",
                &media.to_string(),
                "-rtp_echo",
            ])
            .args([
                "-m",
                "1",
                "-recv_timeout",
                "20000",
                "-timeout",
                "40",
                "-nostdin",
            ])
            .args(["-trace_stat", "-fd", "1", "-stf"])
            .arg(&stats);
        if transport == Transport::Tcp {
            cmd.args(["-t", "t1"]);
        }
        let proc = Proc::spawn("sipp uas", cmd);
        // Ready when its SIP port is bound (the INVITE would otherwise meet
        // a closed port).
        wait_until(Duration::from_secs(10), || bound(port, transport))
            .unwrap_or_else(|| panic!("SIPp UAS not listening on {port}: {}", proc.output()));
        Uas { proc, stats }
    }

    /// Waits for SIPp to exit; (successful, failed, output).
    fn finish(mut self, timeout: Duration) -> (u64, u64, String) {
        let status = self.proc.wait_exit(timeout);
        let output = self.proc.output();
        assert!(
            status.is_some(),
            "SIPp UAS still running after {timeout:?}: {output}"
        );
        let csv = std::fs::read_to_string(&self.stats).unwrap_or_default();
        let rows: Vec<Vec<&str>> = csv
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(';').collect())
            .collect();
        let get = |name: &str| -> u64 {
            let (Some(header), Some(last)) = (rows.first(), rows.last()) else {
                return 0;
            };
            header
                .iter()
                .position(|n| *n == name)
                .and_then(|i| last.get(i))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        (
            get("SuccessfulCall(C)"),
            get("FailedCall(C)"),
            format!("{status:?}\n{output}"),
        )
    }
}

/// A free even port `p` with `p + 1 ..= p + span` free too (SIPp's RTP
/// echo takes `p` for audio and `p + 2` for video), claimed in one block
/// so that no concurrent test is handed one of them.
fn free_pair(span: u16) -> u16 {
    // One spare port so that an even start fits in the block.
    let p = ports::free_ports(span + 2);
    p + p % 2
}

/// The kernel's ephemeral port range, "MIN-MAX": baresip takes its RTP
/// ports there (at random, trying others when one is busy), so that it
/// never takes a port `ports::free_port` handed to a concurrent test.
fn ephemeral_ports() -> String {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = range
        .split_whitespace()
        .filter_map(|w| w.parse::<u16>().ok());
    match (it.next(), it.next()) {
        (Some(lo), Some(hi)) if hi > lo + 100 => format!("{lo}-{hi}"),
        _ => "32768-60999".to_owned(),
    }
}

/// baresip running headless from a config folder made for this test.
struct Phone {
    proc: Proc,
    ctrl_port: u16,
}

impl Phone {
    fn start(dir: &Path, tandem_port: u16, transport: Transport) -> Phone {
        let modules = ["/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules"]
            .into_iter()
            .find(|d| Path::new(d).join("ctrl_tcp.so").exists())
            .expect(
                "baresip is not installed: run scripts/test-deps.sh (Debian package baresip-core)",
            );
        let home = dir.join("baresip");
        std::fs::create_dir_all(&home).unwrap();
        let ctrl_port = ports::free_port();
        let config = template("config.in")
            .replace("@CTRL_LISTEN@", &format!("127.0.0.1:{ctrl_port}"))
            .replace("@RTP_PORTS@", &ephemeral_ports())
            .replace("@MODULE_PATH@", modules);
        std::fs::write(home.join("config"), config).unwrap();
        let params = if transport == Transport::Tcp {
            ";transport=tcp"
        } else {
            ""
        };
        let accounts = template("accounts.in")
            .replace("@TANDEM@", &format!("127.0.0.1:{tandem_port}"))
            .replace("@URI_PARAMS@", params);
        std::fs::write(home.join("accounts"), accounts).unwrap();
        std::fs::write(home.join("contacts"), "").unwrap();
        let mut cmd = Command::new("baresip");
        // -s: SIP trace, -v: verbose (both only for failure messages);
        // -t: it quits by itself should the test never get to tell it.
        cmd.arg("-f").arg(&home).args(["-s", "-v", "-t", "55"]);
        Phone {
            proc: Proc::spawn("baresip", cmd),
            ctrl_port,
        }
    }

    /// Connects to ctrl_tcp, waiting for baresip to open it.
    fn control(&self) -> Ctrl {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpStream::connect(("127.0.0.1", self.ctrl_port)) {
                Ok(stream) => {
                    return Ctrl {
                        stream,
                        buf: Vec::new(),
                        backlog: Vec::new(),
                        token: 0,
                    }
                }
                Err(e) if Instant::now() >= deadline => {
                    panic!(
                        "ctrl_tcp 127.0.0.1:{}: {e}; baresip:\n{}",
                        self.ctrl_port,
                        self.proc.output()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// A client for baresip's ctrl_tcp: commands `{"command","params","token"}`
/// out; responses `{"response":true,"ok","data","token"}` and events
/// `{"event":true,"type",...}` in, each framed as a netstring `LEN:JSON,`.
struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Events read while waiting for something else.
    backlog: Vec<Value>,
    token: u32,
}

impl Ctrl {
    fn send(&mut self, command: &str, params: Option<&str>) -> String {
        self.token += 1;
        let token = format!("t{}", self.token);
        let mut msg = serde_json::json!({ "command": command, "token": token });
        if let Some(p) = params {
            msg["params"] = Value::from(p);
        }
        let body = msg.to_string();
        let frame = format!("{}:{body},", body.len());
        self.stream
            .write_all(frame.as_bytes())
            .expect("write to ctrl_tcp");
        token
    }

    /// The next message, or None at `deadline`.
    fn next(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            if let Some(msg) = self.take_frame() {
                return Some(msg);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("ctrl_tcp closed the connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("ctrl_tcp read: {e}"),
            }
        }
    }

    /// One complete netstring from the buffer, parsed.
    fn take_frame(&mut self) -> Option<Value> {
        let colon = self.buf.iter().position(|&b| b == b':')?;
        let len: usize = std::str::from_utf8(&self.buf[..colon])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "bad netstring length: {:?}",
                    String::from_utf8_lossy(&self.buf)
                )
            });
        let end = colon + 1 + len;
        if self.buf.len() <= end {
            return None;
        }
        assert_eq!(self.buf[end], b',', "netstring not closed by ','");
        let msg = serde_json::from_slice(&self.buf[colon + 1..end]).expect("ctrl_tcp JSON");
        self.buf.drain(..=end);
        Some(msg)
    }

    /// Sends a command and returns its response; events met meanwhile are kept.
    fn command(&mut self, command: &str, params: Option<&str>, timeout: Duration) -> Value {
        let token = self.send(command, params);
        let deadline = Instant::now() + timeout;
        while let Some(msg) = self.next(deadline) {
            if msg["response"] == true && msg["token"] == token.as_str() {
                return msg;
            }
            if msg["event"] == true {
                self.backlog.push(msg);
            }
        }
        panic!("no response to {command} within {timeout:?}");
    }

    /// Waits for the event of this `type`; other events are kept for later.
    fn wait_event(&mut self, kind: &str, timeout: Duration, phone: &Phone) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.backlog.iter().position(|e| e["type"] == kind) {
                return self.backlog.remove(i);
            }
            match self.next(deadline) {
                Some(msg) if msg["event"] == true => self.backlog.push(msg),
                Some(_) => {}
                None => panic!(
                    "no {kind} event within {timeout:?}; events: {:#?}; baresip:\n{}",
                    self.backlog,
                    phone.proc.output()
                ),
            }
        }
    }

    /// Polls `reginfo` until baresip's one account shows OK.
    fn wait_registered(&mut self, timeout: Duration, phone: &Phone, tandem: &Proc) {
        let deadline = Instant::now() + timeout;
        let mut info = Value::Null;
        while Instant::now() < deadline {
            info = self.command("reginfo", None, Duration::from_secs(5));
            // "> sip:1000@127.0.0.1:PORT   ESC[32mOK ESC[;m tandem/0.1.0 Expires 600s"
            // or, once a registration failed, "... ESC[31mERR ESC[;m  Expires 0s".
            let data = info["data"].as_str().unwrap_or_default();
            let line = data
                .lines()
                .find(|l| l.contains("sip:1000@"))
                .unwrap_or_default();
            if line.contains("OK") {
                return;
            }
            if line.contains("ERR") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "baresip not registered (within {timeout:?}): {info}\nbaresip:\n{}\ntandem:\n{}",
            phone.proc.output(),
            tandem.output()
        );
    }
}
