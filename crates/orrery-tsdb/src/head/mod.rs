//! The head: in-memory series with compressed chunks, an inverted label index, and
//! out-of-order buffers. Everything not yet in a block lives here.
//!
//! Concurrency contract: appends and cuts are serialised by the caller (`Db` holds
//! its append lock); queries run concurrently with both. The index is behind one
//! `RwLock`: queries read-lock it briefly, an append read-locks it (via [`Lookup`])
//! from its lookups until the samples of existing series are in, and only appends and
//! cuts write-lock it. Each series' samples are behind its own `Mutex`, so a long
//! query never blocks ingestion for more than one series at a time.
//!
//! Design constraints:
//! 1. A chunk never crosses a multiple of the block range, so cutting a block out of
//!    the head moves whole chunks and never re-encodes.
//! 2. In-order samples go to an appendable XOR chunk closed at `max_chunk_samples`.
//!    Older samples (within the window the caller enforces) go to a small sorted
//!    buffer per series; a timestamp already present is a duplicate and the first
//!    value stays.
//! 3. Memory per series is a design target: label strings are interned, closed chunks
//!    are shrunk to fit.

mod index;
mod series;

pub(crate) use series::{cmp_labels, merge_sorted, AppendResult, MemSeries, MovedData};

use crate::chunkenc::xor::XorChunk;
use index::Index;
use orrery_model::{Labels, Matcher, Sample, WriteBatch};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Head settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadOptions {
    /// Block range in ms: chunks never cross a multiple of it.
    pub chunk_range: i64,
    /// Samples after which an in-order chunk is closed.
    pub max_chunk_samples: usize,
}

/// See [`Head::lookup`].
pub(crate) struct Lookup<'a>(RwLockReadGuard<'a, Index>);

impl Lookup<'_> {
    /// The series of every series in `batch`, in order (`None`: not in the head).
    ///
    /// Finding one series takes three dependent cache misses (its table slot, the
    /// series, its label bytes), which one lookup at a time pays in full. Here series
    /// `i + 3 * AHEAD` is encoded and hashed and its slot prefetched, series
    /// `i + 2 * AHEAD` has its likely series prefetched, series `i + AHEAD` its label
    /// bytes, and series `i` is looked up from cache: the misses of several series
    /// overlap.
    pub fn get_all(&self, batch: &WriteBatch<'_>) -> Vec<Option<&MemSeries>> {
        const AHEAD: usize = 4;
        const RING: usize = 16;
        const _: () = assert!(RING > 3 * AHEAD);
        let n = batch.series.len();
        let mut enc: [Vec<u8>; RING] = Default::default();
        let mut hash = [0u64; RING];
        let mut cand: [Option<&MemSeries>; RING] = [None; RING];
        let mut out = Vec::with_capacity(n);
        let stage = |i: usize, back: usize| i.checked_sub(back).filter(|&j| j < n);
        let mut labels = batch.iter().map(|(labels, _)| labels);
        for i in 0..n + 3 * AHEAD {
            if let Some(labels) = labels.next() {
                let r = i % RING;
                enc[r].clear();
                series::encode_labels_into(&mut enc[r], labels.iter());
                hash[r] = index::hash_encoded(&enc[r]);
                self.0.prefetch_slot(hash[r]);
            }
            if let Some(j) = stage(i, AHEAD) {
                let c = self.0.candidate(hash[j % RING]);
                if let Some(s) = c {
                    index::prefetch(
                        (s as *const MemSeries).cast(),
                        std::mem::size_of::<MemSeries>().div_ceil(64),
                    );
                }
                cand[j % RING] = c;
            }
            if let Some(j) = stage(i, 2 * AHEAD) {
                if let Some(s) = cand[j % RING] {
                    let l = s.label_bytes();
                    index::prefetch(l.as_ptr(), l.len().div_ceil(64));
                }
            }
            if let Some(j) = stage(i, 3 * AHEAD) {
                let r = j % RING;
                out.push(self.0.get_hashed(hash[r], &enc[r]).map(|s| &**s));
            }
        }
        out
    }
}

/// The in-memory part of the database.
pub(crate) struct Head {
    opts: HeadOptions,
    index: RwLock<Index>,
    next_id: AtomicU64,
    /// Smallest timestamp held, `i64::MAX` when empty.
    min_time: AtomicI64,
    /// Series removed by cuts since start.
    pub series_removed: AtomicU64,
    /// Largest timestamp ever appended (kept across cuts; it anchors the out-of-order
    /// window and retention).
    max_time: AtomicI64,
}

