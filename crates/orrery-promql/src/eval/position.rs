//! Where function calls and aggregations sit in the query text, for the ` (line:col)`
//! Prometheus appends to annotations.
//!
//! `promql-parser` keeps no positions, so they are recovered from the text: the
//! calls and aggregations of the AST, taken in pre-order (which is their order in
//! the text), are matched one by one to the identifiers in the text that are
//! followed by an argument list (an aggregation's may come after `by (…)` or
//! `without (…)`). Strings, comments and label-matcher braces are skipped. If any
//! node finds no match the whole map is left empty, so an annotation is written
//! without a position rather than with a wrong one. Nodes are keyed by their
//! address in the AST, which is borrowed for the whole evaluation.

use promql_parser::parser::{AggregateExpr, Call, Expr};
use rustc_hash::FxHashMap;

/// The start of a call or aggregation and of each of its arguments (byte offsets).
#[derive(Debug, Clone, Default)]
pub(crate) struct NodePos {
    pub start: usize,
    pub args: Vec<usize>,
}

/// Positions of the calls and aggregations of one query.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    query: String,
    nodes: FxHashMap<usize, NodePos>,
}

/// What an annotation points at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Anchor {
    /// The call or aggregation itself.
    Node,
    /// Its `i`th argument (for an aggregation with a parameter, 0 is the parameter).
    Arg(usize),
}

pub(crate) fn call_key(c: &Call) -> usize {
    c as *const Call as usize
}

pub(crate) fn aggregate_key(a: &AggregateExpr) -> usize {
    a as *const AggregateExpr as usize
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Ident,
    Open,
    Close,
    Comma,
    Other,
}

impl Positions {
    /// Locates every call and aggregation of `expr` in `query`.
    pub fn locate(query: &str, expr: &Expr) -> Positions {
        let mut want = Vec::new();
        collect(expr, &mut want);
        let toks = tokens(query);
        let mut nodes = FxHashMap::default();
        let mut next = 0;
        for (key, name, is_agg) in want {
            let found = (next..toks.len()).find_map(|j| {
                let (kind, s, e) = toks[j];
                if kind != Tok::Ident {
                    return None;
                }
                let text = &query[s..e];
                let same = if is_agg {
                    text.eq_ignore_ascii_case(&name)
                } else {
                    text == name
                };
                if !same {
                    return None;
                }
                let open = args_open(query, &toks, j + 1, is_agg)?;
                Some((j, open))
            });
            let Some((j, open)) = found else {
                return Positions::default();
            };
            nodes.insert(
                key,
                NodePos {
                    start: toks[j].1,
                    args: arg_starts(&toks, open),
                },
            );
            next = j + 1;
        }
        Positions {
            query: query.to_string(),
            nodes,
        }
    }

    /// Prometheus's `line:col` (1-based, columns in bytes) for `anchor` of `node`.
    pub fn describe(&self, node: usize, anchor: Anchor) -> Option<String> {
        let n = self.nodes.get(&node)?;
        let pos = match anchor {
            Anchor::Node => n.start,
            Anchor::Arg(i) => *n.args.get(i)?,
        };
        let before = self.query.get(..pos)?;
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => pos - nl,
            None => pos + 1,
        };
        Some(format!("{line}:{col}"))
    }
}

/// Calls and aggregations in pre-order: (key, name, is aggregation).
fn collect(e: &Expr, out: &mut Vec<(usize, String, bool)>) {
    match e {
        Expr::Aggregate(a) => {
            out.push((aggregate_key(a), a.op.to_string(), true));
            if let Some(p) = &a.param {
                collect(p, out);
            }
            collect(&a.expr, out);
        }
        Expr::Call(c) => {
            out.push((call_key(c), c.func.name.to_string(), false));
            for a in &c.args.args {
                collect(a, out);
            }
        }
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => {}
    }
}

/// The index of the `(` opening the argument list of the identifier before `j`, if
/// it has one.
fn args_open(query: &str, toks: &[(Tok, usize, usize)], j: usize, is_agg: bool) -> Option<usize> {
    let (kind, s, e) = *toks.get(j)?;
    if kind == Tok::Open && query[s..e] == *"(" {
        return Some(j);
    }
    let text = &query[s..e];
    if is_agg
        && kind == Tok::Ident
        && (text.eq_ignore_ascii_case("by") || text.eq_ignore_ascii_case("without"))
    {
        let close = matching_close(toks, j + 1)?;
        let (kind, s, e) = *toks.get(close + 1)?;
        if kind == Tok::Open && query[s..e] == *"(" {
            return Some(close + 1);
        }
    }
    None
}

