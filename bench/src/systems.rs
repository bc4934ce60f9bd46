//! The systems under test: how to find, start, probe, persist, measure and stop Orrery,
//! Prometheus and VictoriaMetrics.
//!
//! Each system runs as a child process on `127.0.0.1` with a port picked by binding
//! `127.0.0.1:0`, on a fresh data directory, with its output in `server.log` next to
//! it. Nothing is installed: a missing binary is reported with the command that would
//! install it, and that system is skipped.
//!
//! "Persisted" means, per system:
//! - Orrery: `POST /api/v1/admin/flush` returned; disk = the whole data directory.
//! - Prometheus: `POST /api/v1/admin/tsdb/snapshot` (which writes the head as a block);
//!   disk = the snapshot directory. The data directory with the WAL is reported too.
//! - VictoriaMetrics: `GET /internal/force_flush`, then the data directory size has not
//!   changed for 5s (background merges settle), at most 120s; disk = the data directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use orrery_testkit::proc::Proc;

use crate::http::Client;

/// One of the compared systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemKind {
    /// This project.
    Orrery,
    /// Prometheus with the remote-write receiver.
    Prometheus,
    /// Single-node VictoriaMetrics.
    VictoriaMetrics,
}

impl SystemKind {
    /// Parses a `--systems` entry.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "orrery" => Ok(SystemKind::Orrery),
            "prometheus" | "prom" => Ok(SystemKind::Prometheus),
            "victoria-metrics" | "victoriametrics" | "vm" => Ok(SystemKind::VictoriaMetrics),
            other => bail!("unknown system {other:?}; want orrery, prometheus or victoria-metrics"),
        }
    }

    /// The name used in tables and directories.
    pub fn name(self) -> &'static str {
        match self {
            SystemKind::Orrery => "orrery",
            SystemKind::Prometheus => "prometheus",
            SystemKind::VictoriaMetrics => "victoria-metrics",
        }
    }

    /// Finds the binary, or explains what is missing and how to get it.
    pub fn locate(self, orrery_bin: &Path) -> std::result::Result<PathBuf, String> {
        match self {
            SystemKind::Orrery => {
                if orrery_bin.is_file() {
                    Ok(orrery_bin.to_path_buf())
                } else {
                    Err(format!(
                        "{} not found; build it with `cargo build --release -p orrery` (bench/run does)",
                        orrery_bin.display()
                    ))
                }
            }
            SystemKind::Prometheus => find_in_path("prometheus")
                .ok_or_else(|| "`prometheus` not found in PATH; install it with `apt-get install prometheus`".to_string()),
            SystemKind::VictoriaMetrics => find_in_path("victoria-metrics").ok_or_else(|| {
                "`victoria-metrics` not found in PATH; install it with `apt-get install victoria-metrics`".to_string()
            }),
        }
    }

    /// The binary's version, as it reports it (or the Debian package version).
    pub fn version(self, bin: &Path) -> String {
        let flag = match self {
            SystemKind::VictoriaMetrics => "-version",
            _ => "--version",
        };
        let reported = Command::new(bin)
            .arg(flag)
            .output()
            .ok()
            .map(|o| {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                text.lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        let short = match self {
            // "prometheus, version 2.42.0+ds (branch: ...)" -> "2.42.0+ds"
            SystemKind::Prometheus => reported
                .split("version ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or(&reported)
                .to_string(),
            // "victoria-metrics-20230101-000000-tags-v1.79.5-0-g..." -> "v1.79.5"
            SystemKind::VictoriaMetrics => reported
                .split('-')
                .find(|p| p.starts_with('v') && p[1..].starts_with(|c: char| c.is_ascii_digit()))
                .unwrap_or(&reported)
                .to_string(),
            SystemKind::Orrery => reported.split_whitespace().last().unwrap_or("").to_string(),
        };
        if !short.is_empty() {
            return short;
        }
        debian_package_version(bin).unwrap_or_else(|| "unknown".into())
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Debian builds of VictoriaMetrics print an empty `-version`; ask dpkg instead.
fn debian_package_version(bin: &Path) -> Option<String> {
    let out = Command::new("dpkg-query")
        .arg("-S")
        .arg(bin)
        .output()
        .ok()?;
    let pkg = String::from_utf8_lossy(&out.stdout)
        .split(':')
        .next()?
        .trim()
        .to_string();
    if pkg.is_empty() {
        return None;
    }
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", &pkg])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!v.is_empty()).then(|| format!("{v} (deb)"))
}

/// What persisting left on disk.
#[derive(Debug, Clone)]
pub struct Persisted {
    /// Bytes that hold the data once persisted (see the module doc, per system).
    pub disk_bytes: u64,
    /// The whole data directory, WAL included, before any snapshot.
    pub data_dir_bytes: u64,
    /// How it was measured.
    pub note: String,
}

/// A started system.
pub struct Running {
    /// Which system.
    pub kind: SystemKind,
    /// Its process id.
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    proc: Proc,
}

/// Picks a free port by binding port 0 and releasing it.
pub fn free_port() -> Result<u16> {
    orrery_testkit::ports::free_port().context("bind 127.0.0.1:0")
}

impl Running {
    /// Starts `kind` from `bin` with a fresh data directory under `work`.
    pub fn start(kind: SystemKind, bin: &Path, work: &Path) -> Result<Running> {
        Self::start_with(kind, bin, work, &[])
    }

    /// Like [`Running::start`], with `extra` appended to the command line.
    pub fn start_with(
        kind: SystemKind,
        bin: &Path,
        work: &Path,
        extra: &[&str],
    ) -> Result<Running> {
        if work.exists() {
            std::fs::remove_dir_all(work)
                .with_context(|| format!("remove old {}", work.display()))?;
        }
        let data_dir = work.join("data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("create {}", data_dir.display()))?;
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(bin);
        match kind {
            SystemKind::Orrery => {
                cmd.arg("server")
                    .arg("--listen")
                    .arg(&listen)
                    .arg("--data-dir")
                    .arg(&data_dir);
            }
            SystemKind::Prometheus => {
                let config = work.join("prometheus.yml");
                std::fs::write(&config, "# No scrape targets: data arrives by remote write only.\nglobal:\n  scrape_interval: 15s\n")?;
                cmd.arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", data_dir.display()))
                    .arg(format!("--web.listen-address={listen}"))
                    .arg("--web.enable-remote-write-receiver")
                    .arg("--web.enable-admin-api");
            }
            SystemKind::VictoriaMetrics => {
                cmd.arg(format!("-storageDataPath={}", data_dir.display()))
                    .arg(format!("-httpListenAddr={listen}"))
                    .arg("-retentionPeriod=100y")
                    // Query-side limits only, so the series check can list every series.
                    .arg("-search.maxSeries=100000000")
                    .arg("-search.maxUniqueTimeseries=100000000");
            }
        }
        cmd.args(extra);
        let log = work.join("server.log");
        let proc = spawn_logged(kind.name(), &mut cmd, bin, &log)?;
        Ok(Running {
            kind,
            pid: proc.pid(),
            base_url: format!("http://{listen}"),
            data_dir,
            proc,
        })
    }

    /// The remote-write endpoint.
    pub fn write_url(&self) -> String {
        format!("{}/api/v1/write", self.base_url)
    }

    /// Waits until the system answers its readiness probe.
    pub fn wait_ready(&mut self, http: &Client, timeout: Duration) -> Result<()> {
        let probes: &[&str] = match self.kind {
            SystemKind::Orrery => &["/-/ready", "/metrics"],
            SystemKind::Prometheus => &["/-/ready"],
            SystemKind::VictoriaMetrics => &["/health"],
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.proc.try_status() {
                bail!(
                    "{} exited during startup ({status}); last log lines:\n{}",
                    self.kind.name(),
                    self.log_tail(20)
                );
            }
            for p in probes {
                if let Ok(r) = http.get(&format!("{}{p}", self.base_url)) {
                    if r.ok() {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{} not ready after {timeout:?}; last log lines:\n{}",
                    self.kind.name(),
                    self.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Asks the system to make everything it acknowledged durable in its final form,
    /// and measures the result.
    pub fn persist(&mut self, http: &Client) -> Result<Persisted> {
        match self.kind {
            SystemKind::Orrery => {
                let r = http.post_form(&format!("{}/api/v1/admin/flush", self.base_url), &[])?;
                if !r.ok() {
                    bail!("orrery flush: HTTP {}: {}", r.status, r.body.trim());
                }
                let bytes = dir_bytes(&self.data_dir)?;
                Ok(Persisted {
                    disk_bytes: bytes,
                    data_dir_bytes: bytes,
                    note: "after POST /api/v1/admin/flush: whole data dir".into(),
                })
            }
            SystemKind::Prometheus => {
                let data_dir_bytes =
                    dir_bytes_excluding(&self.data_dir, &self.data_dir.join("snapshots"))?;
                let r = http.post_form(
                    &format!("{}/api/v1/admin/tsdb/snapshot", self.base_url),
                    &[],
                )?;
                if !r.ok() {
                    bail!("prometheus snapshot: HTTP {}: {}", r.status, r.body.trim());
                }
                let v: serde_json::Value =
                    serde_json::from_str(&r.body).context("parse snapshot reply")?;
                let name = v["data"]["name"]
                    .as_str()
                    .ok_or_else(|| anyhow!("snapshot reply without data.name: {}", r.body))?;
                let snap = self.data_dir.join("snapshots").join(name);
                Ok(Persisted {
                    disk_bytes: dir_bytes(&snap)?,
                    data_dir_bytes,
                    note: "snapshot dir after POST /api/v1/admin/tsdb/snapshot (head written as a block)".into(),
                })
            }
            SystemKind::VictoriaMetrics => {
                let r = http.get(&format!("{}/internal/force_flush", self.base_url))?;
                if !r.ok() {
                    bail!(
                        "victoria-metrics force_flush: HTTP {}: {}",
                        r.status,
                        r.body.trim()
                    );
                }
                let (bytes, settled) = wait_for_stable_size(
                    &self.data_dir,
                    Duration::from_secs(5),
                    Duration::from_secs(120),
                )?;
                let note = if settled {
                    "data dir after GET /internal/force_flush and 5s without size change"
                        .to_string()
                } else {
                    "data dir after GET /internal/force_flush; size still changing after 120s"
                        .to_string()
                };
                Ok(Persisted {
                    disk_bytes: bytes,
                    data_dir_bytes: bytes,
                    note,
                })
            }
        }
    }

    /// How many distinct series the system holds for `[start_ms, end_ms]`: the series API
    /// first, then a `count(count_over_time(...))` query.
    pub fn series_count(&self, http: &Client, start_ms: i64, end_ms: i64) -> Result<u64> {
        let (start, end) = (start_ms as f64 / 1000.0, end_ms as f64 / 1000.0 + 1.0);
        let url = format!(
            "{}/api/v1/series?match%5B%5D=%7B__name__%3D~%22.%2B%22%7D&start={start:.3}&end={end:.3}",
            self.base_url
        );
        let mut errors = Vec::new();
        match http.get(&url) {
            Ok(r) if r.ok() => {
                let v: serde_json::Value =
                    serde_json::from_str(&r.body).context("parse series reply")?;
                if let Some(a) = v["data"].as_array() {
                    return Ok(a.len() as u64);
                }
                errors.push(format!("series API: no data array: {:.200}", r.body));
            }
            Ok(r) => errors.push(format!(
                "series API: HTTP {}: {:.200}",
                r.status,
                r.body.trim()
            )),
            Err(e) => errors.push(format!("series API: {e:#}")),
        }
        let range_s = (end - start).ceil() as i64 + 60;
        let query = format!("count(count_over_time({{__name__=~\".+\"}}[{range_s}s]))");
        let url = format!("{}/api/v1/query", self.base_url);
        let time = format!("{end:.3}");
        match http.post_form(&url, &[("query", &query), ("time", &time)]) {
            Ok(r) if r.ok() => {
                let v: serde_json::Value =
                    serde_json::from_str(&r.body).context("parse query reply")?;
                let n = v["data"]["result"][0]["value"][1]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or_else(|| anyhow!("count query: unexpected reply {:.200}", r.body))?;
                return Ok(n as u64);
            }
            Ok(r) => errors.push(format!(
                "count query: HTTP {}: {:.200}",
                r.status,
                r.body.trim()
            )),
            Err(e) => errors.push(format!("count query: {e:#}")),
        }
        bail!("{}", errors.join("; "))
    }

    /// Whether the process is still alive.
    pub fn alive(&mut self) -> bool {
        self.proc.try_status().is_none()
    }

    /// The last `n` lines of the server log.
    pub fn log_tail(&self, n: usize) -> String {
        self.proc.log_tail(n)
    }

    /// Stops the process: SIGTERM, then SIGKILL after 10s.
    pub fn stop(mut self) {
        self.proc.stop(STOP_GRACE);
    }
}

/// How long a stopped system gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Starts `cmd` (the program `bin`) with stdin closed and stdout and stderr in a fresh
/// file `log`. The process is killed if the returned [`Proc`] is dropped.
pub fn spawn_logged(name: &str, cmd: &mut Command, bin: &Path, log: &Path) -> Result<Proc> {
    Proc::spawn_logged(name, cmd, log).with_context(|| format!("start {}", bin.display()))
}

/// Polls the size of `dir` every second until it has not changed for `quiet`, at most
/// `cap`; returns the last size and whether it settled.
fn wait_for_stable_size(dir: &Path, quiet: Duration, cap: Duration) -> Result<(u64, bool)> {
    let start = Instant::now();
    let mut last = dir_bytes(dir)?;
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = dir_bytes(dir)?;
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return Ok((now, true));
        }
        if start.elapsed() >= cap {
            return Ok((now, false));
        }
    }
}

/// Total apparent size of the regular files under `dir`, counting hard-linked files once.
pub fn dir_bytes(dir: &Path) -> Result<u64> {
    dir_bytes_excluding(dir, Path::new(""))
}

fn dir_bytes_excluding(dir: &Path, skip: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // Files can vanish under a running system (merges, WAL truncation).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("list {}", d.display())),
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(_) => continue,
            };
            let path = entry.path();
            if path == skip {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    Ok(total)
}
