//! The only door to the filesystem for code built on this crate: a small [`Fs`] trait
//! so tests can inject faults (short writes, failing fsyncs) without touching the
//! storage logic, and [`RealFs`], the `std::fs` implementation used in production.
//!
//! Concurrency: implementations must be `Send + Sync`; the agent queue calls them from
//! one thread at a time except `sync_data` on a cloned handle, which may run while the
//! queue appends on the original.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

/// An open file: read, write, seek, plus data sync and cloning.
pub trait FsFile: Read + Write + Seek + Send + Sync + 'static {
    /// `fdatasync(2)`: the file's data is durable when this returns.
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync(2)`: data and metadata are durable when this returns. [`write_atomic`]
    /// uses it before the rename. The default is [`FsFile::sync_data`], which already
    /// makes a file's contents and size durable; that is all a test fake needs.
    ///
    /// [`write_atomic`]: crate::write_atomic
    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }
    /// Shrinks (or grows) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// A second handle to the same open file (shares the file offset).
    fn try_clone(&self) -> io::Result<Self>
    where
        Self: Sized;
}

/// Filesystem operations log-structured files need, and nothing more.
pub trait Fs: Send + Sync + 'static {
    /// The file handle type.
    type File: FsFile;
    /// Creates `path`, failing if it exists, opened for reading and writing.
    fn create_new(&self, path: &Path) -> io::Result<Self::File>;
    /// Opens an existing file read-only.
    fn open_read(&self, path: &Path) -> io::Result<Self::File>;
    /// Opens an existing file for writing (used to truncate a torn tail).
    fn open_write(&self, path: &Path) -> io::Result<Self::File>;
    /// Creates or truncates `path` for writing (temporary files).
    fn create(&self, path: &Path) -> io::Result<Self::File>;
    /// Names of the entries in `dir`; names that are not UTF-8 are left out.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Reads a whole (small) file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Size of a file in bytes.
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames `from` to `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// fsyncs a directory so creations, renames and removals in it are durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive advisory lock on `path` (created if missing) for as long as
    /// the returned handle lives; fails with `WouldBlock` if someone else holds it.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn Send + Sync>>;
}

/// The real filesystem through `std::fs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl FsFile for File {
    fn sync_data(&self) -> io::Result<()> {
        File::sync_data(self)
    }
    fn sync_all(&self) -> io::Result<()> {
        File::sync_all(self)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
    fn try_clone(&self) -> io::Result<Self> {
        File::try_clone(self)
    }
}

impl Fs for RealFs {
    type File = File;
    fn create_new(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<File> {
        File::open(path)
    }
    fn open_write(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().write(true).open(path)
    }
    fn create(&self, path: &Path) -> io::Result<File> {
        File::create(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                out.push(name);
            }
        }
        Ok(out)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<Box<dyn Send + Sync>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match f.try_lock() {
            Ok(()) => Ok(Box::new(f)),
            Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "locked by another process",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}
