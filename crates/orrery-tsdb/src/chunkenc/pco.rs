//! The sealed-block chunk encoding: a batch of samples compressed column-wise with the
//! `pco` crate (timestamps as an `i64` column, values as an `f64` column).
//!
//! Pure code; no I/O, no shared state. Not appendable: the head uses [`super::xor`]
//! and blocks re-encode whole chunks with this module when they are written.
//!
//! # Encoding
//!
//! ```text
//! ┌────────────────┬───────────────────────┬──────────────────────────┬──────────────────────────┐
//! │ count <uvarint>│ pco version <2 bytes> │ t column <pco chunk>     │ v column <pco chunk>     │
//! └────────────────┴───────────────────────┴──────────────────────────┴──────────────────────────┘
//! ```
//!
//! `count = 0` ends the encoding right after the count. Otherwise the pco parts are
//! pco's *wrapped* format: the 2-byte format version that `pco::wrapped::FileCompressor`
//! writes, then for each column a chunk (metadata and exactly one page of `count`
//! numbers). The columns carry no length: pco's reader stops at the end of its page.
//! Each chunk is self-describing (pco stores its own mode and delta encoding), so the
//! configuration below can change without a format change.
//!
//! # Design constraints
//!
//! 1. Values round-trip bit-exactly. pco's float handling is a bijection on bit patterns,
//!    so NaN payloads, the stale marker, ±Inf and -0.0 survive; the tests check it for
//!    every pco mode, so the values column can stay `f64` (which lets pco find decimal
//!    and multiplier structure) instead of raw `u64` bits.
//! 2. Configuration, chosen by `examples/codec_study.rs` (numbers in
//!    `docs/formats/block.md`): compression level [`LEVEL`] (4 and 12 are within 1 %);
//!    timestamps with first-order deltas ([`TS_DELTA`], what pco's automatic choice also
//!    picks: second-order deltas double the variance of scrape jitter and cost 6 % more);
//!    values with pco's automatic mode and delta detection.
//! 3. [`decode`] never panics and refuses more than [`MAX_SAMPLES`] samples, so a bad
//!    count cannot make it allocate without bound.

use super::varint::{put_uvarint, Cursor};
use crate::{Result, TsdbError};
use ::pco::wrapped::{FileCompressor, FileDecompressor};
use ::pco::{ChunkConfig, DeltaSpec, PagingSpec};
use orrery_model::Sample;

/// The most samples one encoded chunk may hold; [`decode`] refuses bigger counts.
pub const MAX_SAMPLES: usize = 1 << 20;

/// pco compression level used by [`encode`] (0 to 12).
pub const LEVEL: usize = 4;

/// Timestamp delta encoding used by [`encode`].
pub const TS_DELTA: TsDelta = TsDelta::First;

/// How to delta-encode the timestamp column; [`encode`] uses [`TS_DELTA`].
/// Exposed so the codec study can compare the choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsDelta {
    /// Let pco choose.
    Auto,
    /// First-order deltas.
    First,
    /// Second-order deltas (delta of delta).
    Second,
}

/// Appends `samples` (at most [`MAX_SAMPLES`], sorted by `t`) to `dst` with the
/// chosen configuration.
pub fn encode(samples: &[Sample], dst: &mut Vec<u8>) {
    encode_with(samples, dst, LEVEL, TS_DELTA);
}

/// [`encode`] with an explicit level and timestamp delta choice; the output is
/// decodable by [`decode`] whatever the choice. For measurements.
pub fn encode_with(samples: &[Sample], dst: &mut Vec<u8>, level: usize, ts_delta: TsDelta) {
    debug_assert!(samples.len() <= MAX_SAMPLES, "BUG: pco chunk too big");
    put_uvarint(dst, samples.len() as u64);
    if samples.is_empty() {
        return;
    }
    let ts: Vec<i64> = samples.iter().map(|s| s.t).collect();
    let vs: Vec<f64> = samples.iter().map(|s| s.v).collect();
    let page = PagingSpec::Exact(vec![samples.len()]);
    let delta = match ts_delta {
        TsDelta::Auto => DeltaSpec::Auto,
        TsDelta::First => DeltaSpec::TryConsecutive(1),
        TsDelta::Second => DeltaSpec::TryConsecutive(2),
    };
    let ts_cfg = ChunkConfig::default()
        .with_compression_level(level)
        .with_delta_spec(delta)
        .with_paging_spec(page.clone());
    let vs_cfg = ChunkConfig::default()
        .with_compression_level(level)
        .with_paging_spec(page);
    // pco only fails on invalid configuration or a failing writer; a Vec never fails
    // and the configuration above is valid for any non-empty input, so an error here
    // is a bug in this function.
    let res = (|| -> ::pco::errors::PcoResult<()> {
        let fc = FileCompressor::default();
        fc.write_header(&mut *dst)?;
        write_column(&fc, &ts, &ts_cfg, dst)?;
        write_column(&fc, &vs, &vs_cfg, dst)
    })();
    if let Err(e) = res {
        debug_assert!(false, "BUG: pco compression failed: {e}");
    }
}

