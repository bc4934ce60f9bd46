//! The evaluator: every expression node is evaluated for all steps of the query at
//! once. Instant vectors are "step series" (labels plus one optional value per step),
//! scalars are one value per step, range vectors exist only as function arguments
//! ([`RangeArg`]): the points of each series plus the window end for each step.
//!
//! Errors are returned through every node (`Result`), never raised by panicking.
//! Warnings and infos are collected as Prometheus words them.

mod aggregate;
mod binary;
pub(crate) mod par;
mod position;
mod selector;
mod xxhash;

// Numerics shared with the function implementations.
pub(crate) use aggregate::{format_float, kahan_inc, quantile};
pub(crate) use position::{aggregate_key, call_key, Anchor, Positions};

use crate::error::{PromqlError, Result};
use crate::options::EngineOptions;
use orrery_model::{Label, Labels, Queryable, Sample, METRIC_NAME};
use promql_parser::parser::{AtModifier, Expr, Offset};
use rustc_hash::FxHashSet;
use std::collections::BTreeSet;
use std::time::Instant;

/// An instant vector's series across all steps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// A series with raw points, for range-vector arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<Sample>,
}

/// A range vector argument: for step `i`, series `s` holds the points of `s.points`
/// with `ends[i] - range < t <= ends[i]` (windows are left-open, as in Prometheus 3).
#[derive(Debug, Clone)]
pub(crate) struct RangeArg {
    pub series: Vec<RangeSeries>,
    pub range: i64,
    pub ends: Vec<i64>,
}

impl RangeArg {
    /// The points of `s` in step `i`'s window.
    pub fn window<'s>(&self, s: &'s RangeSeries, i: usize) -> &'s [Sample] {
        let end = self.ends[i];
        let start = end - self.range;
        let lo = s.points.partition_point(|p| p.t <= start);
        let hi = s.points.partition_point(|p| p.t <= end);
        &s.points[lo..hi.max(lo)]
    }

    /// Calls `f(i, lo, hi)` with the index range of `s.points` in step `i`'s window, for
    /// every step in order (see [`for_each_window`]).
    pub fn for_each_window(&self, s: &RangeSeries, f: impl FnMut(usize, usize, usize)) {
        for_each_window(&self.ends, self.range, s, f)
    }
}

/// Calls `f(i, lo, hi)` with the index range `lo..hi` of `s.points` in the window
/// `(ends[i] - range, ends[i]]`, for every step `i` in order. Window ends normally only
/// grow (they do unless `@` pins them), and then both bounds only move forward: one
/// pass over the points serves every step, instead of two binary searches per step.
pub(crate) fn for_each_window(
    ends: &[i64],
    range: i64,
    s: &RangeSeries,
    mut f: impl FnMut(usize, usize, usize),
) {
    let pts = &s.points;
    if !ends.windows(2).all(|w| w[0] <= w[1]) {
        for (i, &end) in ends.iter().enumerate() {
            let lo = pts.partition_point(|p| p.t <= end - range);
            let hi = pts.partition_point(|p| p.t <= end);
            f(i, lo, hi.max(lo));
        }
        return;
    }
    let (mut lo, mut hi) = (0, 0);
    for (i, &end) in ends.iter().enumerate() {
        let start = end - range;
        while lo < pts.len() && pts[lo].t <= start {
            lo += 1;
        }
        hi = hi.max(lo);
        while hi < pts.len() && pts[hi].t <= end {
            hi += 1;
        }
        f(i, lo, hi);
    }
}

/// An evaluated node.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(Vec<f64>),
    Vector(Vec<StepSeries>),
    String(String),
}

/// Warnings and infos, deduplicated and in a stable order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Annotations {
    pub warnings: BTreeSet<String>,
    pub infos: BTreeSet<String>,
}

