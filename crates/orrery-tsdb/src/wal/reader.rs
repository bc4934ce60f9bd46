//! Reading segments and checkpoints back, record by record, with bounded memory
//! (one record at a time).

use super::{FILE_HEADER_LEN, FORMAT_VERSION, MAX_RECORD_LEN, RECORD_HEADER_LEN};
use crate::{Result, TsdbError};
use std::io::{BufReader, Read};
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
    mut f: impl FnMut(u8, &[u8]) -> Result<()>,
) -> Result<SegmentReadEnd> {
    let file = std::fs::File::open(path).map_err(|e| TsdbError::io("open", path, e))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; FILE_HEADER_LEN];
    match read_full(&mut r, &mut header).map_err(|e| TsdbError::io("read", path, e))? {
        n if n < FILE_HEADER_LEN => {
            return Ok(corrupt(
                path,
                0,
                format!("short file header; got {n} bytes; want {FILE_HEADER_LEN}"),
            ));
        }
        _ => {}
    }
    if header[..4] != magic {
        return Ok(corrupt(
            path,
            0,
            format!("bad magic; got {:?}; want {:?}", &header[..4], magic),
        ));
    }
    if header[4] != FORMAT_VERSION {
        return Err(TsdbError::corruption(
            path,
            4,
            format!(
                "unsupported version; got {}; this build reads {FORMAT_VERSION}",
                header[4]
            ),
        ));
    }
    let mut offset = FILE_HEADER_LEN as u64;
    let mut payload = Vec::new();
    loop {
        let mut rh = [0u8; RECORD_HEADER_LEN];
        let n = read_full(&mut r, &mut rh).map_err(|e| TsdbError::io("read", path, e))?;
        if n == 0 {
            return Ok(SegmentReadEnd::Clean { len: offset });
        }
        if n < RECORD_HEADER_LEN {
            return Ok(corrupt(
                path,
                offset,
                format!("torn record header; got {n} of {RECORD_HEADER_LEN} bytes"),
            ));
        }
        let len = u32::from_le_bytes([rh[0], rh[1], rh[2], rh[3]]) as usize;
        let crc = u32::from_le_bytes([rh[4], rh[5], rh[6], rh[7]]);
        let typ = rh[8];
        if len > MAX_RECORD_LEN {
            return Ok(corrupt(
                path,
                offset,
                format!("record too long; got {len} bytes; cannot exceed {MAX_RECORD_LEN}"),
            ));
        }
        payload.resize(len, 0);
        let n = read_full(&mut r, &mut payload).map_err(|e| TsdbError::io("read", path, e))?;
        if n < len {
            return Ok(corrupt(
                path,
                offset,
                format!("torn record; got {n} of {len} payload bytes"),
            ));
        }
        let got = crc32c::crc32c_append(crc32c::crc32c(&[typ]), &payload);
        if got != crc {
            return Ok(corrupt(
                path,
                offset,
                format!("checksum mismatch; got {got:#010x}; want {crc:#010x}"),
            ));
        }
        f(typ, &payload)?;
        offset += (RECORD_HEADER_LEN + len) as u64;
    }
}

fn corrupt(path: &Path, offset: u64, reason: String) -> SegmentReadEnd {
    SegmentReadEnd::Corrupt {
        error: TsdbError::corruption(path, offset, reason),
        offset,
    }
}

/// Reads until `buf` is full or EOF; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
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
