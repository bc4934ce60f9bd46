//! Block directories on disk: scanned at open (leftovers of an interrupted write or
//! compaction removed), kept in time order, and deleted so that a crash mid-delete
//! leaves a name the next open removes, never a half-deleted block that looks whole.

use crate::block::Block;
use crate::filenames::{DELETING_SUFFIX, TMP_SUFFIX};
use crate::{Result, TsdbError};
use orrery_segment::RealFs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::info;

/// Orders blocks by start time, then ULID, the order queries and compaction expect.
pub(super) fn sort_blocks(blocks: &mut [Arc<Block>]) {
    blocks.sort_by(|a, b| {
        (a.meta().min_time, &a.meta().ulid).cmp(&(b.meta().min_time, &b.meta().ulid))
    });
}

/// Opens every block in `dir`, removing temporary and half-deleted directories and
/// the sources of a compaction whose result is already there.
pub(super) fn open_blocks(dir: &Path) -> Result<Vec<Arc<Block>>> {
    let mut blocks = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| TsdbError::io("read dir", dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| TsdbError::io("read dir", dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(TMP_SUFFIX) || name.ends_with(DELETING_SUFFIX) {
            std::fs::remove_dir_all(&path).map_err(|e| TsdbError::io("remove", &path, e))?;
            continue;
        }
        if !path.is_dir() {
            continue;
        }
        blocks.push(Arc::new(Block::open(&path)?));
    }
    // A crash after a compaction wrote its result but before it deleted the sources
    // leaves both; the sources are redundant.
    let replaced: Vec<String> = blocks
        .iter()
        .flat_map(|b| {
            b.meta()
                .sources
                .iter()
                .filter(|s| **s != b.meta().ulid)
                .cloned()
        })
        .collect();
    let (stale, mut keep): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .partition(|b| replaced.contains(&b.meta().ulid));
    for b in stale {
        info!(block = %b.meta().ulid, "removing block already merged by an interrupted compaction");
        delete_block_dir(b.dir())?;
    }
    sort_blocks(&mut keep);
    Ok(keep)
}

/// Deletes a block directory: renamed first, so a crash mid-delete leaves a name
/// `open_blocks` removes rather than a partial block.
pub(super) fn delete_block_dir(dir: &Path) -> Result<()> {
    let mut doomed = dir.as_os_str().to_owned();
    doomed.push(DELETING_SUFFIX);
    let doomed = PathBuf::from(doomed);
    std::fs::rename(dir, &doomed).map_err(|e| TsdbError::io("rename", dir, e))?;
    std::fs::remove_dir_all(&doomed).map_err(|e| TsdbError::io("remove", &doomed, e))?;
    if let Some(p) = dir.parent() {
        orrery_segment::sync_dir(&RealFs, p)?;
    }
    Ok(())
}
