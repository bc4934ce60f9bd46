//! The `ingest` phase: generate the dataset, pre-encode it, then for each system in turn
//! start it fresh, replay everything by remote write, persist, measure, check the series
//! count, stop it, and print the table.
//!
//! Measurement windows: CPU (`/proc/PID/stat`) is read just before the first request
//! and just after persisting; `VmRSS` is sampled every 100ms over the same window and
//! `VmHWM` is read at its end; samples/s uses the replay wall time (first request to
//! the last 2xx). The series check runs after the window and is not measured.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;

use crate::batches;
use crate::dataset::{Config, Dataset, Jitter};
use crate::http::Client;
use crate::procstat;
use crate::replay;
use crate::report::{self, Measured, Outcome, Row};
use crate::systems::{Running, SystemKind};

/// Flags of `orrery-bench ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// Series alive at each step across all clusters (pod churn adds more distinct series).
    #[arg(long, default_value_t = 100_000)]
    pub series: usize,
    /// Hours of data, ending now.
    #[arg(long, default_value_t = 2.0)]
    pub hours: f64,
    /// Number of clusters.
    #[arg(long, default_value_t = 4)]
    pub clusters: usize,
    /// Fraction of deployments that roll out (replace their pods) during the range.
    #[arg(long, default_value_t = 0.25)]
    pub churn: f64,
    /// Comma-separated systems to run, in this order.
    #[arg(
        long,
        default_value = "orrery,prometheus,victoria-metrics",
        value_delimiter = ','
    )]
    pub systems: Vec<String>,
    /// Directory for data dirs, logs, pre-encoded bodies and ingest-results.md.
    #[arg(long, default_value = "bench/out")]
    pub out: PathBuf,
    /// Parallel remote-write senders.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Samples per request (Prometheus's max_samples_per_send default is 2000).
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
    /// Small preset for trying the harness: 10k series for 30 minutes.
    #[arg(long)]
    pub quick: bool,
    /// Seed of the dataset.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scrape timestamps: `realistic` (a few ms of jitter, rare late scrapes) or `none`
    /// (exactly on the 15 s grid, the old generator).
    #[arg(long, value_enum, default_value_t = Jitter::Realistic)]
    pub jitter: Jitter,
    /// The Orrery binary.
    #[arg(long, default_value = "target/release/orrery")]
    pub orrery_bin: PathBuf,
    /// Keep the pre-encoded request bodies under <out>/bodies after the run.
    #[arg(long)]
    pub keep_bodies: bool,
}

