//! `orrery-bench`: side-by-side benchmarks of Orrery, Prometheus and VictoriaMetrics on
//! this machine. Run it through `bench/run`, which builds the binaries first.
//!
//! Phases are subcommands sharing the dataset generator (`dataset`), the system
//! launchers (`systems`) and the HTTP client (`http`): `ingest` today; a `query` phase
//! will replay the same dataset and then time PromQL queries against each system.

mod batches;
mod dataset;
mod http;
mod ingest;
mod procstat;
mod replay;
mod report;
mod rng;
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
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ingest(args) => ingest::run(args),
    };
    if let Err(e) = result {
        eprintln!("orrery-bench: {e:#}");
        std::process::exit(1);
    }
}