/// The index of the bracket closing the one opened at `open`.
fn matching_close(toks: &[(Tok, usize, usize)], open: usize) -> Option<usize> {
    if toks.get(open)?.0 != Tok::Open {
        return None;
    }
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.0 {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// Start offsets of the top-level arguments of the list opened at `open`.
fn arg_starts(toks: &[(Tok, usize, usize)], open: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut expect_arg = true;
    for t in toks.iter().skip(open + 1) {
        match t.0 {
            Tok::Close if depth == 0 => break,
            Tok::Comma if depth == 0 => {
                expect_arg = true;
                continue;
            }
            _ => {}
        }
        if expect_arg {
            out.push(t.1);
            expect_arg = false;
        }
        match t.0 {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    out
}

/// Tokens as (kind, start, end) byte ranges: identifiers (also numbers and
/// durations), brackets, commas, strings and other characters; whitespace and
/// comments are dropped. The contents of `{…}` are one `Other` token so that label
/// names there are never taken for calls.
fn tokens(q: &str) -> Vec<(Tok, usize, usize)> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' | b'`' => {
                let end = skip_string(b, i);
                out.push((Tok::Other, i, end));
                i = end;
            }
            b'{' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'}' {
                    if matches!(b[i], b'"' | b'\'' | b'`') {
                        i = skip_string(b, i);
                    } else {
                        i += 1;
                    }
                }
                i = (i + 1).min(b.len());
                out.push((Tok::Other, start, i));
            }
            b'(' | b'[' => {
                out.push((Tok::Open, i, i + 1));
                i += 1;
            }
            b')' | b']' => {
                out.push((Tok::Close, i, i + 1));
                i += 1;
            }
            b',' => {
                out.push((Tok::Comma, i, i + 1));
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b':' || c == b'.' => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b':' | b'.'))
                {
                    i += 1;
                }
                out.push((Tok::Ident, start, i));
            }
            _ => {
                // One character (multi-byte ones whole, so slices stay on boundaries).
                let len = q[i..].chars().next().map_or(1, char::len_utf8);
                out.push((Tok::Other, i, i + len));
                i += len;
            }
        }
    }
    out
}

/// The offset just past the string starting at `i` (its quote included).
fn skip_string(b: &[u8], i: usize) -> usize {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' && quote != b'`' {
            j += 2;
            continue;
        }
        if b[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(q: &str, pick: impl Fn(&Expr) -> Option<usize>, anchor: Anchor) -> Option<String> {
        let e = crate::parse::parse_expr(q).ok()?;
        let p = Positions::locate(q, &e);
        p.describe(pick(&e)?, anchor)
    }

    fn outer_call(e: &Expr) -> Option<usize> {
        match e {
            Expr::Call(c) => Some(call_key(c)),
            Expr::Aggregate(a) => match a.expr.as_ref() {
                Expr::Call(c) => Some(call_key(c)),
                _ => None,
            },
            _ => None,
        }
    }

    #[test]
    fn calls_and_arguments() {
        assert_eq!(
            at(
                "histogram_quantile(0.8, series)",
                outer_call,
                Anchor::Arg(1)
            )
            .as_deref(),
            Some("1:25")
        );
        assert_eq!(
            at(
                "histogram_fraction(-Inf, 1, series)",
                outer_call,
                Anchor::Arg(2)
            )
            .as_deref(),
            Some("1:29")
        );
        assert_eq!(
            at("sum(sort(series))", outer_call, Anchor::Node).as_deref(),
            Some("1:5")
        );
        assert_eq!(
            at(
                "sum by (sort) (\n  sort(x{sort=\"a(\"}))",
                outer_call,
                Anchor::Arg(0)
            )
            .as_deref(),
            Some("2:8")
        );
    }

    #[test]
    fn aggregation_parameter_after_modifier() {
        let q = "quantile without(point)(NaN, data)";
        let e = crate::parse::parse_expr(q).expect("parses");
        let Expr::Aggregate(a) = &e else {
            panic!("not an aggregation: {e:?}");
        };
        let p = Positions::locate(q, &e);
        assert_eq!(
            p.describe(aggregate_key(a), Anchor::Arg(0)).as_deref(),
            Some("1:25")
        );
    }
}
