//! Functions that take no range vector: math and trigonometry, `clamp*` and `round`,
//! `time`/`timestamp`/`vector`/`scalar`, the date functions, `label_replace` and
//! `label_join`, the `sort*` family, `absent`, and the classic-histogram functions
//! `histogram_quantile`, `histogram_quantiles` and `histogram_fraction`.
//!
//! Every function works on all steps at once. Results drop `__name__` as Prometheus 3
//! does (everything except `label_replace`, `label_join`, `vector` and the sorts),
//! late: the name is only marked (see `eval::DROP_NAME_MARK`) and stays readable until
//! the result is built; `label_replace`/`label_join` writing `__name__` keep it. And
//! whenever labels change the result goes through [`dedupe`], which reports
//! Prometheus's duplicate-labelset error when two series collide at one step.
//!
//! Native histograms do not exist in this engine: the functions that only read native
//! histograms (`histogram_count`, `histogram_sum`, `histogram_avg`,
//! `histogram_stddev`, `histogram_stdvar`) fail with a clear error rather than
//! silently returning nothing.

use crate::error::{PromqlError, Result};
use crate::eval::{dedupe, drop_name, format_float, visible_labels, Evaluator, StepSeries, Val};
use crate::eval::{Anchor, DROP_NAME_MARK};
use orrery_model::go::expand::Template;
use orrery_model::go::regex::compile_anchored;
use orrery_model::go::time::{civil, days_in_month, Civil};
use orrery_model::{Labels, METRIC_NAME};
use promql_parser::parser::Expr;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;

