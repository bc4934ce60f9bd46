//! The floor under every log-structured file Orrery writes: the WAL and its
//! checkpoints (`orrery-tsdb`), the agent queue and its ack file (`orrery-agent`), and
//! next the log store.
//!
//! # Brief overview
//!
//! * [`file_header`] and [`check_header`]: the 8-byte file header
//!   `magic <4b> | version <1b> | reserved <3b>` (`docs/formats/framing.md`).
//! * [`encode_frame`] / [`encode_frame_parts`]: one record frame
//!   `len <u32le> | crc32c <u32le> | type <1b> | body <len b>`, the CRC covering the
//!   type byte and the body.
//! * [`FrameReader`] (and the single-step [`read_frame`]): frames back, one at a time,
//!   with bounded memory. Bad bytes are not an `Err`: they come back as a
//!   [`FrameError`] that says whether the tail was torn (a crash mid-write) or the
//!   bytes are damaged, with the offset to truncate at. Only I/O fails.
//! * [`write_atomic`], [`write_atomic_bytes`], [`sync_dir`]: replace a file so that a
//!   crash leaves the old or the new one, never a mix (tmp, fsync, rename, fsync dir).
//! * [`DirLock`]: an exclusive advisory lock on a file in a directory, so two
//!   processes never share one.
//! * [`Fs`], [`FsFile`], [`RealFs`]: the filesystem operations the above need, as a
//!   trait, so tests can inject faults (short writes, failing fsyncs); with the
//!   `testing` feature, `faulty::FaultyFs` is the fake that does.
//!
//! This crate owns the framing, not what is framed. It must not know any payload,
//! record type or magic of the formats built on it (each format keeps its magic,
//! version, payloads and spec in its own crate and `docs/formats/`), nor HTTP, metrics
//! or logging; and it must never panic on what it reads from disk.
#![deny(missing_docs)]

mod atomic;
mod error;
#[cfg(feature = "testing")]
pub mod faulty;
mod frame;
mod fs;
mod layout;
mod lock;

pub use atomic::{sync_dir, tmp_path, write_atomic, write_atomic_bytes, TMP_SUFFIX};
pub use error::{FrameError, FsError, HeaderError};
pub use frame::{
    check_header, encode_frame, encode_frame_parts, file_header, read_frame, read_full, Frame,
    FrameReader,
};
pub use fs::{Fs, FsFile, RealFs};
pub use layout::{FILE_HEADER_LEN, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN};
pub use lock::DirLock;

#[cfg(test)]
mod tests;
