//! The errors a remote-write body can produce, and the HTTP status each one maps to.
//!
//! Every message is meant to be sent back to the sender as is: it says what was wrong
//! and where (series index and the labels decoded so far), quotes values in truncated
//! form so a hostile body cannot make the answer huge, starts lowercase and has no
//! trailing period.

use std::str::Utf8Error;

use crate::Version;

/// Why a remote-write body was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The Content-Type is not one of the remote-write ones (415).
    #[error(
        "unsupported content type {got:?}; remote-write accepts \"application/x-protobuf\" (1.0), \
         \"application/x-protobuf;proto=prometheus.WriteRequest\" (1.0) or \
         \"application/x-protobuf;proto=io.prometheus.write.v2.Request\" (2.0)"
    )]
    UnsupportedContentType {
        /// The header as received, truncated.
        got: String,
    },

    /// The Content-Encoding is not snappy (415).
    #[error("unsupported content encoding {got:?}; remote-write accepts \"snappy\"")]
    UnsupportedContentEncoding {
        /// The header as received, truncated.
        got: String,
    },

    /// The snappy header announces more bytes than allowed (413); nothing was allocated.
    /// The message names the setting an operator changes, `limits.max_decompressed_size`
    /// (the other limits' messages name settings spelled as their fields).
    #[error(
        "too big decompressed body; got {got} bytes; cannot exceed {max} \
         (limit max_decompressed_size)"
    )]
    TooBigDecompressed {
        /// Decompressed length announced by the body.
        got: usize,
        /// `Limits::max_decompressed_bytes`.
        max: usize,
    },

    /// The body is not valid snappy block format (400).
    #[error("corrupt snappy: {0}")]
    CorruptSnappy(#[source] snap::Error),

    /// The decompressed body is not a valid protobuf message of the version (400).
    #[error("corrupt protobuf ({version}): {source}")]
    CorruptProtobuf {
        /// The version the content type selected.
        version: Version,
        /// What prost reported.
        #[source]
        source: prost::DecodeError,
    },

    /// The body carries top-level fields that only the other version uses, so it was
    /// sent with the wrong Content-Type (400).
    #[error(
        "corrupt protobuf ({declared}): the body has the top-level fields of a {other} \
         request; send it with content type {content_type:?}",
        other = declared.other(),
        content_type = declared.other().content_type()
    )]
    VersionMismatch {
        /// The version the content type selected.
        declared: Version,
    },

    /// More series than `Limits::max_series_per_request` (400).
    #[error(
        "too many series in request; got {got}; cannot exceed {max} \
         (limit max_series_per_request)"
    )]
    TooManySeries {
        /// Series in the request.
        got: usize,
        /// The limit.
        max: usize,
    },

    /// More labels than `Limits::max_labels_per_series` (400).
    #[error(
        "too many labels in series {series}; got {got}; cannot exceed {max} \
         (limit max_labels_per_series)"
    )]
    TooManyLabels {
        /// Index of the series in the request.
        series: usize,
        /// Labels the series carries.
        got: usize,
        /// The limit.
        max: usize,
    },

    /// A label name longer than `Limits::max_label_name_length` bytes (400).
    #[error(
        "too long label name {name:?} in series {series} ({labels}); got {got} bytes; \
         cannot exceed {max} (limit max_label_name_length)"
    )]
    LabelNameTooLong {
        /// Index of the series in the request.
        series: usize,
        /// The labels decoded before this one.
        labels: String,
        /// The name, truncated.
        name: String,
        /// Its length in bytes.
        got: usize,
        /// The limit.
        max: usize,
    },

    /// A label value longer than `Limits::max_label_value_length` bytes (400).
    #[error(
        "too long value for label {name:?} in series {series} ({labels}); got {got} bytes; \
         cannot exceed {max} (limit max_label_value_length)"
    )]
    LabelValueTooLong {
        /// Index of the series in the request.
        series: usize,
        /// The labels decoded before this one.
        labels: String,
        /// The label's name, truncated.
        name: String,
        /// The value's length in bytes.
        got: usize,
        /// The limit.
        max: usize,
    },

    /// A series is invalid (400).
    #[error("series {series} ({labels}): {problem}")]
    InvalidSeries {
        /// Index of the series in the request.
        series: usize,
        /// The labels decoded so far, in the sender's order.
        labels: String,
        /// What is wrong.
        #[source]
        problem: SeriesProblem,
    },

    /// A 1.0 metadata entry is invalid (400).
    #[error("metadata {index}: {problem}")]
    InvalidMetadata {
        /// Index of the entry in `WriteRequest.metadata`.
        index: usize,
        /// What is wrong.
        #[source]
        problem: MetadataProblem,
    },

    /// The 2.0 symbols table does not start with the empty string (400).
    #[error("remote-write 2.0 symbols[0] must be the empty string; got {}", first_symbol(.got))]
    BadFirstSymbol {
        /// The first symbol, truncated; `None` when the table is empty.
        got: Option<String>,
    },

    /// A 2.0 symbol is not valid UTF-8 (400).
    #[error("invalid UTF-8 in remote-write 2.0 symbol {index}: {source}")]
    SymbolInvalidUtf8 {
        /// Index in `Request.symbols`.
        index: usize,
        /// Where the bad byte sequence is.
        #[source]
        source: Utf8Error,
    },
}

