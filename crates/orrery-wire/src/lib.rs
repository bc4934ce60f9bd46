//! Wire formats: Prometheus remote-write 1.0 and 2.0, decoded into and encoded from
//! the shared [`orrery_model::WriteRequest`], and the scrape exposition formats
//! (Prometheus text and OpenMetrics).
//!
//! # Brief overview
//!
//! * [`decode_write`] takes the raw Content-Type and Content-Encoding headers and the
//!   body of a `POST /api/v1/write`, picks the version from the Content-Type, checks the
//!   decompressed size against [`Limits`] before allocating, decodes the protobuf and
//!   validates every series. It returns a [`Decoded`]: the request with sorted, valid
//!   label sets, the version, and the number of native histogram samples and exemplars
//!   found, which the model cannot carry and the caller must reject or accept
//!   explicitly.
//! * [`encode_v1`] and [`encode_v2`] produce snappy-compressed bodies for senders,
//!   tests and benchmarks.
//! * [`parse_exposition`] parses a scraped Prometheus text or OpenMetrics body (see
//!   [`exposition`]).
//! * [`WireError`] says what was wrong and where, and [`WireError::status`] gives the
//!   HTTP status to answer with (400, 413 or 415).
//!
//! The crate is pure: no I/O, no global state, nothing is logged. Bad input never
//! panics. The protobuf messages are written by hand in `proto.rs` (there is no protoc);
//! the rules shared by both versions live in `series.rs`.
#![deny(missing_docs)]

use std::fmt;

mod error;
pub mod exposition;
mod fast_v1;
mod negotiate;
mod proto;
mod series;
mod snappy;
mod v1;
pub mod v1_append;
mod v2;

pub use error::{MetadataProblem, SeriesProblem, WireError};
pub use exposition::{
    format_for_content_type, parse_exposition, ExpositionError, Format, ParseLimits, ParsedScrape,
    RawSample, Scanner, ScrapedSample, SCRAPE_ACCEPT,
};

/// Content-Type of remote-write 1.0 bodies; also what an absent header means.
pub const CONTENT_TYPE_V1: &str = "application/x-protobuf";
/// Content-Type of remote-write 2.0 bodies.
pub const CONTENT_TYPE_V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

/// Bounds on what one request may carry. Every limit is checked before the work it
/// guards, and a request over any of them is refused whole with a message naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed body, in bytes; checked against the snappy header before
    /// any allocation (413). Default 64 MiB: Prometheus's default batch of 2,000
    /// samples is tens of kilobytes, so this leaves room for very large batches while
    /// bounding the memory one request can take. The decoded form is larger than the
    /// body: up to about 50 times for a hostile body made of empty labels (2 wire bytes
    /// each, 48 bytes decoded, plus vector growth), so size this limit with that in mind.
    pub max_decompressed_bytes: usize,
    /// Most series in one request (400). Default 200,000: well above what senders
    /// batch (Prometheus sends at most `max_samples_per_send`, 2,000 by default), yet a
    /// bound on per-request work.
    pub max_series_per_request: usize,
    /// Most labels in one series, counted as sent (400). Default 64: real series carry
    /// 5 to 30, and cardinality tooling (Mimir, Cortex) defaults to 30 to 40.
    pub max_labels_per_series: usize,
    /// Longest label name, in bytes (400). Default 1,024, as in Mimir.
    pub max_label_name_length: usize,
    /// Longest label value, in bytes (400). Default 4,096: long enough for URLs and
    /// image references, short enough that a stray log line does not become a label.
    pub max_label_value_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 64 << 20,
            max_series_per_request: 200_000,
            max_labels_per_series: 64,
            max_label_name_length: 1024,
            max_label_value_length: 4096,
        }
    }
}

/// A remote-write protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Remote-write 1.0, `prometheus.WriteRequest`.
    V1,
    /// Remote-write 2.0, `io.prometheus.write.v2.Request`.
    V2,
}

impl Version {
    /// The Content-Type a sender uses for this version.
    pub fn content_type(self) -> &'static str {
        match self {
            Version::V1 => CONTENT_TYPE_V1,
            Version::V2 => CONTENT_TYPE_V2,
        }
    }

    fn other(self) -> Version {
        match self {
            Version::V1 => Version::V2,
            Version::V2 => Version::V1,
        }
    }
}

impl fmt::Display for Version {
    /// `remote-write 1.0` or `remote-write 2.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "remote-write 1.0",
            Version::V2 => "remote-write 2.0",
        })
    }
}

/// A decoded, validated remote-write body.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The series with float samples, and the metadata.
    pub request: orrery_model::WriteRequest,
    /// The version the Content-Type selected.
    pub version: Version,
    /// Native histogram samples in the body; not in `request`. Non-zero means the
    /// caller must refuse the write (or store them some other way), never ignore them.
    pub histograms: u64,
    /// Exemplars in the body; not in `request`, same contract as `histograms`.
    pub exemplars: u64,
}

