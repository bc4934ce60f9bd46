//! A fault-injecting [`Fs`] for tests (feature `testing`, which the crates built on
//! this one enable in their `[dev-dependencies]` only): writes that fail part-way once a
//! byte budget is spent (a full disk, a torn write), fsyncs that fail and drop what they
//! did not make durable (what Linux may do to dirty pages after a writeback error),
//! truncations and removals that fail. Files are real files, so what the writer left
//! behind can be replayed with the real filesystem afterwards. One fake for the WAL and
//! the agent queue alike, so both are tested against the same failure model.

use crate::{Fs, FsFile, RealFs};
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// The switches; clones share them, so a test flips them while the writer runs.
#[derive(Clone)]
pub struct FaultyFs {
    /// Bytes writes may still put on disk; the write that crosses it writes what is left
    /// and then fails.
    pub budget: Arc<AtomicI64>,
    /// fsyncs fail while set.
    pub fail_sync: Arc<AtomicBool>,
    /// `set_len` fails while set.
    pub fail_set_len: Arc<AtomicBool>,
    /// `remove` fails while set.
    pub fail_remove: Arc<AtomicBool>,
    /// When set, only files made by `create_new` (segments) spend the budget; files
    /// opened otherwise (temporary files of an atomic replace, reopened segments) write
    /// freely, so a test can tear a segment write without also failing the writes its
    /// owner makes around it (the agent queue's ack file).
    new_files_only: bool,
}

impl Default for FaultyFs {
    fn default() -> Self {
        FaultyFs {
            budget: Arc::new(AtomicI64::new(i64::MAX)),
            fail_sync: Arc::default(),
            fail_set_len: Arc::default(),
            fail_remove: Arc::default(),
            new_files_only: false,
        }
    }
}

impl FaultyFs {
    /// A filesystem whose write budget applies only to files made by `create_new`.
    pub fn budget_new_files_only() -> Self {
        FaultyFs {
            new_files_only: true,
            ..FaultyFs::default()
        }
    }

    /// The next writes get `n` bytes onto disk, then fail.
    pub fn fail_writes_after(&self, n: i64) {
        self.budget.store(n, Ordering::SeqCst);
    }

    /// Writes succeed again.
    pub fn heal_writes(&self) {
        self.budget.store(i64::MAX, Ordering::SeqCst);
    }

    /// `new_file`: made by `create_new`, so it spends the budget in every mode.
    fn wrap(&self, inner: std::fs::File, new_file: bool) -> io::Result<FaultyFile> {
        let len = inner.metadata()?.len();
        let budget = if new_file || !self.new_files_only {
            self.budget.clone()
        } else {
            Arc::new(AtomicI64::new(i64::MAX))
        };
        Ok(FaultyFile {
            inner,
            fs: self.clone(),
            budget,
            durable_len: Arc::new(AtomicU64::new(len)),
        })
    }
}

/// A real file whose writes, fsyncs and truncations obey its [`FaultyFs`]'s switches.
pub struct FaultyFile {
    inner: std::fs::File,
    fs: FaultyFs,
    /// The budget this file spends: its filesystem's, or its own unlimited one.
    budget: Arc<AtomicI64>,
    /// Length of the file at its last good fsync, shared by the handle's clones (they
    /// are one open file, as `dup` gives).
    durable_len: Arc<AtomicU64>,
}

impl Read for FaultyFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}
impl Seek for FaultyFile {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}
impl Write for FaultyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.budget.fetch_sub(buf.len() as i64, Ordering::SeqCst);
        if left >= buf.len() as i64 {
            return self.inner.write(buf);
        }
        if left > 0 {
            self.inner.write_all(&buf[..left as usize])?;
        }
        Err(io::Error::other("injected: no space left on device"))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
impl FsFile for FaultyFile {
    fn sync_data(&self) -> io::Result<()> {
        if self.fs.fail_sync.load(Ordering::SeqCst) {
            // The worst a failed writeback may do: what was not durable is gone. The
            // next fsync then succeeds, as on Linux, which reports an error once.
            self.inner
                .set_len(self.durable_len.load(Ordering::SeqCst))?;
            return Err(io::Error::other("injected: fsync failed (EIO)"));
        }
        self.inner.sync_data()?;
        self.durable_len
            .store(self.inner.metadata()?.len(), Ordering::SeqCst);
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        if self.fs.fail_set_len.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected: truncate failed"));
        }
        self.inner.set_len(len)
    }
    fn try_clone(&self) -> io::Result<Self> {
        Ok(FaultyFile {
            inner: self.inner.try_clone()?,
            fs: self.fs.clone(),
            budget: self.budget.clone(),
            durable_len: self.durable_len.clone(),
        })
    }
}

impl Fs for FaultyFs {
    type File = FaultyFile;
    fn create_new(&self, path: &Path) -> io::Result<FaultyFile> {
        self.wrap(RealFs.create_new(path)?, true)
    }
    fn open_read(&self, path: &Path) -> io::Result<FaultyFile> {
        self.wrap(RealFs.open_read(path)?, false)
    }
    fn open_write(&self, path: &Path) -> io::Result<FaultyFile> {
        self.wrap(RealFs.open_write(path)?, false)
    }
    fn create(&self, path: &Path) -> io::Result<FaultyFile> {
        self.wrap(RealFs.create(path)?, false)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        RealFs.list(dir)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        RealFs.read(path)
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        RealFs.len(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        if self.fail_remove.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected: remove failed"));
        }
        RealFs.remove(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        RealFs.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        RealFs.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        RealFs.create_dir_all(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn Send + Sync>> {
        RealFs.lock(path)
    }
}
