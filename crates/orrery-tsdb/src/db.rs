//! The database: opens a data directory, replays the WAL into the head, takes
//! appends, answers queries over head and blocks, and persists the head into blocks.
//!
//! Concurrency contract: `append` calls are serialised by the WAL mutex (decoding
//! happens before, fsync after, both outside it). Queries take no lock that appends
//! hold for long. Cuts, flushes, compaction and retention are serialised by the
//! maintenance mutex; a cut also holds the WAL mutex for the short moments it rolls
//! the WAL and lists the series, and drops series emptied by the cut.
//!
//! Durability (docs/formats/wal.md, checkpoint.md): a write is acknowledged after its
//! WAL record is written (and fsynced under `FsyncPolicy::Always`). A cut rolls the WAL
//! to segment K, writes blocks, then a checkpoint K holding everything the head kept;
//! only then are segments below K deleted. A crash at any point replays either the old
//! checkpoint with all segments, or checkpoint K with segments from K: nothing is lost,
//! at worst data is both in a block and replayed into the head, which queries and
//! compaction deduplicate.
//!
//! This file is the lifecycle (open, cut, compaction, retention, close), the append
//! path and the query trait impls. What a checkpoint holds is `checkpoint.rs`; reading
//! the WAL back at open is `db/replay.rs`; finding, ordering and deleting block
//! directories is `db/blocks.rs`.

mod blocks;
mod replay;

use crate::block::{self, Block};
use crate::checkpoint;
use crate::filenames::{BLOCKS_DIR, LOCK_FILE, WAL_DIR};
use crate::head::{AppendResult, Head, HeadOptions, MemSeries, MovedData};
use crate::record::{self, TYPE_METADATA, TYPE_SAMPLES, TYPE_SERIES};
use crate::telemetry::{Counters, MetricKind, MetricValue};
use crate::wal::{self, FsyncPolicy, WalWriter};
use crate::{compact, fsutil, Result, TsdbError};
use blocks::{delete_block_dir, open_blocks, sort_blocks};
use orrery_model::{
    AppendOutcome, Appendable, Labels, LabelsRef, Matcher, MetricMetadata, Queryable, Sample,
    Series, StorageError, WriteBatch,
};
use orrery_segment::{DirLock, RealFs};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;
use tracing::info;

/// Storage settings. Every field has the documented default (`docs/configuration.md`).
#[derive(Debug, Clone)]
pub struct Options {
    /// Length of a block from the head, in ms (default 2h). Chunks never cross it.
    pub block_range_ms: i64,
    /// Delete blocks whose data is older than this, in ms (default 15d).
    pub retention_ms: i64,
    /// Delete the oldest blocks while blocks and WAL take more bytes (default 15 GB;
    /// 0 disables).
    pub retention_bytes: u64,
    /// Accept samples up to this much older than the newest sample (default 10m).
    pub out_of_order_window_ms: i64,
    /// Roll WAL segments at this size (default 128 MiB).
    pub wal_segment_bytes: u64,
    /// When WAL writes are fsynced (default: before every acknowledgement).
    pub fsync: FsyncPolicy,
    /// Close an in-order head chunk after this many samples (default 120).
    pub max_chunk_samples: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            block_range_ms: 2 * 3600 * 1000,
            retention_ms: 15 * 24 * 3600 * 1000,
            retention_bytes: 15_000_000_000,
            out_of_order_window_ms: 10 * 60 * 1000,
            wal_segment_bytes: 128 << 20,
            fsync: FsyncPolicy::Always,
            max_chunk_samples: 120,
        }
    }
}

impl Options {
    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(TsdbError::InvalidOption(m.to_string()));
        if self.block_range_ms < 60_000 {
            return bad("block range must be at least 1m");
        }
        if self.retention_ms <= 0 {
            return bad("retention time must be positive");
        }
        if self.out_of_order_window_ms < 0 {
            return bad("out-of-order window must not be negative");
        }
        if self.wal_segment_bytes < (1 << 20) {
            return bad("WAL segment size must be at least 1MiB");
        }
        if !(2..=65_535).contains(&self.max_chunk_samples) {
            return bad("max chunk samples must be between 2 and 65535");
        }
        Ok(())
    }
}

