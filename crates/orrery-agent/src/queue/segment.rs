//! The queue's use of the shared framing (`orrery-segment`, `docs/formats/framing.md`):
//! its magics and version, the entry body, and the frame reader's bad bytes turned into
//! [`QueueError`]s with the path (layout in `docs/formats/queue.md`).

use super::error::QueueError;
pub use orrery_segment::read_full;
use orrery_segment::HeaderError;
use std::io::Read;
use std::path::Path;

/// Magic at the start of every segment ("ORAQ": ORrery Agent Queue).
pub const SEGMENT_MAGIC: [u8; 4] = *b"ORAQ";
/// Magic at the start of the ack checkpoint ("ORAK": ORrery Agent acK).
pub const ACK_MAGIC: [u8; 4] = *b"ORAK";
/// Current version of segments and the ack checkpoint.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the first record: magic, version, three reserved zero bytes.
pub const FILE_HEADER_LEN: u64 = orrery_segment::FILE_HEADER_LEN as u64;
/// Bytes of a record frame header: body length (u32le), CRC32C (u32le), type (u8).
pub const RECORD_HEADER_LEN: u64 = orrery_segment::RECORD_HEADER_LEN as u64;
/// Record type 1: an entry (shard key, append time, opaque payload).
pub const TYPE_ENTRY: u8 = 1;
/// Bytes of an entry body before the payload: shard key (u64le), append time (i64le).
pub const ENTRY_PREFIX_LEN: usize = 16;
/// Largest payload an entry may carry.
pub const MAX_PAYLOAD_LEN: usize = orrery_segment::MAX_PAYLOAD_LEN;
/// Largest body a frame may declare; a bigger length field is corruption.
pub const MAX_BODY_LEN: usize = MAX_PAYLOAD_LEN + ENTRY_PREFIX_LEN;

/// Builds the 8-byte file header for a segment or the ack checkpoint.
pub fn file_header(magic: [u8; 4]) -> [u8; orrery_segment::FILE_HEADER_LEN] {
    orrery_segment::file_header(magic, FORMAT_VERSION)
}

/// Checks a file header; a wrong magic is corruption, an unknown version is refused.
pub fn check_header(path: &Path, magic: [u8; 4], header: &[u8]) -> Result<(), QueueError> {
    match orrery_segment::check_header(header, magic, FORMAT_VERSION) {
        Ok(()) => Ok(()),
        Err(HeaderError::UnsupportedVersion { got, want }) => Err(QueueError::UnsupportedVersion {
            path: path.to_owned(),
            got,
            want,
        }),
        Err(e) => Err(QueueError::corruption(path, 0, e.to_string())),
    }
}

/// One entry: the unit the queue stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Chooses the sender shard (`shard_key % shards`).
    pub shard_key: u64,
    /// Unix milliseconds when the entry was pushed.
    pub appended_ms: i64,
    /// Opaque bytes (for the sender: a snappy-compressed remote-write body).
    pub payload: Vec<u8>,
}

impl Entry {
    /// Appends the framed record (header + body) to `dst`.
    pub fn encode_into(&self, dst: &mut Vec<u8>) {
        // Framed from its parts: the payload (up to 64 MiB) is copied once, into `dst`.
        orrery_segment::encode_frame_parts(
            dst,
            TYPE_ENTRY,
            &[
                &self.shard_key.to_le_bytes(),
                &self.appended_ms.to_le_bytes(),
                &self.payload,
            ],
        );
    }

    /// Framed size on disk of an entry with a payload of `payload_len` bytes.
    pub fn framed_len(payload_len: usize) -> u64 {
        RECORD_HEADER_LEN + (ENTRY_PREFIX_LEN + payload_len) as u64
    }

    /// Decodes an entry body (after the frame was verified).
    pub fn decode(path: &Path, offset: u64, body: Vec<u8>) -> Result<Entry, QueueError> {
        if body.len() < ENTRY_PREFIX_LEN {
            return Err(QueueError::corruption(
                path,
                offset,
                format!(
                    "short entry body; got {} bytes; want at least {ENTRY_PREFIX_LEN}",
                    body.len()
                ),
            ));
        }
        let mut key = [0u8; 8];
        key.copy_from_slice(&body[..8]);
        let mut ms = [0u8; 8];
        ms.copy_from_slice(&body[8..16]);
        let mut payload = body;
        payload.drain(..ENTRY_PREFIX_LEN);
        Ok(Entry {
            shard_key: u64::from_le_bytes(key),
            appended_ms: i64::from_le_bytes(ms),
            payload,
        })
    }
}

/// What reading one frame found.
#[derive(Debug)]
pub enum Frame {
    /// A verified frame: its type and body, and its size on disk.
    Record {
        /// Record type.
        typ: u8,
        /// Body bytes (CRC verified).
        body: Vec<u8>,
        /// Header + body bytes.
        framed_len: u64,
    },
    /// `offset == end`: no more records.
    End,
    /// The frame at `offset` is torn or corrupt (the error says which); nothing at or
    /// after it can be trusted.
    Corrupt(QueueError),
}

/// Reads the frame at `offset` from `r` (positioned there). `end` is the number of
/// valid bytes in the file as far as the caller knows; a frame crossing it is torn.
/// Only I/O failures are `Err`; bad bytes are [`Frame::Corrupt`].
pub fn read_frame(
    r: &mut impl Read,
    path: &Path,
    offset: u64,
    end: u64,
) -> Result<Frame, QueueError> {
    // A new buffer per record: the body becomes the entry's payload.
    let mut body = Vec::new();
    let frame = orrery_segment::read_frame(r, offset, Some(end), MAX_BODY_LEN, &mut body)
        .map_err(|e| QueueError::io("read", path, e))?;
    Ok(match frame {
        orrery_segment::Frame::End => Frame::End,
        orrery_segment::Frame::Record { typ, framed_len } => Frame::Record {
            typ,
            body,
            framed_len,
        },
        orrery_segment::Frame::Bad(e) => {
            Frame::Corrupt(QueueError::corruption(path, e.offset(), e.to_string()))
        }
    })
}