pub(crate) struct Evaluator<'a> {
    pub q: &'a dyn Queryable,
    pub opts: &'a EngineOptions,
    /// Evaluation timestamps (ms), one per step.
    pub ts: Vec<i64>,
    /// The outermost query's start and end, for `@ start()` / `@ end()`.
    pub query_start: i64,
    pub query_end: i64,
    pub ann: Annotations,
    pub samples: usize,
    pub deadline: Instant,
    /// Where calls and aggregations sit in the query text (empty without text).
    pub positions: &'a Positions,
    /// The call or aggregation being evaluated, for annotation positions.
    pub frame: Option<usize>,
}

impl<'a> Evaluator<'a> {
    pub fn steps(&self) -> usize {
        self.ts.len()
    }

    pub fn warn(&mut self, msg: impl Into<String>) {
        self.ann
            .warnings
            .insert(format!("PromQL warning: {}", msg.into()));
    }

    #[allow(dead_code)] // Used by the function table (rate's counter check and others).
    pub fn info(&mut self, msg: impl Into<String>) {
        self.ann
            .infos
            .insert(format!("PromQL info: {}", msg.into()));
    }

    /// A warning with Prometheus's ` (line:col)` of `anchor` in the current call or
    /// aggregation, when the position is known.
    pub fn warn_at(&mut self, anchor: Anchor, msg: impl Into<String>) {
        let msg = self.positioned(anchor, msg.into());
        self.warn(msg);
    }

    /// An info with a position, as [`Self::warn_at`].
    pub fn info_at(&mut self, anchor: Anchor, msg: impl Into<String>) {
        let msg = self.positioned(anchor, msg.into());
        self.info(msg);
    }

    fn positioned(&self, anchor: Anchor, msg: String) -> String {
        match self.frame.and_then(|f| self.positions.describe(f, anchor)) {
            Some(pos) => format!("{msg} ({pos})"),
            None => msg,
        }
    }

    /// Runs `f` with `node` (a call or aggregation key) as the current frame.
    pub fn in_frame<T>(&mut self, node: usize, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.frame.replace(node);
        let out = f(self);
        self.frame = saved;
        out
    }

    /// Counts samples held and checks the limits and the deadline.
    pub fn account(&mut self, n: usize) -> Result<()> {
        self.samples = self.samples.saturating_add(n);
        if self.samples > self.opts.max_samples {
            return Err(PromqlError::Limit(format!(
                "query processing would load too many samples into memory in query execution (limit max_samples_per_query = {})",
                self.opts.max_samples
            )));
        }
        if Instant::now() > self.deadline {
            return Err(PromqlError::Timeout("query execution"));
        }
        Ok(())
    }

    /// The `@` time of a selector or subquery, in ms.
    pub fn at_time(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at.as_ref()? {
            AtModifier::Start => Some(self.query_start),
            AtModifier::End => Some(self.query_end),
            AtModifier::At(t) => Some(orrery_model::clock::unix_ms(*t)),
        }
    }

    /// The time each step reads at: `@` time (or the step time) minus the offset.
    pub fn refs(&self, at: &Option<AtModifier>, offset: &Option<Offset>) -> Vec<i64> {
        let off = offset_ms(offset);
        match self.at_time(at) {
            Some(a) => vec![a - off; self.steps()],
            None => self.ts.iter().map(|t| t - off).collect(),
        }
    }