/// An open data directory.
pub struct Db {
    dir: PathBuf,
    opts: Options,
    head: Head,
    wal: Mutex<WalWriter>,
    sync: wal::SyncHandle,
    blocks: RwLock<Vec<Arc<Block>>>,
    metadata: RwLock<BTreeMap<String, MetricMetadata>>,
    maint: Mutex<()>,
    counters: Counters,
    _lock: DirLock,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning means a panic elsewhere (a bug); the guarded data is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Db {
    /// Opens (creating if needed) a data directory, taking its lock, loading blocks and
    /// replaying the WAL.
    pub fn open(dir: &Path, opts: Options) -> Result<Db> {
        opts.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| TsdbError::io("create dir", dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = DirLock::acquire(&RealFs, &lock_path)?;
        let wal_dir = dir.join(WAL_DIR);
        let blocks_dir = dir.join(BLOCKS_DIR);
        for d in [&wal_dir, &blocks_dir] {
            std::fs::create_dir_all(d).map_err(|e| TsdbError::io("create dir", d, e))?;
        }
        let blocks = open_blocks(&blocks_dir)?;
        let head = Head::new(HeadOptions {
            chunk_range: opts.block_range_ms,
            max_chunk_samples: opts.max_chunk_samples,
        });
        let counters = Counters::default();
        let mut metadata = BTreeMap::new();
        let next_segment = replay::replay(&wal_dir, &head, &mut metadata, &counters)?;
        if let Some(maxt) = blocks.iter().map(|b| b.meta().max_time - 1).max() {
            if head.max_time() < maxt {
                head.append_bound(maxt);
            }
        }
        let writer = WalWriter::create(&wal_dir, next_segment, opts.wal_segment_bytes)?;
        let sync = writer.sync_handle();
        Ok(Db {
            dir: dir.to_path_buf(),
            opts,
            head,
            wal: Mutex::new(writer),
            sync,
            blocks: RwLock::new(blocks),
            metadata: RwLock::new(metadata),
            maint: Mutex::new(()),
            counters,
            _lock: lock,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// fsyncs the WAL; for `FsyncPolicy::Interval` the server calls this on a timer.
    pub fn sync_wal(&self) -> Result<()> {
        let pos = {
            let mut wal = lock(&self.wal);
            // Leave a segment whose write or fsync failed now rather than at the next
            // append, so an idle server does not report one failure on every tick.
            wal.recover()?;
            wal.position()
        };
        self.sync.sync_to(pos)
    }

    /// Persists everything in the head into blocks and checkpoints the WAL. Returns
    /// when the blocks are durable.
    pub fn flush(&self) -> Result<()> {
        let _m = lock(&self.maint);
        self.cut(i64::MAX)
    }

    /// Periodic work: persist the head when it spans more than 1.5 block ranges,
    /// compact blocks, apply retention.
    pub fn maintain(&self) -> Result<()> {
        let _m = lock(&self.maint);
        let range = self.opts.block_range_ms;
        let (hmin, hmax) = (self.head.min_time(), self.head.max_time());
        if hmin != i64::MAX && hmax.saturating_sub(hmin) > range / 2 * 3 {
            let before = (hmax - range / 2).div_euclid(range) * range;
            if before > hmin {
                self.cut(before)?;
            }
        }
        self.compact()?;
        self.apply_retention()
    }

    /// Moves data older than `before` into blocks; see the module doc for the order.
    ///
    /// Peak memory is the point: the head is at its largest when it is cut, so nothing
    /// here holds a copy of it. Series are moved one at a time straight into the block
    /// writer, and the checkpoint is streamed to its file.
    fn cut(&self, before: i64) -> Result<()> {
        let started = Instant::now();
        let (next_segment, mut series) = {
            let mut wal = lock(&self.wal);
            (wal.roll()?, self.head.all_series())
        };
        // Every sample in segments below `next_segment` is in `series` now. From here
        // on appends go on; what they add is also in segments from `next_segment`, so
        // it may end up in the block, the checkpoint, or both (replay and queries
        // deduplicate), never nowhere.
        let blocks_dir = self.dir.join(BLOCKS_DIR);
        let mut n_series = 0usize;
        let mut written = Vec::new();
        // One block for everything moved, aligned to the block range at both ends: a
        // flush that straddles a boundary then writes one index, not one per range.
        // Compaction and queries handle blocks of any aligned length.
        if let Some((min_t, max_t)) = movable_bounds(&series, before) {
            let range = self.opts.block_range_ms;
            let start = min_t.div_euclid(range) * range;
            let end = (max_t.div_euclid(range) + 1).saturating_mul(range);
            // Only data inside the block's range moves (a late out-of-order sample
            // below it waits for the next cut).
            let hi = end.min(before);
            series.sort_by(|a, b| crate::head::cmp_labels(a.label_bytes(), b.label_bytes()));
            let iter = series.iter().filter_map(|s| {
                let m = s.take_range(start, hi)?;
                n_series += 1;
                Some(moved_samples(&m).map(|samples| (s.labels(), samples)))
            });
            if let Some(meta) = block::write_block(&blocks_dir, start, end, 1, Vec::new(), iter)? {
                let b = Block::open(&blocks_dir.join(&meta.ulid))?;
                written.push(Arc::new(b));
            }
        }
        drop(series);
        let n_blocks = written.len() as u64;
        self.add_blocks(written);
        {
            let _wal = lock(&self.wal);
            self.head.remove_dead(before);
        }
        let wal_dir = self.dir.join(WAL_DIR);
        let checkpoint_bytes = {
            let md = self
                .metadata
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            checkpoint::write_checkpoint(
                &wal::checkpoint_path(&wal_dir, next_segment),
                &self.head,
                &md,
            )?
        };
        wal::remove_before(&wal_dir, next_segment)?;
        Counters::add(&self.counters.head_cuts, 1);
        Counters::add(&self.counters.blocks_written, n_blocks);
        Counters::add(&self.counters.checkpoints, 1);
        info!(
            series = n_series,
            blocks = n_blocks,
            checkpoint_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "persisted head data to blocks"
        );
        Ok(())
    }

    fn add_blocks(&self, new: Vec<Arc<Block>>) {
        if new.is_empty() {
            return;
        }
        let mut blocks = self.blocks.write().unwrap_or_else(|p| p.into_inner());
        blocks.extend(new);
        sort_blocks(&mut blocks);
    }

    /// Replaces `old` blocks with `new` in the list, then deletes the old directories.
    fn replace_blocks(&self, old: &[Arc<Block>], new: Option<Arc<Block>>) -> Result<()> {
        {
            let mut blocks = self.blocks.write().unwrap_or_else(|p| p.into_inner());
            blocks.retain(|b| !old.iter().any(|o| o.meta().ulid == b.meta().ulid));
            blocks.extend(new);
            sort_blocks(&mut blocks);
        }
        for b in old {
            delete_block_dir(b.dir())?;
        }
        Ok(())
    }

    fn compact(&self) -> Result<()> {
        loop {
            let blocks = self.blocks();
            let head_min = self.head.min_time();
            let Some(plan) = compact::plan(
                &blocks,
                self.opts.block_range_ms,
                self.max_block_ms(),
                head_min,
            ) else {
                return Ok(());
            };
            let started = Instant::now();
            match compact::run(&self.dir.join(BLOCKS_DIR), &plan) {
                Ok(new) => {
                    let new = match new {
                        Some(meta) => Some(Arc::new(Block::open(
                            &self.dir.join(BLOCKS_DIR).join(&meta.ulid),
                        )?)),
                        None => None,
                    };
                    info!(
                        sources = plan.len(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "compacted blocks"
                    );
                    self.replace_blocks(&plan, new)?;
                    Counters::add(&self.counters.compactions, 1);
                }
                Err(e) => {
                    Counters::add(&self.counters.compaction_failures, 1);
                    return Err(e);
                }
            }
        }
    }

    /// The longest block compaction builds: a tenth of retention, at most 31 days.
    fn max_block_ms(&self) -> i64 {
        (self.opts.retention_ms / 10).clamp(self.opts.block_range_ms, 31 * 24 * 3600 * 1000)
    }

    fn apply_retention(&self) -> Result<()> {
        let blocks = self.blocks();
        let newest = blocks
            .iter()
            .map(|b| b.meta().max_time)
            .chain([self.head.max_time()])
            .max()
            .unwrap_or(i64::MIN);
        let horizon = newest.saturating_sub(self.opts.retention_ms);
        let mut doomed: Vec<Arc<Block>> = blocks
            .iter()
            .filter(|b| b.meta().max_time <= horizon)
            .cloned()
            .collect();
        let by_time = doomed.len() as u64;
        if self.opts.retention_bytes > 0 {
            let wal_bytes = fsutil::dir_size(&self.dir.join(WAL_DIR));
            let mut total: u64 = wal_bytes
                + blocks
                    .iter()
                    .filter(|b| !doomed.iter().any(|d| Arc::ptr_eq(d, b)))
                    .map(|b| b.size_bytes())
                    .sum::<u64>();
            for b in &blocks {
                if total <= self.opts.retention_bytes {
                    break;
                }
                if doomed.iter().any(|d| Arc::ptr_eq(d, b)) {
                    continue;
                }
                total = total.saturating_sub(b.size_bytes());
                doomed.push(b.clone());
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        let by_size = doomed.len() as u64 - by_time;
        info!(by_time, by_size, "deleting blocks past retention");
        self.replace_blocks(&doomed, None)?;
        Counters::add(&self.counters.retention_time_deletions, by_time);
        Counters::add(&self.counters.retention_size_deletions, by_size);
        Ok(())
    }

    /// Makes the WAL durable; call before exit.
    pub fn close(&self) -> Result<()> {
        let _m = lock(&self.maint);
        let wal = lock(&self.wal);
        wal.sync()
    }

    /// The crate's metrics for `/metrics`.
    pub fn metrics(&self) -> Vec<MetricValue> {
        self.counters.series_removed.store(
            self.head
                .series_removed
                .load(std::sync::atomic::Ordering::Relaxed),
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut out = self.counters.values();
        let blocks = self.blocks();
        let (wal_segment, wal_segment_bytes) = {
            let w = lock(&self.wal);
            (w.segment(), w.segment_len())
        };
        let g = |name, help, value: f64| MetricValue {
            name,
            help,
            kind: MetricKind::Gauge,
            value,
        };
        let head_min = self.head.min_time();
        let head_max = self.head.max_time();
        out.extend([
            g(
                "orrery_tsdb_head_series",
                "Series in the head.",
                self.head.num_series() as f64,
            ),
            g(
                "orrery_tsdb_head_chunks",
                "Chunks in the head.",
                self.head.num_chunks() as f64,
            ),
            g(
                "orrery_tsdb_head_memory_bytes",
                "Approximate heap bytes of the head (index and chunks).",
                self.head.memory_bytes() as f64,
            ),
            g(
                "orrery_tsdb_head_min_time_ms",
                "Smallest timestamp in the head (ms; 0 when empty).",
                if head_min == i64::MAX {
                    0.0
                } else {
                    head_min as f64
                },
            ),
            g(
                "orrery_tsdb_head_max_time_ms",
                "Largest timestamp appended (ms; 0 when none).",
                if head_max == i64::MIN {
                    0.0
                } else {
                    head_max as f64
                },
            ),
            g(
                "orrery_tsdb_wal_bytes",
                "Bytes in the WAL directory (segments and checkpoint).",
                fsutil::dir_size(&self.dir.join(WAL_DIR)) as f64,
            ),
            g(
                "orrery_tsdb_wal_segment_current",
                "Number of the WAL segment being written.",
                f64::from(wal_segment),
            ),
            g(
                "orrery_tsdb_wal_segment_bytes",
                "Bytes in the WAL segment being written.",
                wal_segment_bytes as f64,
            ),
            g("orrery_tsdb_blocks", "Blocks on disk.", blocks.len() as f64),
            g(
                "orrery_tsdb_blocks_bytes",
                "Bytes of all blocks.",
                blocks.iter().map(|b| b.size_bytes()).sum::<u64>() as f64,
            ),
            g(
                "orrery_tsdb_blocks_samples",
                "Samples in all blocks.",
                blocks
                    .iter()
                    .map(|b| b.meta().stats.num_samples)
                    .sum::<u64>() as f64,
            ),
            g(
                "orrery_tsdb_retention_limit_bytes",
                "Size retention limit (0 = none).",
                self.opts.retention_bytes as f64,
            ),
        ]);
        out
    }

    fn append_inner(&self, batch: &WriteBatch<'_>) -> Result<(AppendOutcome, u64)> {
        let mut out = AppendOutcome::default();
        let mut wal = lock(&self.wal);
        let max_t = self.head.max_time();
        let min_valid = if max_t == i64::MIN {
            i64::MIN
        } else {
            max_t.saturating_sub(self.opts.out_of_order_window_ms)
        };

        // Only series not in the head yet are copied out of the request buffer.
        let mut new_series: Vec<(u64, Labels)> = Vec::new();
        let mut new_by_labels: HashMap<LabelsRef<'_>, u64> = HashMap::new();
        let mut existing: Vec<(&MemSeries, Cow<'_, [Sample]>)> =
            Vec::with_capacity(batch.series.len());
        let mut fresh: Vec<(u64, Cow<'_, [Sample]>)> = Vec::new();
        let mut samples_payload = Vec::with_capacity(batch.sample_count() * 10 + 16);
        // The index stays read-locked until the samples of existing series are in, so
        // they are borrowed, not reference-counted (an atomic increment and decrement
        // per series cost 4% of ingest CPU). Only appends create or remove series, and
        // they are serialised by the WAL mutex held here.
        let lookup = self.head.lookup();
        let mut found = lookup.get_all(batch);
        for ((labels, samples), found) in batch.iter().zip(found.iter_mut()) {
            let accepted: Cow<'_, [Sample]> = if samples.iter().all(|s| s.t >= min_valid) {
                Cow::Borrowed(samples)
            } else {
                Cow::Owned(
                    samples
                        .iter()
                        .copied()
                        .filter(|s| s.t >= min_valid)
                        .collect(),
                )
            };
            out.too_old += (samples.len() - accepted.len()) as u64;
            if accepted.is_empty() {
                continue;
            }
            match found.take() {
                Some(s) => {
                    record::encode_samples(&mut samples_payload, s.id(), &accepted);
                    existing.push((s, accepted));
                }
                None => {
                    let id = *new_by_labels.entry(labels).or_insert_with(|| {
                        let id = self.head.reserve_id();
                        new_series.push((id, labels.to_labels()));
                        id
                    });
                    record::encode_samples(&mut samples_payload, id, &accepted);
                    fresh.push((id, accepted));
                }
            }
        }
        let md_changed: Vec<&MetricMetadata> = {
            let md = self.metadata.read().unwrap_or_else(|p| p.into_inner());
            batch
                .metadata
                .iter()
                .filter(|m| md.get(&m.metric_family) != Some(*m))
                .collect()
        };

        let mut series_payload = Vec::new();
        record::encode_series(
            &mut series_payload,
            new_series.iter().map(|(id, l)| (*id, l)),
        );
        let mut md_payload = Vec::new();
        record::encode_metadata(&mut md_payload, md_changed.iter().copied());
        let mut records: Vec<(u8, &[u8])> = Vec::with_capacity(3);
        for (typ, p) in [
            (TYPE_SERIES, &series_payload),
            (TYPE_METADATA, &md_payload),
            (TYPE_SAMPLES, &samples_payload),
        ] {
            if !p.is_empty() {
                records.push((typ, p));
            }
        }
        if records.is_empty() {
            return Ok((out, 0));
        }
        let pos = wal.append(&records)?;
        Counters::add(&self.counters.wal_records, records.len() as u64);

        // The WAL has it: now make it visible, existing series first, then (after the
        // read lock is released; they are created under the write lock) new ones.
        let (mut stored_min, mut stored_max) = (i64::MAX, i64::MIN);
        let mut append = |s: &MemSeries, samples: &[Sample]| {
            for x in samples {
                match self.head.append(s, x.t, x.v) {
                    AppendResult::Appended => out.samples_written += 1,
                    AppendResult::OutOfOrder => {
                        out.samples_written += 1;
                        Counters::add(&self.counters.samples_out_of_order, 1);
                    }
                    AppendResult::Duplicate => {
                        out.duplicates += 1;
                        continue;
                    }
                }
                stored_min = stored_min.min(x.t);
                stored_max = stored_max.max(x.t);
            }
        };
        for (s, samples) in existing {
            append(s, &samples);
        }
        drop(lookup);
        let mut created: HashMap<u64, Arc<MemSeries>> = HashMap::new();
        for (id, labels) in &new_series {
            created.insert(*id, self.head.insert(*id, labels));
        }
        for (id, samples) in fresh {
            match created.get(&id) {
                Some(s) => append(s, &samples),
                None => return Err(TsdbError::Bug(format!("series {id} not created"))),
            }
        }
        out.series_created = new_series.len() as u64;
        // Once per write rather than per sample; still before the write is acknowledged.
        self.head.extend_bounds(stored_min, stored_max);
        if !md_changed.is_empty() {
            let mut md = self.metadata.write().unwrap_or_else(|p| p.into_inner());
            for m in md_changed {
                md.insert(m.metric_family.clone(), m.clone());
            }
        }
        drop(wal);
        Ok((out, pos))
    }

    fn query_blocks(&self, mint: i64, maxt: i64) -> Vec<Arc<Block>> {
        self.blocks()
            .into_iter()
            .filter(|b| b.meta().min_time <= maxt && b.meta().max_time > mint)
            .collect()
    }
}

impl Appendable for Db {
    fn append_batch(
        &self,
        batch: &WriteBatch<'_>,
    ) -> std::result::Result<AppendOutcome, StorageError> {
        let (out, pos) = self
            .append_inner(batch)
            .map_err(|e| StorageError::Internal(e.to_string()))?;
        if pos > 0 && self.opts.fsync == FsyncPolicy::Always {
            self.sync
                .sync_to(pos)
                .map_err(|e| StorageError::Internal(e.to_string()))?;
        }
        let c = &self.counters;
        Counters::add(&c.samples_appended, out.samples_written);
        Counters::add(&c.samples_duplicate, out.duplicates);
        Counters::add(&c.samples_too_old, out.too_old);
        Counters::add(&c.series_created, out.series_created);
        Ok(out)
    }
}

impl Queryable for Db {
    fn select(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> std::result::Result<Vec<Series>, StorageError> {
        require_matchers(matchers)?;
        let mut parts: Vec<Vec<(Labels, Vec<Sample>)>> = Vec::new();
        for b in self.query_blocks(mint, maxt) {
            parts.push(
                b.select(mint, maxt, matchers)?
                    .into_iter()
                    .map(|s| (s.labels, s.samples))
                    .collect(),
            );
        }
        parts.push(self.head.select(mint, maxt, matchers));
        Ok(compact::merge_series_lists(parts)
            .into_iter()
            .map(|(labels, samples)| Series { labels, samples })
            .collect())
    }

    fn series(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> std::result::Result<Vec<Labels>, StorageError> {
        require_matchers(matchers)?;
        let mut all = self.head.series(mint, maxt, matchers);
        for b in self.query_blocks(mint, maxt) {
            all.extend(b.series(mint, maxt, matchers)?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> std::result::Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = Vec::new();
        if matcher_sets.is_empty() {
            names.extend(self.head.label_names());
            for b in self.query_blocks(mint, maxt) {
                names.extend(b.label_names(&[])?);
            }
        } else {
            for ms in matcher_sets {
                for l in self.series(mint, maxt, ms)? {
                    names.extend(l.iter().map(|l| l.name.clone()));
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> std::result::Result<Vec<String>, StorageError> {
        let mut values: Vec<String> = Vec::new();
        if matcher_sets.is_empty() {
            values.extend(self.head.label_values(name));
            for b in self.query_blocks(mint, maxt) {
                values.extend(b.label_values(name, &[])?);
            }
        } else {
            for ms in matcher_sets {
                for l in self.series(mint, maxt, ms)? {
                    if let Some(v) = l.get(name) {
                        values.push(v.to_string());
                    }
                }
            }
        }
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn metadata(&self) -> Vec<MetricMetadata> {
        self.metadata
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

fn require_matchers(matchers: &[Matcher]) -> std::result::Result<(), StorageError> {
    if matchers.is_empty() || matchers.iter().all(|m| m.matches_empty()) {
        return Err(StorageError::InvalidInput(
            "match[] must contain at least one non-empty matcher".into(),
        ));
    }
    Ok(())
}

/// The smallest and largest timestamp of the data a cut at `before` moves.
fn movable_bounds(series: &[Arc<MemSeries>], before: i64) -> Option<(i64, i64)> {
    series
        .iter()
        .filter_map(|s| s.bounds_before(before))
        .reduce(|(a, z), (lo, hi)| (a.min(lo), z.max(hi)))
}

/// Decodes moved chunks and merges the out-of-order samples in.
fn moved_samples(m: &MovedData) -> Result<Vec<Sample>> {
    let mut s: Vec<Sample> = Vec::with_capacity(m.chunks.iter().map(|c| c.num_samples()).sum());
    for c in &m.chunks {
        s.extend(c.iter());
    }
    // In-order chunks of one series are increasing, but chunks moved by an earlier cut
    // and re-created later may interleave: sort to be safe, keeping the first of equals.
    if !s.windows(2).all(|w| w[0].t < w[1].t) {
        s.sort_by_key(|x| x.t);
        s.dedup_by_key(|x| x.t);
    }
    Ok(crate::head::merge_sorted(s, &m.ooo))
}

#[cfg(test)]
mod tests;
