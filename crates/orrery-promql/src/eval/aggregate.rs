//! Aggregation operators with `by`/`without`, computed per step with Prometheus's
//! numerics (Kahan-compensated sums and means, Welford variance, NaN ordering), and
//! the selecting ones (`topk`, `bottomk`, `limitk`, and `limit_ratio`, which keeps a
//! series by where its label hash falls, as Prometheus does). A group keyed by
//! `__name__` keeps the name (with delayed name removal: marked for removal if its
//! members' was; by default those members have already lost it).

use super::par;
use super::xxhash::labels_hash;
use super::DROP_NAME_MARK;
use super::{
    drop_name, name_dropped, visible_labels, Anchor, Evaluator, NameRemoval, StepSeries, Val,
};
use crate::error::{PromqlError, Result};
use orrery_model::{Label, Labels, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};
use rustc_hash::FxHashMap;

/// Prometheus's `kahanSumInc` (Neumaier's variant).
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Prometheus's `quantile` over unsorted values (NaN sorts first).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    values[lower as usize] * (1.0 - w) + values[upper as usize] * w
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`, as label values and messages write
/// numbers.
pub(crate) use orrery_model::gofloat::go_f as format_float;

/// The labels of `l` that make its group, borrowed, in label order.
fn group_key<'l>(l: &'l Labels, m: &Option<LabelModifier>) -> Vec<&'l Label> {
    match m {
        Some(LabelModifier::Include(names)) => l
            .iter()
            .filter(|x| names.labels.contains(&x.name))
            .collect(),
        Some(LabelModifier::Exclude(names)) => l
            .iter()
            .filter(|x| {
                x.name != METRIC_NAME && x.name != DROP_NAME_MARK && !names.labels.contains(&x.name)
            })
            .collect(),
        None => Vec::new(),
    }
}

impl Evaluator<'_> {
    fn scalar_param(&mut self, p: &Option<Box<Expr>>, what: &str) -> Result<Vec<f64>> {
        match p {
            Some(e) => match self.eval(e)? {
                Val::Scalar(v) => Ok(v),
                _ => Err(PromqlError::Execution(format!(
                    "expected scalar parameter for {what}"
                ))),
            },
            None => Err(PromqlError::Execution(format!(
                "{what} requires a parameter"
            ))),
        }
    }

    pub(crate) fn aggregate(&mut self, a: &AggregateExpr) -> Result<Val> {
        let op = a.op.to_string().to_ascii_lowercase();
        let steps = self.steps();
        let param_scalar = match op.as_str() {
            "topk" | "bottomk" | "quantile" | "limitk" | "limit_ratio" => {
                Some(self.scalar_param(&a.param, &op)?)
            }
            _ => None,
        };
        let label_param = if op == "count_values" {
            match a.param.as_deref().map(|e| self.eval(e)).transpose()? {
                Some(Val::String(s)) => Some(s),
                _ => {
                    return Err(PromqlError::Execution(
                        "count_values requires a string parameter".into(),
                    ))
                }
            }
        } else {
            None
        };
        if let Some(p) = &param_scalar {
            if op != "quantile" && p.iter().any(|x| x.is_nan()) {
                return Err(PromqlError::Execution(
                    if op == "limit_ratio" {
                        "Ratio value is NaN"
                    } else {
                        "Parameter value is NaN"
                    }
                    .into(),
                ));
            }
            if op == "limit_ratio" {
                if let Some(&r) = p.iter().find(|r| !(-1.0..=1.0).contains(*r)) {
                    self.warn_at(
                        Anchor::Arg(0),
                        format!(
                            "ratio value should be between -1 and 1, got {}, capping to {}",
                            format_float(r),
                            format_float(r.clamp(-1.0, 1.0))
                        ),
                    );
                }
            }
        }
        let input = match self.eval(&a.expr)? {
            Val::Vector(v) => v,
            _ => {
                return Err(PromqlError::Execution(format!(
                    "expected instant vector in aggregation {op}"
                )))
            }
        };
        // Group series once; membership does not change across steps.
        let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
        // Keyed by borrowed labels: a group's labels are copied once, when it is
        // created, not once per member.
        let mut gidx: FxHashMap<Vec<&Label>, usize> = FxHashMap::default();
        for (i, s) in input.iter().enumerate() {
            let key = group_key(&s.labels, &a.modifier);
            let k = match gidx.get(&key) {
                Some(&k) => k,
                None => {
                    let g = Labels::from_sorted_unchecked(key.iter().map(|&x| x.clone()).collect());
                    groups.push((g, Vec::new()));
                    gidx.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[k].1.push(i);
        }
        match op.as_str() {
            "topk" | "bottomk" => {
                let ks = param_scalar.unwrap_or_default();
                let top = op == "topk";
                let mut out = unfilled(&input, steps);
                let mut order: Vec<Vec<usize>> = Vec::new();
                for (i, &kf) in ks.iter().enumerate() {
                    let k = if kf.is_nan() || kf < 1.0 {
                        0
                    } else {
                        kf.min(1e9) as usize
                    };
                    let mut step_order = Vec::new();
                    for (_, members) in &groups {
                        let mut present: Vec<(usize, f64)> = members
                            .iter()
                            .filter_map(|&m| input[m].values[i].map(|v| (m, v)))
                            .collect();
                        // Rank order: best value first, NaN last, ties in input
                        // order (the order a stable sort would leave). With the input
                        // index as the last key the order is total, so selecting the
                        // first k and sorting only those picks exactly the series a
                        // full sort would, in O(n) instead of O(n log n) per step.
                        let rank = |x: &(usize, f64), y: &(usize, f64)| {
                            let (a, b) = (x.1, y.1);
                            match (a.is_nan(), b.is_nan()) {
                                (true, true) => std::cmp::Ordering::Equal,
                                (true, false) => std::cmp::Ordering::Greater,
                                (false, true) => std::cmp::Ordering::Less,
                                _ if top => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
                                _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
                            }
                            .then(x.0.cmp(&y.0))
                        };
                        if k > 0 && k < present.len() {
                            present.select_nth_unstable_by(k - 1, rank);
                            present.truncate(k);
                        }
                        present.sort_unstable_by(rank);
                        for &(m, v) in present.iter().take(k) {
                            out[m].values[i] = Some(v);
                            step_order.push(m);
                        }
                    }
                    order.push(step_order);
                }
                // Instant queries return topk/bottomk in rank order.
                if steps == 1 {
                    let ord = order.pop().unwrap_or_default();
                    let mut taken: Vec<Option<StepSeries>> = out.into_iter().map(Some).collect();
                    return Ok(Val::Vector(
                        ord.into_iter().filter_map(|m| taken[m].take()).collect(),
                    ));
                }
                return Ok(Val::Vector(with_values(out)));
            }
            "limitk" | "limit_ratio" => {
                let p = param_scalar.unwrap_or_default();
                let mut out = unfilled(&input, steps);
                if op == "limitk" {
                    for (i, &kf) in p.iter().enumerate() {
                        let k = if kf < 1.0 { 0 } else { kf.min(1e9) as usize };
                        for (_, members) in &groups {
                            for &m in members
                                .iter()
                                .filter(|&&m| input[m].values[i].is_some())
                                .take(k)
                            {
                                out[m].values[i] = input[m].values[i];
                            }
                        }
                    }
                } else {
                    // Each series is kept or not by where its label hash falls in
                    // [0, 1]: below the ratio, or (negative ratios) at or above
                    // 1 + ratio, so r and r - 1 select complementary sets.
                    let offsets: Vec<f64> = input
                        .iter()
                        .map(|s| labels_hash(&visible_labels(&s.labels)) as f64 / u64::MAX as f64)
                        .collect();
                    for (i, &r) in p.iter().enumerate() {
                        let r = r.clamp(-1.0, 1.0);
                        for (m, s) in input.iter().enumerate() {
                            let keep = if r >= 0.0 {
                                offsets[m] < r
                            } else {
                                offsets[m] >= 1.0 + r
                            };
                            if keep {
                                out[m].values[i] = s.values[i];
                            }
                        }
                    }
                }
                return Ok(Val::Vector(with_values(out)));
            }
            "count_values" => {
                let name = label_param.unwrap_or_default();
                let mut out: Vec<StepSeries> = Vec::new();
                let mut idx: FxHashMap<Labels, usize> = FxHashMap::default();
                for (g, members) in &groups {
                    for i in 0..steps {
                        for &m in members {
                            let Some(v) = input[m].values[i] else {
                                continue;
                            };
                            let mut b = g.to_builder();
                            b.set(name.clone(), format_float(v));
                            let l = b.build();
                            let k = *idx.entry(l.clone()).or_insert_with(|| {
                                out.push(StepSeries {
                                    labels: l,
                                    values: vec![None; steps],
                                });
                                out.len() - 1
                            });
                            *out[k].values[i].get_or_insert(0.0) += 1.0;
                        }
                    }
                }
                return Ok(Val::Vector(out));
            }
            _ => {}
        }
        let mut out = Vec::with_capacity(groups.len());
        let mut buf: Vec<f64> = Vec::new();
        let streaming = Streaming::of(&op);
        // Member by member, all steps at once: each member's values are read in order
        // (instead of one value from every member per step, which jumps between
        // series), and every step still sees its values in member order, so the
        // results round exactly as below. Groups fold independently, on every core.
        let mut folded = streaming
            .map(|f| {
                par::map(&groups, |(_, members)| {
                    let mut values = vec![None; steps];
                    f.fold(members, &input, &mut values);
                    values
                })
            })
            .unwrap_or_default()
            .into_iter();
        for (g, members) in groups {
            let mut values = folded.next().unwrap_or_else(|| vec![None; steps]);
            if streaming.is_none() {
                for (i, slot) in values.iter_mut().enumerate() {
                    buf.clear();
                    buf.extend(members.iter().filter_map(|&m| input[m].values[i]));
                    if buf.is_empty() {
                        continue;
                    }
                    *slot = Some(match op.as_str() {
                        "avg" => avg(&buf),
                        "stddev" | "stdvar" => {
                            let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
                            for &v in &buf {
                                n += 1.0;
                                let d = v - mean;
                                mean += d / n;
                                m2 += d * (v - mean);
                            }
                            if op == "stddev" {
                                (m2 / n).sqrt()
                            } else {
                                m2 / n
                            }
                        }
                        "quantile" => {
                            let q = param_scalar.as_ref().map(|p| p[i]).unwrap_or(f64::NAN);
                            if !(0.0..=1.0).contains(&q) {
                                self.warn_at(
                                    Anchor::Arg(0),
                                    format!(
                                        "quantile value should be between 0 and 1, got {}",
                                        format_float(q)
                                    ),
                                );
                            }
                            quantile(q, &mut buf)
                        }
                        other => {
                            return Err(PromqlError::Execution(format!(
                                "aggregation {other:?} is not supported"
                            )));
                        }
                    });
                }
            }
            // A group keyed by `__name__` keeps it, to be dropped at the end if a
            // member present at the group's first step was marked (Prometheus takes
            // a series' flag from the first step it appears at).
            let Some(first) = values.iter().position(Option::is_some) else {
                continue;
            };
            let marked = g.get(METRIC_NAME).is_some()
                && members
                    .iter()
                    .any(|&m| input[m].values[first].is_some() && name_dropped(&input[m].labels));
            let labels = if marked {
                drop_name(&g, NameRemoval::Delayed)
            } else {
                g
            };
            out.push(StepSeries { labels, values });
        }
        Ok(Val::Vector(out))
    }
}

/// `input`'s series with no value at any step, for a selecting aggregation to fill.
fn unfilled(input: &[StepSeries], steps: usize) -> Vec<StepSeries> {
    input
        .iter()
        .map(|s| StepSeries {
            labels: s.labels.clone(),
            values: vec![None; steps],
        })
        .collect()
}

/// The series of `out` that got a value at some step.
fn with_values(out: Vec<StepSeries>) -> Vec<StepSeries> {
    out.into_iter()
        .filter(|s| s.values.iter().any(Option::is_some))
        .collect()
}

/// Aggregations whose per-step state is a few numbers, folded over the members one
/// series at a time (see the caller).
#[derive(Clone, Copy)]
enum Streaming {
    Sum,
    Count,
    Group,
    Min,
    Max,
}

impl Streaming {
    fn of(op: &str) -> Option<Streaming> {
        Some(match op {
            "sum" => Streaming::Sum,
            "count" => Streaming::Count,
            "group" => Streaming::Group,
            "min" => Streaming::Min,
            "max" => Streaming::Max,
            _ => return None,
        })
    }

    /// Fills `out` (one slot per step, all `None`) with the aggregate of `members`'
    /// values, adding them in member order at every step.
    fn fold(self, members: &[usize], input: &[StepSeries], out: &mut [Option<f64>]) {
        match self {
            Streaming::Sum => {
                // Kahan sum and compensation per step.
                let mut comp = vec![0.0f64; out.len()];
                for &m in members {
                    for ((slot, c), v) in out.iter_mut().zip(&mut comp).zip(&input[m].values) {
                        if let Some(v) = *v {
                            let (s, nc) = kahan_inc(v, slot.unwrap_or(0.0), *c);
                            *slot = Some(s);
                            *c = nc;
                        }
                    }
                }
                for (slot, c) in out.iter_mut().zip(comp) {
                    if let Some(s) = slot {
                        *s += c;
                    }
                }
            }
            Streaming::Count | Streaming::Group => {
                let add = matches!(self, Streaming::Count);
                for &m in members {
                    for (slot, v) in out.iter_mut().zip(&input[m].values) {
                        if v.is_some() {
                            *slot = Some(match *slot {
                                Some(n) if add => n + 1.0,
                                Some(n) => n,
                                None => 1.0,
                            });
                        }
                    }
                }
            }
            Streaming::Min | Streaming::Max => {
                let min = matches!(self, Streaming::Min);
                for &m in members {
                    for (slot, v) in out.iter_mut().zip(&input[m].values) {
                        let Some(v) = *v else { continue };
                        // The first value replaces the NaN the fold starts from.
                        let acc = slot.unwrap_or(f64::NAN);
                        let take = if min { acc > v } else { acc < v } || acc.is_nan();
                        *slot = Some(if take { v } else { acc });
                    }
                }
            }
        }
    }
}

/// Prometheus's mean: the first value starts a compensated sum; once adding a value
/// would overflow it, the mean so far continues as an incremental (compensated) mean.
fn avg(vals: &[f64]) -> f64 {
    let Some((&first, rest)) = vals.split_first() else {
        return f64::NAN;
    };
    let (mut sum, mut c) = (first, 0.0f64);
    let mut mean = first;
    let mut incremental = false;
    let mut count = 1.0f64;
    for &v in rest {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_inc(v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        (sum + c) / count
    }
}
