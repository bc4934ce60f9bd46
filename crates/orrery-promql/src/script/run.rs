//! Runs parsed scripts against the engine with the reference runner's rules: float
//! comparison with relative tolerance 1e-6 (NaN equals NaN, the stale marker only
//! itself), instant vectors as sets unless ordered, range results sorted by labels with
//! exact timestamps, annotation and failure expectations, and for every instant eval
//! the range-mode cross-check over `[t-1m, t+1m]` step 1m (middle point compared).
//!
//! Evals that touch native histograms (a `{{…}}` sample in a selected series, a
//! `load_with_nhcb` histogram family, or a `{{…}}` expectation) are skipped: the engine
//! has no native histograms.

use super::parse::{Command, Eval, Expected, ExpectedSeries, Kind};
use super::series::{SeqValue, SeriesDesc};
use crate::{Engine, MemStore, PromqlError, QueryResult, Value};
use orrery_model::{is_stale_nan, Labels, Sample, StorageError};
use promql_parser::parser::{Expr, VectorSelector};
use promql_parser::util::{walk_expr, ExprVisitor};
use regex::Regex;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{LazyLock, Once};

/// Why a skipped eval was skipped.
pub const SKIP_NATIVE: &str = "native histograms not supported";

/// The result of one eval (or one runner error).
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every expectation held (and the range-mode cross-check agreed).
    Pass,
    /// Not run, with the reason (e.g. [`SKIP_NATIVE`]).
    Skip(String),
    /// The eval failed: a short reason (for the known-failures list) and a detail.
    Fail {
        /// A short, stable reason (`mismatch`, `annotations`, `engine panic`, …).
        reason: String,
        /// What was expected and what came back.
        detail: String,
    },
    /// The eval passed but its range-mode cross-check did not.
    CrossFail {
        /// A short, stable reason, prefixed `cross-check: `.
        reason: String,
        /// What the range query gave at the middle step.
        detail: String,
    },
}

/// One reported item of a file.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// The line of the `eval` header (or of the malformed line).
    pub line: usize,
    /// The expression (empty for a malformed line).
    pub expr: String,
    /// What happened.
    pub outcome: Outcome,
}

const EPSILON: f64 = 1e-6;
const MIN_NORMAL: f64 = f64::MIN_POSITIVE;

/// Prometheus's `almost.Equal`.
pub fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

fn fmt_f(v: f64) -> String {
    if is_stale_nan(v) {
        "stale".into()
    } else {
        format!("{v}")
    }
}

/// Label order as Prometheus's `labels.Compare`.
fn cmp_labels(a: &Labels, b: &Labels) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let c = x.name.cmp(&y.name).then_with(|| x.value.cmp(&y.value));
        if c.is_ne() {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Keeps engine panics (caught by [`Runner`] and reported as failures) from flooding the
/// output: wraps the process's panic hook so that it stays silent while a runner's query
/// is evaluated on this thread. Idempotent; other panics print as before.
pub fn quiet_engine_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                prev(info);
            }
        }));
    });
}

enum QErr {
    Engine(PromqlError),
    Panic(String),
}

impl QErr {
    fn message(&self) -> String {
        match self {
            QErr::Engine(e) => e.to_string(),
            QErr::Panic(m) => format!("engine panicked: {m}"),
        }
    }
}

fn guarded(f: impl FnOnce() -> Result<QueryResult, PromqlError>) -> Result<QueryResult, QErr> {
    QUIET.with(|q| q.set(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(QErr::Engine(e)),
        Err(p) => Err(QErr::Panic(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "<non-string payload>".into()),
        )),
    }
}

static NOT_IMPLEMENTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"function "?([A-Za-z_]+)"? is not (?:implemented|supported)"#).expect("regex")
});
static CONTEXT_FUNCS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(start|end|range|step)\(\)").expect("regex"));

/// Short reason for an unexpected engine error.
fn error_reason(e: &QErr) -> String {
    match e {
        QErr::Panic(_) => "engine panic".into(),
        QErr::Engine(err) => {
            let m = err.to_string();
            if let Some(c) = NOT_IMPLEMENTED.captures(&m) {
                return format!("function not implemented: {}", &c[1]);
            }
            match err {
                PromqlError::Parse(_) => format!("parse error: {}", short(&m, 60)),
                _ => format!("unexpected error: {}", short(&m, 60)),
            }
        }
    }
}

