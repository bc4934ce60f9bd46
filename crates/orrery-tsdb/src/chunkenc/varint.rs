//! Little helpers for the byte-level encodings shared by chunk and block formats:
//! LEB128 unsigned varints ("uvarint"), zigzag signed varints and little-endian
//! fixed-width integers, with a checked cursor that never panics on short input.
//!
//! Pure functions; no I/O, no shared state.

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
pub fn put_uvarint(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

/// Appends `v` zigzag-encoded as an unsigned varint, so small negatives stay short.
pub fn put_varint(dst: &mut Vec<u8>, v: i64) {
    put_uvarint(dst, zigzag(v));
}

/// Maps signed to unsigned so that values near zero get small codes.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Number of bytes [`put_uvarint`] writes for `v`.
pub fn uvarint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// A read cursor over bytes. Every read is checked: running past the end or an
/// overlong varint returns `Err` with a static reason, never panics.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Reads one unsigned varint.
    pub fn uvarint(&mut self) -> Result<u64, &'static str> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or("unexpected end of data in varint")?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits");
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("varint overflows 64 bits")
    }

    /// Reads a zigzag varint.
    pub fn varint(&mut self) -> Result<i64, &'static str> {
        self.uvarint().map(unzigzag)
    }

    /// Reads an unsigned varint that must fit `usize` and be at most `max`.
    pub fn uvarint_usize(&mut self, max: usize) -> Result<usize, &'static str> {
        let v = self.uvarint()?;
        if v > max as u64 {
            return Err("length or count too big for the data that follows");
        }
        Ok(v as usize)
    }

    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("length overflows")?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or("unexpected end of data")?;
        self.pos = end;
        Ok(s)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.bytes(1)?[0])
    }

    /// Reads a little-endian `u32`.
    pub fn u32le(&mut self) -> Result<u32, &'static str> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a little-endian `u64`.
    pub fn u64le(&mut self) -> Result<u64, &'static str> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_round_trips_edge_values() {
        for v in [
            0,
            1,
            127,
            128,
            16383,
            16384,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), uvarint_len(v));
            let mut c = Cursor::new(&b);
            assert_eq!(c.uvarint().unwrap(), v);
            assert_eq!(c.remaining(), 0);
        }
    }

    #[test]
    fn zigzag_round_trips_extremes() {
        for v in [0, 1, -1, 63, -64, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn truncated_or_overlong_varint_is_an_error() {
        assert!(Cursor::new(&[0x80]).uvarint().is_err());
        assert!(Cursor::new(&[0xff; 11]).uvarint().is_err());
        assert!(
            Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .uvarint()
                .is_err()
        );
        assert!(Cursor::new(&[1, 2]).u32le().is_err());
    }
}
