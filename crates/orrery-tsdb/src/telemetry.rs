//! Every metric this crate reports about itself, declared in one place. The server
//! renders them at `/metrics`; names follow Prometheus conventions.

use std::sync::atomic::{AtomicU64, Ordering};

/// Whether a metric only goes up or can go both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic.
    Counter,
    /// Point-in-time value.
    Gauge,
}

/// One metric value for exposition.
#[derive(Debug, Clone)]
pub struct MetricValue {
    /// Metric name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Current value.
    pub value: f64,
}

/// Counters updated on the hot paths; gauges are computed on demand in `Db::metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub samples_appended: AtomicU64,
    pub samples_out_of_order: AtomicU64,
    pub samples_duplicate: AtomicU64,
    pub samples_too_old: AtomicU64,
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
    pub wal_records: AtomicU64,
    pub wal_corruptions: AtomicU64,
    pub wal_replay_unknown_series: AtomicU64,
    pub checkpoints: AtomicU64,
    pub head_cuts: AtomicU64,
    pub blocks_written: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_failures: AtomicU64,
    pub retention_time_deletions: AtomicU64,
    pub retention_size_deletions: AtomicU64,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        if n > 0 {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn values(&self) -> Vec<MetricValue> {
        let c = |name, help, a: &AtomicU64| MetricValue {
            name,
            help,
            kind: MetricKind::Counter,
            value: a.load(Ordering::Relaxed) as f64,
        };
        vec![
            c("orrery_tsdb_samples_appended_total", "Samples stored (in order and out of order).", &self.samples_appended),
            c("orrery_tsdb_samples_out_of_order_total", "Samples stored out of order, within the window.", &self.samples_out_of_order),
            c("orrery_tsdb_samples_duplicate_total", "Samples rejected because the series already had that timestamp (first value kept).", &self.samples_duplicate),
            c("orrery_tsdb_samples_too_old_total", "Samples rejected because they were older than the out-of-order window.", &self.samples_too_old),
            c("orrery_tsdb_series_created_total", "Series created in the head.", &self.series_created),
            c("orrery_tsdb_series_removed_total", "Series removed from the head after their data moved to blocks.", &self.series_removed),
            c("orrery_tsdb_wal_records_total", "Records written to the WAL.", &self.wal_records),
            c("orrery_tsdb_wal_corruptions_total", "Corrupt or torn WAL records found at replay.", &self.wal_corruptions),
            c("orrery_tsdb_wal_replay_unknown_series_total", "WAL samples skipped at replay because their series record was missing.", &self.wal_replay_unknown_series),
            c("orrery_tsdb_checkpoints_total", "Head checkpoints written.", &self.checkpoints),
            c("orrery_tsdb_head_cuts_total", "Times head data was persisted to blocks.", &self.head_cuts),
            c("orrery_tsdb_blocks_written_total", "Blocks written from the head.", &self.blocks_written),
            c("orrery_tsdb_compactions_total", "Compactions completed.", &self.compactions),
            c("orrery_tsdb_compaction_failures_total", "Compactions that failed.", &self.compaction_failures),
            c("orrery_tsdb_retention_time_deletions_total", "Blocks deleted by time retention.", &self.retention_time_deletions),
            c("orrery_tsdb_retention_size_deletions_total", "Blocks deleted by size retention.", &self.retention_size_deletions),
        ]
    }
}
