//! The file header and the record frame: encoding, and reading back one frame at a
//! time (layout in `docs/formats/framing.md`).
//!
//! A reader is given the body limit of its format and, when the caller knows it, the
//! number of valid bytes in the file (`end`): the queue reads a segment while it is
//! being appended to and must not read past what it has counted, the WAL reads sealed
//! files to their end.

use crate::error::{FrameError, HeaderError};
use crate::layout::{FILE_HEADER_LEN, RECORD_HEADER_LEN};
use std::io::Read;

/// Builds the 8-byte file header: `magic`, `version`, three zero bytes.
pub fn file_header(magic: [u8; 4], version: u8) -> [u8; FILE_HEADER_LEN] {
    [magic[0], magic[1], magic[2], magic[3], version, 0, 0, 0]
}

/// Checks a file header (`header` is what could be read, possibly short). A short
/// header or a wrong magic is damage; a version other than `version` was written by
/// another build and is for the caller to refuse. Reserved bytes are not checked, so a
/// later version may use them.
pub fn check_header(header: &[u8], magic: [u8; 4], version: u8) -> Result<(), HeaderError> {
    if header.len() < FILE_HEADER_LEN {
        return Err(HeaderError::Torn { got: header.len() });
    }
    let got = [header[0], header[1], header[2], header[3]];
    if got != magic {
        return Err(HeaderError::BadMagic { got, want: magic });
    }
    if header[4] != version {
        return Err(HeaderError::UnsupportedVersion {
            got: header[4],
            want: version,
        });
    }
    Ok(())
}

/// Appends one framed record with body `body` to `dst`.
pub fn encode_frame(dst: &mut Vec<u8>, typ: u8, body: &[u8]) {
    encode_frame_parts(dst, typ, &[body]);
}

/// Appends one framed record whose body is the concatenation of `parts`, without
/// building the body first (the queue frames a fixed prefix and a large payload).
/// The caller keeps the body within its format's limit; the length is stored as u32.
pub fn encode_frame_parts(dst: &mut Vec<u8>, typ: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let crc = parts.iter().fold(crc32c::crc32c(&[typ]), |crc, p| {
        crc32c::crc32c_append(crc, p)
    });
    dst.reserve(RECORD_HEADER_LEN + len);
    dst.extend_from_slice(&(len as u32).to_le_bytes());
    dst.extend_from_slice(&crc.to_le_bytes());
    dst.push(typ);
    for p in parts {
        dst.extend_from_slice(p);
    }
}

/// What reading one frame found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A verified frame; its body is in the caller's buffer.
    Record {
        /// Record type.
        typ: u8,
        /// Header plus body bytes: the offset of the next frame is this much further.
        framed_len: u64,
    },
    /// No more records: `end` was reached, or (with no `end`) the file ended cleanly
    /// at a frame boundary.
    End,
    /// The frame is torn or damaged; nothing at or after its offset can be trusted.
    Bad(FrameError),
}

/// Reads the frame at `offset` from `r` (positioned there) into `body`.
///
/// `end` is the number of valid bytes in the file if the caller knows it: a frame
/// crossing it is torn, and reading stops there even if the file is longer. With
/// `None` the file's end is the end. A declared length above `max_body` is damage and
/// allocates nothing. Only I/O failures are `Err`; bad bytes are [`Frame::Bad`].
pub fn read_frame(
    r: &mut impl Read,
    offset: u64,
    end: Option<u64>,
    max_body: usize,
    body: &mut Vec<u8>,
) -> std::io::Result<Frame> {
    const RH: u64 = RECORD_HEADER_LEN as u64;
    if let Some(end) = end {
        if offset >= end {
            return Ok(Frame::End);
        }
        if end - offset < RH {
            return Ok(Frame::Bad(FrameError::TornHeader {
                offset,
                got: end - offset,
            }));
        }
    }
    let mut h = [0u8; RECORD_HEADER_LEN];
    let n = read_full(r, &mut h)?;
    if n == 0 && end.is_none() {
        return Ok(Frame::End);
    }
    if n < h.len() {
        return Ok(Frame::Bad(FrameError::TornHeader {
            offset,
            got: n as u64,
        }));
    }
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let want_crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let typ = h[8];
    if len > max_body {
        return Ok(Frame::Bad(FrameError::TooLong {
            offset,
            len: len as u64,
            max: max_body as u64,
        }));
    }
    let framed_len = RH + len as u64;
    if let Some(end) = end {
        if end - offset < framed_len {
            return Ok(Frame::Bad(FrameError::TornRecord {
                offset,
                got: end - offset,
                want: framed_len,
            }));
        }
    }
    body.resize(len, 0);
    let n = read_full(r, body)?;
    if n < len {
        return Ok(Frame::Bad(FrameError::TornRecord {
            offset,
            got: RH + n as u64,
            want: framed_len,
        }));
    }
    let got_crc = crc32c::crc32c_append(crc32c::crc32c(&[typ]), body);
    if got_crc != want_crc {
        return Ok(Frame::Bad(FrameError::Checksum {
            offset,
            got: got_crc,
            want: want_crc,
        }));
    }
    Ok(Frame::Record { typ, framed_len })
}

/// Reads the frames of one file in order, keeping track of the offset (memory: one
/// body at a time, in a buffer the caller reuses).
#[derive(Debug)]
pub struct FrameReader<R> {
    r: R,
    offset: u64,
    end: Option<u64>,
    max_body: usize,
}

impl<R: Read> FrameReader<R> {
    /// Reads frames from `r`, which is positioned at `offset` (usually just after the
    /// file header), refusing bodies longer than `max_body`.
    pub fn new(r: R, offset: u64, max_body: usize) -> Self {
        FrameReader {
            r,
            offset,
            end: None,
            max_body,
        }
    }

    /// Stops at `end` valid bytes instead of the end of the file (see [`read_frame`]).
    pub fn with_end(mut self, end: u64) -> Self {
        self.end = Some(end);
        self
    }

    /// Offset of the next frame; after [`Frame::Bad`], the offset of the bad one.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next frame into `body` and moves past it if it was good.
    pub fn next_frame(&mut self, body: &mut Vec<u8>) -> std::io::Result<Frame> {
        let f = read_frame(&mut self.r, self.offset, self.end, self.max_body, body)?;
        if let Frame::Record { framed_len, .. } = f {
            self.offset += framed_len;
        }
        Ok(f)
    }

    /// The underlying reader, positioned after the last frame read.
    pub fn into_inner(self) -> R {
        self.r
    }
}

/// Reads until `buf` is full or end of file; returns the bytes read (a short count is
/// how a torn file shows, so it is not an error here).
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
