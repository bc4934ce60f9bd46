//! An in-memory [`Queryable`] for tests and the PromQL conformance runner: series in a
//! sorted map, matchers evaluated by scanning. Not for production data sizes.

use orrery_model::{Labels, Matcher, MetricMetadata, Queryable, Sample, Series, StorageError};
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