/// Runs the ingest benchmark.
pub fn run(mut args: IngestArgs) -> Result<()> {
    if args.quick {
        args.series = 10_000;
        args.hours = 0.5;
    }
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    anyhow::ensure!(args.hours > 0.0, "--hours must be positive");
    let kinds: Vec<SystemKind> = args
        .systems
        .iter()
        .map(|s| SystemKind::parse(s))
        .collect::<Result<_>>()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;

    // 1. What is available. Nothing is installed; missing systems are skipped and said so.
    let mut plan = Vec::new();
    let mut missing = Vec::new();
    for kind in &kinds {
        match kind.locate(&args.orrery_bin) {
            Ok(bin) => {
                let version = kind.version(&bin);
                println!("found {}: {} ({version})", kind.name(), bin.display());
                plan.push((*kind, Some(bin), version));
            }
            Err(why) => {
                println!("MISSING {}: {why}; it will be skipped", kind.name());
                missing.push(why.clone());
                plan.push((*kind, None, "-".to_string()));
            }
        }
    }
    if !missing.is_empty() {
        println!("Needs: Debian packages `prometheus` and `victoria-metrics` (apt-get install prometheus victoria-metrics), and the orrery binary (bench/run builds it).");
    }

    // 2. The dataset, ending now.
    let end_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let t0 = Instant::now();
    let dataset = Dataset::build(Config {
        series: args.series,
        hours: args.hours,
        clusters: args.clusters,
        churn: args.churn,
        seed: args.seed,
        end_ms,
        jitter: args.jitter,
    });
    let summary = dataset.summary();
    let describe = format!(
        "dataset: jitter {:?}, {} clusters, {} targets ({}), {} metric families, {} series alive per step ({}..{}), {} distinct series with churn, {} steps of 15s ({:.2}h), {} samples incl. {} stale markers",
        args.jitter, args.clusters, summary.targets, dataset.jobs(), summary.families, args.series, summary.active_min, summary.active_max,
        summary.series_total, summary.steps, args.hours, summary.samples_total, summary.stale_markers
    );
    println!("{describe}");

    // 3. Pre-encode every request body.
    let bodies = args.out.join("bodies");
    println!(
        "encoding {} samples into requests of {} samples for {} senders...",
        summary.samples_total, args.batch, args.concurrency
    );
    let prepared = batches::prepare(&dataset, args.concurrency, args.batch, &bodies, &|pct| {
        println!("  encoded {pct}%");
    })?;
    println!(
        "encoded {} requests, {:.1} MiB snappy ({:.1} bytes/sample on the wire) in {:.1}s",
        prepared.requests,
        prepared.body_bytes as f64 / 1048576.0,
        prepared.body_bytes as f64 / prepared.samples.max(1) as f64,
        t0.elapsed().as_secs_f64()
    );

    // 4. Each system in turn.
    let http = Client::new(Duration::from_secs(600));
    let mut rows = Vec::new();
    for (kind, bin, version) in plan {
        let outcome = match bin {
            None => Outcome::Skipped(kind.locate(&args.orrery_bin).err().unwrap_or_default()),
            Some(bin) => {
                println!("\n== {} ==", kind.name());
                match measure(kind, &bin, &args, &dataset, &prepared, &http) {
                    Ok(m) => Outcome::Done(m),
                    Err(e) => {
                        println!("{} FAILED: {e:#}", kind.name());
                        Outcome::Failed(format!("{e:#}"))
                    }
                }
            }
        };
        rows.push(Row {
            system: kind.name().to_string(),
            version,
            outcome,
        });
    }

    // 5. The table.
    let header = format!(
        "## Ingest results\n\n{describe}.\nReplay: remote write 1.0, {} senders, {} samples per request, {} requests. Host: {} cores.",
        args.concurrency,
        args.batch,
        prepared.requests,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let table = report::render(&rows, summary.series_total as u64, &header);
    println!("\n{table}");
    let path = args.out.join("ingest-results.md");
    std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    println!("written to {}", path.display());
    if !args.keep_bodies {
        let _ = std::fs::remove_dir_all(&bodies);
    }
    Ok(())
}

/// Starts one system, replays, persists and measures it, and stops it.
fn measure(
    kind: SystemKind,
    bin: &std::path::Path,
    args: &IngestArgs,
    dataset: &Dataset,
    prepared: &batches::Prepared,
    http: &Client,
) -> Result<Measured> {
    let work = args.out.join(kind.name());
    let mut sys = Running::start(kind, bin, &work)?;
    let result = (|| {
        sys.wait_ready(http, Duration::from_secs(120))?;
        println!(
            "{} ready at {} (pid {}, data {})",
            kind.name(),
            sys.base_url,
            sys.pid,
            sys.data_dir.display()
        );

        let cpu0 = procstat::cpu_seconds(sys.pid)?;
        let sampler = procstat::RssSampler::start(sys.pid);
        let started = Instant::now();
        let name = kind.name();
        let r = replay::replay(
            prepared,
            &sys.write_url(),
            Duration::from_secs(300),
            &|pct| {
                println!(
                    "  {name}: replayed {pct}% ({:.0}s)",
                    started.elapsed().as_secs_f64()
                );
            },
        );
        let wall = r.wall.as_secs_f64().max(1e-9);
        println!(
            "{name}: {} samples accepted in {:.1}s ({:.0} samples/s), {} requests, {} retries",
            r.samples_accepted,
            wall,
            r.samples_accepted as f64 / wall,
            r.requests_ok,
            r.retries
        );
        if let Some(f) = &r.failure {
            println!("{name}: REPLAY FAILED: {f}");
        }
        if !sys.alive() {
            let _ = sampler.finish();
            anyhow::bail!(
                "{name} died during replay; last log lines:\n{}",
                sys.log_tail(20)
            );
        }
        let p0 = Instant::now();
        let persisted = sys.persist(http);
        let cpu1 = procstat::cpu_seconds(sys.pid)?;
        let hwm = procstat::status_bytes(sys.pid, "VmHWM").unwrap_or(0);
        let peak = sampler.finish();
        let persisted = persisted?;
        println!(
            "{name}: persisted in {:.1}s: {} bytes ({})",
            p0.elapsed().as_secs_f64(),
            persisted.disk_bytes,
            persisted.note
        );

        let series_got = sys
            .series_count(http, dataset.start_ms, dataset.config.end_ms)
            .map_err(|e| format!("{e:#}"));
        match &series_got {
            Ok(n) => println!(
                "{name}: series check: {n} series; expected {}",
                dataset.series.len()
            ),
            Err(e) => println!("{name}: series check failed: {e}"),
        }
        Ok(Measured {
            samples: r.samples_accepted,
            samples_per_s: r.samples_accepted as f64 / wall,
            cpu_s: cpu1 - cpu0,
            peak_rss: peak,
            hwm,
            disk_bytes: persisted.disk_bytes,
            data_dir_bytes: persisted.data_dir_bytes,
            series_got,
            failure: r.failure,
            persist_note: persisted.note,
        })
    })();
    sys.stop();
    result
}
