//! The ingest hot path for remote-write 1.0: a protobuf scanner that validates a body
//! and builds a [`WriteBatch`] whose label strings borrow from the body, so a sample of
//! a known series costs no allocation.
//!
//! It accepts exactly what `v1::decode` accepts and nothing more. When it meets
//! anything it does not handle (any validation failure, an unexpected wire type, a
//! 2.0 field), it returns `None` and the caller runs `v1::decode`, which produces the
//! precise error message; so error texts have one source.

use crate::Limits;
use orrery_model::{MetricMetadata, MetricType, Sample, WriteBatch, METRIC_NAME};

/// What the scanner found. Bodies with exemplars or histograms take the slow path, so
/// there is nothing else to report.
pub(crate) struct FastDecoded<'a> {
    pub batch: WriteBatch<'a>,
}

/// A cursor over protobuf bytes.
struct Pb<'a> {
    buf: &'a [u8],
    pos: usize,
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const I32: u8 = 5;

impl<'a> Pb<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Pb { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            // The tenth byte may only carry the 64th bit, as prost requires.
            if shift == 63 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// Field number and wire type.
    fn tag(&mut self) -> Option<(u64, u8)> {
        let t = self.varint()?;
        // Field 0 and tags beyond 32 bits are invalid protobuf.
        if t >> 3 == 0 || t > u64::from(u32::MAX) {
            return None;
        }
        Some((t >> 3, (t & 7) as u8))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(n)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    fn fixed64(&mut self) -> Option<u64> {
        let b = self.buf.get(self.pos..self.pos + 8)?;
        self.pos += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }

    fn skip(&mut self, wire: u8) -> Option<()> {
        match wire {
            VARINT => self.varint().map(|_| ()),
            I64 => self.fixed64().map(|_| ()),
            LEN => self.bytes().map(|_| ()),
            I32 => {
                self.buf.get(self.pos..self.pos + 4)?;
                self.pos += 4;
                Some(())
            }
            _ => None,
        }
    }
}

fn utf8(b: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(b).ok()
}

/// A run of `buf` known to be valid UTF-8, as a `str`.
///
/// A series' labels come first in its message and are short: checking each name and
/// value on its own (about 20 strings below 64 bytes, where simdutf8 falls back to a
/// scalar check) cost a tenth of ingest CPU. One SIMD pass over the whole run of label
/// fields (their tags and lengths are ASCII too) covers them all; [`Utf8Run::str`]
/// then only checks that a string lies inside it on character boundaries.
///
/// A label message of 128 bytes or more has a two-byte length, which is not UTF-8 and
/// ends the run. A string past the end of the run starts a new run at that string (one
/// more SIMD pass to the next such byte), instead of falling back to a scalar check of
/// every later string.
struct Utf8Run<'a> {
    buf: &'a [u8],
    /// Offset of `valid` in `buf`.
    start: usize,
    valid: &'a str,
}

impl<'a> Utf8Run<'a> {
    fn new(buf: &'a [u8]) -> Self {
        // Usually the labels are one run of field-1 records at the start: check just
        // that run, which is all UTF-8 in the common case (so the slower error path
        // that finds where valid UTF-8 ends is not taken for the samples after it).
        let mut pb = Pb::new(buf);
        let mut end = 0;
        while pb.buf.get(pb.pos) == Some(&0x0a) {
            pb.pos += 1;
            if pb.bytes().is_none() {
                break;
            }
            end = pb.pos;
        }
        if let Ok(valid) = simdutf8::basic::from_utf8(&buf[..end]) {
            return Utf8Run {
                buf,
                start: 0,
                valid,
            };
        }
        let mut r = Utf8Run {
            buf,
            start: 0,
            valid: "",
        };
        r.restart(0);
        r
    }

    /// Makes the run the longest valid UTF-8 prefix of `buf[start..]`.
    fn restart(&mut self, start: usize) {
        let rest = self.buf.get(start..).unwrap_or_default();
        self.start = start;
        self.valid = match simdutf8::compat::from_utf8(rest) {
            Ok(s) => s,
            // Valid by the check above, so this cannot fail; an empty run if it did.
            Err(e) => simdutf8::basic::from_utf8(&rest[..e.valid_up_to()]).unwrap_or(""),
        };
    }

