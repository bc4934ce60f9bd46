//! Directory sizes for retention and telemetry. Crash-safe replacement and directory
//! fsync are `orrery-segment`'s (`write_atomic`, `sync_dir`), shared with the agent
//! queue.

use std::path::Path;

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
