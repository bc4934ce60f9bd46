//! The `agent` phase's remote-write receiver: answers every `POST /api/v1/write` with
//! 204 and counts what arrived, decoding each body with `orrery_wire::decode_write`
//! (remote write 1.0 or 2.0, by Content-Type) to count series and samples.
//!
//! It runs in the harness process, so its CPU is not the measured agent's. A body that
//! does not decode is still answered 204 (the sink never makes an agent retry or drop),
//! but it is counted and its error kept, and the table reports it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::minihttp::{self, Request, Response};

/// Counters of what the sink received.
#[derive(Debug, Default)]
pub struct SinkStats {
    requests: AtomicU64,
    samples: AtomicU64,
    series: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Write requests received.
    pub requests: u64,
    /// Float samples in them (stale markers included).
    pub samples: u64,
    /// Time series entries in them (a series sent twice counts twice).
    pub series: u64,
    /// Compressed body bytes.
    pub bytes: u64,
    /// Bodies that did not decode.
    pub errors: u64,
}

impl SinkCounts {
    /// `self - earlier`, counter by counter.
    pub fn since(&self, earlier: &SinkCounts) -> SinkCounts {
        SinkCounts {
            requests: self.requests - earlier.requests,
            samples: self.samples - earlier.samples,
            series: self.series - earlier.series,
            bytes: self.bytes - earlier.bytes,
            errors: self.errors - earlier.errors,
        }
    }
}

/// The running sink.
pub struct Sink {
    /// `http://127.0.0.1:PORT`; agents write to `<base_url>/api/v1/write`.
    pub base_url: String,
    stats: Arc<SinkStats>,
}

impl Sink {
    /// Starts the sink on a free loopback port.
    pub fn start() -> Result<Sink> {
        let stats = Arc::new(SinkStats::default());
        let s = stats.clone();
        let addr: SocketAddr =
            minihttp::serve_loopback(Arc::new(move |req: &Request| receive(req, &s)))
                .context("start the remote-write sink")?;
        Ok(Sink {
            base_url: format!("http://{addr}"),
            stats,
        })
    }

    /// The counters now.
    pub fn counts(&self) -> SinkCounts {
        let s = &self.stats;
        SinkCounts {
            requests: s.requests.load(Ordering::Relaxed),
            samples: s.samples.load(Ordering::Relaxed),
            series: s.series.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
        }
    }

    /// The most recent decode error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.stats
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn receive(req: &Request, stats: &SinkStats) -> Response {
    if req.method != "POST" || !req.path.starts_with("/api/v1/write") {
        return Response {
            status: 404,
            headers: vec![],
            body: b"POST /api/v1/write only\n".to_vec(),
        };
    }
    stats.requests.fetch_add(1, Ordering::Relaxed);
    stats
        .bytes
        .fetch_add(req.body.len() as u64, Ordering::Relaxed);
    match orrery_wire::decode_write(
        req.header("content-type"),
        req.header("content-encoding"),
        &req.body,
        &orrery_wire::Limits::default(),
    ) {
        Ok(d) => {
            let series = d.request.timeseries.len() as u64;
            stats.series.fetch_add(series, Ordering::Relaxed);
            stats
                .samples
                .fetch_add(d.request.sample_count() as u64, Ordering::Relaxed);
        }
        Err(e) => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
    }
    Response {
        status: 204,
        headers: vec![],
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use orrery_model::{Labels, Sample, TimeSeries, WriteRequest};

    use super::*;

    #[test]
    fn counts_samples_of_a_write() {
        let sink = Sink::start().unwrap();
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: Labels::from_pairs([("__name__", "up"), ("job", "x")]),
                samples: vec![Sample::new(1, 1.0), Sample::new(2, 1.0)],
            }],
            metadata: vec![],
        };
        let client = crate::http::Client::new(std::time::Duration::from_secs(5));
        let url = format!("{}/api/v1/write", sink.base_url);
        let r = client
            .post_remote_write(&url, &orrery_wire::encode_v1(&req))
            .unwrap();
        assert_eq!(r.status, 204);
        let r = client.post_remote_write(&url, b"not snappy").unwrap();
        assert_eq!(r.status, 204);
        let c = sink.counts();
        assert_eq!((c.requests, c.series, c.samples, c.errors), (2, 1, 2, 1));
        assert!(sink.last_error().is_some());
    }
}
