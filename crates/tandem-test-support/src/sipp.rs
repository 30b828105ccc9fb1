//! Running SIPp (Debian `sip-tester`) from tests: bounded in calls and
//! time, with its final statistics read back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What a SIPp run reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SippResult {
    /// Calls that completed the scenario.
    pub successful: u64,
    /// Calls that failed.
    pub failed: u64,
    /// Retransmissions SIPp had to make.
    pub retransmissions: u64,
    /// SIPp's output, for failure messages.
    pub output: String,
}

/// The scenario files under `testdata/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    crate::golden::testdata_dir().join("sipp").join(name)
}

/// Whether `sipp` is installed.
pub fn available() -> bool {
    Command::new("sipp").arg("-v").output().is_ok()
}

/// A SIPp running in the background (a UAS, or a UAC to wait for later).
pub struct Running {
    child: Option<std::process::Child>,
    stats: PathBuf,
    output: PathBuf,
}

/// Starts SIPp with `scenario` (against `target`, if it is a UAC) and
/// `extra` arguments; it is killed after `limit` at the latest.
pub fn spawn(scenario: &Path, target: Option<&str>, extra: &[&str], limit: Duration) -> Running {
    assert!(
        available(),
        "sipp is not installed: run scripts/test-deps.sh (Debian package sip-tester)"
    );
    let stats = tempfile_path("sipp-stats");
    let output = tempfile_path("sipp-out");
    let out_file = std::fs::File::create(&output).expect("sipp output file");
    let err_file = out_file.try_clone().expect("sipp output file");
    let mut cmd = Command::new("timeout");
    cmd.arg(format!("{}", limit.as_secs().max(1)))
        .arg("sipp")
        .arg("-sf")
        .arg(scenario);
    if let Some(t) = target {
        cmd.arg(t);
    }
    cmd.args(["-i", "127.0.0.1", "-nostdin"])
        .args(extra)
        .args(["-trace_stat", "-stf"])
        .arg(&stats)
        .args(["-fd", "1"])
        .stdout(out_file)
        .stderr(err_file);
    let child = cmd.spawn().expect("run sipp");
    Running {
        child: Some(child),
        stats,
        output,
    }
}

impl Running {
    /// Waits for SIPp to finish and reads its statistics.
    pub fn wait(mut self) -> SippResult {
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        let csv = std::fs::read_to_string(&self.stats).unwrap_or_default();
        let output = std::fs::read_to_string(&self.output).unwrap_or_default();
        parse_stats(&csv, output)
    }
}

impl Running {
    /// Stops a SIPp that would go on (a UAS without `-m`) and reads its
    /// statistics: the last dump (`-fd 1`: every second) counts its calls.
    pub fn stop(mut self) -> SippResult {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
        let csv = std::fs::read_to_string(&self.stats).unwrap_or_default();
        let output = std::fs::read_to_string(&self.output).unwrap_or_default();
        parse_stats(&csv, output)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM to `timeout`, which passes it on to SIPp.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.stats);
        let _ = std::fs::remove_file(&self.output);
    }
}

/// Runs SIPp with `scenario` against `target` (`127.0.0.1:5060`), with
/// `extra` arguments, killed if it runs longer than `limit`.
pub fn run(scenario: &Path, target: &str, extra: &[&str], limit: Duration) -> SippResult {
    spawn(scenario, Some(target), extra, limit).wait()
}

/// Registers `user` with `password` from local port `port`
/// (`uas_register.xml`, expires 3600), as a phone that then takes its
/// calls on that port does.
pub fn register(target: &str, user: &str, password: &str, port: u16) -> SippResult {
    let p = port.to_string();
    run(
        &scenario("uas_register.xml"),
        target,
        &[
            "-p",
            &p,
            "-s",
            user,
            "-ap",
            password,
            "-key",
            "expires",
            "3600",
            "-m",
            "1",
            "-recv_timeout",
            "5000",
        ],
        Duration::from_secs(15),
    )
}

/// Who calls whom in [`call`]: an extension with the password
/// `pw-<caller>` (the tests' convention), from local port `port`, to
/// `callee`; `auth_uri` is the digest uri (the Request-URI's user@host).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// Local SIPp port.
    pub port: &'a str,
    /// The extension calling (its password is `pw-<caller>`).
    pub caller: &'a str,
    /// The user called (`-s`).
    pub callee: &'a str,
    /// `-auth_uri`.
    pub auth_uri: &'a str,
}

/// Runs `scenario` (`uac_auth.xml`, `uac_auth_domain.xml`...) as an
/// authenticated caller against `target`, with `extra` arguments.
pub fn call(
    scenario_name: &str,
    target: &str,
    who: &Caller<'_>,
    extra: &[&str],
    limit: Duration,
) -> SippResult {
    let password = format!("pw-{}", who.caller);
    let mut args = vec![
        "-p",
        who.port,
        "-s",
        who.callee,
        "-key",
        "caller",
        who.caller,
        "-au",
        who.caller,
        "-ap",
        &password,
        "-auth_uri",
        who.auth_uri,
    ];
    args.extend_from_slice(extra);
    run(&scenario(scenario_name), target, &args, limit)
}

fn tempfile_path(prefix: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("{prefix}-{}-{n}.csv", std::process::id()))
}

/// Reads the last line of SIPp's `-trace_stat` CSV.
fn parse_stats(csv: &str, output: String) -> SippResult {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return SippResult {
            output,
            ..SippResult::default()
        };
    };
    let Some(last) = lines.next_back() else {
        return SippResult {
            output,
            ..SippResult::default()
        };
    };
    let names: Vec<&str> = header.split(';').collect();
    let values: Vec<&str> = last.split(';').collect();
    let get = |name: &str| -> u64 {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get(i))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    SippResult {
        successful: get("SuccessfulCall(C)"),
        failed: get("FailedCall(C)"),
        retransmissions: get("Retransmissions(C)"),
        output,
    }
}
