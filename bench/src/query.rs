//! The `query` phase: load the ingest dataset into each system (replay, persist; not
//! measured), then time a set of dashboard queries, run as range queries over the whole
//! dataset, against each system; check that Orrery's answers equal Prometheus's; print
//! and write the table.
//!
//! Measurement: each query is run once to warm up, then `--runs` times; the table shows
//! the median wall time of those runs (request sent to the whole response read, JSON
//! included). `VmRSS` of the system is sampled every 100ms over all query runs; the RSS
//! table shows it just before the first query and its peak. Orrery's answer is compared
//! with Prometheus's by `promql_compare` (the compliance test's rules: same series, same
//! timestamps, values within 1e-5 relative, NaN = NaN, or errors on both sides).
//!
//! Evaluation times are `step/2` past a multiple of the step, so no minute-aligned
//! subquery point lies exactly on the boundary of an outer window, where Prometheus 2.42
//! (closed windows) and the 3.x semantics Orrery follows (left-open) deliberately differ.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;

use crate::batches;
use crate::dataset::{Config, Dataset, SCRAPE_INTERVAL_MS};
use crate::http::Client;
use crate::ingest::IngestArgs;
use crate::procstat;
use crate::replay;
use crate::systems::{Running, SystemKind};
use orrery_testkit::promql_compare::{diff, Answer};

/// Flags of `orrery-bench query`: the ingest flags (dataset, systems, output) plus these.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Dataset, systems and output flags, as for `ingest`.
    #[command(flatten)]
    pub ingest: IngestArgs,
    /// Timed runs per query and system (after one warm-up run); the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Range-query resolution in seconds.
    #[arg(long, default_value_t = 15)]
    pub step: u32,
}

/// The dashboard queries: (short name, PromQL).
pub const QUERIES: &[(&str, &str)] = &[
    (
        "cpu rate by cluster",
        "sum by (cluster) (rate(container_cpu_usage_seconds_total[5m]))",
    ),
    (
        "top 10 pods by cpu",
        "topk(10, sum by (cluster, namespace, pod) (rate(container_cpu_usage_seconds_total[5m])))",
    ),
    (
        "apiserver p99 by verb",
        "histogram_quantile(0.99, sum by (le, verb) (rate(apiserver_request_duration_seconds_bucket[5m])))",
    ),
    (
        "cpu by node (group_left join)",
        "sum by (cluster, node) (rate(container_cpu_usage_seconds_total[5m]) * on (cluster, namespace, pod) group_left (node) kube_pod_info)",
    ),
    (
        "disk full forecast",
        "predict_linear(node_filesystem_avail_bytes{mountpoint=\"/\"}[30m], 4 * 3600)",
    ),
    (
        "max cpu rate subquery",
        "sum by (cluster) (max_over_time(rate(container_cpu_usage_seconds_total[5m])[30m:1m]))",
    ),
    (
        "pods by phase",
        "count by (cluster, phase) (kube_pod_status_phase == 1)",
    ),
    (
        "memory by namespace",
        "sum by (cluster, namespace) (container_memory_working_set_bytes)",
    ),
    (
        "node cpu busy",
        "1 - avg by (cluster, instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))",
    ),
];

/// What one system did with one query.
struct Timed {
    median: Duration,
    answer: Answer,
}

/// One system's results.
enum SystemResult {
    Skipped(String),
    Failed(String),
    Done {
        rss_before: u64,
        rss_peak: u64,
        queries: Vec<Timed>,
    },
}