/// Truncates to about `n` characters on a char boundary, one line.
pub fn short(s: &str, n: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= n {
        s
    } else {
        let t: String = s.chars().take(n).collect();
        format!("{t}…")
    }
}

/// Runs one script; `legacy` selects v3.0.1's annotation rules (plain `eval` expects
/// no warnings but tolerates infos; `eval_warn`/`eval_info` want at least one;
/// `eval_ordered` ignores annotations).
pub struct Runner {
    engine: Engine,
    store: MemStore,
    /// Series holding native histograms (not loaded into the store).
    histograms: Vec<Labels>,
    legacy: bool,
}

impl Runner {
    /// A runner over `engine` with an empty store; `legacy` selects v3.0.1's annotation
    /// rules.
    pub fn new(engine: Engine, legacy: bool) -> Self {
        Runner {
            engine,
            store: MemStore::new(),
            histograms: Vec::new(),
            legacy,
        }
    }

    /// Runs `cmds` in order (loads, clears and evals share the runner's store) and
    /// reports every eval and every [`Command::Error`].
    pub fn run(&mut self, cmds: &[Command]) -> Vec<EvalReport> {
        let mut out = Vec::new();
        for c in cmds {
            match c {
                Command::Clear => {
                    self.store.clear();
                    self.histograms.clear();
                }
                Command::Load {
                    line,
                    interval_ms,
                    with_nhcb,
                    series,
                } => {
                    if let Err(e) = self.load(*interval_ms, *with_nhcb, series) {
                        out.push(EvalReport {
                            line: *line,
                            expr: String::new(),
                            outcome: Outcome::Fail {
                                reason: "runner: load failed".into(),
                                detail: e.to_string(),
                            },
                        });
                    }
                }
                Command::Error { line, msg } => out.push(EvalReport {
                    line: *line,
                    expr: String::new(),
                    outcome: Outcome::Fail {
                        reason: "runner: malformed script line".into(),
                        detail: msg.clone(),
                    },
                }),
                Command::Eval(ev) => out.push(EvalReport {
                    line: ev.line,
                    expr: ev.expr.clone(),
                    outcome: self.eval(ev),
                }),
            }
        }
        out
    }

    fn load(
        &mut self,
        interval: i64,
        with_nhcb: bool,
        series: &[(usize, SeriesDesc)],
    ) -> Result<(), StorageError> {
        super::load(&self.store, interval, series)?;
        // The histogram bookkeeping follows the same "last definition wins" rule.
        for (i, (_, d)) in series.iter().enumerate() {
            if series[i + 1..]
                .iter()
                .any(|(_, later)| later.labels == d.labels)
            {
                continue;
            }
            if d.has_histogram() {
                self.add_histogram(d.labels.clone());
            }
            if with_nhcb {
                if let Some(base) = nhcb_base(&d.labels) {
                    self.add_histogram(base);
                }
            }
        }
        Ok(())
    }

    fn add_histogram(&mut self, l: Labels) {
        if !self.histograms.contains(&l) {
            self.histograms.push(l);
        }
    }

    /// True when the query reads a series that holds native histograms.
    fn touches_histograms(&self, expr: &str) -> bool {
        if self.histograms.is_empty() {
            return false;
        }
        match crate::parse_expr(expr) {
            Ok(e) => {
                let mut v = SelectorScan {
                    hist: &self.histograms,
                    hit: false,
                };
                let _ = walk_expr(&mut v, &e);
                v.hit
            }
            // Unparsable here: fall back to looking for the histogram names in the text.
            Err(_) => self
                .histograms
                .iter()
                .filter_map(|l| l.metric_name())
                .any(|n| expr.contains(n)),
        }
    }