/// Appends one column as a pco chunk of a single page.
fn write_column<T: ::pco::data_types::Number>(
    fc: &FileCompressor,
    nums: &[T],
    cfg: &ChunkConfig,
    dst: &mut Vec<u8>,
) -> ::pco::errors::PcoResult<()> {
    let mut cc = fc.chunk_compressor(nums, cfg)?;
    cc.write_meta(&mut *dst)?;
    cc.write_page(0, &mut *dst)?;
    Ok(())
}

/// Flag of [`encode_columns`]: timestamps are `t0 + i * delta`.
const REGULAR_TS: u8 = 1;
/// Flag of [`encode_columns`]: every value has the same bits.
const CONSTANT_VALUES: u8 = 2;

/// The block chunk encoding 2: like [`encode`], but a column that is trivial is not
/// given to pco — timestamps at a constant interval are stored as `t0` and the delta,
/// values that are all bit-identical as one value. Scraped series are usually regular,
/// and many are constant (`up`, info metrics), so this halves pco's work or skips it.
/// Layout: `count <uvarint> | flags <1b> | [t0 <varint> delta <varint>] |
/// [value <u64le>] | [pco header | ts column] | [values column]`.
pub fn encode_columns(samples: &[Sample], dst: &mut Vec<u8>) {
    debug_assert!(samples.len() <= MAX_SAMPLES, "BUG: pco chunk too big");
    put_uvarint(dst, samples.len() as u64);
    if samples.is_empty() {
        return;
    }
    let t0 = samples[0].t;
    let delta = if samples.len() > 1 {
        samples[1].t.wrapping_sub(t0)
    } else {
        0
    };
    let regular = samples
        .iter()
        .enumerate()
        .all(|(i, s)| s.t == t0.wrapping_add(delta.wrapping_mul(i as i64)));
    let v0 = samples[0].v.to_bits();
    let constant = samples.iter().all(|s| s.v.to_bits() == v0);
    let mut flags = 0u8;
    if regular {
        flags |= REGULAR_TS;
    }
    if constant {
        flags |= CONSTANT_VALUES;
    }
    dst.push(flags);
    if regular {
        crate::chunkenc::varint::put_varint(dst, t0);
        crate::chunkenc::varint::put_varint(dst, delta);
    }
    if constant {
        dst.extend_from_slice(&v0.to_le_bytes());
    }
    if regular && constant {
        return;
    }
    let page = PagingSpec::Exact(vec![samples.len()]);
    let res = (|| -> ::pco::errors::PcoResult<()> {
        let fc = FileCompressor::default();
        fc.write_header(&mut *dst)?;
        if !regular {
            let ts: Vec<i64> = samples.iter().map(|s| s.t).collect();
            let cfg = ChunkConfig::default()
                .with_compression_level(LEVEL)
                .with_delta_spec(DeltaSpec::TryConsecutive(1))
                .with_paging_spec(page.clone());
            write_column(&fc, &ts, &cfg, dst)?;
        }
        if !constant {
            let vs: Vec<f64> = samples.iter().map(|s| s.v).collect();
            let cfg = ChunkConfig::default()
                .with_compression_level(LEVEL)
                .with_paging_spec(page);
            write_column(&fc, &vs, &cfg, dst)?;
        }
        Ok(())
    })();
    if let Err(e) = res {
        debug_assert!(false, "BUG: pco compression failed: {e}");
    }
}

/// Decodes one chunk written by [`encode_columns`]; trailing bytes are an error.
pub fn decode_columns(src: &[u8]) -> Result<Vec<Sample>> {
    decode_columns_padded(src, 0)
}