    /// `b` (a subslice of the buffer) as a `str`, if it is valid UTF-8.
    fn str(&mut self, b: &'a [u8]) -> Option<&'a str> {
        let at = (b.as_ptr() as usize).wrapping_sub(self.buf.as_ptr() as usize);
        let end = at.checked_add(b.len())?;
        if end > self.buf.len() {
            // Not a subslice (cannot happen): check it on its own.
            return utf8(b);
        }
        if let Some(s) = at
            .checked_sub(self.start)
            .and_then(|i| self.valid.get(i..i + b.len()))
        {
            return Some(s);
        }
        if at > self.start {
            self.restart(at);
            if let Some(s) = self.valid.get(..b.len()) {
                return Some(s);
            }
        }
        utf8(b)
    }
}

/// Scans a decompressed 1.0 body; `None` means "use the slow path".
pub(crate) fn decode<'a>(raw: &'a [u8], limits: &Limits) -> Option<FastDecoded<'a>> {
    let mut out = FastDecoded {
        batch: WriteBatch::default(),
    };
    let mut pb = Pb::new(raw);
    let mut series_seen = 0usize;
    while !pb.done() {
        let (field, wire) = pb.tag()?;
        match (field, wire) {
            (1, LEN) => {
                series_seen += 1;
                if series_seen > limits.max_series_per_request {
                    return None;
                }
                series(pb.bytes()?, limits, &mut out)?;
            }
            (3, LEN) => out.batch.metadata.push(metadata(pb.bytes()?)?),
            // A 2.0 body sent as 1.0, or a known field with the wrong wire type: the
            // slow path explains.
            (1 | 3 | 4 | 5, _) => return None,
            (_, w) => pb.skip(w)?,
        }
    }
    Some(out)
}

fn series<'a>(buf: &'a [u8], limits: &Limits, out: &mut FastDecoded<'a>) -> Option<()> {
    let b = &mut out.batch;
    let l0 = b.label_pairs.len();
    let s0 = b.samples.len();
    let mut n_labels = 0usize;
    let mut text = Utf8Run::new(buf);
    let mut pb = Pb::new(buf);
    while !pb.done() {
        let (field, wire) = pb.tag()?;
        match (field, wire) {
            (1, LEN) => {
                let (name, value) = label(pb.bytes()?, &mut text)?;
                n_labels += 1;
                if n_labels > limits.max_labels_per_series
                    || name.is_empty()
                    || name.len() > limits.max_label_name_length
                    || value.len() > limits.max_label_value_length
                {
                    return None;
                }
                if !value.is_empty() {
                    b.label_pairs.push((name, value));
                } else {
                    // An empty value drops the label, but a duplicate name is still
                    // an error; let the slow path judge such rare series.
                    return None;
                }
            }
            (2, LEN) => b.samples.push(sample(pb.bytes()?)?),
            // Exemplars and native histograms are rejected by the server; the slow
            // path decodes (and so validates) and counts them.
            (1..=4, _) => return None,
            (_, w) => pb.skip(w)?,
        }
    }
    let labels = &mut b.label_pairs[l0..];
    if !labels.windows(2).all(|w| w[0].0 < w[1].0) {
        labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if labels.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
    }
    if !labels.iter().any(|(n, _)| *n == METRIC_NAME) {
        return None;
    }
    if b.samples.len() == s0 {
        // Nothing to store (histogram-only or empty): validated, counted, not kept.
        b.label_pairs.truncate(l0);
        return Some(());
    }
    b.push_series(l0, s0);
    Some(())
}

fn label<'a>(buf: &'a [u8], text: &mut Utf8Run<'a>) -> Option<(&'a str, &'a str)> {
    let mut pb = Pb::new(buf);
    let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
    while !pb.done() {
        match pb.tag()? {
            (1, LEN) => name = pb.bytes()?,
            (2, LEN) => value = pb.bytes()?,
            (1 | 2, _) => return None,
            (_, w) => pb.skip(w)?,
        }
    }
    Some((text.str(name)?, text.str(value)?))
}

fn sample(buf: &[u8]) -> Option<Sample> {
    let mut pb = Pb::new(buf);
    let mut s = Sample { t: 0, v: 0.0 };
    while !pb.done() {
        match pb.tag()? {
            (1, I64) => s.v = f64::from_bits(pb.fixed64()?),
            (2, VARINT) => s.t = pb.varint()? as i64,
            (1 | 2, _) => return None,
            (_, w) => pb.skip(w)?,
        }
    }
    Some(s)
}

