//! Segment framing: the file header and the checksummed record frame, encoded and
//! decoded with no I/O of their own beyond a `Read` (layout in `docs/formats/queue.md`).

use super::error::QueueError;
use std::io::Read;
use std::path::Path;

/// Magic at the start of every segment ("ORAQ": ORrery Agent Queue).
pub const SEGMENT_MAGIC: [u8; 4] = *b"ORAQ";
/// Magic at the start of the ack checkpoint ("ORAK": ORrery Agent acK).
pub const ACK_MAGIC: [u8; 4] = *b"ORAK";
/// Current version of segments and the ack checkpoint.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the first record: magic, version, three reserved zero bytes.
pub const FILE_HEADER_LEN: u64 = 8;
/// Bytes of a record frame header: body length (u32le), CRC32C (u32le), type (u8).
pub const RECORD_HEADER_LEN: u64 = 9;
/// Record type 1: an entry (shard key, append time, opaque payload).
pub const TYPE_ENTRY: u8 = 1;
/// Bytes of an entry body before the payload: shard key (u64le), append time (i64le).
pub const ENTRY_PREFIX_LEN: usize = 16;
/// Largest payload an entry may carry.
pub const MAX_PAYLOAD_LEN: usize = 64 << 20;
/// Largest body a frame may declare; a bigger length field is corruption.
pub const MAX_BODY_LEN: usize = MAX_PAYLOAD_LEN + ENTRY_PREFIX_LEN;

/// Builds the 8-byte file header for a segment or the ack checkpoint.
pub fn file_header(magic: [u8; 4]) -> [u8; FILE_HEADER_LEN as usize] {
    [
        magic[0],
        magic[1],
        magic[2],
        magic[3],
        FORMAT_VERSION,
        0,
        0,
        0,
    ]
}

/// Checks a file header; a wrong magic is corruption, an unknown version is refused.
pub fn check_header(path: &Path, magic: [u8; 4], header: &[u8]) -> Result<(), QueueError> {
    if header.len() < FILE_HEADER_LEN as usize {
        return Err(QueueError::corruption(
            path,
            0,
            format!(
                "torn file header; got {} bytes; want {FILE_HEADER_LEN}",
                header.len()
            ),
        ));
    }
    if header[..4] != magic {
        return Err(QueueError::corruption(
            path,
            0,
            format!("bad magic; got {:02x?}; want {:02x?}", &header[..4], magic),
        ));
    }
    if header[4] != FORMAT_VERSION {
        return Err(QueueError::UnsupportedVersion {
            path: path.to_owned(),
            got: header[4],
            want: FORMAT_VERSION,
        });
    }
    Ok(())
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
        let body_len = ENTRY_PREFIX_LEN + self.payload.len();
        let key = self.shard_key.to_le_bytes();
        let ms = self.appended_ms.to_le_bytes();
        let mut crc = crc32c::crc32c(&[TYPE_ENTRY]);
        crc = crc32c::crc32c_append(crc, &key);
        crc = crc32c::crc32c_append(crc, &ms);
        crc = crc32c::crc32c_append(crc, &self.payload);
        dst.reserve(RECORD_HEADER_LEN as usize + body_len);
        dst.extend_from_slice(&(body_len as u32).to_le_bytes());
        dst.extend_from_slice(&crc.to_le_bytes());
        dst.push(TYPE_ENTRY);
        dst.extend_from_slice(&key);
        dst.extend_from_slice(&ms);
        dst.extend_from_slice(&self.payload);
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
    if offset >= end {
        return Ok(Frame::End);
    }
    let corrupt = |detail: String| Ok(Frame::Corrupt(QueueError::corruption(path, offset, detail)));
    if end - offset < RECORD_HEADER_LEN {
        return corrupt(format!(
            "torn record header; got {} bytes; want {RECORD_HEADER_LEN}",
            end - offset
        ));
    }
    let mut h = [0u8; RECORD_HEADER_LEN as usize];
    let n = read_full(r, &mut h).map_err(|e| QueueError::io("read", path, e))?;
    if n < h.len() {
        return corrupt(format!(
            "torn record header; got {n} bytes; want {RECORD_HEADER_LEN}"
        ));
    }
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let want_crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let typ = h[8];
    if len > MAX_BODY_LEN {
        return corrupt(format!(
            "too big record length; got {len}; cannot exceed {MAX_BODY_LEN}"
        ));
    }
    let framed_len = RECORD_HEADER_LEN + len as u64;
    if end - offset < framed_len {
        return corrupt(format!(
            "torn record; got {} bytes; want {framed_len}",
            end - offset
        ));
    }
    let mut body = vec![0u8; len];
    let n = read_full(r, &mut body).map_err(|e| QueueError::io("read", path, e))?;
    if n < len {
        return corrupt(format!("torn record body; got {n} bytes; want {len}"));
    }
    let got_crc = crc32c::crc32c_append(crc32c::crc32c(&[typ]), &body);
    if got_crc != want_crc {
        return corrupt(format!(
            "checksum mismatch; got {got_crc:#010x}; want {want_crc:#010x}"
        ));
    }
    Ok(Frame::Record {
        typ,
        body,
        framed_len,
    })
}

/// Reads until `buf` is full or end of file; returns the bytes read.
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
