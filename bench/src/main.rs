//! `orrery-bench`: side-by-side benchmarks of Orrery, Prometheus and VictoriaMetrics on
//! this machine. Run it through `bench/run`, which builds the binaries first.
//!
//! Phases are subcommands sharing the dataset generator (`dataset`), the system
//! launchers (`systems`) and the HTTP client (`http`): `ingest` measures remote-write
//! ingestion; `query` loads the same dataset and times dashboard queries against each
//! system, checking Orrery's answers against Prometheus's; `agent` scrapes a fixture of
//! node-exporter-sized targets with Orrery's agent and with Prometheus in agent mode and
//! compares CPU per sample and memory.

mod agent;
mod batches;
mod dataset;
mod fixture;
mod http;
mod ingest;
mod minihttp;
mod procstat;
mod query;
mod replay;
mod report;
mod sink;
mod systems;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "orrery-bench",
    about = "Side-by-side benchmarks: Orrery vs Prometheus vs VictoriaMetrics"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Remote-write ingest: samples/s, CPU per sample, peak RSS, bytes on disk per sample.
    Ingest(ingest::IngestArgs),
    /// Dashboard range queries after ingest: median latency, equality with Prometheus, peak RSS.
    Query(query::QueryArgs),
    /// Scraping agents: CPU-s per million samples and peak RSS, Orrery vs Prometheus agent mode.
    Agent(agent::AgentArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ingest(args) => ingest::run(args),
        Command::Query(args) => query::run(args),
        Command::Agent(args) => agent::run(args),
    };
    if let Err(e) = result {
        eprintln!("orrery-bench: {e:#}");
        std::process::exit(1);
    }
}
