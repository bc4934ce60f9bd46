//! The agent's durable on-disk queue: everything scraped is appended here before any
//! network I/O, and removed only after the consumer acknowledges it (for the sender:
//! after a 2xx). The byte layout is specified in `docs/formats/queue.md`.
//!
//! Design constraints:
//! 1. Append-only numbered segment files (`<n>.seg`), each starting with magic `ORAQ`
//!    and a version byte; a record never spans segments; a segment is rolled when the
//!    next record would take it past the segment size. Writing always resumes in a new
//!    segment after open, so a byte position is never written twice.
//! 2. Every record is framed with its length and a CRC32C over its type and body; an
//!    entry carries a shard key (`u64`), its append time and an opaque payload.
//! 3. The consumer position is persisted in one small file (`ack`, magic `ORAK`),
//!    replaced atomically (tmp, fsync, rename, fsync dir): a watermark before which
//!    everything is acknowledged, plus the acknowledged records after it (acks arrive
//!    out of order from parallel consumers). At most `max_outstanding` records are
//!    handed out beyond the watermark, which bounds that list and the memory held by
//!    consumers. A segment wholly before the watermark is deleted after the checkpoint
//!    that moved the watermark past it is durable.
//! 4. Total size on disk is bounded by `max_bytes`. When a push would exceed it, the
//!    OLDEST segment is deleted, unacknowledged records included, and its records and
//!    bytes are counted (`dropped_full_*`). Newest data wins, as in Prometheus agents:
//!    fresh samples are what alerts need when the server comes back, and very old
//!    samples would be rejected as out of bounds by the receiver anyway.
//! 5. A push is durable against a process crash once it returns (one `write(2)`); the
//!    owner calls [`Queue::sync`] on a timer, so power loss loses at most one sync
//!    interval. Acks are persisted by [`Queue::checkpoint`] on a timer, so a crash can
//!    re-deliver at most one interval of acknowledged records: duplicates, never loss.
//! 6. A torn or corrupt tail of the last segment is truncated at open; damage inside an
//!    earlier segment ends that segment at the bad offset. Both are reported as
//!    [`QueueError::Corruption`] with path and offset, counted, and never fail the open
//!    (no crash loop). Only a newer format version refuses to open.
//! 7. Not thread-safe: one owner serialises calls (the sender wraps it in a mutex).
//!    File access goes through the [`Fs`] trait. This module knows nothing about
//!    scraping or HTTP.

mod checkpoint;
mod error;
pub mod filenames;
mod open;
mod segment;

pub use checkpoint::AckCheckpoint;
pub use error::QueueError;
pub use orrery_segment::{Fs, FsFile as QueueFile, RealFs};
pub use segment::{
    Entry, ACK_MAGIC, FILE_HEADER_LEN, FORMAT_VERSION, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN,
    SEGMENT_MAGIC, TYPE_ENTRY,
};

use filenames::{segment_name, ACK_FILE};
use orrery_segment::DirLock;
use segment::{file_header, read_frame, Frame};
use std::collections::BTreeMap;
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a record lives: segment number and byte offset of its frame. Positions only
/// grow, so they order records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Segment number.
    pub segment: u64,
    /// Offset of the record frame in the segment.
    pub offset: u64,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.segment, self.offset)
    }
}

/// A record handed to the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Pass this to [`Queue::ack`] once the record is done with.
    pub pos: Pos,
    /// The stored entry.
    pub entry: Entry,
}

/// Queue settings.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Directory holding segments and the ack checkpoint (created if missing).
    pub dir: PathBuf,
    /// Bound on the bytes of all segment files together.
    pub max_bytes: u64,
    /// Roll size of one segment; at most a quarter of `max_bytes` is used so that
    /// dropping the oldest segment frees a bounded share.
    pub segment_bytes: u64,
    /// Most records handed out beyond the watermark (in flight or acked out of order).
    pub max_outstanding: usize,
    /// Most bytes handed out beyond the watermark.
    pub max_outstanding_bytes: u64,
}

impl QueueConfig {
    /// Defaults: 1 GiB total, 16 MiB segments, 10,000 records / 64 MiB outstanding.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        QueueConfig {
            dir: dir.into(),
            max_bytes: 1 << 30,
            segment_bytes: 16 << 20,
            max_outstanding: 10_000,
            max_outstanding_bytes: 64 << 20,
        }
    }
}