    fn eval(&self, ev: &Eval) -> Outcome {
        if ev.expects_histogram || self.touches_histograms(&ev.expr) {
            return Outcome::Skip(SKIP_NATIVE.into());
        }
        match ev.kind {
            Kind::Range { start, end, step } => {
                let r = guarded(|| {
                    self.engine
                        .range_query(&self.store, &ev.expr, start, end, step)
                });
                match self.check_main(ev, r, start, end, step) {
                    Ok(_) => Outcome::Pass,
                    Err(o) => o,
                }
            }
            Kind::Instant { t } => {
                let (t, start, end, step) = match ev.range_vector {
                    Some((s, e, st)) => (e, s, e, st),
                    None => (t, t, t, 0),
                };
                let r = guarded(|| self.engine.instant_query(&self.store, &ev.expr, t));
                let res = match self.check_main(ev, r, start, end, step) {
                    Ok(Some(res)) => res,
                    Ok(None) => return Outcome::Pass,
                    Err(o) => return o,
                };
                if ev.exclude_from_range_check() || CONTEXT_FUNCS.is_match(&ev.expr) {
                    return Outcome::Pass;
                }
                match self.cross_check(ev, &res, t) {
                    Ok(()) => Outcome::Pass,
                    Err((reason, detail)) => Outcome::CrossFail {
                        reason: format!("cross-check: {reason}"),
                        detail,
                    },
                }
            }
        }
    }

    /// Checks errors, annotations and the value. `Ok(Some(result))` when the query
    /// succeeded as expected, `Ok(None)` when it failed as expected.
    fn check_main(
        &self,
        ev: &Eval,
        r: Result<QueryResult, QErr>,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Option<QueryResult>, Outcome> {
        let fail = |reason: &str, detail: String| Outcome::Fail {
            reason: reason.to_string(),
            detail,
        };
        let res = match r {
            Err(e) => {
                if ev.is_fail() && !matches!(e, QErr::Panic(_)) {
                    return match check_expected_failure(ev, &e.message()) {
                        Ok(()) => Ok(None),
                        Err(d) => Err(fail("wrong error message", d)),
                    };
                }
                return Err(Outcome::Fail {
                    reason: error_reason(&e),
                    detail: format!("error: {}", e.message()),
                });
            }
            Ok(res) => res,
        };
        if ev.is_fail() {
            return Err(fail(
                "expected a failure",
                format!("expected an error, got {}", describe(&res.value)),
            ));
        }
        self.check_annotations(ev, &res)
            .map_err(|d| fail("annotations", d))?;
        compare(ev, &res.value, start, end, step).map_err(|d| fail("mismatch", d))?;
        Ok(Some(res))
    }

    fn check_annotations(&self, ev: &Eval, res: &QueryResult) -> Result<(), String> {
        let (w, i) = (&res.warnings, &res.infos);
        if self.legacy {
            if ev.legacy_ordered {
                return Ok(());
            }
            // v3.0.1 rejected unexpected warnings but tolerated unexpected infos.
            return match (ev.legacy_warn, w.is_empty(), ev.legacy_info, i.is_empty()) {
                (false, false, ..) => Err(format!("unexpected warnings: {w:?}")),
                (true, true, ..) => Err("expected warnings but got none".into()),
                (_, _, true, true) => Err("expected infos but got none".into()),
                _ => Ok(()),
            };
        }
        if ev.legacy_warn && w.is_empty() {
            return Err("expected warnings but got none".into());
        }
        if ev.legacy_info && i.is_empty() {
            return Err("expected infos but got none".into());
        }
        check_annos("warn", &ev.warn, w)?;
        check_annos("info", &ev.info, i)?;
        if ev.no_warn && !w.is_empty() {
            return Err(format!("unexpected warnings: {w:?}"));
        }
        if ev.no_info && !i.is_empty() {
            return Err(format!("unexpected infos: {i:?}"));
        }
        Ok(())
    }

    fn cross_check(&self, ev: &Eval, res: &QueryResult, t: i64) -> Result<(), (String, String)> {
        let r = guarded(|| {
            self.engine
                .range_query(&self.store, &ev.expr, t - 60_000, t + 60_000, 60_000)
        });
        let rr = match r {
            Ok(rr) => rr,
            Err(e) => {
                return Err((
                    error_reason(&e),
                    format!("range mode error: {}", e.message()),
                ))
            }
        };
        if ev.is_ordered() {
            return Ok(());
        }
        let Value::Matrix(m) = &rr.value else {
            return Err((
                "not a matrix".into(),
                format!("range mode returned {}", describe(&rr.value)),
            ));
        };
        assert_sorted(m).map_err(|d| ("unsorted".to_string(), d))?;
        let vec: Vec<(Labels, f64)> = m
            .iter()
            .filter_map(|s| {
                s.samples
                    .iter()
                    .find(|p| p.t == t)
                    .map(|p| (s.labels.clone(), p.v))
            })
            .collect();
        let got = if matches!(res.value, Value::Scalar { .. }) {
            match vec.first() {
                Some((_, v)) => Value::Scalar { t, v: *v },
                None => {
                    return Err((
                        "mismatch".into(),
                        "range mode: no point at the middle step".into(),
                    ))
                }
            }
        } else {
            Value::Vector(
                vec.into_iter()
                    .map(|(labels, v)| crate::VectorElem { labels, t, v })
                    .collect(),
            )
        };
        compare(ev, &got, t, t, 0).map_err(|d| ("mismatch".to_string(), format!("range mode: {d}")))
    }
}

/// The NHCB family a classic-histogram series belongs to, if any.
fn nhcb_base(l: &Labels) -> Option<Labels> {
    let name = l.metric_name()?;
    let base = if let Some(b) = name.strip_suffix("_bucket") {
        l.get("le")?;
        b
    } else {
        name.strip_suffix("_count")
            .or_else(|| name.strip_suffix("_sum"))?
    };
    let mut b = l.to_builder();
    b.set("__name__", base).delete("le");
    Some(b.build())
}

struct SelectorScan<'a> {
    hist: &'a [Labels],
    hit: bool,
}

