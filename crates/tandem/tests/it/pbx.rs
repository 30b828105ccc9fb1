//! The single-node PBX end to end with SIPp as phones: digest
//! registration, calls with authentication, CANCEL, forking, kill -9 and
//! restart, wrong passwords, replayed nonces and password scanners.

use crate::node::{self, TempDir};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::Duration;
use tandem_sip::{HeaderName, Message, ParseOptions};
use tandem_test_support::process::{Proc, Signal};
use tandem_test_support::{ports, sipp};

/// A tandem with extensions 1000..1019 on fresh state.
struct Pbx {
    dir: TempDir,
    port: u16,
    config: PathBuf,
    proc: Option<Proc>,
}

impl Pbx {
    fn start(tag: &str, extra: &str) -> Pbx {
        let dir = TempDir::new(tag);
        let port = ports::free_port();
        let mut toml = format!(
            "[node]\nname = \"{tag}\"\nshutdown_grace_secs = 1\n\n[sip]\nlisten = [\"udp:127.0.0.1:{port}\", \"tcp:127.0.0.1:{port}\"]\n\n[pbx]\ndomain = \"127.0.0.1\"\nrealm = \"tandem\"\n\n[storage]\npath = \"state.db\"\n\n{extra}\n"
        );
        for n in 1000..1020 {
            toml.push_str(&format!(
                "[[extensions]]\nnumber = \"{n}\"\npassword = \"pw-{n}\"\n\n"
            ));
        }
        let config = dir.0.join("tandem.toml");
        std::fs::write(&config, toml).unwrap();
        let proc = Some(node::start(&["--config", config.to_str().unwrap()]));
        Pbx {
            dir,
            port,
            config,
            proc,
        }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        self.proc = Some(node::start(&["--config", self.config.to_str().unwrap()]));
    }

    fn kill9(&mut self) {
        let mut p = self.proc.take().unwrap();
        p.signal(Signal::SIGKILL);
        p.wait_exit(Duration::from_secs(5)).expect("killed");
    }

    fn cdrs(&self) -> Vec<serde_json::Value> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args([
                "cdr",
                "list",
                "--format",
                "jsonl",
                "-c",
                self.config.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn output(&self) -> String {
        self.proc.as_ref().map(|p| p.output()).unwrap_or_default()
    }
}

fn s(name: &str) -> PathBuf {
    sipp::scenario(name)
}

/// Registers a SIPp callee as `user` from `port` (then it can serve calls there).
fn register_callee(pbx: &Pbx, user: &str, port: u16) {
    let r = sipp::register(&pbx.target(), user, &format!("pw-{user}"), port);
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "register {user}: {}\n{}",
        r.output,
        pbx.output()
    );
}

fn caller_args<'a>(
    pbx_target: &'a str,
    auth_uri: &'a str,
    port: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut v = vec![
        "-p",
        port,
        "-s",
        "1001",
        "-key",
        "caller",
        "1000",
        "-au",
        "1000",
        "-ap",
        "pw-1000",
        "-auth_uri",
        auth_uri,
        "-recv_timeout",
        "5000",
    ];
    v.extend_from_slice(extra);
    let _ = pbx_target;
    v
}