    pub fn eval(&mut self, e: &Expr) -> Result<Val> {
        if Instant::now() > self.deadline {
            return Err(PromqlError::Timeout("query execution"));
        }
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.steps()])),
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(mut vs) => {
                    let mode = self.name_removal();
                    for s in &mut vs {
                        s.labels = drop_name_owned(std::mem::take(&mut s.labels), mode);
                        for x in s.values.iter_mut().flatten() {
                            *x = -*x;
                        }
                    }
                    // Prometheus checks unary minus over the whole matrix.
                    Ok(Val::Vector(distinct(vs, mode)?))
                }
                Val::String(_) => Err(PromqlError::Execution(
                    "unary minus is not defined on strings".into(),
                )),
            },
            Expr::VectorSelector(vs) => self.vector_selector(vs),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => Err(PromqlError::Execution(
                "range vector cannot be evaluated here; it must be the argument of a function"
                    .into(),
            )),
            Expr::Call(c) => self.in_frame(call_key(c), |ev| crate::functions::call(ev, c)),
            Expr::Aggregate(a) => self.in_frame(aggregate_key(a), |ev| ev.aggregate(a)),
            Expr::Binary(b) => self.binary(b),
            Expr::Extension(_) => Err(PromqlError::Execution("unsupported expression".into())),
        }
    }

    /// Evaluates a matrix selector or subquery as a range argument.
    pub fn eval_range(&mut self, e: &Expr) -> Result<RangeArg> {
        match e {
            Expr::MatrixSelector(ms) => self.matrix_selector(ms),
            Expr::Subquery(sq) => self.subquery(sq),
            Expr::Paren(p) => self.eval_range(&p.expr),
            _ => Err(PromqlError::Execution(format!(
                "expected a range vector, got {}",
                e.value_type()
            ))),
        }
    }

    /// A child evaluator over other timestamps (subqueries), sharing limits.
    pub fn child(&self, ts: Vec<i64>) -> Evaluator<'a> {
        Evaluator {
            q: self.q,
            opts: self.opts,
            ts,
            query_start: self.query_start,
            query_end: self.query_end,
            ann: Annotations::default(),
            samples: self.samples,
            deadline: self.deadline,
            positions: self.positions,
            frame: self.frame,
        }
    }

    /// Takes a child's annotations and sample count.
    pub fn absorb(&mut self, child: Evaluator<'_>) {
        self.ann.warnings.extend(child.ann.warnings);
        self.ann.infos.extend(child.ann.infos);
        self.samples = self.samples.max(child.samples);
    }
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    }
}

/// The reserved label that marks a series whose `__name__` is to be dropped, with
/// [`EngineOptions::delayed_name_removal`] (Prometheus's `promql-delayed-name-removal`).
///
/// With delayed removal a function or operator that drops the name only flags the
/// series, the name stays readable (`label_replace(rate(x[1m]), "__name__", …)`,
/// `sum by (__name__)`), and the name goes away when the query result is built. The
/// flag travels inside the labels, so every path that copies labels (function outputs,
/// subquery results, `topk`, set operators) carries it without extra plumbing;
/// matching, grouping and messages ignore it, and [`finalize_labels`] applies it. Only
/// labels that hold a `__name__` carry it. By default (Prometheus 3's default) the name
/// is removed at once and the mark never appears.
pub(crate) const DROP_NAME_MARK: &str = "__orrery_drop_name__";

/// How a node drops `__name__`: at once (Prometheus's default) or marked for the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRemoval {
    Immediate,
    Delayed,
}

impl Evaluator<'_> {
    /// The name-removal mode of this query.
    pub fn name_removal(&self) -> NameRemoval {
        if self.opts.delayed_name_removal {
            NameRemoval::Delayed
        } else {
            NameRemoval::Immediate
        }
    }
}

/// Drops `__name__` (or marks it, see [`DROP_NAME_MARK`]).
pub(crate) fn drop_name(l: &Labels, mode: NameRemoval) -> Labels {
    drop_name_owned(l.clone(), mode)
}

/// [`drop_name`] on labels the caller no longer needs: the label is removed or the mark
/// inserted in place, without copying the other labels (this runs once per series of
/// most results).
pub(crate) fn drop_name_owned(l: Labels, mode: NameRemoval) -> Labels {
    // Labels are sorted by name: binary searches instead of scans.
    let find = |name: &str| l.as_slice().binary_search_by(|x| x.name.as_str().cmp(name));
    let Ok(name_at) = find(METRIC_NAME) else {
        return l;
    };
    if mode == NameRemoval::Immediate {
        let mut v = l.into_vec();
        v.remove(name_at);
        return Labels::from_sorted_unchecked(v);
    }
    let Err(at) = find(DROP_NAME_MARK) else {
        return l;
    };
    let mut v = l.into_vec();
    v.insert(at, Label::new(DROP_NAME_MARK, "1"));
    Labels::from_sorted_unchecked(v)
}

