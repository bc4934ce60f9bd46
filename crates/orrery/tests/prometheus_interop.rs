//! Interoperability with a real Prometheus (Debian's `/usr/bin/prometheus`): it scrapes
//! itself (`job="prom"`) and, when installed, node-exporter (`job="node"`) every second
//! and remote-writes everything to `orrery server`. The test waits until every series
//! Prometheus had a few seconds ago is listed by Orrery's `/api/v1/series`, then checks
//! that Prometheus counted no failed samples and Orrery rejected no request.
//!
//! Without Prometheus the test prints a loud SKIPPED line, or fails when `CI` is set:
//! CI must install it (`.ci/run` does).

mod common;

use common::{free_port, get_api, http, spawn_ready, start_node_exporter, Orrery, NODE_EXPORTER};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// How long the whole comparison may take once Prometheus is ready.
const DEADLINE: Duration = Duration::from_secs(60);
/// Series Prometheus created this recently may not have been sent yet.
const LAG_SECS: f64 = 5.0;

type LabelSet = BTreeMap<String, String>;

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn series(
    agent: &ureq::Agent,
    base: &str,
    selector: &str,
    start: f64,
    end: f64,
) -> BTreeSet<LabelSet> {
    let data = get_api(
        agent,
        &format!("{base}/api/v1/series"),
        &[
            ("match[]", selector),
            ("start", &format!("{start:.3}")),
            ("end", &format!("{end:.3}")),
        ],
    );
    data.as_array()
        .unwrap_or_else(|| panic!("{base}/api/v1/series: data is not an array: {data}"))
        .iter()
        .map(|s| {
            serde_json::from_value(s.clone())
                .unwrap_or_else(|e| panic!("{base}: series {s} is not a label set: {e}"))
        })
        .collect()
}

/// The single value of an instant query that must return one sample, or `None` while
/// the result is empty.
fn query_scalar(agent: &ureq::Agent, base: &str, q: &str) -> Option<f64> {
    let data = get_api(agent, &format!("{base}/api/v1/query"), &[("query", q)]);
    let result = data["result"].as_array()?;
    let sample = result.first()?;
    let v = sample["value"][1].as_str()?;
    Some(
        v.parse()
            .unwrap_or_else(|e| panic!("{q}: value {v:?} is not a number: {e}")),
    )
}

fn show(l: &LabelSet) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

#[test]
fn prometheus_remote_write_reaches_orrery_without_failures() {
    if !Path::new(PROMETHEUS).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{PROMETHEUS} is missing and CI is set: install it with `apt-get install prometheus prometheus-node-exporter` (.ci/run does)");
        }
        // Straight to stderr, past the test harness's capture, so it is seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n******** SKIPPED: prometheus not installed ({PROMETHEUS} missing); \
             `apt-get install prometheus prometheus-node-exporter` to run prometheus_interop ********\n"
        );
        return;
    }
    let tmp = tempfile::Builder::new()
        .prefix("orrery-e2e-interop-")
        .tempdir()
        .expect("creating a temp dir");
    let orrery = Orrery::start(&tmp.path().join("orrery"), None);

    let node = Path::new(NODE_EXPORTER).exists().then(start_node_exporter);
    if node.is_none() {
        println!("{NODE_EXPORTER} not installed: scraping Prometheus only");
    }

    let prom_port = free_port();
    let mut config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: prom\n    static_configs:\n      - targets: ['127.0.0.1:{prom_port}']\n"
    );
    if let Some((_, addr)) = &node {
        config.push_str(&format!(
            "  - job_name: node\n    static_configs:\n      - targets: ['{addr}']\n"
        ));
    }
    config.push_str(&format!(
        "remote_write:\n  - url: 'http://{}/api/v1/write'\n    queue_config:\n      batch_send_deadline: 1s\n",
        orrery.addr
    ));
    let config_path = tmp.path().join("prometheus.yml");
    std::fs::write(&config_path, &config).expect("writing prometheus.yml");
    println!("prometheus.yml:\n{config}");
    let prom_url = format!("http://127.0.0.1:{prom_port}");
    let _prom = spawn_ready(
        "prometheus",
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path().join("prometheus").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}")),
        &format!("{prom_url}/-/ready"),
    );
    let ready_at = now_secs();

    let agent = http();
    let jobs: Vec<&str> = if node.is_some() {
        vec!["prom", "node"]
    } else {
        vec!["prom"]
    };
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let now = now_secs();
        // Series Prometheus had up to LAG_SECS ago (its own start excluded).
        let window_end = now - LAG_SECS;
        let mut report = Vec::new();
        let mut agree = window_end > ready_at + 1.0;
        for job in &jobs {
            let selector = format!("{{job=\"{job}\"}}");
            let want = series(&agent, &prom_url, &selector, ready_at, window_end);
            let have = series(&agent, &orrery.url(""), &selector, now - 3600.0, now + 60.0);
            let missing: Vec<&LabelSet> = want.difference(&have).collect();
            report.push(format!(
                "job={job}: Prometheus has {} series, Orrery {}, missing from Orrery {}{}",
                want.len(),
                have.len(),
                missing.len(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", e.g.:\n    {}",
                        missing
                            .iter()
                            .take(10)
                            .map(|l| show(l))
                            .collect::<Vec<_>>()
                            .join("\n    ")
                    )
                }
            ));
            // Prometheus exposes hundreds of series about itself; a handful means the
            // comparison has not really started.
            agree &= want.len() >= 50 && missing.is_empty();
        }
        if agree {
            println!(
                "agreement after {:?} ({rounds} rounds):\n  {}",
                started.elapsed(),
                report.join("\n  ")
            );
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "Orrery still lacks series Prometheus sent it {DEADLINE:?} after Prometheus became ready:\n  {}\nOrrery log tail:\n{}",
            report.join("\n  "),
            orrery.proc.log_tail(30)
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    // Prometheus's own account of remote write, from its self-scrape.
    let failed = loop {
        match query_scalar(
            &agent,
            &prom_url,
            "sum(prometheus_remote_storage_samples_failed_total)",
        ) {
            Some(v) => break v,
            None => {
                assert!(
                    started.elapsed() < DEADLINE + Duration::from_secs(15),
                    "prometheus_remote_storage_samples_failed_total never appeared in Prometheus"
                );
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    for q in [
        "sum(prometheus_remote_storage_samples_total)",
        "sum(prometheus_remote_storage_samples_retried_total)",
        "sum(prometheus_remote_storage_samples_dropped_total)",
    ] {
        println!("{q} = {:?}", query_scalar(&agent, &prom_url, q));
    }
    assert_eq!(
        failed, 0.0,
        "Prometheus counted {failed} samples it failed to remote-write to Orrery"
    );

    // Orrery's side: requests arrived and none was rejected.
    let resp = agent
        .get(&orrery.url("/metrics"))
        .call()
        .expect("GET orrery /metrics");
    let (status, metrics) = common::read_reply(resp);
    assert_eq!(status, 200);
    let received = orrery
        .metric(&agent, "orrery_remote_write_samples_total")
        .unwrap_or(0.0);
    println!("orrery received {received} samples");
    assert!(received > 0.0, "orrery_remote_write_samples_total is 0");
    let rejected: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("orrery_remote_write_rejected_requests_total{"))
        .filter(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v > 0.0)
        })
        .collect();
    assert!(
        rejected.is_empty(),
        "Orrery rejected remote-write requests from Prometheus: {rejected:?}"
    );
}
