//! Every file and directory name this crate uses on disk, in one place.
//!
//! Layout of a data directory:
//! ```text
//! <data-dir>/
//!   lock                      held with an exclusive lock while a server runs
//!   wal/00000001              WAL segments (docs/formats/wal.md)
//!   wal/checkpoint.00000007   head snapshot covering segments < 7 (docs/formats/checkpoint.md)
//!   blocks/<ULID>/            immutable blocks (docs/formats/block.md)
//!     meta.json  index  chunks
//! ```

/// Lock file at the data directory's root.
pub const LOCK_FILE: &str = "lock";
/// Directory of WAL segments and checkpoints.
pub const WAL_DIR: &str = "wal";
/// Directory of persisted blocks.
pub const BLOCKS_DIR: &str = "blocks";
/// Prefix of a checkpoint file name; the suffix is the first segment not covered.
pub const CHECKPOINT_PREFIX: &str = "checkpoint.";
/// Block metadata file.
pub const BLOCK_META: &str = "meta.json";
/// Block index file.
pub const BLOCK_INDEX: &str = "index";
/// Block chunk data file.
pub const BLOCK_CHUNKS: &str = "chunks";
/// Suffix of anything being written; removed at open if found (a crash left it).
pub const TMP_SUFFIX: &str = orrery_segment::TMP_SUFFIX;
/// Suffix of a block directory being deleted; removed at open if found.
pub const DELETING_SUFFIX: &str = ".deleting";

/// File name of WAL segment `n`.
pub fn segment_name(n: u32) -> String {
    format!("{n:08}")
}

/// File name of the checkpoint that covers segments below `n`.
pub fn checkpoint_name(n: u32) -> String {
    format!("{CHECKPOINT_PREFIX}{n:08}")
}