/// Counters and gauges of a queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Records pushed and not yet acknowledged (in flight included).
    pub pending_records: u64,
    /// Framed bytes of those records.
    pub pending_bytes: u64,
    /// Bytes of all segment files.
    pub disk_bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Records handed out and not yet acknowledged.
    pub in_flight: u64,
    /// Append time (Unix ms) of the oldest record handed out and not acknowledged.
    pub oldest_in_flight_ms: Option<i64>,
    /// Records pushed since open.
    pub pushed_records: u64,
    /// Unacknowledged records deleted because the queue was full.
    pub dropped_full_records: u64,
    /// Framed bytes of those records.
    pub dropped_full_bytes: u64,
    /// Records lost to corruption found while reading (not countable at open).
    pub dropped_corrupt_records: u64,
    /// Bytes lost to corruption (truncated tails and skipped segment ends).
    pub dropped_corrupt_bytes: u64,
    /// Records of a type this build does not know, skipped.
    pub skipped_unknown_records: u64,
}

/// What open found and repaired.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Segments found.
    pub segments: usize,
    /// Records waiting for the consumer.
    pub pending_records: u64,
    /// Corruption found: torn tails (truncated) and damaged segments (ended early).
    pub corruptions: Vec<QueueError>,
    /// Bytes cut off or skipped because of corruption.
    pub corrupt_bytes: u64,
    /// The ack checkpoint was unreadable, so consumption restarts at the oldest
    /// segment (records may be delivered twice; none is lost).
    pub checkpoint_reset: Option<QueueError>,
}

struct SegMeta {
    /// Bytes of valid records (header included); reading stops here.
    len: u64,
    /// Bytes of the file on disk, counted against `max_bytes`.
    file_len: u64,
    unacked_records: u64,
    unacked_bytes: u64,
}

impl SegMeta {
    /// A new segment: its header and no records.
    fn empty() -> Self {
        SegMeta {
            len: FILE_HEADER_LEN,
            file_len: FILE_HEADER_LEN,
            unacked_records: 0,
            unacked_bytes: 0,
        }
    }
}

struct Writer<F> {
    segment: u64,
    file: F,
    len: u64,
    /// A write failed half way: the next push rolls to a fresh segment.
    poisoned: bool,
}

struct Reader<F> {
    segment: u64,
    offset: u64,
    r: BufReader<F>,
}

struct Outstanding {
    acked: bool,
    framed: u64,
    appended_ms: i64,
}

/// The durable queue. See the module documentation for the contract.
pub struct Queue<F: Fs = RealFs> {
    fs: Arc<F>,
    cfg: QueueConfig,
    segment_bytes: u64,
    segments: BTreeMap<u64, SegMeta>,
    writer: Writer<F::File>,
    reader: Option<Reader<F::File>>,
    /// Next record to hand out (R).
    read_pos: Pos,
    /// Records at or after the watermark that were handed out, or were acked in an
    /// earlier run and not yet passed by the reader.
    outstanding: BTreeMap<Pos, Outstanding>,
    /// Outstanding entries before `read_pos` (counted against the window).
    handed: usize,
    handed_bytes: u64,
    dirty: bool,
    generation: u64,
    checkpoint_io: Arc<Mutex<u64>>,
    total_bytes: u64,
    stats: QueueStats,
    _lock: DirLock,
}

impl<F: Fs> Queue<F> {
    /// The directory this queue lives in.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// Appends one entry. Returns after the bytes are handed to the kernel (`write(2)`):
    /// durable against a process crash, against power loss after the next [`Queue::sync`].
    /// May delete the oldest segment to stay within `max_bytes` (counted in the stats).
    pub fn push(&mut self, shard_key: u64, payload: &[u8]) -> Result<Pos, QueueError> {
        self.push_entry(&Entry {
            shard_key,
            appended_ms: orrery_model::clock::now_ms(),
            payload: payload.to_vec(),
        })
    }

