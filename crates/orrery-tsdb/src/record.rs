//! Typed payloads carried by WAL segments and checkpoints. The framing (length, CRC,
//! type byte) is `wal`'s business; this module is the only one that knows what a
//! Series, Samples, Metadata or Chunks record contains (`docs/formats/wal.md`).
//!
//! Formats evolve by adding record types, never by changing one. Readers skip types
//! they do not know and count them.

use crate::chunkenc::varint::{put_uvarint, put_varint, Cursor};
use orrery_model::{Label, Labels, MetricMetadata, MetricType, Sample};

/// New series and the ids later records use for them.
pub const TYPE_SERIES: u8 = 1;
/// Float samples of known series.
pub const TYPE_SAMPLES: u8 = 2;
/// Metric metadata (TYPE/HELP/UNIT).
pub const TYPE_METADATA: u8 = 3;
/// Encoded head chunks of a series (checkpoints only).
pub const TYPE_CHUNKS: u8 = 4;

/// A series record entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRecord {
    /// Head series id, unique within a data directory's lifetime of WAL and checkpoints.
    pub id: u64,
    /// The series' labels.
    pub labels: Labels,
}

/// Appends a Series payload.
pub fn encode_series<'a>(dst: &mut Vec<u8>, series: impl IntoIterator<Item = (u64, &'a Labels)>) {
    for (id, labels) in series {
        put_uvarint(dst, id);
        put_uvarint(dst, labels.len() as u64);
        for l in labels {
            put_bytes(dst, l.name.as_bytes());
            put_bytes(dst, l.value.as_bytes());
        }
    }
}

/// Decodes a Series payload.
pub fn decode_series(payload: &[u8]) -> Result<Vec<SeriesRecord>, String> {
    let mut d = Dec(Cursor::new(payload));
    let mut out = Vec::new();
    while d.remaining() > 0 {
        let id = d.uvarint()?;
        let n = d.uvarint_len(d.remaining(), "label count")?;
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let name = d.str()?;
            let value = d.str()?;
            labels.push(Label::new(name, value));
        }
        if !labels.windows(2).all(|w| w[0].name < w[1].name) {
            return Err(format!("series {id}: labels not sorted or not unique"));
        }
        out.push(SeriesRecord {
            id,
            labels: Labels::from_sorted_unchecked(labels),
        });
    }
    Ok(out)
}

/// Appends the samples of one series to a Samples payload. Timestamps are delta coded
/// against the previous sample of the same entry; values are stored as raw bits so
/// every NaN payload survives.
pub fn encode_samples(dst: &mut Vec<u8>, id: u64, samples: &[Sample]) {
    if samples.is_empty() {
        return;
    }
    put_uvarint(dst, id);
    put_uvarint(dst, samples.len() as u64);
    let mut prev = 0i64;
    for (i, s) in samples.iter().enumerate() {
        if i == 0 {
            put_varint(dst, s.t);
        } else {
            put_varint(dst, s.t.wrapping_sub(prev));
        }
        prev = s.t;
        dst.extend_from_slice(&s.v.to_bits().to_le_bytes());
    }
}

/// Decodes a Samples payload, calling `f(id, sample)` for each sample in order.
pub fn decode_samples(
    payload: &[u8],
    mut f: impl FnMut(u64, Sample) -> Result<(), String>,
) -> Result<(), String> {
    let mut d = Dec(Cursor::new(payload));
    while d.remaining() > 0 {
        let id = d.uvarint()?;
        // Each sample takes at least 9 bytes, which bounds the count by what is left.
        let n = d.uvarint_len(d.remaining() / 9, "sample count")?;
        let mut t = 0i64;
        for i in 0..n {
            let x = d.varint()?;
            t = if i == 0 { x } else { t.wrapping_add(x) };
            let v = f64::from_bits(d.u64_le()?);
            f(id, Sample { t, v })?;
        }
    }
    Ok(())
}

/// Appends a Metadata payload.
pub fn encode_metadata<'a>(dst: &mut Vec<u8>, md: impl IntoIterator<Item = &'a MetricMetadata>) {
    for m in md {
        put_bytes(dst, m.metric_family.as_bytes());
        dst.push(m.kind.code());
        put_bytes(dst, m.help.as_bytes());
        put_bytes(dst, m.unit.as_bytes());
    }
}

/// Decodes a Metadata payload.
pub fn decode_metadata(payload: &[u8]) -> Result<Vec<MetricMetadata>, String> {
    let mut d = Dec(Cursor::new(payload));
    let mut out = Vec::new();
    while d.remaining() > 0 {
        let metric_family = d.str()?.to_string();
        let kind = MetricType::from_code(i64::from(d.u8()?));
        let help = d.str()?.to_string();
        let unit = d.str()?.to_string();
        out.push(MetricMetadata {
            metric_family,
            kind,
            help,
            unit,
        });
    }
    Ok(out)
}

