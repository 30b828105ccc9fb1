//! Subcommand implementations, one module each.

/// Prints a line on standard output; a closed pipe (`tandem cdr list |
/// head`) ends the command quietly instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

mod admin;
mod api;
mod calls;
mod cdr;
mod cluster;
mod dns;
mod ext;
mod run;
mod sip_check;
mod status;
mod trunk;

use crate::cli::{Cli, Command, SipCommand};
use std::path::Path;
use std::process::ExitCode;

/// Runs the chosen subcommand and returns the process exit code.
pub(crate) fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Ext { command } => ext::run(command),
        Command::Cdr { command } => cdr::run(command),
        Command::Cluster { command } => cluster::run(command),
        Command::Dns { command } => dns::run(command),
        Command::Trunk { command } => trunk::run(command),
        Command::Admin { command } => admin::run(command),
        Command::Status(args) => status::run(&args),
        Command::Calls(args) => calls::run(&args),
        Command::Guard { config } => match tandem_config::Config::load(&config) {
            Ok(c) => ExitCode::from(tandem_node::cluster::guard::run_guard(&c)),
            Err(e) => {
                eprintln!("tandem guard: {e}");
                ExitCode::from(2)
            }
        },
        Command::Sip {
            command: SipCommand::Check { lf, files },
        } => sip_check::run(&files, lf),
    }
}

/// Loads the config file and opens its store, for the commands that work
/// on state; errors are printed as they should reach the operator.
pub(crate) fn open_store(
    path: &Path,
) -> Result<
    (
        tandem_config::Config,
        std::sync::Arc<dyn tandem_store::Store>,
    ),
    String,
> {
    let config = tandem_config::Config::load(path).map_err(|e| e.to_string())?;
    let opened = block_on(tandem_node::open_store(&config)).map_err(|e| e.to_string())?;
    Ok((config, opened.store))
}

/// One small runtime for the commands that talk to the store: a store's
/// background tasks (etcd's committer, watches) live on the runtime it was
/// opened on, so every call shares it.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
        })
        .block_on(f)
}

/// Formats Unix milliseconds as `YYYY-MM-DD HH:MM:SS` UTC.
pub(crate) fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
