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

/// Runs SIPp with `scenario` against `target` (`127.0.0.1:5060`), with
/// `extra` arguments, killed if it runs longer than `limit`.
pub fn run(scenario: &Path, target: &str, extra: &[&str], limit: Duration) -> SippResult {
    assert!(
        available(),
        "sipp is not installed: run scripts/test-deps.sh (Debian package sip-tester)"
    );
    let stats = tempfile_path("sipp-stats");
    let out = Command::new("timeout")
        .arg(format!("{}", limit.as_secs().max(1)))
        .arg("sipp")
        .arg("-sf")
        .arg(scenario)
        .arg(target)
        .args(
            ["-i", "127.0.0.1", "-nostdin", "-bg"]
                .iter()
                .filter(|a| **a != "-bg"),
        )
        .args(extra)
        .args(["-trace_stat", "-stf"])
        .arg(&stats)
        .args(["-fd", "1"])
        .output()
        .expect("run sipp");
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(&stats).unwrap_or_default();
    let _ = std::fs::remove_file(&stats);
    parse_stats(&csv, output)
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
