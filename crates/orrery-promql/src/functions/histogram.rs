//! Classic-histogram functions: `histogram_quantile`, the experimental
//! `histogram_quantiles`, and `histogram_fraction`, over bucket series told apart by
//! `le`.
//!
//! Buckets are grouped, sorted, merged and made monotonic as Prometheus does, with its
//! warnings (malformed `le`, φ out of range) and info (monotonicity fixed). Native
//! histograms will live here too; until then the functions that only read them fail
//! in the dispatch table.

use super::{arg, finish, scalar_arg, string_arg, valid_label_name, vector_arg};
use crate::error::{PromqlError, Result};
use crate::eval::{drop_name, format_float, Anchor, Evaluator, StepSeries, Val};
use orrery_model::Labels;
use promql_parser::parser::Expr;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;

/// One classic histogram: the bucket series that share all labels but `le`.
struct Histogram {
    /// Output labels: the shared labels without `__name__`.
    labels: Labels,
    /// The metric name, for annotations.
    name: String,
    /// (upper bound, series index) per bucket.
    buckets: Vec<(f64, usize)>,
}

/// Groups bucket series into histograms, warning about series whose `le` is missing
/// or not a number (they are left out, as in Prometheus).
fn group_buckets(ev: &mut Evaluator<'_>, v: &[StepSeries], vec_arg: usize) -> Vec<Histogram> {
    let mut out: Vec<Histogram> = Vec::new();
    let mut idx: FxHashMap<Labels, usize> = FxHashMap::default();
    let mode = ev.name_removal();
    for (i, s) in v.iter().enumerate() {
        let le = s.labels.get("le").unwrap_or("");
        let Some(ub) = parse_go_float(le) else {
            let mut msg =
                format!("bucket label \"le\" is missing or has a malformed value of {le:?}");
            if let Some(n) = s.labels.metric_name() {
                msg.push_str(&format!(" for metric name {n:?}"));
            }
            ev.warn_at(Anchor::Arg(vec_arg), msg);
            continue;
        };
        let mut b = s.labels.to_builder();
        b.delete("le");
        let key = b.build();
        let k = *idx.entry(key.clone()).or_insert_with(|| {
            out.push(Histogram {
                labels: drop_name(&key, mode),
                name: key.metric_name().unwrap_or("").to_string(),
                buckets: Vec::new(),
            });
            out.len() - 1
        });
        out[k].buckets.push((ub, i));
    }
    out
}

/// Go's `strconv.ParseFloat` for the forms that appear in `le` labels.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// The buckets of one histogram at one step, sorted by upper bound, equal bounds
/// merged, and counts made monotonic. `None` if the highest bound is not +Inf. The
/// flag tells whether a real (not rounding-sized) decrease had to be fixed.
fn prepare(h: &Histogram, v: &[StepSeries], i: usize) -> Option<(Vec<(f64, f64)>, bool)> {
    let mut b: Vec<(f64, f64)> = h
        .buckets
        .iter()
        .filter_map(|&(ub, s)| v[s].values[i].map(|c| (ub, c)))
        .collect();
    if b.is_empty() {
        return Some((b, false));
    }
    b.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(Ordering::Equal));
    if b.last().map(|x| x.0) != Some(f64::INFINITY) {
        return None;
    }
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(b.len());
    for (ub, c) in b {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    // Differences below 1e-12 of the two counts' sum are floating-point noise and are
    // silently flattened; larger decreases are raised to the previous count, and
    // reported.
    let mut forced = false;
    let mut prev = merged[0].1;
    for x in merged.iter_mut().skip(1) {
        let cur = x.1;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, 1e-12) {
            x.1 = prev;
        } else if cur < prev {
            x.1 = prev;
            forced = true;
        } else {
            prev = cur;
        }
    }
    Some((merged, forced))
}

/// Relative equality within `eps`, with an absolute floor near zero.
fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a == b {
        return true;
    }
    let sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || sum < MIN_NORMAL {
        return diff < eps * MIN_NORMAL;
    }
    diff / sum.min(f64::MAX) < eps
}

