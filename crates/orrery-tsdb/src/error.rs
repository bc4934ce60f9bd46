//! Typed storage errors. Corruption carries the path and offset so that recovery code
//! can match on it and report exactly where the damage is.

use std::path::PathBuf;
use thiserror::Error;

/// Errors from the storage engine.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TsdbError {
    /// An I/O operation failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What was being done ("open", "write", "rename", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk do not have the documented shape or fail their checksum.
    #[error("corruption in {path:?} at offset {offset}: {reason}")]
    Corruption {
        /// File that holds the bad bytes.
        path: PathBuf,
        /// Byte offset of the bad record or field.
        offset: u64,
        /// What was wrong, in "got X; want Y" form where possible.
        reason: String,
    },
    /// A chunk or record could not be decoded (no file context yet; callers wrap it
    /// into [`TsdbError::Corruption`] when they know where it came from).
    #[error("decode: {0}")]
    Decode(String),
    /// WAL bytes were written but an fsync of their segment failed, so they may not be
    /// on disk; retrying cannot tell (docs/formats/wal.md, Write & recovery).
    #[error("WAL segment {path:?} could not be made durable (an fsync of it failed); this write may be lost")]
    WalNotDurable {
        /// The segment whose fsync failed.
        path: PathBuf,
    },
    /// The data directory is held by another process.
    #[error("data directory {path:?} is locked by another process (is another orrery server running on it?)")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A configuration value is unusable.
    #[error("invalid storage option: {0}")]
    InvalidOption(String),
    /// A broken invariant; a bug, never the user's fault.
    #[error("BUG: {0}")]
    Bug(String),
}

impl TsdbError {
    /// Wraps an I/O error with the operation and path it came from.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TsdbError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds a corruption error.
    pub fn corruption(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        TsdbError::Corruption {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// The shared helpers' errors keep their meaning: a held lock stays [`TsdbError::Locked`].
impl From<orrery_segment::FsError> for TsdbError {
    fn from(e: orrery_segment::FsError) -> Self {
        match e {
            orrery_segment::FsError::Locked { path } => TsdbError::Locked { path },
            orrery_segment::FsError::Io { op, path, source } => TsdbError::Io { op, path, source },
        }
    }
}

impl From<TsdbError> for orrery_model::StorageError {
    fn from(e: TsdbError) -> Self {
        orrery_model::StorageError::Internal(e.to_string())
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = TsdbError> = std::result::Result<T, E>;
