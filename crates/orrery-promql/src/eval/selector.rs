//! Vector selectors (lookback and staleness), matrix selectors and subqueries.

use super::{par, Evaluator, RangeArg, RangeSeries, StepSeries, Val};
use crate::error::{PromqlError, Result};
use crate::parse::selector_matchers;
use orrery_model::{is_stale_nan, Sample};
use promql_parser::parser::{MatrixSelector, SubqueryExpr, VectorSelector};

impl Evaluator<'_> {
    pub(crate) fn vector_selector(&mut self, vs: &VectorSelector) -> Result<Val> {
        self.instant_lookup(vs, |p| p.v)
    }

    /// `timestamp(selector)`: the same lookback as [`Self::vector_selector`], but each
    /// step holds the time of the sample found (in seconds) instead of its value, which
    /// is what Prometheus's `timestamp()` reports when its argument is a selector.
    pub(crate) fn vector_selector_timestamps(&mut self, vs: &VectorSelector) -> Result<Val> {
        self.instant_lookup(vs, |p| p.t as f64 / 1000.0)
    }

    /// Finds each step's latest sample within the lookback (skipping stale markers) and
    /// reports `f` of it.
    fn instant_lookup(
        &mut self,
        vs: &VectorSelector,
        f: impl Fn(&Sample) -> f64 + Sync,
    ) -> Result<Val> {
        let ms = selector_matchers(vs)?;
        let refs = self.refs(&vs.at, &vs.offset);
        let (lo, hi) = bounds(&refs);
        let lookback = self.opts.lookback_delta_ms;
        let series = self.q.select(lo - lookback + 1, hi, &ms)?;
        self.account(series.iter().map(|s| s.samples.len()).sum())?;
        // Steps normally read at growing times; then the latest sample at or before
        // each step is found by moving one cursor forward through the samples instead
        // of a binary search per step.
        let sorted_refs = refs.windows(2).all(|w| w[0] <= w[1]);
        let all_values = par::map(&series, |s| {
            let pts = &s.samples;
            let mut idx = 0;
            refs.iter()
                .map(|&r| {
                    if sorted_refs {
                        while idx < pts.len() && pts[idx].t <= r {
                            idx += 1;
                        }
                    } else {
                        idx = pts.partition_point(|p| p.t <= r);
                    }
                    let p = pts.get(idx.checked_sub(1)?)?;
                    (p.t > r - lookback && !is_stale_nan(p.v)).then(|| f(p))
                })
                .collect::<Vec<Option<f64>>>()
        });
        let mut out = Vec::with_capacity(series.len());
        for (s, values) in series.into_iter().zip(all_values) {
            if values.iter().any(Option::is_some) {
                out.push(StepSeries {
                    labels: s.labels,
                    values,
                });
            }
        }
        Ok(Val::Vector(out))
    }

    pub(crate) fn matrix_selector(&mut self, m: &MatrixSelector) -> Result<RangeArg> {
        let ms = selector_matchers(&m.vs)?;
        let range = m.range.as_millis() as i64;
        let ends = self.refs(&m.vs.at, &m.vs.offset);
        let (lo, hi) = bounds(&ends);
        let series = self.q.select(lo - range + 1, hi, &ms)?;
        self.account(series.iter().map(|s| s.samples.len()).sum())?;
        let series = series
            .into_iter()
            .map(|s| RangeSeries {
                labels: s.labels,
                points: s
                    .samples
                    .into_iter()
                    .filter(|p| !is_stale_nan(p.v))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        Ok(RangeArg {
            series,
            range,
            ends,
        })
    }

    pub(crate) fn subquery(&mut self, sq: &SubqueryExpr) -> Result<RangeArg> {
        let range = sq.range.as_millis() as i64;
        let step = match &sq.step {
            Some(d) if !d.is_zero() => d.as_millis() as i64,
            _ => self.opts.default_subquery_step_ms,
        };
        let ends = self.refs(&sq.at, &sq.offset);
        let (lo, hi) = bounds(&ends);
        // The first step-aligned time at or after the earliest window start, with Go's
        // truncating division, exactly as Prometheus aligns subquery steps.
        let first = lo - range;
        let mut start = (first / step) * step;
        if start < first {
            start += step;
        }
        let mut ts = Vec::new();
        let mut t = start;
        while t <= hi {
            ts.push(t);
            t += step;
        }
        let mut child = self.child(ts);
        let val = child.eval(&sq.expr);
        let child_ts = child.ts.clone();
        self.absorb(child);
        let series: Vec<RangeSeries> = match val? {
            Val::Vector(v) => v
                .into_iter()
                .map(|s| RangeSeries {
                    labels: s.labels,
                    points: s
                        .values
                        .iter()
                        .zip(&child_ts)
                        .filter_map(|(v, &t)| v.map(|v| Sample { t, v }))
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
            Val::Scalar(v) => vec![RangeSeries {
                labels: Default::default(),
                points: v
                    .iter()
                    .zip(&child_ts)
                    .map(|(&v, &t)| Sample { t, v })
                    .collect(),
            }],
            Val::String(_) => return Err(PromqlError::Execution("subquery of a string".into())),
        };
        self.account(series.iter().map(|s| s.points.len()).sum())?;
        Ok(RangeArg {
            series,
            range,
            ends,
        })
    }
}

fn bounds(refs: &[i64]) -> (i64, i64) {
    let lo = refs.iter().copied().min().unwrap_or(0);
    let hi = refs.iter().copied().max().unwrap_or(0);
    (lo, hi)
}
