//! The `agent` phase: Orrery's agent against Prometheus in agent mode, scraping the same
//! node-exporter-sized targets and remote-writing to the same sink, one after the other
//! in the same run.
//!
//! The harness process serves the targets ([`crate::fixture`]) and the remote-write
//! receiver ([`crate::sink`]), so neither counts toward the measured process. For each
//! agent in turn, on a fresh data directory: start it with a config listing every
//! target, wait for `/-/ready`, let it run for a warm-up (first scrapes, first sends),
//! then measure a fixed window: CPU (`utime + stime` of the agent from `/proc/PID/stat`),
//! samples that reached the sink, scrapes the fixture answered. Memory is the largest
//! `VmRSS` sampled every 100ms from start to the end of the window and the kernel's
//! `VmHWM` at the end (both cover startup). Then the agent is stopped (SIGTERM).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::fixture::Fixture;
use crate::http::Client;
use crate::procstat::{self, RssSampler};
use crate::sink::{Sink, SinkCounts};
use crate::systems::{self, SystemKind};

/// Synthetic series both agents add per scrape: `up`, `scrape_duration_seconds`,
/// `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling`, `scrape_series_added`.
const SYNTHETIC: u64 = 5;

/// The target both agents must stay under, as a fraction of Prometheus agent's numbers.
const TARGET_RATIO: f64 = 0.5;

/// Flags of `orrery-bench agent`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// Scrape targets (one loopback port each).
    #[arg(long, default_value_t = 200)]
    pub targets: usize,
    /// Series each target exposes.
    #[arg(long, default_value_t = 1000)]
    pub series_per_target: usize,
    /// Measured window per agent, seconds (after the warm-up).
    #[arg(long, default_value_t = 180)]
    pub duration: u64,
    /// Warm-up before the window, seconds [default: 3 scrape intervals].
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Scrape interval of both agents, seconds. 5s by default (not Prometheus's 1m or
    /// the usual 15s) so that a short run sees more scrapes; both agents use the same.
    #[arg(long, default_value_t = 5)]
    pub scrape_interval: u64,
    /// Comma-separated agents to run, in this order: orrery, prometheus.
    #[arg(long, default_value = "orrery,prometheus", value_delimiter = ',')]
    pub systems: Vec<String>,
    /// Directory for the agents' data dirs, configs, logs and agent-results.md.
    #[arg(long, default_value = "bench/out")]
    pub out: PathBuf,
    /// Small preset for trying the harness: 50 targets, 60 s window.
    #[arg(long)]
    pub quick: bool,
    /// Serve plain-text bodies even when the agent asks for gzip.
    #[arg(long)]
    pub no_gzip: bool,
    /// Seed of the fixture's values.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The Orrery binary.
    #[arg(long, default_value = "target/release/orrery")]
    pub orrery_bin: PathBuf,
}

/// Everything measured for one agent.
#[derive(Debug, Clone, Default)]
pub struct AgentMeasured {
    /// Length of the measured window, seconds.
    pub window_s: f64,
    /// CPU seconds of the agent in the window.
    pub cpu_s: f64,
    /// CPU seconds from start to the end of the window (startup and warm-up included).
    pub cpu_total_s: f64,
    /// What reached the sink in the window.
    pub sink: SinkCounts,
    /// Scrapes the fixture answered in the window.
    pub scrapes: u64,
    /// Series per target (for the delivered/scraped check).
    pub series_per_target: u64,
    /// Largest sampled `VmRSS`, bytes.
    pub peak_rss: u64,
    /// `VmHWM` at the end of the window, bytes.
    pub hwm: u64,
    /// The sink's last decode error, if any.
    pub sink_error: Option<String>,
}

impl AgentMeasured {
    /// CPU seconds per million samples delivered.
    pub fn cpu_per_million(&self) -> f64 {
        self.cpu_s * 1e6 / self.sink.samples.max(1) as f64
    }

    /// The larger of the sampled peak and `VmHWM`.
    pub fn peak(&self) -> u64 {
        self.peak_rss.max(self.hwm)
    }