impl ExprVisitor for SelectorScan<'_> {
    type Error = ();
    fn pre_visit(&mut self, e: &Expr) -> Result<bool, ()> {
        let vs = match e {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        if self.hist.iter().any(|l| selects(vs, l)) {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }
}

fn selects(vs: &VectorSelector, l: &Labels) -> bool {
    let get = |n: &str| l.get(n).unwrap_or("");
    if let Some(n) = &vs.name {
        if get("__name__") != n {
            return false;
        }
    }
    let all = |ms: &[promql_parser::label::Matcher]| ms.iter().all(|m| m.is_match(get(&m.name)));
    all(&vs.matchers.matchers)
        && (vs.matchers.or_matchers.is_empty() || vs.matchers.or_matchers.iter().any(|g| all(g)))
}

fn check_expected_failure(ev: &Eval, msg: &str) -> Result<(), String> {
    if let Some(m) = &ev.expected_fail_message {
        if m != msg {
            return Err(format!("expected error {m:?}, got {msg:?}"));
        }
    }
    if let Some(r) = &ev.expected_fail_regexp {
        if !r.is_match(msg) {
            return Err(format!(
                "expected error matching {:?}, got {msg:?}",
                r.as_str()
            ));
        }
    }
    if let Some(m) = ev.fail.first() {
        if !m.matches(msg) {
            return Err(format!("expected error {m}, got {msg:?}"));
        }
    }
    Ok(())
}

fn check_annos(
    kind: &str,
    expected: &[super::parse::Matcher],
    actual: &[String],
) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {kind} annotations but none were found"));
    }
    for e in expected {
        if !actual.iter().any(|a| e.matches(a)) {
            return Err(format!("no {kind} annotation matches {e}; got {actual:?}"));
        }
    }
    for a in actual {
        if !expected.iter().any(|e| e.matches(a)) {
            return Err(format!("unexpected {kind} annotation {a:?}"));
        }
    }
    Ok(())
}

