//! The command-line interface: every subcommand and its flags (clap).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// tandem: a highly available SIP PBX.
#[derive(Debug, Parser)]
#[command(name = "tandem", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a node.
    Run(RunArgs),
    /// Tools for looking at SIP messages by hand.
    Sip {
        #[command(subcommand)]
        command: SipCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SipCommand {
    /// Check SIP messages the way tandem reads them off the wire.
    ///
    /// Each FILE holds one message, taken as a UDP datagram. Prints one line
    /// per message; exits 0 if all are valid, 1 if any is not, 2 if a file
    /// cannot be read.
    Check {
        /// Accept bare LF line endings (messages pasted from an editor).
        #[arg(long)]
        lf: bool,
        /// Files to check; `-` reads standard input.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Also listen on ADDR (repeatable): udp:127.0.0.1:5060, tcp:..., tls:[::1]:5061, ws:..., wss:...
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Vec<String>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}