    /// Appends a prepared entry (the append time is the caller's).
    pub fn push_entry(&mut self, entry: &Entry) -> Result<Pos, QueueError> {
        let framed = Entry::framed_len(entry.payload.len());
        let max_record = self.cfg.max_bytes.saturating_sub(FILE_HEADER_LEN);
        if entry.payload.len() > MAX_PAYLOAD_LEN || framed > max_record {
            return Err(QueueError::RecordTooLarge {
                got: entry.payload.len(),
                max: MAX_PAYLOAD_LEN.min(max_record.saturating_sub(Entry::framed_len(0)) as usize),
            });
        }
        while self.total_bytes + framed > self.cfg.max_bytes {
            if self.segments.len() > 1 {
                self.drop_oldest()?;
            } else {
                // Only the active segment is left: seal it so it can be dropped.
                self.roll()?;
            }
        }
        if self.writer.poisoned
            || (self.writer.len > FILE_HEADER_LEN && self.writer.len + framed > self.segment_bytes)
        {
            self.roll()?;
        }
        let mut buf = Vec::with_capacity(framed as usize);
        entry.encode_into(&mut buf);
        let segment = self.writer.segment;
        let path = self.segment_path(segment);
        if let Err(e) = self.writer.file.write_all(&buf) {
            // Part of the record may be on disk. Cut it off if we can; either way the
            // next push starts a new segment and readers stop at the last good byte.
            self.writer.poisoned = true;
            let good = self.writer.len;
            if self.writer.file.set_len(good).is_ok() {
                let _ = self.writer.file.seek(SeekFrom::Start(good));
            }
            if let Ok(actual) = self.fs.len(&path) {
                if let Some(meta) = self.segments.get_mut(&segment) {
                    self.total_bytes = self.total_bytes - meta.file_len + actual;
                    meta.file_len = actual;
                }
            }
            return Err(QueueError::io("write", path, e));
        }
        let pos = Pos {
            segment,
            offset: self.writer.len,
        };
        self.writer.len += framed;
        if let Some(meta) = self.segments.get_mut(&segment) {
            meta.len += framed;
            meta.file_len += framed;
            meta.unacked_records += 1;
            meta.unacked_bytes += framed;
        }
        self.total_bytes += framed;
        self.stats.pending_records += 1;
        self.stats.pending_bytes += framed;
        self.stats.pushed_records += 1;
        Ok(pos)
    }

    /// Hands out the next record in queue order, or `None` when there is nothing new
    /// or `max_outstanding` records are already out. Every record handed out must be
    /// passed to [`Queue::ack`] eventually (after a restart, unacked ones come again).
    pub fn next_record(&mut self) -> Result<Option<Record>, QueueError> {
        loop {
            if self.handed >= self.cfg.max_outstanding
                || self.handed_bytes >= self.cfg.max_outstanding_bytes
            {
                return Ok(None);
            }
            let Some((&seg, end)) = self
                .segments
                .range(self.read_pos.segment..)
                .next()
                .map(|(n, m)| (n, m.len))
            else {
                return Ok(None);
            };
            if seg != self.read_pos.segment {
                self.read_pos = Pos {
                    segment: seg,
                    offset: FILE_HEADER_LEN,
                };
                self.advance();
            }
            if self.read_pos.offset >= end {
                if seg == self.writer.segment {
                    return Ok(None);
                }
                self.read_pos = Pos {
                    segment: seg + 1,
                    offset: FILE_HEADER_LEN,
                };
                self.reader = None;
                continue;
            }
            let path = self.segment_path(seg);
            let offset = self.read_pos.offset;
            let reader = match &mut self.reader {
                Some(r) if r.segment == seg && r.offset == offset => r,
                _ => {
                    let file = self
                        .fs
                        .open_read(&path)
                        .map_err(|e| QueueError::io("open", &path, e))?;
                    let mut r = BufReader::with_capacity(1 << 16, file);
                    r.seek(SeekFrom::Start(offset))
                        .map_err(|e| QueueError::io("seek", &path, e))?;
                    self.reader.insert(Reader {
                        segment: seg,
                        offset,
                        r,
                    })
                }
            };
            match read_frame(&mut reader.r, &path, offset, end)? {
                Frame::End => return Ok(None),
                Frame::Record {
                    typ,
                    body,
                    framed_len,
                } => {
                    reader.offset += framed_len;
                    let pos = self.read_pos;
                    self.read_pos.offset += framed_len;
                    if let Some(o) = self.outstanding.get(&pos) {
                        // Acknowledged in an earlier run: skip it, and let the window
                        // logic retire it like any other acked record.
                        self.handed += 1;
                        self.handed_bytes += o.framed;
                        self.advance();
                        continue;
                    }
                    let entry = if typ == TYPE_ENTRY {
                        Entry::decode(&path, pos.offset, body)
                    } else {
                        Err(QueueError::corruption(
                            &path,
                            pos.offset,
                            format!("unknown record type; got {typ}; want {TYPE_ENTRY}"),
                        ))
                    };
                    match entry {
                        Ok(entry) => {
                            self.outstanding.insert(
                                pos,
                                Outstanding {
                                    acked: false,
                                    framed: framed_len,
                                    appended_ms: entry.appended_ms,
                                },
                            );
                            self.handed += 1;
                            self.handed_bytes += framed_len;
                            return Ok(Some(Record { pos, entry }));
                        }
                        Err(e) => {
                            // Written by a newer build (or a valid frame with a short
                            // body): skip it as the spec says, counted.
                            tracing::warn!(error = %e, "Skipping queue record this build cannot read.");
                            self.stats.skipped_unknown_records += 1;
                            self.settle(pos.segment, framed_len);
                            self.dirty = true;
                            self.advance();
                        }
                    }
                }
                Frame::Corrupt(e) => {
                    tracing::error!(error = %e, "Damaged queue segment; skipping its remainder.");
                    self.reader = None;
                    self.lose_segment_tail(seg, offset);
                    if seg == self.writer.segment {
                        self.writer.poisoned = true;
                    }
                }
            }
        }
    }

