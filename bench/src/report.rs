//! The results table: one row per system, a ratio line comparing Orrery with
//! VictoriaMetrics against the project's targets, and the notes that say how each number
//! was measured. Rendering only; no measuring happens here.

use std::fmt::Write as _;

/// Everything measured for one system.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Samples accepted (2xx).
    pub samples: u64,
    /// Samples accepted per second of replay wall time.
    pub samples_per_s: f64,
    /// CPU seconds of the server over replay and persist.
    pub cpu_s: f64,
    /// Peak `VmRSS` sampled every 100ms, bytes.
    pub peak_rss: u64,
    /// `VmHWM` at the end, bytes.
    pub hwm: u64,
    /// Bytes holding the persisted data.
    pub disk_bytes: u64,
    /// The data directory including WAL.
    pub data_dir_bytes: u64,
    /// Series the system reported, or why it could not be asked.
    pub series_got: Result<u64, String>,
    /// Replay problem that did not prevent measuring (partial results).
    pub failure: Option<String>,
    /// How "persisted" was measured.
    pub persist_note: String,
}

impl Measured {
    /// CPU microseconds per sample.
    pub fn cpu_us_per_sample(&self) -> f64 {
        self.cpu_s * 1e6 / self.samples.max(1) as f64
    }

    /// Disk bytes per sample.
    pub fn bytes_per_sample(&self) -> f64 {
        self.disk_bytes as f64 / self.samples.max(1) as f64
    }
}

/// The outcome for one system.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Not run, with the reason (for example, the binary is missing).
    Skipped(String),
    /// Started but could not be measured.
    Failed(String),
    /// Measured.
    Done(Measured),
}

/// One table row.
#[derive(Debug, Clone)]
pub struct Row {
    /// System name.
    pub system: String,
    /// Its version.
    pub version: String,
    /// What happened.
    pub outcome: Outcome,
}

/// Renders the table, the ratio line and the notes as Markdown.
pub fn render(rows: &[Row], series_want: u64, header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    out.push_str("| system | version | samples | samples/s | CPU-s | CPU-µs/sample | peak RSS MiB | VmHWM MiB | disk bytes | bytes/sample | data dir bytes (incl. WAL) | series check |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for r in rows {
        match &r.outcome {
            Outcome::Skipped(why) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | SKIPPED: {} | | | | | | | | | |",
                    r.system, r.version, why
                );
            }
            Outcome::Failed(why) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | FAILED: {} | | | | | | | | | |",
                    r.system,
                    r.version,
                    why.replace('\n', " ")
                );
            }
            Outcome::Done(m) => {
                let check = match &m.series_got {
                    Ok(n) if *n == series_want => format!("{n} / {series_want} ✓"),
                    Ok(n) => format!("{n} / {series_want} ✗"),
                    Err(e) => format!("n/a ({})", e.replace('|', "/")),
                };
                let samples = match &m.failure {
                    Some(_) => format!("{} (PARTIAL)", m.samples),
                    None => m.samples.to_string(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.0} | {:.1} | {:.2} | {:.1} | {:.1} | {} | {:.3} | {} | {} |",
                    r.system,
                    r.version,
                    samples,
                    m.samples_per_s,
                    m.cpu_s,
                    m.cpu_us_per_sample(),
                    mib(m.peak_rss),
                    mib(m.hwm),
                    m.disk_bytes,
                    m.bytes_per_sample(),
                    m.data_dir_bytes,
                    check
                );
            }
        }
    }
    out.push('\n');
    out.push_str(&ratio_line(rows));
    out.push('\n');
    for r in rows {
        if let Outcome::Done(m) = &r.outcome {
            let _ = writeln!(out, "- {}: disk = {}.", r.system, m.persist_note);
            if let Some(f) = &m.failure {
                let _ = writeln!(out, "- {}: REPLAY FAILED: {f}", r.system);
            }
        }
    }
    out
}

fn done<'a>(rows: &'a [Row], name: &str) -> Option<&'a Measured> {
    rows.iter()
        .find(|r| r.system == name)
        .and_then(|r| match &r.outcome {
            Outcome::Done(m) if m.failure.is_none() => Some(m),
            _ => None,
        })
}

/// The Orrery ÷ VictoriaMetrics line against the targets (≤0.8×, ≤0.8×, ≤1.0×).
fn ratio_line(rows: &[Row]) -> String {
    let (Some(o), Some(v)) = (done(rows, "orrery"), done(rows, "victoria-metrics")) else {
        return "Orrery vs VictoriaMetrics: not available (both must complete without failures).\n"
            .into();
    };
    let verdict = |ratio: f64, target: f64| {
        format!(
            "{ratio:.2}× (target ≤{target:.1}×: {})",
            if ratio <= target { "PASS" } else { "MISS" }
        )
    };
    let safe = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
    format!(
        "Orrery vs VictoriaMetrics: bytes/sample {}, CPU/sample {}, peak RSS {}\n",
        verdict(safe(o.bytes_per_sample(), v.bytes_per_sample()), 0.8),
        verdict(safe(o.cpu_us_per_sample(), v.cpu_us_per_sample()), 0.8),
        verdict(safe(o.peak_rss as f64, v.peak_rss as f64), 1.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(bytes: u64, cpu: f64, rss: u64) -> Measured {
        Measured {
            samples: 1000,
            samples_per_s: 1.0,
            cpu_s: cpu,
            peak_rss: rss,
            hwm: rss,
            disk_bytes: bytes,
            data_dir_bytes: bytes,
            series_got: Ok(10),
            failure: None,
            persist_note: String::new(),
        }
    }

    #[test]
    fn ratio_line_marks_each_target() {
        let rows = vec![
            Row {
                system: "orrery".into(),
                version: "x".into(),
                outcome: Outcome::Done(m(700, 1.0, 100)),
            },
            Row {
                system: "victoria-metrics".into(),
                version: "y".into(),
                outcome: Outcome::Done(m(1000, 1.0, 100)),
            },
            Row {
                system: "prometheus".into(),
                version: "z".into(),
                outcome: Outcome::Skipped("missing".into()),
            },
        ];
        let text = render(&rows, 10, "# t");
        assert!(
            text.contains("bytes/sample 0.70× (target ≤0.8×: PASS)"),
            "{text}"
        );
        assert!(
            text.contains("CPU/sample 1.00× (target ≤0.8×: MISS)"),
            "{text}"
        );
        assert!(
            text.contains("peak RSS 1.00× (target ≤1.0×: PASS)"),
            "{text}"
        );
        assert!(text.contains("SKIPPED: missing"));
        assert!(text.contains("10 / 10 ✓"));
    }
}
