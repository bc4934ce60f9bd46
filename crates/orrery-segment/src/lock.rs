//! [`DirLock`]: one process per directory. The lock file's name belongs to each format
//! (the tsdb uses `lock`, the agent queue `LOCK`, as existing data directories have
//! them); this only takes and holds the lock.

use crate::error::FsError;
use crate::fs::Fs;
use std::path::{Path, PathBuf};

/// An exclusive advisory lock on a file, held until this value is dropped (the OS
/// also releases it when the process dies, so a crash never leaves a stale lock).
pub struct DirLock {
    path: PathBuf,
    _held: Box<dyn Send + Sync>,
}

impl DirLock {
    /// Takes the lock on `path` (the file is created if missing, never truncated).
    /// Someone else holding it is [`FsError::Locked`].
    pub fn acquire<F: Fs>(fs: &F, path: &Path) -> Result<DirLock, FsError> {
        match fs.lock(path) {
            Ok(held) => Ok(DirLock {
                path: path.to_path_buf(),
                _held: held,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(FsError::Locked {
                path: path.to_path_buf(),
            }),
            Err(e) => Err(FsError::io("lock", path, e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::fmt::Debug for DirLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirLock").field("path", &self.path).finish()
    }
}
