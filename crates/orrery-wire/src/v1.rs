//! Remote-write 1.0 (`prometheus.WriteRequest`): decoding into the model with
//! validation, and encoding from it.
//!
//! Decoding notes:
//!
//! 1. Series without float samples (histogram-only or empty) are validated and their
//!    histograms and exemplars counted, but they are not put in the request: they
//!    carry nothing to store, and the caller rejects histograms by their count.
//! 2. `metadata` entries are kept in the sender's order, one [`MetricMetadata`] each;
//!    a metric type number this code does not know becomes `unknown`.
//! 3. A body that carries fields 4 or 5 (a 2.0 request's symbols and series) was sent
//!    with the wrong Content-Type and is refused rather than read as empty.

use orrery_model::{MetricMetadata, Sample, TimeSeries, WriteRequest};
use prost::Message;

use crate::error::{MetadataProblem, SeriesProblem, WireError};
use crate::series::{metric_type_from_proto, metric_type_to_proto, truncate, SeriesBuilder};
use crate::{proto, snappy, Decoded, Limits, Version};

/// Decodes and validates a decompressed 1.0 body.
pub(crate) fn decode(raw: &[u8], limits: &Limits) -> Result<Decoded, WireError> {
    let msg =
        proto::v1::WriteRequest::decode(raw).map_err(|source| WireError::CorruptProtobuf {
            version: Version::V1,
            source,
        })?;
    if !msg.v2_symbols.is_empty() || !msg.v2_timeseries.is_empty() {
        return Err(WireError::VersionMismatch {
            declared: Version::V1,
        });
    }
    if msg.timeseries.len() > limits.max_series_per_request {
        return Err(WireError::TooManySeries {
            got: msg.timeseries.len(),
            max: limits.max_series_per_request,
        });
    }

    let mut histograms = 0u64;
    let mut exemplars = 0u64;
    let mut timeseries = Vec::with_capacity(msg.timeseries.len());
    for (i, ts) in msg.timeseries.into_iter().enumerate() {
        histograms += ts.histograms.len() as u64;
        exemplars += ts.exemplars.len() as u64;
        let mut b = SeriesBuilder::new(limits, i, ts.labels.len())?;
        for l in ts.labels {
            let name = String::from_utf8(l.name)
                .map_err(|e| b.error(SeriesProblem::InvalidUtf8Name(e.utf8_error())))?;
            let value = String::from_utf8(l.value).map_err(|e| {
                b.error(SeriesProblem::InvalidUtf8Value {
                    name: truncate(&name),
                    source: e.utf8_error(),
                })
            })?;
            b.push(name, value)?;
        }
        let labels = b.finish()?;
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

    let mut metadata = Vec::with_capacity(msg.metadata.len());
    for (index, m) in msg.metadata.into_iter().enumerate() {
        let text = |field: &'static str, bytes: Vec<u8>| {
            String::from_utf8(bytes).map_err(|e| WireError::InvalidMetadata {
                index,
                problem: MetadataProblem::InvalidUtf8 {
                    field,
                    source: e.utf8_error(),
                },
            })
        };
        let metric_family = text("metric_family_name", m.metric_family_name)?;
        if metric_family.is_empty() {
            return Err(WireError::InvalidMetadata {
                index,
                problem: MetadataProblem::EmptyFamilyName,
            });
        }
        metadata.push(MetricMetadata {
            metric_family,
            kind: metric_type_from_proto(m.r#type),
            help: text("help", m.help)?,
            unit: text("unit", m.unit)?,
        });
    }

    Ok(Decoded {
        request: WriteRequest {
            timeseries,
            metadata,
        },
        version: Version::V1,
        histograms,
        exemplars,
    })
}

/// Encodes a request as a snappy-compressed 1.0 body.
pub(crate) fn encode(req: &WriteRequest) -> Vec<u8> {
    snappy::compress(&to_proto(req).encode_to_vec())
}

fn to_proto(req: &WriteRequest) -> proto::v1::WriteRequest {
    proto::v1::WriteRequest {
        timeseries: req
            .timeseries
            .iter()
            .map(|ts| proto::v1::TimeSeries {
                labels: ts
                    .labels
                    .iter()
                    .map(|l| proto::v1::Label {
                        name: l.name.as_bytes().to_vec(),
                        value: l.value.as_bytes().to_vec(),
                    })
                    .collect(),
                samples: ts
                    .samples
                    .iter()
                    .map(|s| proto::v1::Sample {
                        value: proto::encode_value(s.v),
                        timestamp: s.t,
                    })
                    .collect(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .collect(),
        metadata: req
            .metadata
            .iter()
            .map(|m| proto::v1::MetricMetadata {
                r#type: metric_type_to_proto(m.kind),
                metric_family_name: m.metric_family.as_bytes().to_vec(),
                help: m.help.as_bytes().to_vec(),
                unit: m.unit.as_bytes().to_vec(),
            })
            .collect(),
        v2_symbols: Vec::new(),
        v2_timeseries: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use orrery_model::{Labels, MetricType, STALE_NAN, STALE_NAN_BITS};

    use super::*;
    use crate::decode_write;
    use crate::tests::{assert_bit_exact, sample_request};

    fn raw(msg: &proto::v1::WriteRequest) -> Vec<u8> {
        msg.encode_to_vec()
    }

    fn series(labels: &[(&[u8], &[u8])]) -> proto::v1::TimeSeries {
        proto::v1::TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| proto::v1::Label {
                    name: n.to_vec(),
                    value: v.to_vec(),
                })
                .collect(),
            samples: vec![proto::v1::Sample {
                value: Some(1.0),
                timestamp: 1,
            }],
            ..Default::default()
        }
    }

    fn request(ts: Vec<proto::v1::TimeSeries>) -> proto::v1::WriteRequest {
        proto::v1::WriteRequest {
            timeseries: ts,
            ..Default::default()
        }
    }

    #[test]
    fn round_trip_is_bit_exact_including_stale_markers() {
        let req = sample_request();
        let body = encode(&req);
        let d = decode_write(None, Some("snappy"), &body, &Limits::default()).expect("valid");
        assert_eq!(d.version, Version::V1);
        assert_eq!((d.histograms, d.exemplars), (0, 0));
        assert_bit_exact(&d.request, &req);
        assert_eq!(d.request.metadata, req.metadata);
        let stale = d.request.timeseries[0].samples[1].v;
        assert_eq!(stale.to_bits(), STALE_NAN_BITS);
    }

    #[test]
    fn unsorted_labels_are_sorted() {
        let msg = request(vec![series(&[
            (b"job", b"a"),
            (b"__name__", b"up"),
            (b"b", b"c"),
        ])]);
        let d = decode(&raw(&msg), &Limits::default()).expect("valid");
        assert_eq!(
            d.request.timeseries[0].labels,
            Labels::from_pairs([("__name__", "up"), ("b", "c"), ("job", "a")])
        );
    }

    #[test]
    fn invalid_utf8_is_400_naming_the_series_and_label() {
        let msg = request(vec![
            series(&[(b"__name__", b"ok")]),
            series(&[(b"__name__", b"x"), (b"job", b"\xff")]),
        ]);
        let err = decode(&raw(&msg), &Limits::default()).expect_err("utf8");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "series 1 ({__name__=\"x\"}): invalid UTF-8 in value of label \"job\": \
             invalid utf-8 sequence of 1 bytes from index 0"
        );
        let msg = request(vec![series(&[(b"__name__", b"x"), (b"j\xc3", b"a")])]);
        let err = decode(&raw(&msg), &Limits::default()).expect_err("utf8");
        assert!(
            err.to_string()
                .starts_with("series 0 ({__name__=\"x\"}): invalid UTF-8 in label name"),
            "{err}"
        );
    }

    #[test]
    fn too_many_series_is_400_naming_the_limit() {
        let msg = request(vec![series(&[(b"__name__", b"x")]); 3]);
        let limits = Limits {
            max_series_per_request: 2,
            ..Limits::default()
        };
        let err = decode(&raw(&msg), &limits).expect_err("limit");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "too many series in request; got 3; cannot exceed 2 (limit max_series_per_request)"
        );
    }

    #[test]
    fn metadata_is_decoded() {
        let msg = proto::v1::WriteRequest {
            metadata: vec![
                proto::v1::MetricMetadata {
                    r#type: 3,
                    metric_family_name: b"rq_seconds".to_vec(),
                    help: b"Request latency.".to_vec(),
                    unit: b"seconds".to_vec(),
                },
                proto::v1::MetricMetadata {
                    r#type: 99,
                    metric_family_name: b"odd".to_vec(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let d = decode(&raw(&msg), &Limits::default()).expect("valid");
        assert_eq!(
            d.request.metadata,
            [
                MetricMetadata {
                    metric_family: "rq_seconds".into(),
                    kind: MetricType::Histogram,
                    help: "Request latency.".into(),
                    unit: "seconds".into(),
                },
                MetricMetadata {
                    metric_family: "odd".into(),
                    ..Default::default()
                },
            ]
        );
    }

    #[test]
    fn bad_metadata_is_400() {
        let msg = proto::v1::WriteRequest {
            metadata: vec![proto::v1::MetricMetadata {
                r#type: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        let err = decode(&raw(&msg), &Limits::default()).expect_err("empty name");
        assert_eq!(err.to_string(), "metadata 0: empty metric family name");
        let msg = proto::v1::WriteRequest {
            metadata: vec![proto::v1::MetricMetadata {
                metric_family_name: b"a".to_vec(),
                help: b"\xfe".to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let err = decode(&raw(&msg), &Limits::default()).expect_err("utf8");
        assert_eq!(err.status(), 400);
        assert!(
            err.to_string()
                .starts_with("metadata 0: invalid UTF-8 in help: "),
            "{err}"
        );
    }

    #[test]
    fn histograms_and_exemplars_are_counted_not_dropped_silently() {
        let mut with_both = series(&[(b"__name__", b"x")]);
        with_both.exemplars = vec![proto::v1::Exemplar::default(); 2];
        with_both.histograms = vec![proto::v1::Histogram { timestamp: 5 }];
        let mut histogram_only = series(&[(b"__name__", b"h")]);
        histogram_only.samples.clear();
        histogram_only.histograms = vec![proto::v1::Histogram::default(); 3];
        let d = decode(
            &raw(&request(vec![with_both, histogram_only])),
            &Limits::default(),
        )
        .expect("valid");
        assert_eq!((d.histograms, d.exemplars), (4, 2));
        assert_eq!(d.request.timeseries.len(), 1);
    }

    #[test]
    fn v2_body_sent_as_v1_is_refused() {
        let body = crate::encode_v2(&sample_request());
        let err = decode_write(
            Some("application/x-protobuf"),
            None,
            &body,
            &Limits::default(),
        )
        .expect_err("mismatch");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "corrupt protobuf (remote-write 1.0): the body has the top-level fields of a \
             remote-write 2.0 request; send it with content type \
             \"application/x-protobuf;proto=io.prometheus.write.v2.Request\""
        );
    }

    #[test]
    fn corrupt_protobuf_is_400() {
        // Field 1, length-delimited, announcing 100 bytes that are not there.
        let body = snappy::compress(&[0x0a, 100, 1, 2]);
        let err = decode_write(None, None, &body, &Limits::default()).expect_err("corrupt");
        assert_eq!(err.status(), 400);
        assert!(
            err.to_string()
                .starts_with("corrupt protobuf (remote-write 1.0): "),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut raw = raw(&request(vec![series(&[(b"__name__", b"x")])]));
        // Field 15 as a varint, and field 2 (reserved) as bytes.
        raw.extend_from_slice(&[0x78, 0x01, 0x12, 0x01, 0x00]);
        let d = decode(&raw, &Limits::default()).expect("valid");
        assert_eq!(d.request.timeseries.len(), 1);
    }

    #[test]
    fn nan_and_infinities_pass_through() {
        let vals = [
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            STALE_NAN,
            -0.0,
        ];
        let mut ts = series(&[(b"__name__", b"x")]);
        ts.samples = vals
            .iter()
            .enumerate()
            .map(|(i, v)| proto::v1::Sample {
                value: Some(*v),
                timestamp: i as i64,
            })
            .collect();
        let d = decode(&raw(&request(vec![ts])), &Limits::default()).expect("valid");
        let got: Vec<u64> = d.request.timeseries[0]
            .samples
            .iter()
            .map(|s| s.v.to_bits())
            .collect();
        let want: Vec<u64> = vals.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want);
    }
}