#[test]
fn register_call_and_cancel_with_digest_auth() {
    let pbx = Pbx::start("calls", "");
    let target = pbx.target();
    let auth_uri = format!("1001@{target}");
    let (uas_port, uac_port) = (ports::free_port(), ports::free_port());
    let (uas_p, uac_p) = (uas_port.to_string(), uac_port.to_string());

    // Ten distinct users register with digest auth.
    let users = pbx.dir.0.join("users.csv");
    let mut csv = String::from("SEQUENTIAL\n");
    for n in 1010..1020 {
        csv.push_str(&format!(
            "{n};pw-{n};[authentication username={n} password=pw-{n}]\n"
        ));
    }
    std::fs::write(&users, csv).unwrap();
    let reg_port = ports::free_port().to_string();
    let r = sipp::run(
        &s("register_auth.xml"),
        &target,
        &[
            "-p",
            &reg_port,
            "-inf",
            users.to_str().unwrap(),
            "-key",
            "expires",
            "3600",
            "-m",
            "10",
            "-r",
            "20",
            "-recv_timeout",
            "5000",
        ],
        Duration::from_secs(20),
    );
    assert_eq!((r.successful, r.failed), (10, 0), "{}", r.output);

    // Calls: INVITE, 407, INVITE with credentials, 180, 200, ACK, BYE.
    register_callee(&pbx, "1001", uas_port);
    let uas = sipp::spawn(
        &s("uas.xml"),
        None,
        &["-p", &uas_p, "-m", "20", "-recv_timeout", "10000"],
        Duration::from_secs(40),
    );
    let r = sipp::run(
        &s("uac_auth.xml"),
        &target,
        &caller_args(
            &target,
            &auth_uri,
            &uac_p,
            &["-d", "200", "-m", "20", "-r", "10"],
        ),
        Duration::from_secs(40),
    );
    assert_eq!(
        (r.successful, r.failed),
        (20, 0),
        "caller: {}\n{}",
        r.output,
        pbx.output()
    );
    let u = uas.wait();
    assert_eq!((u.successful, u.failed), (20, 0), "callee: {}", u.output);

    // CANCEL while it rings.
    let uas = sipp::spawn(
        &s("uas_ring_cancel.xml"),
        None,
        &["-p", &uas_p, "-m", "5", "-recv_timeout", "10000"],
        Duration::from_secs(40),
    );
    let r = sipp::run(
        &s("uac_cancel.xml"),
        &target,
        &caller_args(&target, &auth_uri, &uac_p, &["-m", "5", "-r", "5"]),
        Duration::from_secs(40),
    );
    assert_eq!((r.successful, r.failed), (5, 0), "caller: {}", r.output);
    assert_eq!(uas.wait().failed, 0);

    let cdrs = pbx.cdrs();
    let answered = cdrs
        .iter()
        .filter(|c| c["end_cause"] == "answered" && c["caller"] == "1000" && c["callee"] == "1001")
        .count();
    let cancelled = cdrs
        .iter()
        .filter(|c| c["end_cause"] == "cancelled" && c["hangup_by"] == "caller")
        .count();
    assert_eq!((answered, cancelled), (20, 5), "{cdrs:#?}");
    assert!(cdrs
        .iter()
        .filter(|c| c["end_cause"] == "answered")
        .all(|c| c["duration_ms"].as_u64().unwrap() >= 150));
}

#[test]
fn forks_to_every_contact_and_cancels_the_others() {
    let pbx = Pbx::start("fork", "");
    let target = pbx.target();
    let auth_uri = format!("1001@{target}");
    let (a, b, c) = (
        ports::free_port(),
        ports::free_port(),
        ports::free_port().to_string(),
    );
    register_callee(&pbx, "1001", a);
    register_callee(&pbx, "1001", b);
    let (ap, bp) = (a.to_string(), b.to_string());
    // One phone answers, the other only rings and must get a CANCEL.
    let answers = sipp::spawn(
        &s("uas.xml"),
        None,
        &["-p", &ap, "-m", "1", "-recv_timeout", "10000"],
        Duration::from_secs(30),
    );
    let rings = sipp::spawn(
        &s("uas_ring_cancel.xml"),
        None,
        &["-p", &bp, "-m", "1", "-recv_timeout", "10000"],
        Duration::from_secs(30),
    );
    let r = sipp::run(
        &s("uac_auth.xml"),
        &target,
        &caller_args(&target, &auth_uri, &c, &["-d", "300", "-m", "1"]),
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "caller: {}\n{}",
        r.output,
        pbx.output()
    );
    let x = answers.wait();
    let y = rings.wait();
    assert_eq!(
        (x.successful, x.failed),
        (1, 0),
        "answering phone: {}",
        x.output
    );
    assert_eq!(
        (y.successful, y.failed),
        (1, 0),
        "ringing phone (CANCEL expected): {}",
        y.output
    );
}