/// The result of a node that Prometheus checks as a whole (range-vector functions,
/// unary minus): series without any value are left out, and two series with the same
/// labels are Prometheus's "vector cannot contain metrics with the same labelset"
/// error, even when their steps do not overlap (Prometheus's `ContainsSameLabelset`
/// over the node's matrix). With delayed removal the names are still there, so equal
/// label sets are merged per step at the end instead (see [`finalize`]).
pub(crate) fn distinct(mut v: Vec<StepSeries>, mode: NameRemoval) -> Result<Vec<StepSeries>> {
    if mode == NameRemoval::Delayed {
        return dedupe(v);
    }
    v.retain(|s| s.values.iter().any(Option::is_some));
    let mut seen: FxHashSet<&Labels> = FxHashSet::default();
    seen.reserve(v.len());
    if v.iter().all(|s| seen.insert(&s.labels)) {
        return Ok(v);
    }
    Err(same_labelset())
}

/// Prometheus's error for two series of one instant vector with equal labels.
pub(crate) fn same_labelset() -> PromqlError {
    PromqlError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Whether `l` is marked to lose its name.
pub(crate) fn name_dropped(l: &Labels) -> bool {
    l.get(DROP_NAME_MARK).is_some()
}

/// `l` without the drop mark: the labels as Prometheus holds them mid-query.
pub(crate) fn visible_labels(l: &Labels) -> Labels {
    if !name_dropped(l) {
        return l.clone();
    }
    let mut b = l.to_builder();
    b.delete(DROP_NAME_MARK);
    b.build()
}

/// The labels a query result shows: the name removed if it was marked.
pub(crate) fn finalize_labels(l: &Labels) -> Labels {
    if !name_dropped(l) {
        return l.clone();
    }
    let mut b = l.to_builder();
    b.delete(DROP_NAME_MARK);
    b.delete(METRIC_NAME);
    b.build()
}

/// Applies pending name drops to a result and merges series that became equal
/// (two values at one step are Prometheus's duplicate-labelset error).
pub(crate) fn finalize(mut v: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    let mut changed = false;
    for s in &mut v {
        if name_dropped(&s.labels) {
            s.labels = finalize_labels(&s.labels);
            changed = true;
        }
    }
    if changed {
        v.retain(|s| s.values.iter().any(Option::is_some));
        dedupe(v)
    } else {
        Ok(v)
    }
}

/// Merges series with equal labels; two values at the same step are Prometheus's
/// "vector cannot contain metrics with the same labelset" error.
pub(crate) fn dedupe(mut v: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    if v.len() < 2 {
        return Ok(v);
    }
    // Keep the original order for results whose order matters (instant sort/topk);
    // only reorder when there is a duplicate.
    // Hashing finds out in linear time; sorting label sets to compare neighbours
    // costs n log n comparisons of long, mostly equal strings.
    let mut seen: FxHashSet<&Labels> = FxHashSet::default();
    seen.reserve(v.len());
    if v.iter().all(|s| seen.insert(&s.labels)) {
        return Ok(v);
    }
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<StepSeries> = Vec::with_capacity(v.len());
    for s in v {
        match out.last_mut() {
            Some(last) if last.labels == s.labels => {
                for (a, b) in last.values.iter_mut().zip(s.values) {
                    match (a.is_some(), b) {
                        (true, Some(_)) => return Err(same_labelset()),
                        (false, Some(x)) => *a = Some(x),
                        _ => {}
                    }
                }
            }
            _ => out.push(s),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::{Engine, MemStore, Value};
    use orrery_model::{Labels, Sample};

    fn store() -> MemStore {
        let s = MemStore::new();
        for (name, env, step) in [("a_total", "1", 1.0), ("b_total", "1", 2.0)] {
            s.add(
                Labels::from_pairs([("__name__", name), ("env", env)]),
                (0..=10).map(|i| Sample::new(i * 60_000, i as f64 * step)),
            );
        }
        s
    }

    fn instant(s: &MemStore, q: &str) -> Vec<(String, f64)> {
        instant_with(&Engine::default(), s, q)
    }

    fn delayed() -> Engine {
        Engine::new(crate::EngineOptions {
            delayed_name_removal: true,
            ..Default::default()
        })
    }

    fn instant_with(e: &Engine, s: &MemStore, q: &str) -> Vec<(String, f64)> {
        match e.instant_query(s, q, 600_000) {
            Ok(r) => match r.value {
                Value::Vector(v) => {
                    let mut out: Vec<(String, f64)> =
                        v.into_iter().map(|e| (e.labels.to_string(), e.v)).collect();
                    out.sort_by(|a, b| a.0.cmp(&b.0));
                    out
                }
                other => panic!("{other:?}"),
            },
            Err(e) => vec![(format!("error: {e}"), f64::NAN)],
        }
    }

    fn error(s: &MemStore, q: &str) -> String {
        match Engine::default().instant_query(s, q, 600_000) {
            Ok(r) => panic!("{q} gave {:?}", r.value),
            Err(e) => e.to_string(),
        }
    }

    const SAME: &str = "vector cannot contain metrics with the same labelset";

    #[test]
    fn names_are_dropped_at_once_by_default() {
        let s = store();
        // Prometheus 3 without `promql-delayed-name-removal`: the two rates differ
        // only by name, so they collide where the function returns.
        assert_eq!(error(&s, "sum(rate({env=\"1\"}[5m]))"), SAME);
        assert_eq!(error(&s, "rate({__name__=~\"a_total|b_total\"}[5m])"), SAME);
        assert_eq!(
            error(&s, "sum(count_over_time({__name__=~\".+_total\"}[45s]))"),
            SAME
        );
        // Operators: unary minus, vector-scalar arithmetic and `bool` comparisons.
        assert_eq!(error(&s, "-{env=\"1\"}"), SAME);
        assert_eq!(error(&s, "{env=\"1\"} * 2"), SAME);
        assert_eq!(error(&s, "{env=\"1\"} > bool 1"), SAME);
        // A filtering comparison and `last_over_time` keep the name: no collision.
        assert_eq!(instant(&s, "{env=\"1\"} > 1").len(), 2);
        assert_eq!(
            instant(&s, "last_over_time({env=\"1\"}[5m])"),
            [
                ("a_total{env=\"1\"}".to_string(), 10.0),
                ("b_total{env=\"1\"}".to_string(), 20.0)
            ]
        );
        // The name is gone before `label_replace` reads it, as in Prometheus.
        assert_eq!(
            instant(
                &s,
                "label_replace(rate(a_total[5m]), \"__name__\", \"r_$1\", \"__name__\", \"(.+)\")"
            ),
            [("{env=\"1\"}".to_string(), 1.0 / 60.0)]
        );
        // Writing the name keeps it.
        assert_eq!(
            instant(
                &s,
                "label_replace(a_total, \"__name__\", \"x_$1\", \"env\", \"(.+)\")"
            ),
            [("x_1{env=\"1\"}".to_string(), 10.0)]
        );
        // Grouping by the name groups nameless series.
        assert_eq!(
            instant(&s, "sum by (__name__) (rate(a_total[5m]))"),
            [("{}".to_string(), 1.0 / 60.0)]
        );
        // Many-to-one matching whose results lose the name and collide.
        assert_eq!(
            error(
                &s,
                "{env=\"1\"} + on (env) group_left sum by (env) ({env=\"1\"})"
            ),
            "multiple matches for labels: grouping labels must ensure unique matches"
        );
    }

    #[test]
    fn distinct_label_sets_do_not_collide() {
        let s = MemStore::new();
        for (name, inst) in [("a", "1"), ("b", "2")] {
            s.add(
                Labels::from_pairs([("__name__", name), ("instance", inst)]),
                (0..=10).map(|i| Sample::new(i * 60_000, i as f64)),
            );
        }
        assert_eq!(
            instant(&s, "rate({__name__=~\"a|b\"}[5m])"),
            [
                ("{instance=\"1\"}".to_string(), 1.0 / 60.0),
                ("{instance=\"2\"}".to_string(), 1.0 / 60.0)
            ]
        );
        assert_eq!(instant(&s, "sum({__name__=~\"a|b\"} * 2)")[0].1, 40.0);
    }

    #[test]
    fn range_function_results_collide_even_without_common_steps() {
        // Prometheus checks a range-vector function's whole result: `a` ends before
        // `b` starts, yet their rates (equal label sets) fail a range query.
        let s = MemStore::new();
        s.add(
            Labels::from_pairs([("__name__", "a"), ("job", "j")]),
            (0..=5).map(|i| Sample::new(i * 60_000, i as f64)),
        );
        s.add(
            Labels::from_pairs([("__name__", "b"), ("job", "j")]),
            (20..=25).map(|i| Sample::new(i * 60_000, i as f64)),
        );
        let e = Engine::default();
        let q = "rate({__name__=~\"a|b\"}[2m])";
        let err = e.range_query(&s, q, 0, 1_500_000, 60_000).unwrap_err();
        assert_eq!(err.to_string(), SAME);
        // A function of instant vectors is checked per step, as `rangeEval` does.
        let r = e.range_query(&s, "abs({job=\"j\"})", 0, 1_500_000, 60_000);
        assert!(matches!(r.map(|r| r.value), Ok(Value::Matrix(m)) if m.len() == 1));
        // Delayed removal merges them at the end.
        let r = delayed().range_query(&s, q, 0, 1_500_000, 60_000);
        assert!(matches!(r.map(|r| r.value), Ok(Value::Matrix(m)) if m.len() == 1));
    }

    #[test]
    fn delayed_name_removal_drops_names_at_the_end() {
        let s = store();
        let d = delayed();
        // Two rates differ only by name: no collision mid-expression.
        assert_eq!(
            instant_with(&d, &s, "sum by (env) (rate({env=\"1\"}[5m]))"),
            [("{env=\"1\"}".to_string(), 0.05)]
        );
        // The name can still be read and kept by writing it.
        assert_eq!(
            instant_with(
                &d,
                &s,
                "label_replace(rate(a_total[5m]), \"__name__\", \"r_$1\", \"__name__\", \"(.+)\")"
            ),
            [("r_a_total{env=\"1\"}".to_string(), 1.0 / 60.0)]
        );
        // Grouping by the name keeps it until the end, where the two collide.
        assert!(
            instant_with(&d, &s, "sum by (__name__) (rate({env=\"1\"}[5m]))")[0]
                .0
                .contains("same labelset")
        );
        // The mark never shows.
        assert_eq!(
            instant_with(&d, &s, "-a_total"),
            [("{env=\"1\"}".to_string(), -10.0)]
        );
    }

    #[test]
    fn limitk_and_limit_ratio() {
        let s = store();
        assert_eq!(instant(&s, "count(limitk(1, {env=\"1\"}))")[0].1, 1.0);
        assert_eq!(
            instant(
                &s,
                "(count(limit_ratio(0.3, {env=\"1\"})) or vector(0)) + (count(limit_ratio(-0.7, {env=\"1\"})) or vector(0))"
            )[0]
            .1,
            2.0
        );
        assert!(instant(&s, "topk(NaN, {env=\"1\"})")[0]
            .0
            .contains("Parameter value is NaN"));
    }

    #[test]
    fn avg_starts_from_the_first_value() {
        let s = MemStore::new();
        for (p, v) in [("a", f64::INFINITY), ("b", 0.0), ("c", f64::INFINITY)] {
            s.add(
                Labels::from_pairs([("__name__", "d"), ("p", p)]),
                [Sample::new(0, v)],
            );
        }
        let r = Engine::default()
            .instant_query(&s, "avg(d)", 0)
            .map(|r| r.value);
        assert!(
            matches!(&r, Ok(Value::Vector(v)) if v[0].v == f64::INFINITY),
            "{r:?}"
        );
    }
}
