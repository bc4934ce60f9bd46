//! Every file name the queue uses on disk, in one place (see `docs/formats/queue.md`).

/// Suffix of a file being written; renamed into place after fsync, removed at open.
pub const TMP_SUFFIX: &str = orrery_segment::TMP_SUFFIX;
/// The consumer position (ack checkpoint), replaced atomically.
pub const ACK_FILE: &str = "ack";
/// Held with an exclusive advisory lock while a queue is open, so two agents never
/// share one directory.
pub const LOCK_FILE: &str = "LOCK";
/// Extension of segment files: `<number, at least 8 digits>.seg`.
pub const SEGMENT_SUFFIX: &str = ".seg";

/// File name of segment `n`, e.g. `00000042.seg`.
pub fn segment_name(n: u64) -> String {
    format!("{n:08}{SEGMENT_SUFFIX}")
}

/// Parses a segment file name back to its number.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