#[test]
fn registrations_and_calls_survive_kill_9_and_restart() {
    let mut pbx = Pbx::start("restart", "");
    let target = pbx.target();
    let auth_uri = format!("1001@{target}");
    let (uas_port, uac_port) = (ports::free_port(), ports::free_port());
    let (uas_p, uac_p) = (uas_port.to_string(), uac_port.to_string());
    register_callee(&pbx, "1001", uas_port);
    let uas = sipp::spawn(
        &s("uas.xml"),
        None,
        &["-p", &uas_p, "-m", "2", "-recv_timeout", "20000"],
        Duration::from_secs(60),
    );
    // A call that lasts 6 s: tandem dies and comes back during it.
    let call = sipp::spawn(
        &s("uac_auth.xml"),
        Some(&target),
        &caller_args(&target, &auth_uri, &uac_p, &["-d", "6000", "-m", "1"]),
        Duration::from_secs(40),
    );
    std::thread::sleep(Duration::from_millis(2000));
    pbx.kill9();
    pbx.restart();
    let r = call.wait();
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "the BYE after the restart: {}\n{}",
        r.output,
        pbx.output()
    );
    // The registration survived: a new call reaches 1001 without it registering again.
    let r = sipp::run(
        &s("uac_auth.xml"),
        &target,
        &caller_args(&target, &auth_uri, &uac_p, &["-d", "100", "-m", "1"]),
        Duration::from_secs(30),
    );
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "call after restart: {}\n{}",
        r.output,
        pbx.output()
    );
    assert_eq!(uas.wait().successful, 2);
    let answered = pbx
        .cdrs()
        .iter()
        .filter(|c| c["end_cause"] == "answered")
        .count();
    assert_eq!(
        answered, 2,
        "one CDR per call, including the one that spanned the restart"
    );
}

