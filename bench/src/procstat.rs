//! Reading a process's CPU time and memory from `/proc`, and a sampler thread that
//! records the peak resident set size while a phase runs.
//!
//! CPU is `utime + stime + cutime + cstime` from `/proc/PID/stat` (so children the
//! server waited for are included), converted with `sysconf(_SC_CLK_TCK)`. Memory is
//! `VmRSS` sampled every 100ms plus the kernel's own high-water mark `VmHWM`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// CPU seconds the process (and children it waited for) used so far.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    // The command name (field 2) may contain spaces; fields after it start past the last ')'.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("malformed {}", path.display()))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')' the first field is field 3 (state); utime is field 14, so index 11.
    if fields.len() < 15 {
        bail!("malformed {}: {} fields", path.display(), fields.len());
    }
    let mut ticks = 0u64;
    for f in &fields[11..15] {
        ticks += f
            .parse::<u64>()
            .with_context(|| format!("parse {f:?} in {}", path.display()))?;
    }
    Ok(ticks as f64 / clock_ticks())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for unknown names.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kb: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("parse {field} in {path}"))?;
            return Ok(kb * 1024);
        }
    }
    bail!("no {field} in {path}")
}

/// Samples `VmRSS` of a process every 100ms on a background thread.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<u64>,
}

impl RssSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0u64;
            loop {
                if let Ok(rss) = status_bytes(pid, "VmRSS") {
                    peak = peak.max(rss);
                }
                if flag.load(Ordering::Relaxed) {
                    return peak;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssSampler { stop, handle }
    }

    /// Stops sampling and returns the highest `VmRSS` seen, in bytes.
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_and_memory() {
        let me = std::process::id();
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        assert!(status_bytes(me, "VmRSS").unwrap() > 0);
        assert!(status_bytes(me, "VmHWM").unwrap() >= status_bytes(me, "VmRSS").unwrap() / 2);
    }
}
