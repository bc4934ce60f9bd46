//! The contracts between ingest, storage and query: what a write carries, how storage
//! takes it, and how queries read it back. `orrery-tsdb` implements both traits;
//! `orrery-promql` and the HTTP API read through [`Queryable`] only.

use crate::{Labels, Matcher, Sample, StorageError, WriteBatch};

/// One series with its samples in a write.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    /// The series identity, validated by the decoder (sorted, unique, has `__name__`).
    pub labels: Labels,
    /// Samples in the order the sender gave them.
    pub samples: Vec<Sample>,
}

/// Prometheus metric types, as carried by remote-write metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    /// Unknown or unspecified.
    #[default]
    Unknown,
    /// A monotonic counter.
    Counter,
    /// A gauge.
    Gauge,
    /// A classic or native histogram.
    Histogram,
    /// A gauge histogram.
    GaugeHistogram,
    /// A summary.
    Summary,
    /// An info metric.
    Info,
    /// A state set.
    StateSet,
}

impl MetricType {
    /// The number remote-write's `MetricType` enums (1.0 and 2.0 agree) give this type;
    /// the WAL stores the same number.
    pub fn code(self) -> u8 {
        match self {
            MetricType::Unknown => 0,
            MetricType::Counter => 1,
            MetricType::Gauge => 2,
            MetricType::Histogram => 3,
            MetricType::GaugeHistogram => 4,
            MetricType::Summary => 5,
            MetricType::Info => 6,
            MetricType::StateSet => 7,
        }
    }

    /// The inverse of [`MetricType::code`]; numbers it does not know are `Unknown`.
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            _ => MetricType::Unknown,
        }
    }

    /// The lowercase name the Prometheus metadata API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }
}

/// TYPE/HELP/UNIT of a metric family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricMetadata {
    /// The family name (`http_requests_total`, or `http_request_duration_seconds` for
    /// a histogram's `_bucket`/`_sum`/`_count` series).
    pub metric_family: String,
    /// The type.
    pub kind: MetricType,
    /// Help text.
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// A decoded, validated write: what one remote-write request carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteRequest {
    /// Series with samples.
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata, possibly for families with no samples in this request.
    pub metadata: Vec<MetricMetadata>,
}

impl WriteRequest {
    /// Total number of samples across all series.
    pub fn sample_count(&self) -> usize {
        self.timeseries.iter().map(|s| s.samples.len()).sum()
    }
}

/// What storage did with an accepted write. Samples it did not store are counted by
/// reason, never dropped silently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Samples stored.
    pub samples_written: u64,
    /// Samples with a timestamp already present in the series; the first value is kept.
    pub duplicates: u64,
    /// Samples older than the out-of-order window.
    pub too_old: u64,
    /// New series created by this write.
    pub series_created: u64,
}

impl AppendOutcome {
    /// Adds another outcome's counts to this one.
    pub fn merge(&mut self, o: &AppendOutcome) {
        self.samples_written += o.samples_written;
        self.duplicates += o.duplicates;
        self.too_old += o.too_old;
        self.series_created += o.series_created;
    }
}

/// Storage that takes writes. A successful return means the write is durable
/// according to the configured WAL policy.
pub trait Appendable: Send + Sync {
    /// Appends a whole batch atomically with respect to validation: either every
    /// sample is considered (and stored or counted) or an error is returned and nothing
    /// changed.
    fn append_batch(&self, batch: &WriteBatch<'_>) -> Result<AppendOutcome, StorageError>;

    /// [`Appendable::append_batch`] for an owned request.
    fn append(&self, req: &WriteRequest) -> Result<AppendOutcome, StorageError> {
        self.append_batch(&WriteBatch::from_request(req))
    }
}

/// A series and its samples in a queried time range, sorted by timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Identity.
    pub labels: Labels,
    /// Samples with `mint <= t <= maxt`, increasing `t`, no duplicate timestamps.
    pub samples: Vec<Sample>,
}

/// Storage that answers reads. Time bounds are inclusive milliseconds. Results are
/// sorted by labels. An empty matcher list is an error for selects (the caller must
/// say what it wants) but means "everything" for label names and values.
pub trait Queryable: Send + Sync {
    /// Series matching all `matchers` that have samples in `[mint, maxt]`, with them.
    fn select(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError>;

    /// Label sets of the series matching all `matchers` with data in `[mint, maxt]`.
    fn series(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Labels>, StorageError>;

    /// Sorted label names of series with data in `[mint, maxt]` matching any of the
    /// matcher sets (all series when `matcher_sets` is empty).
    fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<String>, StorageError>;

    /// Sorted values of label `name` over series with data in `[mint, maxt]`
    /// matching any of the matcher sets (all series when empty).
    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<String>, StorageError>;

    /// Metadata received for metric families, keyed by family name.
    fn metadata(&self) -> Vec<MetricMetadata> {
        Vec::new()
    }
}
