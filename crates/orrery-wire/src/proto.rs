//! Hand-written protobuf messages for remote-write 1.0 (`prometheus.WriteRequest`) and
//! 2.0 (`io.prometheus.write.v2.Request`), derived with prost because there is no protoc.
//!
//! Only the fields Orrery reads or writes are declared, but every declared field has the
//! tag number of the upstream `.proto` files (kept in
//! `conformance/remote_write/prompb_*.proto`), so fields left out are skipped as unknown
//! fields. Three deliberate departures:
//!
//! 1. Label names, label values, symbols and metadata strings are `bytes`, not `string`,
//!    so that invalid UTF-8 is reported by the decoder with the series it belongs to
//!    instead of as an anonymous protobuf error. The wire encoding is identical.
//! 2. Native histograms and exemplars are declared with just enough fields to be
//!    encoded in tests and counted on decode; their other fields are skipped.
//! 3. Each request message also declares the other version's top-level field numbers
//!    (v1: 4 and 5; v2: 1 and 3, which v2 reserves). Neither version ever sets them, so
//!    when they are present the body was sent with the wrong content type, and the
//!    decoder says so instead of silently accepting an empty request.
//!
//! Enums are declared as `int32`, which has the same wire encoding as a proto3 enum.
//! Sample values are `optional double` (same wire encoding as `double`) so the encoders
//! can keep `-0.0`; see [`encode_value`].

/// Remote-write 1.0 messages (`prompb/remote.proto` and `prompb/types.proto`).
pub(crate) mod v1 {
    /// `prometheus.WriteRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct WriteRequest {
        /// Series with their samples.
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
        /// Metric family metadata.
        #[prost(message, repeated, tag = "3")]
        pub metadata: Vec<MetricMetadata>,
        /// Not part of 1.0: `io.prometheus.write.v2.Request.symbols`, only ever set when a
        /// 2.0 body is decoded as 1.0.
        #[prost(bytes = "vec", repeated, tag = "4")]
        pub v2_symbols: Vec<Vec<u8>>,
        /// Not part of 1.0: `io.prometheus.write.v2.Request.timeseries`, see `v2_symbols`.
        #[prost(bytes = "vec", repeated, tag = "5")]
        pub v2_timeseries: Vec<Vec<u8>>,
    }

    /// `prometheus.TimeSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct TimeSeries {
        /// Label pairs.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// Float samples.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        /// Exemplars, counted only.
        #[prost(message, repeated, tag = "3")]
        pub exemplars: Vec<Exemplar>,
        /// Native histogram samples, counted only.
        #[prost(message, repeated, tag = "4")]
        pub histograms: Vec<Histogram>,
    }

    /// `prometheus.Label`, with `bytes` instead of `string` (see the module doc).
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Label {
        /// Label name.
        #[prost(bytes = "vec", tag = "1")]
        pub name: Vec<u8>,
        /// Label value.
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }

    /// `prometheus.Sample`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Sample {
        /// The value (`fixed64` on the wire). `optional` so that `-0.0`, which prost's
        /// proto3 rule would omit as equal to the default, is still sent; `None` is `0.0`.
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
        /// Milliseconds since the Unix epoch.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }

    /// `prometheus.Exemplar`; `labels` (1) is skipped.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Exemplar {
        /// Exemplar value.
        #[prost(double, tag = "2")]
        pub value: f64,
        /// Exemplar timestamp.
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    /// `prometheus.Histogram`; everything but the timestamp (15) is skipped.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Histogram {
        /// Histogram timestamp.
        #[prost(int64, tag = "15")]
        pub timestamp: i64,
    }

    /// `prometheus.MetricMetadata`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct MetricMetadata {
        /// `MetricMetadata.MetricType`, same numbering as the 2.0 enum.
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        /// Family name.
        #[prost(bytes = "vec", tag = "2")]
        pub metric_family_name: Vec<u8>,
        /// Help text.
        #[prost(bytes = "vec", tag = "4")]
        pub help: Vec<u8>,
        /// Unit.
        #[prost(bytes = "vec", tag = "5")]
        pub unit: Vec<u8>,
    }
}