fn metadata(buf: &[u8]) -> Option<MetricMetadata> {
    let mut pb = Pb::new(buf);
    let mut m = MetricMetadata::default();
    while !pb.done() {
        match pb.tag()? {
            (1, VARINT) => m.kind = MetricType::from_code(pb.varint()? as i64),
            (2, LEN) => m.metric_family = utf8(pb.bytes()?)?.to_string(),
            (4, LEN) => m.help = utf8(pb.bytes()?)?.to_string(),
            (5, LEN) => m.unit = utf8(pb.bytes()?)?.to_string(),
            (1 | 2 | 4 | 5, _) => return None,
            (_, w) => pb.skip(w)?,
        }
    }
    (!m.metric_family.is_empty()).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{snappy, v1};
    use orrery_model::{Labels, TimeSeries, WriteRequest, STALE_NAN};

    fn sample_request() -> WriteRequest {
        WriteRequest {
            timeseries: (0..20)
                .map(|i| TimeSeries {
                    labels: Labels::from_pairs([
                        ("__name__", format!("m{}", i % 3)),
                        ("job", "node".to_string()),
                        ("instance", format!("10.0.0.{i}:9100")),
                        ("zz", "ünïcödé".to_string()),
                    ]),
                    samples: vec![
                        Sample::new(1_700_000_000_000 + i, i as f64),
                        Sample::new(-5, STALE_NAN),
                        Sample::new(7, -0.0),
                    ],
                })
                .collect(),
            metadata: vec![MetricMetadata {
                metric_family: "m0".into(),
                kind: MetricType::Counter,
                help: "help".into(),
                unit: "seconds".into(),
            }],
        }
    }

    fn raw(req: &WriteRequest) -> Vec<u8> {
        snappy::decompress(&crate::encode_v1(req), usize::MAX).unwrap()
    }

    #[test]
    fn fast_path_decodes_what_the_slow_path_decodes() {
        let req = sample_request();
        let raw = raw(&req);
        let fast = decode(&raw, &Limits::default()).expect("fast path takes a plain request");
        let slow = v1::decode(&raw, &Limits::default()).unwrap();
        let got = fast.batch.to_request();
        assert_eq!(got.timeseries.len(), slow.request.timeseries.len());
        for (a, b) in got.timeseries.iter().zip(&slow.request.timeseries) {
            assert_eq!(a.labels, b.labels);
            assert!(a.samples.iter().zip(&b.samples).all(|(x, y)| x.bit_eq(y)));
        }
        assert_eq!(got.metadata, slow.request.metadata);
    }

    #[test]
    fn fast_path_never_accepts_what_the_slow_path_rejects() {
        // Mutate a valid body byte by byte (deterministically); whenever the fast path
        // accepts, the slow path must accept the same content.
        let raw = raw(&sample_request());
        let limits = Limits {
            max_labels_per_series: 4,
            max_label_value_length: 20,
            ..Limits::default()
        };
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut accepted = 0;
        for _ in 0..3000 {
            let mut m = raw.clone();
            for _ in 0..1 + (state % 3) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (state >> 33) as usize % m.len();
                m[i] = (state >> 17) as u8;
            }
            if let Some(f) = decode(&m, &limits) {
                accepted += 1;
                let slow = v1::decode(&m, &limits).unwrap_or_else(|e| {
                    panic!("fast path accepted a body the slow path rejects: {e}")
                });
                let got = f.batch.to_request();
                assert_eq!(got.timeseries.len(), slow.request.timeseries.len());
                for (a, b) in got.timeseries.iter().zip(&slow.request.timeseries) {
                    assert_eq!(a.labels, b.labels);
                    assert_eq!(a.samples.len(), b.samples.len());
                }
                assert_eq!(got.metadata, slow.request.metadata);
                assert_eq!((slow.histograms, slow.exemplars), (0, 0));
            }
        }
        assert!(
            accepted > 100,
            "mutation test exercised too few accepted bodies: {accepted}"
        );
    }

    #[test]
    fn limits_and_bad_labels_fall_back_to_the_slow_path() {
        let req = sample_request();
        let raw = raw(&req);
        let tight = Limits {
            max_labels_per_series: 3,
            ..Limits::default()
        };
        assert!(decode(&raw, &tight).is_none());
        let mut no_name = sample_request();
        no_name.timeseries[0].labels = Labels::from_pairs([("job", "x")]);
        assert!(decode(&super::tests::raw(&no_name), &Limits::default()).is_none());
    }
}
