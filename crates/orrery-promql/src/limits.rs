//! The query gate: the limits every query runs under, whoever asks (the HTTP API today,
//! rule evaluation next), so that they share one set of slots and one set of numbers.
//!
//! A query first waits for one of `max_concurrent` slots, at most until its deadline
//! (the timeout counts from the moment it asked, queueing included, as in Prometheus's
//! `query.timeout`). It then runs on a blocking thread, and keeps its slot until that
//! thread really finishes, even if the caller stopped waiting at the deadline: a slot
//! stands for CPU and memory in use, not for a caller that is still interested.
//! Storage is read through [`SeriesLimited`], which counts the series every `select`
//! returns against `max_series`; the engine counts samples against `max_samples`.
//!
//! The messages name the settings (`query.max_concurrent`, `query.max_series`) because
//! those are the names an operator can change.

use crate::engine::Engine;
use crate::error::{PromqlError, Result};
use crate::options::EngineOptions;
use orrery_model::{Labels, Matcher, MetricMetadata, Queryable, Series, StorageError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The shared limits and the defaults a query may lower.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Queries evaluated at once; the others wait for a slot. Zero lets nothing run,
    /// so configurations refuse it before a gate is built.
    pub max_concurrent: usize,
    /// Most samples one query may hold in memory.
    pub max_samples: usize,
    /// Most series one query may read from storage (0: no limit).
    pub max_series: usize,
    /// Longest a query may take, waiting for its slot included.
    pub timeout: Duration,
    /// How far back a selector looks for the latest sample.
    pub lookback_delta_ms: i64,
    /// Prometheus's `promql-delayed-name-removal` feature flag, for every query
    /// (see [`EngineOptions::delayed_name_removal`]; default off).
    pub delayed_name_removal: bool,
}

impl Default for QueryLimits {
    /// Prometheus's defaults (`--query.max-concurrency=20`, 2m timeout, 50M samples).
    fn default() -> Self {
        let engine = EngineOptions::default();
        QueryLimits {
            max_concurrent: 20,
            max_samples: engine.max_samples,
            max_series: 0,
            timeout: engine.timeout,
            lookback_delta_ms: engine.lookback_delta_ms,
            delayed_name_removal: engine.delayed_name_removal,
        }
    }
}

/// What one query asks for within the limits: a request may lower the timeout and
/// choose its own lookback delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerySettings {
    /// This query's timeout, waiting for a slot included.
    pub timeout: Duration,
    /// This query's lookback delta.
    pub lookback_delta_ms: i64,
}

/// Slots and limits shared by every query of a process.
#[derive(Debug)]
pub struct QueryGate {
    limits: QueryLimits,
    slots: Arc<Semaphore>,
}

impl QueryGate {
    /// A gate with `limits.max_concurrent` free slots.
    pub fn new(limits: QueryLimits) -> QueryGate {
        QueryGate {
            slots: Arc::new(Semaphore::new(limits.max_concurrent)),
            limits,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &QueryLimits {
        &self.limits
    }

    /// The settings a query gets when it asks for nothing else.
    pub fn default_settings(&self) -> QuerySettings {
        QuerySettings {
            timeout: self.limits.timeout,
            lookback_delta_ms: self.limits.lookback_delta_ms,
        }
    }

    /// Waits for a slot until `settings.timeout` from now. Fails with
    /// [`PromqlError::Busy`] naming `query.max_concurrent` when none freed up.
    pub async fn admit(&self, settings: QuerySettings) -> Result<Admitted> {
        let deadline = Instant::now() + settings.timeout;
        let n = self.limits.max_concurrent;
        let permit =
            match tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned()).await {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(PromqlError::Internal("query slots are closed".into())),
                Err(_) => {
                    return Err(PromqlError::Busy(format!(
                        "query timed out in query queue: all {n} query slots stayed busy for {:?} (limit query.max_concurrent = {n})",
                        settings.timeout
                    )))
                }
            };
        Ok(Admitted {
            permit,
            deadline,
            engine: EngineOptions {
                lookback_delta_ms: settings.lookback_delta_ms,
                max_samples: self.limits.max_samples,
                timeout: deadline.saturating_duration_since(Instant::now()),
                delayed_name_removal: self.limits.delayed_name_removal,
                ..EngineOptions::default()
            },
            max_series: self.limits.max_series,
        })
    }

    /// [`QueryGate::admit`], then [`Admitted::run`].
    pub async fn run<T: Send + 'static>(
        &self,
        storage: Arc<dyn Queryable>,
        settings: QuerySettings,
        job: impl FnOnce(&Engine, &dyn Queryable) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.admit(settings).await?.run(storage, job).await
    }
}

