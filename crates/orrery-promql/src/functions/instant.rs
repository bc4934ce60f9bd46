//! The table of functions that take no range vector, and the small ones that read the
//! evaluation's own times and shapes: `time`, `start`, `end`, `range`, `step`, `pi`,
//! `vector`, `scalar`, `timestamp`, `start_timestamp` and `absent`.
//!
//! The families live in their own files: [`super::math`] (math, trigonometry, `round`,
//! `clamp*`), [`super::date`], [`super::label`] (`label_replace`, `label_join`),
//! [`super::sort`] and [`super::histogram`] (classic histograms; native histograms do
//! not exist in this engine, so the functions that only read them fail with a clear
//! error rather than silently returning nothing).
//!
//! Every function works on all steps at once. Results drop `__name__` as Prometheus 3
//! does (everything except `label_replace`, `label_join`, `vector` and the sorts), at
//! once by default, or with delayed name removal only marked (see
//! `eval::DROP_NAME_MARK`) so that it stays readable until the result is built;
//! `label_replace`/`label_join` writing `__name__` keep it. And
//! whenever labels change the result goes through `dedupe`, which reports
//! Prometheus's duplicate-labelset error when two series collide at one step.

use super::{arg, date, finish, histogram, label, math, scalar_arg, sort, vector_arg};
use crate::error::{PromqlError, Result};
use crate::eval::{Evaluator, StepSeries, Val};
use orrery_model::go::time::days_in_month;
use orrery_model::Labels;
use promql_parser::parser::Expr;

