//! Small filesystem helpers for crash-safe replacement: fsync of directories, atomic
//! writes through a temporary file, directory sizes.

use crate::filenames::TMP_SUFFIX;
use crate::{Result, TsdbError};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// fsyncs a directory so that creations, renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let f = std::fs::File::open(dir).map_err(|e| TsdbError::io("open dir", dir, e))?;
    f.sync_all().map_err(|e| TsdbError::io("fsync dir", dir, e))
}

/// Writes `path` atomically: `write` fills `<path>.tmp` through a 1 MiB buffer (so a
/// large file is streamed, never held in memory), then fsync, rename, fsync the
/// parent. `write` gets the temporary path for its error messages.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>, &Path) -> Result<()>,
) -> Result<()> {
    let tmp = tmp_path(path);
    {
        let f = File::create(&tmp).map_err(|e| TsdbError::io("create", &tmp, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        write(&mut w, &tmp)?;
        let f = w
            .into_inner()
            .map_err(|e| TsdbError::io("write", &tmp, e.into_error()))?;
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
