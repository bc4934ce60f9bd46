//! The segment writer: appends framed records, rolls segments, and makes them durable
//! according to the fsync policy.
//!
//! Concurrency: `append` needs `&mut self` (one writer, serialised by the caller), but
//! `sync_handle` gives a cheap handle that other threads use to wait for durability
//! without holding the writer, so several requests share one fsync (group commit).
//! The handle holds a second descriptor of the segment being written (`try_clone`):
//! an fsync through it makes the writer's bytes durable too.
//!
//! Failures (docs/formats/wal.md, Write & recovery): a segment in which a write or an
//! fsync failed is never written again. A failed write is cut off (`set_len` to the
//! last good byte) and the next append first rolls to a new segment; if the cut fails
//! the torn bytes stay, which replay reads as the end of that segment and goes on with
//! the next. A failed fsync is never retried to claim durability: on Linux the error
//! is reported once and the dirty pages may already be dropped, so a second fsync
//! succeeds over lost data (PostgreSQL's "fsyncgate"). Instead every position of that
//! segment that was not durable before the failure stays not durable for good: its
//! waiters get errors, and the writer rolls before its next append. Until a roll
//! succeeds, appends fail.
//!
//! Files are reached through [`Fs`], so tests can inject faults; [`WalWriter::create`]
//! uses the real filesystem.

use super::{encode_record, file_header, segment_path, FILE_HEADER_LEN, SEGMENT_MAGIC};
use crate::{Result, TsdbError};
use orrery_segment::{Fs, FsFile, RealFs};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tracing::{error, warn};

/// When WAL writes reach stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fsync before a write is acknowledged: nothing acknowledged is lost on power loss.
    /// Concurrent writes share fsyncs.
    Always,
    /// fsync in the background at this interval: a process crash loses nothing (the
    /// bytes are in the OS page cache before the ack), a power loss may lose up to
    /// one interval of acknowledged writes.
    Interval(Duration),
}

/// Global positions `after < pos <= upto` of a segment whose fsync failed: never durable.
#[derive(Debug, Clone, Copy)]
struct Lost {
    segment: u32,
    after: u64,
    upto: u64,
}

/// Shared durability state for group commit.
struct SyncState<FF> {
    /// The file being written and how many bytes were written to it, counted across
    /// segments as a global position.
    file: Option<Arc<FF>>,
    segment: u32,
    written: u64,
    /// Every position up to here is durable, except those in `lost`.
    synced: u64,
    /// An fsync of the current segment failed: positions after `synced` in it are not
    /// durable, and the writer must roll before it writes again.
    failed: bool,
    /// Ranges of earlier segments that an fsync failed for. One entry per failed
    /// segment (the writer leaves a segment after its first failure), so this stays
    /// small; it is kept for the process's life because a slow waiter may still ask
    /// about a position in it.
    lost: Vec<Lost>,
}

impl<FF> SyncState<FF> {
    /// The segment holding `pos` if `pos` can never be made durable.
    fn lost_segment(&self, pos: u64) -> Option<u32> {
        if self.failed && pos > self.synced {
            return Some(self.segment);
        }
        self.lost
            .iter()
            .find(|l| pos > l.after && pos <= l.upto)
            .map(|l| l.segment)
    }
}

/// A handle to wait for durability of a position, usable without the writer.
pub struct SyncHandle<FF = File> {
    state: Arc<Mutex<SyncState<FF>>>,
    dir: PathBuf,
}

impl<FF> Clone for SyncHandle<FF> {
    fn clone(&self) -> Self {
        SyncHandle {
            state: self.state.clone(),
            dir: self.dir.clone(),
        }
    }
}

impl<FF> std::fmt::Debug for SyncHandle<FF> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandle")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl<FF> SyncHandle<FF> {
    fn lock(&self) -> Result<MutexGuard<'_, SyncState<FF>>> {
        self.state
            .lock()
            .map_err(|_| TsdbError::Bug("wal sync lock poisoned".into()))
    }

    fn not_durable(&self, segment: u32) -> TsdbError {
        TsdbError::WalNotDurable {
            path: segment_path(&self.dir, segment),
        }
    }
}

