//! Pre-encoded remote-write bodies: generating every sample of the dataset, packing it
//! into `WriteRequest`s of at most `batch` samples, encoding each once with
//! `orrery_wire::encode_v1`, and storing the bodies in one file per sender.
//!
//! Everything is encoded before any system is started, so generation and encoding cost
//! is never measured, and all systems receive byte-identical requests.
//!
//! Design constraints:
//! 1. Series are sharded to senders by a hash of their index; a series only ever goes
//!    to one sender, whose file is in time order (every sample of step `k` before any of
//!    step `k + 1`), so no series is ever sent out of order.
//! 2. Within a request, a series appears once with all its samples in that request
//!    (a request spans two steps only at its edges).
//! 3. File layout, per request: `<u32le body length> <u32le samples> <u32le last step> <body>`.
//!    The files are scratch data for one run, not a stored format.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use orrery_model::{Sample, TimeSeries, WriteRequest, STALE_NAN};

use crate::dataset::{Dataset, ValueGen};
use orrery_testkit::rng::mix;

/// The pre-encoded bodies of a run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// One file per sender.
    pub shard_files: Vec<PathBuf>,
    /// Requests across all shards.
    pub requests: u64,
    /// Samples across all shards, stale markers included.
    pub samples: u64,
    /// Encoded (snappy) bytes across all shards.
    pub body_bytes: u64,
}

/// One request read back from a shard file.
#[derive(Debug, Clone)]
pub struct Request {
    /// Samples in the body.
    pub samples: u32,
    /// The last scrape step any sample in it belongs to.
    pub step: u32,
    /// The snappy-compressed protobuf body.
    pub body: Vec<u8>,
}

/// The sender a series goes to.
pub fn shard_of(series_index: usize, shards: usize) -> usize {
    (mix(series_index as u64 ^ 0x5eed) % shards as u64) as usize
}

/// Generates and encodes the whole dataset into `shards` files under `dir`. `progress`
/// is called with a percentage as samples are produced.
pub fn prepare(
    dataset: &Dataset,
    shards: usize,
    batch: usize,
    dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Prepared> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let total = dataset.summary().samples_total.max(1);
    let done = AtomicU64::new(0);
    let results: Vec<Result<(PathBuf, u64, u64, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..shards)
            .map(|s| {
                let path = dir.join(format!("shard-{s:02}.bin"));
                let done = &done;
                scope.spawn(move || {
                    let tick = |n: u64| {
                        let before = done.fetch_add(n, Ordering::Relaxed);
                        let (a, b) = (before * 10 / total, (before + n) * 10 / total);
                        if b > a {
                            progress(b * 10);
                        }
                    };
                    encode_shard(dataset, s, shards, batch, &path, &tick)
                        .map(|(r, n, b)| (path, r, n, b))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("BUG: encoder thread panicked")))
            })
            .collect()
    });
    let mut prepared = Prepared {
        shard_files: Vec::new(),
        requests: 0,
        samples: 0,
        body_bytes: 0,
    };
    for r in results {
        let (path, requests, samples, bytes) = r?;
        prepared.shard_files.push(path);
        prepared.requests += requests;
        prepared.samples += samples;
        prepared.body_bytes += bytes;
    }
    Ok(prepared)
}