/// Runs the query benchmark.
pub fn run(mut args: QueryArgs) -> Result<()> {
    if args.ingest.quick {
        args.ingest.series = 10_000;
        args.ingest.hours = 0.5;
    }
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    anyhow::ensure!(args.step > 0, "--step must be positive");
    let ia = &args.ingest;
    anyhow::ensure!(ia.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(ia.batch > 0, "--batch must be at least 1");
    let kinds: Vec<SystemKind> = ia
        .systems
        .iter()
        .map(|s| SystemKind::parse(s))
        .collect::<Result<_>>()?;
    std::fs::create_dir_all(&ia.out).with_context(|| format!("create {}", ia.out.display()))?;

    let end_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let dataset = Dataset::build(Config {
        series: ia.series,
        hours: ia.hours,
        clusters: ia.clusters,
        churn: ia.churn,
        seed: ia.seed,
        end_ms,
        jitter: ia.jitter,
    });
    let summary = dataset.summary();
    let describe = format!(
        "dataset: {} clusters, {} targets, {} series alive per step, {} distinct series, {} steps of {}s ({:.2}h), {} samples",
        ia.clusters,
        summary.targets,
        ia.series,
        summary.series_total,
        summary.steps,
        SCRAPE_INTERVAL_MS / 1000,
        ia.hours,
        summary.samples_total
    );
    println!("{describe}");
    let bodies = ia.out.join("bodies");
    let prepared = batches::prepare(&dataset, ia.concurrency, ia.batch, &bodies, &|pct| {
        println!("  encoded {pct}%");
    })?;

    // The whole dataset: from the first step boundary after the first scrape to the last
    // one before the end, evaluated at step/2 past each boundary.
    let step_ms = i64::from(args.step) * 1000;
    let first = (dataset.start_ms + step_ms - 1).div_euclid(step_ms) * step_ms + step_ms / 2;
    let last = (end_ms - step_ms / 2).div_euclid(step_ms) * step_ms + step_ms / 2;
    let range = (first as f64 / 1000.0, last as f64 / 1000.0);
    let points = (last - first) / step_ms + 1;
    println!(
        "range queries from {:.1} to {:.1}, step {}s ({points} points), {} timed runs each after one warm-up",
        range.0, range.1, args.step, args.runs
    );

    let http = Client::new(Duration::from_secs(600));
    let mut results: Vec<(SystemKind, String, SystemResult)> = Vec::new();
    for kind in kinds {
        let (version, result) = match kind.locate(&ia.orrery_bin) {
            Err(why) => {
                println!("SKIPPED {}: {why}", kind.name());
                ("-".to_string(), SystemResult::Skipped(why))
            }
            Ok(bin) => {
                println!("\n== {} ==", kind.name());
                let version = kind.version(&bin);
                let r = measure(kind, &bin, &args, &prepared, &http, range);
                let r = r.unwrap_or_else(|e| {
                    println!("{} FAILED: {e:#}", kind.name());
                    SystemResult::Failed(format!("{e:#}"))
                });
                (version, r)
            }
        };
        results.push((kind, version, result));
    }

    let header = format!(
        "## Query results\n\n{describe}.\nEach query is a range query over the whole dataset ({points} points, step {}s); \
         times are the median of {} runs after one warm-up, in milliseconds. Host: {} cores.",
        args.step,
        args.runs,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let table = render(&results, &header);
    println!("\n{table}");
    let path = ia.out.join("query-results.md");
    std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    println!("written to {}", path.display());
    if !ia.keep_bodies {
        let _ = std::fs::remove_dir_all(&bodies);
    }
    Ok(())
}

/// Extra command-line flags for the query phase: VictoriaMetrics would otherwise answer
/// repeated runs from its rollup result cache and hide the last 30s of data.
fn query_flags(kind: SystemKind) -> &'static [&'static str] {
    match kind {
        SystemKind::VictoriaMetrics => &["-search.disableCache", "-search.latencyOffset=0s"],
        _ => &[],
    }
}

fn measure(
    kind: SystemKind,
    bin: &Path,
    args: &QueryArgs,
    prepared: &batches::Prepared,
    http: &Client,
    range: (f64, f64),
) -> Result<SystemResult> {
    let work = args.ingest.out.join(kind.name());
    let mut sys = Running::start_with(kind, bin, &work, query_flags(kind))?;
    let result = (|| {
        sys.wait_ready(http, Duration::from_secs(120))?;
        let name = kind.name();
        let started = Instant::now();
        let r = replay::replay(
            prepared,
            &sys.write_url(),
            Duration::from_secs(300),
            &|_| {},
        );
        if let Some(f) = &r.failure {
            anyhow::bail!("{name}: replay failed: {f}");
        }
        sys.persist(http)?;
        println!(
            "{name}: loaded {} samples and persisted in {:.1}s",
            r.samples_accepted,
            started.elapsed().as_secs_f64()
        );
        let rss_before = procstat::status_bytes(sys.pid, "VmRSS").unwrap_or(0);
        let sampler = procstat::RssSampler::start(sys.pid);
        let url = format!("{}/api/v1/query_range", sys.base_url);
        let (start, end, step) = (
            format!("{:.3}", range.0),
            format!("{:.3}", range.1),
            args.step.to_string(),
        );
        let mut queries = Vec::new();
        for (label, q) in QUERIES {
            let form = [
                ("query", *q),
                ("start", start.as_str()),
                ("end", end.as_str()),
                ("step", step.as_str()),
            ];
            let warm = http.post_form(&url, &form)?;
            let answer = Answer::parse(warm.status, &warm.body);
            let mut times = Vec::with_capacity(args.runs);
            for _ in 0..args.runs {
                let t = Instant::now();
                let reply = http.post_form(&url, &form)?;
                times.push(t.elapsed());
                anyhow::ensure!(
                    reply.status == warm.status,
                    "{name}: {q}: HTTP {} after {} on the warm-up run",
                    reply.status,
                    warm.status
                );
            }
            times.sort();
            let median = times[times.len() / 2];
            println!(
                "{name}: {label}: median {:.1} ms; {}",
                median.as_secs_f64() * 1000.0,
                answer.describe()
            );
            queries.push(Timed { median, answer });
        }
        let rss_peak = sampler.finish().max(rss_before);
        anyhow::ensure!(
            sys.alive(),
            "{name} died during the queries; last log lines:\n{}",
            sys.log_tail(20)
        );
        Ok(SystemResult::Done {
            rss_before,
            rss_peak,
            queries,
        })
    })();
    sys.stop();
    result
}

fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / 1048576.0)
}

