//! The segment writer: appends framed records, rolls segments, and makes them durable
//! according to the fsync policy.
//!
//! Concurrency: `append` needs `&mut self` (one writer, serialised by the caller), but
//! `sync_handle` gives a cheap handle that other threads use to wait for durability
//! without holding the writer, so several requests share one fsync (group commit).
//! The handle holds a second descriptor of the segment being written (`try_clone`):
//! an fsync through it makes the writer's bytes durable too.
//!
//! Files are reached through [`Fs`], so tests can inject faults; [`WalWriter::create`]
//! uses the real filesystem.

use super::{encode_record, file_header, segment_path, FILE_HEADER_LEN, SEGMENT_MAGIC};
use crate::{Result, TsdbError};
use orrery_segment::{Fs, FsFile, RealFs};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Shared durability state for group commit.
struct SyncState<FF> {
    /// The file being written and how many bytes were written to it, counted across
    /// segments as a global position.
    file: Option<Arc<FF>>,
    written: u64,
    synced: u64,
}

/// A handle to wait for durability of a position, usable without the writer.
pub struct SyncHandle<FF = File> {
    state: Arc<Mutex<SyncState<FF>>>,
    path_hint: PathBuf,
}

impl<FF> Clone for SyncHandle<FF> {
    fn clone(&self) -> Self {
        SyncHandle {
            state: self.state.clone(),
            path_hint: self.path_hint.clone(),
        }
    }
}

impl<FF> std::fmt::Debug for SyncHandle<FF> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandle")
            .field("path_hint", &self.path_hint)
            .finish_non_exhaustive()
    }
}

impl<FF: FsFile> SyncHandle<FF> {
    /// Makes every byte up to `pos` (a value from [`WalWriter::position`]) durable.
    pub fn sync_to(&self, pos: u64) -> Result<()> {
        // The mutex is held across fsync on purpose: concurrent callers queue here and
        // find their position already synced by the one before them (group commit).
        let mut st = self
            .state
            .lock()
            .map_err(|_| TsdbError::Bug("wal sync lock poisoned".into()))?;
        if st.synced >= pos {
            return Ok(());
        }
        let target = st.written;
        if let Some(f) = st.file.clone() {
            f.sync_data()
                .map_err(|e| TsdbError::io("fsync", &self.path_hint, e))?;
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
    file: F::File,
    segment_len: u64,
    max_segment_len: u64,
    sync: SyncHandle<F::File>,
    buf: Vec<u8>,
}

impl<F: Fs> std::fmt::Debug for WalWriter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter")
            .field("dir", &self.dir)
            .field("segment", &self.segment)
            .field("segment_len", &self.segment_len)
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
        let (file, shared) = create_segment(&fs, dir, first)?;
        let state = SyncState {
            file: Some(shared),
            written: FILE_HEADER_LEN as u64,
            synced: 0,
        };
        Ok(WalWriter {
            fs,
            dir: dir.to_path_buf(),
            segment: first,
            file,
            segment_len: FILE_HEADER_LEN as u64,
            max_segment_len,
            sync: SyncHandle {
                state: Arc::new(Mutex::new(state)),
                path_hint: dir.to_path_buf(),
            },
            buf: Vec::new(),
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

    /// Appends records given as (type, payload) in one write so they land together.
    /// Rolls to a new segment first if the current one is full.
    pub fn append(&mut self, records: &[(u8, &[u8])]) -> Result<u64> {
        self.buf.clear();
        for (typ, payload) in records {
            encode_record(&mut self.buf, *typ, payload);
        }
        if self.segment_len > FILE_HEADER_LEN as u64
            && self.segment_len + self.buf.len() as u64 > self.max_segment_len
        {
            self.roll()?;
        }
        let path = segment_path(&self.dir, self.segment);
        self.file
            .write_all(&self.buf)
            .map_err(|e| TsdbError::io("write", &path, e))?;
        self.segment_len += self.buf.len() as u64;
        let mut st = self
            .sync
            .state
            .lock()
            .map_err(|_| TsdbError::Bug("wal sync lock poisoned".into()))?;
        st.written += self.buf.len() as u64;
        Ok(st.written)
    }

    /// Seals the current segment (fsync) and starts the next one. Returns the number
    /// of the new segment: everything appended from now on lands at or after it.
    pub fn roll(&mut self) -> Result<u32> {
        let old = segment_path(&self.dir, self.segment);
        self.file
            .sync_all()
            .map_err(|e| TsdbError::io("fsync", &old, e))?;
        let next = self.segment + 1;
        let (file, shared) = create_segment(&self.fs, &self.dir, next)?;
        let mut st = self
            .sync
            .state
            .lock()
            .map_err(|_| TsdbError::Bug("wal sync lock poisoned".into()))?;
        // Everything in the old segment is synced now.
        st.synced = st.written;
        st.written += FILE_HEADER_LEN as u64;
        st.file = Some(shared);
        drop(st);
        self.file = file;
        self.segment = next;
        self.segment_len = FILE_HEADER_LEN as u64;
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

/// Creates segment `n` with its header; returns the handle to write through and a
/// second one for the sync handle.
fn create_segment<F: Fs>(fs: &F, dir: &Path, n: u32) -> Result<(F::File, Arc<F::File>)> {
    let path = segment_path(dir, n);
    let mut f = fs
        .create_new(&path)
        .map_err(|e| TsdbError::io("create", &path, e))?;
    f.write_all(&file_header(SEGMENT_MAGIC))
        .map_err(|e| TsdbError::io("write", &path, e))?;
    let shared = f.try_clone().map_err(|e| TsdbError::io("dup", &path, e))?;
    orrery_segment::sync_dir(fs, dir)?;
    Ok((f, Arc::new(shared)))
}