/// Encodes one shard; returns (requests, samples, bytes).
fn encode_shard(
    dataset: &Dataset,
    shard: usize,
    shards: usize,
    batch: usize,
    path: &Path,
    tick: &dyn Fn(u64),
) -> Result<(u64, u64, u64)> {
    let members: Vec<usize> = (0..dataset.series.len())
        .filter(|&i| shard_of(i, shards) == shard)
        .collect();
    let mut gens: Vec<ValueGen> = members
        .iter()
        .map(|&i| ValueGen::new(dataset, &dataset.series[i]))
        .collect();
    // Label sets are moved into the request and back after encoding, so each is cloned once.
    let mut labels: Vec<_> = members
        .iter()
        .map(|&i| dataset.series[i].labels.clone())
        .collect();
    let mut slot: Vec<u32> = vec![u32::MAX; members.len()];
    let mut owners: Vec<usize> = Vec::with_capacity(batch);
    let mut req = WriteRequest::default();
    let mut in_req = 0usize;
    let mut out = BufWriter::with_capacity(
        1 << 20,
        File::create(path).with_context(|| format!("create {}", path.display()))?,
    );
    let (mut requests, mut samples, mut bytes) = (0u64, 0u64, 0u64);

    let mut flush = |req: &mut WriteRequest,
                     owners: &mut Vec<usize>,
                     labels: &mut Vec<orrery_model::Labels>,
                     slot: &mut Vec<u32>,
                     n: usize,
                     step: u32|
     -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let body = orrery_wire::encode_v1(req);
        out.write_all(&(body.len() as u32).to_le_bytes())?;
        out.write_all(&(n as u32).to_le_bytes())?;
        out.write_all(&step.to_le_bytes())?;
        out.write_all(&body)?;
        requests += 1;
        samples += n as u64;
        bytes += body.len() as u64;
        for (ts, j) in req.timeseries.drain(..).zip(owners.drain(..)) {
            labels[j] = ts.labels;
            slot[j] = u32::MAX;
        }
        tick(n as u64);
        Ok(())
    };

    for step in 0..dataset.steps {
        for (j, &i) in members.iter().enumerate() {
            let spec = &dataset.series[i];
            let v = if step >= spec.first_step && step < spec.end_step {
                gens[j].next(&spec.model)
            } else if step == spec.end_step && dataset.has_stale_marker(spec) {
                STALE_NAN
            } else {
                continue;
            };
            let sample = Sample::new(dataset.time_ms(spec, step), v);
            if slot[j] == u32::MAX {
                slot[j] = req.timeseries.len() as u32;
                req.timeseries.push(TimeSeries {
                    labels: std::mem::take(&mut labels[j]),
                    samples: vec![sample],
                });
                owners.push(j);
            } else {
                req.timeseries[slot[j] as usize].samples.push(sample);
            }
            in_req += 1;
            if in_req == batch {
                flush(&mut req, &mut owners, &mut labels, &mut slot, in_req, step)?;
                in_req = 0;
            }
        }
    }
    flush(
        &mut req,
        &mut owners,
        &mut labels,
        &mut slot,
        in_req,
        dataset.steps.saturating_sub(1),
    )?;
    out.flush()
        .with_context(|| format!("write {}", path.display()))?;
    Ok((requests, samples, bytes))
}

/// Reads the requests of one shard file in order.
pub struct ShardReader {
    inner: BufReader<File>,
}

impl ShardReader {
    /// Opens a shard file written by [`prepare`].
    pub fn open(path: &Path) -> Result<Self> {
        let f = File::open(path).with_context(|| format!("open {}", path.display()))?;
        Ok(ShardReader {
            inner: BufReader::with_capacity(1 << 20, f),
        })
    }

    /// The next request, or `None` at the end of the file.
    pub fn next_request(&mut self) -> Result<Option<Request>> {
        let mut header = [0u8; 12];
        match self.inner.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let mut body = vec![0u8; word(0) as usize];
        self.inner
            .read_exact(&mut body)
            .context("truncated shard file")?;
        Ok(Some(Request {
            samples: word(4),
            step: word(8),
            body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Config;

    #[test]
    fn shard_files_hold_every_sample_in_step_order() {
        let d = Dataset::build(Config {
            series: 1_500,
            hours: 0.25,
            clusters: 1,
            churn: 0.5,
            seed: 11,
            end_ms: 1_700_000_000_000,
            jitter: crate::dataset::Jitter::Realistic,
        });
        let dir = std::env::temp_dir().join(format!("orrery-bench-test-{}", std::process::id()));
        let p = prepare(&d, 3, 500, &dir, &|_| {}).unwrap();
        assert_eq!(p.samples, d.summary().samples_total);
        let mut seen = 0u64;
        for f in &p.shard_files {
            let mut r = ShardReader::open(f).unwrap();
            let mut last_step = 0;
            while let Some(req) = r.next_request().unwrap() {
                assert!(req.samples as usize <= 500);
                assert!(req.step >= last_step, "steps must not go backwards");
                last_step = req.step;
                seen += req.samples as u64;
            }
        }
        assert_eq!(seen, p.samples);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
