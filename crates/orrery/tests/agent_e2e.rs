//! End-to-end tests of `orrery agent` with the real binary: it scrapes node-exporter,
//! a real Prometheus and a fixture HTTP server inside the test process, and delivers to
//! `orrery server` (or to a real Prometheus's remote-write receiver). They check the
//! agent's contracts from the outside:
//!
//! - every sample carries `cluster="<name>"`, and `/api/v1/targets` reports health;
//! - nothing scraped is lost and nothing is duplicated across a server outage
//!   (`server_outage_loses_nothing_exactly_once`; the outage lasts `AGENT_OUTAGE_SECS`
//!   seconds, default 20: run with e.g. `AGENT_OUTAGE_SECS=300` for the "several
//!   minutes" case) and across a SIGKILL of the agent with a backlog on disk;
//! - bad targets are `down` with a reason and do not disturb the others;
//! - `orrery check config` names the file and line of a mistake.
//!
//! The fixture serves `fixture_total N` where N grows by one on every scrape, and keeps
//! what it served and when, so the server's raw samples (`fixture_total[<window>]`) can
//! be compared value by value with what was scraped.
//!
//! Tests needing Debian's `prometheus` or `prometheus-node-exporter` print a loud
//! SKIPPED line when the program is missing, or fail when `CI` is set (`.ci/run`
//! installs both).

mod common;

use common::{
    free_port, get_api, http, read_reply, spawn_ready, start_node_exporter, start_on_free_port,
    Orrery, Proc, NODE_EXPORTER,
};
use orrery_model::format_rfc3339_ms;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const CLUSTER: &str = "prod-eu-1";
/// How long the agent may take to deliver a backlog once the server is back; the
/// sender's backoff is capped at 5 s, so this is generous.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// `true` when `program` is installed. Otherwise prints a SKIPPED line (past the test
/// harness's capture, so it is seen) and returns `false`, or panics when `CI` is set.
fn installed(program: &str, test: &str) -> bool {
    if Path::new(program).exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{program} is missing and CI is set: install it with `apt-get install prometheus prometheus-node-exporter` (.ci/run does)");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n******** SKIPPED: {program} missing; \
         `apt-get install prometheus prometheus-node-exporter` to run {test} ********\n"
    );
    false
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("creating a temp dir")
}