/// Decodes and validates one remote-write body.
///
/// `content_type` and `content_encoding` are the raw headers (`None` when absent). An
/// absent Content-Type means 1.0; an absent Content-Encoding means snappy, the only
/// encoding remote-write has.
pub fn decode_write(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<Decoded, WireError> {
    let version = negotiate::version_for(content_type)?;
    negotiate::check_encoding(content_encoding)?;
    let raw = snappy::decompress(body, limits.max_decompressed_bytes)?;
    match version {
        Version::V1 => v1::decode(&raw, limits),
        Version::V2 => v2::decode(&raw, limits),
    }
}

/// A write body after content negotiation and decompression, not decoded yet.
#[derive(Debug)]
pub struct RawWrite {
    /// The version the content type announced.
    pub version: Version,
    /// The decompressed protobuf bytes.
    pub raw: Vec<u8>,
}

/// A decoded write whose strings borrow from a [`RawWrite`] (1.0) or from an owned
/// request (2.0).
#[derive(Debug)]
pub struct DecodedBatch<'a> {
    /// The validated series, samples and metadata.
    pub batch: orrery_model::WriteBatch<'a>,
    /// The version decoded.
    pub version: Version,
    /// Native histogram samples found (not decoded; the caller decides).
    pub histograms: u64,
    /// Exemplars found (not decoded; the caller decides).
    pub exemplars: u64,
}

/// Checks the headers and decompresses the body, with the same errors as
/// [`decode_write`].
pub fn decompress_write(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &Limits,
) -> Result<RawWrite, WireError> {
    let version = negotiate::version_for(content_type)?;
    negotiate::check_encoding(content_encoding)?;
    let raw = snappy::decompress(body, limits.max_decompressed_bytes)?;
    Ok(RawWrite { version, raw })
}

impl RawWrite {
    /// Decodes and validates with exactly [`decode_write`]'s rules and errors. A 1.0
    /// body is scanned without copying label strings; a 2.0 body is decoded into
    /// `slot`, which the batch then borrows.
    pub fn decode<'a>(
        &'a self,
        limits: &Limits,
        slot: &'a mut Option<orrery_model::WriteRequest>,
    ) -> Result<DecodedBatch<'a>, WireError> {
        if self.version == Version::V1 {
            if let Some(f) = fast_v1::decode(&self.raw, limits) {
                return Ok(DecodedBatch {
                    batch: f.batch,
                    version: Version::V1,
                    histograms: 0,
                    exemplars: 0,
                });
            }
        }
        let d = match self.version {
            Version::V1 => v1::decode(&self.raw, limits)?,
            Version::V2 => v2::decode(&self.raw, limits)?,
        };
        let req = slot.insert(d.request);
        Ok(DecodedBatch {
            batch: orrery_model::WriteBatch::from_request(req),
            version: d.version,
            histograms: d.histograms,
            exemplars: d.exemplars,
        })
    }
}

/// Encodes `req` as a snappy-compressed remote-write 1.0 body (send it with
/// [`CONTENT_TYPE_V1`] and `Content-Encoding: snappy`).
///
/// # Panics
///
/// If the encoded request exceeds snappy's block size limit (about 4 GiB).
pub fn encode_v1(req: &orrery_model::WriteRequest) -> Vec<u8> {
    v1::encode(req)
}

/// Encodes `req` as a snappy-compressed remote-write 2.0 body (send it with
/// [`CONTENT_TYPE_V2`] and `Content-Encoding: snappy`). Each series carries the
/// metadata of its family; metadata for families with no series is not sent, because
/// 2.0 has no place for it.
///
/// # Panics
///
/// If the encoded request exceeds snappy's block size limit (about 4 GiB).
pub fn encode_v2(req: &orrery_model::WriteRequest) -> Vec<u8> {
    v2::encode(req)
}

#[cfg(test)]
mod tests {
    use orrery_model::{
        Labels, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest, STALE_NAN,
    };

    use super::*;

