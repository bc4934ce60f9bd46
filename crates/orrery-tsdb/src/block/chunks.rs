//! The block `chunks` file: a header, then chunk records back to back, each covered by
//! its own CRC32C. Records are found through the index (offset and length); the file
//! itself is not self-delimiting. Spec: `docs/formats/block.md`.
//!
//! Written once by the block writer (one writer); read concurrently with positional
//! reads (`pread`), which need no lock.

use crate::chunkenc::pco;
use crate::{Result, TsdbError};
use orrery_model::Sample;
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// First bytes of a chunks file.
pub const CHUNKS_MAGIC: [u8; 4] = *b"ORCK";
/// Current chunks file version.
pub const CHUNKS_VERSION: u8 = 1;
/// Chunks file versions this reader accepts.
pub const CHUNKS_VERSIONS: &[u8] = &[1];
/// Size of the header (magic and version).
pub const CHUNKS_HEADER_SIZE: usize = 5;
/// Bytes a record adds around its data: the encoding byte and the CRC32C.
pub const CHUNK_RECORD_OVERHEAD: usize = 5;
/// Encoding byte of a chunk compressed with [`crate::chunkenc::pco`].
pub const ENCODING_PCO: u8 = 1;
/// Chunk encoding 2: trivial columns stored directly, the rest with pco
/// ([`pco::encode_columns`]). Written since 2026-11-22; encoding 1 is still read.
pub const ENCODING_COLUMNS: u8 = 2;
/// Most samples the writer puts in one chunk (chosen by `examples/codec_study.rs`:
/// pco's fixed cost per chunk makes bigger chunks smaller; beyond 1,920 the gain is
/// under 3 % while a query touching one sample decodes the whole chunk).
pub const MAX_CHUNK_SAMPLES: usize = 1920;

/// The header bytes of a chunks file.
pub fn header() -> [u8; CHUNKS_HEADER_SIZE] {
    let mut h = [0u8; CHUNKS_HEADER_SIZE];
    h[..4].copy_from_slice(&CHUNKS_MAGIC);
    h[4] = CHUNKS_VERSION;
    h
}

/// Checks a chunks file header.
pub fn check_header(h: &[u8], path: &Path) -> Result<()> {
    if h.len() < CHUNKS_HEADER_SIZE || h[..4] != CHUNKS_MAGIC {
        return Err(TsdbError::corruption(
            path,
            0,
            format!(
                "bad magic; got {:02x?}; want {CHUNKS_MAGIC:02x?}",
                &h[..h.len().min(4)]
            ),
        ));
    }
    if !CHUNKS_VERSIONS.contains(&h[4]) {
        return Err(TsdbError::corruption(
            path,
            4,
            format!(
                "unsupported version; got {}; want one of {CHUNKS_VERSIONS:?}",
                h[4]
            ),
        ));
    }
    Ok(())
}

/// Encodes one chunk record (encoding byte, pco data, CRC32C) into `rec` (cleared
/// first) and returns the length of the data part, which the index stores.
pub fn encode_record(samples: &[Sample], rec: &mut Vec<u8>) -> usize {
    rec.clear();
    rec.push(ENCODING_COLUMNS);
    pco::encode_columns(samples, rec);
    let crc = crc32c::crc32c(rec);
    let data_len = rec.len() - 1;
    rec.extend_from_slice(&crc.to_le_bytes());
    data_len
}

/// Fills `buf` from the chunks file at `offset`; running past the end of the file is
/// corruption (the index promised records there).
pub fn read_span(file: &File, path: &Path, offset: u64, buf: &mut [u8]) -> Result<()> {
    read_exact_at(file, buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            TsdbError::corruption(path, offset, "chunk record runs past the end of the file")
        } else {
            TsdbError::io("read", path, e)
        }
    })
}

/// Checks and decodes the record (at `offset` in the file, data `len` bytes long) at
/// the start of `rec`. `rec` may go on past the record (the next records of a span, or
/// padding): those bytes are not part of it, but let the decoder read in place.
pub fn decode_record(rec: &[u8], path: &Path, offset: u64, len: usize) -> Result<Vec<Sample>> {
    let rec_len = len + CHUNK_RECORD_OVERHEAD;
    let Some(record) = rec.get(..rec_len) else {
        return Err(TsdbError::Bug(format!(
            "decode_record: {} bytes for a {rec_len}-byte record",
            rec.len()
        )));
    };
    let (body, crc) = record.split_at(len + 1);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let got = crc32c::crc32c(body);
    if got != want {
        return Err(TsdbError::corruption(
            path,
            offset,
            format!("chunk checksum mismatch; got {got:08x}; want {want:08x}"),
        ));
    }
    let decoded = match body[0] {
        ENCODING_PCO => pco::decode(&body[1..]),
        // The data, then everything after it in `rec` as the tail.
        ENCODING_COLUMNS => pco::decode_columns_padded(&rec[1..], rec.len() - (len + 1)),
        other => {
            return Err(TsdbError::corruption(
                path,
                offset,
                format!(
                "unknown chunk encoding; got {other}; want {ENCODING_PCO} or {ENCODING_COLUMNS}"
            ),
            ))
        }
    };
    decoded.map_err(|e| TsdbError::corruption(path, offset, e.to_string()))
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Writes a chunks file sequentially, tracking the offset of the next record.
pub struct ChunksWriter {
    out: std::io::BufWriter<File>,
    path: std::path::PathBuf,
    offset: u64,
    rec: Vec<u8>,
}

impl ChunksWriter {
    /// Creates the file (which must not exist) and writes the header.
    pub fn create(path: &Path) -> Result<Self> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| TsdbError::io("create", path, e))?;
        let mut w = ChunksWriter {
            out: std::io::BufWriter::with_capacity(1 << 20, f),
            path: path.to_path_buf(),
            offset: 0,
            rec: Vec::new(),
        };
        w.write(&header())?;
        Ok(w)
    }

    /// Appends one chunk; returns (offset, data length) for the index.
    pub fn add(&mut self, samples: &[Sample]) -> Result<(u64, usize)> {
        let mut rec = std::mem::take(&mut self.rec);
        let len = encode_record(samples, &mut rec);
        let off = self.offset;
        let r = self.write(&rec);
        self.rec = rec;
        r?;
        Ok((off, len))
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.out
            .write_all(b)
            .map_err(|e| TsdbError::io("write", &self.path, e))?;
        self.offset += b.len() as u64;
        Ok(())
    }

    /// Flushes and fsyncs; returns the file size.
    pub fn finish(self) -> Result<u64> {
        let f = self
            .out
            .into_inner()
            .map_err(|e| TsdbError::io("write", &self.path, e.into_error()))?;
        f.sync_all()
            .map_err(|e| TsdbError::io("fsync", &self.path, e))?;
        Ok(self.offset)
    }
}
