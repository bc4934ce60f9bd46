//! The synthetic multi-cluster dataset: which series exist, when each one is scraped,
//! and how its values move.
//!
//! This module is pure: it does no I/O and is fully determined by [`Config`] (the seed,
//! the sizes and the end time), so two runs with the same configuration replay exactly the
//! same samples. It owns the *shape* of the data ([`Dataset::build`], in `topology.rs`)
//! and the *values* ([`ValueGen`], in `values.rs`); turning samples into request bodies is
//! `batches.rs`'s job.
//!
//! Design constraints:
//! 1. Every series belongs to one scrape target, and its sample of step `k` is at
//!    `start + target.offset_ms + k * 15000 + jitter(target, k)`: the same offset every time,
//!    like Prometheus's hash-based scrape offsets, plus the scrape's own jitter
//!    (`jitter.rs`: a few ms, 0 when a Prometheus-like sender snaps it within 2 ms, and a
//!    few per mille of scrapes 1–3 s late). The jitter depends only on the target's stream
//!    and the step, so all series of one scrape share its timestamp. With
//!    [`Jitter::None`] the jitter is 0 (the old, idealised grid).
//! 2. The number of series alive at any step is constant and close to `Config::series`:
//!    churn replaces pods (the old pod's series get one stale marker at the step the new
//!    pod's series start), it never adds or removes capacity.
//! 3. A series' values depend only on its own random stream, never on which other series
//!    are generated before it, so the replay may shard series across senders freely.
//!    Histogram buckets of one histogram share a stream so that they stay cumulative.
//!    Target-wide events (a process restart resetting the target's counters) come from the
//!    target's own stream, which is fixed by the seed and the target's job and instance.
//! 4. Series live less than a block: churned pods end and start inside the range (their
//!    lifetimes are shorter than the 2 h block range), and gauges include ones that move at
//!    every scrape (`move_prob` 1) and ones that rarely move, beside constant series.

mod jitter;
mod topology;
mod values;

use std::collections::BTreeMap;

use orrery_model::Labels;

pub use jitter::{Jitter, SenderClass};
pub use values::{Model, ValueGen};

/// The scrape interval, fixed like the common Prometheus default.
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Series alive at every step, across all clusters (churned series come on top).
    pub series: usize,
    /// Length of the time range in hours (fractions allowed).
    pub hours: f64,
    /// Number of clusters; every series carries `cluster="cluster-<i>"`.
    pub clusters: usize,
    /// Fraction of deployments that roll out (replace all their pods) during the range.
    pub churn: f64,
    /// Seed of every random stream.
    pub seed: u64,
    /// End of the time range in Unix milliseconds; the last scrape is before it.
    pub end_ms: i64,
    /// Whether scrape timestamps jitter like real ones or sit on the grid exactly.
    pub jitter: Jitter,
}

/// One scrape target (its `instance` is in its series' labels) with its fixed scrape offset.
#[derive(Debug, Clone)]
pub struct Target {
    /// The `job` label.
    pub job: String,
    /// Milliseconds after each 15s step at which this target is scraped.
    pub offset_ms: i64,
    /// The target's own random stream (jitter, sender class, restarts).
    pub stream: u64,
    /// How its sender treats timestamps.
    pub class: SenderClass,
    /// Steps at which the process behind it restarts, resetting its counters (empty for
    /// node-exporter and kube-state-metrics, whose counters survive their restarts).
    pub restarts: Vec<u32>,
}

/// The kind of a metric family, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FamilyKind {
    /// Monotonic counter (may reset).
    Counter,
    /// Gauge.
    Gauge,
    /// Classic histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// Info-style or state-set series: mostly constant 0/1.
    Info,
}

/// One series: identity, lifetime and value model.
#[derive(Debug, Clone)]
pub struct SeriesSpec {
    /// Full label set, including `__name__`, `cluster`, `job` and `instance`.
    pub labels: Labels,
    /// Index into [`Dataset::targets`].
    pub target: u32,
    /// First step with a real sample.
    pub first_step: u32,
    /// One past the last step with a real sample. If it is before the end of the range,
    /// the series gets a stale marker at this step.
    pub end_step: u32,
    /// How values evolve.
    pub model: Model,
    /// Random stream id; shared by the series of one histogram.
    pub stream: u64,
}