impl Head {
    pub fn new(opts: HeadOptions) -> Self {
        Head {
            opts,
            index: RwLock::new(Index::default()),
            next_id: AtomicU64::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            series_removed: AtomicU64::new(0),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        // A panic while holding the lock is a bug elsewhere; the index itself is only
        // mutated by short, non-panicking code, so its data is still consistent.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    pub fn num_series(&self) -> usize {
        self.read().len()
    }

    /// Raises the newest-sample time without a sample, so the out-of-order window is
    /// anchored to data already in blocks after a restart.
    pub fn append_bound(&self, t: i64) {
        self.max_time.fetch_max(t, Ordering::AcqRel);
    }

    /// A read view of the index for looking up many series, taking the lock once.
    /// Drop it before creating series.
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup(self.read())
    }

    /// Reserves an id for a series about to be created (after its WAL record is written).
    pub fn reserve_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::AcqRel)
    }

    /// Inserts a series under a given id (from [`Head::reserve_id`] or from the WAL).
    /// If a series with these labels exists already, returns it instead.
    pub fn insert(&self, id: u64, labels: &Labels) -> Arc<MemSeries> {
        self.next_id.fetch_max(id + 1, Ordering::AcqRel);
        // Encoded and hashed once, outside the write lock, for both lookup and insert.
        let enc = series::encode_labels(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
        let hash = index::hash_encoded(&enc);
        let mut idx = self.write();
        if let Some(s) = idx.get_hashed(hash, &enc) {
            return s.clone();
        }
        idx.insert(id, labels, enc, hash)
    }

    /// The series with this id, for WAL replay.
    pub fn by_id(&self, id: u64) -> Option<Arc<MemSeries>> {
        self.read().by_id(id)
    }

    /// Appends one sample to a series without touching the head's time bounds: the
    /// caller passes the smallest and largest stored timestamps to
    /// [`Head::extend_bounds`] once per write or WAL record, before the samples can be
    /// queried by time (two atomic read-modify-writes per sample cost about 5% of
    /// ingest CPU).
    pub fn append(&self, s: &MemSeries, t: i64, v: f64) -> AppendResult {
        s.append(t, v, &self.opts)
    }

    /// Widens the head's time bounds to include `[min, max]`.
    pub fn extend_bounds(&self, min: i64, max: i64) {
        if min <= max {
            self.min_time.fetch_min(min, Ordering::AcqRel);
            self.max_time.fetch_max(max, Ordering::AcqRel);
        }
    }

    /// Restores a closed chunk read from a checkpoint.
    pub fn restore_chunk(&self, s: &MemSeries, c: XorChunk) {
        if c.num_samples() > 0 {
            self.extend_bounds(c.min_time(), c.max_time());
        }
        s.restore_chunk(c);
    }

    /// Ids of series matching all matchers, sorted.
    fn matching(&self, matchers: &[Matcher]) -> Vec<Arc<MemSeries>> {
        let idx = self.read();
        idx.select(matchers)
    }

    /// Series matching `matchers` with samples in `[mint, maxt]`, sorted by labels.
    pub fn select(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Vec<(Labels, Vec<Sample>)> {
        let mut out: Vec<(Labels, Vec<Sample>)> = self
            .matching(matchers)
            .into_iter()
            .filter_map(|s| {
                let samples = s.samples(mint, maxt);
                (!samples.is_empty()).then(|| (s.labels(), samples))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Label sets of matching series with data in `[mint, maxt]`.
    pub fn series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Vec<Labels> {
        let mut out: Vec<Labels> = self
            .matching(matchers)
            .into_iter()
            .filter(|s| s.has_data_in(mint, maxt))
            .map(|s| s.labels())
            .collect();
        out.sort();
        out
    }

    /// All label names in the index.
    pub fn label_names(&self) -> Vec<String> {
        self.read().label_names()
    }

    /// All values of a label in the index.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.read().label_values(name)
    }

    /// Number of chunks held (closed and open).
    pub fn num_chunks(&self) -> u64 {
        self.read().all().map(|s| s.num_chunks() as u64).sum()
    }

    /// Every live series (a snapshot of the index; series created later are not in it).
    pub fn all_series(&self) -> Vec<Arc<MemSeries>> {
        self.read().all().cloned().collect()
    }

    /// Ends a cut at `before` whose data has been moved out (see `Db::cut`): drops
    /// series left with no data and no sample at or after `before`, and recomputes the
    /// smallest timestamp held. The caller holds the append lock, so no append can
    /// reach a series between the check and its removal.
    pub fn remove_dead(&self, before: i64) {
        let mut dead = Vec::new();
        let mut new_min = i64::MAX;
        for s in self.read().all() {
            let (min, alive) = s.remaining(before);
            if !alive {
                dead.push(s.id());
            }
            new_min = new_min.min(min);
        }
        if !dead.is_empty() {
            self.write().remove_many(&dead);
            self.series_removed
                .fetch_add(dead.len() as u64, Ordering::Relaxed);
        }
        self.min_time.store(new_min, Ordering::Release);
    }

    /// Approximate heap bytes of the index and all series.
    pub fn memory_bytes(&self) -> u64 {
        let idx = self.read();
        idx.memory_bytes() + idx.all().map(|s| s.memory_bytes() as u64).sum::<u64>()
    }
}
