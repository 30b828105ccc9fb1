//! A real browser phone: two JsSIP user agents in headless Chromium
//! (tests/browser/jssip_call.mjs, driven by playwright-core) register to
//! tandem over WebSocket (RFC 7118), call each other with WebRTC media,
//! hang up, and cancel a ringing call; tandem's CDRs must tell the same.
//!
//! tandem, Node and Chromium run in a network namespace of their own that
//! has only a loopback interface, so that ICE can only ever pair loopback
//! addresses: media never touches any other address of the machine.
//! Needs (scripts/test-deps.sh installs them): Debian's `chromium`, Node.js
//! 20+ with npm (`nodejs`), `ip` (`iproute2`), and root for the namespace.
//! The npm packages come from tests/browser/package-lock.json
//! (tests/browser/install.sh); no browser is ever downloaded.

use crate::node::TempDir;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tandem_test_support::ports;
use tandem_test_support::process::Proc;

const CHROMIUM: &str = "/usr/bin/chromium";
const NETNS_PREFIX: &str = "tandem-browser-";

pub(crate) fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/browser")
        .canonicalize()
        .expect("tests/browser exists")
}

/// Fails (never skips) when a tool the test drives is missing.
fn require_tools() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "browser test: {CHROMIUM} not found: install the Debian package `chromium` \
         (apt-get install -y chromium; scripts/test-deps.sh does)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        matches!(&node, Ok(o) if o.status.success()),
        "browser test: `node` not found: install Node.js 20+ with npm \
         (the package `nodejs`; scripts/test-deps.sh does): {node:?}"
    );
    let ip = Command::new("ip").arg("-V").output();
    assert!(
        matches!(&ip, Ok(o) if o.status.success()),
        "browser test: `ip` not found: install the Debian package `iproute2`: {ip:?}"
    );
}

/// Runs a short command to completion, returning its stdout; panics with
/// its output if it fails.
fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with only `lo` (up). Dropping it kills what still
/// runs inside (processes this test started there) and deletes it.
struct NetNs(String);

impl NetNs {
    fn new() -> NetNs {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        Self::remove_stale();
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{NETNS_PREFIX}{}-{n}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        match out {
            Ok(o) if o.status.success() => {}
            other => panic!(
                "browser test: cannot create network namespace {name} ({other:?}); the test \
                 runs tandem, Node and Chromium in a namespace with only a loopback interface \
                 and needs root and `ip` (Debian package iproute2)"
            ),
        }
        let ns = NetNs(name);
        run(
            "ip link set lo up",
            Command::new("ip").args(["-n", &ns.0, "link", "set", "lo", "up"]),
        );
        ns
    }

