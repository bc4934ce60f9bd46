//! Remote-write 1.0 bodies built piece by piece, for senders that keep each series'
//! labels already encoded: the agent encodes a series' labels once, when it first
//! sees the series, and then only appends a sample to those bytes on every scrape.
//!
//! A `WriteRequest` is its `timeseries` (field 1) and `metadata` (field 3) entries one
//! after the other, so appending entries to one buffer builds a valid request without
//! any intermediate message. The bytes are exactly what [`crate::encode_v1`] produces
//! for the same request (before snappy), field for field: prost writes fields in tag
//! order and omits proto3 defaults (empty strings, zero type and timestamp, and a
//! `+0.0` value, see `proto::encode_value`), and so does this module.

use orrery_model::{Labels, MetricMetadata};
use prost::Message;

use crate::series::metric_type_to_proto;

const LEN: u8 = 2;
const VARINT: u8 = 0;
const I64: u8 = 1;

fn key(field: u8, wire: u8) -> u8 {
    (field << 3) | wire
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    // 7 bits per byte; zero still takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// A `bytes` field, omitted when empty as prost does.
fn put_bytes(out: &mut Vec<u8>, field: u8, b: &[u8]) {
    if b.is_empty() {
        return;
    }
    out.push(key(field, LEN));
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn bytes_len(b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        1 + varint_len(b.len() as u64) + b.len()
    }
}

/// Appends the `labels` fields (field 1, one `Label` message each) of a `TimeSeries`
/// for `labels`, in their order. The result is what [`append_series`] takes.
pub fn append_labels(out: &mut Vec<u8>, labels: &Labels) {
    for l in labels.iter() {
        let len = bytes_len(l.name.as_bytes()) + bytes_len(l.value.as_bytes());
        out.push(key(1, LEN));
        put_varint(out, len as u64);
        put_bytes(out, 1, l.name.as_bytes());
        put_bytes(out, 2, l.value.as_bytes());
    }
}

/// The labels back from the fields [`append_labels`] wrote (for messages; names and
/// values that are not UTF-8 are converted lossily, bytes that are not `Label` fields
/// give no labels).
pub fn decode_labels(encoded_labels: &[u8]) -> Labels {
    let series = crate::proto::v1::TimeSeries::decode(encoded_labels).unwrap_or_default();
    Labels::from_pairs(series.labels.into_iter().map(|l| {
        (
            String::from_utf8_lossy(&l.name).into_owned(),
            String::from_utf8_lossy(&l.value).into_owned(),
        )
    }))
}

/// Appends one `timeseries` entry of a `WriteRequest`: the labels as encoded by
/// [`append_labels`], and one sample at `t` (ms) with value `v`.
pub fn append_series(out: &mut Vec<u8>, encoded_labels: &[u8], t: i64, v: f64) {
    let has_value = v.to_bits() != 0;
    let sample_len =
        if has_value { 9 } else { 0 } + if t != 0 { 1 + varint_len(t as u64) } else { 0 };
    let series_len = encoded_labels.len() + 1 + varint_len(sample_len as u64) + sample_len;
    out.reserve(1 + varint_len(series_len as u64) + series_len);
    out.push(key(1, LEN));
    put_varint(out, series_len as u64);
    out.extend_from_slice(encoded_labels);
    out.push(key(2, LEN));
    put_varint(out, sample_len as u64);
    if has_value {
        out.push(key(1, I64));
        out.extend_from_slice(&v.to_le_bytes());
    }
    if t != 0 {
        out.push(key(2, VARINT));
        put_varint(out, t as u64);
    }
}

/// Appends one `metadata` entry of a `WriteRequest`. Prost writes every `timeseries`
/// entry before any `metadata` entry; append metadata last to get the same bytes
/// (receivers accept either order).
pub fn append_metadata(out: &mut Vec<u8>, md: &MetricMetadata) {
    let kind = metric_type_to_proto(md.kind);
    let kind_len = if kind != 0 {
        1 + varint_len(kind as u64)
    } else {
        0
    };
    let len = kind_len
        + bytes_len(md.metric_family.as_bytes())
        + bytes_len(md.help.as_bytes())
        + bytes_len(md.unit.as_bytes());
    out.push(key(3, LEN));
    put_varint(out, len as u64);
    if kind != 0 {
        out.push(key(1, VARINT));
        // An int32 is sign-extended to 64 bits on the wire; the enum is never negative.
        put_varint(out, kind as u64);
    }
    put_bytes(out, 2, md.metric_family.as_bytes());
    put_bytes(out, 4, md.help.as_bytes());
    put_bytes(out, 5, md.unit.as_bytes());
}

/// Snappy-compresses a body built with this module into what [`crate::encode_v1`]
/// returns.
///
/// # Panics
///
/// If `raw` exceeds snappy's block size limit (about 4 GiB).
pub fn compress_v1(raw: &[u8]) -> Vec<u8> {
    crate::snappy::compress(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample_request;

    #[test]
    fn appended_bodies_are_byte_identical_to_encode_v1() {
        let base = sample_request();
        // One sample per series, as the agent sends, with the defaults prost omits (a
        // +0.0 value, a zero timestamp) and the values it must keep (-0.0, NaNs).
        let mut req = orrery_model::WriteRequest {
            timeseries: Vec::new(),
            metadata: base.metadata.clone(),
        };
        for ts in &base.timeseries {
            for s in ts
                .samples
                .iter()
                .chain([&orrery_model::Sample::new(0, 0.0)])
            {
                req.timeseries.push(orrery_model::TimeSeries {
                    labels: ts.labels.clone(),
                    samples: vec![*s],
                });
            }
        }
        let mut raw = Vec::new();
        for ts in &req.timeseries {
            let mut labels = Vec::new();
            append_labels(&mut labels, &ts.labels);
            append_series(&mut raw, &labels, ts.samples[0].t, ts.samples[0].v);
        }
        for m in &req.metadata {
            append_metadata(&mut raw, m);
        }
        assert_eq!(compress_v1(&raw), crate::encode_v1(&req));
    }

    #[test]
    fn varint_lengths() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX, i64::MIN as u64] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
        }
    }
}