    /// Acknowledges a record handed out by [`Queue::next_record`]; it will not be handed out
    /// again once the next checkpoint is durable. Unknown or repeated positions (for
    /// example records of a segment dropped because the queue was full) are ignored;
    /// returns whether the ack counted.
    pub fn ack(&mut self, pos: Pos) -> bool {
        if pos >= self.read_pos {
            return false;
        }
        let framed = match self.outstanding.get_mut(&pos) {
            Some(o) if !o.acked => {
                o.acked = true;
                o.framed
            }
            _ => return false,
        };
        self.settle(pos.segment, framed);
        self.dirty = true;
        self.advance();
        true
    }

    /// First record not known to be acknowledged.
    pub fn watermark(&self) -> Pos {
        match self.outstanding.first_key_value() {
            Some((p, _)) if *p < self.read_pos => *p,
            _ => self.read_pos,
        }
    }

    /// Persists acknowledgements and deletes acknowledged segments (see
    /// [`Queue::prepare_checkpoint`] to do the I/O outside a lock).
    pub fn checkpoint(&mut self) -> Result<(), QueueError> {
        match self.prepare_checkpoint() {
            Some(job) => {
                let r = job.run();
                if r.is_err() {
                    self.dirty = true;
                }
                r
            }
            None => Ok(()),
        }
    }

