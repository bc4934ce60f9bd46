//! PromQL functions: the dispatcher and what every function file shares.
//!
//! Range-vector functions live in `range` (with `fit`, the least-squares line of
//! `deriv` and `predict_linear`); the table of all others is `instant`, which hands
//! them to their family's file (`math`, `date`, `label`, `sort`, `histogram`). A name
//! none knows (experimental functions we do not implement, such as `info`) fails with
//! a clear error naming it.
//!
//! Function files depend on this module and on `eval`, never on each other, except
//! in one direction: `instant` (the table) on the families and on `range` for
//! `absent`'s labels, and `range` on `fit`. The recursion `eval` → `functions` →
//! `eval` is inherent to a recursive evaluator.

mod date;
mod fit;
mod histogram;
mod instant;
mod label;
mod math;
mod range;
mod sort;
#[cfg(test)]
mod testutil;

use crate::error::{PromqlError, Result};
use crate::eval::{dedupe, drop_name_owned, Evaluator, NameRemoval, StepSeries, Val};
use promql_parser::parser::{Call, Expr};

pub(crate) fn call(ev: &mut Evaluator<'_>, c: &Call) -> Result<Val> {
    let name = c.func.name;
    if let Some(v) = range::call(ev, name, &c.args.args)? {
        return Ok(v);
    }
    if let Some(v) = instant::call(ev, name, &c.args.args)? {
        return Ok(v);
    }
    Err(PromqlError::Execution(format!(
        "function {name:?} is not supported"
    )))
}

/// Milliseconds as seconds, rounded as Prometheus's `float64(ms) / 1000`.
fn seconds(t: i64) -> f64 {
    t as f64 / 1000.0
}

fn arg(args: &[Box<Expr>], i: usize) -> Result<&Expr> {
    args.get(i)
        .map(|b| b.as_ref())
        .ok_or_else(|| PromqlError::Execution(format!("missing argument {}", i + 1)))
}

fn vector_arg(ev: &mut Evaluator<'_>, e: &Expr) -> Result<Vec<StepSeries>> {
    match ev.eval(e)? {
        Val::Vector(v) => Ok(v),
        _ => Err(PromqlError::Execution(format!(
            "expected an instant vector argument, got {e}"
        ))),
    }
}

fn scalar_arg(ev: &mut Evaluator<'_>, e: &Expr) -> Result<Vec<f64>> {
    match ev.eval(e)? {
        Val::Scalar(v) => Ok(v),
        _ => Err(PromqlError::Execution(format!(
            "expected a scalar argument, got {e}"
        ))),
    }
}

fn string_arg(ev: &mut Evaluator<'_>, e: &Expr) -> Result<String> {
    match ev.eval(e)? {
        Val::String(s) => Ok(s),
        _ => Err(PromqlError::Execution(format!(
            "expected a string argument, got {e}"
        ))),
    }
}

/// Drops `__name__` when `drop` is `Some`, removes series left without any value and
/// merges equal label sets; equal labels with values at one step are an error (per
/// step, as Prometheus's `rangeEval` checks a function of instant vectors).
fn finish(mut out: Vec<StepSeries>, drop: Option<NameRemoval>) -> Result<Val> {
    out.retain(|s| s.values.iter().any(Option::is_some));
    if let Some(mode) = drop {
        for s in &mut out {
            s.labels = drop_name_owned(std::mem::take(&mut s.labels), mode);
        }
    }
    Ok(Val::Vector(dedupe(out)?))
}

/// Prometheus 3 accepts any non-empty UTF-8 string as a label name; Rust strings are
/// always UTF-8.
fn valid_label_name(n: &str) -> bool {
    !n.is_empty()
}
