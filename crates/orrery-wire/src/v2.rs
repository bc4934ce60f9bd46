//! Remote-write 2.0 (`io.prometheus.write.v2.Request`): decoding into the model with
//! validation, and encoding from it.
//!
//! Decoding notes:
//!
//! 1. Every symbol must be UTF-8 and `symbols[0]` must be `""`; an empty table is only
//!    accepted for a request without series. Every reference must be in range, and
//!    `labels_refs` must have an even length.
//! 2. Series without float samples (histogram-only or empty) are validated and their
//!    histograms and exemplars counted, but they are not put in the request: they
//!    carry nothing to store, and the caller rejects histograms by their count.
//! 3. Each series' metadata becomes a [`MetricMetadata`] for its family: the metric
//!    name, minus `_bucket`, `_sum` or `_count` when the type is histogram, gauge
//!    histogram or summary. The first metadata seen for a family wins, and metadata
//!    with an unspecified type, no help and no unit is not recorded. Metadata of a
//!    series that is refused is never recorded, because the whole request is refused.
//! 4. Sample start timestamps (created timestamps) are accepted and ignored: the model
//!    has no place for them yet. The same goes for exemplar labels.
//! 5. A body that carries fields 1 or 3 (reserved in 2.0; a 1.0 request's series and
//!    metadata) was sent with the wrong Content-Type and is refused rather than read as
//!    empty.
//!
//! Encoding attaches to each series the metadata of its family, found the same way;
//! metadata of families without a series in the request cannot be expressed in 2.0 and
//! is not sent.

use std::collections::HashMap;

use orrery_model::{MetricMetadata, Sample, TimeSeries, WriteRequest};
use prost::Message;

use crate::error::{SeriesProblem, WireError};
use crate::series::{
    family_candidates, has_suffixed_series, metric_type_from_proto, metric_type_to_proto, truncate,
    MetadataSet, SeriesBuilder,
};
use crate::{proto, snappy, Decoded, Limits, Version};

/// Decodes and validates a decompressed 2.0 body.
pub(crate) fn decode(raw: &[u8], limits: &Limits) -> Result<Decoded, WireError> {
    let msg = proto::v2::Request::decode(raw).map_err(|source| WireError::CorruptProtobuf {
        version: Version::V2,
        source,
    })?;
    if !msg.v1_timeseries.is_empty() || !msg.v1_metadata.is_empty() {
        return Err(WireError::VersionMismatch {
            declared: Version::V2,
        });
    }
    if msg.timeseries.len() > limits.max_series_per_request {
        return Err(WireError::TooManySeries {
            got: msg.timeseries.len(),
            max: limits.max_series_per_request,
        });
    }
    let symbols = msg
        .symbols
        .into_iter()
        .enumerate()
        .map(|(index, s)| {
            String::from_utf8(s).map_err(|e| WireError::SymbolInvalidUtf8 {
                index,
                source: e.utf8_error(),
            })
        })
        .collect::<Result<Vec<String>, WireError>>()?;
    match symbols.first() {
        Some(first) if !first.is_empty() => {
            return Err(WireError::BadFirstSymbol {
                got: Some(truncate(first)),
            })
        }
        None if !msg.timeseries.is_empty() => return Err(WireError::BadFirstSymbol { got: None }),
        _ => {}
    }

    let mut histograms = 0u64;
    let mut exemplars = 0u64;
    let mut metadata = MetadataSet::default();
    let mut timeseries = Vec::with_capacity(msg.timeseries.len());
    for (i, ts) in msg.timeseries.into_iter().enumerate() {
        histograms += ts.histograms.len() as u64;
        exemplars += ts.exemplars.len() as u64;
        let refs = &ts.labels_refs;
        let mut b = SeriesBuilder::new(limits, i, refs.len().div_ceil(2))?;
        for pair in refs.chunks_exact(2) {
            if let [name, value] = *pair {
                let name = symbol(&symbols, &b, "labels_refs", name)?.to_owned();
                let value = symbol(&symbols, &b, "labels_refs", value)?.to_owned();
                b.push(name, value)?;
            }
        }
        if refs.len() % 2 != 0 {
            return Err(b.error(SeriesProblem::OddLabelRefs(refs.len())));
        }
        let meta = match &ts.metadata {
            Some(m) => Some((
                metric_type_from_proto(m.r#type),
                symbol(&symbols, &b, "metadata.help_ref", m.help_ref)?,
                symbol(&symbols, &b, "metadata.unit_ref", m.unit_ref)?,
            )),
            None => None,
        };
        let labels = b.finish()?;
        if let (Some((kind, help, unit)), Some(name)) = (meta, labels.metric_name()) {
            metadata.add(name, kind, help, unit);
        }
        if ts.samples.is_empty() {
            continue;
        }
        let samples = ts
            .samples
            .iter()
            .map(|s| Sample::new(s.timestamp, proto::decode_value(s.value)))
            .collect();
        timeseries.push(TimeSeries { labels, samples });
    }

    Ok(Decoded {
        request: WriteRequest {
            timeseries,
            metadata: metadata.into_vec(),
        },
        version: Version::V2,
        histograms,
        exemplars,
    })
}

/// Resolves a reference into the symbols table, or says which series and field had
/// it out of range.
fn symbol<'s>(
    symbols: &'s [String],
    b: &SeriesBuilder<'_>,
    field: &'static str,
    reference: u32,
) -> Result<&'s str, WireError> {
    usize::try_from(reference)
        .ok()
        .and_then(|r| symbols.get(r))
        .map(String::as_str)
        .ok_or_else(|| {
            b.error(SeriesProblem::SymbolOutOfRange {
                field,
                reference,
                symbols: symbols.len(),
            })
        })
}