fn first_symbol(got: &Option<String>) -> String {
    match got {
        Some(s) => format!("{s:?}"),
        None => "an empty symbols table".to_owned(),
    }
}

impl WireError {
    /// The HTTP status the server should answer with: 415 for an unsupported content
    /// type or encoding, 413 for a body that decompresses too big, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            WireError::UnsupportedContentType { .. }
            | WireError::UnsupportedContentEncoding { .. } => 415,
            WireError::TooBigDecompressed { .. } => 413,
            WireError::CorruptSnappy(_)
            | WireError::CorruptProtobuf { .. }
            | WireError::VersionMismatch { .. }
            | WireError::TooManySeries { .. }
            | WireError::TooManyLabels { .. }
            | WireError::LabelNameTooLong { .. }
            | WireError::LabelValueTooLong { .. }
            | WireError::InvalidSeries { .. }
            | WireError::InvalidMetadata { .. }
            | WireError::BadFirstSymbol { .. }
            | WireError::SymbolInvalidUtf8 { .. } => 400,
        }
    }
}

/// What is wrong with one series.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeriesProblem {
    /// No `__name__` label, or an empty one.
    #[error("missing metric name (label \"__name__\")")]
    MissingMetricName,
    /// A label with an empty name.
    #[error("empty label name")]
    EmptyLabelName,
    /// The same label name twice.
    #[error("duplicate label name {0:?}")]
    DuplicateLabelName(String),
    /// A 1.0 label name that is not UTF-8.
    #[error("invalid UTF-8 in label name: {0}")]
    InvalidUtf8Name(#[source] Utf8Error),
    /// A 1.0 label value that is not UTF-8.
    #[error("invalid UTF-8 in value of label {name:?}: {source}")]
    InvalidUtf8Value {
        /// The label's name, truncated.
        name: String,
        /// Where the bad byte sequence is.
        source: Utf8Error,
    },
    /// A 2.0 reference past the end of the symbols table.
    #[error("{field} points to symbol {reference} but the symbols table has {symbols} entries")]
    SymbolOutOfRange {
        /// `labels_refs`, `metadata.help_ref` or `metadata.unit_ref`.
        field: &'static str,
        /// The reference.
        reference: u32,
        /// Length of the symbols table.
        symbols: usize,
    },
    /// A 2.0 `labels_refs` with an odd length.
    #[error("odd number of labels_refs ({0}); they must be name/value pairs")]
    OddLabelRefs(usize),
}

/// What is wrong with one 1.0 metadata entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataProblem {
    /// `metric_family_name` is empty.
    #[error("empty metric family name")]
    EmptyFamilyName,
    /// A string field is not UTF-8.
    #[error("invalid UTF-8 in {field}: {source}")]
    InvalidUtf8 {
        /// `metric_family_name`, `help` or `unit`.
        field: &'static str,
        /// Where the bad byte sequence is.
        source: Utf8Error,
    },
}
