//! One shard: sends its records strictly in the order it receives them, one request at
//! a time, merging consecutive small records into one request, retrying what can
//! succeed later and dropping (counted) what cannot. Acknowledges only after a 2xx or
//! a counted drop.

use super::{Shared, MAX_RETRY_AFTER};
use crate::queue::Record;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Longest response body quoted in a log line.
const MAX_LOGGED_BODY: usize = 1024;

/// How one request ended.
enum Outcome {
    /// 2xx.
    Accepted,
    /// A 4xx other than 429: retrying cannot help.
    Rejected { status: u16, body: String },
    /// The delivery is stopping; the records stay unacknowledged.
    Stopped,
}

/// The shard task: runs until its channel closes or the stop signal is raised.
pub(super) async fn run(
    shared: Arc<Shared>,
    index: usize,
    mut rx: mpsc::UnboundedReceiver<Record>,
    mut stop: watch::Receiver<bool>,
) {
    let mut rng = Jitter::new(index);
    let mut carry: Option<Record> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let first = match carry.take() {
            Some(r) => r,
            None => tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
                _ = stop.changed() => return,
            },
        };
        let mut batch = vec![first];
        let cfg = &shared.cfg;
        if let Some(mut size) = mergeable_len(&batch[0]).filter(|_| cfg.merge_max_bytes > 0) {
            while batch.len() < cfg.merge_max_records {
                let Ok(r) = rx.try_recv() else { break };
                match mergeable_len(&r) {
                    Some(len) if size + len <= cfg.merge_max_bytes => {
                        size += len;
                        batch.push(r);
                    }
                    _ => {
                        carry = Some(r);
                        break;
                    }
                }
            }
        }
        if !deliver(&shared, &mut stop, &mut rng, batch).await {
            return;
        }
    }
}

/// Decompressed size of a record's body if it can be merged (valid snappy header).
fn mergeable_len(r: &Record) -> Option<usize> {
    snap::raw::decompress_len(&r.entry.payload).ok()
}

/// Concatenates the decompressed bodies and recompresses them. Two serialized
/// `WriteRequest`s concatenated are one `WriteRequest` with both sets of repeated
/// fields, so the result is valid remote write. `None` if a body is not valid snappy.
fn merge(batch: &[Record]) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    let mut dec = snap::raw::Decoder::new();
    for r in batch {
        raw.extend_from_slice(&dec.decompress_vec(&r.entry.payload).ok()?);
    }
    snap::raw::Encoder::new().compress_vec(&raw).ok()
}

/// Sends a batch (merged if it has several records) and acknowledges it. A 4xx on a
/// merged request is retried record by record so only the bad ones are dropped.
/// Returns false when stopping.
async fn deliver(
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    rng: &mut Jitter,
    batch: Vec<Record>,
) -> bool {
    let merged = if batch.len() > 1 { merge(&batch) } else { None };
    let Some(body) = merged else {
        for r in batch {
            let outcome = send(shared, stop, rng, r.entry.payload.clone()).await;
            if !settle(shared, outcome, std::slice::from_ref(&r)) {
                return false;
            }
        }
        return true;
    };
    match send(shared, stop, rng, body).await {
        Outcome::Rejected { status, .. } => {
            tracing::info!(
                status,
                records = batch.len(),
                "Merged request refused; sending its records one by one."
            );
            for r in batch {
                let outcome = send(shared, stop, rng, r.entry.payload.clone()).await;
                if !settle(shared, outcome, std::slice::from_ref(&r)) {
                    return false;
                }
            }
            true
        }
        outcome => settle(shared, outcome, &batch),
    }
}

