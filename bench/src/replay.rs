//! Replaying pre-encoded bodies into one system with parallel senders, the way a
//! Prometheus remote-write queue does: each sender owns a shard of the series and sends
//! its requests in time order, retrying 5xx and 429 with backoff; any other 4xx is a hard
//! failure that stops the replay.
//!
//! Concurrency contract: one thread per shard file; senders share only atomics. A sender
//! never runs more than [`MAX_LEAD_STEPS`] scrape steps ahead of the slowest unfinished
//! sender, like remote-write shards that drain one queue; without this a sender that
//! fell behind could send samples Prometheus rejects as too old for its head.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::batches::{Prepared, ShardReader};
use crate::http::Client;

/// How far (in 15s steps) a sender may run ahead of the slowest one.
pub const MAX_LEAD_STEPS: u32 = 20;
/// Attempts per request before giving up on a retryable error.
const MAX_ATTEMPTS: u32 = 30;

/// What a replay achieved.
#[derive(Debug, Clone)]
pub struct ReplayResult {
    /// Samples in requests answered with 2xx.
    pub samples_accepted: u64,
    /// Requests answered with 2xx.
    pub requests_ok: u64,
    /// Retried attempts (5xx, 429, connection errors).
    pub retries: u64,
    /// From the first request to the last 2xx.
    pub wall: Duration,
    /// Why the replay stopped early, if it did.
    pub failure: Option<String>,
}

/// Sends every request of `prepared` to `url`; `progress(percent)` is called at each
/// 10% of samples accepted.
pub fn replay(
    prepared: &Prepared,
    url: &str,
    timeout: Duration,
    progress: &(dyn Fn(u64) + Sync),
) -> ReplayResult {
    let n = prepared.shard_files.len();
    let steps: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
    let abort = AtomicBool::new(false);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let accepted = AtomicU64::new(0);
    let requests_ok = AtomicU64::new(0);
    let retries = AtomicU64::new(0);
    let last_ok_ns = AtomicU64::new(0);
    let total = prepared.samples.max(1);
    let start = Instant::now();

    let fail = |msg: String| {
        let mut f = failure.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            *f = Some(msg);
        }
        abort.store(true, Ordering::SeqCst);
    };

    std::thread::scope(|scope| {
        for (s, path) in prepared.shard_files.iter().enumerate() {
            let (steps, abort, accepted, requests_ok, retries, last_ok_ns, fail) = (
                &steps,
                &abort,
                &accepted,
                &requests_ok,
                &retries,
                &last_ok_ns,
                &fail,
            );
            scope.spawn(move || {
                let http = Client::new(timeout);
                let mut reader = match ShardReader::open(path) {
                    Ok(r) => r,
                    Err(e) => return fail(format!("{e:#}")),
                };
                loop {
                    let req = match reader.next_request() {
                        Ok(Some(r)) => r,
                        Ok(None) => break,
                        Err(e) => return fail(format!("{e:#}")),
                    };
                    steps[s].store(req.step, Ordering::SeqCst);
                    while req.step > min_step(steps).saturating_add(MAX_LEAD_STEPS) {
                        if abort.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    let mut attempt = 0;
                    let mut backoff = Duration::from_millis(50);
                    loop {
                        if abort.load(Ordering::Relaxed) {
                            return;
                        }
                        attempt += 1;
                        let retry_reason = match http.post_remote_write(url, &req.body) {
                            Ok(r) if r.ok() => {
                                let before = accepted.fetch_add(req.samples as u64, Ordering::Relaxed);
                                requests_ok.fetch_add(1, Ordering::Relaxed);
                                last_ok_ns.fetch_max(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                                let after = before + req.samples as u64;
                                if after * 10 / total > before * 10 / total {
                                    progress(after * 10 / total * 10);
                                }
                                break;
                            }
                            Ok(r) if r.status == 429 || r.status >= 500 => format!("HTTP {}: {}", r.status, r.body.trim()),
                            Ok(r) => {
                                return fail(format!(
                                    "HTTP {} (hard failure, not retried) for a request of {} samples at step {}: {}",
                                    r.status,
                                    req.samples,
                                    req.step,
                                    truncate(r.body.trim(), 300)
                                ));
                            }
                            Err(e) => format!("{e:#}"),
                        };
                        if attempt >= MAX_ATTEMPTS {
                            return fail(format!("gave up after {attempt} attempts: {}", truncate(&retry_reason, 300)));
                        }
                        retries.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
                steps[s].store(u32::MAX, Ordering::SeqCst);
            });
        }
    });

    ReplayResult {
        samples_accepted: accepted.into_inner(),
        requests_ok: requests_ok.into_inner(),
        retries: retries.into_inner(),
        wall: Duration::from_nanos(last_ok_ns.into_inner()),
        failure: failure.into_inner().unwrap_or_else(|e| e.into_inner()),
    }
}

/// The step of the slowest unfinished sender (finished senders hold `u32::MAX`).
fn min_step(steps: &[AtomicU32]) -> u32 {
    steps
        .iter()
        .map(|s| s.load(Ordering::SeqCst))
        .min()
        .unwrap_or(u32::MAX)
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