    /// Samples delivered ÷ samples scraped (series plus synthetic series per scrape).
    pub fn delivered_ratio(&self) -> f64 {
        let scraped = self.scrapes * (self.series_per_target + SYNTHETIC);
        self.sink.samples as f64 / scraped.max(1) as f64
    }
}

/// One table row.
#[derive(Debug, Clone)]
pub struct AgentRow {
    /// System name.
    pub system: String,
    /// Its version.
    pub version: String,
    /// Measured, or why not.
    pub outcome: std::result::Result<AgentMeasured, String>,
}

/// Runs the agent benchmark.
pub fn run(mut args: AgentArgs) -> Result<()> {
    if args.quick {
        args.targets = 50;
        args.duration = 60;
    }
    anyhow::ensure!(args.targets > 0, "--targets must be at least 1");
    anyhow::ensure!(
        args.scrape_interval > 0,
        "--scrape-interval must be positive"
    );
    anyhow::ensure!(args.duration > 0, "--duration must be positive");
    let warmup = args.warmup.unwrap_or(3 * args.scrape_interval);
    let kinds: Vec<SystemKind> = args
        .systems
        .iter()
        .map(|s| match SystemKind::parse(s)? {
            SystemKind::VictoriaMetrics => {
                bail!("the agent phase compares orrery and prometheus (agent mode) only")
            }
            k => Ok(k),
        })
        .collect::<Result<_>>()?;
    let work = args.out.join("agent");
    std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;

    let fixture = Fixture::start(args.targets, args.series_per_target, args.seed)?;
    let sink = Sink::start()?;
    let http = Client::new(Duration::from_secs(10));
    let (plain, wire) = probe_fixture(&http, &fixture, !args.no_gzip)?;
    let header = format!(
        "# Agent: {} targets × {} series, scrape every {}s, {}s warm-up + {}s measured per agent\n\n{}, {} cores. Bodies: node-exporter-like text, {:.0} KiB ({:.0} KiB {}) per scrape. Remote write to an in-process sink that answers 204.",
        args.targets,
        fixture.series_per_target,
        args.scrape_interval,
        warmup,
        args.duration,
        date_utc(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        plain as f64 / 1024.0,
        wire as f64 / 1024.0,
        if args.no_gzip { "sent, gzip off" } else { "gzip" },
    );
    println!("{header}\n");

    let mut rows = Vec::new();
    for kind in kinds {
        let (bin, version) = match kind.locate(&args.orrery_bin) {
            Ok(bin) => {
                let v = kind.version(&bin);
                (bin, v)
            }
            Err(why) => {
                println!("MISSING {}: {why}; skipped", kind.name());
                rows.push(AgentRow {
                    system: label(kind).into(),
                    version: "-".into(),
                    outcome: Err(format!("SKIPPED: {why}")),
                });
                continue;
            }
        };
        println!("== {} ({version})", label(kind));
        let outcome = measure(
            kind,
            &bin,
            &work.join(kind.name()),
            &args,
            warmup,
            &fixture,
            &sink,
            &http,
        )
        .map_err(|e| format!("FAILED: {e:#}"));
        match &outcome {
            Ok(m) => println!(
                "   {:.1} CPU-s for {} samples ({:.2} CPU-s per M), peak RSS {:.1} MiB",
                m.cpu_s,
                m.sink.samples,
                m.cpu_per_million(),
                mib(m.peak())
            ),
            Err(e) => println!("   {e}"),
        }
        rows.push(AgentRow {
            system: label(kind).into(),
            version,
            outcome,
        });
        // Let the stopped agent's connections close before the next one starts.
        std::thread::sleep(Duration::from_secs(2));
    }

    let table = render(&rows, &header);
    println!("\n{table}");
    let path = args.out.join("agent-results.md");
    std::fs::write(&path, &table).with_context(|| format!("write {}", path.display()))?;
    println!("written to {}", path.display());
    Ok(())
}

fn label(kind: SystemKind) -> &'static str {
    match kind {
        SystemKind::Prometheus => "prometheus (agent mode)",
        SystemKind::Orrery => "orrery agent",
        SystemKind::VictoriaMetrics => "victoria-metrics",
    }
}

