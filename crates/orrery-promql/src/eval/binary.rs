//! Binary operators: arithmetic, comparison (filtering or `bool`), and set operators,
//! with Prometheus's vector matching (`on`/`ignoring`, `group_left`/`group_right`) and
//! its errors for ambiguous matches.

use super::{
    dedupe, drop_name_owned, name_dropped, par, Evaluator, NameRemoval, StepSeries, Val,
    DROP_NAME_MARK,
};
use crate::error::{PromqlError, Result};
use orrery_model::{Label, Labels, LabelsBuilder, METRIC_NAME};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(s: &str) -> Result<Op> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            other => {
                return Err(PromqlError::Execution(format!(
                    "unsupported binary operator {other:?}"
                )))
            }
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }

    /// Arithmetic drops the metric name; comparisons keep it unless `bool`.
    fn drops_name(self) -> bool {
        matches!(
            self,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow | Op::Atan2
        )
    }

    /// Prometheus's `vectorElemBinop`: the value, and whether a comparison keeps it.
    fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            Op::Add => (l + r, true),
            Op::Sub => (l - r, true),
            Op::Mul => (l * r, true),
            Op::Div => (l / r, true),
            Op::Mod => (l % r, true),
            Op::Pow => (l.powf(r), true),
            Op::Atan2 => (l.atan2(r), true),
            Op::Eq => (l, l == r),
            Op::Ne => (l, l != r),
            Op::Gt => (l, l > r),
            Op::Lt => (l, l < r),
            Op::Ge => (l, l >= r),
            Op::Le => (l, l <= r),
            Op::And | Op::Or | Op::Unless => (l, true),
        }
    }
}

/// Go's `math.Mod` and Rust's `%` agree on f64 (both truncated, sign of the dividend);
/// `powf` matches `math.Pow` for the cases the test suite covers.
impl Evaluator<'_> {
    pub(crate) fn binary(&mut self, b: &BinaryExpr) -> Result<Val> {
        let op = Op::parse(&b.op.to_string())?;
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        let mode = self.name_removal();
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(&a, &b)| {
                        let (v, keep) = op.apply(a, b);
                        if op.is_comparison() {
                            if keep {
                                1.0
                            } else {
                                0.0
                            }
                        } else {
                            v
                        }
                    })
                    .collect(),
            )),
            (Val::Vector(l), Val::Scalar(r)) => {
                vector_scalar(op, l, &r, false, return_bool, mode).map(Val::Vector)
            }
            (Val::Scalar(l), Val::Vector(r)) => {
                vector_scalar(op, r, &l, true, return_bool, mode).map(Val::Vector)
            }
            (Val::Vector(l), Val::Vector(r)) => {
                if op.is_set() {
                    return Ok(Val::Vector(set_op(op, l, r, b, self.steps())));
                }
                vector_vector(op, l, r, b, return_bool, self.steps(), mode).map(Val::Vector)
            }
            _ => Err(PromqlError::Execution(
                "binary operators are not defined on strings".into(),
            )),
        }
    }
}

fn vector_scalar(
    op: Op,
    mut v: Vec<StepSeries>,
    s: &[f64],
    swap: bool,
    return_bool: bool,
    mode: NameRemoval,
) -> Result<Vec<StepSeries>> {
    // Every series on its own, spread over cores (see `par`).
    let kept = par::map_mut(&mut v, |series| {
        let mut any = false;
        for (i, slot) in series.values.iter_mut().enumerate() {
            let Some(x) = *slot else { continue };
            let (l, r) = if swap { (s[i], x) } else { (x, s[i]) };
            let (mut val, mut keep) = op.apply(l, r);
            // A comparison keeps the vector's value even when the scalar is on the left.
            if op.is_comparison() && swap {
                val = x;
            }
            if return_bool {
                val = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            *slot = keep.then_some(val);
            any |= keep;
        }
        any
    });
    let mut out = Vec::with_capacity(v.len());
    for (mut series, any) in v.into_iter().zip(kept) {
        if any {
            if op.drops_name() || return_bool {
                series.labels = drop_name_owned(std::mem::take(&mut series.labels), mode);
            }
            out.push(series);
        }
    }
    // Per step, as Prometheus's `rangeEval` checks an operator's output.
    dedupe(out)
}

/// How two sides are matched: the label list and whether it is `on` (true) or
/// `ignoring` (false).
fn matching(b: &BinaryExpr) -> (Vec<String>, bool) {
    match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
        Some(LabelModifier::Include(l)) => (l.labels.clone(), true),
        Some(LabelModifier::Exclude(l)) => (l.labels.clone(), false),
        None => (Vec::new(), false),
    }
}

/// The match-group signature of a series: its matching labels, borrowed, in label
/// order (building owned label sets per series cost more than the matching itself).
type Sig<'l> = Vec<&'l Label>;

