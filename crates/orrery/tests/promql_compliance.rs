//! The PromQL compliance query list, Orrery against a real Prometheus.
//!
//! The upstream compliance tester (prometheus/compliance, `promql/`) compares a system
//! with Prometheus on data scraped from three PromLabs demo-service instances. This test
//! does the same offline: it generates a deterministic dataset shaped like the demo
//! service's metrics (`demo_cpu_usage_seconds_total`, `demo_memory_usage_bytes`,
//! `demo_api_request_duration_seconds_bucket`, …, with `instance`, `job`, `mode`, `type`,
//! `method`, `path`, `status`, `le` labels; 2h at the 5s interval of the upstream setup), sends the SAME
//! remote-write requests to a real Prometheus (`--web.enable-remote-write-receiver`; the
//! data is in time order, so 2.42's head accepts all of it, with no backfill needed) and to
//! `orrery server`, then runs every query of
//! `compliance/promql-test-queries.expanded.txt` of the conformance data (found by
//! `orrery_testkit::conformance`; see `docs/testing.md`) as a range query
//! (70 minutes, step 1m, well inside the data) against both and compares the answers with
//! `promql_compare` (same series, same timestamps, values within 1e-5 relative, NaN = NaN,
//! errors on both sides).
//!
//! Sample timestamps are 1.217, 2.531 and 4.403 s past the 5 s grid (a per-instance scrape
//! offset, as real scrapes have; the last one puts a sample in every `[1s]` window before a
//! minute), never on a whole second. So no sample sits exactly on a range-window or
//! lookback boundary of the minute-aligned evaluation steps, where Prometheus 2.42 (closed
//! windows) and the 3.x semantics Orrery follows (left-open windows) deliberately differ.
//! Subquery points do land on such boundaries; those queries are listed as deliberate
//! divergences.
//!
//! Queries that currently differ are listed, each with a one-line reason, in
//! `promql_compliance_known.txt`. The test fails on a difference that is not listed and on
//! a listed query that now matches. `COMPLIANCE_UPDATE=1` rewrites the list (keeping the
//! reasons of entries that still differ). Without the conformance data or without
//! Prometheus the test prints one skip line, or fails when `CI` is set.

mod common;

use common::{free_port, http, mix64, read_reply, wait_ready, Orrery, Proc};
use orrery_model::{Labels, Sample, TimeSeries, WriteRequest, STALE_NAN};
use orrery_testkit::promql_compare::{diff, Answer};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// 2024-01-15T00:00:00Z, a Monday: the first scrape step of the dataset.
const T0_MS: i64 = 1_705_276_800_000;
/// The scrape interval of the upstream compliance setup.
const INTERVAL_MS: i64 = 5_000;
/// Scrape steps in a minute.
const PER_MIN: i64 = 60_000 / INTERVAL_MS;
/// Two hours of scrapes.
const STEPS: i64 = 120 * PER_MIN;
/// Scrape steps per remote-write request (ten minutes).
const STEPS_PER_REQUEST: i64 = 10 * PER_MIN;
/// The range queries run from 40 to 110 minutes into the data, one point a minute.
const QUERY_START_MS: i64 = T0_MS + 40 * 60_000;
const QUERY_END_MS: i64 = T0_MS + 110 * 60_000;
const QUERY_STEP: &str = "60";
const INSTANCES: usize = 3;

fn known_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/promql_compliance_known.txt")
}

/// A deterministic number in [0, 1) for a series key and a step.
fn noise(key: u64, step: i64) -> f64 {
    (mix64(key ^ mix64(step as u64 ^ 0x5eed)) >> 11) as f64 / (1u64 << 53) as f64
}