/// Scrapes the first target once, checks that it parses with the expected number of
/// series, and returns the plain and on-the-wire body sizes.
fn probe_fixture(http: &Client, fixture: &Fixture, gzip: bool) -> Result<(u64, u64)> {
    let url = format!("http://{}/metrics", fixture.addrs[0]);
    let r = http.get(&url)?;
    anyhow::ensure!(r.ok(), "fixture answered HTTP {}", r.status);
    let parsed = orrery_wire::parse_exposition(
        r.body.as_bytes(),
        orrery_wire::Format::PrometheusText,
        &orrery_wire::ParseLimits::default(),
    )
    .context("the fixture's body does not parse")?;
    anyhow::ensure!(
        parsed.samples.len() == fixture.series_per_target,
        "fixture served {} series, expected {}",
        parsed.samples.len(),
        fixture.series_per_target
    );
    let plain = r.body.len() as u64;
    let wire = if gzip {
        let before = fixture.stats.wire_bytes.load(Ordering::Relaxed);
        let mut resp = ureq::get(&url).header("Accept-Encoding", "gzip").call()?;
        resp.body_mut().read_to_vec()?;
        fixture.stats.wire_bytes.load(Ordering::Relaxed) - before
    } else {
        plain
    };
    Ok((plain, wire))
}

/// A started agent process.
struct AgentProcess {
    pid: u32,
    proc: orrery_testkit::proc::Proc,
    base_url: String,
}

impl AgentProcess {
    fn start(
        kind: SystemKind,
        bin: &Path,
        dir: &Path,
        args: &AgentArgs,
        fixture: &Fixture,
        sink: &Sink,
    ) -> Result<AgentProcess> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("remove old {}", dir.display()))?;
        }
        let data = dir.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("create {}", data.display()))?;
        let listen = format!("127.0.0.1:{}", systems::free_port()?);
        let config = dir.join("config.yml");
        std::fs::write(&config, config_yaml(kind, args, fixture, sink))
            .with_context(|| format!("write {}", config.display()))?;
        let mut cmd = Command::new(bin);
        match kind {
            SystemKind::Orrery => {
                cmd.arg("agent")
                    .arg("--config")
                    .arg(&config)
                    .arg("--data-dir")
                    .arg(&data)
                    .arg("--listen")
                    .arg(&listen);
            }
            SystemKind::Prometheus => {
                cmd.arg("--enable-feature=agent")
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.agent.path={}", data.display()))
                    .arg(format!("--web.listen-address={listen}"));
            }
            SystemKind::VictoriaMetrics => bail!("BUG: victoria-metrics has no agent here"),
        }
        let log = dir.join("agent.log");
        let proc = systems::spawn_logged("agent", &mut cmd, bin, &log)?;
        Ok(AgentProcess {
            pid: proc.pid(),
            proc,
            base_url: format!("http://{listen}"),
        })
    }

    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.proc.try_status() {
            bail!("exited ({status}); last log lines:\n{}", self.log_tail(20));
        }
        Ok(())
    }

    fn wait_ready(&mut self, http: &Client, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            if http
                .get(&format!("{}/-/ready", self.base_url))
                .is_ok_and(|r| r.ok())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "not ready after {timeout:?}; last log lines:\n{}",
                    self.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sleeps `d`, checking every second that the process still runs.
    fn run_for(&mut self, d: Duration) -> Result<()> {
        let end = Instant::now() + d;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            self.check_alive()?;
            std::thread::sleep(left.min(Duration::from_secs(1)));
        }
        self.check_alive()
    }

    fn log_tail(&self, n: usize) -> String {
        self.proc.log_tail(n)
    }

    /// SIGTERM, then SIGKILL after 10s.
    fn stop(mut self) {
        self.proc.stop(systems::STOP_GRACE);
    }
}

