//! The web dashboard in headless Chromium (tests/browser/dashboard.mjs,
//! driven by playwright-core): a `tandem run` with `[admin]` prints its
//! generated admin password once; the browser signs in with it, sees the
//! node in the cluster view and the live counts, and creates an extension
//! from the UI; a SIPp phone then registers with that extension.
//! With TANDEM_SCREENSHOTS=1 the pages' screenshots go to docs/screenshots/.
//! Needs Debian's `chromium` and Node.js 20+ (scripts/test-deps.sh).

use crate::browser::{browser_dir, install_npm_packages};
use crate::node::{self, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tandem_test_support::process::Proc;
use tandem_test_support::{ports, sipp};

const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn dashboard_signs_in_shows_the_node_and_creates_an_extension() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "dashboard test: {CHROMIUM} not found: install the Debian package `chromium` (scripts/test-deps.sh)"
    );
    let browser = browser_dir();
    install_npm_packages(&browser);
    let dir = TempDir::new("dashboard");
    let (sip, http) = (ports::free_port(), ports::free_port());
    let mut toml = format!(
        "[node]\nname = \"dash\"\nshutdown_grace_secs = 1\n\n\
         [sip]\nlisten = [\"udp:127.0.0.1:{sip}\"]\n\n\
         [pbx]\ndomain = \"127.0.0.1\"\nrealm = \"tandem\"\n\n\
         [storage]\npath = \"tandem.db\"\n\n\
         [admin]\nlisten = \"127.0.0.1:{http}\"\n"
    );
    for n in 1000..1005 {
        toml.push_str(&format!(
            "\n[[extensions]]\nnumber = \"{n}\"\npassword = \"pw-{n}\"\n"
        ));
    }
    let config = dir.0.join("tandem.toml");
    std::fs::write(&config, toml).unwrap();
    let tandem = node::start(&["--config", config.to_str().unwrap()]);
    // The banner is printed before node::start returns.
    // stderr (the password) and stdout (the banner's last line) are read
    // apart: wait for the password itself.
    let waited = std::time::Instant::now();
    let mut output = tandem.output();
    while !output.contains("password:") && waited.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        output = tandem.output();
    }
    let line = output
        .lines()
        .find(|l| l.contains("password:"))
        .unwrap_or_else(|| panic!("no generated password in the banner:\n{output}"));
    let password = line
        .split_whitespace()
        .last()
        .expect("a password")
        .to_owned();
    assert!(password.len() >= 20, "{line}");

    let shots = if std::env::var_os("TANDEM_SCREENSHOTS").is_some() {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&d).unwrap();
        d
    } else {
        dir.0.clone()
    };
    let mut cmd = Command::new("node");
    cmd.arg(browser.join("dashboard.mjs"))
        .args([
            &format!("http://127.0.0.1:{http}/"),
            "admin",
            &password,
            "dash",
            "3000",
            "ui-secret-3000",
        ])
        .arg(&shots)
        .current_dir(&browser)
        .env("CHROMIUM", CHROMIUM);
    let mut run = Proc::spawn("dashboard.mjs", cmd);
    let status = run.wait_exit(Duration::from_secs(60));
    let line = run.wait_for_line("{\"ok\":", Duration::from_secs(10));
    let report: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert!(
        status.is_some_and(|s| s.success()) && report["ok"] == true,
        "dashboard.mjs: {report}\n{}\n--- tandem ---\n{}",
        run.output(),
        tandem.output()
    );
    assert_eq!(report["extensions_shown"], 5, "{report}");
    assert_eq!(report["live"], "live", "{report}");
    assert!(report["wrong_password"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));

    // The extension made in the browser registers over SIP.
    let phone = ports::free_port().to_string();
    let r = sipp::run(
        &sipp::scenario("uas_register.xml"),
        &format!("127.0.0.1:{sip}"),
        &[
            "-p",
            &phone,
            "-s",
            "3000",
            "-ap",
            "ui-secret-3000",
            "-key",
            "expires",
            "3600",
            "-m",
            "1",
            "-recv_timeout",
            "3000",
        ],
        Duration::from_secs(15),
    );
    assert_eq!(
        (r.successful, r.failed),
        (1, 0),
        "{}\n{}",
        r.output,
        tandem.output()
    );
}
