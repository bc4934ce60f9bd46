//! Prometheus's promqltest script format as a library: the series notation, a script
//! parser, a loader into [`MemStore`] and a runner that checks every `eval` against the
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
//! - [`load`]: the float samples of series descriptions into a store (sample k at
//!   `k × interval` ms), a later definition of the same series replacing an earlier one.
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

use crate::MemStore;

/// Adds the float samples of `series` (with the 1-based line each came from, as
/// [`Command::Load`] holds them) to `store`, sample k of a series at `k × interval_ms`.
/// As Prometheus's `load` does, a series described twice keeps only its last
/// description. Gaps (`_`) and native-histogram positions add no sample.
pub fn load(store: &mut MemStore, interval_ms: i64, series: &[(usize, SeriesDesc)]) {
    for (i, (_, d)) in series.iter().enumerate() {
        if series[i + 1..]
            .iter()
            .any(|(_, later)| later.labels == d.labels)
        {
            continue;
        }
        let samples = d.samples(interval_ms);
        if !samples.is_empty() {
            store.add(d.labels.clone(), samples);
        }
    }
}