fn describe(v: &Value) -> String {
    match v {
        Value::Scalar { v, .. } => format!("scalar {}", fmt_f(*v)),
        Value::String { s, .. } => format!("string {s:?}"),
        Value::Vector(vs) => {
            let items: Vec<String> = vs
                .iter()
                .take(4)
                .map(|e| format!("{} {}", e.labels, fmt_f(e.v)))
                .collect();
            let more = if vs.len() > 4 { ", …" } else { "" };
            format!("vector({}) [{}{more}]", vs.len(), items.join(", "))
        }
        Value::Matrix(m) => {
            let items: Vec<String> = m
                .iter()
                .take(3)
                .map(|s| {
                    let pts: Vec<String> = s
                        .samples
                        .iter()
                        .take(6)
                        .map(|p| format!("{}@{}", fmt_f(p.v), p.t))
                        .collect();
                    let more = if s.samples.len() > 6 { " …" } else { "" };
                    format!("{} [{}{more}]", s.labels, pts.join(" "))
                })
                .collect();
            let more = if m.len() > 3 { ", …" } else { "" };
            format!("matrix({}) [{}{more}]", m.len(), items.join(", "))
        }
    }
}

fn assert_sorted(m: &[orrery_model::Series]) -> Result<(), String> {
    for w in m.windows(2) {
        if cmp_labels(&w[0].labels, &w[1].labels).is_gt() {
            return Err(format!(
                "matrix not sorted by labels: {} before {}",
                w[0].labels, w[1].labels
            ));
        }
    }
    Ok(())
}

fn find<'a>(exp: &'a [ExpectedSeries], l: &Labels) -> Option<&'a ExpectedSeries> {
    // The last definition wins, as in the reference's map.
    exp.iter().rev().find(|e| &e.labels == l)
}

