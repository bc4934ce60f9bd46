//! `sort`, `sort_desc`, `sort_by_label` and `sort_by_label_desc`.
//!
//! Only instant queries are sorted: range query results are always ordered by labels,
//! so there the input passes through with Prometheus's warning.

use super::{arg, string_arg, vector_arg};
use crate::error::Result;
use crate::eval::{visible_labels, Anchor, Evaluator, Val};
use promql_parser::parser::Expr;
use std::cmp::Ordering;

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
pub(super) fn sort_by_value(ev: &mut Evaluator<'_>, args: &[Box<Expr>], desc: bool) -> Result<Val> {
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
pub(super) fn sort_by_label(ev: &mut Evaluator<'_>, args: &[Box<Expr>], desc: bool) -> Result<Val> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::testutil::{query, store};
    use crate::Engine;

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
}