fn key(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// One generated series: labels and one value per step (`None` = no sample; a stale
/// marker is an ordinary `Some(STALE_NAN)`).
struct Gen {
    labels: Vec<(&'static str, String)>,
    offset_ms: i64,
    values: Vec<Option<f64>>,
}

fn instance(i: usize) -> String {
    format!("demo.promlabs.com:{}", 10000 + i)
}

/// The demo-service-shaped dataset, for every instance.
fn dataset() -> Vec<Gen> {
    let mut out = Vec::new();
    let steps = STEPS as usize;
    for i in 0..INSTANCES {
        let inst = instance(i);
        // Each target is scraped at its own offset into the 5s interval.
        let offset_ms = [1_217, 2_531, 4_403][i];
        let base = |name: &'static str| {
            vec![
                ("__name__", name.to_string()),
                ("instance", inst.clone()),
                ("job", "demo".to_string()),
            ]
        };
        let cpus = [4.0, 8.0, 6.0][i];

        out.push(Gen {
            labels: base("demo_num_cpus"),
            offset_ms,
            values: vec![Some(cpus); steps],
        });

        for (mode, share) in [("idle", 0.62), ("user", 0.27), ("system", 0.08)] {
            let mut labels = base("demo_cpu_usage_seconds_total");
            labels.push(("mode", mode.to_string()));
            let k = key(&format!("cpu{i}{mode}"));
            let mut v = 1000.0 * share * (i + 1) as f64;
            let values = (0..STEPS)
                .map(|s| {
                    // One counter restarts (a process restart) half way through.
                    if i == 1 && mode == "user" && s == 75 * PER_MIN {
                        v = 0.0;
                    }
                    v += cpus * share * (INTERVAL_MS / 1000) as f64 * (0.7 + 0.6 * noise(k, s));
                    Some(v)
                })
                .collect();
            out.push(Gen {
                labels,
                offset_ms,
                values,
            });
        }

        let total = 16.0 * (1u64 << 30) as f64 * (i + 1) as f64;
        let k = key(&format!("mem{i}"));
        let mem = |s: i64| {
            let phase = std::f64::consts::TAU * s as f64 / (60 * PER_MIN) as f64 + i as f64;
            let used = (total * (0.45 + 0.2 * phase.sin() + 0.05 * noise(k, s))).round();
            let buffers = (total * (0.02 + 0.01 * noise(k ^ 1, s))).round();
            let cached = (total * (0.15 + 0.05 * (phase / 3.0).cos())).round();
            [
                ("used", used),
                ("buffers", buffers),
                ("cached", cached),
                ("free", total - used - buffers - cached),
            ]
        };
        for t in 0..4 {
            let mut labels = base("demo_memory_usage_bytes");
            labels.push(("type", mem(0)[t].0.to_string()));
            out.push(Gen {
                labels,
                offset_ms,
                values: (0..STEPS).map(|s| Some(mem(s)[t].1)).collect(),
            });
        }

        let k = key(&format!("disk{i}"));
        let mut disk = 50e9 * (i + 1) as f64;
        let values = (0..STEPS)
            .map(|s| {
                // A cleanup frees space on one instance.
                if i == 2 && s == 62 * PER_MIN {
                    disk -= 20e9;
                }
                disk += (7e5 * noise(k, s)).round();
                Some(disk)
            })
            .collect();
        out.push(Gen {
            labels: base("demo_disk_usage_bytes"),
            offset_ms,
            values,
        });
        out.push(Gen {
            labels: base("demo_disk_total_bytes"),
            offset_ms,
            values: vec![Some(500e9 * (i + 1) as f64); steps],
        });

        // Classic histograms: per step, n requests spread over the buckets by a
        // log-logistic latency distribution around a per-path median.
        let les = [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
        ];
        for method in ["GET", "POST"] {
            for path in ["/api/foo", "/api/bar"] {
                for status in ["200", "500"] {
                    let k = key(&format!("api{i}{method}{path}{status}"));
                    let mut rate = if status == "200" { 8.0 } else { 0.4 }
                        * if method == "GET" { 1.0 } else { 0.3 };
                    // One combination never sees traffic: its quantiles are NaN.
                    if i == 2 && method == "POST" && path == "/api/bar" && status == "500" {
                        rate = 0.0;
                    }
                    let median = if path == "/api/foo" { 0.04 } else { 0.3 }
                        * if status == "500" { 3.0 } else { 1.0 };
                    let mut buckets = vec![0.0f64; les.len()];
                    let mut sum = 0.0;
                    let mut count = 0.0;
                    let mut bucket_values = vec![Vec::with_capacity(steps); les.len()];
                    let mut sum_values = Vec::with_capacity(steps);
                    let mut count_values = Vec::with_capacity(steps);
                    for s in 0..STEPS {
                        let n = (rate * (INTERVAL_MS / 1000) as f64 * (0.5 + noise(k, s))).floor();
                        for (j, le) in les.iter().enumerate() {
                            let cdf = match *le {
                                "+Inf" => 1.0,
                                _ => {
                                    let le: f64 = le.parse().expect("bucket bound");
                                    1.0 / (1.0 + (median / le).powi(2))
                                }
                            };
                            buckets[j] += (n * cdf).round();
                            bucket_values[j].push(Some(buckets[j]));
                        }
                        sum += n * median * (0.9 + 0.4 * noise(k ^ 7, s));
                        count += n;
                        sum_values.push(Some(sum));
                        count_values.push(Some(count));
                    }
                    let labels_for = |name: &'static str| {
                        let mut l = base(name);
                        l.push(("method", method.to_string()));
                        l.push(("path", path.to_string()));
                        l.push(("status", status.to_string()));
                        l
                    };
                    for (j, values) in bucket_values.into_iter().enumerate() {
                        let mut labels = labels_for("demo_api_request_duration_seconds_bucket");
                        labels.push(("le", les[j].to_string()));
                        out.push(Gen {
                            labels,
                            offset_ms,
                            values,
                        });
                    }
                    out.push(Gen {
                        labels: labels_for("demo_api_request_duration_seconds_sum"),
                        offset_ms,
                        values: sum_values,
                    });
                    out.push(Gen {
                        labels: labels_for("demo_api_request_duration_seconds_count"),
                        offset_ms,
                        values: count_values,
                    });
                }
            }
        }

        // A batch job runs every 5 minutes and fails about one run in four; the gauge
        // holds the Unix time of the last success.
        let k = key(&format!("batch{i}"));
        let mut last = (T0_MS / 1000 - 3600) as f64;
        let values = (0..STEPS)
            .map(|s| {
                if (s + i as i64 * 7) % (5 * PER_MIN) == 0 && noise(k, s) > 0.25 {
                    last = ((T0_MS + s * INTERVAL_MS + offset_ms) / 1000) as f64;
                }
                Some(last)
            })
            .collect();
        out.push(Gen {
            labels: base("demo_batch_last_success_timestamp_seconds"),
            offset_ms,
            values,
        });
    }

    // A metric that comes and goes (10 minutes on, 10 off) on the first instance, with a
    // stale marker when it goes, as a scrape would write.
    let values = (0..STEPS)
        .map(|s| match ((s / (10 * PER_MIN)) % 2, s % (10 * PER_MIN)) {
            (0, _) => Some((s % 17) as f64),
            (1, 0) => Some(STALE_NAN),
            _ => None,
        })
        .collect();
    out.push(Gen {
        labels: vec![
            ("__name__", "demo_intermittent_metric".to_string()),
            ("instance", instance(0)),
            ("job", "demo".to_string()),
        ],
        offset_ms: 1_217,
        values,
    });
    out
}

