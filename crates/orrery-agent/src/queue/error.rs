//! Typed queue errors. Damage on disk is [`QueueError::Corruption`] carrying the file
//! and the byte offset of the bad record, so recovery code can match on it.

use std::path::PathBuf;

/// Everything the queue can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A filesystem call failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What was being done ("write", "fsync", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes on disk are not what the format allows.
    #[error("corrupt queue file {path:?} at offset {offset}: {detail}")]
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the bad record or field.
        offset: u64,
        /// What was wrong, "got X; want Y" style.
        detail: String,
    },
    /// A file was written by a newer format version this build cannot read.
    #[error("unsupported queue format version in {path:?}; got {got}; want {want}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version found.
        got: u8,
        /// Version this build writes and reads.
        want: u8,
    },
    /// A pushed record is larger than a record may be.
    #[error("too big queue record; got {got} bytes; cannot exceed {max}")]
    RecordTooLarge {
        /// Payload size.
        got: usize,
        /// Limit.
        max: usize,
    },
    /// Another process holds the queue directory.
    #[error("queue directory {path:?} is in use by another process")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

/// The shared helpers' errors keep their meaning: a held lock stays [`QueueError::Locked`].
impl From<orrery_segment::FsError> for QueueError {
    fn from(e: orrery_segment::FsError) -> Self {
        match e {
            orrery_segment::FsError::Locked { path } => QueueError::Locked { path },
            orrery_segment::FsError::Io { op, path, source } => QueueError::Io { op, path, source },
        }
    }
}

impl QueueError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        QueueError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corruption(path: impl Into<PathBuf>, offset: u64, detail: String) -> Self {
        QueueError::Corruption {
            path: path.into(),
            offset,
            detail,
        }
    }
}