/// Bytes after a chunk that let pco read it in place. pco asks for up to a batch of
/// latents' worth of readable bytes (256 values at up to 18 bytes each) ahead of where
/// it is; when the input ends sooner, it copies the rest of it into a fresh zeroed
/// buffer, for every column of every chunk. A reader that leaves this many bytes (of
/// any value: pco never uses the bits past the chunk's end) after a chunk avoids that.
pub const DECODE_PADDING: usize = 8192;

/// [`decode_columns`] for a chunk followed by exactly `tail` bytes that are not part of
/// it (padding, see [`DECODE_PADDING`]): the chunk must end exactly there.
pub fn decode_columns_padded(src: &[u8], tail: usize) -> Result<Vec<Sample>> {
    // The chunk must end exactly where the tail starts.
    let check_end = |rest: usize| match rest.checked_sub(tail) {
        Some(0) => Ok(()),
        Some(extra) => Err(err(format!("{extra} trailing bytes after chunk"))),
        None => Err(err("chunk data runs past its end".to_string())),
    };
    let mut c = Cursor::new(src);
    let n = c
        .uvarint_usize(MAX_SAMPLES)
        .map_err(|e| err(format!("count: {e}")))?;
    if n == 0 {
        check_end(c.remaining())?;
        return Ok(Vec::new());
    }
    let flags = c.u8().map_err(|e| err(format!("flags: {e}")))?;
    if flags & !(REGULAR_TS | CONSTANT_VALUES) != 0 {
        return Err(err(format!("unknown flags {flags:#04x}")));
    }
    let mut ts = vec![0i64; n];
    let mut vs = vec![0f64; n];
    if flags & REGULAR_TS != 0 {
        let t0 = c.varint().map_err(|e| err(format!("t0: {e}")))?;
        let delta = c.varint().map_err(|e| err(format!("delta: {e}")))?;
        if n > 1 && delta <= 0 {
            return Err(err(format!(
                "regular timestamps must increase; got delta {delta}"
            )));
        }
        for (i, t) in ts.iter_mut().enumerate() {
            *t = t0.wrapping_add(delta.wrapping_mul(i as i64));
        }
    }
    if flags & CONSTANT_VALUES != 0 {
        let v = f64::from_bits(c.u64le().map_err(|e| err(format!("value: {e}")))?);
        vs.iter_mut().for_each(|x| *x = v);
    }
    let mut rest = &src[c.pos()..];
    if flags != REGULAR_TS | CONSTANT_VALUES {
        let (fd, r) = FileDecompressor::new(rest).map_err(|e| err(format!("pco header: {e}")))?;
        rest = r;
        if flags & REGULAR_TS == 0 {
            rest = read_column(&fd, rest, &mut ts).map_err(|e| err(format!("timestamps: {e}")))?;
        }
        if flags & CONSTANT_VALUES == 0 {
            rest = read_column(&fd, rest, &mut vs).map_err(|e| err(format!("values: {e}")))?;
        }
    }
    check_end(rest.len())?;
    if !ts.windows(2).all(|w| w[0] < w[1]) {
        return Err(err("timestamps are not strictly increasing".to_string()));
    }
    Ok(ts
        .into_iter()
        .zip(vs)
        .map(|(t, v)| Sample::new(t, v))
        .collect())
}

/// Decodes one chunk written by [`encode`]. The input must be exactly one chunk:
/// trailing bytes are an error, as are truncation and anything pco rejects.
pub fn decode(src: &[u8]) -> Result<Vec<Sample>> {
    let (samples, rest) = decode_prefix(src)?;
    if !rest.is_empty() {
        return Err(err(format!("{} trailing bytes after chunk", rest.len())));
    }
    Ok(samples)
}