/// Encodes a request as a snappy-compressed 2.0 body.
pub(crate) fn encode(req: &WriteRequest) -> Vec<u8> {
    snappy::compress(&to_proto(req).encode_to_vec())
}

/// Interns strings, with `""` at index 0 as the spec requires.
struct SymbolTable<'a> {
    symbols: Vec<&'a str>,
    index: HashMap<&'a str, u32>,
}

impl<'a> SymbolTable<'a> {
    fn new() -> Self {
        SymbolTable {
            symbols: vec![""],
            index: HashMap::from([("", 0)]),
        }
    }

    fn intern(&mut self, s: &'a str) -> u32 {
        if let Some(&r) = self.index.get(s) {
            return r;
        }
        // More than 2^32 distinct strings cannot be encoded; such a request would also
        // be far over any body size a receiver accepts.
        let r = u32::try_from(self.symbols.len()).expect("BUG: more than 2^32 symbols");
        self.symbols.push(s);
        self.index.insert(s, r);
        r
    }
}

fn to_proto(req: &WriteRequest) -> proto::v2::Request {
    let mut families: HashMap<&str, &MetricMetadata> = HashMap::new();
    for m in &req.metadata {
        families.entry(m.metric_family.as_str()).or_insert(m);
    }
    let mut table = SymbolTable::new();
    let timeseries = req
        .timeseries
        .iter()
        .map(|ts| {
            let labels_refs = ts
                .labels
                .iter()
                .flat_map(|l| [table.intern(&l.name), table.intern(&l.value)])
                .collect();
            let metadata = ts
                .labels
                .metric_name()
                .and_then(|name| family_metadata(&families, name))
                .map(|m| proto::v2::Metadata {
                    r#type: metric_type_to_proto(m.kind),
                    help_ref: table.intern(&m.help),
                    unit_ref: table.intern(&m.unit),
                });
            proto::v2::TimeSeries {
                labels_refs,
                samples: ts
                    .samples
                    .iter()
                    .map(|s| proto::v2::Sample {
                        value: proto::encode_value(s.v),
                        timestamp: s.t,
                        start_timestamp: 0,
                    })
                    .collect(),
                histograms: Vec::new(),
                exemplars: Vec::new(),
                metadata,
            }
        })
        .collect();
    proto::v2::Request {
        v1_timeseries: Vec::new(),
        v1_metadata: Vec::new(),
        symbols: table
            .symbols
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        timeseries,
    }
}

/// The metadata of the family series `name` belongs to: an exact match, or the name
/// without a `_bucket`/`_sum`/`_count` suffix when that family is a histogram or summary.
fn family_metadata<'m>(
    families: &HashMap<&str, &'m MetricMetadata>,
    name: &str,
) -> Option<&'m MetricMetadata> {
    family_candidates(name).find_map(|(family, stripped)| {
        families
            .get(family)
            .copied()
            .filter(|m| !stripped || has_suffixed_series(m.kind))
    })
}

#[cfg(test)]
mod tests {
    use orrery_model::{Labels, MetricType, STALE_NAN_BITS};

    use super::*;
    use crate::tests::{assert_bit_exact, sample_request};
    use crate::{decode_write, CONTENT_TYPE_V2};

    fn raw(msg: &proto::v2::Request) -> Vec<u8> {
        msg.encode_to_vec()
    }