/// Acknowledges (2xx, or a counted 4xx drop) and counts; false when stopping.
fn settle(shared: &Shared, outcome: Outcome, records: &[Record]) -> bool {
    let c = &shared.counters;
    match outcome {
        Outcome::Stopped => return false,
        Outcome::Accepted => {
            c.sent_requests.fetch_add(1, Ordering::Relaxed);
            c.sent_records
                .fetch_add(records.len() as u64, Ordering::Relaxed);
        }
        Outcome::Rejected { status, body } => {
            tracing::warn!(
                status,
                body = %body,
                records = records.len(),
                "Remote write refused the data; dropping it (retrying cannot succeed)."
            );
            c.dropped_4xx_records
                .fetch_add(records.len() as u64, Ordering::Relaxed);
        }
    }
    {
        let mut q = shared.queue();
        for r in records {
            q.ack(r.pos);
        }
    }
    shared.wake.notify_one();
    true
}

/// One body until it is accepted, rejected, or the delivery stops. Network errors,
/// 5xx and 429 are retried with exponential backoff and jitter (or `Retry-After`).
async fn send(
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    rng: &mut Jitter,
    body: Vec<u8>,
) -> Outcome {
    let cfg = &shared.cfg;
    let mut attempt: u32 = 0;
    loop {
        if *stop.borrow() {
            return Outcome::Stopped;
        }
        let mut req = shared
            .client
            .post(shared.url.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            )
            .header(CONTENT_ENCODING, HeaderValue::from_static("snappy"))
            .header(
                "X-Prometheus-Remote-Write-Version",
                HeaderValue::from_static("0.1.0"),
            )
            .body(body.clone());
        if let Some(t) = &cfg.token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        // The request itself is not raced against the stop signal: an in-flight
        // request finishes (bounded by the client timeout) so its outcome is known.
        let retry_after = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    return Outcome::Accepted;
                }
                let retry_after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                if status.is_client_error() && status.as_u16() != 429 {
                    let text = resp.text().await.unwrap_or_default();
                    return Outcome::Rejected {
                        status: status.as_u16(),
                        body: truncate(text),
                    };
                }
                tracing::debug!(
                    status = status.as_u16(),
                    attempt,
                    "Remote write failed; will retry."
                );
                retry_after
            }
            Err(e) => {
                tracing::debug!(error = %e, attempt, "Remote write request failed; will retry.");
                None
            }
        };
        shared
            .counters
            .failed_requests
            .fetch_add(1, Ordering::Relaxed);
        let delay =
            retry_after.unwrap_or_else(|| backoff(cfg.min_backoff, cfg.max_backoff, attempt, rng));
        if attempt == 3 {
            tracing::warn!(url = %shared.url, "Remote write keeps failing; retrying with backoff (data stays queued).");
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return Outcome::Stopped,
        }
        shared
            .counters
            .retried_requests
            .fetch_add(1, Ordering::Relaxed);
        attempt = attempt.saturating_add(1);
    }
}

/// `Retry-After` in delay-seconds form, capped at [`MAX_RETRY_AFTER`]. The HTTP-date
/// form is not used by remote-write receivers and falls back to backoff.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let secs: u64 = v.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// `min * 2^attempt`, capped at `max`, with the upper half jittered so that shards
/// and agents do not retry in lockstep.
fn backoff(min: Duration, max: Duration, attempt: u32, rng: &mut Jitter) -> Duration {
    let d = min.saturating_mul(1u32 << attempt.min(20)).min(max);
    let half = d / 2;
    let nanos = half.as_nanos().min(u128::from(u64::MAX)) as u64;
    half + Duration::from_nanos(if nanos == 0 { 0 } else { rng.next() % nanos })
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_LOGGED_BODY {
        let mut cut = MAX_LOGGED_BODY;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// A tiny xorshift generator for jitter; not for anything that needs real randomness.
struct Jitter(u64);

impl Jitter {
    fn new(index: usize) -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Jitter((t ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds_with_jitter() {
        let mut rng = Jitter::new(0);
        let (min, max) = (Duration::from_millis(10), Duration::from_millis(300));
        for attempt in 0..40 {
            let full = (min * 2u32.pow(attempt.min(20))).min(max);
            let d = backoff(min, max, attempt, &mut rng);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_seconds_are_parsed_and_capped() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("99999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