/// Remote-write 2.0 messages (`io/prometheus/write/v2/types.proto`).
pub(crate) mod v2 {
    /// `io.prometheus.write.v2.Request`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Request {
        /// Reserved in 2.0; 1.0's `timeseries`. Only set when a 1.0 body is decoded as 2.0.
        #[prost(bytes = "vec", repeated, tag = "1")]
        pub v1_timeseries: Vec<Vec<u8>>,
        /// Reserved in 2.0; 1.0's `metadata`, see `v1_timeseries`.
        #[prost(bytes = "vec", repeated, tag = "3")]
        pub v1_metadata: Vec<Vec<u8>>,
        /// The interned strings; `symbols[0]` must be `""`.
        #[prost(bytes = "vec", repeated, tag = "4")]
        pub symbols: Vec<Vec<u8>>,
        /// Series.
        #[prost(message, repeated, tag = "5")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `io.prometheus.write.v2.TimeSeries`; the reserved field 6 (an old created
    /// timestamp) is skipped.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct TimeSeries {
        /// Name/value pairs of indexes into `Request.symbols`.
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        /// Float samples.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
        /// Native histogram samples, counted only.
        #[prost(message, repeated, tag = "3")]
        pub histograms: Vec<Histogram>,
        /// Exemplars, counted only.
        #[prost(message, repeated, tag = "4")]
        pub exemplars: Vec<Exemplar>,
        /// Type, help and unit of the series' family.
        #[prost(message, optional, tag = "5")]
        pub metadata: Option<Metadata>,
    }

    /// `io.prometheus.write.v2.Sample`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Sample {
        /// The value (`fixed64` on the wire). `optional` so that `-0.0`, which prost's
        /// proto3 rule would omit as equal to the default, is still sent; `None` is `0.0`.
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
        /// Milliseconds since the Unix epoch.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
        /// Start (created) timestamp; decoded but not used by Orrery yet.
        #[prost(int64, tag = "3")]
        pub start_timestamp: i64,
    }

    /// `io.prometheus.write.v2.Exemplar`; `labels_refs` (1) is skipped.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Exemplar {
        /// Exemplar value.
        #[prost(double, tag = "2")]
        pub value: f64,
        /// Exemplar timestamp.
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    /// `io.prometheus.write.v2.Histogram`; everything but the timestamp (15) is skipped.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Histogram {
        /// Histogram timestamp.
        #[prost(int64, tag = "15")]
        pub timestamp: i64,
    }

    /// `io.prometheus.write.v2.Metadata`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Metadata {
        /// `Metadata.MetricType`, same numbering as the 1.0 enum.
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        /// Index of the help text in `Request.symbols`.
        #[prost(uint32, tag = "3")]
        pub help_ref: u32,
        /// Index of the unit in `Request.symbols`.
        #[prost(uint32, tag = "4")]
        pub unit_ref: u32,
    }
}

/// A sample value as the encoders send it: omitted only when its bits are all zero
/// (`+0.0`), as Go's protobuf does, so `-0.0` and every NaN payload survive.
pub(crate) fn encode_value(v: f64) -> Option<f64> {
    (v.to_bits() != 0).then_some(v)
}

/// A decoded sample value; an omitted value is `+0.0`.
pub(crate) fn decode_value(v: Option<f64>) -> f64 {
    v.unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn positive_zero_is_omitted_and_negative_zero_is_kept() {
        let zero = v1::Sample {
            value: encode_value(0.0),
            timestamp: 0,
        };
        assert!(zero.encode_to_vec().is_empty());
        let neg = v1::Sample {
            value: encode_value(-0.0),
            timestamp: 0,
        };
        let decoded = v1::Sample::decode(neg.encode_to_vec().as_slice()).expect("valid");
        assert_eq!(decode_value(decoded.value).to_bits(), (-0.0f64).to_bits());
        let decoded = v1::Sample::decode(&[][..]).expect("valid");
        assert_eq!(decode_value(decoded.value).to_bits(), 0);
    }
}