    /// Namespaces left by a test process that no longer runs (killed
    /// before its drops ran).
    fn remove_stale() {
        let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
            return;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            let Some(rest) = name.strip_prefix(NETNS_PREFIX) else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or("");
            if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
                NetNs(name.to_owned()).kill_all();
                let _ = Command::new("ip").args(["netns", "delete", name]).status();
            }
        }
    }

    /// `program` run inside the namespace.
    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).arg(program);
        cmd
    }

    fn kill_all(&self) {
        let Ok(out) = Command::new("ip").args(["netns", "pids", &self.0]).output() else {
            return;
        };
        let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        self.kill_all();
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

fn write_config(dir: &Path, udp_port: u16, ws_port: u16) -> PathBuf {
    // As examples/demo.toml, on other ports, with a fresh database. The
    // [auth] section is left at its defaults on purpose: a browser phone
    // must register against the configuration users get.
    let mut toml = format!(
        "[node]\nname = \"browser-test\"\nshutdown_grace_secs = 1\n\n\
         [sip]\nlisten = [\"udp:127.0.0.1:{udp_port}\", \"ws:127.0.0.1:{ws_port}\"]\n\n\
         [pbx]\ndomain = \"127.0.0.1\"\nrealm = \"tandem\"\n\n\
         [storage]\nbackend = \"embedded\"\npath = \"tandem.db\"\n"
    );
    for n in 1000..=1009 {
        toml.push_str(&format!(
            "\n[[extensions]]\nnumber = \"{n}\"\npassword = \"pw-{n}\"\n"
        ));
    }
    let path = dir.join("tandem.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// `tandem cdr list --format jsonl`, parsed.
fn cdrs(config: &Path) -> Vec<serde_json::Value> {
    let out = run(
        "tandem cdr list",
        Command::new(env!("CARGO_BIN_EXE_tandem")).args([
            "cdr",
            "list",
            "-c",
            config.to_str().unwrap(),
            "--format",
            "jsonl",
        ]),
    );
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("CDR line {l:?}: {e}")))
        .collect()
}

/// `tandem ext list --json`, parsed.
fn extensions(config: &Path) -> Vec<serde_json::Value> {
    let out = run(
        "tandem ext list",
        Command::new(env!("CARGO_BIN_EXE_tandem")).args([
            "ext",
            "list",
            "-c",
            config.to_str().unwrap(),
            "--json",
        ]),
    );
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("ext line {l:?}: {e}")))
        .collect()
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `timeout`
/// (the store is another process's: there is no event to await).
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Installs the npm packages: a no-op when node_modules matches the lock
/// file.
pub(crate) fn install_npm_packages(browser: &Path) {
    let mut cmd = Command::new("bash");
    cmd.arg(browser.join("install.sh"));
    let mut install = Proc::spawn("tests/browser/install.sh", cmd);
    match install.wait_exit(Duration::from_secs(300)) {
        Some(s) if s.success() => {}
        other => panic!(
            "tests/browser/install.sh failed ({other:?}):\n{}",
            install.output()
        ),
    }
}

/// Runs jssip_call.mjs in `ns` against `ws_url` and returns its JSON report,
/// panicking with its output and `context` if it failed.
fn run_phones(
    ns: &NetNs,
    browser: &Path,
    ws_url: &str,
    context: &dyn Fn() -> String,
) -> serde_json::Value {
    let mut cmd = ns.command("node");
    cmd.arg(browser.join("jssip_call.mjs"))
        .arg(ws_url)
        .current_dir(browser)
        .env("CHROMIUM", CHROMIUM);
    let mut node = Proc::spawn("jssip_call.mjs", cmd);
    let output = |node: &Proc| {
        format!(
            "\n--- jssip_call.mjs output ---\n{}{}",
            node.output(),
            context()
        )
    };
    // The script bounds itself to 60 s, then takes up to 5 s to close.
    let Some(status) = node.wait_exit(Duration::from_secs(90)) else {
        panic!("jssip_call.mjs did not exit within 90 s{}", output(&node));
    };
    // Its last stdout line is the report (the pipes may still be draining).
    let line = node.wait_for_line("{\"ok\":", Duration::from_secs(10));
    let report: serde_json::Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("report {line:?}: {e}{}", output(&node)));
    assert!(
        status.success() && report["ok"] == true,
        "jssip_call.mjs failed ({status}): {}{}",
        report["error"],
        output(&node)
    );
    report
}

/// What the browsers saw.
fn check_report(report: &serde_json::Value) {
    let both = serde_json::json!(["1000", "1001"]);
    let media = &report["media"];
    for (ok, what) in [
        (report["registered"] == both, "both registered"),
        (report["confirmed"] == true, "call confirmed on both sides"),
        (report["ended_by"] == "caller", "hung up by the caller"),
        // JsSIP's C.causes.BYE is "Terminated".
        (report["ended_cause"] == "Terminated", "callee ended by BYE"),
        (report["cancel_ok"] == true, "ringing call cancelled"),
        (
            report["cancel_cause"] == "Canceled",
            "callee failed Canceled",
        ),
        (report["unregistered"] == both, "both unregistered"),
        (media["isolated"] == true, "Chromium sees only loopback"),
        (media["connected"] == true, "ICE and DTLS connected"),
        (media["audio_both_ways"] == true, "RTP both ways"),
        (media["loopback_only"] == true, "media on loopback"),
    ] {
        assert!(ok, "browser report: {what}: {report:#}");
    }
}

