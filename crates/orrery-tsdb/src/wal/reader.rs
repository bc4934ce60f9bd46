//! Reading segments and checkpoints back, record by record, with bounded memory
//! (one record at a time).

use super::{FILE_HEADER_LEN, FORMAT_VERSION, MAX_RECORD_LEN};
use crate::{Result, TsdbError};
use orrery_segment::{check_header, read_full, Frame, FrameReader, Fs, HeaderError, RealFs};
use std::io::BufReader;
use std::path::Path;

/// How reading a segment ended.
#[derive(Debug)]
pub enum SegmentReadEnd {
    /// Every byte was a valid record.
    Clean {
        /// Bytes read, header included.
        len: u64,
    },
    /// A record was torn or corrupt; everything before `offset` was delivered.
    Corrupt {
        /// The corruption, with path and offset.
        error: TsdbError,
        /// Offset of the first bad byte: truncating the file here keeps every good record.
        offset: u64,
    },
}

/// Reads every record of a segment or checkpoint file, calling `f(type, payload)`.
///
/// I/O errors and errors returned by `f` abort with `Err`. Bad bytes do not: reading
/// stops and the corruption is returned in [`SegmentReadEnd::Corrupt`] so the caller can
/// decide to truncate (last segment) or to report and go on.
pub fn read_segment(
    path: &Path,
    magic: [u8; 4],
    f: impl FnMut(u8, &[u8]) -> Result<()>,
) -> Result<SegmentReadEnd> {
    read_segment_with(&RealFs, path, magic, f)
}

/// [`read_segment`] through `fs`.
pub fn read_segment_with<F: Fs>(
    fs: &F,
    path: &Path,
    magic: [u8; 4],
    mut f: impl FnMut(u8, &[u8]) -> Result<()>,
) -> Result<SegmentReadEnd> {
    let file = fs
        .open_read(path)
        .map_err(|e| TsdbError::io("open", path, e))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; FILE_HEADER_LEN];
    let n = read_full(&mut r, &mut header).map_err(|e| TsdbError::io("read", path, e))?;
    match check_header(&header[..n], magic, FORMAT_VERSION) {
        Ok(()) => {}
        // Written by a newer Orrery: refuse the directory rather than truncate it.
        Err(e @ HeaderError::UnsupportedVersion { .. }) => {
            return Err(TsdbError::corruption(path, 4, e.to_string()))
        }
        Err(e) => return Ok(corrupt(path, 0, e.to_string())),
    }
    let mut frames = FrameReader::new(r, FILE_HEADER_LEN as u64, MAX_RECORD_LEN);
    let mut payload = Vec::new();
    loop {
        match frames
            .next_frame(&mut payload)
            .map_err(|e| TsdbError::io("read", path, e))?
        {
            Frame::End => {
                return Ok(SegmentReadEnd::Clean {
                    len: frames.offset(),
                })
            }
            Frame::Bad(e) => return Ok(corrupt(path, e.offset(), e.to_string())),
            Frame::Record { typ, .. } => f(typ, &payload)?,
        }
    }
}

fn corrupt(path: &Path, offset: u64, reason: String) -> SegmentReadEnd {
    SegmentReadEnd::Corrupt {
        error: TsdbError::corruption(path, offset, reason),
        offset,
    }
}
