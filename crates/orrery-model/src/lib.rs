//! Orrery's shared vocabulary: labels, matchers, samples, write requests, and the
//! append and query traits that storage implements and the query engine consumes;
//! relabeling; and the Prometheus/Go compatibility helpers every crate must agree on:
//! [`go`] (RE2-dialect regexes, `Regexp.Expand`, RFC 3339 and civil dates, Go's case
//! mapping), [`gofloat`] (Go's float formatting), [`clock`] (the one settable clock)
//! and [`yaml`] (parsing a configuration text with line and column in its errors).
//!
//! This crate owns the types every other crate speaks. It must not do I/O (callers
//! read files and hand it the text), must not know about wire formats or storage
//! layout, and must stay cheap to compile: it is at the bottom of the dependency graph
//! (see docs/architecture.md).
#![deny(missing_docs)]

mod batch;
pub mod clock;
pub mod de;
mod error;
pub mod go;
pub mod gofloat;
mod labels;
mod matcher;
mod relabel;
mod sample;
mod traits;
mod units;
pub mod yaml;

pub use batch::{LabelsRef, SeriesSpan, WriteBatch};
pub use error::{MatcherError, StorageError};
pub use go::time::format_rfc3339_ms;
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{MatchOp, Matcher};
pub use relabel::{RelabelAction, RelabelConfig, RelabelError, Relabeler};
pub use sample::{is_stale_nan, Sample, STALE_NAN, STALE_NAN_BITS};
pub use traits::{
    AppendOutcome, Appendable, MetricMetadata, MetricType, Queryable, Series, TimeSeries,
    WriteRequest,
};
pub use units::{parse_duration, parse_size};