/// Evaluates `name` if it is an instant-vector function; `Ok(None)` otherwise.
pub(crate) fn call(ev: &mut Evaluator<'_>, name: &str, args: &[Box<Expr>]) -> Result<Option<Val>> {
    let v = match name {
        "abs" => math::map(ev, args, f64::abs)?,
        "ceil" => math::map(ev, args, f64::ceil)?,
        "floor" => math::map(ev, args, f64::floor)?,
        "exp" => math::map(ev, args, f64::exp)?,
        "ln" => math::map(ev, args, f64::ln)?,
        "log2" => math::map(ev, args, f64::log2)?,
        "log10" => math::map(ev, args, f64::log10)?,
        "sqrt" => math::map(ev, args, f64::sqrt)?,
        "sgn" => math::map(ev, args, math::sgn)?,
        "sin" => math::map(ev, args, f64::sin)?,
        "cos" => math::map(ev, args, f64::cos)?,
        "tan" => math::map(ev, args, f64::tan)?,
        "asin" => math::map(ev, args, f64::asin)?,
        "acos" => math::map(ev, args, f64::acos)?,
        "atan" => math::map(ev, args, f64::atan)?,
        "sinh" => math::map(ev, args, f64::sinh)?,
        "cosh" => math::map(ev, args, f64::cosh)?,
        "tanh" => math::map(ev, args, f64::tanh)?,
        "asinh" => math::map(ev, args, f64::asinh)?,
        "acosh" => math::map(ev, args, f64::acosh)?,
        "atanh" => math::map(ev, args, f64::atanh)?,
        // Same operation order as Prometheus, so results agree to the last bit.
        "deg" => math::map(ev, args, |v| v * 180.0 / std::f64::consts::PI)?,
        "rad" => math::map(ev, args, |v| v * std::f64::consts::PI / 180.0)?,
        "pi" => Val::Scalar(vec![std::f64::consts::PI; ev.steps()]),
        "round" => math::round(ev, args)?,
        "clamp" => math::clamp(ev, args)?,
        "clamp_min" => math::clamp_one(ev, args, math::go_max)?,
        "clamp_max" => math::clamp_one(ev, args, math::go_min)?,
        "max_of" => math::scalar_pair(ev, args, math::go_max)?,
        "min_of" => math::scalar_pair(ev, args, math::go_min)?,
        "time" => Val::Scalar(ev.ts.iter().map(|&t| t as f64 / 1000.0).collect()),
        "start" => Val::Scalar(vec![ev.query_start as f64 / 1000.0; ev.steps()]),
        "end" => Val::Scalar(vec![ev.query_end as f64 / 1000.0; ev.steps()]),
        "range" => Val::Scalar(vec![(ev.query_end - ev.query_start) as f64 / 1000.0; ev.steps()]),
        // The query's resolution: 0 for instant queries. Inside a subquery of a range
        // query this reads the subquery's own step, the only step the evaluator knows.
        "step" => {
            let step = match ev.ts.as_slice() {
                [a, b, ..] if ev.query_start != ev.query_end => (b - a) as f64 / 1000.0,
                _ => 0.0,
            };
            Val::Scalar(vec![step; ev.steps()])
        }
        "vector" => {
            let v = scalar_arg(ev, arg(args, 0)?)?;
            Val::Vector(vec![StepSeries {
                labels: Labels::empty(),
                values: v.into_iter().map(Some).collect(),
            }])
        }
        "scalar" => scalar(ev, args)?,
        "timestamp" => timestamp(ev, args)?,
        "start_timestamp" => {
            // Start timestamps are not stored, which is Prometheus's behaviour with the
            // `use-start-timestamps` feature off: an empty result.
            vector_arg(ev, arg(args, 0)?)?;
            Val::Vector(Vec::new())
        }
        "minute" => date::date(ev, args, |d| d.minute as f64)?,
        "hour" => date::date(ev, args, |d| d.hour as f64)?,
        "day_of_week" => date::date(ev, args, |d| d.weekday as f64)?,
        "day_of_month" => date::date(ev, args, |d| d.day as f64)?,
        "day_of_year" => date::date(ev, args, |d| d.yday as f64)?,
        "days_in_month" => date::date(ev, args, |d| days_in_month(d.year, d.month) as f64)?,
        "month" => date::date(ev, args, |d| d.month as f64)?,
        "year" => date::date(ev, args, |d| d.year as f64)?,
        "label_replace" => label::label_replace(ev, args)?,
        "label_join" => label::label_join(ev, args)?,
        "absent" => absent(ev, args)?,
        "sort" => sort::sort_by_value(ev, args, false)?,
        "sort_desc" => sort::sort_by_value(ev, args, true)?,
        "sort_by_label" => sort::sort_by_label(ev, args, false)?,
        "sort_by_label_desc" => sort::sort_by_label(ev, args, true)?,
        "histogram_quantile" => histogram::histogram_quantile(ev, args)?,
        "histogram_quantiles" => histogram::histogram_quantiles(ev, args)?,
        "histogram_fraction" => histogram::histogram_fraction(ev, args)?,
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            return Err(PromqlError::Execution(format!(
                "function {name:?} reads native histograms, and native histograms are not supported yet"
            )))
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// `scalar(v)`: the value of the only series present at a step, else NaN.
fn scalar(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let v = vector_arg(ev, arg(args, 0)?)?;
    let out = (0..ev.steps())
        .map(|i| {
            let mut present = v.iter().filter_map(|s| s.values[i]);
            match (present.next(), present.next()) {
                (Some(x), None) => x,
                _ => f64::NAN,
            }
        })
        .collect();
    Ok(Val::Scalar(out))
}

/// `timestamp(v)`: for a selector (possibly in parentheses), the time of the sample
/// each step found; for any other expression, the step's own time.
fn timestamp(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let mut e = arg(args, 0)?;
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    let v = match e {
        Expr::VectorSelector(vs) => match ev.vector_selector_timestamps(vs)? {
            Val::Vector(v) => v,
            _ => {
                return Err(PromqlError::Execution(
                    "BUG: selector gave no vector".into(),
                ))
            }
        },
        _ => {
            let mut v = vector_arg(ev, e)?;
            for s in &mut v {
                for (x, &t) in s.values.iter_mut().zip(&ev.ts) {
                    if let Some(x) = x {
                        *x = t as f64 / 1000.0;
                    }
                }
            }
            v
        }
    };
    finish(v, Some(ev.name_removal()))
}

/// `absent(v)`: 1 at the steps where `v` is empty, labelled from the selector's
/// equality matchers.
fn absent(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let e = arg(args, 0)?;
    let v = vector_arg(ev, e)?;
    let values: Vec<Option<f64>> = (0..ev.steps())
        .map(|i| (!v.iter().any(|s| s.values[i].is_some())).then_some(1.0))
        .collect();
    if values.iter().all(Option::is_none) {
        return Ok(Val::Vector(Vec::new()));
    }
    Ok(Val::Vector(vec![StepSeries {
        labels: super::range::absent_labels(e),
        values,
    }]))
}

#[cfg(test)]
mod tests {
    use crate::functions::testutil::{err, query, store};
    use crate::{Engine, MemStore, Value};

    #[test]
    fn time_vector_scalar_and_timestamp() {
        let s = store(&[("m", &[1.0, 2.0])]);
        assert_eq!(query(&s, "time()", 1), [(String::new(), 0.001)]);
        assert_eq!(query(&s, "vector(time())", 5_000), [("{}".into(), 5.0)]);
        assert_eq!(query(&s, "scalar(m)", 0), [(String::new(), 1.0)]);
        assert!(query(&s, "scalar(nothing)", 0)[0].1.is_nan());
        // The sample's own time, found by lookback; parentheses do not matter.
        assert_eq!(query(&s, "timestamp(m)", 400_000), [("{}".into(), 300.0)]);
        assert_eq!(
            query(&s, "timestamp(((m)))", 400_000),
            [("{}".into(), 300.0)]
        );
        // Any other expression gives the evaluation time.
        assert_eq!(query(&s, "timestamp(-m)", 400_000), [("{}".into(), 400.0)]);
        let r = Engine::default()
            .range_query(&s, "timestamp(m)", 0, 600_000, 200_000)
            .unwrap();
        let Value::Matrix(m) = r.value else { panic!() };
        let got: Vec<f64> = m[0].samples.iter().map(|p| p.v).collect();
        // At 600s the sample at 300s is exactly one lookback old: gone.
        assert_eq!(got, [0.0, 0.0, 300.0]);
    }
    #[test]
    fn absent_labels_come_from_equality_matchers() {
        let s = store(&[("present", &[1.0])]);
        assert_eq!(query(&s, "absent(nonexistent)", 0), [("{}".into(), 1.0)]);
        assert_eq!(
            query(&s, r#"absent(x{job="a", instance="i", m=~".x"})"#, 0)[0].0,
            r#"{instance="i", job="a"}"#
        );
        assert_eq!(
            query(&s, r#"absent(x{job="a",job=~"b",foo="bar"})"#, 0)[0].0,
            r#"{foo="bar"}"#
        );
        assert_eq!(query(&s, "absent(sum(x{job=\"a\"}))", 0)[0].0, "{}");
        assert!(query(&s, "absent(present)", 0).is_empty());
    }
    #[test]
    fn unknown_and_native_only_functions_fail_clearly() {
        let s = MemStore::new();
        assert!(err(&s, "histogram_count(x)").contains("native histograms are not supported yet"));
    }
}