/// The whole dataset: targets, series and the time grid.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The configuration it was built from.
    pub config: Config,
    /// Timestamp of step 0 before the per-target offset, in Unix milliseconds.
    pub start_ms: i64,
    /// Number of scrape steps.
    pub steps: u32,
    /// Scrape targets.
    pub targets: Vec<Target>,
    /// Every series that has at least one sample, in generation order.
    pub series: Vec<SeriesSpec>,
    /// Metric families by name.
    pub families: BTreeMap<String, FamilyKind>,
}

/// Counts that describe a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Distinct series over the whole range.
    pub series_total: usize,
    /// Fewest series with a real sample at one step.
    pub active_min: usize,
    /// Most series with a real sample at one step.
    pub active_max: usize,
    /// Samples including stale markers.
    pub samples_total: u64,
    /// Stale markers.
    pub stale_markers: u64,
    /// Scrape steps.
    pub steps: u32,
    /// Metric families.
    pub families: usize,
    /// Scrape targets.
    pub targets: usize,
}

impl Dataset {
    /// Builds the dataset for `config`.
    pub fn build(config: Config) -> Dataset {
        topology::build(config)
    }

    /// The timestamp of `series` at `step`.
    pub fn time_ms(&self, series: &SeriesSpec, step: u32) -> i64 {
        let t = &self.targets[series.target as usize];
        let jitter = match self.config.jitter {
            Jitter::None => 0,
            Jitter::Realistic => {
                jitter::scrape_jitter_ms(self.config.seed, t.stream, t.class, step)
            }
        };
        self.start_ms + t.offset_ms + step as i64 * SCRAPE_INTERVAL_MS + jitter
    }

    /// Whether `series` has a stale marker (its end is inside the range).
    pub fn has_stale_marker(&self, series: &SeriesSpec) -> bool {
        series.end_step < self.steps
    }

    /// Targets per job, like `apiserver×8, kubelet×120`.
    pub fn jobs(&self) -> String {
        let mut by_job: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &self.targets {
            *by_job.entry(t.job.as_str()).or_default() += 1;
        }
        let parts: Vec<String> = by_job.iter().map(|(j, n)| format!("{j}×{n}")).collect();
        parts.join(", ")
    }