/// The dataset as remote-write 1.0 bodies, each holding `STEPS_PER_REQUEST` steps of
/// every series, in time order.
fn requests(data: &[Gen]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut first = 0;
    while first < STEPS {
        let last = (first + STEPS_PER_REQUEST).min(STEPS);
        let timeseries = data
            .iter()
            .filter_map(|g| {
                let samples: Vec<Sample> = (first..last)
                    .filter_map(|s| {
                        g.values[s as usize]
                            .map(|v| Sample::new(T0_MS + s * INTERVAL_MS + g.offset_ms, v))
                    })
                    .collect();
                (!samples.is_empty()).then(|| TimeSeries {
                    labels: Labels::from_pairs(g.labels.iter().map(|(k, v)| (*k, v.clone()))),
                    samples,
                })
            })
            .collect();
        out.push(orrery_wire::encode_v1(&WriteRequest {
            timeseries,
            metadata: Vec::new(),
        }));
        first = last;
    }
    out
}

fn start_prometheus(dir: &Path) -> (Proc, String) {
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 5s\n").expect("writing prometheus.yml");
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let mut proc = Proc::spawn(
            "prometheus",
            Command::new(PROMETHEUS)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.enable-remote-write-receiver"),
        );
        let url = format!("http://127.0.0.1:{port}");
        match wait_ready(
            &mut proc,
            &format!("{url}/-/ready"),
            Duration::from_secs(30),
        ) {
            Ok(()) => {
                println!("prometheus pid {} ready on {url}", proc.pid());
                return (proc, url);
            }
            Err(e) if proc.log_text().contains("address already in use") => last = e,
            Err(e) => panic!("prometheus did not start: {e}"),
        }
    }
    panic!("prometheus did not start (port taken three times): {last}");
}

