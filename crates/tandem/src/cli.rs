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
    /// Manage extensions (in the store the config file names).
    Ext {
        #[command(subcommand)]
        command: ExtCommand,
    },
    /// Call detail records.
    Cdr {
        #[command(subcommand)]
        command: CdrCommand,
    },
    /// The cluster: status, drain and resume of nodes.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Carrier trunks: registration state, as the leader last wrote it.
    Trunk {
        #[command(subcommand)]
        command: TrunkCommand,
    },
    /// The DNS zone of the SIP domain (`[dns.zone]`).
    Dns {
        #[command(subcommand)]
        command: DnsCommand,
    },
    /// Tools for the admin plane's configuration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// This node and its cluster at a glance, from the admin API.
    Status(ApiArgs),
    /// Calls in progress, from the admin API.
    Calls(ApiArgs),
    /// The guard process a cluster node starts for itself (not for
    /// operators): withdraws the floating IP and revokes the lease when
    /// its tandem dies.
    #[command(hide = true)]
    Guard {
        /// The node's configuration file.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
    },
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

/// Where the state lives: the same config file the node runs with.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreArgs {
    /// Configuration file (TOML) naming the store.
    #[arg(long, short = 'c', value_name = "FILE", default_value = "tandem.toml")]
    pub(crate) config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExtCommand {
    /// Create an extension, or change its password and name.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// The number, e.g. 1010.
        number: String,
        /// Its SIP password.
        #[arg(long)]
        password: String,
        /// Name shown to callees.
        #[arg(long)]
        name: Option<String>,
    },
    /// Create or update many extensions from a CSV file.
    ///
    /// One extension per line: `number,password[,display name]`. Empty
    /// lines and lines starting with `#` are skipped. All lines are checked
    /// before anything is written.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The CSV file (`-` reads standard input).
        file: PathBuf,
    },
    /// List extensions and their registered contacts.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove an extension and its registrations.
    Rm {
        #[command(flatten)]
        store: StoreArgs,
        /// The number.
        number: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DnsCommand {
    /// What the zone answers now, and which nodes are left out since when.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TrunkCommand {
    /// Each configured trunk: registered or not, until when, the last
    /// status from the carrier, and which node registers it under which
    /// leader epoch.
    Status {
        #[command(flatten)]
        store: StoreArgs,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Nodes, leader, epoch, floating-IP holder, health, replication lag,
    /// and the latest events of the timeline.
    Status {
        #[command(flatten)]
        store: StoreArgs,
        /// One JSON object instead of tables.
        #[arg(long)]
        json: bool,
        /// How many timeline events to show.
        #[arg(long, default_value_t = 20)]
        events: usize,
    },
    /// Drain a node: it hands leadership (and the floating IP) to a peer
    /// and takes no new calls; calls in progress go on. Before a planned
    /// restart.
    Drain {
        #[command(flatten)]
        store: StoreArgs,
        /// The node (default: the one the config file names).
        #[arg(long)]
        node: Option<String>,
    },
    /// Undo a drain.
    Resume {
        #[command(flatten)]
        store: StoreArgs,
        /// The node (default: the one the config file names).
        #[arg(long)]
        node: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Hash a password for `[[admin.users]] password_hash` (or a
    /// `password_file`): reads the password from standard input (one
    /// line) and prints its Argon2id PHC string.
    HashPassword,
}

/// How `status` and `calls` reach the admin API. Credentials come from the
/// environment: `TANDEM_API_TOKEN`, or `TANDEM_API_USER` with
/// `TANDEM_API_PASSWORD`; the address from `--url`, `TANDEM_API_URL`, or
/// the config file's `[admin] listen`.
#[derive(Debug, clap::Args)]
pub(crate) struct ApiArgs {
    /// Configuration file whose `[admin] listen` names the API.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The API's base URL (default: TANDEM_API_URL, else from the config, else http://127.0.0.1:8080).
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Output format of `cdr list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CdrFormat {
    /// A table for people.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CdrCommand {
    /// List call detail records, oldest first.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Only calls from or to this extension.
        #[arg(long)]
        ext: Option<String>,
        /// Only calls that ended at or after this Unix time (seconds).
        #[arg(long)]
        since: Option<u64>,
        /// At most this many (the latest).
        #[arg(long)]
        limit: Option<usize>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CdrFormat::Table)]
        format: CdrFormat,
    },
}