/// Evaluates `name` if it is one of ours; `Ok(None)` otherwise.
pub(crate) fn call(ev: &mut Evaluator<'_>, name: &str, args: &[Box<Expr>]) -> Result<Option<Val>> {
    let v = match name {
        "abs" => math(ev, args, f64::abs)?,
        "ceil" => math(ev, args, f64::ceil)?,
        "floor" => math(ev, args, f64::floor)?,
        "exp" => math(ev, args, f64::exp)?,
        "ln" => math(ev, args, f64::ln)?,
        "log2" => math(ev, args, f64::log2)?,
        "log10" => math(ev, args, f64::log10)?,
        "sqrt" => math(ev, args, f64::sqrt)?,
        "sgn" => math(ev, args, sgn)?,
        "sin" => math(ev, args, f64::sin)?,
        "cos" => math(ev, args, f64::cos)?,
        "tan" => math(ev, args, f64::tan)?,
        "asin" => math(ev, args, f64::asin)?,
        "acos" => math(ev, args, f64::acos)?,
        "atan" => math(ev, args, f64::atan)?,
        "sinh" => math(ev, args, f64::sinh)?,
        "cosh" => math(ev, args, f64::cosh)?,
        "tanh" => math(ev, args, f64::tanh)?,
        "asinh" => math(ev, args, f64::asinh)?,
        "acosh" => math(ev, args, f64::acosh)?,
        "atanh" => math(ev, args, f64::atanh)?,
        // Same operation order as Prometheus, so results agree to the last bit.
        "deg" => math(ev, args, |v| v * 180.0 / std::f64::consts::PI)?,
        "rad" => math(ev, args, |v| v * std::f64::consts::PI / 180.0)?,
        "pi" => Val::Scalar(vec![std::f64::consts::PI; ev.steps()]),
        "round" => round(ev, args)?,
        "clamp" => clamp(ev, args)?,
        "clamp_min" => clamp_one(ev, args, go_max)?,
        "clamp_max" => clamp_one(ev, args, go_min)?,
        "max_of" => scalar_pair(ev, args, go_max)?,
        "min_of" => scalar_pair(ev, args, go_min)?,
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
        "minute" => date(ev, args, |d| d.minute as f64)?,
        "hour" => date(ev, args, |d| d.hour as f64)?,
        "day_of_week" => date(ev, args, |d| d.weekday as f64)?,
        "day_of_month" => date(ev, args, |d| d.day as f64)?,
        "day_of_year" => date(ev, args, |d| d.yday as f64)?,
        "days_in_month" => date(ev, args, |d| days_in_month(d.year, d.month) as f64)?,
        "month" => date(ev, args, |d| d.month as f64)?,
        "year" => date(ev, args, |d| d.year as f64)?,
        "label_replace" => label_replace(ev, args)?,
        "label_join" => label_join(ev, args)?,
        "absent" => absent(ev, args)?,
        "sort" => sort_by_value(ev, args, false)?,
        "sort_desc" => sort_by_value(ev, args, true)?,
        "sort_by_label" => sort_by_label(ev, args, false)?,
        "sort_by_label_desc" => sort_by_label(ev, args, true)?,
        "histogram_quantile" => histogram_quantile(ev, args)?,
        "histogram_quantiles" => histogram_quantiles(ev, args)?,
        "histogram_fraction" => histogram_fraction(ev, args)?,
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

// ---------------------------------------------------------------------------------
// Arguments.

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

/// Drops `__name__`, removes series left without any value and merges equal label sets.
fn finish(mut out: Vec<StepSeries>, drop: bool) -> Result<Val> {
    out.retain(|s| s.values.iter().any(Option::is_some));
    if drop {
        for s in &mut out {
            s.labels = drop_name(&s.labels);
        }
    }
    Ok(Val::Vector(dedupe(out)?))
}

// ---------------------------------------------------------------------------------
// Math, clamping, rounding.

fn math(ev: &mut Evaluator<'_>, args: &[Box<Expr>], f: impl Fn(f64) -> f64) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    for s in &mut v {
        for x in s.values.iter_mut().flatten() {
            *x = f(*x);
        }
    }
    finish(v, true)
}

/// Go's `math.Max`: NaN wins, and +0 is larger than -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Go's `math.Min`: NaN wins, and -0 is smaller than +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

fn sgn(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else if v > 0.0 {
        1.0
    } else {
        v
    }
}

/// `round(v, to_nearest=1)`: ties round up, to a multiple of `to_nearest`.
fn round(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    let to = match args.get(1) {
        Some(e) => scalar_arg(ev, e)?,
        None => vec![1.0; ev.steps()],
    };
    for s in &mut v {
        for (x, &to) in s.values.iter_mut().zip(&to) {
            if let Some(x) = x {
                let inv = 1.0 / to;
                *x = (*x * inv + 0.5).floor() / inv;
            }
        }
    }
    finish(v, true)
}

/// `clamp(v, min, max)`: at steps where `max < min` the result is empty.
fn clamp(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    let lo = scalar_arg(ev, arg(args, 1)?)?;
    let hi = scalar_arg(ev, arg(args, 2)?)?;
    for s in &mut v {
        for (i, x) in s.values.iter_mut().enumerate() {
            if let Some(val) = *x {
                *x = (hi[i] >= lo[i] || hi[i].is_nan() || lo[i].is_nan())
                    .then(|| go_max(lo[i], go_min(hi[i], val)));
            }
        }
    }
    finish(v, true)
}

/// `clamp_min` (with `go_max`) and `clamp_max` (with `go_min`).
fn clamp_one(
    ev: &mut Evaluator<'_>,
    args: &[Box<Expr>],
    f: impl Fn(f64, f64) -> f64,
) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    let bound = scalar_arg(ev, arg(args, 1)?)?;
    for s in &mut v {
        for (x, &b) in s.values.iter_mut().zip(&bound) {
            if let Some(x) = x {
                *x = f(b, *x);
            }
        }
    }
    finish(v, true)
}

fn scalar_pair(
    ev: &mut Evaluator<'_>,
    args: &[Box<Expr>],
    f: impl Fn(f64, f64) -> f64,
) -> Result<Val> {
    let a = scalar_arg(ev, arg(args, 0)?)?;
    let b = scalar_arg(ev, arg(args, 1)?)?;
    Ok(Val::Scalar(
        a.into_iter().zip(b).map(|(a, b)| f(a, b)).collect(),
    ))
}

// ---------------------------------------------------------------------------------
// scalar, timestamp.

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
    finish(v, true)
}

// ---------------------------------------------------------------------------------
// Date functions.

/// A date function: each value is read as Unix seconds (truncated toward zero, as
/// Go's conversion does); without an argument, the step time (`vector(time())`).
fn date(ev: &mut Evaluator<'_>, args: &[Box<Expr>], f: impl Fn(&Civil) -> f64) -> Result<Val> {
    let mut v = match args.first() {
        Some(e) => vector_arg(ev, e)?,
        None => vec![StepSeries {
            labels: Labels::empty(),
            values: ev.ts.iter().map(|&t| Some(t as f64 / 1000.0)).collect(),
        }],
    };
    for s in &mut v {
        for x in s.values.iter_mut().flatten() {
            *x = f(&civil(*x as i64));
        }
    }
    finish(v, true)
}

