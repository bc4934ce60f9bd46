//! WAL replay at open: the newest checkpoint, then every segment after it, each record
//! applied to the head (`docs/formats/wal.md`, Write & recovery). A torn tail of the
//! last segment is truncated; damage in an earlier one skips the rest of that segment.
//! Nothing here panics on what it reads: bad records are counted and logged.

use crate::checkpoint;
use crate::chunkenc::xor::XorChunk;
use crate::head::{AppendResult, Head, MemSeries};
use crate::record::{self, TYPE_CHUNKS, TYPE_METADATA, TYPE_SAMPLES, TYPE_SERIES};
use crate::telemetry::Counters;
use crate::wal::{self, SegmentReadEnd};
use crate::{Result, TsdbError};
use orrery_model::MetricMetadata;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Loads the newest checkpoint and replays the segments after it. Returns the number
/// for the next segment to write.
pub(super) fn replay(
    wal_dir: &Path,
    head: &Head,
    metadata: &mut BTreeMap<String, MetricMetadata>,
    counters: &Counters,
) -> Result<u32> {
    let listing = wal::list(wal_dir)?;
    let started = Instant::now();
    let mut aliases = Aliases::new();
    let first = match listing.checkpoints.last() {
        Some((n, path)) => {
            info!(path = %path.display(), "loading WAL checkpoint");
            match checkpoint::read_checkpoint(path, |typ, p| {
                apply_record(head, metadata, &mut aliases, counters, typ, p)
            })? {
                SegmentReadEnd::Clean { .. } => {}
                SegmentReadEnd::Corrupt { error, .. } => {
                    Counters::add(&counters.wal_corruptions, 1);
                    warn!(%error, "checkpoint is corrupt; loaded the records before the damage");
                }
            }
            *n
        }
        None => 0,
    };
    let segments: Vec<u32> = listing
        .segments
        .iter()
        .copied()
        .filter(|&n| n >= first)
        .collect();
    for n in listing.segments.iter().filter(|&&n| n < first) {
        let p = wal::segment_path(wal_dir, *n);
        std::fs::remove_file(&p).map_err(|e| TsdbError::io("remove", &p, e))?;
    }
    let total: u64 = segments
        .iter()
        .map(|n| {
            std::fs::metadata(wal::segment_path(wal_dir, *n))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum();
    let mut done: u64 = 0;
    let mut last_report = Instant::now();
    for (i, &n) in segments.iter().enumerate() {
        let path = wal::segment_path(wal_dir, n);
        let end = wal::read_segment(&path, wal::SEGMENT_MAGIC, |typ, p| {
            apply_record(head, metadata, &mut aliases, counters, typ, p)
        })?;
        match end {
            SegmentReadEnd::Clean { len } => done += len,
            SegmentReadEnd::Corrupt { error, offset } => {
                Counters::add(&counters.wal_corruptions, 1);
                done += offset;
                if i + 1 == segments.len() {
                    warn!(%error, "truncating torn WAL tail; records after this offset were never acknowledged");
                    let f = File::options()
                        .write(true)
                        .open(&path)
                        .map_err(|e| TsdbError::io("open", &path, e))?;
                    f.set_len(offset)
                        .map_err(|e| TsdbError::io("truncate", &path, e))?;
                    f.sync_all().map_err(|e| TsdbError::io("fsync", &path, e))?;
                } else {
                    warn!(%error, "corrupt WAL segment in the middle of the log; skipping the rest of it and continuing");
                }
            }
        }
        if last_report.elapsed() > Duration::from_secs(2) || i + 1 == segments.len() {
            last_report = Instant::now();
            info!(
                segment = n,
                progress = format!(
                    "{:.0}%",
                    if total == 0 {
                        100.0
                    } else {
                        done as f64 * 100.0 / total as f64
                    }
                ),
                series = head.num_series(),
                "replaying WAL"
            );
        }
    }
    info!(
        segments = segments.len(),
        series = head.num_series(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "WAL replay complete"
    );
    let last = segments.last().copied().unwrap_or(first.saturating_sub(1));
    Ok(last.max(first.saturating_sub(1)) + 1)
}

/// Series ids in the replayed WAL that name a series the head already holds under
/// another id. A cut drops series left without data, so the same labels can come
/// back under a new id while the segments holding the old one are still replayed
/// (a crash before the cut's checkpoint): both ids must lead to the one series.
type Aliases = HashMap<u64, Arc<MemSeries>>;

fn resolve(head: &Head, aliases: &Aliases, id: u64) -> Option<Arc<MemSeries>> {
    head.by_id(id).or_else(|| aliases.get(&id).cloned())
}

fn apply_record(
    head: &Head,
    metadata: &mut BTreeMap<String, MetricMetadata>,
    aliases: &mut Aliases,
    counters: &Counters,
    typ: u8,
    payload: &[u8],
) -> Result<()> {
    let bad = |e: String| TsdbError::Decode(format!("record type {typ}: {e}"));
    match typ {
        TYPE_SERIES => {
            for r in record::decode_series(payload).map_err(bad)? {
                let s = head.insert(r.id, &r.labels);
                if s.id() != r.id {
                    aliases.insert(r.id, s);
                }
            }
        }
        TYPE_SAMPLES => {
            let mut cur: Option<(u64, Arc<MemSeries>)> = None;
            let (mut min, mut max) = (i64::MAX, i64::MIN);
            let res = record::decode_samples(payload, |id, s| {
                // Compare the id we looked up, not the series' own: an alias differs.
                if cur.as_ref().map(|(want, _)| *want) != Some(id) {
                    cur = resolve(head, aliases, id).map(|s| (id, s));
                }
                match &cur {
                    Some((_, series)) => {
                        if head.append(series, s.t, s.v) != AppendResult::Duplicate {
                            min = min.min(s.t);
                            max = max.max(s.t);
                        }
                    }
                    None => Counters::add(&counters.wal_replay_unknown_series, 1),
                }
                Ok(())
            });
            // Also for the samples appended before a damaged entry.
            head.extend_bounds(min, max);
            res.map_err(bad)?;
        }
        TYPE_METADATA => {
            for m in record::decode_metadata(payload).map_err(bad)? {
                metadata.insert(m.metric_family.clone(), m);
            }
        }
        TYPE_CHUNKS => {
            record::decode_chunks(payload, |id, bytes| {
                let c = XorChunk::from_bytes(bytes.to_vec()).map_err(|e| e.to_string())?;
                match resolve(head, aliases, id) {
                    Some(s) => head.restore_chunk(&s, c),
                    None => Counters::add(&counters.wal_replay_unknown_series, 1),
                }
                Ok(())
            })
            .map_err(bad)?;
        }
        other => warn!(record_type = other, "skipping WAL record of unknown type"),
    }
    Ok(())
}