    /// Captures what the next checkpoint must write, or `None` if nothing changed.
    /// Run the job (possibly on another thread, without holding the queue); if it
    /// fails, call [`Queue::mark_dirty`] so the next one retries.
    pub fn prepare_checkpoint(&mut self) -> Option<CheckpointJob<F>> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        self.generation += 1;
        let watermark = self.watermark();
        let ack = AckCheckpoint {
            watermark,
            acked: self
                .outstanding
                .iter()
                .filter(|(p, o)| o.acked && **p > watermark)
                .map(|(p, _)| *p)
                .collect(),
        };
        let mut bytes = Vec::with_capacity(checkpoint::FIXED_LEN + ack.acked.len() * 16);
        ack.encode_into(&mut bytes);
        let mut delete = Vec::new();
        let done: Vec<u64> = self
            .segments
            .range(..watermark.segment)
            .map(|(&n, _)| n)
            .filter(|&n| n != self.writer.segment)
            .collect();
        for n in done {
            if let Some(meta) = self.segments.remove(&n) {
                debug_assert_eq!(
                    meta.unacked_records, 0,
                    "BUG: deleting a segment with unacked records"
                );
                self.total_bytes -= meta.file_len;
                delete.push(self.segment_path(n));
            }
        }
        Some(CheckpointJob {
            fs: self.fs.clone(),
            dir: self.cfg.dir.clone(),
            bytes,
            delete,
            generation: self.generation,
            io: self.checkpoint_io.clone(),
        })
    }

    /// Makes the next [`Queue::prepare_checkpoint`] write even if nothing changed.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// A handle to fsync the segment being written, outside any lock.
    pub fn sync_handle(&self) -> Result<SyncHandle<F::File>, QueueError> {
        let path = self.segment_path(self.writer.segment);
        let file = self
            .writer
            .file
            .try_clone()
            .map_err(|e| QueueError::io("dup", &path, e))?;
        Ok(SyncHandle { file, path })
    }

    /// fsyncs the segment being written: every push so far survives power loss.
    pub fn sync(&self) -> Result<(), QueueError> {
        self.sync_handle()?.sync()
    }

    /// Current counters.
    pub fn stats(&self) -> QueueStats {
        let mut s = self.stats.clone();
        s.disk_bytes = self.total_bytes;
        s.segments = self.segments.len() as u64;
        s.in_flight = self
            .outstanding
            .range(..self.read_pos)
            .filter(|(_, o)| !o.acked)
            .count() as u64;
        s.oldest_in_flight_ms = self
            .outstanding
            .range(..self.read_pos)
            .find(|(_, o)| !o.acked)
            .map(|(_, o)| o.appended_ms);
        s
    }

    fn segment_path(&self, n: u64) -> PathBuf {
        self.cfg.dir.join(segment_name(n))
    }

    /// A record left the pending set (acked or skipped).
    fn settle(&mut self, segment: u64, framed: u64) {
        self.stats.pending_records = self.stats.pending_records.saturating_sub(1);
        self.stats.pending_bytes = self.stats.pending_bytes.saturating_sub(framed);
        if let Some(meta) = self.segments.get_mut(&segment) {
            meta.unacked_records = meta.unacked_records.saturating_sub(1);
            meta.unacked_bytes = meta.unacked_bytes.saturating_sub(framed);
        }
    }

    /// Retires acknowledged records at the front of the window.
    fn advance(&mut self) {
        while let Some(first) = self.outstanding.first_entry() {
            if *first.key() < self.read_pos && first.get().acked {
                let o = first.remove();
                self.handed -= 1;
                self.handed_bytes -= o.framed;
            } else {
                break;
            }
        }
    }

    /// Forgets outstanding entries of `segment` at or after `from`.
    fn forget_outstanding(&mut self, segment: u64, from: u64) {
        let keys: Vec<Pos> = self
            .outstanding
            .range(
                Pos {
                    segment,
                    offset: from,
                }..Pos {
                    segment: segment + 1,
                    offset: 0,
                },
            )
            .map(|(p, _)| *p)
            .collect();
        for p in keys {
            if let Some(o) = self.outstanding.remove(&p) {
                if p < self.read_pos {
                    self.handed -= 1;
                    self.handed_bytes -= o.framed;
                }
            }
        }
    }

    /// Damage found while reading `seg` at `offset`: everything unread in it is lost.
    fn lose_segment_tail(&mut self, seg: u64, offset: u64) {
        let in_flight: (u64, u64) = self
            .outstanding
            .range(
                Pos {
                    segment: seg,
                    offset: 0,
                }..Pos {
                    segment: seg,
                    offset,
                },
            )
            .filter(|(_, o)| !o.acked)
            .fold((0, 0), |(n, b), (_, o)| (n + 1, b + o.framed));
        self.forget_outstanding(seg, offset);
        if let Some(meta) = self.segments.get_mut(&seg) {
            let lost_records = meta.unacked_records.saturating_sub(in_flight.0);
            let lost_bytes = meta.unacked_bytes.saturating_sub(in_flight.1);
            self.stats.dropped_corrupt_records += lost_records;
            self.stats.dropped_corrupt_bytes += meta.len.saturating_sub(offset);
            self.stats.pending_records = self.stats.pending_records.saturating_sub(lost_records);
            self.stats.pending_bytes = self.stats.pending_bytes.saturating_sub(lost_bytes);
            meta.unacked_records = in_flight.0;
            meta.unacked_bytes = in_flight.1;
            meta.len = offset;
        }
        self.dirty = true;
    }

    /// Deletes the oldest segment to make room; its unacknowledged records are counted
    /// as dropped. Records of it still in flight may be delivered; their acks are
    /// ignored.
    fn drop_oldest(&mut self) -> Result<(), QueueError> {
        let Some((&n, _)) = self.segments.first_key_value() else {
            return Ok(());
        };
        if n == self.writer.segment {
            return Ok(());
        }
        let path = self.segment_path(n);
        self.fs
            .remove(&path)
            .map_err(|e| QueueError::io("remove", &path, e))?;
        let Some(meta) = self.segments.remove(&n) else {
            return Ok(());
        };
        self.forget_outstanding(n, 0);
        if self.read_pos.segment == n {
            self.reader = None;
            self.read_pos = Pos {
                segment: n + 1,
                offset: FILE_HEADER_LEN,
            };
        }
        self.advance();
        self.total_bytes -= meta.file_len;
        self.stats.dropped_full_records += meta.unacked_records;
        self.stats.dropped_full_bytes += meta.unacked_bytes;
        self.stats.pending_records = self
            .stats
            .pending_records
            .saturating_sub(meta.unacked_records);
        self.stats.pending_bytes = self.stats.pending_bytes.saturating_sub(meta.unacked_bytes);
        self.dirty = true;
        tracing::warn!(
            segment = n,
            dropped_records = meta.unacked_records,
            dropped_bytes = meta.unacked_bytes,
            max_bytes = self.cfg.max_bytes,
            "Queue full; dropped the oldest segment."
        );
        Ok(())
    }

    /// Seals the segment being written (fsync) and starts the next one.
    fn roll(&mut self) -> Result<(), QueueError> {
        let old = self.writer.segment;
        let path = self.segment_path(old);
        self.writer
            .file
            .sync_data()
            .map_err(|e| QueueError::io("fsync", &path, e))?;
        let next = old + 1;
        self.writer = create_segment(&*self.fs, &self.cfg.dir, next)?;
        self.segments.insert(next, SegMeta::empty());
        self.total_bytes += FILE_HEADER_LEN;
        Ok(())
    }
}