impl<FF: FsFile> SyncHandle<FF> {
    /// Makes every byte up to `pos` (a value from [`WalWriter::position`]) durable.
    ///
    /// Fails for good for a position in a segment whose fsync failed: the first caller
    /// gets the fsync's error, everyone after it [`TsdbError::WalNotDurable`].
    pub fn sync_to(&self, pos: u64) -> Result<()> {
        // The mutex is held across fsync on purpose: concurrent callers queue here and
        // find their position already synced by the one before them (group commit),
        // or its failure recorded.
        let mut st = self.lock()?;
        if let Some(segment) = st.lost_segment(pos) {
            return Err(self.not_durable(segment));
        }
        if st.synced >= pos {
            return Ok(());
        }
        let target = st.written;
        if let Some(f) = st.file.clone() {
            if let Err(e) = f.sync_data() {
                // Not retried: see the module doc. The writer rolls at its next append.
                st.failed = true;
                let path = segment_path(&self.dir, st.segment);
                error!(path = %path.display(), error = %e, "WAL fsync failed; the unsynced writes in this segment are treated as lost and writing moves to a new segment");
                return Err(TsdbError::io("fsync", path, e));
            }
        }
        st.synced = st.synced.max(target);
        Ok(())
    }
}

/// Appends records to numbered segments in a directory.
pub struct WalWriter<F: Fs = RealFs> {
    fs: F,
    dir: PathBuf,
    segment: u32,
    /// The number the next roll creates: `segment + 1`, or more when a half-created
    /// segment could not be removed.
    next: u32,
    file: F::File,
    segment_len: u64,
    max_segment_len: u64,
    sync: SyncHandle<F::File>,
    buf: Vec<u8>,
    /// A write to this segment failed: nothing more is written to it, and the next
    /// append rolls first.
    write_failed: bool,
}

impl<F: Fs> std::fmt::Debug for WalWriter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter")
            .field("dir", &self.dir)
            .field("segment", &self.segment)
            .field("segment_len", &self.segment_len)
            .field("write_failed", &self.write_failed)
            .finish_non_exhaustive()
    }
}

impl WalWriter<RealFs> {
    /// Starts writing at a new segment `first` (which must not exist).
    pub fn create(dir: &Path, first: u32, max_segment_len: u64) -> Result<Self> {
        WalWriter::create_with(RealFs, dir, first, max_segment_len)
    }
}

impl<F: Fs> WalWriter<F> {
    /// Starts writing at a new segment `first` (which must not exist), through `fs`.
    pub fn create_with(fs: F, dir: &Path, first: u32, max_segment_len: u64) -> Result<Self> {
        let (file, shared) = create_segment(&fs, dir, first).map_err(|e| e.error)?;
        let state = SyncState {
            file: Some(shared),
            segment: first,
            written: FILE_HEADER_LEN as u64,
            synced: 0,
            failed: false,
            lost: Vec::new(),
        };
        Ok(WalWriter {
            fs,
            dir: dir.to_path_buf(),
            segment: first,
            next: first.saturating_add(1),
            file,
            segment_len: FILE_HEADER_LEN as u64,
            max_segment_len,
            sync: SyncHandle {
                state: Arc::new(Mutex::new(state)),
                dir: dir.to_path_buf(),
            },
            buf: Vec::new(),
            write_failed: false,
        })
    }

    /// The segment being written.
    pub fn segment(&self) -> u32 {
        self.segment
    }

    /// A handle for waiting on durability from other threads.
    pub fn sync_handle(&self) -> SyncHandle<F::File> {
        self.sync.clone()
    }

    /// The global write position, to pass to [`SyncHandle::sync_to`].
    pub fn position(&self) -> u64 {
        self.sync
            .state
            .lock()
            .map(|s| s.written)
            .unwrap_or(u64::MAX)
    }

    /// Whether a write or an fsync failed in the segment being written, so the next
    /// append (or [`WalWriter::recover`]) must roll before anything is written.
    pub fn needs_roll(&self) -> Result<bool> {
        Ok(self.write_failed || self.sync.lock()?.failed)
    }

    /// Rolls away from a segment in which a write or an fsync failed; does nothing
    /// otherwise. For callers that want the writer healthy without appending (the
    /// interval fsync timer), so a failure is not reported on every tick.
    pub fn recover(&mut self) -> Result<()> {
        if self.needs_roll()? {
            self.roll()?;
        }
        Ok(())
    }

    /// Appends records given as (type, payload) in one write so they land together.
    /// Rolls to a new segment first if the current one is full, or if a write or an
    /// fsync failed in it.
    ///
    /// An error means the records may be partly on disk but will not be replayed: a
    /// failed write is cut off, or ends its segment for replay, and nothing is
    /// written after it in that segment.
    pub fn append(&mut self, records: &[(u8, &[u8])]) -> Result<u64> {
        self.buf.clear();
        for (typ, payload) in records {
            encode_record(&mut self.buf, *typ, payload);
        }
        let full = self.segment_len > FILE_HEADER_LEN as u64
            && self.segment_len + self.buf.len() as u64 > self.max_segment_len;
        if full || self.needs_roll()? {
            self.roll()?;
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            return Err(self.write_failed(e));
        }
        self.segment_len += self.buf.len() as u64;
        let mut st = self.sync.lock()?;
        st.written += self.buf.len() as u64;
        Ok(st.written)
    }

