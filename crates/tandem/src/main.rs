//! The `tandem` binary: parses the command line and hands each subcommand
//! to its module under `commands/`. Nothing else lives here.

mod cli;
mod commands;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    commands::run(args)
}
