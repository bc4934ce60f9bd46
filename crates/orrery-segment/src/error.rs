//! Typed errors. Bad bytes ([`FrameError`], [`HeaderError`]) are values the caller
//! decides about (truncate a torn tail, skip a damaged segment, refuse a newer
//! version); [`FsError`] is a failed filesystem call. Callers wrap them into their own
//! error types with the path, which they know and this crate does not always.

use crate::layout::{FILE_HEADER_LEN, RECORD_HEADER_LEN};
use std::path::PathBuf;

/// A record frame that cannot be trusted; nothing at or after [`FrameError::offset`]
/// was delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The file ends inside a record header: a write was cut short.
    #[error("torn record header; got {got} bytes; want {RECORD_HEADER_LEN}")]
    TornHeader {
        /// Offset of the frame.
        offset: u64,
        /// Header bytes present.
        got: u64,
    },
    /// The file ends inside a record body: a write was cut short.
    #[error("torn record; got {got} bytes; want {want}")]
    TornRecord {
        /// Offset of the frame.
        offset: u64,
        /// Frame bytes present (header included).
        got: u64,
        /// Frame bytes the header declares.
        want: u64,
    },
    /// The length field is above the format's limit: damage, never a real record (so
    /// nothing is allocated for it).
    #[error("too big record length; got {len}; cannot exceed {max}")]
    TooLong {
        /// Offset of the frame.
        offset: u64,
        /// Declared body length.
        len: u64,
        /// The format's limit.
        max: u64,
    },
    /// The CRC32C over type and body does not match the stored one.
    #[error("checksum mismatch; got {got:#010x}; want {want:#010x}")]
    Checksum {
        /// Offset of the frame.
        offset: u64,
        /// CRC of the bytes read.
        got: u32,
        /// CRC stored in the header.
        want: u32,
    },
}

impl FrameError {
    /// Offset of the bad frame: truncating the file here keeps every good record.
    pub fn offset(&self) -> u64 {
        match self {
            FrameError::TornHeader { offset, .. }
            | FrameError::TornRecord { offset, .. }
            | FrameError::TooLong { offset, .. }
            | FrameError::Checksum { offset, .. } => *offset,
        }
    }

    /// Whether the file simply ends too early (what a crash mid-write leaves), as
    /// opposed to bytes that are present but wrong.
    pub fn is_torn(&self) -> bool {
        matches!(
            self,
            FrameError::TornHeader { .. } | FrameError::TornRecord { .. }
        )
    }
}

/// A file header that is not the one the caller expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer than [`FILE_HEADER_LEN`] bytes: the file was torn while being created.
    #[error("torn file header; got {got} bytes; want {FILE_HEADER_LEN}")]
    Torn {
        /// Bytes present.
        got: usize,
    },
    /// Another kind of file, or damage.
    #[error("bad magic; got {got:02x?}; want {want:02x?}")]
    BadMagic {
        /// Magic found.
        got: [u8; 4],
        /// Magic expected.
        want: [u8; 4],
    },
    /// Written by a newer format version than the caller reads.
    #[error("unsupported version; got {got}; this build reads {want}")]
    UnsupportedVersion {
        /// Version found.
        got: u8,
        /// Version the caller reads.
        want: u8,
    },
}

/// A filesystem call failed, or a lock is held elsewhere. Not `non_exhaustive` on
/// purpose: callers map each kind into their own error, and a new kind should make
/// them decide.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// A filesystem call failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        /// What was being done ("create", "fsync", "rename", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another handle in this one) holds the lock.
    #[error("{path:?} is locked by another process")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

impl FsError {
    /// Wraps an I/O error with the operation and path it came from.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FsError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