/// The agent's configuration: the same scrape config for both, and the same `cluster`
/// label (Orrery forces it; Prometheus gets it as an external label).
fn config_yaml(kind: SystemKind, args: &AgentArgs, fixture: &Fixture, sink: &Sink) -> String {
    let interval = args.scrape_interval;
    let timeout = interval.min(10);
    let targets = fixture
        .addrs
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let scrape = format!(
        "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [{targets}]\n"
    );
    match kind {
        SystemKind::Orrery => format!(
            "cluster: bench\nserver:\n  url: {}\nglobal:\n  scrape_interval: {interval}s\n  scrape_timeout: {timeout}s\n{scrape}",
            sink.base_url
        ),
        _ => format!(
            "global:\n  scrape_interval: {interval}s\n  scrape_timeout: {timeout}s\n  external_labels:\n    cluster: bench\n{scrape}remote_write:\n  - url: {}/api/v1/write\n",
            sink.base_url
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn measure(
    kind: SystemKind,
    bin: &Path,
    dir: &Path,
    args: &AgentArgs,
    warmup: u64,
    fixture: &Fixture,
    sink: &Sink,
    http: &Client,
) -> Result<AgentMeasured> {
    let mut p = AgentProcess::start(kind, bin, dir, args, fixture, sink)?;
    let sampler = RssSampler::start(p.pid);
    let result = (|| -> Result<AgentMeasured> {
        p.wait_ready(http, Duration::from_secs(60))?;
        p.run_for(Duration::from_secs(warmup))?;
        let cpu0 = procstat::cpu_seconds(p.pid)?;
        let sink0 = sink.counts();
        let scrapes0 = fixture.stats.scrapes.load(Ordering::Relaxed);
        let t0 = Instant::now();
        p.run_for(Duration::from_secs(args.duration))?;
        let cpu1 = procstat::cpu_seconds(p.pid)?;
        let sink1 = sink.counts();
        let scrapes1 = fixture.stats.scrapes.load(Ordering::Relaxed);
        let window_s = t0.elapsed().as_secs_f64();
        let hwm = procstat::status_bytes(p.pid, "VmHWM")?;
        Ok(AgentMeasured {
            window_s,
            cpu_s: cpu1 - cpu0,
            cpu_total_s: cpu1,
            sink: sink1.since(&sink0),
            scrapes: scrapes1 - scrapes0,
            series_per_target: fixture.series_per_target as u64,
            peak_rss: 0,
            hwm,
            sink_error: sink.last_error(),
        })
    })();
    let peak = sampler.finish();
    p.stop();
    let mut m = result?;
    m.peak_rss = peak;
    Ok(m)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// Renders the table, the ratio line and the notes as Markdown.
pub fn render(rows: &[AgentRow], header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    out.push_str("| agent | version | scrapes | samples delivered | delivered / scraped | samples/s | CPU-s | CPU-s per M samples | mean cores | peak RSS MiB | VmHWM MiB | sink errors |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        match &r.outcome {
            Err(why) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | | | | | | | | | |",
                    r.system,
                    r.version,
                    why.replace('\n', " ").replace('|', "/")
                );
            }
            Ok(m) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.3} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {} |",
                    r.system,
                    r.version,
                    m.scrapes,
                    m.sink.samples,
                    m.delivered_ratio(),
                    m.sink.samples as f64 / m.window_s.max(1e-9),
                    m.cpu_s,
                    m.cpu_per_million(),
                    m.cpu_s / m.window_s.max(1e-9),
                    mib(m.peak_rss),
                    mib(m.hwm),
                    m.sink.errors,
                );
            }
        }
    }
    out.push('\n');
    out.push_str(&ratio_line(rows));
    out.push('\n');
    for r in rows {
        if let Ok(m) = &r.outcome {
            let _ = writeln!(
                out,
                "- {}: {} write requests, {:.1} MiB compressed, {:.0} samples per request; {:.1} CPU-s from start to the end of the window.",
                r.system,
                m.sink.requests,
                mib(m.sink.bytes),
                m.sink.samples as f64 / m.sink.requests.max(1) as f64,
                m.cpu_total_s
            );
            if let Some(e) = &m.sink_error {
                let _ = writeln!(out, "- {}: the sink could not decode a body: {e}", r.system);
            }
        }
    }
    out
}

