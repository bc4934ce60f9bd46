//! The appendable Gorilla-style XOR chunk the head keeps per active series.
//!
//! One writer appends; readers iterate a shared reference (or a clone). The chunk is
//! `Send + Sync` because it has no interior mutability; the head's lock decides who
//! may call [`XorChunk::append`].
//!
//! # Encoding
//!
//! ```text
//! ┌────────────────────┬─────────────────────────────────────────────────┐
//! │ count <uvarint>    │ bit stream, most significant bit first          │
//! └────────────────────┴─────────────────────────────────────────────────┘
//! sample 0:  t0 <varint, zigzag>   v0 <64 bits, raw IEEE-754>
//! sample 1:  Δ1 = t1 - t0 <uvarint, as u64>   v1 <xor value>
//! sample n≥2: dod = Δn - Δ(n-1) (wrapping, two's complement):
//!     '0'                         dod = 0
//!     '10'   + 7 bits  signed     -64 ≤ dod < 64
//!     '110'  + 14 bits signed     -8192 ≤ dod < 8192
//!     '1110' + 20 bits signed     -524288 ≤ dod < 524288
//!     '1111' + 64 bits            anything else
//!   then <xor value>
//! xor value (x = bits(v) ^ bits(previous v)):
//!     '0'                         x = 0 (same value)
//!     '10'  + sig bits            x fits the previous window: leading ≥ prev leading and
//!                                 trailing ≥ prev trailing; sig = 64 - leading - trailing
//!     '11'  + leading <5 bits> + sig <6 bits, 0 means 64> + sig bits   new window
//! the last byte is padded with zero bits.
//! ```
//!
//! Varints inside the stream are written as whole bytes through the bit writer, so they
//! need no alignment. Compared with Prometheus's XOR chunk the count is a uvarint (no
//! 65 535-sample limit) and the timestamp buckets are 7/14/20/64 bits instead of
//! 14/17/20/64: millisecond scrape jitter usually fits 7 bits (9 bits per timestamp
//! instead of 16).
//!
//! # Design constraints
//!
//! 1. Appending is O(1) amortised: the writer's state (last t, last value bits, last
//!    delta, current window, free bits in the last byte) lives in the struct; nothing is
//!    re-encoded. The count header is rewritten in place and grows by one byte only when
//!    the count crosses 2^7, 2^14, ... (a single memmove).
//! 2. Values round-trip bit-exactly: NaN payloads, the stale marker, ±Inf and -0.0 are
//!    just bit patterns to the XOR encoder.
//! 3. The struct is 56 bytes plus its buffer; the buffer grows by 25 % at a time so a
//!    typical 120-sample chunk wastes little capacity.
//! 4. Decoding never panics: [`XorChunk::from_bytes`] decodes the whole stream, checks
//!    increasing timestamps and zero padding, and rebuilds the writer state from it.
//!    Timestamp arithmetic wraps, so even `i64::MIN` followed by `i64::MAX` round-trips.

use super::varint::{unzigzag, uvarint_len, zigzag};
use crate::{Result, TsdbError};
use orrery_model::Sample;

/// Sentinel for "no value window yet" (a real leading count is at most 31).
const NO_WINDOW: u8 = 0xff;

/// An appendable XOR-compressed chunk of float samples with increasing timestamps.
#[derive(Clone, Debug)]
pub struct XorChunk {
    /// Header (count uvarint) followed by the bit stream.
    buf: Vec<u8>,
    /// Last appended timestamp.
    t: i64,
    /// Bits of the last appended value.
    v: u64,
    /// Last timestamp delta, as a wrapping u64.
    delta: u64,
    /// Number of samples.
    count: u32,
    /// Leading zeros of the current value window, or [`NO_WINDOW`].
    leading: u8,
    /// Trailing zeros of the current value window.
    trailing: u8,
    /// Unused low bits in the last byte of `buf` (0 to 7).
    free: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// An empty chunk; allocates nothing until the first append.
    pub fn new() -> Self {
        XorChunk {
            buf: Vec::new(),
            t: 0,
            v: 0,
            delta: 0,
            count: 0,
            leading: NO_WINDOW,
            trailing: 0,
            free: 0,
        }
    }

