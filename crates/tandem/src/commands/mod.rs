//! Subcommand implementations, one module each.

mod run;
mod sip_check;

use crate::cli::{Cli, Command, SipCommand};
use std::process::ExitCode;

/// Runs the chosen subcommand and returns the process exit code.
pub(crate) fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Sip {
            command: SipCommand::Check { lf, files },
        } => sip_check::run(&files, lf),
    }
}
