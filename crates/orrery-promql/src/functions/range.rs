//! Functions whose argument is a range vector: `rate`, `increase`, `delta`, `irate`,
//! `idelta`, `deriv`, `predict_linear`, `resets`, `changes`, the
//! `<aggregation>_over_time` family, `absent_over_time`, `present_over_time`,
//! `double_exponential_smoothing` and the experimental `mad_over_time` and
//! `ts_of_{min,max,first,last}_over_time`.
//!
//! Every function sees, for each step, the points of one series inside that step's
//! window (left-open, stale markers already removed) and yields at most one value.
//! Empty windows yield nothing. Results drop `__name__`, except `last_over_time` and
//! `first_over_time`. Two result series whose labels became equal are Prometheus's
//! duplicate-labelset error, whether or not they share a step, as Prometheus checks a
//! range-vector function's whole result (see `eval::distinct`); with delayed name
//! removal they are merged when the query's result is built instead.
//!
//! Numerics follow Prometheus 3: Kahan-compensated sums (`sum_over_time`,
//! `avg_over_time`, the regression sums of `deriv` and `predict_linear`), a direct mean
//! that switches to an incremental mean only when the sum overflows, Welford's variance
//! with compensation, and the rate extrapolation described in `extrapolated_rate`.
//! Native histograms do not exist in this engine, so every histogram rule of the
//! upstream functions is moot here.

use super::fit::SlidingFit;
use super::seconds;
use crate::error::{PromqlError, Result};
use crate::eval::{distinct, drop_name_owned, for_each_window, par, NameRemoval};
use crate::eval::{format_float, kahan_inc, quantile};
use crate::eval::{Evaluator, RangeArg, RangeSeries, StepSeries, Val};
use orrery_model::{Labels, Sample, METRIC_NAME};
use promql_parser::parser::Expr;

