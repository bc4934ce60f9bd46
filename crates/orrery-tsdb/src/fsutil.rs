//! Small filesystem helpers for crash-safe replacement: fsync of directories, atomic
//! writes through a temporary file, directory sizes.

use crate::filenames::TMP_SUFFIX;
use crate::{Result, TsdbError};
use std::io::Write;
use std::path::Path;

/// fsyncs a directory so that creations, renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let f = std::fs::File::open(dir).map_err(|e| TsdbError::io("open dir", dir, e))?;
    f.sync_all().map_err(|e| TsdbError::io("fsync dir", dir, e))
}

/// Writes `bytes` to `path` atomically: `<path>.tmp`, fsync, rename, fsync the parent.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| TsdbError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| TsdbError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| TsdbError::io("fsync", &tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| TsdbError::io("rename", &tmp, e))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// `<path>.tmp`.
pub fn tmp_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(TMP_SUFFIX);
    s.into()
}

/// Total bytes of regular files under `dir`, recursively; missing entries count zero
/// (a block may be deleted while we walk).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