/// Compares a value with the eval's expectation, as the reference's `compareResult`.
fn compare(ev: &Eval, v: &Value, start: i64, end: i64, step: i64) -> Result<(), String> {
    let empty = Vec::new();
    let series: &[ExpectedSeries] = match &ev.expected {
        Expected::Series(s) => s,
        _ => &empty,
    };
    match v {
        Value::Matrix(m) => {
            if ev.is_ordered() {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if let Expected::Scalar(_) = ev.expected {
                return Err(format!("expected scalar, got {}", describe(v)));
            }
            assert_sorted(m)?;
            for s in m {
                let Some(exp) = find(series, &s.labels) else {
                    return Err(format!(
                        "unexpected series {} in result [{}]",
                        s.labels,
                        points(&s.samples)
                    ));
                };
                let mut want = Vec::new();
                for (i, e) in exp.values.iter().enumerate() {
                    let ts = start + i as i64 * step;
                    if ts > end {
                        return Err(format!(
                            "expected {} points for {}, but the time range cannot hold them",
                            exp.values.len(),
                            exp.labels
                        ));
                    }
                    if let SeqValue::Float(f) = e {
                        want.push((ts, *f));
                    }
                }
                let ok = want.len() == s.samples.len()
                    && want
                        .iter()
                        .zip(&s.samples)
                        .all(|(w, g)| w.0 == g.t && almost_equal(g.v, w.1));
                if !ok {
                    let w: Vec<Sample> = want.iter().map(|&(t, v)| Sample::new(t, v)).collect();
                    return Err(format!(
                        "{}: expected [{}], got [{}]",
                        s.labels,
                        points(&w),
                        points(&s.samples)
                    ));
                }
            }
            for e in series {
                if !m.iter().any(|s| s.labels == e.labels) {
                    return Err(format!(
                        "expected series {} not found; got {}",
                        e.labels,
                        describe(v)
                    ));
                }
            }
            Ok(())
        }
        Value::Vector(vs) => {
            if let Expected::Scalar(_) = ev.expected {
                return Err(format!("expected scalar, got {}", describe(v)));
            }
            for (pos, el) in vs.iter().enumerate() {
                let Some(exp) = find(series, &el.labels) else {
                    return Err(format!(
                        "unexpected series {} {} in result",
                        el.labels,
                        fmt_f(el.v)
                    ));
                };
                if ev.is_ordered() && exp.pos != pos + 1 {
                    return Err(format!(
                        "expected {} at position {} but it was at {}",
                        el.labels,
                        exp.pos,
                        pos + 1
                    ));
                }
                let want = match exp.values.first() {
                    Some(SeqValue::Float(f)) => *f,
                    Some(_) => 0.0,
                    None => return Err(format!("no expected value for {}", exp.labels)),
                };
                if !almost_equal(want, el.v) {
                    return Err(format!(
                        "{}: expected {}, got {}",
                        el.labels,
                        fmt_f(want),
                        fmt_f(el.v)
                    ));
                }
            }
            for e in series {
                if !vs.iter().any(|x| x.labels == e.labels) {
                    return Err(format!(
                        "expected series {} not found; got {}",
                        e.labels,
                        describe(v)
                    ));
                }
            }
            Ok(())
        }
        Value::Scalar { v: got, .. } => match ev.expected {
            Expected::Scalar(want) if almost_equal(want, *got) => Ok(()),
            Expected::Scalar(want) => Err(format!(
                "expected scalar {}, got {}",
                fmt_f(want),
                fmt_f(*got)
            )),
            _ => Err(format!(
                "expected a vector or matrix, got scalar {}",
                fmt_f(*got)
            )),
        },
        Value::String { s, .. } => {
            let want = match &ev.expected {
                Expected::String(w) => w.as_str(),
                _ => "",
            };
            if want == s {
                Ok(())
            } else {
                Err(format!("expected string {want:?}, got {s:?}"))
            }
        }
    }
}

fn points(s: &[Sample]) -> String {
    let p: Vec<String> = s
        .iter()
        .take(8)
        .map(|p| format!("{}@{}", fmt_f(p.v), p.t))
        .collect();
    let more = if s.len() > 8 { " …" } else { "" };
    format!("{}{more}", p.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn almost_equal_rules() {
        assert!(almost_equal(1.0, 1.0 + 1e-9));
        assert!(!almost_equal(1.0, 1.001));
        assert!(almost_equal(f64::NAN, -f64::NAN));
        assert!(almost_equal(
            orrery_model::STALE_NAN,
            orrery_model::STALE_NAN
        ));
        assert!(!almost_equal(orrery_model::STALE_NAN, f64::NAN));
        assert!(!almost_equal(0.0, 1e-300));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
    }

    fn outcomes(script: &str) -> Vec<Outcome> {
        let cmds = super::super::parse::parse_script(script);
        Runner::new(Engine::default(), false)
            .run(&cmds)
            .into_iter()
            .map(|r| r.outcome)
            .collect()
    }

    #[test]
    fn runner_is_not_vacuous() {
        let o = outcomes(
            "load 1m\n  foo{a=\"x\"} 1+1x4\n  h {{schema:0 sum:1 count:1}}\n\n\
             eval instant at 2m foo\n  foo{a=\"x\"} 3\n\n\
             eval instant at 2m foo\n  foo{a=\"x\"} 4\n\n\
             eval instant at 2m foo\n\n\
             eval range from 0 to 2m step 1m foo\n  foo{a=\"x\"} 1 2 3\n\n\
             eval range from 0 to 2m step 1m foo\n  foo{a=\"x\"} 1 _ 3\n\n\
             eval instant at 2m h\n\n\
             eval instant at 2m foo +\n  expect fail\n\n\
             eval instant at 2m foo\n  expect fail\n\n\
             eval instant at 2m 1 + 1\n  2\n\n\
             eval instant at 2m 1 + 1\n  3\n",
        );
        let kinds: Vec<&str> = o
            .iter()
            .map(|o| match o {
                Outcome::Pass => "pass",
                Outcome::Skip(_) => "skip",
                Outcome::Fail { .. } => "fail",
                Outcome::CrossFail { .. } => "cross",
            })
            .collect();
        assert_eq!(
            kinds,
            ["pass", "fail", "fail", "pass", "fail", "skip", "pass", "fail", "pass", "fail"],
            "{o:?}"
        );
    }

    #[test]
    fn nhcb_families() {
        let l = Labels::from_pairs([("__name__", "x_bucket"), ("le", "1"), ("a", "b")]);
        assert_eq!(
            nhcb_base(&l),
            Some(Labels::from_pairs([("__name__", "x"), ("a", "b")]))
        );
        assert_eq!(nhcb_base(&Labels::from_pairs([("__name__", "x")])), None);
    }
}
