//! The server's own metrics, declared in one place, and the Prometheus text
//! exposition of them together with storage's.

use orrery_tsdb::{MetricKind, MetricValue};
use orrery_wire::exposition::write_label_value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Counters the HTTP layer updates.
#[derive(Default)]
pub(crate) struct HttpMetrics {
    /// (route, code) → count.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    pub remote_write_requests: AtomicU64,
    pub remote_write_samples: AtomicU64,
    /// reason → count of rejected remote-write requests.
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// endpoint → (queries, total seconds).
    query_durations: Mutex<BTreeMap<&'static str, (u64, f64)>>,
    /// (endpoint, errorType) → failed queries.
    query_failures: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Queries waiting for a slot or being evaluated.
    pub queries_in_flight: AtomicI64,
    /// Samples loaded by queries.
    pub query_samples: AtomicU64,
}

/// Counts a query as in flight until dropped.
pub(crate) struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HttpMetrics {
    pub fn observe(&self, route: &str, code: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((route.to_string(), code)).or_default() += 1;
    }

    pub fn rejected(&self, reason: &'static str) {
        let mut m = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(reason).or_default() += 1;
    }

    /// Marks a query as in flight for the guard's lifetime.
    pub fn query_started(&self) -> InFlight<'_> {
        self.queries_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.queries_in_flight)
    }

    /// Records a finished query (successful or not) and how long it took.
    pub fn query_finished(
        &self,
        endpoint: &'static str,
        took: Duration,
        error: Option<&'static str>,
    ) {
        {
            let mut m = self
                .query_durations
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let e = m.entry(endpoint).or_default();
            e.0 += 1;
            e.1 += took.as_secs_f64();
        }
        if let Some(kind) = error {
            let mut m = self
                .query_failures
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *m.entry((endpoint, kind)).or_default() += 1;
        }
    }

    /// Renders everything in the Prometheus text format 0.0.4.
    pub fn render(&self, storage: &[MetricValue]) -> String {
        let mut out = String::with_capacity(8192);
        header(
            &mut out,
            "orrery_http_requests_total",
            "HTTP requests by route and status code.",
            "counter",
        );
        for ((route, code), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = write!(
                out,
                "orrery_http_requests_total{{code=\"{code}\",handler=\""
            );
            write_label_value(&mut out, route);
            let _ = writeln!(out, "\"}} {n}");
        }
        header(
            &mut out,
            "orrery_remote_write_requests_total",
            "Remote-write requests received.",
            "counter",
        );
        let _ = writeln!(
            out,
            "orrery_remote_write_requests_total {}",
            self.remote_write_requests.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "orrery_remote_write_samples_total",
            "Samples received by remote write (before deduplication).",
            "counter",
        );
        let _ = writeln!(
            out,
            "orrery_remote_write_samples_total {}",
            self.remote_write_samples.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "orrery_remote_write_rejected_requests_total",
            "Remote-write requests rejected, by reason.",
            "counter",
        );
        for (reason, n) in self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "orrery_remote_write_rejected_requests_total{{reason=\"{reason}\"}} {n}"
            );
        }
        header(
            &mut out,
            "orrery_query_duration_seconds",
            "Time spent answering queries (waiting for a slot included), by endpoint.",
            "summary",
        );
        for (endpoint, (n, secs)) in self
            .query_durations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "orrery_query_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {secs}\n\
                 orrery_query_duration_seconds_count{{endpoint=\"{endpoint}\"}} {n}"
            );
        }
        header(
            &mut out,
            "orrery_query_failures_total",
            "Queries that failed, by endpoint and Prometheus error type.",
            "counter",
        );
        for ((endpoint, kind), n) in self
            .query_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "orrery_query_failures_total{{endpoint=\"{endpoint}\",error_type=\"{kind}\"}} {n}"
            );
        }
        header(
            &mut out,
            "orrery_queries_in_flight",
            "Queries waiting for a slot or being evaluated.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "orrery_queries_in_flight {}",
            self.queries_in_flight.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "orrery_query_samples_total",
            "Samples loaded by PromQL queries.",
            "counter",
        );
        let _ = writeln!(
            out,
            "orrery_query_samples_total {}",
            self.query_samples.load(Ordering::Relaxed)
        );
        for m in storage {
            let kind = match m.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
            };
            header(&mut out, m.name, m.help, kind);
            let _ = writeln!(out, "{} {}", m.name, m.value);
        }
        process_metrics(&mut out);
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// `process_*` metrics from /proc, as the Prometheus client libraries export them.
fn process_metrics(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the parenthesised command name; see proc(5).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    let ticks = 100.0;
    let cpu = (num(11) + num(12)) / ticks;
    let rss_pages = num(21);
    header(
        out,
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
    );
    let _ = writeln!(out, "process_cpu_seconds_total {cpu}");
    header(
        out,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        "gauge",
    );
    let _ = writeln!(out, "process_resident_memory_bytes {}", rss_pages * 4096.0);
}