fn signature<'l>(l: &'l Labels, names: &[String], on: bool) -> Sig<'l> {
    if on {
        l.iter().filter(|x| names.contains(&x.name)).collect()
    } else {
        l.iter()
            .filter(|x| {
                x.name != METRIC_NAME && x.name != DROP_NAME_MARK && !names.contains(&x.name)
            })
            .collect()
    }
}

/// A signature as a label set, for messages.
fn sig_labels(sig: &Sig<'_>) -> Labels {
    Labels::from_sorted_unchecked(sig.iter().map(|&l| l.clone()).collect())
}

/// Prometheus's `labels.String()`: `{a="1", b="2"}` with every label, `__name__`
/// included, in name order (the drop mark is not a label and is left out).
pub(crate) fn prom_labels_string(l: &Labels) -> String {
    let mut out = String::from("{");
    let mut first = true;
    for x in l.iter().filter(|x| x.name != DROP_NAME_MARK) {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(&x.name);
        out.push('=');
        out.push_str(&go_quote(&x.value));
    }
    out.push('}');
    out
}

/// Go's `strconv.Quote` for a valid UTF-8 string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn set_op(
    op: Op,
    l: Vec<StepSeries>,
    r: Vec<StepSeries>,
    b: &BinaryExpr,
    steps: usize,
) -> Vec<StepSeries> {
    let (names, on) = matching(b);
    match op {
        Op::And | Op::Unless => {
            // Per step: which signatures the right side has.
            let mut present: FxHashMap<Sig<'_>, Vec<bool>> = FxHashMap::default();
            for s in &r {
                let e = present
                    .entry(signature(&s.labels, &names, on))
                    .or_insert_with(|| vec![false; steps]);
                for (i, v) in s.values.iter().enumerate() {
                    e[i] |= v.is_some();
                }
            }
            let want = op == Op::And;
            l.into_iter()
                .filter_map(|mut s| {
                    let p = present.get(&signature(&s.labels, &names, on));
                    let mut any = false;
                    for (i, v) in s.values.iter_mut().enumerate() {
                        let has = p.is_some_and(|p| p[i]);
                        if has != want {
                            *v = None;
                        }
                        any |= v.is_some();
                    }
                    any.then_some(s)
                })
                .collect()
        }
        _ => {
            // `or`: all of the left, plus right series at steps where no left series
            // of the same signature has a value.
            let mut present: FxHashMap<Sig<'_>, Vec<bool>> = FxHashMap::default();
            for s in &l {
                let e = present
                    .entry(signature(&s.labels, &names, on))
                    .or_insert_with(|| vec![false; steps]);
                for (i, v) in s.values.iter().enumerate() {
                    e[i] |= v.is_some();
                }
            }
            let mut rest = Vec::new();
            for mut s in r {
                let p = present.get(&signature(&s.labels, &names, on));
                let mut any = false;
                for (i, v) in s.values.iter_mut().enumerate() {
                    if p.is_some_and(|p| p[i]) {
                        *v = None;
                    }
                    any |= v.is_some();
                }
                if any {
                    rest.push(s);
                }
            }
            // `present` borrows the left side's labels until here.
            drop(present);
            let mut out = l;
            out.extend(rest);
            out
        }
    }
}