fn range_query(agent: &ureq::Agent, base: &str, q: &str) -> Answer {
    let start = format!("{}", QUERY_START_MS / 1000);
    let end = format!("{}", QUERY_END_MS / 1000);
    match agent
        .get(format!("{base}/api/v1/query_range"))
        .query_pairs([
            ("query", q),
            ("start", &start),
            ("end", &end),
            ("step", QUERY_STEP),
        ])
        .call()
    {
        Ok(resp) => {
            let (status, body) = read_reply(resp);
            Answer::parse(status, &body)
        }
        Err(e) => Answer::Malformed(format!("transport error: {e}")),
    }
}

/// `query<TAB>reason` lines; `#` lines and blank lines are ignored.
fn read_known(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('\t') {
            Some((q, r)) => (q.to_string(), r.trim().to_string()),
            None => panic!(
                "{}: line without a TAB-separated reason: {l:?}",
                path.display()
            ),
        })
        .collect()
}

const KNOWN_HEADER: &str = "\
# Queries of <conformance>/compliance/promql-test-queries.expanded.txt whose range-query
# result from Orrery differs from Prometheus 2.42 (Debian's /usr/bin/prometheus) in
# crates/orrery/tests/promql_compliance.rs. One per line: <query><TAB><reason>.
# \"deliberate:\" = Orrery follows Prometheus 3.x semantics, which differ from 2.42 here.
# \"bug:\" = Orrery is wrong. COMPLIANCE_UPDATE=1 rewrites this file, keeping the reasons of
# entries that still differ; new entries get \"UNCLASSIFIED\" and must be given a reason.
";