// ---------------------------------------------------------------------------------
// Labels.

/// Prometheus 3 accepts any non-empty UTF-8 string as a label name; Rust strings are
/// always UTF-8.
fn valid_label_name(n: &str) -> bool {
    !n.is_empty()
}

/// `label_replace(v, dst, replacement, src, regex)`.
fn label_replace(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let dst = string_arg(ev, arg(args, 1)?)?;
    let repl = string_arg(ev, arg(args, 2)?)?;
    let src = string_arg(ev, arg(args, 3)?)?;
    let pattern = string_arg(ev, arg(args, 4)?)?;
    let re = compile_anchored(&pattern).map_err(|e| {
        PromqlError::Execution(format!(
            "invalid regular expression in label_replace(): {pattern}: {e}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return Err(PromqlError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let repl = Template::compile(&repl, &re);
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    for s in &mut v {
        let value = s.labels.get(&src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            let res = repl.expand_to_string(&caps);
            let mut b = s.labels.to_builder();
            b.set(dst.clone(), res);
            if dst == METRIC_NAME {
                // Writing the name keeps it: a pending drop is cancelled.
                b.delete(DROP_NAME_MARK);
            }
            s.labels = b.build();
        }
    }
    finish(v, false)
}

/// `label_join(v, dst, separator, src...)`.
fn label_join(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let dst = string_arg(ev, arg(args, 1)?)?;
    let sep = string_arg(ev, arg(args, 2)?)?;
    let mut srcs = Vec::with_capacity(args.len().saturating_sub(3));
    for e in args.iter().skip(3) {
        let s = string_arg(ev, e)?;
        if !valid_label_name(&s) {
            return Err(PromqlError::Execution(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
        srcs.push(s);
    }
    if !valid_label_name(&dst) {
        return Err(PromqlError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    for s in &mut v {
        let joined = srcs
            .iter()
            .map(|n| s.labels.get(n).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&sep);
        let mut b = s.labels.to_builder();
        b.set(dst.clone(), joined);
        if dst == METRIC_NAME {
            b.delete(DROP_NAME_MARK);
        }
        s.labels = b.build();
    }
    finish(v, false)
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

// ---------------------------------------------------------------------------------
// Sorting.

/// Range queries return series ordered by labels, so sorting is only meaningful for
/// instant queries; for range queries the input passes through with a warning.
fn sortable(ev: &mut Evaluator<'_>) -> bool {
    if ev.query_start != ev.query_end {
        ev.warn_at(
            Anchor::Node,
            "sort is ineffective for range queries since results are always ordered by labels",
        );
        return false;
    }
    ev.steps() == 1
}

/// `sort` / `sort_desc` by the value at the (only) step; NaN last either way.
fn sort_by_value(ev: &mut Evaluator<'_>, args: &[Box<Expr>], desc: bool) -> Result<Val> {
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    if !sortable(ev) {
        return Ok(Val::Vector(v));
    }
    v.retain(|s| s.values[0].is_some());
    v.sort_by(|a, b| {
        let (x, y) = (
            a.values[0].unwrap_or(f64::NAN),
            b.values[0].unwrap_or(f64::NAN),
        );
        match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if desc => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
            _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        }
    });
    Ok(Val::Vector(v))
}

/// `sort_by_label(v, label...)`: natural order of the given labels' values, then the
/// whole label set; `_desc` reverses both.
fn sort_by_label(ev: &mut Evaluator<'_>, args: &[Box<Expr>], desc: bool) -> Result<Val> {
    let mut names = Vec::new();
    for e in args.iter().skip(1) {
        names.push(string_arg(ev, e)?);
    }
    let mut v = vector_arg(ev, arg(args, 0)?)?;
    if !sortable(ev) {
        return Ok(Val::Vector(v));
    }
    v.sort_by(|a, b| {
        let ord = names
            .iter()
            .map(|n| {
                let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                natural_cmp(x, y).then_with(|| x.cmp(y))
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| visible_labels(&a.labels).cmp(&visible_labels(&b.labels)));
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
    Ok(Val::Vector(v))
}

/// Natural order: runs of digits compare as numbers, everything else as text, and a
/// string that is a prefix (chunk-wise) of another sorts first.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(p), Ok(q)) => p.cmp(&q),
            _ => x.cmp(y),
        };
        if ord.is_ne() {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

/// Splits into maximal runs of ASCII digits and of everything else.
fn chunks(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut digit = None;
    for (i, c) in s.char_indices() {
        let d = c.is_ascii_digit();
        if digit.is_some_and(|p| p != d) {
            out.push(&s[start..i]);
            start = i;
        }
        digit = Some(d);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

// ---------------------------------------------------------------------------------
// Classic histograms.

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
                labels: drop_name(&key),
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
    finish(out, false)
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
fn histogram_quantile(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
    let q = scalar_arg(ev, arg(args, 0)?)?;
    let v = vector_arg(ev, arg(args, 1)?)?;
    quantile_warning(ev, &q, 0);
    quantiles_of(ev, &v, &[q], None, 1)
}

/// `histogram_quantiles(buckets, label, φ...)` (experimental): one output series per φ,
/// told apart by `label`.
fn histogram_quantiles(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
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
fn histogram_fraction(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
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
    finish(out, false)
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
    use crate::{Engine, MemStore, Value};
    use orrery_model::{Sample, METRIC_NAME};

    fn store(series: &[(&str, &[f64])]) -> MemStore {
        let s = MemStore::new();
        for (sel, vals) in series {
            let e = crate::parse_expr(sel).expect("selector");
            let Expr::VectorSelector(vs) = e else {
                panic!("not a selector: {sel}")
            };
            let mut pairs: Vec<(String, String)> = vs
                .matchers
                .matchers
                .iter()
                .map(|m| (m.name.clone(), m.value.clone()))
                .collect();
            if let Some(n) = vs.name {
                pairs.push((METRIC_NAME.into(), n));
            }
            s.add(
                Labels::from_pairs(pairs),
                vals.iter()
                    .enumerate()
                    .map(|(i, &v)| Sample::new(i as i64 * 300_000, v)),
            );
        }
        s
    }

    /// Instant query results as `(labels, value)` in result order.
    fn query(s: &MemStore, q: &str, t: i64) -> Vec<(String, f64)> {
        let r = Engine::default()
            .instant_query(s, q, t)
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        match r.value {
            Value::Vector(v) => v.into_iter().map(|e| (e.labels.to_string(), e.v)).collect(),
            Value::Scalar { v, .. } => vec![(String::new(), v)],
            other => panic!("{q}: unexpected {other:?}"),
        }
    }

    fn sorted(mut v: Vec<(String, f64)>) -> Vec<(String, f64)> {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn err(s: &MemStore, q: &str) -> String {
        match Engine::default().instant_query(s, q, 0) {
            Ok(r) => panic!("{q}: expected an error, got {:?}", r.value),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn math_functions_drop_the_name_and_follow_go_special_cases() {
        let s = store(&[
            ("m{l=\"a\"}", &[-2.5]),
            ("m{l=\"b\"}", &[0.0]),
            ("m{l=\"c\"}", &[f64::NAN]),
        ]);
        let r = sorted(query(&s, "sgn(m)", 0));
        assert_eq!(r[0], ("{l=\"a\"}".into(), -1.0));
        assert_eq!(r[1].1, 0.0);
        assert!(r[2].1.is_nan());
        let r = sorted(query(&s, "round(m)", 0));
        assert_eq!(r[0].1, -2.0, "ties round up");
        let r = sorted(query(&s, "round(m, 2)", 0));
        assert_eq!(r[0].1, -2.0);
        let r = sorted(query(&s, "abs(m)", 0));
        assert_eq!(r[0].1, 2.5);
        let r = sorted(query(&s, "deg(m)", 0));
        assert_eq!(r[0].1, -2.5 * 180.0 / std::f64::consts::PI);
        assert_eq!(query(&s, "pi()", 0)[0].1, std::f64::consts::PI);
        let r = sorted(query(&s, "ln(m)", 0));
        assert!(r[0].1.is_nan());
        assert_eq!(r[1].1, f64::NEG_INFINITY);
        let e = err(
            &store(&[("x{a=\"1\"}", &[1.0]), ("y{a=\"1\"}", &[2.0])]),
            "abs({a=\"1\"})",
        );
        assert!(e.contains("same labelset"), "{e}");
    }

    #[test]
    fn clamp_rules_for_nan_and_inverted_bounds() {
        let s = store(&[("c{s=\"a\"}", &[-50.0]), ("c{s=\"b\"}", &[100.0])]);
        assert_eq!(
            sorted(query(&s, "clamp(c, -25, 75)", 0)),
            [("{s=\"a\"}".into(), -25.0), ("{s=\"b\"}".into(), 75.0)]
        );
        assert!(query(&s, "clamp(c, 5, -5)", 0).is_empty());
        assert!(query(&s, "clamp(c, 0, NaN)", 0)
            .iter()
            .all(|x| x.1.is_nan()));
        assert!(query(&s, "clamp(c, NaN, 0)", 0)
            .iter()
            .all(|x| x.1.is_nan()));
        assert_eq!(sorted(query(&s, "clamp_min(c, 0)", 0))[0].1, 0.0);
        assert_eq!(sorted(query(&s, "clamp_max(c, 0)", 0))[1].1, 0.0);
    }

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
    fn date_functions_in_utc() {
        let s = MemStore::new();
        let one = |q: &str| query(&s, q, 0)[0].1;
        assert_eq!(one("year()"), 1970.0);
        assert_eq!(one("day_of_week()"), 4.0);
        assert_eq!(one("year(vector(1136239445))"), 2006.0);
        assert_eq!(one("month(vector(1136239445))"), 1.0);
        assert_eq!(one("day_of_month(vector(1136239445))"), 2.0);
        assert_eq!(one("day_of_year(vector(1136239445))"), 2.0);
        assert_eq!(one("day_of_week(vector(1136239445))"), 1.0);
        assert_eq!(one("hour(vector(1136239445))"), 22.0);
        assert_eq!(one("minute(vector(1136239445))"), 4.0);
        assert_eq!(one("year(vector(1230767999))"), 2008.0);
        assert_eq!(one("year(vector(1230768000))"), 2009.0);
        assert_eq!(one("day_of_year(vector(1483191420))"), 366.0);
        assert_eq!(one("day_of_year(vector(1672493820))"), 365.0);
        assert_eq!(one("days_in_month(vector(1454284800))"), 29.0);
        assert_eq!(one("days_in_month(vector(1485907200))"), 28.0);
        assert_eq!(one("year(vector(-1))"), 1969.0);
        assert_eq!(one("month(vector(1456790399))"), 2.0);
        assert_eq!(one("day_of_month(vector(1456790400))"), 1.0);
    }

    #[test]
    fn label_replace_anchors_and_expands_like_go() {
        let s = store(&[("t{src=\"source-value-10\",dst=\"orig\"}", &[0.0])]);
        let q = |e: &str| query(&s, e, 0)[0].0.clone();
        assert_eq!(
            q(r#"label_replace(t, "dst", "destination-value-$1", "src", "source-value-(.*)")"#),
            r#"t{dst="destination-value-10", src="source-value-10"}"#
        );
        // Not a substring match.
        assert_eq!(
            q(r#"label_replace(t, "dst", "x-$1", "src", "value-(.*)")"#),
            r#"t{dst="orig", src="source-value-10"}"#
        );
        // A missing source is the empty string; an empty result deletes the label.
        assert_eq!(
            q(r#"label_replace(t, "dst", "v-$1", "nope", "(.*)")"#),
            r#"t{dst="v-", src="source-value-10"}"#
        );
        assert_eq!(
            q(r#"label_replace(t, "dst", "", "dst", ".*")"#),
            r#"t{src="source-value-10"}"#
        );
        // `$1x` names group "1x", which does not exist; `${1}x` is group 1 then x.
        assert_eq!(
            q(r#"label_replace(t, "dst", "$1x|${1}x|$$|$|${x", "src", "source-value-(.*)")"#),
            r#"t{dst="|10x|$|$|${x", src="source-value-10"}"#
        );
        assert_eq!(
            q(r#"label_replace(t, "dst", "$n", "src", "(?P<n>s).*")"#),
            r#"t{dst="s", src="source-value-10"}"#
        );
        // Go's index rules: a leading zero makes a name, and no group has it.
        assert_eq!(
            q(r#"label_replace(t, "dst", "[$01][${1}]", "src", "source-value-(.*)")"#),
            r#"t{dst="[][10]", src="source-value-10"}"#
        );
        assert!(err(&s, r#"label_replace(t, "dst", "$1", "src", "(.*")"#)
            .starts_with("invalid regular expression in label_replace()"));
        assert_eq!(
            err(&s, r#"label_replace(t, "", "", "src", "(.*)")"#),
            "invalid destination label name in label_replace(): "
        );
        let two = store(&[("u{a=\"1\"}", &[0.0]), ("u{a=\"2\"}", &[0.0])]);
        assert!(err(&two, r#"label_replace(u, "a", "", "", "")"#).contains("same labelset"));
    }

    #[test]
    fn label_replace_reads_regexes_in_gos_dialect() {
        let s = store(&[("t{src=\"a.b\",n=\"١٢\"}", &[0.0])]);
        let q = |e: &str| query(&s, e, 0)[0].0.clone();
        // `\Q…\E` quotes a literal, as in Prometheus's Go regexp.
        assert_eq!(
            q(r#"label_replace(t, "dst", "$1", "src", `(\Qa.b\E)`)"#),
            r#"t{dst="a.b", n="١٢", src="a.b"}"#
        );
        // `\d` is ASCII: Arabic-Indic digits do not match, so nothing changes.
        assert_eq!(
            q(r#"label_replace(t, "dst", "$1", "n", `(\d+)`)"#),
            r#"t{n="١٢", src="a.b"}"#
        );
    }

    #[test]
    fn label_join_joins_in_order() {
        let s = store(&[("t{a=\"x\",b=\"y\",dst=\"o\"}", &[0.0])]);
        assert_eq!(
            query(&s, r#"label_join(t, "dst", "-", "a", "missing", "b")"#, 0)[0].0,
            r#"t{a="x", b="y", dst="x--y"}"#
        );
        assert_eq!(
            query(&s, r#"label_join(t, "dst", ", ")"#, 0)[0].0,
            r#"t{a="x", b="y"}"#
        );
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
    fn sorts_order_instant_results() {
        let s = store(&[
            ("h{i=\"10\"}", &[3.0]),
            ("h{i=\"9\"}", &[f64::NAN]),
            ("h{i=\"2\"}", &[1.0]),
            ("h{i=\"1\"}", &[2.0]),
        ]);
        let labels =
            |q: &str| -> Vec<String> { query(&s, q, 0).into_iter().map(|x| x.0).collect() };
        assert_eq!(
            labels("sort(h)"),
            ["h{i=\"2\"}", "h{i=\"1\"}", "h{i=\"10\"}", "h{i=\"9\"}"]
        );
        assert_eq!(
            labels("sort_desc(h)"),
            ["h{i=\"10\"}", "h{i=\"1\"}", "h{i=\"2\"}", "h{i=\"9\"}"]
        );
        assert_eq!(
            labels("sort_by_label(h, \"i\")"),
            ["h{i=\"1\"}", "h{i=\"2\"}", "h{i=\"9\"}", "h{i=\"10\"}"]
        );
        assert_eq!(
            labels("sort_by_label_desc(h, \"i\")"),
            ["h{i=\"10\"}", "h{i=\"9\"}", "h{i=\"2\"}", "h{i=\"1\"}"]
        );
        let r = Engine::default()
            .range_query(&s, "sort(h)", 0, 60_000, 30_000)
            .unwrap();
        assert_eq!(
            r.warnings,
            ["PromQL warning: sort is ineffective for range queries since results are always ordered by labels (1:1)"]
        );
    }

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        assert_eq!(natural_cmp("1.2.3", "1.11.3"), Ordering::Less);
        assert_eq!(natural_cmp("1.111.3", "1.11.3"), Ordering::Greater);
        assert_eq!(natural_cmp("4m5", "4m600"), Ordering::Less);
        assert_eq!(natural_cmp("4m1000", "4m600"), Ordering::Greater);
        assert_eq!(natural_cmp("a", "ab"), Ordering::Less);
        assert_eq!(natural_cmp("", "0"), Ordering::Less);
    }

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

    #[test]
    fn unknown_and_native_only_functions_fail_clearly() {
        let s = MemStore::new();
        assert!(err(&s, "histogram_count(x)").contains("native histograms are not supported yet"));
    }
}
