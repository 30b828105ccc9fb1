//! `tandem run`: starts a node and serves until SIGINT or SIGTERM, then
//! shuts down gracefully.

use crate::cli::{LogFormat, RunArgs};
use std::path::PathBuf;
use std::process::ExitCode;
use tandem_config::Config;
use tandem_transport::ListenAddr;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TANDEM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Reads the config file and the `--listen` flags, or explains what is wrong.
fn load(args: &RunArgs) -> Result<(Config, Vec<ListenAddr>), String> {
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::empty(),
    };
    let mut extra = Vec::new();
    for (i, l) in args.listen.iter().enumerate() {
        let addr = l
            .parse::<ListenAddr>()
            .map_err(|e| format!("command line: --listen #{}: {e}", i + 1))?;
        extra.push(addr);
    }
    Ok((config, extra))
}

pub(crate) fn run(args: RunArgs) -> ExitCode {
    init_logging(args.log_format);
    let (config, extra) = match load(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("tandem: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tandem: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config, extra, args.config))
}

async fn serve(config: Config, extra: Vec<ListenAddr>, path: Option<PathBuf>) -> ExitCode {
    // A cluster node gets a guard: it withdraws the floating IP and
    // revokes the lease if this process is killed.
    let guard = match (&path, config.storage.backend.as_str()) {
        (Some(p), "etcd") => std::env::current_exe().ok().map(|exe| {
            let mut c = std::process::Command::new(exe);
            c.arg("guard").arg("--config").arg(p);
            c
        }),
        _ => None,
    };
    let options = tandem_node::StartOptions {
        extra_listen: extra,
        guard,
    };
    let node = match tandem_node::Node::start_with(&config, options).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("tandem: {e}");
            return ExitCode::from(2);
        }
    };
    let admin = match &config.admin {
        Some(_) => match tandem_api::AdminPlane::start(&node, &config).await {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("tandem: {e}");
                node.shutdown().await;
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    banner(&node, path.as_deref(), admin.as_ref());
    wait_for_signal().await;
    if let Some(a) = admin {
        a.shutdown().await;
    }
    let clean = node.shutdown().await;
    if clean {
        tracing::info!("stopped cleanly");
    } else {
        tracing::warn!("stopped with transactions still live after the grace period");
    }
    ExitCode::SUCCESS
}

fn banner(
    node: &tandem_node::Node,
    config: Option<&std::path::Path>,
    admin: Option<&tandem_api::AdminPlane>,
) {
    println!("tandem {} is running", env!("CARGO_PKG_VERSION"));
    if let Some(p) = config {
        println!("  config:  {}", p.display());
    }
    for l in node.local_addrs() {
        println!("  listening on {l}");
    }
    if let Some(a) = admin {
        println!(
            "  admin:   {} (API /api/v1, dashboard /, metrics /metrics)",
            a.url()
        );
        if let Some((user, password)) = a.initial_credentials() {
            // Once, on the first start: only the hash is kept.
            let line = "=".repeat(72);
            eprintln!("{line}");
            eprintln!("  admin user created: {user}");
            eprintln!("  password:           {password}");
            eprintln!("  It is shown only this once (the store keeps only its hash).");
            eprintln!("  Log in at {}/", a.url());
            eprintln!("{line}");
        }
    }
    println!("  stop with Ctrl-C (graceful: live transactions finish first)");
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