    /// Handles a write that failed after putting an unknown part of `buf` on disk:
    /// cuts the segment back to its last good byte so that replay ends cleanly there,
    /// and marks the segment so the next append rolls. If the cut fails too, the torn
    /// bytes stay at the end of the segment: replay stops reading that segment at them
    /// and goes on with the next, which is why nothing may follow them in it.
    fn write_failed(&mut self, e: std::io::Error) -> TsdbError {
        let path = segment_path(&self.dir, self.segment);
        self.write_failed = true;
        match self.file.set_len(self.segment_len) {
            Ok(()) => {
                warn!(path = %path.display(), error = %e, "WAL write failed; cut the segment back to its last good record, the next append starts a new segment")
            }
            Err(te) => {
                error!(path = %path.display(), error = %e, truncate_error = %te, "WAL write failed and the torn bytes could not be cut off; appends fail until a new segment is started")
            }
        }
        TsdbError::io("write", path, e)
    }

    /// Seals the current segment (fsync) and starts the next one. Returns the number
    /// of the new segment: everything appended from now on lands at or after it.
    ///
    /// A failed seal does not stop the roll: the old segment's unsynced positions are
    /// recorded as lost (their waiters get errors) and writing moves on, which is what
    /// a failed fsync calls for anyway. Only a new segment that cannot be created is
    /// an error; the writer then stays where it was and the next append tries again.
    pub fn roll(&mut self) -> Result<u32> {
        let old = segment_path(&self.dir, self.segment);
        {
            // Under the sync lock, like `sync_to`: an fsync's error is reported to one
            // caller only, so no other fsync may run and succeed before the failure is
            // recorded. After a failed fsync a second one proves nothing, so it is
            // skipped.
            let mut st = self.sync.lock()?;
            if !st.failed {
                match self.file.sync_all() {
                    Ok(()) => st.synced = st.written,
                    Err(e) => {
                        error!(path = %old.display(), error = %e, "WAL fsync failed while sealing a segment; its unsynced writes are treated as lost");
                        st.failed = true;
                    }
                }
            }
        }
        let next = self.next;
        let (file, shared) = match create_segment(&self.fs, &self.dir, next) {
            Ok(created) => created,
            Err(CreateError { error, left_behind }) => {
                if left_behind {
                    // The number is taken by a file we could not remove: replay reads
                    // its torn header as the end of that segment, so skip it.
                    self.next = next.saturating_add(1);
                }
                return Err(error);
            }
        };
        let mut st = self.sync.lock()?;
        if st.failed {
            let lost = Lost {
                segment: self.segment,
                after: st.synced,
                upto: st.written,
            };
            st.lost.push(lost);
            st.failed = false;
        }
        // Everything in the old segment is synced now, or recorded as lost.
        st.synced = st.written;
        st.written += FILE_HEADER_LEN as u64;
        st.file = Some(shared);
        st.segment = next;
        drop(st);
        self.file = file;
        self.segment = next;
        self.next = next.saturating_add(1);
        self.segment_len = FILE_HEADER_LEN as u64;
        self.write_failed = false;
        Ok(next)
    }

    /// Bytes in the current segment.
    pub fn segment_len(&self) -> u64 {
        self.segment_len
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<()> {
        let pos = self.position();
        self.sync.sync_to(pos)
    }
}

/// Why a segment could not be created, and whether a file of its number is left.
struct CreateError {
    error: TsdbError,
    left_behind: bool,
}

/// Creates segment `n` with its header; returns the handle to write through and a
/// second one for the sync handle. A failure after the file exists removes it, so the
/// next try can use the number again.
fn create_segment<F: Fs>(
    fs: &F,
    dir: &Path,
    n: u32,
) -> std::result::Result<(F::File, Arc<F::File>), CreateError> {
    let path = segment_path(dir, n);
    let mut f = fs.create_new(&path).map_err(|e| CreateError {
        // Not ours (the directory lock keeps other writers out, and replay starts
        // after the last segment), but skipping the number beats failing forever.
        left_behind: e.kind() == std::io::ErrorKind::AlreadyExists,
        error: TsdbError::io("create", &path, e),
    })?;
    let finish = |f: &mut F::File| -> Result<F::File> {
        f.write_all(&file_header(SEGMENT_MAGIC))
            .map_err(|e| TsdbError::io("write", &path, e))?;
        let shared = f.try_clone().map_err(|e| TsdbError::io("dup", &path, e))?;
        orrery_segment::sync_dir(fs, dir)?;
        Ok(shared)
    };
    match finish(&mut f) {
        Ok(shared) => Ok((f, Arc::new(shared))),
        Err(error) => {
            drop(f);
            let left_behind = fs.remove(&path).is_err();
            Err(CreateError { error, left_behind })
        }
    }
}
