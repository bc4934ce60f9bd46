//! The `orrery` binary: command-line parsing and wiring only. Each subcommand builds
//! its configuration (defaults, then the YAML file, then flags) and hands it to a
//! library crate; no behaviour lives here.

mod agent_cmd;
mod check;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use orrery_server::{Server, ServerBuilder, ServerConfig};
use orrery_tsdb::Db;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// One binary for the central server and (soon) the per-cluster agent.
#[derive(Parser)]
#[command(
    name = "orrery",
    version,
    about = "Observability for many Kubernetes clusters, Prometheus-compatible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the central server: remote-write ingest, storage, Prometheus HTTP API.
    ///
    /// With no options it keeps data in ./orrery-data and listens on 127.0.0.1:9090.
    /// Settings come from defaults, then --config, then the flags below.
    /// Every setting is documented in docs/configuration.md.
    #[command(after_long_help = server_help())]
    Server(ServerArgs),
    /// Run the per-cluster agent: discover and scrape targets, deliver every sample to
    /// the server through a durable queue.
    Agent(agent_cmd::AgentArgs),
    /// Server and agent in one process, scraping themselves and a local node-exporter:
    /// the one-command way to see Orrery work.
    Demo(agent_cmd::DemoArgs),
    /// Validate configuration files.
    #[command(subcommand)]
    Check(CheckCommand),
}

#[derive(Subcommand)]
enum CheckCommand {
    /// Validate a server configuration file as `orrery server --config` would load it.
    Server {
        /// The file.
        file: PathBuf,
    },
    /// Validate an agent configuration file as `orrery agent --config` would load it.
    Agent {
        /// The file.
        file: PathBuf,
    },
    /// Validate an agent or server configuration file, guessing which: a top-level
    /// `cluster:` or `scrape_configs:` key means agent (errors give file and line).
    Config {
        /// The file.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// YAML configuration file (see docs/configuration.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:9090].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Data directory [default: ./orrery-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// The `--help` epilogue: every configuration setting with its default.
fn server_help() -> String {
    format!(
        "Configuration file (--config), every setting shown with its default:\n\n{}",
        orrery_server::CONFIG_REFERENCE
    )
}

/// glibc gives a freed heap top back to the kernel once it passes 128 KiB, and serves
/// blocks from 128 KiB up with their own mappings. A query frees tens of MiB of
/// per-series vectors when it ends, so every query faulted those pages back in: a
/// third of a `sum by (rate(...))` range query's time went to page faults and heap
/// consolidation. Keeping up to 256 MiB of free heap, and mapping only blocks of
/// 32 MiB and more, made the dashboard queries up to a third faster; the ingest
/// benchmark's peak RSS grew by about 10% (bench/README.md). Only the server does this:
/// the agent runs no queries. These calls take precedence over `GLIBC_TUNABLES`, which
/// glibc applies before `main`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters, and no other thread exists yet
    // when `main` calls this.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ORRERY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Server(_)) {
        tune_allocator();
    }
    let result = match cli.command {
        Command::Server(args) => run_server(args),
        Command::Agent(args) => agent_cmd::run_agent(args),
        Command::Demo(args) => agent_cmd::run_demo(args),
        Command::Check(CheckCommand::Server { file }) => check::check_server(&file),
        Command::Check(CheckCommand::Agent { file }) => check::check_agent(&file),
        Command::Check(CheckCommand::Config { file }) => check::check_config(&file),
    };
    if let Err(e) = result {
        eprintln!("orrery: error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}

/// Defaults, then the file (loaded and validated as `orrery check server` does), then
/// the flags.
fn load_server_config(args: &ServerArgs) -> Result<ServerConfig> {
    let mut cfg = match &args.config {
        Some(path) => ServerConfig::load(path)?,
        None => ServerConfig::default(),
    };
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(d) = &args.data_dir {
        cfg.data_dir = d.clone();
    }
    Ok(cfg)
}

fn run_server(args: ServerArgs) -> Result<()> {
    let cfg = load_server_config(&args)?;
    let listen = cfg.listen;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        // Bind first: a busy port should fail before we spend time replaying the WAL.
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let server = tokio::task::spawn_blocking(move || open_server(cfg))
            .await
            .context("opening storage")??;
        server.serve(listener, shutdown_signal()).await?;
        Ok(())
    })
}

/// Opens the metric store (replaying its WAL) and hands it to the server builder.
pub(crate) fn open_server(cfg: ServerConfig) -> Result<Server> {
    cfg.validate()
        .map_err(|m| anyhow::anyhow!("invalid configuration: {m}"))?;
    let opts = cfg
        .storage
        .to_options()
        .map_err(|m| anyhow::anyhow!("invalid configuration: {m}"))?;
    let db = Db::open(&cfg.data_dir, opts)?;
    Ok(ServerBuilder::new(cfg, Arc::new(db)).build()?)
}

pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install SIGTERM handler");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
    }
}
