//! The ack checkpoint: the consumer position plus the records already acknowledged
//! beyond it, encoded as one small file that is replaced atomically
//! (layout in `docs/formats/queue.md`). Pure encode/decode; no I/O.

use super::error::QueueError;
use super::segment::{check_header, file_header, ACK_MAGIC, FILE_HEADER_LEN};
use super::Pos;
use std::path::Path;

/// Bytes of the fixed part: header, watermark, count, and the trailing CRC.
pub const FIXED_LEN: usize = FILE_HEADER_LEN as usize + 16 + 4 + 4;

/// Decoded checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckCheckpoint {
    /// First record not known to be acknowledged; everything before it is.
    pub watermark: Pos,
    /// Records after the watermark that are acknowledged, strictly increasing.
    pub acked: Vec<Pos>,
}

impl AckCheckpoint {
    /// Appends the encoded file to `dst`.
    pub fn encode_into(&self, dst: &mut Vec<u8>) {
        let start = dst.len();
        dst.extend_from_slice(&file_header(ACK_MAGIC));
        dst.extend_from_slice(&self.watermark.segment.to_le_bytes());
        dst.extend_from_slice(&self.watermark.offset.to_le_bytes());
        dst.extend_from_slice(&(self.acked.len() as u32).to_le_bytes());
        for p in &self.acked {
            dst.extend_from_slice(&p.segment.to_le_bytes());
            dst.extend_from_slice(&p.offset.to_le_bytes());
        }
        let crc = crc32c::crc32c(&dst[start..]);
        dst.extend_from_slice(&crc.to_le_bytes());
    }

    /// Decodes a whole checkpoint file and validates it.
    pub fn decode(path: &Path, src: &[u8]) -> Result<AckCheckpoint, QueueError> {
        check_header(path, ACK_MAGIC, src)?;
        let bad =
            |offset: usize, detail: String| QueueError::corruption(path, offset as u64, detail);
        if src.len() < FIXED_LEN {
            return Err(bad(
                0,
                format!(
                    "short ack checkpoint; got {} bytes; want at least {FIXED_LEN}",
                    src.len()
                ),
            ));
        }
        let (data, crc) = src.split_at(src.len() - 4);
        let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let got = crc32c::crc32c(data);
        if got != want {
            return Err(bad(
                data.len(),
                format!("checksum mismatch; got {got:#010x}; want {want:#010x}"),
            ));
        }
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&data[o..o + 8]);
            u64::from_le_bytes(b)
        };
        let h = FILE_HEADER_LEN as usize;
        let watermark = Pos {
            segment: u64_at(h),
            offset: u64_at(h + 8),
        };
        let n =
            u32::from_le_bytes([data[h + 16], data[h + 17], data[h + 18], data[h + 19]]) as usize;
        let want_len = FIXED_LEN + n * 16;
        if src.len() != want_len {
            return Err(bad(
                h + 16,
                format!(
                    "ack checkpoint length; got {}; want {want_len} for {n} entries",
                    src.len()
                ),
            ));
        }
        let mut acked = Vec::with_capacity(n);
        let mut prev = watermark;
        for i in 0..n {
            let o = h + 20 + i * 16;
            let p = Pos {
                segment: u64_at(o),
                offset: u64_at(o + 8),
            };
            if p <= prev {
                return Err(bad(
                    o,
                    format!("acked positions not increasing; got {p}; want after {prev}"),
                ));
            }
            acked.push(p);
            prev = p;
        }
        Ok(AckCheckpoint { watermark, acked })
    }
}