/// A query that holds a slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Admitted {
    permit: OwnedSemaphorePermit,
    deadline: Instant,
    engine: EngineOptions,
    max_series: usize,
}

impl Admitted {
    /// Runs `job` on a blocking thread with an engine that stops at the deadline, over
    /// `storage` limited to `max_series`. The slot is held until the job returns.
    pub async fn run<T: Send + 'static>(
        self,
        storage: Arc<dyn Queryable>,
        job: impl FnOnce(&Engine, &dyn Queryable) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let Admitted {
            permit,
            deadline,
            engine,
            max_series,
        } = self;
        let engine = Engine::new(engine);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let q = SeriesLimited::new(&*storage, max_series);
            job(&engine, &q)
        });
        match tokio::time::timeout_at(deadline, task).await {
            Err(_) => Err(PromqlError::Timeout("query execution")),
            Ok(Err(e)) => Err(PromqlError::Internal(format!("query task failed: {e}"))),
            Ok(Ok(r)) => r,
        }
    }
}

/// Storage as one query sees it: every `select` adds its series to a count that may
/// not pass `max_series` (0: no limit).
pub struct SeriesLimited<'a> {
    inner: &'a dyn Queryable,
    max_series: usize,
    seen: AtomicUsize,
}

impl<'a> SeriesLimited<'a> {
    /// `inner`, limited to `max_series` series over all selects.
    pub fn new(inner: &'a dyn Queryable, max_series: usize) -> Self {
        SeriesLimited {
            inner,
            max_series,
            seen: AtomicUsize::new(0),
        }
    }
}

impl Queryable for SeriesLimited<'_> {
    fn select(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        let out = self.inner.select(mint, maxt, matchers)?;
        if self.max_series > 0 {
            let total = self.seen.fetch_add(out.len(), Ordering::Relaxed) + out.len();
            if total > self.max_series {
                return Err(StorageError::LimitExceeded(format!(
                    "query would read more than {n} series from storage (limit query.max_series = {n})",
                    n = self.max_series
                )));
            }
        }
        Ok(out)
    }

    fn series(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<Labels>, StorageError> {
        self.inner.series(mint, maxt, matchers)
    }

    fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<String>, StorageError> {
        self.inner.label_names(mint, maxt, matcher_sets)
    }

    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<String>, StorageError> {
        self.inner.label_values(name, mint, maxt, matcher_sets)
    }

    fn metadata(&self) -> Vec<MetricMetadata> {
        self.inner.metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;
    use orrery_model::Sample;

    fn store(n: usize) -> Arc<dyn Queryable> {
        let s = MemStore::new();
        for i in 0..n {
            s.add(
                Labels::from_pairs([("__name__", "up"), ("i", i.to_string().as_str())]),
                [Sample::new(0, 1.0)],
            );
        }
        Arc::new(s)
    }

    fn gate(max_concurrent: usize, max_series: usize) -> QueryGate {
        QueryGate::new(QueryLimits {
            max_concurrent,
            max_series,
            ..QueryLimits::default()
        })
    }

    #[tokio::test]
    async fn admitted_queries_get_the_gates_name_removal_mode() {
        for delayed in [false, true] {
            let g = QueryGate::new(QueryLimits {
                delayed_name_removal: delayed,
                ..QueryLimits::default()
            });
            let got = g
                .run(store(0), g.default_settings(), |e, _| {
                    Ok(e.options().delayed_name_removal)
                })
                .await;
            assert_eq!(got, Ok(delayed));
        }
    }

    #[tokio::test]
    async fn a_query_waits_for_a_slot_until_its_deadline() {
        let g = gate(1, 0);
        let settings = QuerySettings {
            timeout: Duration::from_millis(50),
            ..g.default_settings()
        };
        let held = g.admit(settings).await.unwrap();
        let e = g.admit(settings).await.unwrap_err();
        assert!(matches!(&e, PromqlError::Busy(m) if m.contains("query.max_concurrent = 1")));
        drop(held);
        let v = g
            .run(store(1), settings, |e, q| e.instant_query(q, "up", 0))
            .await
            .unwrap();
        assert_eq!(v.samples_loaded, 1);
    }

    #[tokio::test]
    async fn series_are_counted_over_every_select_of_a_query() {
        let g = gate(2, 2);
        let s = g.default_settings();
        assert!(g
            .run(store(2), s, |e, q| e.instant_query(q, "up", 0))
            .await
            .is_ok());
        let e = g
            .run(store(2), s, |e, q| e.instant_query(q, "up + up", 0))
            .await
            .unwrap_err();
        assert!(matches!(&e, PromqlError::Limit(m) if m.contains("query.max_series = 2")));
    }
}