/// Appends one series' encoded head chunks to a Chunks payload.
pub fn encode_chunks<'a>(
    dst: &mut Vec<u8>,
    id: u64,
    chunks: impl ExactSizeIterator<Item = &'a [u8]>,
) {
    put_uvarint(dst, id);
    put_uvarint(dst, chunks.len() as u64);
    for c in chunks {
        put_bytes(dst, c);
    }
}

/// Decodes a Chunks payload, calling `f(id, chunk_bytes)` per chunk in order.
pub fn decode_chunks(
    payload: &[u8],
    mut f: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut d = Dec(Cursor::new(payload));
    while d.remaining() > 0 {
        let id = d.uvarint()?;
        let n = d.uvarint_len(d.remaining(), "chunk count")?;
        for _ in 0..n {
            f(id, d.len_bytes()?)?;
        }
    }
    Ok(())
}

/// A [`Cursor`] with the string and length-prefixed reads records need, and errors
/// that carry the offset.
struct Dec<'a>(Cursor<'a>);

impl<'a> Dec<'a> {
    fn err(&self, e: &str) -> String {
        format!("{e} at payload offset {}", self.0.pos())
    }
    fn remaining(&self) -> usize {
        self.0.remaining()
    }
    fn uvarint(&mut self) -> Result<u64, String> {
        self.0.uvarint().map_err(|e| self.err(e))
    }
    fn varint(&mut self) -> Result<i64, String> {
        self.0.varint().map_err(|e| self.err(e))
    }
    fn uvarint_len(&mut self, max: usize, what: &str) -> Result<usize, String> {
        let v = self.uvarint()?;
        if v > max as u64 {
            return Err(self.err(&format!("too big {what}; got {v}; cannot exceed {max}")));
        }
        Ok(v as usize)
    }
    fn u8(&mut self) -> Result<u8, String> {
        self.0.u8().map_err(|e| self.err(e))
    }
    fn u64_le(&mut self) -> Result<u64, String> {
        self.0.u64le().map_err(|e| self.err(e))
    }
    fn len_bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.uvarint_len(self.remaining(), "length")?;
        self.0.bytes(n).map_err(|e| self.err(e))
    }
    fn str(&mut self) -> Result<&'a str, String> {
        let b = self.len_bytes()?;
        std::str::from_utf8(b).map_err(|_| self.err("invalid UTF-8 string"))
    }
}

fn put_bytes(dst: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(dst, b.len() as u64);
    dst.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_model::STALE_NAN;

    #[test]
    fn series_round_trip() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let mut b = Vec::new();
        encode_series(&mut b, [(7, &l), (9, &Labels::empty())]);
        let got = decode_series(&b).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], SeriesRecord { id: 7, labels: l });
        assert!(got[1].labels.is_empty());
    }

    #[test]
    fn samples_round_trip_bit_exact() {
        let s = vec![
            Sample::new(-5, f64::NAN),
            Sample::new(10, STALE_NAN),
            Sample::new(i64::MAX, f64::NEG_INFINITY),
            Sample::new(3, -0.0),
        ];
        let mut b = Vec::new();
        encode_samples(&mut b, 3, &s);
        encode_samples(&mut b, 4, &s[..1]);
        let mut got = Vec::new();
        decode_samples(&b, |id, x| {
            got.push((id, x));
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 5);
        for (g, w) in got.iter().zip(s.iter()) {
            assert!(g.1.bit_eq(w));
        }
        assert_eq!(got[4].0, 4);
    }

    #[test]
    fn truncated_samples_payload_is_an_error_not_a_panic() {
        let mut b = Vec::new();
        encode_samples(&mut b, 3, &[Sample::new(1, 1.0), Sample::new(2, 2.0)]);
        for cut in 0..b.len() {
            let _ = decode_samples(&b[..cut], |_, _| Ok(()));
        }
        assert!(decode_samples(&b[..b.len() - 1], |_, _| Ok(())).is_err());
    }

    #[test]
    fn metadata_round_trip() {
        let m = MetricMetadata {
            metric_family: "http_requests_total".into(),
            kind: MetricType::Counter,
            help: "Requests.".into(),
            unit: "".into(),
        };
        let mut b = Vec::new();
        encode_metadata(&mut b, [&m]);
        assert_eq!(decode_metadata(&b).unwrap(), vec![m]);
    }
}