/// Decodes one chunk from the front of `src` and returns the unread tail.
pub fn decode_prefix(src: &[u8]) -> Result<(Vec<Sample>, &[u8])> {
    let mut c = Cursor::new(src);
    let n = c
        .uvarint_usize(MAX_SAMPLES)
        .map_err(|e| err(format!("count: {e}")))?;
    let rest = &src[c.pos()..];
    if n == 0 {
        return Ok((Vec::new(), rest));
    }
    let (fd, rest) = FileDecompressor::new(rest).map_err(|e| err(format!("pco header: {e}")))?;
    let mut ts = vec![0i64; n];
    let rest = read_column(&fd, rest, &mut ts).map_err(|e| err(format!("timestamps: {e}")))?;
    let mut vs = vec![0f64; n];
    let rest = read_column(&fd, rest, &mut vs).map_err(|e| err(format!("values: {e}")))?;
    let samples: Vec<Sample> = ts
        .into_iter()
        .zip(vs)
        .map(|(t, v)| Sample::new(t, v))
        .collect();
    if let Some(i) = samples.windows(2).position(|w| w[1].t <= w[0].t) {
        return Err(err(format!(
            "timestamps not increasing at sample {}: {} after {}",
            i + 1,
            samples[i + 1].t,
            samples[i].t
        )));
    }
    Ok((samples, rest))
}

fn read_column<'a, T: ::pco::data_types::Number>(
    fd: &FileDecompressor,
    src: &'a [u8],
    dst: &mut [T],
) -> Result<&'a [u8], String> {
    let (mut cd, rest) = fd
        .chunk_decompressor::<T, _>(src)
        .map_err(|e| e.to_string())?;
    let mut pd = cd
        .page_decompressor(rest, dst.len())
        .map_err(|e| e.to_string())?;
    let progress = pd.read(dst).map_err(|e| e.to_string())?;
    if progress.n_processed != dst.len() || !progress.finished {
        return Err(format!(
            "page ended early: got {} numbers; want {}",
            progress.n_processed,
            dst.len()
        ));
    }
    Ok(pd.into_src())
}

