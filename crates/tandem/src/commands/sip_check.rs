//! `tandem sip check`: reads each file as one UDP datagram, parses and
//! validates it exactly as tandem's transport does (RFC 3261 §7, RFC 4475),
//! and prints one line per message.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tandem_sip::{Error, Message, ParseOptions};

/// The verdict on one message.
pub(crate) enum Verdict {
    Valid(String),
    /// A request tandem would answer with `status`.
    InvalidRequest {
        status: u16,
        reason: &'static str,
        error: Error,
    },
    /// A response (or something that is not even a request): dropped.
    Dropped {
        error: Error,
    },
}

/// Checks one message's bytes.
pub(crate) fn check(bytes: &[u8], lf: bool) -> Verdict {
    let opts = ParseOptions {
        accept_bare_lf: lf,
        ..ParseOptions::default()
    };
    let result = Message::parse(bytes.to_vec(), &opts).and_then(|m| m.validate().map(|()| m));
    match result {
        Ok(m) => {
            let what = match (m.method(), m.status()) {
                (Some(method), _) => method.to_string(),
                (None, Some(code)) => code.to_string(),
                (None, None) => String::from("?"),
            };
            Verdict::Valid(format!(
                "{what} call-id={} branch={} headers={}",
                m.call_id().unwrap_or("-"),
                m.branch().unwrap_or("-"),
                m.header_count()
            ))
        }
        Err(error) => {
            if is_response(bytes) {
                Verdict::Dropped { error }
            } else {
                Verdict::InvalidRequest {
                    status: error.status(),
                    reason: error.reason_phrase(),
                    error,
                }
            }
        }
    }
}

/// Whether the bytes start like a status line (after leading CRLFs), so
/// that an error in them is never answered (RFC 3261 §18.1.2).
fn is_response(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(bytes.len());
    bytes[start..].len() >= 4 && bytes[start..start + 4].eq_ignore_ascii_case(b"SIP/")
}

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

/// Runs the command over `files`.
pub(crate) fn run(files: &[PathBuf], lf: bool) -> ExitCode {
    let mut any_invalid = false;
    let mut any_unreadable = false;
    for path in files {
        let name = path.display();
        let bytes = match read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                any_unreadable = true;
                continue;
            }
        };
        // The parser must never panic; if it ever does, say so plainly
        // rather than abort the whole run.
        let verdict = std::panic::catch_unwind(|| check(&bytes, lf));
        match verdict {
            Ok(Verdict::Valid(summary)) => outln!("{name}: valid {summary}"),
            Ok(Verdict::InvalidRequest {
                status,
                reason,
                error,
            }) => {
                any_invalid = true;
                outln!("{name}: invalid {status} {reason}: {error}");
            }
            Ok(Verdict::Dropped { error }) => {
                any_invalid = true;
                outln!("{name}: invalid drop (a response is never answered): {error}");
            }
            Err(_) => {
                eprintln!("{name}: internal error: the parser panicked; please report this file");
                any_unreadable = true;
            }
        }
    }
    if any_unreadable {
        ExitCode::from(2)
    } else if any_invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
