//! Write-ahead log framing: numbered segment files of checksummed, opaque records.
//!
//! This module knows bytes, not samples; `record.rs` gives records their meaning.
//! The byte layout is specified in `docs/formats/wal.md`; the header and frame are the
//! shared ones of `orrery-segment` (`docs/formats/framing.md`), with the WAL's magics.
//!
//! Design constraints:
//! 1. A record never spans segments; a segment is rolled when it passes the size limit.
//! 2. Every record carries a CRC32C over its type byte and payload.
//! 3. One writer (the caller serialises appends); readers only run before the writer
//!    starts (replay) or on sealed segments.
//! 4. A torn or corrupt tail is reported as a typed [`TsdbError::Corruption`] with the
//!    segment path and offset; replay truncates the last segment there and goes on.
//! 5. Segment files are reached through `orrery_segment`'s [`Fs`] trait, so tests can
//!    inject faults: [`WalWriter::create_with`], [`read_segment_with`] and [`list_with`]
//!    take one, and the forms without `_with` use the real filesystem.
//! 6. Nothing is written to a segment after a write or an fsync in it failed, and a
//!    position an fsync failed for is never reported durable (`writer.rs`).

mod reader;
mod writer;

pub use reader::{read_segment, read_segment_with, SegmentReadEnd};
pub use writer::{FsyncPolicy, SyncHandle, WalWriter};

use crate::filenames::{checkpoint_name, segment_name, CHECKPOINT_PREFIX, TMP_SUFFIX};
use crate::{Result, TsdbError};
use orrery_segment::{Fs, RealFs};
use std::path::{Path, PathBuf};

/// Magic at the start of every WAL segment ("ORWL").
pub const SEGMENT_MAGIC: [u8; 4] = *b"ORWL";
/// Current segment and checkpoint format version.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the first record: magic, version, three reserved zero bytes.
pub const FILE_HEADER_LEN: usize = orrery_segment::FILE_HEADER_LEN;
/// Bytes of a record header: payload length (u32le), CRC32C (u32le), type (u8).
pub const RECORD_HEADER_LEN: usize = orrery_segment::RECORD_HEADER_LEN;
/// Largest payload a record may have; bigger writes are split by the caller.
pub const MAX_RECORD_LEN: usize = orrery_segment::MAX_PAYLOAD_LEN;

/// Builds the 8-byte file header for a segment or checkpoint.
pub fn file_header(magic: [u8; 4]) -> [u8; FILE_HEADER_LEN] {
    orrery_segment::file_header(magic, FORMAT_VERSION)
}

/// Appends one framed record to `dst`.
pub fn encode_record(dst: &mut Vec<u8>, typ: u8, payload: &[u8]) {
    orrery_segment::encode_frame(dst, typ, payload);
}

/// The WAL directory's contents: segment numbers and the newest checkpoint.
#[derive(Debug, Default)]
pub struct WalListing {
    /// Segment numbers in increasing order.
    pub segments: Vec<u32>,
    /// Checkpoints as (first segment not covered, path), increasing.
    pub checkpoints: Vec<(u32, PathBuf)>,
}

/// Lists segments and checkpoints, removing leftover temporary files from a crash.
pub fn list(dir: &Path) -> Result<WalListing> {
    list_with(&RealFs, dir)
}

/// [`list`] through `fs`.
pub fn list_with<F: Fs>(fs: &F, dir: &Path) -> Result<WalListing> {
    let mut out = WalListing::default();
    let names = fs
        .list(dir)
        .map_err(|e| TsdbError::io("read dir", dir, e))?;
    for name in names {
        let name = name.as_str();
        let path = dir.join(name);
        if name.ends_with(TMP_SUFFIX) {
            fs.remove(&path)
                .map_err(|e| TsdbError::io("remove", &path, e))?;
        } else if let Some(n) = name.strip_prefix(CHECKPOINT_PREFIX) {
            if let Ok(n) = n.parse::<u32>() {
                out.checkpoints.push((n, path));
            }
        } else if let Ok(n) = name.parse::<u32>() {
            out.segments.push(n);
        }
    }
    out.segments.sort_unstable();
    out.checkpoints.sort_by_key(|c| c.0);
    Ok(out)
}

/// Deletes segments below `first_kept` and checkpoints below it (a cut calls this once
/// checkpoint `first_kept` is durable), then fsyncs the directory.
pub fn remove_before(wal_dir: &Path, first_kept: u32) -> Result<()> {
    let listing = list(wal_dir)?;
    for n in listing.segments.iter().filter(|&&n| n < first_kept) {
        let p = segment_path(wal_dir, *n);
        std::fs::remove_file(&p).map_err(|e| TsdbError::io("remove", &p, e))?;
    }
    for (n, p) in &listing.checkpoints {
        if *n < first_kept {
            std::fs::remove_file(p).map_err(|e| TsdbError::io("remove", p, e))?;
        }
    }
    Ok(orrery_segment::sync_dir(&RealFs, wal_dir)?)
}

/// Path of segment `n` in `dir`.
pub fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(segment_name(n))
}

/// Path of the checkpoint covering segments below `n`.
pub fn checkpoint_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(checkpoint_name(n))
}

#[cfg(test)]
mod tests;