fn err(m: String) -> TsdbError {
    TsdbError::Decode(format!("pco chunk: {m}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_model::STALE_NAN;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    fn assert_round_trip(samples: &[Sample], ts_delta: TsDelta, level: usize) {
        let mut b = vec![0xAA]; // encode appends: keep a prefix to prove it
        encode_with(samples, &mut b, level, ts_delta);
        assert_eq!(b[0], 0xAA);
        let got = decode(&b[1..]).expect("decodes");
        assert_eq!(got.len(), samples.len());
        for (i, (g, w)) in got.iter().zip(samples).enumerate() {
            assert!(g.bit_eq(w), "sample {i}: got {g:?}; want {w:?}");
        }
    }

    fn specials_mixed_into_decimals(n: usize, seed: u64) -> Vec<Sample> {
        let mut r = rng(seed);
        let specials = [
            STALE_NAN,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::from_bits(1),
            f64::MAX,
        ];
        let mut t = 1_700_000_000_000i64;
        (0..n)
            .map(|i| {
                t += 15_000 + (r() % 40) as i64 - 20;
                let v = if r().is_multiple_of(7) {
                    specials[(r() % specials.len() as u64) as usize]
                } else {
                    (i as f64 * 0.1).round() / 10.0
                };
                Sample::new(t, v)
            })
            .collect()
    }

    #[test]
    fn special_values_round_trip_bit_exactly_with_every_setting() {
        for seed in 0..5 {
            for n in [1, 2, 3, 120, 1000] {
                let s = specials_mixed_into_decimals(n, seed);
                for d in [TsDelta::Auto, TsDelta::First, TsDelta::Second] {
                    for level in [0, 4, 8, 12] {
                        assert_round_trip(&s, d, level);
                    }
                }
            }
        }
    }

    #[test]
    fn random_bits_and_extreme_timestamps_round_trip() {
        let mut r = rng(3);
        let s: Vec<Sample> = (0..500)
            .map(|i| Sample::new(i64::MIN + i * (1 << 50), f64::from_bits(r())))
            .collect();
        assert_round_trip(&s, TsDelta::Second, LEVEL);
        let s = [Sample::new(i64::MIN, 1.0), Sample::new(i64::MAX, -1.0)];
        assert_round_trip(&s, TsDelta::Second, LEVEL);
        assert_round_trip(&s, TsDelta::First, LEVEL);
    }

    #[test]
    fn empty_input_encodes_to_a_single_zero_byte() {
        let mut b = Vec::new();
        encode(&[], &mut b);
        assert_eq!(b, [0]);
        assert!(decode(&b).unwrap().is_empty());
    }

    #[test]
    fn truncated_chunk_is_a_decode_error() {
        let s = specials_mixed_into_decimals(300, 1);
        let mut b = Vec::new();
        encode(&s, &mut b);
        for n in 0..b.len() {
            assert!(
                matches!(decode(&b[..n]), Err(TsdbError::Decode(_))),
                "truncated to {n}"
            );
        }
        let mut long = b.clone();
        long.push(0);
        assert!(decode(&long).is_err());
    }

    #[test]
    fn corrupt_chunk_never_panics() {
        let s = specials_mixed_into_decimals(200, 2);
        let mut good = Vec::new();
        encode(&s, &mut good);
        for i in 0..good.len() * 8 {
            let mut b = good.clone();
            b[i / 8] ^= 1 << (i % 8);
            let _ = decode(&b);
        }
        let mut r = rng(9);
        for _ in 0..5000 {
            let len = (r() % 80) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| r() as u8).collect();
            if let Some(x) = b.first_mut() {
                *x &= 0x7f; // a plausible small count
            }
            let _ = decode(&b);
        }
    }

    #[test]
    fn oversized_count_is_refused_before_allocating() {
        let mut b = Vec::new();
        put_uvarint(&mut b, (MAX_SAMPLES + 1) as u64);
        assert!(decode(&b).is_err());
        let mut b = Vec::new();
        put_uvarint(&mut b, u64::MAX);
        assert!(decode(&b).is_err());
    }

    #[test]
    fn decode_prefix_returns_the_tail() {
        let s = specials_mixed_into_decimals(50, 4);
        let mut b = Vec::new();
        encode(&s, &mut b);
        encode(&s[..10], &mut b);
        let (a, rest) = decode_prefix(&b).unwrap();
        assert_eq!(a.len(), 50);
        assert_eq!(decode(rest).unwrap().len(), 10);
    }

    #[test]
    fn columns_encoding_round_trips_every_shape_bit_exactly() {
        let regular: Vec<Sample> = (0..480)
            .map(|i| Sample::new(1_000 + i * 15_000, (i * i) as f64))
            .collect();
        let constant: Vec<Sample> = (0..480)
            .map(|i| {
                Sample::new(
                    1_000 + i * 15_000 + (i % 3),
                    f64::from_bits(0x7ff0_0000_0000_0002),
                )
            })
            .collect();
        let both: Vec<Sample> = (0..480).map(|i| Sample::new(7 + i * 30_000, 1.0)).collect();
        let neither: Vec<Sample> = (0..480)
            .map(|i| Sample::new(i * 15_000 + (i % 7), (i as f64).sin()))
            .collect();
        let one = vec![Sample::new(-5, f64::NAN)];
        for s in [&regular, &constant, &both, &neither, &one, &Vec::new()] {
            let mut b = Vec::new();
            encode_columns(s, &mut b);
            let got = decode_columns(&b).unwrap();
            assert_eq!(got.len(), s.len());
            assert!(got.iter().zip(s.iter()).all(|(a, b)| a.bit_eq(b)));
            // Followed by bytes that are not part of it, whatever they hold (here
            // all ones), short or long, it decodes the same in place.
            for tail in [1, 7, DECODE_PADDING] {
                let mut padded = b.clone();
                padded.resize(b.len() + tail, 0xff);
                let got = decode_columns_padded(&padded, tail).unwrap();
                assert_eq!(got.len(), s.len());
                assert!(got.iter().zip(s.iter()).all(|(a, b)| a.bit_eq(b)));
                // A tail that claims too much or too little is an error.
                assert!(decode_columns_padded(&padded, tail - 1).is_err());
                assert!(decode_columns_padded(&padded, tail + 1).is_err());
            }
        }
        // Trivial columns cost (almost) nothing.
        let mut b = Vec::new();
        encode_columns(&both, &mut b);
        assert!(b.len() < 20, "{} bytes", b.len());
    }

    #[test]
    fn columns_encoding_rejects_damage_without_panicking() {
        let s: Vec<Sample> = (0..100)
            .map(|i| Sample::new(i * 10, (i % 5) as f64))
            .collect();
        let mut b = Vec::new();
        encode_columns(&s, &mut b);
        for cut in 0..b.len() {
            assert!(decode_columns(&b[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = b.clone();
        bad[1] = 0x80;
        assert!(decode_columns(&bad).is_err());
        let mut extra = b.clone();
        extra.push(0);
        assert!(decode_columns(&extra).is_err());
    }
}
