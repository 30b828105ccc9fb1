//! `tandem admin hash-password`: the Argon2id hash of a password, for an
//! `[[admin.users]]` entry. The password is read from standard input so
//! that it stays out of the shell history and the process list.

use crate::cli::AdminCommand;
use std::io::BufRead as _;
use std::process::ExitCode;

pub(crate) fn run(command: AdminCommand) -> ExitCode {
    match command {
        AdminCommand::HashPassword => {
            let mut line = String::new();
            if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
                eprintln!("tandem: standard input: {e}");
                return ExitCode::from(2);
            }
            let password = line.trim_end_matches(['\r', '\n']);
            if password.len() < 8 {
                eprintln!("tandem: the password must be at least 8 characters");
                return ExitCode::from(2);
            }
            outln!("{}", tandem_api::hash_password(password));
            ExitCode::SUCCESS
        }
    }
}
