//! One in-memory series: its labels in one contiguous buffer, closed chunks, the open
//! chunk and the out-of-order buffer (the latter behind one mutex).
//!
//! Labels are stored as `uvarint len, name, uvarint len, value` pairs in one boxed
//! slice: the ingest path compares incoming labels against it in one linear walk
//! (no pointer chasing), and it costs less memory than a pointer pair per label.

use super::HeadOptions;
use crate::chunkenc::varint::{put_uvarint, Cursor};
use crate::chunkenc::xor::{XorChunk, XorIter};
use orrery_model::{Label, Labels, Sample};
use std::sync::{Mutex, MutexGuard};

/// What happened to an appended sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppendResult {
    /// Stored in order.
    Appended,
    /// Stored in the out-of-order buffer.
    OutOfOrder,
    /// The timestamp existed; the first value was kept.
    Duplicate,
}

/// Data moved out of one series by a cut, to be written into a block right away (a
/// cut moves one series at a time, so at most one series' data is outside the head).
pub(crate) struct MovedData {
    pub chunks: Vec<ClosedChunk>,
    pub ooo: Vec<Sample>,
}

/// Encodes sorted label pairs into the compact form.
pub(crate) fn encode_labels<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Box<[u8]> {
    let mut out = Vec::new();
    encode_labels_into(&mut out, pairs);
    out.into_boxed_slice()
}

/// Appends the compact form of sorted label pairs to `out`. The ingest path encodes an
/// incoming label set once into a reused buffer, then hashes and compares it as one
/// byte string (one `memcmp`, not one per name and value).
pub(crate) fn encode_labels_into<'a>(
    out: &mut Vec<u8>,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) {
    for (n, v) in pairs {
        put_uvarint(out, n.len() as u64);
        out.extend_from_slice(n.as_bytes());
        put_uvarint(out, v.len() as u64);
        out.extend_from_slice(v.as_bytes());
    }
}

/// Iterates the compact form as byte pairs (stops at the first damaged pair).
pub(crate) fn label_pairs(buf: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut c = Cursor::new(buf);
    std::iter::from_fn(move || {
        let n = take_bytes(&mut c)?;
        let v = take_bytes(&mut c)?;
        Some((n, v))
    })
}

fn take_bytes<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let len = c.uvarint_usize(c.remaining()).ok()?;
    c.bytes(len).ok()
}

/// Decodes the compact form (built from valid strings, so conversion cannot fail;
/// a damaged buffer would yield replacement characters, never a panic).
pub(crate) fn decode_labels(buf: &[u8]) -> Labels {
    Labels::from_sorted_unchecked(
        label_pairs(buf)
            .map(|(n, v)| Label::new(String::from_utf8_lossy(n), String::from_utf8_lossy(v)))
            .collect(),
    )
}

/// Orders compact label sets exactly as [`Labels`] orders.
pub(crate) fn cmp_labels(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    label_pairs(a).cmp(label_pairs(b))
}

/// A chunk nothing is appended to any more: its bytes and last timestamp. 24 bytes
/// instead of [`XorChunk`]'s 56 (writer state) and no spare capacity; a 2h head holds
/// several per series.
pub(crate) struct ClosedChunk {
    bytes: Box<[u8]>,
    max_t: i64,
}

impl ClosedChunk {
    fn new(c: XorChunk) -> Self {
        let max_t = c.max_time();
        ClosedChunk {
            bytes: c.into_bytes(),
            max_t,
        }
    }

    pub fn num_samples(&self) -> usize {
        XorChunk::encoded_count(&self.bytes)
    }

    pub fn iter(&self) -> XorIter<'_> {
        XorChunk::iter_encoded(&self.bytes)
    }

    fn view(&self) -> ChunkView<'_> {
        ChunkView {
            bytes: &self.bytes,
            max_t: self.max_t,
        }
    }
}

/// A closed or the open chunk, read-only.
#[derive(Clone, Copy)]
struct ChunkView<'a> {
    bytes: &'a [u8],
    max_t: i64,
}

impl<'a> ChunkView<'a> {
    fn of(c: &'a XorChunk) -> Self {
        ChunkView {
            bytes: c.bytes(),
            max_t: c.max_time(),
        }
    }

    fn num_samples(&self) -> usize {
        XorChunk::encoded_count(self.bytes)
    }

    fn min_time(&self) -> i64 {
        XorChunk::encoded_min_time(self.bytes)
    }