/// tandem's CDRs: one answered call hung up by the caller, one cancelled.
fn check_cdrs(config: &Path, report: &serde_json::Value, context: &dyn Fn() -> String) {
    let records = poll(Duration::from_secs(10), || {
        let r = cdrs(config);
        (r.len() >= 2).then_some(r)
    })
    .unwrap_or_else(|| panic!("expected 2 CDRs, got {:#?}{}", cdrs(config), context()));
    assert_eq!(records.len(), 2, "{records:#?}");
    let find = |call: &str| {
        let id = report["call_ids"][call].as_str().unwrap();
        records
            .iter()
            .find(|c| c["call_id"] == id)
            .unwrap_or_else(|| panic!("no CDR for the {call} call {id}: {records:#?}"))
    };
    let answered = find("answered");
    assert_eq!(answered["caller"], "1000", "{answered:#}");
    assert_eq!(answered["callee"], "1001", "{answered:#}");
    assert_eq!(answered["end_cause"], "answered", "{answered:#}");
    assert_eq!(answered["status"], 200, "{answered:#}");
    assert_eq!(answered["hangup_by"], "caller", "{answered:#}");
    assert!(answered["answer_ms"].is_u64(), "{answered:#}");
    // Held ~2 s between the browsers' 'confirmed' and the BYE.
    let talk = answered["duration_ms"].as_u64().unwrap();
    assert!((1500..30_000).contains(&talk), "{answered:#}");
    let cancelled = find("cancelled");
    assert_eq!(cancelled["caller"], "1000", "{cancelled:#}");
    assert_eq!(cancelled["callee"], "1001", "{cancelled:#}");
    assert_eq!(cancelled["end_cause"], "cancelled", "{cancelled:#}");
    assert_eq!(cancelled["status"], 487, "{cancelled:#}");
    assert_eq!(cancelled["hangup_by"], "caller", "{cancelled:#}");
    assert!(cancelled["answer_ms"].is_null(), "{cancelled:#}");
    assert_eq!(cancelled["duration_ms"], 0, "{cancelled:#}");
}

/// Both phones unregistered on the way out: no contact left.
fn check_unregistered(config: &Path) {
    let has_contacts = |e: &serde_json::Value| {
        (e["number"] == "1000" || e["number"] == "1001")
            && e["contacts"].as_array().is_some_and(|c| !c.is_empty())
    };
    let gone = poll(Duration::from_secs(10), || {
        (!extensions(config).iter().any(has_contacts)).then_some(())
    });
    assert!(
        gone.is_some(),
        "contacts left after unregistering: {:#?}",
        extensions(config)
    );
}

#[test]
fn jssip_in_chromium_registers_and_calls_over_websocket() {
    let started = Instant::now();
    require_tools();
    let browser = browser_dir();
    install_npm_packages(&browser);

    // Declared first: dropped last, after the processes inside.
    let ns = NetNs::new();
    let dir = TempDir::new("browser");
    let (udp_port, ws_port) = (ports::free_port(), ports::free_port());
    let config = write_config(&dir.0, udp_port, ws_port);
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_tandem"));
    cmd.args(["run", "--config", config.to_str().unwrap()]).env(
        "TANDEM_LOG",
        std::env::var("TANDEM_LOG").unwrap_or_else(|_| "info".into()),
    );
    let tandem = Proc::spawn("tandem", cmd);
    tandem.wait_for_line("stop with Ctrl-C", Duration::from_secs(20));
    let context = || format!("\n--- tandem output ---\n{}", tandem.output());

    let t_node = Instant::now();
    let report = run_phones(
        &ns,
        &browser,
        &format!("ws://127.0.0.1:{ws_port}"),
        &context,
    );
    let node_secs = t_node.elapsed().as_secs_f64();
    check_report(&report);
    check_cdrs(&config, &report, &context);
    check_unregistered(&config);

    eprintln!(
        "browser test: {:.1} s in all, jssip_call.mjs {node_secs:.1} s, timings {}, media {}",
        started.elapsed().as_secs_f64(),
        report["timings_ms"],
        report["media"]["caller"]["pair"]
    );
}