/// A REGISTER for `user` with the given Authorization (or none).
fn register(user: &str, n: u32, auth: Option<&str>, port: u16) -> Vec<u8> {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKreg{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=r{n}\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg-{user}\r\nCSeq: {n} REGISTER\r\nContact: <sip:{user}@127.0.0.1:9>\r\n{auth}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn ask(socket: &UdpSocket, target: &str, bytes: &[u8]) -> Message {
    socket.send_to(bytes, target).unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = socket.recv_from(&mut buf).expect("an answer");
    Message::parse(buf[..n].to_vec(), &ParseOptions::default()).unwrap()
}

fn credentials(user: &str, password: &str, nonce: &str, nc: u32, port: u16) -> String {
    use tandem_pbx::Algorithm::Md5;
    let uri = format!("sip:127.0.0.1:{port}");
    let ha1 = Md5.ha1(user, "tandem", password);
    let ha2 = Md5.hash(&format!("REGISTER:{uri}"));
    let nc = format!("{nc:08x}");
    let response = Md5.hash(&format!("{ha1}:{nonce}:{nc}:cafe:auth:{ha2}"));
    format!("Digest username=\"{user}\", realm=\"tandem\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"cafe\"")
}

fn nonce_of(challenge: &Message) -> String {
    let h = challenge
        .auth_headers(HeaderName::WwwAuthenticate)
        .next()
        .unwrap()
        .unwrap();
    h.param("nonce").unwrap().into_owned()
}

#[test]
fn wrong_passwords_replays_and_scanners() {
    let pbx = Pbx::start(
        "auth",
        "[auth]\nfailures_max = 5\nfailures_window_secs = 60\nblock_secs = 60\n",
    );
    let target = pbx.target();
    let port = pbx.port;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();

    // A correct password is accepted; the same credentials again are a replay.
    let challenge = ask(&socket, &target, &register("1000", 1, None, port));
    assert_eq!(challenge.status(), Some(401));
    let nonce = nonce_of(&challenge);
    let ok = ask(
        &socket,
        &target,
        &register(
            "1000",
            2,
            Some(&credentials("1000", "pw-1000", &nonce, 1, port)),
            port,
        ),
    );
    assert_eq!(ok.status(), Some(200), "{ok}");
    let replay = ask(
        &socket,
        &target,
        &register(
            "1000",
            3,
            Some(&credentials("1000", "pw-1000", &nonce, 1, port)),
            port,
        ),
    );
    assert_eq!(
        replay.status(),
        Some(401),
        "a replayed nonce count is challenged again"
    );
    let next = ask(
        &socket,
        &target,
        &register(
            "1000",
            4,
            Some(&credentials("1000", "pw-1000", &nonce, 2, port)),
            port,
        ),
    );
    assert_eq!(next.status(), Some(200), "the next count is fine");

    // Credentials of another user for this AoR: refused.
    let other = ask(
        &socket,
        &target,
        &register(
            "1001",
            5,
            Some(&credentials("1000", "pw-1000", &nonce, 3, port)),
            port,
        ),
    );
    assert_eq!(other.status(), Some(403));

    // A scanner: wrong passwords from one address get it blocked.
    let scanner = UdpSocket::bind("127.0.0.2:0").unwrap();
    scanner
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut statuses = vec![];
    for i in 0..8u32 {
        let c = ask(
            &scanner,
            &target,
            &register("1002", 100 + 2 * i, None, port),
        );
        let n = nonce_of_or_blocked(&c);
        let Some(n) = n else {
            statuses.push(c.status().unwrap());
            continue;
        };
        let r = ask(
            &scanner,
            &target,
            &register(
                "1002",
                101 + 2 * i,
                Some(&credentials("1002", &format!("guess{i}"), &n, 1, port)),
                port,
            ),
        );
        statuses.push(r.status().unwrap());
    }
    assert!(statuses[..4].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(
        statuses[4..].iter().all(|s| *s == 403),
        "blocked after 5 failures: {statuses:?}"
    );
    // The honest phone on another address is not affected.
    let still = ask(
        &socket,
        &target,
        &register(
            "1000",
            40,
            Some(&credentials("1000", "pw-1000", &nonce, 9, port)),
            port,
        ),
    );
    assert_eq!(still.status(), Some(200));
    assert!(
        pbx.output().contains("blocking source"),
        "a log line says who was blocked"
    );
}

fn nonce_of_or_blocked(m: &Message) -> Option<String> {
    (m.status() == Some(401)).then(|| nonce_of(m))
}

#[test]
fn a_flood_of_registers_from_one_source_loses_nothing() {
    let pbx = Pbx::start("flood", "");
    let target = pbx.target();
    let users = pbx.dir.0.join("users.csv");
    let mut csv = String::from("SEQUENTIAL\n");
    for n in 1000..1020 {
        csv.push_str(&format!(
            "{n};pw-{n};[authentication username={n} password=pw-{n}]\n"
        ));
    }
    std::fs::write(&users, csv).unwrap();
    let p = ports::free_port().to_string();
    let r = sipp::run(
        &s("register_auth.xml"),
        &target,
        &[
            "-p",
            &p,
            "-inf",
            users.to_str().unwrap(),
            "-key",
            "expires",
            "3600",
            "-m",
            "2000",
            "-r",
            "1000",
            "-recv_timeout",
            "5000",
        ],
        Duration::from_secs(40),
    );
    assert_eq!((r.successful, r.failed), (2000, 0), "{}", r.output);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["ext", "list", "--json", "-c", pbx.config.to_str().unwrap()])
        .output()
        .unwrap();
    let registered = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"contact\""))
        .count();
    assert_eq!(registered, 20, "every user's binding is stored");
}