    /// Appends a sample. The caller guarantees `t` is greater than the last timestamp
    /// (debug builds check it); the chunk does not reorder or deduplicate.
    pub fn append(&mut self, t: i64, v: f64) {
        debug_assert!(
            self.count == 0 || t > self.t,
            "BUG: xor append out of order"
        );
        let vb = v.to_bits();
        match self.count {
            0 => {
                self.buf.reserve_exact(24);
                self.buf.push(0); // count, rewritten below
                self.free = 0;
                self.write_uvarint(zigzag(t));
                self.write_bits(vb, 64);
            }
            1 => {
                let delta = (t as u64).wrapping_sub(self.t as u64);
                self.write_uvarint(delta);
                self.write_value(vb);
                self.delta = delta;
            }
            _ => {
                let delta = (t as u64).wrapping_sub(self.t as u64);
                let dod = delta.wrapping_sub(self.delta) as i64;
                if dod == 0 {
                    self.write_bits(0, 1);
                } else if fits(dod, 7) {
                    self.write_bits(0b10, 2);
                    self.write_bits(dod as u64, 7);
                } else if fits(dod, 14) {
                    self.write_bits(0b110, 3);
                    self.write_bits(dod as u64, 14);
                } else if fits(dod, 20) {
                    self.write_bits(0b1110, 4);
                    self.write_bits(dod as u64, 20);
                } else {
                    self.write_bits(0b1111, 4);
                    self.write_bits(dod as u64, 64);
                }
                self.write_value(vb);
                self.delta = delta;
            }
        }
        self.t = t;
        self.v = vb;
        self.count = self.count.saturating_add(1);
        self.write_count();
    }

    /// Number of samples in the chunk.
    pub fn num_samples(&self) -> usize {
        self.count as usize
    }

    /// Timestamp of the first sample; meaningless (0) when the chunk is empty.
    pub fn min_time(&self) -> i64 {
        Self::encoded_min_time(&self.buf)
    }

    /// [`XorChunk::min_time`] of a chunk's [`XorChunk::bytes`], for a closed chunk kept
    /// as bytes alone (the writer state is useless once nothing is appended).
    pub fn encoded_min_time(bytes: &[u8]) -> i64 {
        let mut r = BitReader::new(bytes);
        // Bytes built by append or from_bytes always have a well-formed header.
        match (r.uvarint(), r.uvarint()) {
            (Ok(_), Ok(t)) => unzigzag(t),
            _ => 0,
        }
    }

    /// [`XorChunk::num_samples`] of a chunk's [`XorChunk::bytes`].
    pub fn encoded_count(bytes: &[u8]) -> usize {
        BitReader::new(bytes).uvarint().map_or(0, |n| n as usize)
    }

    /// Timestamp of the last sample; meaningless (0) when the chunk is empty.
    pub fn max_time(&self) -> i64 {
        self.t
    }

    /// The last sample, if any.
    pub fn last(&self) -> Option<Sample> {
        (self.count > 0).then(|| Sample::new(self.t, f64::from_bits(self.v)))
    }

