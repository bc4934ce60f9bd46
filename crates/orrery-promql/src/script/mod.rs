//! Prometheus's promqltest script format as a library: the series notation, a script
//! parser, a loader into any appendable store and a runner that checks every `eval` against the
//! [`Engine`], as Prometheus's `promql/promqltest` package is a library that promtool's
//! rule unit tests reuse.
//!
//! - [`series`]: the notation of series lines and values (`metric{l="v"} 1 2+3x4 _ _x2
//!   stale`), the same `input_series` notation `promtool test rules` uses;
//!   [`series::parse_series_line`] and [`series::parse_values`] return a
//!   [`NotationError`] on text that does not follow it.
//! - [`parse_script`]: a whole script into [`Command`]s (`clear`, `load`,
//!   `load_with_nhcb`, `eval` with its expectations, in the current `expect …` syntax
//!   and the v3.0 `eval_fail`/`eval_warn`/… headers). It never fails: a malformed line
//!   becomes a [`Command::Error`] carrying its line.
//! - [`load`]: the float samples of series descriptions into any
//!   [`orrery_model::Appendable`] store (sample k at `k × interval` ms), a later
//!   definition of the same series replacing an earlier one.
//! - [`Runner`]: runs the commands with the reference runner's rules and returns one
//!   [`EvalReport`] per eval; reporting (tables, known-failure lists) is the caller's.
//!
//! This module owns the script format and its comparison rules. It must not know where
//! scripts come from (no file or directory access: callers pass text) and must not
//! print. A query that panics inside the engine is caught and reported as a failed eval
//! (that is a bug the suite must show, not a reason to stop the run); call
//! [`quiet_engine_panics`] once to keep the default panic hook from printing those.

mod parse;
mod run;
pub mod series;

pub use parse::{parse_script, Command, Eval, Expected, ExpectedSeries, Kind, Matcher};
pub use run::{almost_equal, quiet_engine_panics, short, EvalReport, Outcome, Runner, SKIP_NATIVE};
pub use series::{NotationError, SeqValue, SeriesDesc};

use orrery_model::{AppendOutcome, Appendable, StorageError, TimeSeries, WriteRequest};

/// Appends the float samples of `series` (with the 1-based line each came from, as
/// [`Command::Load`] holds them) to `store` in one write, sample k of a series at
/// `k × interval_ms`. As Prometheus's `load` does, a series described twice keeps only
/// its last description. Gaps (`_`) and native-histogram positions add no sample; a
/// series with no float sample is not written. The [`Runner`] loads into its
/// [`MemStore`](crate::MemStore); rule unit tests load `input_series` the same way.
pub fn load(
    store: &dyn Appendable,
    interval_ms: i64,
    series: &[(usize, SeriesDesc)],
) -> Result<AppendOutcome, StorageError> {
    let mut req = WriteRequest::default();
    for (i, (_, d)) in series.iter().enumerate() {
        if series[i + 1..]
            .iter()
            .any(|(_, later)| later.labels == d.labels)
        {
            continue;
        }
        let samples = d.samples(interval_ms);
        if !samples.is_empty() {
            req.timeseries.push(TimeSeries {
                labels: d.labels.clone(),
                samples,
            });
        }
    }
    store.append(&req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;
    use orrery_model::{is_stale_nan, MatchOp, Matcher as LabelMatcher, Queryable};

    #[test]
    fn load_appends_the_input_series_notation_and_the_last_description_wins() {
        let line = |s: &str| series::parse_series_line(s).unwrap();
        let store = MemStore::new();
        let o = load(
            &store,
            60_000,
            &[
                (1, line(r#"up{job="a"} 1+1x2 _ stale"#)),
                (2, line(r#"up{job="b"} 5 5"#)),
                (3, line(r#"up{job="b"} _ 7"#)),
                (4, line(r#"up{job="c"} _x3"#)),
            ],
        )
        .unwrap();
        assert_eq!((o.samples_written, o.series_created), (5, 2));
        let m = LabelMatcher::new(MatchOp::Equal, "__name__", "up").unwrap();
        let got = store.select(i64::MIN, i64::MAX, &[m]).unwrap();
        let pts: Vec<(String, Vec<(i64, f64)>)> = got
            .iter()
            .map(|s| {
                let job = s.labels.get("job").unwrap_or("").to_string();
                (job, s.samples.iter().map(|p| (p.t, p.v)).collect())
            })
            .collect();
        assert_eq!(pts[0].0, "a");
        assert_eq!(&pts[0].1[..3], &[(0, 1.0), (60_000, 2.0), (120_000, 3.0)]);
        assert_eq!(pts[0].1[3].0, 240_000);
        assert!(is_stale_nan(pts[0].1[3].1));
        assert_eq!(pts[1], ("b".to_string(), vec![(60_000, 7.0)]));
        assert_eq!(pts.len(), 2, "a series of gaps only is not written");
    }
}
