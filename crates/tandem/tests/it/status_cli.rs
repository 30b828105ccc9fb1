//! `tandem status` and `tandem calls` against a running node's admin API,
//! with credentials from the environment and the address from the config.

use crate::node::{self, TempDir};
use std::process::Command;
use tandem_test_support::ports;

fn tandem(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .env_remove("TANDEM_API_URL")
        .env_remove("TANDEM_API_TOKEN")
        .env_remove("TANDEM_API_USER")
        .env_remove("TANDEM_API_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn status_and_calls_speak_to_the_api() {
    let dir = TempDir::new("status-cli");
    let (sip, http) = (ports::free_port(), ports::free_port());
    let toml = format!(
        "[node]\nname = \"cli\"\nshutdown_grace_secs = 1\n\n\
         [sip]\nlisten = [\"udp:127.0.0.1:{sip}\"]\n\n\
         [storage]\npath = \"tandem.db\"\n\n\
         [admin]\nlisten = \"127.0.0.1:{http}\"\n\n\
         [[extensions]]\nnumber = \"1000\"\npassword = \"pw-1000\"\n"
    );
    let config = dir.0.join("tandem.toml");
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();
    let tandem_proc = node::start(&["--config", config]);
    // stderr (the password) and stdout (the banner's last line) are read
    // apart: wait for the password itself.
    let waited = std::time::Instant::now();
    let mut output = tandem_proc.output();
    while !output.contains("password:") && waited.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        output = tandem_proc.output();
    }
    let password = output
        .lines()
        .find(|l| l.contains("password:"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no password in the banner:\n{output}"))
        .to_owned();
    let creds = [
        ("TANDEM_API_USER", "admin"),
        ("TANDEM_API_PASSWORD", password.as_str()),
    ];

    let (ok, out, err) = tandem(&["status", "-c", config], &creds);
    assert!(ok, "{err}");
    assert!(out.starts_with("node cli"), "{out}");
    assert!(out.contains("extensions 1"), "{out}");
    assert!(out.contains("standalone"), "{out}");
    let (ok, out, err) = tandem(&["status", "-c", config, "--json"], &creds);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["node"], "cli");
    assert_eq!(v["counts"]["extensions"], 1);
    let (ok, out, err) = tandem(&["calls", "-c", config], &creds);
    assert!(ok, "{err}");
    assert!(out.contains("no calls in progress"), "{out}");
    // The URL from the environment, and wrong credentials.
    let url = format!("http://127.0.0.1:{http}");
    let (ok, _, err) = tandem(
        &["calls", "--json"],
        &[
            ("TANDEM_API_URL", url.as_str()),
            ("TANDEM_API_USER", "admin"),
            ("TANDEM_API_PASSWORD", "wrong"),
        ],
    );
    assert!(!ok);
    assert!(err.contains("401"), "{err}");
    let (ok, _, err) = tandem(&["status", "-c", config], &[]);
    assert!(!ok);
    assert!(err.contains("TANDEM_API_TOKEN"), "{err}");
}