    /// Iterates the samples in time order.
    pub fn iter(&self) -> XorIter<'_> {
        Self::iter_encoded(&self.buf)
    }

    /// [`XorChunk::iter`] over a chunk's [`XorChunk::bytes`].
    pub fn iter_encoded(bytes: &[u8]) -> XorIter<'_> {
        let mut r = BitReader::new(bytes);
        let count = if bytes.is_empty() {
            0
        } else {
            r.uvarint().unwrap_or(0)
        };
        XorIter {
            r,
            dec: Decoder::new(count),
        }
    }

    /// The encoded bytes (count header and bit stream); empty for an empty chunk.
    /// [`XorChunk::from_bytes`] accepts exactly these bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Rebuilds a chunk from [`XorChunk::bytes`], validating it by decoding every sample.
    /// Garbage, truncation, non-increasing timestamps or non-zero padding give
    /// [`TsdbError::Decode`]; the result can be appended to.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        if bytes.is_empty() {
            return Ok(Self::new());
        }
        let err = |m: &str| TsdbError::Decode(format!("xor chunk: {m}"));
        let mut r = BitReader::new(&bytes);
        let count = r.uvarint().map_err(err)?;
        if count == 0 {
            return Err(err("count is 0 but bytes follow"));
        }
        let count32 = u32::try_from(count).map_err(|_| err("count too big"))?;
        // Each sample needs at least 2 bits (sample 0 needs 72): reject absurd counts
        // before looping.
        if count > (bytes.len() as u64) * 4 {
            return Err(err("count bigger than the data can hold"));
        }
        let mut dec = Decoder::new(count);
        let mut last = None;
        let mut i = 0u64;
        while let Some(s) = dec
            .next(&mut r)
            .map_err(|e| err(&format!("sample {i}: {e}")))?
        {
            if let Some(p) = last {
                if s.t <= p {
                    return Err(err(&format!(
                        "sample {i}: timestamp {} not after previous {p}",
                        s.t
                    )));
                }
            }
            last = Some(s.t);
            i += 1;
        }
        let total = bytes.len() * 8;
        let pad = total - r.pos;
        if pad >= 8 {
            return Err(err(&format!(
                "trailing garbage: got {} bytes; want {}",
                bytes.len(),
                r.pos.div_ceil(8)
            )));
        }
        if pad > 0 {
            let mask = (1u8 << pad) - 1;
            if bytes[bytes.len() - 1] & mask != 0 {
                return Err(err("non-zero padding bits"));
            }
        }
        Ok(XorChunk {
            t: dec.t,
            v: dec.v,
            delta: dec.delta,
            count: count32,
            leading: dec.leading,
            trailing: dec.trailing,
            free: pad as u8,
            buf: bytes,
        })
    }

    /// Heap bytes held by the chunk (buffer capacity); the struct itself adds
    /// `size_of::<XorChunk>()`.
    pub fn memory_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// The encoded bytes, without spare capacity, for a chunk that is closed.
    pub fn into_bytes(self) -> Box<[u8]> {
        self.buf.into_boxed_slice()
    }

    /// Drops spare buffer capacity, for a chunk that will not be appended to again
    /// (appending still works; it just reallocates).
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    fn write_count(&mut self) {
        let n = u64::from(self.count);
        let mut head = [0u8; 10];
        let mut len = 0;
        let mut v = n;
        while v >= 0x80 {
            head[len] = (v as u8) | 0x80;
            v >>= 7;
            len += 1;
        }
        head[len] = v as u8;
        len += 1;
        let old = uvarint_len(n - 1);
        if len != old {
            // Crossing 2^7, 2^14, ...: one memmove, amortised away.
            self.buf.splice(0..old, head[..len].iter().copied());
        } else if let Some(dst) = self.buf.get_mut(..len) {
            dst.copy_from_slice(&head[..len]);
        }
    }

    fn write_value(&mut self, vb: u64) {
        let x = vb ^ self.v;
        if x == 0 {
            self.write_bits(0, 1);
            return;
        }
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != NO_WINDOW && leading >= self.leading && trailing >= self.trailing {
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.write_bits(0b10, 2);
            self.write_bits(x >> self.trailing, sig);
        } else {
            let sig = 64 - u32::from(leading) - u32::from(trailing);
            self.write_bits(0b11, 2);
            self.write_bits(u64::from(leading), 5);
            self.write_bits(u64::from(sig & 63), 6);
            self.write_bits(x >> trailing, sig);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.write_bits((v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        self.write_bits(v, 8);
    }

    /// Writes the low `n` bits of `value` (n ≤ 64), most significant first.
    fn write_bits(&mut self, value: u64, mut n: u32) {
        while n > 0 {
            if self.free == 0 {
                if self.buf.len() == self.buf.capacity() {
                    // Grow by 25 % (at least 8 bytes): amortised O(1) with little slack.
                    self.buf.reserve_exact((self.buf.len() / 4).max(8));
                }
                self.buf.push(0);
                self.free = 8;
            }
            let take = n.min(u32::from(self.free));
            let bits = ((value >> (n - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.buf.last_mut() {
                *last |= bits << (u32::from(self.free) - take);
            }
            self.free -= take as u8;
            n -= take;
        }
    }
}

/// True if `x` fits in an `n`-bit two's complement field.
fn fits(x: i64, n: u32) -> bool {
    let half = 1i64 << (n - 1);
    (-half..half).contains(&x)
}

/// Sign-extends the low `n` bits of `bits`.
fn sign_extend(bits: u64, n: u32) -> i64 {
    ((bits << (64 - n)) as i64) >> (64 - n)
}

/// Iterator over a chunk's samples, in time order.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    r: BitReader<'a>,
    dec: Decoder,
}

impl Iterator for XorIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        // The bytes were produced by append or validated by from_bytes, so a decode
        // error here is a bug; stop rather than panic.
        match self.dec.next(&mut self.r) {
            Ok(s) => s,
            Err(e) => {
                debug_assert!(false, "BUG: invalid xor chunk while iterating: {e}");
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.dec.count - self.dec.i) as usize;
        (n, Some(n))
    }
}

/// Decoding state shared by the iterator and `from_bytes`.
#[derive(Debug, Clone)]
struct Decoder {
    count: u64,
    i: u64,
    t: i64,
    v: u64,
    delta: u64,
    leading: u8,
    trailing: u8,
}

impl Decoder {
    fn new(count: u64) -> Self {
        Decoder {
            count,
            i: 0,
            t: 0,
            v: 0,
            delta: 0,
            leading: NO_WINDOW,
            trailing: 0,
        }
    }

    fn next(&mut self, r: &mut BitReader<'_>) -> Result<Option<Sample>, &'static str> {
        if self.i >= self.count {
            return Ok(None);
        }
        match self.i {
            0 => {
                self.t = unzigzag(r.uvarint()?);
                self.v = r.bits(64)?;
            }
            1 => {
                self.delta = r.uvarint()?;
                self.t = (self.t as u64).wrapping_add(self.delta) as i64;
                self.read_value(r)?;
            }
            _ => {
                let dod = if !r.bit()? {
                    0
                } else if !r.bit()? {
                    sign_extend(r.bits(7)?, 7)
                } else if !r.bit()? {
                    sign_extend(r.bits(14)?, 14)
                } else if !r.bit()? {
                    sign_extend(r.bits(20)?, 20)
                } else {
                    r.bits(64)? as i64
                };
                self.delta = self.delta.wrapping_add(dod as u64);
                self.t = (self.t as u64).wrapping_add(self.delta) as i64;
                self.read_value(r)?;
            }
        }
        self.i += 1;
        Ok(Some(Sample::new(self.t, f64::from_bits(self.v))))
    }

    fn read_value(&mut self, r: &mut BitReader<'_>) -> Result<(), &'static str> {
        if !r.bit()? {
            return Ok(());
        }
        if !r.bit()? {
            if self.leading == NO_WINDOW {
                return Err("value reuses a window before one was set");
            }
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.v ^= r.bits(sig)? << self.trailing;
            return Ok(());
        }
        let leading = r.bits(5)? as u32;
        let mut sig = r.bits(6)? as u32;
        if sig == 0 {
            sig = 64;
        }
        if leading + sig > 64 {
            return Err("value window wider than 64 bits");
        }
        let trailing = 64 - leading - sig;
        self.v ^= r.bits(sig)? << trailing;
        self.leading = leading as u8;
        self.trailing = trailing as u8;
        Ok(())
    }
}

/// Checked MSB-first bit reader.
#[derive(Debug, Clone)]
struct BitReader<'a> {
    buf: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        BitReader { buf, pos: 0 }
    }

    fn bit(&mut self) -> Result<bool, &'static str> {
        let b = *self
            .buf
            .get(self.pos / 8)
            .ok_or("unexpected end of chunk")?;
        let bit = (b >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// Reads `n` bits (1 to 64), most significant first.
    fn bits(&mut self, mut n: u32) -> Result<u64, &'static str> {
        if self.pos + n as usize > self.buf.len() * 8 {
            return Err("unexpected end of chunk");
        }
        let mut v: u64 = 0;
        while n > 0 {
            let byte = self.buf[self.pos / 8];
            let avail = 8 - (self.pos % 8) as u32;
            let take = n.min(avail);
            let bits = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            v = if take == 64 { bits } else { (v << take) | bits };
            self.pos += take as usize;
            n -= take;
        }
        Ok(v)
    }

    fn uvarint(&mut self) -> Result<u64, &'static str> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.bits(8)?;
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits");
            }
            v |= (b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("varint overflows 64 bits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_model::STALE_NAN;

    /// Small deterministic PRNG (xorshift64*), so the property tests need no dependency
    /// and failures reproduce from the printed seed.
    pub(crate) struct Rng(u64);
    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn chunk_of(samples: &[Sample]) -> XorChunk {
        let mut c = XorChunk::new();
        for s in samples {
            c.append(s.t, s.v);
        }
        c
    }

    fn assert_round_trip(samples: &[Sample], seed: u64) {
        let c = chunk_of(samples);
        assert_eq!(c.num_samples(), samples.len(), "seed {seed}");
        let got: Vec<Sample> = c.iter().collect();
        assert_eq!(got.len(), samples.len(), "seed {seed}");
        for (i, (a, b)) in got.iter().zip(samples).enumerate() {
            assert!(a.bit_eq(b), "seed {seed} sample {i}: got {a:?}; want {b:?}");
        }
        if let (Some(f), Some(l)) = (samples.first(), samples.last()) {
            assert_eq!(c.min_time(), f.t, "seed {seed}");
            assert_eq!(c.max_time(), l.t, "seed {seed}");
            assert!(c.last().unwrap().bit_eq(l), "seed {seed}");
        }
        // Rebuilding from bytes gives the same chunk, and appending to it continues it.
        let mut r = XorChunk::from_bytes(c.bytes().to_vec()).expect("valid bytes");
        assert_eq!(r.bytes(), c.bytes(), "seed {seed}");
        let mut c2 = c.clone();
        let next_t = samples.last().map_or(0, |s| s.t.saturating_add(15_000));
        if samples.last().is_none_or(|s| s.t < next_t) {
            r.append(next_t, 0.25);
            c2.append(next_t, 0.25);
            assert_eq!(
                r.bytes(),
                c2.bytes(),
                "seed {seed}: append after from_bytes differs"
            );
        }
    }

    fn random_value(rng: &mut Rng, prev: f64) -> f64 {
        match rng.below(12) {
            0 => f64::NAN,
            1 => STALE_NAN,
            2 => f64::from_bits(0x7ff8_0000_dead_beef), // NaN with a payload
            3 => f64::INFINITY,
            4 => f64::NEG_INFINITY,
            5 => -0.0,
            6 => f64::from_bits(rng.next()),
            7 | 8 => prev,
            9 => prev + rng.below(100) as f64,
            10 => (rng.below(1_000_000) as f64) / 1000.0,
            _ => rng.below(1 << 40) as f64,
        }
    }

    #[test]
    fn random_samples_round_trip_bit_exactly() {
        for seed in 0..300u64 {
            let mut rng = Rng::new(seed);
            let n = rng.below(400) as usize;
            let mut t = match rng.below(4) {
                0 => -(rng.below(1 << 50) as i64),
                1 => i64::MIN + rng.below(1000) as i64,
                _ => 1_700_000_000_000 + rng.below(1 << 20) as i64,
            };
            let mut v = 0.0;
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                samples.push(Sample::new(t, v));
                let step = match rng.below(10) {
                    0 => 1 + rng.below(1 << 40) as i64, // a big gap
                    1 => 1,
                    2 => 1 + rng.below(1_000_000) as i64,
                    _ => 15_000 + rng.below(200) as i64 - 100, // jittered scrape
                };
                t = match t.checked_add(step) {
                    Some(t) => t,
                    None => break,
                };
                v = random_value(&mut rng, v);
            }
            // Values were pushed one step behind their generation; shift them so the
            // first sample also gets random bits sometimes.
            if let Some(s) = samples.first_mut() {
                s.v = random_value(&mut rng, 1.0);
            }
            assert_round_trip(&samples, seed);
        }
    }

    #[test]
    fn special_values_round_trip_bit_exactly() {
        let specials = [
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            STALE_NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::from_bits(0xfff8_1234_5678_9abc),
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::from_bits(1), // smallest subnormal
            f64::MAX,
            f64::MIN,
            1.0,
        ];
        let samples: Vec<Sample> = specials
            .iter()
            .enumerate()
            .map(|(i, v)| Sample::new(i as i64 * 1000 - 5000, *v))
            .collect();
        assert_round_trip(&samples, 0);
    }

    #[test]
    fn extreme_timestamps_round_trip_with_wrapping_deltas() {
        let samples = [
            Sample::new(i64::MIN, 1.0),
            Sample::new(i64::MIN + 1, 2.0),
            Sample::new(0, 3.0),
            Sample::new(i64::MAX - 1, 4.0),
            Sample::new(i64::MAX, 5.0),
        ];
        assert_round_trip(&samples, 0);
        let two = [Sample::new(i64::MIN, 1.0), Sample::new(i64::MAX, 2.0)];
        assert_round_trip(&two, 0);
    }

    #[test]
    fn every_timestamp_bucket_boundary_round_trips() {
        let mut samples = vec![Sample::new(0, 0.0), Sample::new(1_000_000, 0.0)];
        let mut delta: i64 = 1_000_000;
        for dod in [
            0,
            63,
            -64,
            64,
            -65,
            8191,
            -8192,
            8192,
            -8193,
            524_287,
            -524_288,
            524_288,
            -524_289,
            1 << 40,
        ] {
            delta += dod;
            let t = samples.last().unwrap().t + delta;
            samples.push(Sample::new(t, 1.0));
        }
        assert_round_trip(&samples, 0);
    }

    #[test]
    fn counts_past_varint_boundaries_round_trip() {
        let samples: Vec<Sample> = (0..20_000)
            .map(|i| Sample::new(i * 15_000 + (i % 7), (i / 3) as f64))
            .collect();
        for n in [0, 1, 2, 3, 127, 128, 129, 16383, 16384, 16385, 20_000] {
            assert_round_trip(&samples[..n], n as u64);
        }
    }

    #[test]
    fn constant_regular_series_costs_about_two_bits_per_sample() {
        let samples: Vec<Sample> = (0..120).map(|i| Sample::new(i * 15_000, 1.0)).collect();
        let c = chunk_of(&samples);
        // 1 count + 6 t0 + 8 v0 + 3 Δ1 + 118 samples × 2 bits + 1 bit ≈ 48 bytes.
        assert!(c.bytes().len() <= 50, "got {} bytes", c.bytes().len());
        assert!(c.memory_bytes() < 80, "got {} bytes", c.memory_bytes());
        let mut c = c;
        c.shrink_to_fit();
        assert_eq!(c.memory_bytes(), c.bytes().len());
        c.append(120 * 15_000, 1.0);
        assert_eq!(c.num_samples(), 121);
    }

    #[test]
    fn struct_overhead_stays_small() {
        assert!(std::mem::size_of::<XorChunk>() <= 56);
        assert_eq!(XorChunk::new().memory_bytes(), 0);
    }

    #[test]
    fn empty_chunk_has_no_bytes_and_no_samples() {
        let c = XorChunk::default();
        assert_eq!(c.num_samples(), 0);
        assert!(c.last().is_none());
        assert_eq!(c.iter().count(), 0);
        assert!(c.bytes().is_empty());
        let r = XorChunk::from_bytes(Vec::new()).unwrap();
        assert_eq!(r.num_samples(), 0);
    }

    #[test]
    fn from_bytes_rejects_every_truncation() {
        let mut rng = Rng::new(7);
        let mut v = 0.0;
        let samples: Vec<Sample> = (0..200)
            .map(|i| {
                v = random_value(&mut rng, v);
                Sample::new(i * 15_000 + rng.below(50) as i64, v)
            })
            .collect();
        let c = chunk_of(&samples);
        let b = c.bytes();
        for n in 1..b.len() {
            let r = XorChunk::from_bytes(b[..n].to_vec());
            assert!(
                matches!(r, Err(TsdbError::Decode(_))),
                "truncated to {n} of {} bytes: {r:?}",
                b.len()
            );
        }
    }

    #[test]
    fn from_bytes_rejects_trailing_garbage_and_dirty_padding() {
        let c = chunk_of(&[
            Sample::new(1, 1.0),
            Sample::new(2, 2.0),
            Sample::new(3, 2.0),
        ]);
        let mut b = c.bytes().to_vec();
        b.push(0);
        assert!(XorChunk::from_bytes(b).is_err());
        let mut b = c.bytes().to_vec();
        if c.free > 0 {
            *b.last_mut().unwrap() |= 1;
            assert!(XorChunk::from_bytes(b).is_err());
        }
        assert!(XorChunk::from_bytes(vec![0]).is_err());
    }

    #[test]
    fn from_bytes_on_random_garbage_never_panics() {
        let mut rng = Rng::new(99);
        for _ in 0..20_000 {
            let len = rng.below(64) as usize;
            let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if let Ok(c) = XorChunk::from_bytes(b) {
                // Whatever was accepted must iterate consistently.
                assert_eq!(c.iter().count(), c.num_samples());
            }
        }
        // Bit flips in a valid chunk: an error or a chunk that iterates fully.
        let samples: Vec<Sample> = (0..100)
            .map(|i| Sample::new(i * 15_000, (i * i) as f64))
            .collect();
        let good = chunk_of(&samples).bytes().to_vec();
        for i in 0..good.len() * 8 {
            let mut b = good.clone();
            b[i / 8] ^= 1 << (i % 8);
            if let Ok(c) = XorChunk::from_bytes(b) {
                assert_eq!(c.iter().count(), c.num_samples());
            }
        }
    }
}
