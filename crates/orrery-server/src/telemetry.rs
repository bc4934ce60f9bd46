//! The server's own metrics, declared in one place, and the Prometheus text
//! exposition of them together with storage's.

use orrery_tsdb::{MetricKind, MetricValue};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters the HTTP layer updates.
#[derive(Default)]
pub(crate) struct HttpMetrics {
    /// (route, code) → count.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    pub remote_write_requests: AtomicU64,
    pub remote_write_samples: AtomicU64,
    /// reason → count of rejected remote-write requests.
    rejected: Mutex<BTreeMap<&'static str, u64>>,
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
            let _ = writeln!(
                out,
                "orrery_http_requests_total{{code=\"{code}\",handler=\"{}\"}} {n}",
                escape(route)
            );
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

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