/// Polls `check` every 250 ms until it returns `Ok`, or panics with `what` and the
/// last state it described after `timeout`.
fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        match check() {
            Ok(v) => {
                println!("{what}: after {:?}", started.elapsed());
                return v;
            }
            Err(state) => {
                assert!(
                    started.elapsed() < timeout,
                    "{what}: not reached within {timeout:?}; last state: {state}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------------
// The fixture: an HTTP server in the test process.
// ---------------------------------------------------------------------------------

/// What the fixture knows: every counter value it served, in order, with the time.
#[derive(Default)]
struct FixtureState {
    /// `(value, served at ms)`; value `i + 1` is at index `i`.
    served: Mutex<Vec<(u64, i64)>>,
    /// When set, `/counter` answers 503 and serves nothing.
    frozen: AtomicBool,
}

/// A tiny exposition server on 127.0.0.1 with one path per behaviour:
/// `/counter` (`fixture_total N`, N = 1, 2, 3, … one per request), `/good`, and the
/// bad ones `/garbage`, `/huge`, `/unterminated`, `/badutf8`, `/dup`. It runs on its
/// own thread and stops on drop.
struct Fixture {
    addr: SocketAddr,
    state: Arc<FixtureState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn exposition(body: impl Into<axum::body::Body>) -> axum::response::Response {
    axum::response::Response::builder()
        .header("Content-Type", TEXT)
        .body(body.into())
        .expect("building a response")
}

impl Fixture {
    fn start() -> Fixture {
        use axum::routing::get;
        let state = Arc::new(FixtureState::default());
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("binding the fixture to :0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking fixture listener");
        let addr = listener.local_addr().expect("fixture address");
        let st = state.clone();
        let counter = move || {
            let st = st.clone();
            async move {
                if st.frozen.load(Ordering::SeqCst) {
                    return axum::response::Response::builder()
                        .status(503)
                        .body(axum::body::Body::from("frozen\n"))
                        .expect("building a response");
                }
                let mut served = st.served.lock().unwrap_or_else(|p| p.into_inner());
                let n = served.len() as u64 + 1;
                served.push((n, now_ms()));
                exposition(format!(
                    "# HELP fixture_total Scrapes served by the test fixture.\n\
                     # TYPE fixture_total counter\nfixture_total {n}\n"
                ))
            }
        };
        let huge: String = (0..4000)
            .map(|i| format!("huge_metric{{i=\"{i}\"}} {i}\n"))
            .collect();
        let app = axum::Router::new()
            .route("/counter", get(counter))
            .route(
                "/good",
                get(|| async {
                    exposition("# TYPE good_metric gauge\ngood_metric 1\ngood_other{a=\"b\"} 2\n")
                }),
            )
            .route(
                "/garbage",
                get(|| async {
                    exposition("<html><body>this is not a metrics page</body></html>\n")
                }),
            )
            .route("/huge", get(move || async move { exposition(huge) }))
            .route(
                "/unterminated",
                get(|| async { exposition("a{x=\"1\" 1\n") }),
            )
            .route(
                "/badutf8",
                get(|| async {
                    exposition(b"ok_metric 1\nbad_metric{l=\"\xff\xfe\"} 2\n".to_vec())
                }),
            )
            .route(
                "/dup",
                get(|| async { exposition("dup_metric{a=\"1\"} 1\ndup_metric{a=\"1\"} 2\n") }),
            );
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fixture".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fixture runtime");
                rt.block_on(async move {
                    let l = tokio::net::TcpListener::from_std(listener)
                        .expect("fixture listener into tokio");
                    let _ = axum::serve(l, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop_rx.await;
                        })
                        .await;
                });
            })
            .expect("spawning the fixture thread");
        println!("fixture serving on http://{addr}");
        Fixture {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Everything served so far.
    fn served(&self) -> Vec<(u64, i64)> {
        self.state
            .served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// From now on `/counter` answers 503 and serves no value; returns what it served.
    fn freeze(&self) -> Vec<(u64, i64)> {
        // Under the lock, so no request is half-way between the check and the push.
        let served = self.state.served.lock().unwrap_or_else(|p| p.into_inner());
        self.state.frozen.store(true, Ordering::SeqCst);
        let v = served.clone();
        println!("fixture frozen after serving {} values", v.len());
        v
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        // Graceful shutdown waits for open keep-alive connections, which the agent may
        // hold: do not join, the thread ends with the process.
        drop(self.thread.take());
    }
}

// ---------------------------------------------------------------------------------
// The agent and servers.
// ---------------------------------------------------------------------------------

/// A running `orrery agent`.
struct Agent {
    proc: Proc,
    addr: SocketAddr,
}

impl Agent {
    /// Starts `orrery agent` and waits for its status API; retries with another port
    /// if the listen port was taken in between.
    fn start(config: &Path, data_dir: &Path) -> Agent {
        let (proc, addr) = start_on_free_port("orrery-agent", "orrery agent", data_dir, |addr| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_orrery"));
            cmd.arg("agent")
                .arg("--config")
                .arg(config)
                .arg("--data-dir")
                .arg(data_dir)
                .arg("--listen")
                .arg(addr.to_string())
                .env("ORRERY_LOG", "info");
            cmd
        });
        Agent { proc, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The value of an unlabelled sample of the agent's `/metrics`.
    fn metric(&self, h: &ureq::Agent, name: &str) -> f64 {
        let resp = h
            .get(&self.url("/metrics"))
            .call()
            .unwrap_or_else(|e| panic!("GET agent /metrics: {e}"));
        let (status, body) = read_reply(resp);
        assert_eq!(status, 200, "GET agent /metrics: {body}");
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("agent /metrics has no {name}:\n{body}"))
    }

    fn pending(&self, h: &ureq::Agent) -> f64 {
        self.metric(h, "orrery_agent_queue_pending_records")
    }

    /// Waits until the queue is empty.
    fn wait_drained(&self, h: &ureq::Agent, timeout: Duration) {
        wait_for("agent queue drained (pending 0)", timeout, || {
            let p = self.pending(h);
            if p == 0.0 {
                Ok(())
            } else {
                Err(format!("{p} records pending"))
            }
        });
    }

    /// The `pending_records` the agent logged when it opened its queue (`?` if absent).
    fn queue_records_at_open(&self) -> String {
        let log = strip_ansi(&self.proc.log_text());
        log.lines()
            .find(|l| l.contains("Opened the delivery queue"))
            .and_then(|l| l.split_once("pending_records=")?.1.split(' ').next())
            .unwrap_or("?")
            .to_string()
    }

    /// `activeTargets` of `/api/v1/targets`.
    fn targets(&self, h: &ureq::Agent) -> Vec<Value> {
        let data = get_api(h, &self.url("/api/v1/targets"), &[]);
        data["activeTargets"]
            .as_array()
            .unwrap_or_else(|| panic!("activeTargets is not an array: {data}"))
            .clone()
    }

    /// SIGTERM; the agent must exit 0.
    fn terminate(&mut self) {
        self.proc.terminate(Duration::from_secs(30));
    }
}

/// `text` without ANSI colour sequences (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes an agent configuration delivering to `server_url`, scraping every second.
/// `jobs` is YAML for the entries of `scrape_configs`, already indented by two spaces.
fn write_agent_config(dir: &Path, server_url: &str, jobs: &str) -> PathBuf {
    let yaml = format!(
        "cluster: {CLUSTER}\nserver:\n  url: {server_url}\nglobal:\n  scrape_interval: 1s\n\
         scrape_configs:\n{jobs}queue:\n  max_size: 1GiB\n  min_shards: 1\n  max_shards: 8\n"
    );
    let path = dir.join("agent.yml");
    std::fs::write(&path, &yaml).expect("writing agent.yml");
    println!("agent.yml:\n{yaml}");
    path
}

/// One job with one static target.
fn job(name: &str, target: SocketAddr, extra: &str) -> String {
    format!("  - job_name: {name}\n    static_configs:\n      - targets: ['{target}']\n{extra}")
}

/// Starts `orrery server` on a given port (a restart keeps its address).
fn start_server_on(data_dir: &Path, port: u16) -> Orrery {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let proc = spawn_ready(
        "orrery",
        &mut Orrery::command(data_dir, port, None),
        &format!("http://{addr}/-/ready"),
    );
    Orrery { proc, addr }
}

/// The instant query's vector as `(labels, value)` pairs.
fn query_vector(h: &ureq::Agent, base: &str, q: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let data = get_api(h, &format!("{base}/api/v1/query"), &[("query", q)]);
    assert_eq!(data["resultType"], "vector", "{q}: {data}");
    data["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: result is not an array: {data}"))
        .iter()
        .map(|s| {
            let labels = serde_json::from_value(s["metric"].clone())
                .unwrap_or_else(|e| panic!("{q}: bad metric {s}: {e}"));
            let v = s["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{q}: bad value in {s}"));
            (labels, v)
        })
        .collect()
}

/// The single value of `q`, or `None` while the result is empty.
fn query_one(h: &ureq::Agent, base: &str, q: &str) -> Option<f64> {
    let v = query_vector(h, base, q);
    assert!(v.len() <= 1, "{q}: want at most one sample; got {v:?}");
    v.first().map(|(_, v)| *v)
}

// ---------------------------------------------------------------------------------
// Exactly-once checking.
// ---------------------------------------------------------------------------------

/// The raw samples of `fixture_total` in the server over the last `window`, as
/// `(timestamp ms, value text)`; the series must carry the cluster label.
fn fixture_samples(h: &ureq::Agent, server: &Orrery, window: Duration) -> Vec<(i64, String)> {
    let q = format!("fixture_total[{}s]", window.as_secs().max(60));
    let data = get_api(h, &server.url("/api/v1/query"), &[("query", &q)]);
    assert_eq!(data["resultType"], "matrix", "{q}: {data}");
    let result = data["result"].as_array().expect("result array");
    assert!(
        result.len() <= 1,
        "{q}: want one series; got {}: {data}",
        result.len()
    );
    let Some(series) = result.first() else {
        return Vec::new();
    };
    assert_eq!(
        series["metric"]["cluster"], CLUSTER,
        "fixture_total lacks cluster=\"{CLUSTER}\": {}",
        series["metric"]
    );
    assert_eq!(series["metric"]["job"], "fixture", "{}", series["metric"]);
    series["values"]
        .as_array()
        .expect("values array")
        .iter()
        .map(|p| {
            let ts = p[0].as_f64().expect("timestamp is a number");
            let v = p[1].as_str().expect("value is a string").to_string();
            ((ts * 1000.0).round() as i64, v)
        })
        .collect()
}

/// Compares what the server holds with what the fixture served: every served value
/// exactly once, at a timestamp taken when its scrape started (at or before the fixture
/// served it, within 10 s), nothing else, except values in `may_be_lost` which may be
/// absent (but not duplicated). Returns a report of every discrepancy, empty if none.
fn exactly_once_report(
    served: &[(u64, i64)],
    stored: &[(i64, String)],
    may_be_lost: &[u64],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut by_value: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for (ts, v) in stored {
        match v.parse::<f64>() {
            Ok(f) if f.fract() == 0.0 && f >= 1.0 => {
                by_value.entry(f as u64).or_default().push(*ts)
            }
            _ => problems.push(format!("unexpected value {v:?} at {ts}")),
        }
    }
    let mut missing = Vec::new();
    for &(v, served_ms) in served {
        match by_value.remove(&v) {
            None if may_be_lost.contains(&v) => {
                println!("value {v} (served at {served_ms}) is absent, which the contract allows")
            }
            None => missing.push(v),
            Some(ts) if ts.len() > 1 => {
                problems.push(format!("value {v} stored {} times, at {ts:?}", ts.len()))
            }
            Some(ts) => {
                let lag = served_ms - ts[0];
                if !(-1..10_000).contains(&lag) {
                    problems.push(format!(
                        "value {v} stored at {} but served at {served_ms} ({lag} ms later)",
                        ts[0]
                    ));
                }
            }
        }
    }
    if !missing.is_empty() {
        problems.push(format!(
            "{} served values missing: {}",
            missing.len(),
            ranges(&missing)
        ));
    }
    for (v, ts) in by_value {
        problems.push(format!("value {v} stored at {ts:?} was never served"));
    }
    problems
}

/// `1-3, 7, 9-12` for a sorted list.
fn ranges(v: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// Freezes the fixture, lets the agent deliver everything it scraped, and checks that
/// the server holds every served value exactly once (see [`exactly_once_report`]).
fn freeze_drain_and_check(
    h: &ureq::Agent,
    fixture: &Fixture,
    agent: &Agent,
    server: &Orrery,
    window: Duration,
    may_be_lost: &[u64],
) {
    let served = fixture.freeze();
    // A scrape that was served before the freeze finishes queuing within milliseconds;
    // the next ones fail (503) and only carry `up 0`.
    std::thread::sleep(Duration::from_millis(1500));
    agent.wait_drained(h, DRAIN_TIMEOUT);
    // Delivered means acknowledged means in the WAL and head: no waiting should be
    // needed, but allow a few seconds before declaring a discrepancy.
    let started = Instant::now();
    let (stored, problems) = loop {
        let stored = fixture_samples(h, server, window);
        let problems = exactly_once_report(&served, &stored, may_be_lost);
        if problems.is_empty() || started.elapsed() > Duration::from_secs(5) {
            break (stored, problems);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    println!(
        "fixture served {} values ({}); server holds {} samples of fixture_total",
        served.len(),
        ranges(&served.iter().map(|s| s.0).collect::<Vec<_>>()),
        stored.len()
    );
    let dropped: Vec<(&str, f64)> = [
        "orrery_agent_dropped_4xx_records_total",
        "orrery_agent_dropped_full_records_total",
        "orrery_agent_dropped_corrupt_records_total",
    ]
    .into_iter()
    .map(|m| (m, agent.metric(h, m)))
    .collect();
    println!("agent drop counters: {dropped:?}");
    assert!(
        problems.is_empty(),
        "the server does not hold every scraped value exactly once:\n  {}\nagent log tail:\n{}\nserver log tail:\n{}",
        problems.join("\n  "),
        agent.proc.log_tail(30),
        server.proc.log_tail(30)
    );
    for (m, v) in dropped {
        assert_eq!(v, 0.0, "{m} is {v}");
    }
}

/// Waits until the fixture has served `n` values in total.
fn wait_served(fixture: &Fixture, n: usize, timeout: Duration) {
    wait_for(&format!("fixture served {n} values"), timeout, || {
        let got = fixture.served().len();
        if got >= n {
            Ok(())
        } else {
            Err(format!("{got} served"))
        }
    });
}

// ---------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------

#[test]
fn node_exporter_samples_arrive_with_cluster_label() {
    if !installed(
        NODE_EXPORTER,
        "node_exporter_samples_arrive_with_cluster_label",
    ) {
        return;
    }
    let tmp = temp_dir("orrery-e2e-agent-node-");
    let server = Orrery::start(&tmp.path().join("server"), None);
    let (_node, node_addr) = start_node_exporter();
    let config = write_agent_config(tmp.path(), &server.url(""), &job("node", node_addr, ""));
    let agent = Agent::start(&config, &tmp.path().join("agent"));
    let h = http();
    let base = server.url("");
    let count_q = format!("count({{job=\"node\",cluster=\"{CLUSTER}\"}})");
    let up_q = format!("up{{job=\"node\",cluster=\"{CLUSTER}\"}}");
    let (count, up) = wait_for(
        "node-exporter series in the server with the cluster label",
        Duration::from_secs(60),
        || {
            let count = query_one(&h, &base, &count_q);
            let up = query_one(&h, &base, &up_q);
            match (count, up) {
                (Some(c), Some(u)) if c > 100.0 && u == 1.0 => Ok((c, u)),
                other => Err(format!("{count_q} and {up_q}: {other:?}")),
            }
        },
    );
    println!("{count_q} = {count}, {up_q} = {up}");
    // No series of the job lacks the cluster label.
    let without = query_vector(&h, &base, "count({job=\"node\",cluster!=\"prod-eu-1\"})");
    assert!(
        without.is_empty(),
        "series of job node without cluster=\"{CLUSTER}\": {without:?}"
    );
    let targets = agent.targets(&h);
    assert_eq!(targets.len(), 1, "want one active target: {targets:?}");
    let t = &targets[0];
    println!("target: {t}");
    assert_eq!(t["scrapePool"], "node", "{t}");
    assert_eq!(t["health"], "up", "{t}");
    assert_eq!(t["lastError"], "", "{t}");
    assert_eq!(t["labels"]["job"], "node", "{t}");
    assert_eq!(t["labels"]["instance"], node_addr.to_string(), "{t}");
    assert_eq!(t["scrapeUrl"], format!("http://{node_addr}/metrics"), "{t}");
}

#[test]
fn agent_remote_writes_into_real_prometheus_without_errors() {
    let test = "agent_remote_writes_into_real_prometheus_without_errors";
    if !installed(PROMETHEUS, test) {
        return;
    }
    let tmp = temp_dir("orrery-e2e-agent-prom-");
    let prom_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let prom_config = tmp.path().join("prometheus.yml");
    std::fs::write(&prom_config, "global:\n  scrape_interval: 15s\n")
        .expect("writing prometheus.yml");
    let prom_url = format!("http://{prom_addr}");
    let prom = spawn_ready(
        "prometheus",
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path().join("prometheus").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .arg("--web.enable-remote-write-receiver"),
        &format!("{prom_url}/-/ready"),
    );

    // The agent scrapes Prometheus itself (histograms, summaries, hundreds of series)
    // and node-exporter when it is installed.
    let mut jobs = job("prom", prom_addr, "");
    let mut want_jobs = 1.0;
    let node = Path::new(NODE_EXPORTER).exists().then(start_node_exporter);
    if let Some((_, node_addr)) = &node {
        jobs.push_str(&job("node", *node_addr, ""));
        want_jobs += 1.0;
    } else {
        println!("{NODE_EXPORTER} not installed: the agent scrapes Prometheus only");
    }
    let config = write_agent_config(tmp.path(), &prom_url, &jobs);
    let agent = Agent::start(&config, &tmp.path().join("agent"));
    let agent_started = Instant::now();
    let h = http();
    let up_q = format!("count(up{{cluster=\"{CLUSTER}\"}} == 1)");
    let all_q = format!("count({{cluster=\"{CLUSTER}\"}})");
    wait_for(
        "Prometheus has the agent's series",
        Duration::from_secs(60),
        || {
            let up = query_one(&h, &prom_url, &up_q);
            let all = query_one(&h, &prom_url, &all_q);
            match (up, all) {
                (Some(u), Some(a)) if u == want_jobs && a > 50.0 => Ok(()),
                other => Err(format!("{up_q} and {all_q}: {other:?}")),
            }
        },
    );
    // Keep writing for ~10 s in all, so several requests (with stale markers and
    // metadata) go through.
    if let Some(rest) = Duration::from_secs(10).checked_sub(agent_started.elapsed()) {
        std::thread::sleep(rest);
    }
    let series = query_one(&h, &prom_url, &all_q).unwrap_or(0.0);
    let dropped_4xx = agent.metric(&h, "orrery_agent_dropped_4xx_records_total");
    let sent = agent.metric(&h, "orrery_agent_sent_records_total");
    let failed = agent.metric(&h, "orrery_agent_failed_requests_total");
    let pending = agent.pending(&h);
    println!(
        "after {:?}: Prometheus holds {series} series with cluster=\"{CLUSTER}\"; agent sent {sent} records, \
         dropped_4xx {dropped_4xx}, failed requests {failed}, pending {pending}",
        agent_started.elapsed()
    );
    assert_eq!(
        dropped_4xx,
        0.0,
        "Prometheus rejected records from the agent; agent log tail:\n{}",
        agent.proc.log_tail(30)
    );
    assert!(sent > 0.0, "orrery_agent_sent_records_total is {sent}");
    assert_eq!(
        failed,
        0.0,
        "remote-write requests to Prometheus failed; agent log tail:\n{}",
        agent.proc.log_tail(30)
    );
    assert!(
        !prom.log_text().contains("level=error"),
        "Prometheus logged errors:\n{}",
        prom.log_tail(30)
    );
}

#[test]
fn server_outage_loses_nothing_exactly_once() {
    let outage = Duration::from_secs(
        std::env::var("AGENT_OUTAGE_SECS")
            .ok()
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("AGENT_OUTAGE_SECS={s:?}: {e}"))
            })
            .unwrap_or(20),
    );
    let test_started = Instant::now();
    let tmp = temp_dir("orrery-e2e-agent-outage-");
    let server_dir = tmp.path().join("server");
    let mut server = Orrery::start(&server_dir, None);
    let port = server.addr.port();
    let fixture = Fixture::start();
    let config = write_agent_config(
        tmp.path(),
        &server.url(""),
        &job("fixture", fixture.addr, "    metrics_path: /counter\n"),
    );
    let mut agent = Agent::start(&config, &tmp.path().join("agent"));
    let h = http();

    wait_served(&fixture, 4, Duration::from_secs(20));
    agent.wait_drained(&h, Duration::from_secs(20));
    let before = fixture.served().len();
    println!(
        "delivering normally: {before} values served; stopping the server (SIGTERM) for {outage:?}"
    );
    server.terminate();
    std::thread::sleep(outage);
    let during = fixture.served().len() - before;
    let pending = agent.pending(&h);
    println!("outage over: {during} values served meanwhile, {pending} records pending in the agent's queue");
    assert!(
        pending >= 1.0 && during >= 1,
        "no backlog built up during the outage (pending {pending}, served {during})"
    );

    let server = start_server_on(&server_dir, port);
    agent.wait_drained(&h, DRAIN_TIMEOUT + outage);
    wait_served(
        &fixture,
        fixture.served().len() + 2,
        Duration::from_secs(10),
    );
    freeze_drain_and_check(
        &h,
        &fixture,
        &agent,
        &server,
        test_started.elapsed() + Duration::from_secs(60),
        &[],
    );
    agent.terminate();
    println!("passed in {:?}", test_started.elapsed());
}

/// SIGKILLs the agent and returns the served values the contract lets the kill lose.
///
/// The agent writes each scrape's results to its queue (one `write(2)`, which SIGKILL
/// cannot undo) before it updates the target's health and before the next scrape
/// starts. The kill comes `after_serve` past the latest value served, between two
/// scrapes. The value of the scrape that `/api/v1/targets` reports as `lastScrape`
/// just before the kill, and every value served before it, are in the queue and must
/// arrive. Only a scrape in flight at the kill (served, not yet queued) may be lost,
/// and scrapes are one at a time, so that is at most one value. Normally nothing is in
/// flight at the kill and nothing may be lost.
fn sigkill_and_account(
    h: &ureq::Agent,
    agent: &mut Agent,
    fixture: &Fixture,
    after_serve: Duration,
) -> Vec<u64> {
    let last = fixture.served().last().map_or(0, |s| s.1);
    let wait = (last + after_serve.as_millis() as i64 - now_ms()).max(0);
    std::thread::sleep(Duration::from_millis(wait as u64));
    let targets = agent.targets(h);
    assert_eq!(targets.len(), 1, "want one active target: {targets:?}");
    let last_scrape = targets[0]["lastScrape"]
        .as_str()
        .expect("lastScrape is a string")
        .to_string();
    let status = agent.proc.kill();
    let served = fixture.served();
    // RFC 3339 UTC with milliseconds is fixed-width, so text order is time order. The
    // scrape that started at `last_scrape` was served at or after that instant.
    let queued = (served
        .iter()
        .take_while(|(_, t)| format_rfc3339_ms(*t) < last_scrape)
        .count()
        + 1)
    .min(served.len());
    let may_be_lost: Vec<u64> = served[queued..].iter().map(|s| s.0).collect();
    println!(
        "agent pid {} SIGKILLed ({status}): fixture had served {} values; the last scrape \
         reported done started at {last_scrape}, so values 1-{queued} are queued; \
         in flight (may be lost): {may_be_lost:?}",
        agent.proc.pid(),
        served.len()
    );
    assert!(
        may_be_lost.len() <= 1,
        "values {may_be_lost:?} were served but their scrapes were not reported done at \
         the kill: only one scrape can be in flight"
    );
    may_be_lost
}

/// Two SIGKILLs: first with the server down and a backlog on disk (the restarted agent
/// must resume it), then while delivering to a live server, when some acknowledged
/// records may not yet be checkpointed and are sent again (the server must not store
/// them twice). Every served value must be stored exactly once, except what
/// [`sigkill_and_account`] shows was in flight at a kill.
#[test]
fn agent_sigkill_mid_backlog_resumes_exactly_once() {
    let test_started = Instant::now();
    let tmp = temp_dir("orrery-e2e-agent-kill-");
    let server_dir = tmp.path().join("server");
    let agent_dir = tmp.path().join("agent");
    // The server starts only after the first kill; until then nothing listens there.
    let port = free_port();
    let fixture = Fixture::start();
    let config = write_agent_config(
        tmp.path(),
        &format!("http://127.0.0.1:{port}"),
        &job("fixture", fixture.addr, "    metrics_path: /counter\n"),
    );
    let h = http();
    let mut agent = Agent::start(&config, &agent_dir);
    wait_served(&fixture, 8, Duration::from_secs(30));
    let pending = agent.pending(&h);
    println!("server down: {pending} records queued");
    // Half-way between two scrapes.
    let mut may_be_lost = sigkill_and_account(&h, &mut agent, &fixture, Duration::from_millis(500));
    let queued = (fixture.served().len() - may_be_lost.len()) as f64;

    let mut agent = Agent::start(&config, &agent_dir);
    let resumed = agent.pending(&h);
    println!("restarted agent found {resumed} records in its queue");
    assert!(
        resumed >= queued,
        "the restarted agent has {resumed} records queued; {queued} scrapes were queued before the SIGKILL (one record each, none acknowledged)"
    );
    wait_served(
        &fixture,
        fixture.served().len() + 2,
        Duration::from_secs(20),
    );
    let server = start_server_on(&server_dir, port);
    agent.wait_drained(&h, DRAIN_TIMEOUT);

    // Second kill, while delivering: 200 ms after a scrape, its record is delivered and
    // acknowledged, but likely not yet checkpointed (every second), so it is sent again.
    wait_served(
        &fixture,
        fixture.served().len() + 2,
        Duration::from_secs(20),
    );
    may_be_lost.extend(sigkill_and_account(
        &h,
        &mut agent,
        &fixture,
        Duration::from_millis(200),
    ));
    let agent = Agent::start(&config, &agent_dir);
    // It may have re-sent them already: its startup log has the count.
    println!(
        "restarted agent opened its queue with {} records (unsent, or acknowledged but \
         not yet checkpointed: sent again)",
        agent.queue_records_at_open()
    );
    wait_served(
        &fixture,
        fixture.served().len() + 2,
        Duration::from_secs(20),
    );
    agent.wait_drained(&h, DRAIN_TIMEOUT);
    freeze_drain_and_check(
        &h,
        &fixture,
        &agent,
        &server,
        test_started.elapsed() + Duration::from_secs(60),
        &may_be_lost,
    );
    println!("passed in {:?}", test_started.elapsed());
}

#[test]
fn bad_targets_are_down_with_a_reason_and_do_not_affect_others() {
    let tmp = temp_dir("orrery-e2e-agent-bad-");
    let server = Orrery::start(&tmp.path().join("server"), None);
    let fixture = Fixture::start();
    let a = fixture.addr;
    // (job, extra settings, what lastError must mention)
    let bad: [(&str, &str, &str); 5] = [
        ("garbage", "", "line 1: expected a metric name"),
        (
            "huge",
            "    body_size_limit: 1KB\n",
            "body size limit exceeded",
        ),
        ("unterminated", "", "line 1: expected"),
        ("badutf8", "", "line 2: invalid UTF-8"),
        ("dup", "", "line 2: duplicate sample"),
    ];
    let mut jobs = job("good", a, "    metrics_path: /good\n");
    for (name, extra, _) in &bad {
        jobs.push_str(&job(
            name,
            a,
            &format!("    metrics_path: /{name}\n{extra}"),
        ));
    }
    let config = write_agent_config(tmp.path(), &server.url(""), &jobs);
    let agent = Agent::start(&config, &tmp.path().join("agent"));
    let h = http();

    let targets = wait_for(
        "every target scraped at least once",
        Duration::from_secs(30),
        || {
            let t = agent.targets(&h);
            let unknown: Vec<&Value> = t.iter().filter(|t| t["health"] == "unknown").collect();
            if t.len() == 6 && unknown.is_empty() {
                Ok(t)
            } else {
                Err(format!("{} targets, not yet scraped: {unknown:?}", t.len()))
            }
        },
    );
    let by_job: BTreeMap<String, &Value> = targets
        .iter()
        .map(|t| (t["scrapePool"].as_str().unwrap_or("").to_string(), t))
        .collect();
    let good = by_job["good"];
    println!(
        "good: health {} lastError {:?}",
        good["health"], good["lastError"]
    );
    assert_eq!(good["health"], "up", "{good}");
    assert_eq!(good["lastError"], "", "{good}");
    let mut problems = Vec::new();
    for (name, _, reason) in &bad {
        let t = by_job[*name];
        let err = t["lastError"].as_str().unwrap_or("");
        println!("{name}: health {} lastError {err:?}", t["health"]);
        if t["health"] != "down" || !err.contains(reason) {
            problems.push(format!(
                "{name}: want health down and lastError mentioning {reason:?}; got {t}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // In the server: the bad targets are up 0 and contributed nothing but the
    // synthetic series; the good one is up 1 and its samples arrived.
    let base = server.url("");
    let ups = wait_for(
        "up of every job in the server",
        Duration::from_secs(30),
        || {
            let ups = query_vector(&h, &base, &format!("up{{cluster=\"{CLUSTER}\"}}"));
            let good = query_one(&h, &base, "good_metric{job=\"good\",cluster=\"prod-eu-1\"}");
            if ups.len() == 6 && good == Some(1.0) {
                Ok(ups)
            } else {
                Err(format!("up: {ups:?}; good_metric: {good:?}"))
            }
        },
    );
    for (labels, v) in &ups {
        let job = labels.get("job").map(String::as_str).unwrap_or("");
        let want = if job == "good" { 1.0 } else { 0.0 };
        assert_eq!(*v, want, "up{labels:?} = {v}; want {want}");
    }
    let leaked = query_vector(
        &h,
        &base,
        "count by (job, __name__) ({cluster=\"prod-eu-1\", job!=\"good\", __name__!~\"up|scrape_.*\"})",
    );
    assert!(
        leaked.is_empty(),
        "samples of failed scrapes reached the server: {leaked:?}"
    );
    let good_other = query_one(
        &h,
        &base,
        "good_other{job=\"good\",a=\"b\",cluster=\"prod-eu-1\"}",
    );
    assert_eq!(good_other, Some(2.0), "good_other of the good target");
}

#[test]
fn check_config_reports_file_and_line() {
    let tmp = temp_dir("orrery-e2e-check-");
    let good = "cluster: prod-eu-1\nserver:\n  url: http://127.0.0.1:9090\nglobal:\n  scrape_interval: 1s\n\
                scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n";
    // Line 8: `static_config` for `static_configs`.
    let bad = good.replace("static_configs:", "static_config:");
    let run = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("writing a config");
        let out = Command::new(env!("CARGO_BIN_EXE_orrery"))
            .args(["check", "config"])
            .arg(&path)
            .output()
            .expect("running orrery check config");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("orrery check config {name}: {}\n{text}", out.status);
        (out.status, text)
    };
    let (status, text) = run("bad-agent.yml", &bad);
    assert!(!status.success(), "a typo key was accepted: {text}");
    assert!(
        text.contains("bad-agent.yml"),
        "the message does not name the file: {text}"
    );
    assert!(
        text.contains("line 8"),
        "the message does not give the line (8): {text}"
    );
    assert!(
        text.contains("static_config"),
        "the message does not name the key: {text}"
    );
    let (status, text) = run("good-agent.yml", good);
    assert!(status.success(), "a good file was rejected: {text}");
}