/// The φ-quantile of prepared buckets, interpolating linearly inside the bucket the
/// rank falls in (the lowest bucket starts at 0 if its bound is positive; a rank in
/// the +Inf bucket gives the second-highest bound).
fn bucket_quantile(q: f64, b: &[(f64, f64)]) -> f64 {
    if b.len() < 2 {
        return f64::NAN;
    }
    let last = b.len() - 1;
    let total = b[last].1;
    if total == 0.0 || total.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * total;
    let k = b[..last].iter().position(|x| x.1 >= rank).unwrap_or(last);
    if k == last {
        return b[last - 1].0;
    }
    if k == 0 && b[0].0 <= 0.0 {
        return b[0].0;
    }
    let (mut start, end, mut count) = (0.0, b[k].0, b[k].1);
    if k > 0 {
        start = b[k - 1].0;
        count -= b[k - 1].1;
        rank -= b[k - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// The estimated fraction of observations between `lower` and `upper`.
fn bucket_fraction(lower: f64, upper: f64, b: &[(f64, f64)]) -> f64 {
    let Some(&(_, total)) = b.last() else {
        return f64::NAN;
    };
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    (cumulative_at(lower, b) - cumulative_at(upper, b)) / -total
}

/// The estimated number of observations at or below `x`. Buckets run from the
/// previous bound (for the lowest: 0 if its bound is positive, else -Inf) to their
/// own. Inside a finite bucket the count is interpolated linearly; inside a bucket
/// of infinite width nothing is interpolated, so only the part of the range that
/// covers the whole bucket counts.
fn cumulative_at(x: f64, b: &[(f64, f64)]) -> f64 {
    let mut below = 0.0;
    for (i, &(hi, cum)) in b.iter().enumerate() {
        let lo = match i {
            0 if hi > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => b[i - 1].0,
        };
        if lo >= x {
            return below;
        }
        if x < hi {
            return if lo == f64::NEG_INFINITY {
                cum
            } else if hi == f64::INFINITY {
                below
            } else {
                below + (cum - below) * (x - lo) / (hi - lo)
            };
        }
        below = cum;
    }
    below
}

fn quantile_warning(ev: &mut Evaluator<'_>, q: &[f64], q_arg: usize) {
    for &q in q {
        if !(0.0..=1.0).contains(&q) {
            ev.warn_at(
                Anchor::Arg(q_arg),
                format!(
                    "quantile value should be between 0 and 1, got {}",
                    format_float(q)
                ),
            );
        }
    }
}

fn monotonicity_info(ev: &mut Evaluator<'_>, name: &str, vec_arg: usize) {
    let mut msg = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name".to_string();
    if !name.is_empty() {
        msg.push_str(&format!(" {name:?}"));
    }
    ev.info_at(Anchor::Arg(vec_arg), msg);
}

/// Quantiles of each histogram in `v`, for each φ series; `label` names the output
/// label carrying φ (`histogram_quantiles`), or is `None` (`histogram_quantile`).
fn quantiles_of(
    ev: &mut Evaluator<'_>,
    v: &[StepSeries],
    qs: &[Vec<f64>],
    label: Option<&str>,
    vec_arg: usize,
) -> Result<Val> {
    let steps = ev.steps();
    let hists = group_buckets(ev, v, vec_arg);
    let mut out: Vec<StepSeries> = Vec::new();
    let mut idx: FxHashMap<Labels, usize> = FxHashMap::default();
    for h in &hists {
        for i in 0..steps {
            let prepared = prepare(h, v, i);
            if prepared.as_ref().is_some_and(|(b, _)| b.is_empty()) {
                continue;
            }
            for q in qs {
                let q = q[i];
                let val = if q.is_nan() {
                    f64::NAN
                } else if q < 0.0 {
                    f64::NEG_INFINITY
                } else if q > 1.0 {
                    f64::INFINITY
                } else if let Some((b, forced)) = &prepared {
                    let r = bucket_quantile(q, b);
                    if *forced && b.len() >= 2 && b[b.len() - 1].1 != 0.0 {
                        monotonicity_info(ev, &h.name, vec_arg);
                    }
                    r
                } else {
                    // No +Inf bucket.
                    f64::NAN
                };
                put(&mut out, &mut idx, labels_for(h, label, q), steps, i, val);
            }
        }
    }
    finish(out, None)
}

fn labels_for(h: &Histogram, label: Option<&str>, q: f64) -> Labels {
    match label {
        None => h.labels.clone(),
        Some(l) => {
            let mut b = h.labels.to_builder();
            b.set(l, quantile_label_value(q));
            b.build()
        }
    }
}

/// Sets step `i` of the output series labelled `l`, creating it on first use. Two
/// values for one series at one step are a labelset collision.
fn put(
    out: &mut Vec<StepSeries>,
    idx: &mut FxHashMap<Labels, usize>,
    l: Labels,
    steps: usize,
    i: usize,
    val: f64,
) {
    let k = *idx.entry(l.clone()).or_insert_with(|| {
        out.push(StepSeries {
            labels: l,
            values: vec![None; steps],
        });
        out.len() - 1
    });
    if out[k].values[i].is_some() {
        // Keep both so that `dedupe` reports Prometheus's collision error.
        let mut dup = StepSeries {
            labels: out[k].labels.clone(),
            values: vec![None; steps],
        };
        dup.values[i] = Some(val);
        out.push(dup);
    } else {
        out[k].values[i] = Some(val);
    }
}

/// `histogram_quantile(φ, buckets)`.
pub(super) fn histogram_quantile(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let q = scalar_arg(ev, arg(args, 0)?)?;
    let v = vector_arg(ev, arg(args, 1)?)?;
    quantile_warning(ev, &q, 0);
    quantiles_of(ev, &v, &[q], None, 1)
}

/// `histogram_quantiles(buckets, label, φ...)` (experimental): one output series per φ,
/// told apart by `label`.
pub(super) fn histogram_quantiles(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let v = vector_arg(ev, arg(args, 0)?)?;
    let label = string_arg(ev, arg(args, 1)?)?;
    if !valid_label_name(&label) {
        return Err(PromqlError::Execution(format!(
            "invalid quantile label name in histogram_quantiles(): {label}"
        )));
    }
    let mut qs = Vec::new();
    for (k, e) in args.iter().enumerate().skip(2) {
        let q = scalar_arg(ev, e)?;
        quantile_warning(ev, &q, k);
        qs.push(q);
    }
    quantiles_of(ev, &v, &qs, Some(&label), 0)
}

/// `histogram_fraction(lower, upper, buckets)` on classic histograms.
pub(super) fn histogram_fraction(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let lower = scalar_arg(ev, arg(args, 0)?)?;
    let upper = scalar_arg(ev, arg(args, 1)?)?;
    let v = vector_arg(ev, arg(args, 2)?)?;
    let steps = ev.steps();
    let hists = group_buckets(ev, &v, 2);
    let mut out = Vec::with_capacity(hists.len());
    for h in &hists {
        let values = (0..steps)
            .map(|i| match prepare(h, &v, i) {
                None => Some(f64::NAN),
                Some((b, _)) if b.is_empty() => None,
                Some((b, _)) => Some(bucket_fraction(lower[i], upper[i], &b)),
            })
            .collect();
        out.push(StepSeries {
            labels: h.labels.clone(),
            values,
        });
    }
    finish(out, None)
}

/// How `histogram_quantiles` writes φ into its label: Go's shortest `%g` form, with
/// `.0` added to whole numbers (`0.0`, `0.25`, `1.0`, `1e-05`, `NaN`, `+Inf`).
fn quantile_label_value(q: f64) -> String {
    if !q.is_finite() {
        return format_float(q);
    }
    if q == 0.0 {
        return if q.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` is the shortest round-tripping form, like Go's.
    let sci = format!("{q:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let s = if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{q}")
    };
    if s.contains(['.', 'e']) {
        s
    } else {
        s + ".0"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::testutil::{err, query, sorted, store};
    use crate::{Engine, MemStore, Value};

    fn histogram_store() -> MemStore {
        store(&[
            ("b{le=\"0.1\",s=\"p\"}", &[0.0, 50.0]),
            ("b{le=\".2\",s=\"p\"}", &[0.0, 70.0]),
            ("b{le=\"1e0\",s=\"p\"}", &[0.0, 110.0]),
            ("b{le=\"+Inf\",s=\"p\"}", &[0.0, 120.0]),
            ("b{le=\"-.2\",s=\"n\"}", &[0.0, 10.0]),
            ("b{le=\"-0.1\",s=\"n\"}", &[0.0, 20.0]),
            ("b{le=\"0.3\",s=\"n\"}", &[0.0, 20.0]),
            ("b{le=\"+Inf\",s=\"n\"}", &[0.0, 30.0]),
            ("nm{le=\"0.1\"}", &[20.0]),
            ("nm{le=\"1\"}", &[10.0]),
            ("nm{le=\"10\"}", &[50.0]),
            ("nm{le=\"100\"}", &[40.0]),
            ("nm{le=\"1000\"}", &[90.0]),
            ("nm{le=\"+Inf\"}", &[80.0]),
            ("bad{x=\"1\"}", &[1.0]),
        ])
    }

    #[test]
    fn histogram_quantile_on_classic_buckets() {
        let s = histogram_store();
        let t = 300_000;
        let q = |e: &str| sorted(query(&s, e, t));
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let r = q("histogram_quantile(0.2, b)");
        assert!(close(r[0].1, -0.2) && r[0].0 == "{s=\"n\"}", "{r:?}");
        assert!(close(r[1].1, 0.048), "{r:?}");
        let r = q("histogram_quantile(0.8, b)");
        assert!(close(r[0].1, 0.3) && close(r[1].1, 0.72), "{r:?}");
        let r = q("histogram_quantile(0, b)");
        assert!(close(r[0].1, -0.2) && close(r[1].1, 0.0), "{r:?}");
        let r = q("histogram_quantile(1, b)");
        assert!(close(r[0].1, 0.3) && close(r[1].1, 1.0), "{r:?}");
        // Zero observations.
        let r = sorted(query(&s, "histogram_quantile(0.5, b)", 0));
        assert!(r.iter().all(|x| x.1.is_nan()), "{r:?}");
        // φ out of range: ±Inf with a warning.
        let res = Engine::default()
            .instant_query(&s, "histogram_quantile(1.01, b)", t)
            .unwrap();
        assert_eq!(
            res.warnings,
            ["PromQL warning: quantile value should be between 0 and 1, got 1.01 (1:20)"]
        );
        // Non-monotonic buckets are fixed, with an info.
        let res = Engine::default()
            .instant_query(&s, "histogram_quantile(0.99, nm)", 0)
            .unwrap();
        let Value::Vector(v) = res.value else {
            panic!()
        };
        assert!(close(v[0].v, 979.75), "{v:?}");
        assert_eq!(
            res.infos,
            ["PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"nm\" (1:26)"]
        );
        assert!(close(
            query(&s, "histogram_quantile(0.01, nm)", 0)[0].1,
            0.0045
        ));
        // A missing `le` is warned about and skipped.
        let res = Engine::default()
            .instant_query(&s, "histogram_quantile(0.5, bad)", 0)
            .unwrap();
        assert_eq!(
            res.warnings,
            ["PromQL warning: bucket label \"le\" is missing or has a malformed value of \"\" for metric name \"bad\" (1:25)"]
        );
    }

    #[test]
    fn histogram_quantile_without_inf_bucket_is_nan_and_names_may_collide() {
        let s = store(&[
            ("x_bucket{le=\"1\"}", &[1.0]),
            ("x_bucket{le=\"2\"}", &[2.0]),
            ("y_bucket{le=\"1\"}", &[1.0]),
            ("y_bucket{le=\"+Inf\"}", &[2.0]),
        ]);
        assert!(query(&s, "histogram_quantile(0.5, x_bucket)", 0)[0]
            .1
            .is_nan());
        assert!(
            err(&s, "histogram_quantile(0.5, {__name__=~\".*_bucket\"})").contains("same labelset")
        );
    }

    #[test]
    fn histogram_quantiles_labels_each_quantile() {
        let s = histogram_store();
        let r = sorted(query(
            &s,
            "histogram_quantiles(b{s=\"p\"}, \"q\", 0, 0.5, 1)",
            300_000,
        ));
        let names: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "{q=\"0.0\", s=\"p\"}",
                "{q=\"0.5\", s=\"p\"}",
                "{q=\"1.0\", s=\"p\"}"
            ]
        );
        assert!(err(&s, "histogram_quantiles(b, \"s\", 0.1, 0.2)").contains("same labelset"));
        assert_eq!(quantile_label_value(1e-5), "1e-05");
        assert_eq!(quantile_label_value(1234567.0), "1.234567e+06");
        assert_eq!(quantile_label_value(f64::NAN), "NaN");
    }

    #[test]
    fn histogram_fraction_on_classic_buckets() {
        let s = store(&[
            ("f{le=\"1\"}", &[1.0]),
            ("f{le=\"2\"}", &[3.0]),
            ("f{le=\"3\"}", &[6.0]),
            ("f{le=\"+Inf\"}", &[100.0]),
            ("g{le=\"-3\"}", &[10.0]),
            ("g{le=\"-2\"}", &[12.0]),
            ("g{le=\"-1\"}", &[15.0]),
            ("g{le=\"+Inf\"}", &[100.0]),
        ]);
        let one = |e: &str| query(&s, e, 0)[0].1;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(one("histogram_fraction(0, 1.5, f)"), 0.02));
        assert!(close(one("histogram_fraction(-4, -2, g)"), 0.02));
        assert!(close(one("histogram_fraction(-Inf, -1.5, g)"), 0.135));
        assert!(close(one("histogram_fraction(-Inf, +Inf, g)"), 1.0));
        assert!(close(one("histogram_fraction(4, 5, f)"), 0.0));
        assert!(close(one("histogram_fraction(2, 5, f)"), 0.03));
        assert!(close(one("histogram_fraction(400, +Inf, f)"), 0.94));
        assert!(close(one("histogram_fraction(3, 2, f)"), 0.0));
        assert!(close(one("histogram_fraction(0.5, 2, f)"), 0.025));
        assert!(one("histogram_fraction(NaN, 1, f)").is_nan());
    }
}