fn render(results: &[(SystemKind, String, SystemResult)], header: &str) -> String {
    let mut out = format!("{header}\n\n| query |");
    for (kind, _, _) in results {
        out.push_str(&format!(" {} ms |", kind.name()));
    }
    out.push_str(" orrery = prometheus |\n|---|");
    for _ in results {
        out.push_str("---:|");
    }
    out.push_str("---|\n");
    let done: BTreeMap<&str, &Vec<Timed>> = results
        .iter()
        .filter_map(|(k, _, r)| match r {
            SystemResult::Done { queries, .. } => Some((k.name(), queries)),
            _ => None,
        })
        .collect();
    let mut diffs = Vec::new();
    for (i, (label, q)) in QUERIES.iter().enumerate() {
        out.push_str(&format!("| {label} |"));
        for (_, _, r) in results {
            let cell = match r {
                SystemResult::Done { queries, .. } => match &queries[i].answer {
                    Answer::Matrix(_) => format!("{:.1}", queries[i].median.as_secs_f64() * 1000.0),
                    other => format!(
                        "{:.1} ({})",
                        queries[i].median.as_secs_f64() * 1000.0,
                        short(other)
                    ),
                },
                SystemResult::Skipped(_) => "SKIPPED".to_string(),
                SystemResult::Failed(_) => "FAILED".to_string(),
            };
            out.push_str(&format!(" {cell} |"));
        }
        let equal = match (done.get("orrery"), done.get("prometheus")) {
            (Some(o), Some(p)) => match diff(&p[i].answer, &o[i].answer) {
                None => format!("yes ({})", p[i].answer.describe()),
                Some(d) => {
                    diffs.push(format!("- `{q}`:\n  {d}"));
                    "**NO** (below)".to_string()
                }
            },
            _ => "n/a".to_string(),
        };
        out.push_str(&format!(" {equal} |\n"));
    }
    out.push_str("\n| system | version | RSS before queries | peak RSS during queries |\n|---|---|---:|---:|\n");
    for (kind, version, r) in results {
        let (a, b) = match r {
            SystemResult::Done {
                rss_before,
                rss_peak,
                ..
            } => (mib(*rss_before), mib(*rss_peak)),
            SystemResult::Skipped(why) => ("SKIPPED".to_string(), why.clone()),
            SystemResult::Failed(why) => (
                "FAILED".to_string(),
                why.lines().next().unwrap_or("").to_string(),
            ),
        };
        out.push_str(&format!("| {} | {version} | {a} | {b} |\n", kind.name()));
    }
    out.push_str("\nQueries:\n\n");
    for (label, q) in QUERIES {
        out.push_str(&format!("- {label}: `{q}`\n"));
    }
    if !diffs.is_empty() {
        out.push_str("\nDifferences between Orrery and Prometheus:\n\n");
        out.push_str(&diffs.join("\n"));
        out.push('\n');
    }
    out
}

fn short(a: &Answer) -> String {
    match a {
        Answer::Matrix(m) => format!("{} series", m.len()),
        Answer::Error(_) => "error".to_string(),
        Answer::Malformed(_) => "malformed".to_string(),
    }
}