    fn max_time(&self) -> i64 {
        self.max_t
    }

    fn iter(&self) -> XorIter<'a> {
        XorChunk::iter_encoded(self.bytes)
    }
}

pub(crate) struct MemSeries {
    id: u64,
    labels: Box<[u8]>,
    data: Mutex<SeriesData>,
}

#[derive(Default)]
struct SeriesData {
    /// Closed chunks in time order (each in-order; out-of-order data is separate).
    closed: Vec<ClosedChunk>,
    /// The appendable chunk; may be empty.
    open: XorChunk,
    /// The open chunk must be closed before a sample at or after this time.
    open_end: i64,
    /// Sorted, unique out-of-order samples.
    ooo: Vec<Sample>,
    /// Timestamp of the newest in-order sample, `i64::MIN` when none.
    last_t: i64,
}

impl MemSeries {
    pub fn new(id: u64, labels: Box<[u8]>) -> Self {
        MemSeries {
            id,
            labels,
            data: Mutex::new(SeriesData {
                last_t: i64::MIN,
                open_end: i64::MIN,
                ..Default::default()
            }),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn label_bytes(&self) -> &[u8] {
        &self.labels
    }

    pub fn labels(&self) -> Labels {
        decode_labels(&self.labels)
    }

    fn lock(&self) -> MutexGuard<'_, SeriesData> {
        // The data is only mutated by non-panicking code; recover from poisoning.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn append(&self, t: i64, v: f64, opts: &HeadOptions) -> AppendResult {
        let mut d = self.lock();
        if t > d.last_t {
            if d.open.num_samples() > 0
                && (d.open.num_samples() >= opts.max_chunk_samples || t >= d.open_end)
            {
                let c = std::mem::take(&mut d.open);
                d.closed.push(ClosedChunk::new(c));
            }
            if d.open.num_samples() == 0 {
                d.open_end = next_boundary(t, opts.chunk_range);
            }
            d.open.append(t, v);
            d.last_t = t;
            return AppendResult::Appended;
        }
        if t == d.last_t || d.contains(t) {
            return AppendResult::Duplicate;
        }
        match d.ooo.binary_search_by_key(&t, |s| s.t) {
            Ok(_) => AppendResult::Duplicate,
            Err(i) => {
                d.ooo.insert(i, Sample { t, v });
                AppendResult::OutOfOrder
            }
        }
    }

    pub fn restore_chunk(&self, c: XorChunk) {
        let mut d = self.lock();
        if let Some(last) = c.last() {
            d.last_t = d.last_t.max(last.t);
        }
        d.closed.push(ClosedChunk::new(c));
    }

    /// Samples in `[mint, maxt]`, sorted, in-order and out-of-order data merged.
    pub fn samples(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        let d = self.lock();
        let mut out = Vec::new();
        for c in d.chunks() {
            if c.num_samples() == 0 || c.max_time() < mint || c.min_time() > maxt {
                continue;
            }
            out.extend(c.iter().filter(|s| s.t >= mint && s.t <= maxt));
        }
        let lo = d.ooo.partition_point(|s| s.t < mint);
        let hi = d.ooo.partition_point(|s| s.t <= maxt);
        if lo < hi {
            out = merge_sorted(out, &d.ooo[lo..hi]);
        }
        out
    }

    pub fn has_data_in(&self, mint: i64, maxt: i64) -> bool {
        let d = self.lock();
        d.chunks()
            .any(|c| c.num_samples() > 0 && c.max_time() >= mint && c.min_time() <= maxt)
            || d.ooo.iter().any(|s| s.t >= mint && s.t <= maxt)
    }

    pub fn num_chunks(&self) -> usize {
        let d = self.lock();
        d.closed.len() + usize::from(d.open.num_samples() > 0)
    }

    pub fn memory_bytes(&self) -> usize {
        let d = self.lock();
        std::mem::size_of::<Self>()
            + self.labels.len()
            + d.closed.capacity() * std::mem::size_of::<ClosedChunk>()
            + d.closed.iter().map(|c| c.bytes.len()).sum::<usize>()
            + d.open.memory_bytes()
            + d.ooo.capacity() * std::mem::size_of::<Sample>()
    }

    /// Time bounds of the data [`MemSeries::take_range`] would move for `hi`: chunks
    /// ending before `hi` and out-of-order samples before it. `None` if there is none.
    pub fn bounds_before(&self, hi: i64) -> Option<(i64, i64)> {
        let d = self.lock();
        let mut b: Option<(i64, i64)> = None;
        let mut add = |lo: i64, hi: i64| {
            b = Some(b.map_or((lo, hi), |(a, z)| (a.min(lo), z.max(hi))));
        };
        for c in d.chunks() {
            if c.num_samples() > 0 && c.max_time() < hi {
                add(c.min_time(), c.max_time());
            }
        }
        for s in d.ooo.iter().take_while(|s| s.t < hi) {
            add(s.t, s.t);
        }
        b
    }

    /// Moves out the in-order chunks lying wholly in `[lo, hi)` and the out-of-order
    /// samples in it. Whatever else is there (data appended since the cut began that
    /// falls outside the block being written) stays for the next cut.
    pub fn take_range(&self, lo: i64, hi: i64) -> Option<MovedData> {
        let mut d = self.lock();
        let in_range =
            |c: ChunkView<'_>| c.num_samples() > 0 && c.min_time() >= lo && c.max_time() < hi;
        // Closed chunks are in time order and do not overlap, so the movable ones are
        // one contiguous run.
        let a = d.closed.partition_point(|c| c.max_t < lo);
        let b = a + d.closed[a..]
            .iter()
            .take_while(|c| in_range(c.view()))
            .count();
        // The open chunk follows the closed ones: it moves only after all of them.
        let open_too = b == d.closed.len() && in_range(ChunkView::of(&d.open));
        let mut chunks: Vec<ClosedChunk> = d.closed.drain(a..b).collect();
        if open_too {
            chunks.push(ClosedChunk::new(std::mem::take(&mut d.open)));
            d.open_end = i64::MIN;
        }
        if d.closed.is_empty() {
            // Give back the list's allocation: after a flush most series are empty.
            d.closed = Vec::new();
        }
        let from = d.ooo.partition_point(|s| s.t < lo);
        let to = d.ooo.partition_point(|s| s.t < hi);
        let ooo: Vec<Sample> = d.ooo.drain(from..to).collect();
        if from < to {
            d.ooo.shrink_to_fit();
        }
        (!chunks.is_empty() || !ooo.is_empty()).then_some(MovedData { chunks, ooo })
    }

    /// The smallest timestamp held (`i64::MAX` if none), and whether the series should
    /// stay in the head after a cut at `before`: it holds data, or it has seen a sample
    /// at or after `before` (it is still being written).
    pub fn remaining(&self, before: i64) -> (i64, bool) {
        let d = self.lock();
        let min = d
            .chunks()
            .filter(|c| c.num_samples() > 0)
            .map(|c| c.min_time())
            .chain(d.ooo.first().map(|s| s.t))
            .min()
            .unwrap_or(i64::MAX);
        (min, min != i64::MAX || d.last_t >= before)
    }

    /// A consistent copy of the series' data for a checkpoint: closed chunk bytes,
    /// open-chunk samples (re-appended on load so the chunk stays appendable), and the
    /// out-of-order samples.
    pub fn snapshot(&self) -> (Vec<Vec<u8>>, Vec<Sample>, Vec<Sample>) {
        let d = self.lock();
        let closed = d.closed.iter().map(|c| c.bytes.to_vec()).collect();
        let open = d.open.iter().collect();
        (closed, open, d.ooo.clone())
    }
}

impl SeriesData {
    fn chunks(&self) -> impl Iterator<Item = ChunkView<'_>> {
        self.closed
            .iter()
            .map(ClosedChunk::view)
            .chain(std::iter::once(ChunkView::of(&self.open)))
    }

    /// Whether an in-order chunk holds timestamp `t`.
    fn contains(&self, t: i64) -> bool {
        self.chunks()
            .filter(|c| c.num_samples() > 0 && c.min_time() <= t && t <= c.max_time())
            .any(|c| c.iter().any(|s| s.t == t))
    }
}

/// The first multiple of `range` strictly after `t`.
pub(crate) fn next_boundary(t: i64, range: i64) -> i64 {
    (t.div_euclid(range) + 1).saturating_mul(range)
}

/// Merges two sorted sample lists with unique timestamps; on a tie `a` wins.
pub(crate) fn merge_sorted(a: Vec<Sample>, b: &[Sample]) -> Vec<Sample> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].t < b[j].t {
            out.push(a[i]);
            i += 1;
        } else if a[i].t > b[j].t {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}