/// Creates segment `n` with its header, durable (file and directory fsynced).
fn create_segment<F: Fs>(fs: &F, dir: &Path, n: u64) -> Result<Writer<F::File>, QueueError> {
    let path = dir.join(segment_name(n));
    let mut file = fs
        .create_new(&path)
        .map_err(|e| QueueError::io("create", &path, e))?;
    file.write_all(&file_header(SEGMENT_MAGIC))
        .map_err(|e| QueueError::io("write", &path, e))?;
    file.sync_data()
        .map_err(|e| QueueError::io("fsync", &path, e))?;
    fs.sync_dir(dir)
        .map_err(|e| QueueError::io("fsync dir", dir, e))?;
    Ok(Writer {
        segment: n,
        file,
        len: FILE_HEADER_LEN,
        poisoned: false,
    })
}

/// fsyncs the active segment without holding the queue.
pub struct SyncHandle<FF> {
    file: FF,
    path: PathBuf,
}

impl<FF: QueueFile> SyncHandle<FF> {
    /// `fdatasync` of the segment.
    pub fn sync(&self) -> Result<(), QueueError> {
        self.file
            .sync_data()
            .map_err(|e| QueueError::io("fsync", &self.path, e))
    }
}

/// A checkpoint captured by [`Queue::prepare_checkpoint`]: writes the ack file
/// atomically, then deletes segments wholly before the watermark.
pub struct CheckpointJob<F: Fs> {
    fs: Arc<F>,
    dir: PathBuf,
    bytes: Vec<u8>,
    delete: Vec<PathBuf>,
    generation: u64,
    io: Arc<Mutex<u64>>,
}

impl<F: Fs> CheckpointJob<F> {
    /// Does the I/O: tmp, write, fsync, rename, fsync dir, then the deletions. A job
    /// older than one already written is skipped, so jobs may race harmlessly.
    pub fn run(self) -> Result<(), QueueError> {
        let mut written = self.io.lock().unwrap_or_else(|p| p.into_inner());
        if *written >= self.generation {
            return Ok(());
        }
        // `ack.tmp`, fsync, rename to `ack`, fsync the directory.
        orrery_segment::write_atomic_bytes(&*self.fs, &self.dir.join(ACK_FILE), &self.bytes)?;
        *written = self.generation;
        // The watermark is durable past these segments: deleting them now is safe.
        // A failure leaves a file that the next open deletes (it is before the
        // watermark), so it is only logged.
        for p in &self.delete {
            if let Err(e) = self.fs.remove(p) {
                tracing::warn!(path = %p.display(), error = %e, "Could not delete an acknowledged queue segment.");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