fn vector_vector(
    op: Op,
    l: Vec<StepSeries>,
    r: Vec<StepSeries>,
    b: &BinaryExpr,
    return_bool: bool,
    steps: usize,
    mode: NameRemoval,
) -> Result<Vec<StepSeries>> {
    let (names, on) = matching(b);
    let card = b
        .modifier
        .as_ref()
        .map(|m| m.card.clone())
        .unwrap_or(VectorMatchCardinality::OneToOne);
    let include: Vec<String> = card.labels().map(|l| l.labels.clone()).unwrap_or_default();
    // The "many" side is iterated; the "one" side is looked up by signature.
    let (many, one, swap) = match card {
        VectorMatchCardinality::OneToMany(_) => (r, l, true),
        _ => (l, r, false),
    };
    let one_sigs: Vec<Sig<'_>> = one
        .iter()
        .map(|s| signature(&s.labels, &names, on))
        .collect();
    // The "one" series of each signature, as groups indexed from the map (so that a
    // lookup borrows no "many" labels beyond the lookup itself).
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_sig: FxHashMap<&Sig<'_>, usize> = FxHashMap::default();
    for (i, sig) in one_sigs.iter().enumerate() {
        let next = groups.len();
        let g = *by_sig.entry(sig).or_insert(next);
        if g == next {
            groups.push(Vec::new());
        }
        groups[g].push(i);
    }
    let side = if swap { "left" } else { "right" };
    // The "one" side must be unique per signature at every step, whether or not the
    // other side matches it.
    for (sig, &g) in &by_sig {
        let members = &groups[g];
        if members.len() < 2 {
            continue;
        }
        for i in 0..steps {
            let mut present: Vec<&Labels> = members
                .iter()
                .filter(|&&c| one[c].values[i].is_some())
                .map(|&c| &one[c].labels)
                .collect();
            if present.len() > 1 {
                present.sort();
                return Err(PromqlError::Execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    prom_labels_string(&sig_labels(sig)),
                    prom_labels_string(present[0]),
                    prom_labels_string(present[1])
                )));
            }
        }
    }
    // Output series: their values by index, and the index keyed by their labels (the
    // map owns the labels until the end, so they are never copied).
    let mut out: Vec<Vec<Option<f64>>> = Vec::new();
    let mut out_idx: FxHashMap<Labels, usize> = FxHashMap::default();
    // For one-to-one: which signature (named by its first "one" series) already matched
    // at each step. Checked before a comparison filters, as Prometheus does, so a
    // filtered-away match still counts.
    let mut matched_sig: FxHashMap<usize, Vec<bool>> = FxHashMap::default();
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    // The "one" series each step of the current "many" series matched.
    let mut partner: Vec<usize> = vec![usize::MAX; steps];
    for m in many {
        let Some(&g) = by_sig.get(&signature(&m.labels, &names, on)) else {
            continue;
        };
        let cands = &groups[g];
        let mut seen = one_to_one.then(|| {
            matched_sig
                .remove(&cands[0])
                .unwrap_or_else(|| vec![false; steps])
        });
        // The series' values become the result's, step by step, in place.
        let StepSeries { labels, mut values } = m;
        // The partner of the first kept step, and whether any other step has another.
        let mut first: Option<usize> = None;
        let mut mixed = false;
        for i in 0..steps {
            let Some(mv) = values[i] else { continue };
            values[i] = None;
            let Some(c) = cands.iter().copied().find(|&c| one[c].values[i].is_some()) else {
                continue;
            };
            if let Some(seen) = seen.as_mut() {
                if seen[i] {
                    return Err(PromqlError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                seen[i] = true;
            }
            let ov = one[c].values[i].unwrap_or(f64::NAN);
            let (lv, rv) = if swap { (ov, mv) } else { (mv, ov) };
            let (mut val, mut keep) = op.apply(lv, rv);
            if return_bool {
                val = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            if !keep {
                continue;
            }
            values[i] = Some(val);
            partner[i] = c;
            mixed |= first.is_some_and(|f| f != c);
            first.get_or_insert(c);
        }
        if let Some(seen) = seen {
            matched_sig.insert(cands[0], seen);
        }
        let Some(first) = first else { continue };
        // Result labels depend only on the matched pair, not the step: one label set
        // per partner (almost always one, whose values are this series' own vector).
        let mut partners = vec![first];
        if mixed {
            for (v, &c) in values.iter().zip(&partner) {
                if v.is_some() && !partners.contains(&c) {
                    partners.push(c);
                }
            }
        }
        for &c in &partners {
            let result = result_labels(
                &labels,
                &one[c].labels,
                op,
                &card,
                &names,
                on,
                &include,
                return_bool,
                mode,
            );
            let next = out.len();
            let k = *out_idx.entry(result).or_insert(next);
            if k == next && !mixed {
                out.push(std::mem::take(&mut values));
                continue;
            }
            if k == next {
                out.push(vec![None; steps]);
            }
            for (i, v) in values.iter().enumerate() {
                if v.is_none() || (mixed && partner[i] != c) {
                    continue;
                }
                if out[k][i].is_some() {
                    return Err(PromqlError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
                out[k][i] = *v;
            }
        }
    }
    let mut labels: Vec<Option<Labels>> = vec![None; out.len()];
    for (l, k) in out_idx {
        labels[k] = Some(l);
    }
    Ok(labels
        .into_iter()
        .zip(out)
        .map(|(l, values)| StepSeries {
            labels: l.unwrap_or_default(),
            values,
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn result_labels(
    many: &Labels,
    one: &Labels,
    op: Op,
    card: &VectorMatchCardinality,
    names: &[String],
    on: bool,
    include: &[String],
    return_bool: bool,
    mode: NameRemoval,
) -> Labels {
    // Dropped now, or (delayed removal) kept until the end and only marked; the
    // "grouping labels must ensure unique matches" check below sees the result.
    let mark = op.drops_name() || return_bool || name_dropped(many);
    let mut b: LabelsBuilder = many.to_builder();
    b.delete(DROP_NAME_MARK);
    match card {
        VectorMatchCardinality::OneToOne => {
            if on {
                for l in many.iter() {
                    if !names.contains(&l.name) {
                        b.delete(&l.name);
                    }
                }
            } else {
                for n in names {
                    b.delete(n);
                }
            }
        }
        _ => {
            for n in include {
                match one.get(n) {
                    Some(v) => {
                        b.set(n.clone(), v);
                    }
                    None => {
                        b.delete(n);
                    }
                }
            }
        }
    }
    let l = b.into_labels();
    if mark {
        drop_name_owned(l, mode)
    } else {
        l
    }
}
