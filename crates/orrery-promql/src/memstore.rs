//! An in-memory [`Queryable`] and [`Appendable`] for tests, the promqltest runner
//! ([`crate::script`]) and rule unit tests (rules append their results into it): series
//! in a sorted map, matchers evaluated by scanning. Not for production data sizes.

use orrery_model::{
    AppendOutcome, Appendable, Labels, Matcher, MetricMetadata, Queryable, Sample, Series,
    StorageError, WriteBatch,
};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// Series kept in memory, sorted by labels.
#[derive(Debug, Default)]
pub struct MemStore {
    series: RwLock<BTreeMap<Labels, Vec<Sample>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples to a series (kept sorted by time; a repeated timestamp keeps the
    /// first value, as storage does).
    pub fn add(&self, labels: Labels, samples: impl IntoIterator<Item = Sample>) {
        let mut m = self.series.write().unwrap_or_else(|p| p.into_inner());
        let v = m.entry(labels).or_default();
        v.extend(samples);
        v.sort_by_key(|s| s.t);
        v.dedup_by_key(|s| s.t);
    }

    /// Removes everything.
    pub fn clear(&self) {
        self.series
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn matching(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Vec<Series> {
        let m = self.series.read().unwrap_or_else(|p| p.into_inner());
        m.iter()
            .filter(|(l, _)| {
                matchers
                    .iter()
                    .all(|mt| mt.matches(l.get(&mt.name).unwrap_or("")))
            })
            .filter_map(|(l, s)| {
                let lo = s.partition_point(|x| x.t < mint);
                let hi = s.partition_point(|x| x.t <= maxt);
                (lo < hi).then(|| Series {
                    labels: l.clone(),
                    samples: s[lo..hi].to_vec(),
                })
            })
            .collect()
    }
}

/// Takes every sample (there is no out-of-order window); a timestamp already present in
/// the series keeps its first value and is counted as a duplicate, as storage does.
/// Metadata is not kept. Never fails.
impl Appendable for MemStore {
    fn append_batch(&self, batch: &WriteBatch<'_>) -> Result<AppendOutcome, StorageError> {
        let mut out = AppendOutcome::default();
        let mut m = self.series.write().unwrap_or_else(|p| p.into_inner());
        for (labels, samples) in batch.iter() {
            if samples.is_empty() {
                continue;
            }
            let labels = labels.to_labels();
            if !m.contains_key(&labels) {
                out.series_created += 1;
            }
            let v = m.entry(labels).or_default();
            for s in samples {
                match v.binary_search_by_key(&s.t, |x| x.t) {
                    Ok(_) => out.duplicates += 1,
                    Err(i) => {
                        v.insert(i, *s);
                        out.samples_written += 1;
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Queryable for MemStore {
    fn select(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        Ok(self.matching(mint, maxt, matchers))
    }

    fn series(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .matching(mint, maxt, matchers)
            .into_iter()
            .map(|s| s.labels)
            .collect())
    }

    fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        sets: &[Vec<Matcher>],
    ) -> Result<Vec<String>, StorageError> {
        let mut out: Vec<String> = Vec::new();
        let all = [Vec::new()];
        for ms in if sets.is_empty() { &all[..] } else { sets } {
            for s in self.matching(mint, maxt, ms) {
                out.extend(s.labels.iter().map(|l| l.name.clone()));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        sets: &[Vec<Matcher>],
    ) -> Result<Vec<String>, StorageError> {
        let mut out: Vec<String> = Vec::new();
        let all = [Vec::new()];
        for ms in if sets.is_empty() { &all[..] } else { sets } {
            for s in self.matching(mint, maxt, ms) {
                out.extend(s.labels.get(name).map(str::to_string));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn metadata(&self) -> Vec<MetricMetadata> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_model::{TimeSeries, WriteRequest};

    fn write(series: &[(&str, &[(i64, f64)])]) -> WriteRequest {
        WriteRequest {
            timeseries: series
                .iter()
                .map(|(name, pts)| TimeSeries {
                    labels: Labels::from_pairs([("__name__", *name), ("job", "j")]),
                    samples: pts.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
                })
                .collect(),
            metadata: Vec::new(),
        }
    }

    fn points(store: &MemStore, name: &str) -> Vec<(i64, f64)> {
        let m = Matcher::new(orrery_model::MatchOp::Equal, "__name__", name).unwrap();
        let got = store.select(i64::MIN, i64::MAX, &[m]).unwrap();
        got.iter()
            .flat_map(|s| s.samples.iter().map(|p| (p.t, p.v)))
            .collect()
    }

    #[test]
    fn appended_samples_are_queryable_in_time_order() {
        let store = MemStore::new();
        let o = store
            .append(&write(&[
                ("a", &[(2_000, 2.0), (1_000, 1.0)]),
                ("b", &[(5, 5.0)]),
            ]))
            .unwrap();
        assert_eq!(
            o,
            AppendOutcome {
                samples_written: 3,
                series_created: 2,
                ..AppendOutcome::default()
            }
        );
        assert_eq!(points(&store, "a"), [(1_000, 1.0), (2_000, 2.0)]);
        assert_eq!(points(&store, "b"), [(5, 5.0)]);
    }

    #[test]
    fn a_repeated_timestamp_keeps_the_first_value_and_is_counted() {
        let store = MemStore::new();
        store.add(
            Labels::from_pairs([("__name__", "a"), ("job", "j")]),
            [Sample::new(1_000, 1.0)],
        );
        let o = store
            .append(&write(&[(
                "a",
                &[(1_000, 9.0), (3_000, 3.0), (3_000, 7.0)],
            )]))
            .unwrap();
        assert_eq!(
            o,
            AppendOutcome {
                samples_written: 1,
                duplicates: 2,
                ..AppendOutcome::default()
            }
        );
        assert_eq!(points(&store, "a"), [(1_000, 1.0), (3_000, 3.0)]);
    }

    #[test]
    fn a_series_without_samples_is_not_created() {
        let store = MemStore::new();
        let o = store.append(&write(&[("a", &[])])).unwrap();
        assert_eq!(o, AppendOutcome::default());
        assert!(points(&store, "a").is_empty());
    }
}
