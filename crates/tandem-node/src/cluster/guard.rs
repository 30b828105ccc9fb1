//! The guard: a small child process (`tandem guard`) that outlives a
//! tandem killed with SIGKILL or crashed. tandem tells it, on a pipe, its
//! lease and whether it holds the floating IP; when the pipe closes without
//! a goodbye, the guard withdraws the floating IP from the kernel at once
//! (a dead process cannot, and the kernel would keep answering ARP for it:
//! two holders) and revokes the lease, so the other nodes take over within
//! milliseconds instead of a lease's time to live.
//!
//! The protocol is one line per message: `lease <id>`, `vip on`,
//! `vip off`, `bye`.

use crate::state::etcd_config;
use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use tandem_config::Config;

/// tandem's end of the pipe to its guard.
pub struct GuardLink {
    stdin: Mutex<Option<ChildStdin>>,
    child: Mutex<Child>,
}

impl std::fmt::Debug for GuardLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardLink").finish_non_exhaustive()
    }
}

impl GuardLink {
    /// Starts the guard: `command` is the tandem binary with its arguments
    /// (`tandem guard --config FILE`).
    pub fn spawn(mut command: Command) -> std::io::Result<GuardLink> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        tracing::info!(
            pid = child.id(),
            "guard started: it withdraws the floating IP and revokes the lease if tandem dies"
        );
        Ok(GuardLink {
            stdin: Mutex::new(stdin),
            child: Mutex::new(child),
        })
    }

    fn send(&self, line: &str) {
        let mut stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = stdin.as_mut() {
            if let Err(e) = writeln!(s, "{line}").and_then(|()| s.flush()) {
                tracing::warn!("the guard is gone ({e}): a crash of tandem would leave the floating IP configured");
                *stdin = None;
            }
        }
    }

    /// The node's lease.
    pub fn lease(&self, id: i64) {
        self.send(&format!("lease {id}"));
    }

    /// Told before the floating IP is added, and after it is removed.
    pub fn floating_ip(&self, held: bool) {
        self.send(if held { "vip on" } else { "vip off" });
    }

    /// A clean shutdown: the guard exits without doing anything.
    pub fn bye(&self) {
        self.send("bye");
        self.stdin.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.wait();
    }
}

/// The guard process's main: reads tandem's messages until the pipe
/// closes; returns the process exit code.
pub fn run_guard(config: &Config) -> u8 {
    let floating = config
        .cluster
        .as_ref()
        .and_then(|c| c.floating_ip.as_ref())
        .and_then(|f| tandem_vip::FloatingIp::new(&f.interface, f.address, f.prefix_len).ok());
    // The operator's Ctrl-C reaches the whole process group: the guard
    // stays for tandem's goodbye (or its death).
    ignore_termination_signals();
    let mut lease: Option<i64> = None;
    let mut vip_held = false;
    let mut clean = false;
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "bye" => {
                clean = true;
                break;
            }
            "vip on" => vip_held = true,
            "vip off" => vip_held = false,
            l => {
                if let Some(id) = l.strip_prefix("lease ").and_then(|v| v.trim().parse().ok()) {
                    lease = Some(id);
                }
            }
        }
    }
    if clean {
        return 0;
    }
    eprintln!("tandem guard: tandem died; withdrawing what it held");
    let mut code = 0;
    // Whatever tandem last said, the address goes: a half-finished add
    // must not survive either, and removing an absent address is a no-op.
    if let Some(f) = &floating {
        match tandem_vip::guard_release(f) {
            Ok(outcome) => {
                eprintln!("tandem guard: floating IP {f}: {outcome:?} (was held: {vip_held})")
            }
            Err(e) => {
                eprintln!("tandem guard: could not remove the floating IP {f}: {e}");
                code = 1;
            }
        }
    }
    if let Some(id) = lease {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let revoked = runtime.map_err(|e| e.to_string()).and_then(|rt| {
            rt.block_on(async {
                let coord = tandem_store_etcd::Coordinator::connect(etcd_config(config))
                    .await
                    .map_err(|e| e.to_string())?;
                coord
                    .revoke(tandem_store_etcd::LeaseId(id))
                    .await
                    .map_err(|e| e.to_string())
            })
        });
        match revoked {
            Ok(()) => eprintln!("tandem guard: lease {id:x} revoked: the others take over now"),
            Err(e) => {
                eprintln!(
                    "tandem guard: could not revoke lease {id:x} ({e}); it expires by itself"
                );
                code = 1;
            }
        }
    }
    code
}

fn ignore_termination_signals() {
    // A tokio signal stream replaces the default action (terminate) for
    // the process; the streams are leaked on purpose: the guard is short.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    if let Ok(rt) = rt {
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            for kind in [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::hangup(),
            ] {
                if let Ok(s) = signal(kind) {
                    std::mem::forget(s);
                }
            }
        });
        std::mem::forget(rt);
    }
}