/// Evaluates `name` if it is a range-vector function; `Ok(None)` if it is not one of
/// ours, so the caller can try the instant-vector functions.
pub(crate) fn call(ev: &mut Evaluator<'_>, name: &str, args: &[Box<Expr>]) -> Result<Option<Val>> {
    let out = match name {
        "rate" => rates(ev, args, true, true)?,
        "increase" => rates(ev, args, true, false)?,
        "delta" => rates(ev, args, false, false)?,
        "irate" => simple(ev, args, false, |w| instant_value(w, true))?,
        "idelta" => simple(ev, args, false, |w| instant_value(w, false))?,
        "deriv" => deriv(ev, args)?,
        "predict_linear" => predict_linear(ev, args)?,
        "resets" => simple(ev, args, false, |w| {
            Some(w.windows(2).filter(|p| p[1].v < p[0].v).count() as f64)
        })?,
        "changes" => simple(ev, args, false, |w| {
            Some(
                w.windows(2)
                    .filter(|p| !(p[1].v == p[0].v || (p[1].v.is_nan() && p[0].v.is_nan())))
                    .count() as f64,
            )
        })?,
        "avg_over_time" => simple(ev, args, false, |w| Some(mean(w)))?,
        "sum_over_time" => simple(ev, args, false, |w| Some(sum(w)))?,
        "count_over_time" => simple(ev, args, false, |w| Some(w.len() as f64))?,
        "min_over_time" => simple(ev, args, false, |w| Some(extreme(w, |x, best| x < best).v))?,
        "max_over_time" => simple(ev, args, false, |w| Some(extreme(w, |x, best| x > best).v))?,
        "ts_of_min_over_time" => simple(ev, args, false, |w| {
            Some(seconds(extreme(w, |x, best| x <= best).t))
        })?,
        "ts_of_max_over_time" => simple(ev, args, false, |w| {
            Some(seconds(extreme(w, |x, best| x >= best).t))
        })?,
        "stddev_over_time" => simple(ev, args, false, |w| Some(variance(w).sqrt()))?,
        "stdvar_over_time" => simple(ev, args, false, |w| Some(variance(w)))?,
        "mad_over_time" => simple(ev, args, false, |w| Some(mad(w)))?,
        "last_over_time" => simple(ev, args, true, |w| w.last().map(|p| p.v))?,
        "first_over_time" => simple(ev, args, true, |w| w.first().map(|p| p.v))?,
        "ts_of_last_over_time" => simple(ev, args, false, |w| w.last().map(|p| seconds(p.t)))?,
        "ts_of_first_over_time" => simple(ev, args, false, |w| w.first().map(|p| seconds(p.t)))?,
        "present_over_time" => simple(ev, args, false, |_| Some(1.0))?,
        "quantile_over_time" => quantile_over_time(ev, args)?,
        "absent_over_time" => absent_over_time(ev, args)?,
        "double_exponential_smoothing" => double_exponential_smoothing(ev, args)?,
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// The `i`th argument; the parser checks arity, so a miss is a bug, reported as an error.
fn arg(args: &[Box<Expr>], i: usize) -> Result<&Expr> {
    args.get(i)
        .map(|b| b.as_ref())
        .ok_or_else(|| PromqlError::Execution(format!("BUG: function argument {i} is missing")))
}

/// A scalar argument, one value per step.
fn scalar_arg(ev: &mut Evaluator<'_>, e: &Expr) -> Result<Vec<f64>> {
    match ev.eval(e)? {
        Val::Scalar(v) => Ok(v),
        _ => Err(PromqlError::Execution(
            "expected a scalar function argument".into(),
        )),
    }
}

/// Applies `f` to every non-empty window of every series; a series with no value at
/// any step is left out.
fn map_windows(
    arg: &RangeArg,
    mut f: impl FnMut(usize, &[Sample]) -> Result<Option<f64>>,
) -> Result<Vec<StepSeries>> {
    let mut out = Vec::new();
    for s in &arg.series {
        let mut any = false;
        let mut values = Vec::with_capacity(arg.ends.len());
        let mut err = None;
        arg.for_each_window(s, |i, lo, hi| {
            let v = if lo == hi || err.is_some() {
                None
            } else {
                f(i, &s.points[lo..hi]).unwrap_or_else(|e| {
                    err = Some(e);
                    None
                })
            };
            any |= v.is_some();
            values.push(v);
        });
        if let Some(e) = err {
            return Err(e);
        }
        if any {
            out.push(StepSeries {
                labels: s.labels.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// Computes every series' values with `f(ends, range, series)` (spread over cores,
/// see [`par`]) and keeps the series with a value at some step, moving their labels
/// out of `arg`.
fn per_series(
    arg: RangeArg,
    f: impl Fn(&[i64], i64, &RangeSeries) -> Vec<Option<f64>> + Sync,
) -> Vec<StepSeries> {
    let RangeArg {
        series,
        range,
        ends,
    } = arg;
    let values = par::map(&series, |s| f(&ends, range, s));
    series
        .into_iter()
        .zip(values)
        .filter(|(_, values)| values.iter().any(Option::is_some))
        .map(|(s, values)| StepSeries {
            labels: s.labels,
            values,
        })
        .collect()
}

/// [`map_windows`] for a pure `f`, spread over cores: `f(i, w)` for every non-empty
/// window `w` at step `i`.
fn map_windows_par(
    arg: RangeArg,
    f: impl Fn(usize, &[Sample]) -> Option<f64> + Sync,
) -> Vec<StepSeries> {
    per_series(arg, |ends, range, s| {
        let mut values = Vec::with_capacity(ends.len());
        for_each_window(ends, range, s, |i, lo, hi| {
            values.push(if lo == hi {
                None
            } else {
                f(i, &s.points[lo..hi])
            });
        });
        values
    })
}

/// Drops `__name__` unless `keep_name`. Prometheus checks a range-vector function's
/// output as a whole: two series that became equal fail the query even where their
/// steps do not overlap (see [`distinct`]).
fn finish(mut out: Vec<StepSeries>, keep_name: bool, mode: NameRemoval) -> Result<Val> {
    if keep_name {
        return Ok(Val::Vector(out));
    }
    for s in &mut out {
        s.labels = drop_name_owned(std::mem::take(&mut s.labels), mode);
    }
    Ok(Val::Vector(distinct(out, mode)?))
}

/// A function of the window alone, with the range vector as its only argument.
fn simple(
    ev: &mut Evaluator<'_>,
    args: &[Box<Expr>],
    keep_name: bool,
    f: impl Fn(&[Sample]) -> Option<f64> + Sync,
) -> Result<Val> {
    let rv = ev.eval_range(arg(args, 0)?)?;
    finish(
        map_windows_par(rv, |_, w| f(w)),
        keep_name,
        ev.name_removal(),
    )
}

/// `rate`, `increase` and `delta`, plus the info Prometheus attaches to `rate` and
/// `increase` of a metric whose name does not look like a counter's.
fn rates(
    ev: &mut Evaluator<'_>,
    args: &[Box<Expr>],
    counter: bool,
    per_second: bool,
) -> Result<Val> {
    let rv = ev.eval_range(arg(args, 0)?)?;
    let out = per_series(rv, |ends, range, s| {
        // Where the counter drops (index of the lower point), found once per series,
        // so that each window only visits its own resets; they are added in the same
        // order as a scan of the window would, so the sum rounds the same.
        let resets: Vec<usize> = if counter {
            s.points
                .windows(2)
                .enumerate()
                .filter(|(_, p)| p[1].v < p[0].v)
                .map(|(j, _)| j + 1)
                .collect()
        } else {
            Vec::new()
        };
        let mut next_reset = 0;
        let mut values = Vec::with_capacity(ends.len());
        for_each_window(ends, range, s, |i, lo, hi| {
            // Resets inside the window are those whose earlier point is in it too.
            while next_reset < resets.len() && resets[next_reset] <= lo {
                next_reset += 1;
            }
            let in_window = resets[next_reset..]
                .iter()
                .take_while(|&&r| r < hi)
                .map(|&r| s.points[r - 1].v);
            let end = ends[i];
            values.push(extrapolated_rate(
                &s.points[lo..hi],
                in_window,
                end - range,
                end,
                range,
                counter,
                per_second,
            ));
        });
        values
    });
    if counter {
        for s in &out {
            if let Some(name) = s.labels.get(METRIC_NAME) {
                if !["_total", "_sum", "_count", "_bucket"]
                    .iter()
                    .any(|suffix| name.ends_with(suffix))
                {
                    ev.info(format!(
                        "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
                    ));
                }
            }
        }
    }
    finish(out, false, ev.name_removal())
}

/// The increase (or delta) over the window `(start, end]`, extrapolated towards the
/// window's edges as Prometheus does:
///
/// - At least two points are needed.
/// - For counters, every decrease is a reset: the value before it is added back.
/// - The gap between the first (last) point and the window start (end) is bridged
///   entirely when it is shorter than 1.1 times the average spacing of the points;
///   otherwise only half an average spacing is assumed, as the series probably started
///   (ended) inside the window.
/// - A counter is never extrapolated below zero: the start gap is capped at the time
///   the counter would have needed, at its average slope, to climb from zero to its
///   first value.
/// - `rate` divides by the window length in seconds.
fn extrapolated_rate(
    w: &[Sample],
    resets: impl Iterator<Item = f64>,
    start: i64,
    end: i64,
    range: i64,
    counter: bool,
    per_second: bool,
) -> Option<f64> {
    let (first, last) = match w {
        [first, .., last] => (first, last),
        _ => return None,
    };
    let mut result = last.v - first.v;
    if counter {
        // `resets` holds, in order, the value before each drop inside `w`.
        for before in resets {
            result += before;
        }
    }
    let sampled = seconds(last.t - first.t);
    let avg_step = sampled / (w.len() - 1) as f64;
    let threshold = avg_step * 1.1;
    let mut to_start = seconds(first.t - start);
    let mut to_end = seconds(end - last.t);
    if to_start >= threshold {
        to_start = avg_step / 2.0;
    }
    if counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_step / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= seconds(range);
    }
    Some(result * factor)
}

/// `irate` / `idelta` from the last two points; a decrease counts as a reset for
/// `irate`, and two points at the same time give nothing.
fn instant_value(w: &[Sample], per_second: bool) -> Option<f64> {
    let (prev, last) = match w {
        [.., prev, last] => (prev, last),
        _ => return None,
    };
    let mut v = if per_second && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let dt = last.t - prev.t;
    if dt == 0 {
        return None;
    }
    if per_second {
        v /= seconds(dt);
    }
    Some(v)
}

/// `deriv(v)`: the slope of each window's least-squares line, per second.
fn deriv(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let rv = ev.eval_range(arg(args, 0)?)?;
    // Prometheus fits with times relative to the window's first point; the slope does
    // not depend on it, except that with an infinite value in the window the point at
    // x = 0 decides between NaN (0·Inf) and ±Inf.
    finish(
        fitted(rv, |_, first| first, |_, slope, _| slope),
        false,
        ev.name_removal(),
    )
}

/// `predict_linear(v, t)`: the fitted value `t` seconds after each step's evaluation
/// time (not the window end: with `@` or `offset` the prediction still starts at the
/// step time, and range and instant queries agree at every step).
fn predict_linear(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let (range_e, dur_e) = (arg(args, 0)?, arg(args, 1)?);
    let rv = ev.eval_range(range_e)?;
    let dur = scalar_arg(ev, dur_e)?;
    let ts = &ev.ts;
    let out = fitted(
        rv,
        |i, _| ts[i],
        |i, slope, intercept| slope * dur[i] + intercept,
    );
    finish(out, false, ev.name_removal())
}

/// `f(step, slope, intercept)` of the least-squares line of every window with at least
/// two points, from a [`SlidingFit`] per series; the intercept is at time
/// `at(step, time of the window's first point)`.
fn fitted(
    arg: RangeArg,
    at: impl Fn(usize, i64) -> i64 + Sync,
    f: impl Fn(usize, f64, f64) -> f64 + Sync,
) -> Vec<StepSeries> {
    per_series(arg, |ends, range, s| {
        let mut fit = SlidingFit::new(&s.points, range);
        let mut values = Vec::with_capacity(ends.len());
        for_each_window(ends, range, s, |i, lo, hi| {
            values.push((hi - lo >= 2).then(|| {
                let (slope, intercept) = fit.fit(lo, hi, at(i, s.points[lo].t));
                f(i, slope, intercept)
            }));
        });
        values
    })
}

/// Kahan-compensated sum; an infinite sum is returned without its compensation.
fn sum(w: &[Sample]) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for p in w {
        (s, c) = kahan_inc(p.v, s, c);
    }
    if s.is_infinite() {
        s
    } else {
        s + c
    }
}

/// The mean as a compensated sum divided by the count, which is exact for equal
/// values; if the sum overflows, the mean continues incrementally from there.
fn mean(w: &[Sample]) -> f64 {
    let Some((first, rest)) = w.split_first() else {
        return f64::NAN;
    };
    let (mut s, mut c) = (first.v, 0.0);
    let mut count = 1.0;
    let mut incremental: Option<(f64, f64)> = None;
    for p in rest {
        count += 1.0;
        if let Some((m, mc)) = incremental.as_mut() {
            let q = (count - 1.0) / count;
            (*m, *mc) = kahan_inc(p.v / count, q * *m, q * *mc);
            continue;
        }
        let (ns, nc) = kahan_inc(p.v, s, c);
        if !ns.is_infinite() {
            (s, c) = (ns, nc);
            continue;
        }
        let prev = count - 1.0;
        let (m, mc) = (s / prev, c / prev);
        let q = prev / count;
        incremental = Some(kahan_inc(p.v / count, q * m, q * mc));
    }
    match incremental {
        Some((m, mc)) => m + mc,
        None => s / count + c / count,
    }
}

/// The point with the extreme value by `better`, a NaN being replaced by anything.
fn extreme(w: &[Sample], better: impl Fn(f64, f64) -> bool) -> Sample {
    let mut best = w.first().copied().unwrap_or(Sample { t: 0, v: f64::NAN });
    for p in w.iter().skip(1) {
        if better(p.v, best.v) || best.v.is_nan() {
            best = *p;
        }
    }
    best
}

/// Population variance by Welford's method with compensated running sums.
fn variance(w: &[Sample]) -> f64 {
    let mut count = 0.0;
    let (mut m, mut mc) = (0.0, 0.0);
    let (mut aux, mut auxc) = (0.0, 0.0);
    for p in w {
        count += 1.0;
        let delta = p.v - (m + mc);
        (m, mc) = kahan_inc(delta / count, m, mc);
        (aux, auxc) = kahan_inc(delta * (p.v - (m + mc)), aux, auxc);
    }
    (aux + auxc) / count
}

/// Median absolute deviation from the median; any NaN makes it NaN.
fn mad(w: &[Sample]) -> f64 {
    if w.iter().any(|p| p.v.is_nan()) {
        return f64::NAN;
    }
    let mut vals: Vec<f64> = w.iter().map(|p| p.v).collect();
    let median = quantile(0.5, &mut vals);
    let mut dev: Vec<f64> = w.iter().map(|p| (p.v - median).abs()).collect();
    quantile(0.5, &mut dev)
}

/// `quantile_over_time(q, v)`, warning (per distinct `q`) when `q` is outside [0, 1].
fn quantile_over_time(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let q = scalar_arg(ev, arg(args, 0)?)?;
    let rv = ev.eval_range(arg(args, 1)?)?;
    let mut bad: Vec<f64> = Vec::new();
    let mut buf: Vec<f64> = Vec::new();
    let out = map_windows(&rv, |i, w| {
        let qi = q[i];
        if !(0.0..=1.0).contains(&qi) && !bad.iter().any(|b| b.to_bits() == qi.to_bits()) {
            bad.push(qi);
        }
        buf.clear();
        buf.extend(w.iter().map(|p| p.v));
        Ok(Some(quantile(qi, &mut buf)))
    })?;
    for b in bad {
        ev.warn(format!(
            "quantile value should be between 0 and 1, got {}",
            format_float(b)
        ));
    }
    finish(out, false, ev.name_removal())
}

/// `absent_over_time(v)`: 1 at every step where no series of `v` has a point, labelled
/// like `absent` from the selector's equality matchers.
fn absent_over_time(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let e = arg(args, 0)?;
    let rv = ev.eval_range(e)?;
    // Steps where some series has a point: one sliding pass per series instead of
    // two binary searches per series at every step.
    let mut present = vec![false; rv.ends.len()];
    for s in &rv.series {
        rv.for_each_window(s, |i, lo, hi| present[i] |= lo < hi);
    }
    let values: Vec<Option<f64>> = present.into_iter().map(|p| (!p).then_some(1.0)).collect();
    if values.iter().all(Option::is_none) {
        return Ok(Val::Vector(Vec::new()));
    }
    Ok(Val::Vector(vec![StepSeries {
        labels: absent_labels(e),
        values,
    }]))
}

/// The labels `absent` gives its output: each label with an equality matcher, except
/// names matched more than once or also by another kind of matcher (as in
/// Prometheus, a later non-equality matcher removes an earlier equality one).
/// Subqueries and other expressions give no labels.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    use promql_parser::label::MatchOp;
    let vs = match e {
        Expr::Paren(p) => return absent_labels(&p.expr),
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut b = Labels::empty().to_builder();
    let mut seen: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && !seen.contains(&m.name.as_str()) {
            b.set(m.name.clone(), m.value.clone());
            seen.push(&m.name);
        } else {
            b.delete(&m.name);
        }
    }
    b.build()
}

/// Go's `%f` (six decimals), used in Prometheus's smoothing-factor errors.
fn go_fixed(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{x:.6}")
    }
}

/// `double_exponential_smoothing(v, sf, tf)` (Holt's linear method): level and trend
/// smoothed over the window's points, at least two of them. Both factors must lie
/// strictly between 0 and 1 at every step that has data.
fn double_exponential_smoothing(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let rv = ev.eval_range(arg(args, 0)?)?;
    let sf = scalar_arg(ev, arg(args, 1)?)?;
    let tf = scalar_arg(ev, arg(args, 2)?)?;
    let out = map_windows(&rv, |i, w| {
        let (sf, tf) = (sf[i], tf[i]);
        if sf <= 0.0 || sf >= 1.0 {
            return Err(PromqlError::Execution(format!(
                "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
                go_fixed(sf)
            )));
        }
        if tf <= 0.0 || tf >= 1.0 {
            return Err(PromqlError::Execution(format!(
                "invalid trend factor. Expected: 0 < tf < 1, got: {}",
                go_fixed(tf)
            )));
        }
        let (first, second) = match w {
            [a, b, ..] => (a.v, b.v),
            _ => return Ok(None),
        };
        // s0 and s1 are the two latest smoothed levels, b the trend.
        let (mut s0, mut s1, mut b) = (0.0, first, second - first);
        for (k, p) in w.iter().enumerate().skip(1) {
            if k > 1 {
                b = tf * (s1 - s0) + (1.0 - tf) * b;
            }
            let next = sf * p.v + (1.0 - sf) * (s1 + b);
            (s0, s1) = (s1, next);
        }
        Ok(Some(s1))
    })?;
    finish(out, false, ev.name_removal())
}

#[cfg(test)]
mod tests {
    use crate::{Engine, MemStore, QueryResult, Value};
    use orrery_model::{Labels, Sample};

    const MIN: i64 = 60_000;

    fn series(s: &MemStore, name: &str, extra: &[(&str, &str)], step: i64, vals: &[f64]) {
        let mut pairs = vec![("__name__", name)];
        pairs.extend_from_slice(extra);
        s.add(
            Labels::from_pairs(pairs),
            vals.iter()
                .enumerate()
                .map(|(i, &v)| Sample::new(i as i64 * step, v)),
        );
    }

    fn instant(s: &MemStore, q: &str, t: i64) -> QueryResult {
        Engine::default()
            .instant_query(s, q, t)
            .unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    /// (labels, value) pairs of an instant vector, sorted by labels.
    fn vec_of(r: &QueryResult) -> Vec<(String, f64)> {
        match &r.value {
            Value::Vector(v) => {
                let mut out: Vec<(String, f64)> =
                    v.iter().map(|e| (e.labels.to_string(), e.v)).collect();
                out.sort_by(|a, b| a.0.cmp(&b.0));
                out
            }
            other => panic!("not a vector: {other:?}"),
        }
    }

    fn one(s: &MemStore, q: &str, t: i64) -> f64 {
        let v = vec_of(&instant(s, q, t));
        assert_eq!(v.len(), 1, "{q}: {v:?}");
        v[0].1
    }

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a == b || ((a - b) / b).abs() < 1e-9
    }

    fn ramp(start: f64, inc: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| start + inc * i as f64).collect()
    }

    #[test]
    fn increase_extrapolates_to_window_edges_but_not_below_zero() {
        let s = MemStore::new();
        series(
            &s,
            "c_total",
            &[("p", "foo")],
            5 * MIN,
            &ramp(0.0, 10.0, 11),
        );
        series(
            &s,
            "c_total",
            &[("p", "dings")],
            5 * MIN,
            &ramp(10.0, 10.0, 11),
        );
        series(
            &s,
            "c_total",
            &[("p", "bumms")],
            5 * MIN,
            &ramp(1.0, 10.0, 11),
        );
        let r = instant(&s, "increase(c_total[100m])", 50 * MIN);
        assert!(r.infos.is_empty(), "{:?}", r.infos);
        let v = vec_of(&r);
        // Already at zero: nothing to extrapolate at the start. Value 10 at t=0
        // would reach zero 5m earlier, beyond half an interval (2m30s), so half an
        // interval is used; value 1 reaches zero after 30s, which caps the start.
        assert!(close(v[0].1, 101.0), "{v:?}");
        assert!(close(v[1].1, 105.0), "{v:?}");
        assert!(close(v[2].1, 100.0), "{v:?}");
    }

    #[test]
    fn rate_handles_counter_resets_and_divides_by_the_range() {
        let s = MemStore::new();
        let mut vals = ramp(0.0, 27.0, 5);
        vals.extend(ramp(0.0, 27.0, 6));
        series(&s, "mid_total", &[], 5 * MIN, &vals);
        assert!(close(one(&s, "rate(mid_total[50m])", 50 * MIN), 0.08));
        // Three increases of 5, a reset 3 -> 2 (counted as 2), then 2 more.
        let s = MemStore::new();
        series(&s, "r_total", &[], 5 * MIN, &[0., 1., 2., 3., 2., 3., 4.]);
        assert!(close(one(&s, "increase(r_total[30m])", 30 * MIN), 7.0));
        // A single point in the window gives nothing.
        assert!(vec_of(&instant(&s, "rate(r_total[5m])", 30 * MIN)).is_empty());
    }

    #[test]
    fn rate_zero_cutoff_only_within_half_an_interval() {
        let s = MemStore::new();
        for (start, v0) in [("0m", 0.0), ("1m", 60.0), ("2m", 120.0), ("5m", 300.0)] {
            series(
                &s,
                "z_total",
                &[("start", start)],
                4 * MIN,
                &ramp(v0, 240.0, 11),
            );
        }
        let v = vec_of(&instant(&s, "rate(z_total[20m])", 10 * MIN));
        let got: Vec<f64> = v.iter().map(|x| x.1).collect();
        for (g, w) in got.iter().zip([0.5, 0.55, 0.6, 0.6]) {
            assert!(close(*g, w), "{got:?}");
        }
    }

    #[test]
    fn delta_is_not_a_counter_and_rate_warns_about_names() {
        let s = MemStore::new();
        series(&s, "g", &[], 5 * MIN, &[200., 150., 100., 50., 0.]);
        assert!(close(one(&s, "delta(g[20m])", 20 * MIN), -200.0));
        let r = instant(&s, "rate(g[20m])", 20 * MIN);
        assert_eq!(
            r.infos,
            ["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"g\""]
        );
        assert!(instant(&s, "delta(g[20m])", 20 * MIN).infos.is_empty());
    }

    #[test]
    fn irate_and_idelta_use_the_last_two_points() {
        let s = MemStore::new();
        series(&s, "c_total", &[], 5 * MIN, &[0., 10., 20., 30., 5.]);
        assert!(close(
            one(&s, "irate(c_total[50m])", 15 * MIN),
            10.0 / 300.0
        ));
        // Reset: the last value itself is the increase.
        assert!(close(one(&s, "irate(c_total[50m])", 20 * MIN), 5.0 / 300.0));
        assert!(close(one(&s, "idelta(c_total[50m])", 20 * MIN), -25.0));
    }

    #[test]
    fn deriv_and_predict_linear_fit_least_squares() {
        let s = MemStore::new();
        let mut vals = ramp(0.0, 10.0, 5);
        vals.extend(ramp(0.0, 10.0, 6));
        series(&s, "m", &[], 5 * MIN, &vals);
        assert!(close(
            one(&s, "deriv(m[100m])", 50 * MIN),
            0.010606060606060607
        ));
        assert!(close(
            one(&s, "predict_linear(m[50m], 3600)", 50 * MIN),
            70.0
        ));
        // The intercept is at the evaluation time, not the `@` time.
        assert!(close(
            one(&s, "predict_linear(m[55m] @ 3000, 3600)", 10 * MIN),
            51.36363636363637
        ));
        // The same in a range query: each step predicts from its own time.
        let r = Engine::default()
            .range_query(
                &s,
                "predict_linear(m[55m] @ 3000, 3600)",
                9 * MIN,
                11 * MIN,
                MIN,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        match r.value {
            Value::Matrix(m) => assert!(close(m[0].samples[1].v, 51.36363636363637)),
            other => panic!("{other:?}"),
        }
        let s = MemStore::new();
        series(&s, "flat", &[], MIN, &[f64::INFINITY; 3]);
        assert!(one(&s, "deriv(flat[5m])", 2 * MIN).is_nan());
    }

    /// Prometheus's deriv takes x from the window's first point, so an infinite value
    /// there gives 0·Inf = NaN; x from the step time, which a negative offset or `@`
    /// puts inside the window, would give -Inf here.
    #[test]
    fn deriv_of_a_window_with_an_infinite_value_is_nan_wherever_the_step_is() {
        let s = MemStore::new();
        series(&s, "g", &[], 10_000, &[5., f64::INFINITY, 1., 2., 3.]);
        for q in ["deriv(g[40s] offset -25s)", "deriv(g[40s] @ 40)"] {
            let v = one(&s, q, 15_000);
            assert!(v.is_nan(), "{q}: {v}");
        }
    }

    #[test]
    fn resets_and_changes_count_events() {
        let s = MemStore::new();
        series(&s, "x", &[], 5 * MIN, &[0., f64::NAN, 0., 0., 1., 0.]);
        assert_eq!(one(&s, "changes(x[30m])", 25 * MIN), 4.0);
        assert_eq!(one(&s, "resets(x[30m])", 25 * MIN), 1.0);
        let s = MemStore::new();
        series(&s, "y", &[], 5 * MIN, &[f64::NAN; 3]);
        assert_eq!(one(&s, "changes(y[20m])", 10 * MIN), 0.0);
    }

    #[test]
    fn over_time_aggregations() {
        let s = MemStore::new();
        series(&s, "m", &[], 10_000, &[0., 8., 8., 2., 3.]);
        let t = MIN;
        assert_eq!(one(&s, "sum_over_time(m[2m])", t), 21.0);
        assert_eq!(one(&s, "count_over_time(m[2m])", t), 5.0);
        assert_eq!(one(&s, "avg_over_time(m[2m])", t), 4.2);
        assert_eq!(one(&s, "min_over_time(m[2m])", t), 0.0);
        assert_eq!(one(&s, "max_over_time(m[2m])", t), 8.0);
        assert!(close(one(&s, "stdvar_over_time(m[2m])", t), 10.56));
        assert!(close(
            one(&s, "stddev_over_time(m[2m])", t),
            10.56f64.sqrt()
        ));
        assert_eq!(one(&s, "quantile_over_time(0.5, m[2m])", t), 3.0);
        assert_eq!(one(&s, "ts_of_max_over_time(m[2m])", t), 20.0);
        assert_eq!(one(&s, "ts_of_min_over_time(m[2m])", t), 0.0);
        assert_eq!(one(&s, "mad_over_time(m[2m])", t), 3.0);
        // The left edge of the window is open: [40s] at 50s holds 20s..40s.
        let t = 50_000;
        assert_eq!(one(&s, "count_over_time(m[40s])", t), 3.0);
        assert_eq!(one(&s, "first_over_time(m[40s])", t), 8.0);
        assert_eq!(one(&s, "ts_of_first_over_time(m[40s])", t), 20.0);
        assert_eq!(one(&s, "ts_of_last_over_time(m[40s])", t), 40.0);
        assert!(vec_of(&instant(&s, "sum_over_time(m[10s])", 2 * MIN)).is_empty());
    }

    #[test]
    fn sums_and_means_are_compensated() {
        let s = MemStore::new();
        series(&s, "m", &[], 10_000, &[1., 1e100, 1., -1e100]);
        assert_eq!(one(&s, "sum_over_time(m[2m])", MIN), 2.0);
        assert_eq!(one(&s, "avg_over_time(m[2m])", MIN), 0.5);
        let s = MemStore::new();
        series(&s, "big", &[], 10_000, &[9.988_465_674_311_58e307; 2]);
        assert_eq!(
            one(&s, "avg_over_time(big[1m])", 15_000),
            9.988_465_674_311_58e307
        );
        let s = MemStore::new();
        series(&s, "infs", &[], 10_000, &[f64::INFINITY, 0., f64::INFINITY]);
        assert_eq!(one(&s, "avg_over_time(infs[1m])", 25_000), f64::INFINITY);
        let s = MemStore::new();
        series(&s, "flat", &[], 10_000, &[52.0; 20]);
        assert_eq!(one(&s, "avg_over_time(flat[130s])", 190_000), 52.0);
    }

    #[test]
    fn names_are_dropped_except_for_last_and_first() {
        let s = MemStore::new();
        series(&s, "m", &[("a", "1")], 10_000, &[1., 2.]);
        let r = instant(&s, "last_over_time(m[1m])", 10_000);
        assert_eq!(vec_of(&r), [("m{a=\"1\"}".to_string(), 2.0)]);
        let r = instant(&s, "max_over_time(m[1m])", 10_000);
        assert_eq!(vec_of(&r), [("{a=\"1\"}".to_string(), 2.0)]);
        series(&s, "n", &[("a", "1")], 10_000, &[1., 2.]);
        let err = Engine::default()
            .instant_query(&s, "changes({a=\"1\"}[1m])", 10_000)
            .unwrap_err();
        assert!(err.to_string().contains("same labelset"), "{err}");
    }

    #[test]
    fn quantile_over_time_warns_outside_zero_to_one() {
        let s = MemStore::new();
        series(&s, "d", &[], 10_000, &[0., 1., 4.]);
        let r = instant(&s, "quantile_over_time(2, d[2m])", MIN);
        assert_eq!(vec_of(&r)[0].1, f64::INFINITY);
        assert_eq!(
            r.warnings,
            ["PromQL warning: quantile value should be between 0 and 1, got 2"]
        );
        assert_eq!(one(&s, "quantile_over_time(0.75, d[2m])", MIN), 2.5);
    }

    #[test]
    fn absent_and_present_over_time() {
        let s = MemStore::new();
        series(&s, "h_total", &[("job", "a")], MIN, &[1., 2.]);
        let v = vec_of(&instant(
            &s,
            "absent_over_time(nope{job=\"x\", job=\"y\", i=\"1\", k=~\"z\"}[5m])",
            MIN,
        ));
        assert_eq!(v, [("{i=\"1\"}".to_string(), 1.0)]);
        assert!(vec_of(&instant(&s, "absent_over_time(h_total[5m])", MIN)).is_empty());
        let v = vec_of(&instant(
            &s,
            "absent_over_time(h_total{job=\"a\"}[5m])",
            7 * MIN,
        ));
        assert_eq!(v, [("{job=\"a\"}".to_string(), 1.0)]);
        let v = vec_of(&instant(
            &s,
            "absent_over_time(nope{job=\"a\"}[5m:1m])",
            MIN,
        ));
        assert_eq!(v, [("{}".to_string(), 1.0)]);
        let v = vec_of(&instant(&s, "present_over_time(h_total[5m])", MIN));
        assert_eq!(v, [("{job=\"a\"}".to_string(), 1.0)]);
    }

    #[test]
    fn double_exponential_smoothing_follows_a_linear_trend() {
        let s = MemStore::new();
        series(&s, "g", &[], 10_000, &ramp(0.0, 10.0, 20));
        assert!(close(
            one(
                &s,
                "double_exponential_smoothing(g[1m], 0.01, 0.1)",
                190_000
            ),
            190.0
        ));
        let err = Engine::default()
            .instant_query(&s, "double_exponential_smoothing(g[1m], 1, 0.1)", 190_000)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"
        );
    }

    #[test]
    fn range_queries_evaluate_every_step() {
        let s = MemStore::new();
        series(
            &s,
            "c_total",
            &[],
            5 * MIN,
            &[1., f64::NAN, f64::NAN, 5., 11.],
        );
        let r = Engine::default()
            .range_query(&s, "idelta(c_total[15m1s])", 0, 20 * MIN, 5 * MIN)
            .unwrap_or_else(|e| panic!("{e}"));
        match r.value {
            Value::Matrix(m) => {
                let got: Vec<(i64, f64)> = m[0].samples.iter().map(|p| (p.t, p.v)).collect();
                assert_eq!(got.len(), 4, "{got:?}");
                assert_eq!(got[0].0, 5 * MIN);
                assert!(got[..3].iter().all(|p| p.1.is_nan()));
                assert_eq!(got[3], (20 * MIN, 6.0));
            }
            other => panic!("{other:?}"),
        }
    }
}