/// Orrery ÷ Prometheus agent against the ≤0.5× target, for CPU per sample and peak RSS.
fn ratio_line(rows: &[AgentRow]) -> String {
    let find = |name: &str| {
        rows.iter()
            .find(|r| r.system == name)
            .and_then(|r| r.outcome.as_ref().ok())
    };
    let (Some(o), Some(p)) = (
        find(label(SystemKind::Orrery)),
        find(label(SystemKind::Prometheus)),
    ) else {
        return "Orrery vs Prometheus agent: not available (both must complete).\n".into();
    };
    let verdict = |a: f64, b: f64| {
        let ratio = if b > 0.0 { a / b } else { f64::INFINITY };
        format!(
            "{ratio:.2}× (target ≤{TARGET_RATIO}×: {})",
            if ratio <= TARGET_RATIO {
                "PASS"
            } else {
                "MISS"
            }
        )
    };
    format!(
        "Orrery ÷ Prometheus agent: CPU-s per M samples {}, peak RSS {}\n",
        verdict(o.cpu_per_million(), p.cpu_per_million()),
        verdict(o.peak() as f64, p.peak() as f64),
    )
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock.
fn date_utc() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    // `YYYY-MM-DDThh:mm:ss.mmmZ`: the date is its first ten characters.
    let mut date = orrery_model::format_rfc3339_ms(ms);
    date.truncate(10);
    date
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(cpu: f64, samples: u64, rss: u64) -> AgentMeasured {
        AgentMeasured {
            window_s: 60.0,
            cpu_s: cpu,
            cpu_total_s: cpu,
            sink: SinkCounts {
                requests: 10,
                samples,
                series: samples,
                bytes: 1000,
                errors: 0,
            },
            scrapes: samples / 1005,
            series_per_target: 1000,
            peak_rss: rss,
            hwm: rss,
            sink_error: None,
        }
    }

    #[test]
    fn ratio_line_marks_each_target() {
        let rows = vec![
            AgentRow {
                system: label(SystemKind::Orrery).into(),
                version: "x".into(),
                outcome: Ok(m(1.0, 1_005_000, 40 << 20)),
            },
            AgentRow {
                system: label(SystemKind::Prometheus).into(),
                version: "y".into(),
                outcome: Ok(m(4.0, 1_005_000, 60 << 20)),
            },
        ];
        let text = render(&rows, "# t");
        assert!(
            text.contains("CPU-s per M samples 0.25× (target ≤0.5×: PASS)"),
            "{text}"
        );
        assert!(
            text.contains("peak RSS 0.67× (target ≤0.5×: MISS)"),
            "{text}"
        );
        assert!(text.contains("| 1.000 |"), "{text}");
    }

    #[test]
    fn configs_name_every_target_and_the_sink() {
        let fixture = Fixture::start(2, 50, 1).unwrap();
        let sink = Sink::start().unwrap();
        let args = AgentArgs {
            targets: 2,
            series_per_target: 50,
            duration: 1,
            warmup: None,
            scrape_interval: 5,
            systems: vec![],
            out: PathBuf::new(),
            quick: false,
            no_gzip: false,
            seed: 1,
            orrery_bin: PathBuf::new(),
        };
        let prom = config_yaml(SystemKind::Prometheus, &args, &fixture, &sink);
        let orr = config_yaml(SystemKind::Orrery, &args, &fixture, &sink);
        for a in &fixture.addrs {
            assert!(prom.contains(&a.to_string()) && orr.contains(&a.to_string()));
        }
        assert!(prom.contains(&format!("url: {}/api/v1/write", sink.base_url)));
        assert!(orr.contains(&format!("url: {}\n", sink.base_url)));
        assert!(prom.contains("scrape_timeout: 5s"));
    }

    #[test]
    fn civil_date_looks_like_a_date() {
        let d = date_utc();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }
}
