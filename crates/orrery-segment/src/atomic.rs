//! Crash-safe replacement of a whole file: write `<path>.tmp`, fsync it, rename it over
//! `path`, fsync the directory. After a crash the name holds the old file or the new
//! one, never a mix; a leftover `.tmp` is the caller's to remove at open.

use crate::error::FsError;
use crate::fs::{Fs, FsFile};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Suffix of a file being written, renamed into place after fsync. Every format built
/// on this crate uses it, so its open removes what a crash left.
pub const TMP_SUFFIX: &str = ".tmp";

/// `<path>.tmp`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(TMP_SUFFIX);
    s.into()
}

/// fsyncs a directory so that creations, renames and removals in it are durable.
pub fn sync_dir<F: Fs>(fs: &F, dir: &Path) -> Result<(), FsError> {
    fs.sync_dir(dir)
        .map_err(|e| FsError::io("fsync dir", dir, e))
}

/// Writes `path` atomically: `write` fills `<path>.tmp` through a 1 MiB buffer (so a
/// large file is streamed, never held in memory), then fsync, rename, fsync the
/// parent. `write` gets the temporary path for its error messages.
pub fn write_atomic<F: Fs, E: From<FsError>>(
    fs: &F,
    path: &Path,
    write: impl FnOnce(&mut BufWriter<F::File>, &Path) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = tmp_path(path);
    let f = fs
        .create(&tmp)
        .map_err(|e| FsError::io("create", &tmp, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    write(&mut w, &tmp)?;
    let f = w
        .into_inner()
        .map_err(|e| FsError::io("write", &tmp, e.into_error()))?;
    finish(fs, f, &tmp, path)?;
    Ok(())
}

/// [`write_atomic`] for contents already in memory (a small file), unbuffered.
pub fn write_atomic_bytes<F: Fs>(fs: &F, path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let tmp = tmp_path(path);
    let mut f = fs
        .create(&tmp)
        .map_err(|e| FsError::io("create", &tmp, e))?;
    f.write_all(bytes)
        .map_err(|e| FsError::io("write", &tmp, e))?;
    finish(fs, f, &tmp, path)
}

fn finish<F: Fs>(fs: &F, f: F::File, tmp: &Path, path: &Path) -> Result<(), FsError> {
    f.sync_all().map_err(|e| FsError::io("fsync", tmp, e))?;
    // Closed before the rename: nothing can write through this handle to the new name.
    drop(f);
    fs.rename(tmp, path)
        .map_err(|e| FsError::io("rename", tmp, e))?;
    if let Some(parent) = path.parent() {
        sync_dir(fs, parent)?;
    }
    Ok(())
}