#[test]
fn compliance_queries_give_prometheus_results_as_range_queries() {
    let Some(compliance) = orrery_testkit::conformance::dir("promql_compliance", "compliance")
    else {
        return;
    };
    if !Path::new(PROMETHEUS).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{PROMETHEUS} is missing and CI is set: install it with `apt-get install prometheus` (.ci/run does)");
        }
        let _ = writeln!(
            std::io::stderr(),
            "\n******** SKIPPED: prometheus not installed ({PROMETHEUS} missing); \
             `apt-get install prometheus` to run promql_compliance ********\n"
        );
        return;
    }
    let list_path = compliance.join("promql-test-queries.expanded.txt");
    let list = std::fs::read_to_string(&list_path).unwrap_or_else(|e| {
        panic!(
            "cannot read the compliance query list {}: {e}",
            list_path.display()
        )
    });
    let queries: Vec<(bool, String)> = list
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once('\t') {
            Some(("OK", q)) => (false, q.to_string()),
            Some(("FAIL", q)) => (true, q.to_string()),
            _ => panic!("{}: unexpected line {l:?}", list_path.display()),
        })
        .collect();
    let started = Instant::now();

    let tmp = tempfile::Builder::new()
        .prefix("orrery-e2e-compliance-")
        .tempdir()
        .expect("creating a temp dir");
    let orrery = Orrery::start(&tmp.path().join("orrery"), None);
    let (_prom, prom_url) = start_prometheus(tmp.path());

    let data = dataset();
    let bodies = requests(&data);
    let agent = http();
    for (n, body) in bodies.iter().enumerate() {
        for (name, url) in [
            ("prometheus", format!("{prom_url}/api/v1/write")),
            ("orrery", orrery.url("/api/v1/write")),
        ] {
            let (status, reply) = common::post_remote_write(&agent, &url, false, body)
                .unwrap_or_else(|e| panic!("remote write {n} to {name}: {e}"));
            assert!(
                (200..300).contains(&status),
                "remote write {n} to {name} answered {status}: {reply}"
            );
        }
    }
    let samples: usize = data.iter().map(|g| g.values.iter().flatten().count()).sum();
    println!(
        "loaded {} series, {samples} samples ({} requests) into both in {:?}",
        data.len(),
        bodies.len(),
        started.elapsed()
    );

    let known = read_known(&known_path());
    let mut differing: Vec<(String, String)> = Vec::new();
    let mut passed = 0;
    let mut reference_surprises = Vec::new();
    let mut empty = 0;
    for (should_fail, q) in &queries {
        let want = range_query(&agent, &prom_url, q);
        let got = range_query(&agent, &orrery.url(""), q);
        match (&want, should_fail) {
            (Answer::Error(_), false) | (Answer::Matrix(_), true) | (Answer::Malformed(_), _) => {
                reference_surprises.push(format!(
                    "{q}: list says {}, prometheus gave {}",
                    if *should_fail { "FAIL" } else { "OK" },
                    want.describe()
                ))
            }
            (Answer::Matrix(m), false) if m.is_empty() => empty += 1,
            _ => {}
        }
        match diff(&want, &got) {
            None => passed += 1,
            Some(d) => differing.push((q.clone(), d)),
        }
    }
    let elapsed = started.elapsed();

    let new: Vec<&(String, String)> = differing
        .iter()
        .filter(|(q, _)| !known.contains_key(q))
        .collect();
    let still: Vec<&(String, String)> = differing
        .iter()
        .filter(|(q, _)| known.contains_key(q))
        .collect();
    let fixed: Vec<&String> = known
        .keys()
        .filter(|q| !differing.iter().any(|(d, _)| d == *q))
        .collect();
    println!("\n==== PromQL compliance (range queries, Orrery vs Prometheus 2.42) ====");
    println!(
        "{} queries: {passed} pass, {} differ ({} known, {} NEW), {} listed as known but now pass; {empty} gave an empty result on Prometheus; {elapsed:?}",
        queries.len(),
        differing.len(),
        still.len(),
        new.len(),
        fixed.len()
    );
    for s in &reference_surprises {
        println!("note (reference data): {s}");
    }
    for (q, d) in &still {
        println!("KNOWN  {q}\n  reason: {}\n  {d}", known[q]);
    }
    for (q, d) in &new {
        println!("NEW    {q}\n  {d}");
    }
    for q in &fixed {
        println!(
            "FIXED  {q} (listed in {}, now matches)",
            known_path().display()
        );
    }

    if std::env::var_os("COMPLIANCE_UPDATE").is_some() {
        let mut text = KNOWN_HEADER.to_string();
        for (q, d) in &differing {
            let reason = known
                .get(q)
                .cloned()
                .unwrap_or_else(|| format!("UNCLASSIFIED: {}", d.lines().next().unwrap_or("")));
            text.push_str(&format!("{q}\t{reason}\n"));
        }
        std::fs::write(known_path(), text).expect("writing the known list");
        println!(
            "COMPLIANCE_UPDATE: wrote {} entries to {}",
            differing.len(),
            known_path().display()
        );
        return;
    }
    assert!(
        new.is_empty() && fixed.is_empty(),
        "{} new differences and {} listed queries that now pass (see above); fix them, or run with COMPLIANCE_UPDATE=1 and give each new entry a reason",
        new.len(),
        fixed.len()
    );
}