    /// A request exercising special values, several families and metadata that both
    /// versions can carry.
    pub(crate) fn sample_request() -> WriteRequest {
        WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: Labels::from_pairs([
                        ("__name__", "http_requests_total"),
                        ("job", "api"),
                        ("instance", "h:1"),
                    ]),
                    samples: vec![
                        Sample::new(1_700_000_000_000, 1.5),
                        Sample::new(1_700_000_015_000, STALE_NAN),
                        Sample::new(1_700_000_030_000, f64::NAN),
                        Sample::new(1_700_000_045_000, f64::INFINITY),
                        Sample::new(1_700_000_060_000, f64::NEG_INFINITY),
                        Sample::new(-5, -0.0),
                    ],
                },
                TimeSeries {
                    labels: Labels::from_pairs([
                        ("__name__", "rq_seconds_bucket"),
                        ("le", "+Inf"),
                        ("job", "api"),
                        ("ünïcode name", "välue \"quoted\""),
                    ]),
                    samples: vec![Sample::new(1, 42.0)],
                },
                TimeSeries {
                    labels: Labels::from_pairs([("__name__", "rq_seconds_sum"), ("job", "api")]),
                    samples: vec![Sample::new(1, 0.25), Sample::new(2, f64::MAX)],
                },
            ],
            metadata: vec![
                MetricMetadata {
                    metric_family: "http_requests_total".into(),
                    kind: MetricType::Counter,
                    help: "Requests served.".into(),
                    unit: String::new(),
                },
                MetricMetadata {
                    metric_family: "rq_seconds".into(),
                    kind: MetricType::Histogram,
                    help: "Request latency.".into(),
                    unit: "seconds".into(),
                },
            ],
        }
    }

    /// Same series, labels and sample bits (so NaNs compare equal).
    pub(crate) fn assert_bit_exact(got: &WriteRequest, want: &WriteRequest) {
        assert_eq!(got.timeseries.len(), want.timeseries.len());
        for (g, w) in got.timeseries.iter().zip(&want.timeseries) {
            assert_eq!(g.labels, w.labels);
            assert_eq!(g.samples.len(), w.samples.len(), "{}", w.labels);
            for (gs, ws) in g.samples.iter().zip(&w.samples) {
                assert!(gs.bit_eq(ws), "{}: got {gs:?}, want {ws:?}", w.labels);
            }
        }
    }

    #[test]
    fn default_limits_are_documented_values() {
        let l = Limits::default();
        assert_eq!(l.max_decompressed_bytes, 64 * 1024 * 1024);
        assert_eq!(l.max_series_per_request, 200_000);
        assert_eq!(l.max_labels_per_series, 64);
        assert_eq!(l.max_label_name_length, 1024);
        assert_eq!(l.max_label_value_length, 4096);
    }

    #[test]
    fn both_versions_decode_to_the_same_request() {
        let req = sample_request();
        let limits = Limits::default();
        let a = decode_write(Some(CONTENT_TYPE_V1), None, &encode_v1(&req), &limits).expect("v1");
        let b = decode_write(Some(CONTENT_TYPE_V2), None, &encode_v2(&req), &limits).expect("v2");
        assert_bit_exact(&a.request, &b.request);
        assert_eq!(a.request.metadata, b.request.metadata);
        assert_eq!((a.version, b.version), (Version::V1, Version::V2));
    }

    #[test]
    fn content_type_is_checked_before_the_body() {
        let err = decode_write(Some("text/plain"), None, b"not snappy", &Limits::default())
            .expect_err("415");
        assert_eq!(err.status(), 415);
        let err =
            decode_write(None, Some("gzip"), b"not snappy", &Limits::default()).expect_err("415");
        assert_eq!(err.status(), 415);
    }

    #[test]
    fn oversized_decompressed_length_is_413() {
        let body = encode_v1(&sample_request());
        let limits = Limits {
            max_decompressed_bytes: 16,
            ..Limits::default()
        };
        let err = decode_write(None, None, &body, &limits).expect_err("413");
        assert_eq!(err.status(), 413);
        let msg = err.to_string();
        assert!(msg.starts_with("too big decompressed body; got "), "{msg}");
        assert!(msg.contains("bytes; cannot exceed 16"), "{msg}");
    }

    #[test]
    fn corrupt_snappy_is_400() {
        let err = decode_write(None, None, b"\xff\xff\xff", &Limits::default()).expect_err("400");
        assert_eq!(err.status(), 400);
        assert!(err.to_string().starts_with("corrupt snappy: "), "{err}");
    }

    #[test]
    fn framed_snappy_is_refused() {
        // The stream identifier chunk of the framed format, which remote-write forbids.
        let body = b"\xff\x06\x00\x00sNaPpY";
        let err = decode_write(None, None, body, &Limits::default()).expect_err("framed");
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn empty_series_with_no_samples_are_not_returned() {
        let mut req = sample_request();
        req.timeseries[1].samples.clear();
        let d = decode_write(None, None, &encode_v1(&req), &Limits::default()).expect("valid");
        assert_eq!(d.request.timeseries.len(), 2);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: mutate valid bodies, both compressed and not.
        let req = sample_request();
        let limits = Limits::default();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (ct, raw) in [
            (CONTENT_TYPE_V1, v1_raw(&req)),
            (CONTENT_TYPE_V2, v2_raw(&req)),
        ] {
            for _ in 0..2000 {
                let mut m = raw.clone();
                for _ in 0..1 + next() % 4 {
                    let i = (next() as usize) % m.len();
                    m[i] = next() as u8;
                }
                let body = snappy::compress(&m);
                let _ = decode_write(Some(ct), None, &body, &limits);
                let _ = decode_write(Some(ct), None, &m, &limits);
            }
        }
    }

    fn v1_raw(req: &WriteRequest) -> Vec<u8> {
        snappy::decompress(&encode_v1(req), usize::MAX).expect("valid")
    }

    fn v2_raw(req: &WriteRequest) -> Vec<u8> {
        snappy::decompress(&encode_v2(req), usize::MAX).expect("valid")
    }
}