    fn symbols(s: &[&str]) -> Vec<Vec<u8>> {
        s.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn series(refs: &[u32]) -> proto::v2::TimeSeries {
        proto::v2::TimeSeries {
            labels_refs: refs.to_vec(),
            samples: vec![proto::v2::Sample {
                value: Some(1.0),
                timestamp: 1,
                start_timestamp: 0,
            }],
            ..Default::default()
        }
    }

    /// Symbols: 0 "", 1 "__name__", 2 "up", 3 "job", 4 "a".
    fn request(ts: Vec<proto::v2::TimeSeries>) -> proto::v2::Request {
        proto::v2::Request {
            symbols: symbols(&["", "__name__", "up", "job", "a"]),
            timeseries: ts,
            ..Default::default()
        }
    }

    #[test]
    fn round_trip_is_bit_exact_including_stale_markers() {
        let req = sample_request();
        let body = encode(&req);
        let d = decode_write(
            Some(CONTENT_TYPE_V2),
            Some("snappy"),
            &body,
            &Limits::default(),
        )
        .expect("valid");
        assert_eq!(d.version, Version::V2);
        assert_eq!((d.histograms, d.exemplars), (0, 0));
        assert_bit_exact(&d.request, &req);
        assert_eq!(d.request.metadata, req.metadata);
        assert_eq!(
            d.request.timeseries[0].samples[1].v.to_bits(),
            STALE_NAN_BITS
        );
    }

    #[test]
    fn encoder_interns_each_string_once_with_empty_first() {
        let msg = to_proto(&sample_request());
        assert_eq!(msg.symbols.first().map(Vec::as_slice), Some(&b""[..]));
        let mut sorted = msg.symbols.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), msg.symbols.len());
    }

    #[test]
    fn unsorted_labels_are_sorted() {
        let d = decode(
            &raw(&request(vec![series(&[3, 4, 1, 2])])),
            &Limits::default(),
        )
        .expect("valid");
        assert_eq!(
            d.request.timeseries[0].labels,
            Labels::from_pairs([("__name__", "up"), ("job", "a")])
        );
    }

    #[test]
    fn symbol_reference_out_of_range_is_400() {
        let err = decode(
            &raw(&request(vec![series(&[1, 2, 3, 9])])),
            &Limits::default(),
        )
        .expect_err("range");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "series 0 ({__name__=\"up\"}): labels_refs points to symbol 9 but the symbols \
             table has 5 entries"
        );
        let mut ts = series(&[1, 2]);
        ts.metadata = Some(proto::v2::Metadata {
            r#type: 1,
            help_ref: 0,
            unit_ref: 77,
        });
        let err = decode(&raw(&request(vec![ts])), &Limits::default()).expect_err("range");
        assert!(
            err.to_string().ends_with(
                "metadata.unit_ref points to symbol 77 but the symbols table has 5 entries"
            ),
            "{err}"
        );
    }

    #[test]
    fn odd_labels_refs_is_400() {
        let err =
            decode(&raw(&request(vec![series(&[1, 2, 3])])), &Limits::default()).expect_err("odd");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "series 0 ({__name__=\"up\"}): odd number of labels_refs (3); they must be \
             name/value pairs"
        );
    }

    #[test]
    fn first_symbol_must_be_empty() {
        let mut msg = request(vec![series(&[1, 2])]);
        msg.symbols[0] = b"oops".to_vec();
        let err = decode(&raw(&msg), &Limits::default()).expect_err("symbols[0]");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "remote-write 2.0 symbols[0] must be the empty string; got \"oops\""
        );
        msg.symbols.clear();
        let err = decode(&raw(&msg), &Limits::default()).expect_err("no symbols");
        assert_eq!(
            err.to_string(),
            "remote-write 2.0 symbols[0] must be the empty string; got an empty symbols table"
        );
    }

    #[test]
    fn empty_request_is_accepted() {
        let d = decode(&[], &Limits::default()).expect("valid");
        assert_eq!(d.request, WriteRequest::default());
    }

    #[test]
    fn invalid_utf8_symbol_is_400() {
        let mut msg = request(vec![series(&[1, 2])]);
        msg.symbols.push(b"\xc3\x28".to_vec());
        let err = decode(&raw(&msg), &Limits::default()).expect_err("utf8");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "invalid UTF-8 in remote-write 2.0 symbol 5: invalid utf-8 sequence of 1 bytes \
             from index 0"
        );
    }

    #[test]
    fn label_rules_apply_to_v2() {
        // Missing name, duplicate name, empty name, label count.
        let cases: &[(&[u32], &str)] = &[
            (
                &[3, 4],
                "series 0 ({job=\"a\"}): missing metric name (label \"__name__\")",
            ),
            (&[1, 2, 3, 4, 3, 2], "duplicate label name \"job\""),
            (
                &[1, 2, 0, 4],
                "series 0 ({__name__=\"up\"}): empty label name",
            ),
        ];
        for (refs, want) in cases {
            let err = decode(&raw(&request(vec![series(refs)])), &Limits::default())
                .expect_err("invalid");
            assert_eq!(err.status(), 400);
            assert!(err.to_string().contains(want), "{err}");
        }
        let limits = Limits {
            max_labels_per_series: 1,
            ..Limits::default()
        };
        let err = decode(&raw(&request(vec![series(&[1, 2, 3, 4])])), &limits).expect_err("n");
        assert_eq!(
            err.to_string(),
            "too many labels in series 0; got 2; cannot exceed 1 (limit max_labels_per_series)"
        );
    }

    #[test]
    fn metadata_is_decoded_per_family() {
        let msg = proto::v2::Request {
            symbols: symbols(&[
                "",
                "__name__",
                "rq_bucket",
                "rq_sum",
                "Latency.",
                "seconds",
                "rq_count",
                "up",
                "up_count",
            ]),
            timeseries: vec![
                proto::v2::TimeSeries {
                    metadata: Some(proto::v2::Metadata {
                        r#type: 3,
                        help_ref: 4,
                        unit_ref: 5,
                    }),
                    ..series(&[1, 2])
                },
                proto::v2::TimeSeries {
                    metadata: Some(proto::v2::Metadata {
                        r#type: 3,
                        help_ref: 4,
                        unit_ref: 5,
                    }),
                    ..series(&[1, 3])
                },
                // Unspecified type and no help or unit: nothing to record.
                proto::v2::TimeSeries {
                    metadata: Some(proto::v2::Metadata::default()),
                    ..series(&[1, 7])
                },
                // A counter named *_count keeps its name as the family.
                proto::v2::TimeSeries {
                    metadata: Some(proto::v2::Metadata {
                        r#type: 1,
                        help_ref: 0,
                        unit_ref: 0,
                    }),
                    ..series(&[1, 8])
                },
            ],
            ..Default::default()
        };
        let d = decode(&raw(&msg), &Limits::default()).expect("valid");
        assert_eq!(
            d.request.metadata,
            [
                MetricMetadata {
                    metric_family: "rq".into(),
                    kind: MetricType::Histogram,
                    help: "Latency.".into(),
                    unit: "seconds".into(),
                },
                MetricMetadata {
                    metric_family: "up_count".into(),
                    kind: MetricType::Counter,
                    ..Default::default()
                },
            ]
        );
    }

    #[test]
    fn histograms_and_exemplars_are_counted_not_dropped_silently() {
        let mut with_both = series(&[1, 2]);
        with_both.exemplars = vec![
            proto::v2::Exemplar {
                value: 1.0,
                timestamp: 2
            };
            3
        ];
        let mut histogram_only = series(&[1, 2, 3, 4]);
        histogram_only.samples.clear();
        histogram_only.histograms = vec![proto::v2::Histogram { timestamp: 1 }; 2];
        let d = decode(
            &raw(&request(vec![with_both, histogram_only])),
            &Limits::default(),
        )
        .expect("valid");
        assert_eq!((d.histograms, d.exemplars), (2, 3));
        assert_eq!(d.request.timeseries.len(), 1);
    }

    #[test]
    fn start_timestamps_are_accepted_and_ignored() {
        let mut ts = series(&[1, 2]);
        ts.samples[0].start_timestamp = 1_700_000_000_000;
        let d = decode(&raw(&request(vec![ts])), &Limits::default()).expect("valid");
        assert_eq!(d.request.timeseries[0].samples, [Sample::new(1, 1.0)]);
    }

    #[test]
    fn v1_body_sent_as_v2_is_refused() {
        let body = crate::encode_v1(&sample_request());
        let err = decode_write(Some(CONTENT_TYPE_V2), None, &body, &Limits::default())
            .expect_err("mismatch");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "corrupt protobuf (remote-write 2.0): the body has the top-level fields of a \
             remote-write 1.0 request; send it with content type \"application/x-protobuf\""
        );
    }

    #[test]
    fn corrupt_protobuf_is_400() {
        let body = snappy::compress(&[0x2a, 50, 0]);
        let err = decode_write(Some(CONTENT_TYPE_V2), None, &body, &Limits::default())
            .expect_err("corrupt");
        assert_eq!(err.status(), 400);
        assert!(
            err.to_string()
                .starts_with("corrupt protobuf (remote-write 2.0): "),
            "{err}"
        );
    }

    #[test]
    fn labels_refs_are_packed_on_the_wire() {
        // Field 1, wire type 2 (packed): tag byte 0x0a.
        let bytes = series(&[1, 2]).encode_to_vec();
        assert_eq!(&bytes[..4], &[0x0a, 0x02, 0x01, 0x02]);
    }
}