    /// Counts series, samples and activity per step.
    pub fn summary(&self) -> Summary {
        let steps = self.steps as usize;
        let mut delta = vec![0i64; steps + 1];
        let mut samples = 0u64;
        let mut stale = 0u64;
        for s in &self.series {
            delta[s.first_step as usize] += 1;
            delta[s.end_step as usize] -= 1;
            samples += (s.end_step - s.first_step) as u64;
            if self.has_stale_marker(s) {
                stale += 1;
            }
        }
        let (mut active, mut min, mut max) = (0i64, i64::MAX, 0i64);
        for d in &delta[..steps] {
            active += d;
            min = min.min(active);
            max = max.max(active);
        }
        Summary {
            series_total: self.series.len(),
            active_min: min.max(0) as usize,
            active_max: max as usize,
            samples_total: samples + stale,
            stale_markers: stale,
            steps: self.steps,
            families: self.families.len(),
            targets: self.targets.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn small(seed: u64) -> Dataset {
        Dataset::build(Config {
            series: 6_000,
            hours: 0.5,
            clusters: 2,
            churn: 0.5,
            seed,
            end_ms: 1_700_000_000_000,
            jitter: Jitter::Realistic,
        })
    }

    #[test]
    fn same_seed_builds_identical_series_and_values() {
        let (a, b) = (small(42), small(42));
        assert_eq!(a.series.len(), b.series.len());
        for (x, y) in a.series.iter().zip(&b.series) {
            assert_eq!(x.labels, y.labels);
            assert_eq!((x.first_step, x.end_step), (y.first_step, y.end_step));
            let (mut gx, mut gy) = (ValueGen::new(&a, x), ValueGen::new(&b, y));
            for _ in x.first_step..x.end_step {
                assert_eq!(gx.next(&x.model).to_bits(), gy.next(&y.model).to_bits());
            }
        }
        let other = small(43);
        assert!(
            other
                .series
                .iter()
                .zip(&a.series)
                .any(|(x, y)| x.labels != y.labels),
            "a different seed should change generated names"
        );
    }

    #[test]
    fn active_series_per_step_matches_configured_count() {
        let d = small(1);
        let s = d.summary();
        assert_eq!(
            s.active_min, s.active_max,
            "churn must keep capacity constant"
        );
        let want = d.config.series as f64;
        let got = s.active_min as f64;
        assert!(
            (got - want).abs() / want < 0.02,
            "active series {got}; want about {want}"
        );
        assert!(s.series_total > s.active_max, "churn should add series");
        assert_eq!(s.steps, 120);
    }

    #[test]
    fn churned_pods_get_one_stale_marker_when_replacements_start() {
        let d = small(7);
        let ended: Vec<&SeriesSpec> = d.series.iter().filter(|s| d.has_stale_marker(s)).collect();
        assert!(!ended.is_empty(), "churn 0.5 must end some series");
        let starts: HashSet<(String, u32)> = d
            .series
            .iter()
            .filter(|s| s.first_step > 0)
            .map(|s| {
                (
                    s.labels.get("namespace").unwrap_or("").to_string(),
                    s.first_step,
                )
            })
            .collect();
        for s in ended {
            assert!(
                s.labels.get("pod").is_some(),
                "only pod series churn: {}",
                s.labels
            );
            // A replacement in the same namespace starts at the step of the stale marker.
            let ns = s.labels.get("namespace").unwrap_or("").to_string();
            assert!(
                starts.contains(&(ns, s.end_step)),
                "no replacement for {}",
                s.labels
            );
        }
        let sum = d.summary();
        assert_eq!(
            sum.samples_total,
            d.series
                .iter()
                .map(|s| (s.end_step - s.first_step) as u64)
                .sum::<u64>()
                + sum.stale_markers
        );
    }

    #[test]
    fn timestamps_are_on_the_grid_with_a_fixed_offset_and_before_the_end() {
        let mut d = small(3);
        d.config.jitter = Jitter::None;
        for s in d.series.iter().take(500) {
            let t0 = d.time_ms(s, s.first_step);
            let t1 = d.time_ms(s, s.first_step + 1);
            assert_eq!(t1 - t0, SCRAPE_INTERVAL_MS);
            assert!(d.time_ms(s, d.steps - 1) < d.config.end_ms);
        }
        let offsets: HashSet<i64> = d.targets.iter().map(|t| t.offset_ms).collect();
        assert!(offsets.len() > 1, "targets should have different offsets");
    }

    #[test]
    fn every_series_has_cluster_job_and_instance_and_is_unique() {
        let d = small(5);
        let mut seen = HashSet::new();
        for s in &d.series {
            for l in ["__name__", "cluster", "job", "instance"] {
                assert!(s.labels.get(l).is_some(), "{} lacks {l}", s.labels);
            }
            assert!(seen.insert(s.labels.clone()), "duplicate {}", s.labels);
        }
        for f in [
            "node_cpu_seconds_total",
            "container_cpu_usage_seconds_total",
            "kube_pod_info",
        ] {
            assert!(d.families.contains_key(f), "missing family {f}");
        }
        assert_eq!(
            d.families.get("apiserver_request_duration_seconds"),
            Some(&FamilyKind::Histogram)
        );
    }

    #[test]
    fn histogram_buckets_stay_cumulative() {
        let d = small(9);
        let group: Vec<&SeriesSpec> = {
            let first = d
                .series
                .iter()
                .find(|s| {
                    s.labels.metric_name() == Some("apiserver_request_duration_seconds_bucket")
                })
                .expect("a bucket");
            d.series
                .iter()
                .filter(|s| s.stream == first.stream && s.labels.get("le").is_some())
                .collect()
        };
        assert!(group.len() > 5);
        let mut gens: Vec<ValueGen> = group.iter().map(|s| ValueGen::new(&d, s)).collect();
        let le = |s: &SeriesSpec| -> f64 {
            let v = s.labels.get("le").unwrap();
            if v == "+Inf" {
                f64::INFINITY
            } else {
                v.parse().unwrap()
            }
        };
        for _ in 0..d.steps {
            let mut vals: Vec<(f64, f64)> = group
                .iter()
                .zip(gens.iter_mut())
                .map(|(s, g)| (le(s), g.next(&s.model)))
                .collect();
            vals.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                vals.windows(2).all(|w| w[0].1 <= w[1].1),
                "not cumulative: {vals:?}"
            );
        }
    }

    #[test]
    fn jittered_timestamps_are_shared_per_scrape_increasing_and_before_the_end() {
        let d = small(3);
        let mut per_scrape: std::collections::HashMap<(u32, u32), i64> = Default::default();
        let (mut off_grid, mut late, mut total) = (0u64, 0u64, 0u64);
        for s in &d.series {
            let t = &d.targets[s.target as usize];
            let mut prev = i64::MIN;
            for k in s.first_step..s.end_step {
                let ts = d.time_ms(s, k);
                let grid = d.start_ms + t.offset_ms + k as i64 * SCRAPE_INTERVAL_MS;
                let j = ts - grid;
                assert!(
                    (-jitter::MAX_JITTER_MS..=jitter::LATE_MAX_MS).contains(&j),
                    "jitter {j}"
                );
                assert!(ts > prev, "timestamps must increase");
                assert!(ts < d.config.end_ms);
                prev = ts;
                total += 1;
                off_grid += u64::from(j != 0);
                late += u64::from(j >= jitter::LATE_MIN_MS);
                let seen = *per_scrape.entry((s.target, k)).or_insert(ts);
                assert_eq!(seen, ts, "series of one scrape must share its timestamp");
            }
        }
        let (off, late) = (off_grid as f64 / total as f64, late as f64 / total as f64);
        assert!(off > 0.3 && off < 0.8, "off-grid share {off}");
        assert!(late > 0.001 && late < 0.006, "late share {late}");
    }

    #[test]
    fn counters_reset_on_target_restarts_and_the_decreases_are_visible() {
        let d = Dataset::build(Config {
            series: 6_000,
            hours: 24.0,
            clusters: 1,
            churn: 0.0,
            seed: 4,
            end_ms: 1_700_000_000_000,
            jitter: Jitter::Realistic,
        });
        let restarted: HashSet<u32> = (0..d.targets.len() as u32)
            .filter(|&t| !d.targets[t as usize].restarts.is_empty())
            .collect();
        assert!(!restarted.is_empty(), "a day should restart some targets");
        let mut decreases_at_restarts = 0;
        for s in d
            .series
            .iter()
            .filter(|s| restarted.contains(&s.target))
            .filter(|s| matches!(s.model, Model::Counter { .. } | Model::Bucket { .. }))
            .take(200)
        {
            let restarts = &d.targets[s.target as usize].restarts;
            let mut g = ValueGen::new(&d, s);
            let mut prev = f64::NEG_INFINITY;
            for k in s.first_step..s.end_step {
                let v = g.next(&s.model);
                if restarts.contains(&k) && prev > 0.0 {
                    assert!(v < prev, "{} did not reset at {k}: {prev} -> {v}", s.labels);
                    decreases_at_restarts += 1;
                }
                prev = v;
            }
        }
        assert!(decreases_at_restarts > 0);
        assert!(d
            .targets
            .iter()
            .all(|t| t.job != "node-exporter" || t.restarts.is_empty()));
    }

    #[test]
    fn aligned_and_jittered_share_series_and_values_but_not_timestamps() {
        let a = small(8);
        let mut b = small(8);
        b.config.jitter = Jitter::None;
        assert_eq!(a.series.len(), b.series.len());
        let differ = a.series.iter().take(300).any(|s| {
            (s.first_step..s.end_step)
                .any(|k| a.time_ms(s, k) - b.time_ms(s, k) != -SCRAPE_INTERVAL_MS)
        });
        assert!(
            differ,
            "jitter must move some timestamps off the (shifted) grid"
        );
    }

    #[test]
    fn some_series_live_less_than_a_two_hour_block() {
        let d = Dataset::build(Config {
            series: 6_000,
            hours: 2.0,
            clusters: 1,
            churn: 0.25,
            seed: 2,
            end_ms: 1_700_000_000_000,
            jitter: Jitter::Realistic,
        });
        let short = d
            .series
            .iter()
            .filter(|s| s.end_step - s.first_step < d.steps)
            .count();
        assert!(short > 100, "only {short} short-lived series");
    }
}
