//! Parsing, with workarounds for known gaps of the `promql-parser` crate (0.11):
//!
//! 1. Raw (backtick) strings containing a backslash, such as ``{job=~`a\.b`}``, fail to
//!    parse. We rewrite every raw string as an equivalent double-quoted one first.
//! 2. Number literals with `_` digit separators (`1_000`) fail. We drop separators
//!    between digits in number tokens (never inside identifiers or strings).
//! 3. Experimental duration arithmetic (`foo[5m+1m]`) is not supported by the crate;
//!    such queries fail with its parse error.
//! 4. The crate accepts `or` between matchers inside braces (`{a="1" or b="2"}`), which
//!    Prometheus's grammar does not have; we refuse it as Prometheus does, as a parse
//!    error.
//!
//! Series selectors (`match[]` of the series, label and federation APIs) go through
//! the same workarounds: [`parse_selector`] is [`parse_expr`] plus the checks of
//! Prometheus's `parser.ParseMetricSelector`, so a selector that works in a query works
//! in `match[]` too.

use crate::error::{PromqlError, Result};
use orrery_model::{MatchOp, Matcher, METRIC_NAME};
use promql_parser::parser::{Expr, VectorSelector};

/// Parses a PromQL expression.
pub fn parse_expr(query: &str) -> Result<Expr> {
    let rewritten = rewrite(query);
    check_number_literals(&rewritten)?;
    let expr = promql_parser::parser::parse(&rewritten)
        .map_err(|m| PromqlError::Parse(crate::parse_error::describe(query, &m)))?;
    check_tree(&expr).map_err(|e| crate::parse_error::positioned(query, e))?;
    Ok(expr)
}

/// Parses one series selector, such as `up{job=~"a|b"}`, into the matchers a series
/// must satisfy, as Prometheus's `parser.ParseMetricSelector` does: only a metric name
/// and/or braces are allowed (no `offset`, `@`, range or other expression), a metric
/// name outside the braces becomes `__name__="name"`, and naming the metric twice
/// (`foo{__name__="bar"}`) is a parse error, as in Prometheus's `ParseExpr`. Whether
/// the matchers may match every series is the caller's check (the API refuses that,
/// as Prometheus's `parseMatchersParam` does).
pub fn parse_selector(selector: &str) -> Result<Vec<Matcher>> {
    match parse_expr(selector)? {
        Expr::VectorSelector(vs) if vs.offset.is_none() && vs.at.is_none() => {
            selector_matchers(&vs)
        }
        _ => Err(PromqlError::Parse(format!(
            "{selector:?} is not a series selector"
        ))),
    }
}

/// Whether the expression reads any series (a vector or matrix selector anywhere in
/// it), as `/api/v1/query_exemplars` needs to know.
pub fn has_selector(e: &Expr) -> bool {
    struct Find;
    impl promql_parser::util::ExprVisitor for Find {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, e: &Expr) -> std::result::Result<bool, Self::Error> {
            Ok(!matches!(
                e,
                Expr::VectorSelector(_) | Expr::MatrixSelector(_)
            ))
        }
    }
    matches!(promql_parser::util::walk_expr(&mut Find, e), Ok(false))
}

/// The parser's matchers (and metric name) as ours: the one conversion both queries
/// and `match[]` selectors use.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>> {
    use promql_parser::label::MatchOp as P;
    if !vs.matchers.or_matchers.is_empty() {
        return Err(or_in_braces());
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    for m in &vs.matchers.matchers {
        let op = match m.op {
            P::Equal => MatchOp::Equal,
            P::NotEqual => MatchOp::NotEqual,
            P::Re(_) => MatchOp::Regex,
            P::NotRe(_) => MatchOp::NotRegex,
        };
        out.push(
            Matcher::new(op, m.name.clone(), m.value.clone())
                .map_err(|e| PromqlError::Parse(e.to_string()))?,
        );
    }
    // Prometheus appends the name matcher unconditionally; one that is already there
    // with the same value changes nothing, so it is not added twice.
    if let Some(name) = &vs.name {
        if !out
            .iter()
            .any(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal && m.value == *name)
        {
            out.push(Matcher::equal(METRIC_NAME, name.clone()));
        }
    }
    Ok(out)
}

/// Prometheus's words for `or` where its grammar expects `,` or `}`.
fn or_in_braces() -> PromqlError {
    PromqlError::Parse(
        "unexpected identifier \"or\" in label matching, expected \",\" or \"}\"".into(),
    )
}

/// Prometheus rejects number literals that overflow a float (`strconv.ParseFloat`'s
/// range error); the crate silently makes them infinite.
fn check_number_literals(q: &str) -> Result<()> {
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(qc) = quote {
            if c == '\\' {
                i += 2;
                continue;
            }
            if c == qc {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_digit() && !prev_is_ident(&chars, i) {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '.') {
                j += 1;
            }
            let tok: String = chars[i..j].iter().collect();
            if tok.parse::<f64>().is_ok_and(f64::is_infinite) {
                return Err(PromqlError::Parse(format!(
                    "error parsing number: strconv.ParseFloat: parsing {tok:?}: value out of range"
                )));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    Ok(())
}

/// What Prometheus's parser refuses and the crate accepts: durations beyond Go's
/// 2^63-1 nanoseconds (about 292 years) in ranges, offsets and steps, and `or` inside
/// a selector's braces.
fn check_tree(e: &Expr) -> Result<()> {
    use promql_parser::parser::Offset;
    const MAX_NANOS: u128 = i64::MAX as u128;
    let check = |d: &std::time::Duration| -> Result<()> {
        if d.as_nanos() > MAX_NANOS {
            Err(PromqlError::Parse("duration out of range".into()))
        } else {
            Ok(())
        }
    };
    let check_offset = |o: &Option<Offset>| -> Result<()> {
        match o {
            Some(Offset::Pos(d)) | Some(Offset::Neg(d)) => check(d),
            None => Ok(()),
        }
    };
    match e {
        Expr::Aggregate(a) => {
            check_tree(&a.expr)?;
            if let Some(p) = &a.param {
                check_tree(p)?;
            }
            Ok(())
        }
        Expr::Unary(u) => check_tree(&u.expr),
        Expr::Binary(b) => {
            check_tree(&b.lhs)?;
            check_tree(&b.rhs)
        }
        Expr::Paren(p) => check_tree(&p.expr),
        Expr::Subquery(s) => {
            check(&s.range)?;
            if let Some(st) = &s.step {
                check(st)?;
            }
            check_offset(&s.offset)?;
            check_tree(&s.expr)
        }
        Expr::VectorSelector(v) => {
            if !v.matchers.or_matchers.is_empty() {
                return Err(or_in_braces());
            }
            check_offset(&v.offset)
        }
        Expr::MatrixSelector(m) => {
            if !m.vs.matchers.or_matchers.is_empty() {
                return Err(or_in_braces());
            }
            check(&m.range)?;
            check_offset(&m.vs.offset)
        }
        Expr::Call(c) => c.args.args.iter().try_for_each(|a| check_tree(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => Ok(()),
    }
}

/// Applies the rewrites described in the module doc; everything else is copied.
fn rewrite(q: &str) -> String {
    let chars: Vec<char> = q.chars().collect();
    let mut out = String::with_capacity(q.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                // Copy a quoted string verbatim, honouring escapes.
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        out.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if chars[i - 1] == c {
                        break;
                    }
                }
            }
            '`' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != '`' {
                    j += 1;
                }
                if j >= chars.len() {
                    // Unterminated: leave it for the parser to report.
                    out.extend(&chars[i..]);
                    break;
                }
                out.push('"');
                for &x in &chars[i + 1..j] {
                    match x {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        other => out.push(other),
                    }
                }
                out.push('"');
                i = j + 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            d if d.is_ascii_digit() && !prev_is_ident(&chars, i) => {
                let mut j = i;
                while j < chars.len()
                    && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == '.')
                {
                    j += 1;
                }
                for k in i..j {
                    let sep = chars[k] == '_'
                        && k > i
                        && chars[k - 1].is_ascii_hexdigit()
                        && k + 1 < j
                        && chars[k + 1].is_ascii_hexdigit();
                    if !sep {
                        out.push(chars[k]);
                    }
                }
                i = j;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_strings_with_backslashes_parse() {
        assert_eq!(rewrite(r"{job=~`a\.b`}"), r#"{job=~"a\\.b"}"#);
        let e = parse_expr(r"{job=~`a\.b`}").unwrap();
        assert!(matches!(e, Expr::VectorSelector(_)));
        assert!(parse_expr(r#"foo{a="x`y"}"#).is_ok());
    }

    #[test]
    fn digit_separators_are_dropped_only_in_numbers() {
        assert_eq!(rewrite("1_000 + foo_1_000"), "1000 + foo_1_000");
        assert_eq!(rewrite(r#"x{a="1_0"} > 2_5"#), r#"x{a="1_0"} > 25"#);
        assert!(parse_expr("1_000_000").is_ok());
    }

    #[test]
    fn overflowing_numbers_and_durations_are_rejected_as_prometheus_does() {
        let big = "9".repeat(400);
        assert!(parse_expr(&big)
            .unwrap_err()
            .to_string()
            .contains("value out of range"));
        assert!(parse_expr("foo offset 9.5e10")
            .unwrap_err()
            .to_string()
            .contains("duration out of range"));
        assert!(parse_expr("foo[9.5e10]").is_err());
        assert!(parse_expr("rate(foo[5m] offset 1w)").is_ok());
        assert!(parse_expr("foo{a=\"99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999\"}").is_ok());
    }

    fn names(ms: &[Matcher]) -> Vec<String> {
        ms.iter()
            .map(|m| format!("{}{:?}{:?}", m.name, m.op, m.value))
            .collect()
    }

    #[test]
    fn selectors_parse_with_the_query_workarounds() {
        let ms = parse_selector(r"{job=~`a\.b`}").unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].op, MatchOp::Regex);
        assert_eq!(ms[0].value, r"a\.b");
        let ms = parse_selector(r#"up{job=~"a|b", env!="dev"}"#).unwrap();
        assert_eq!(ms.len(), 3);
        assert!(ms.iter().any(|m| m.name == METRIC_NAME && m.value == "up"));
        // Whether every series may match is the API's check, not the selector's.
        assert!(parse_selector(r#"{job=~".+"}"#).is_ok());
    }

    #[test]
    fn a_metric_name_is_set_once() {
        for s in [
            r#"foo{__name__="bar"}"#,
            r#"foo{__name__="foo"}"#,
            r#"foo{__name__=~"f.*"}"#,
        ] {
            let e = parse_selector(s).map(|ms| names(&ms));
            assert!(matches!(e, Err(PromqlError::Parse(_))), "{s}: {e:?}");
        }
        let n = names(&parse_selector(r#"{__name__="foo", a="b"}"#).unwrap());
        assert_eq!(n, [r#"__name__Equal"foo""#, r#"aEqual"b""#]);
    }

    #[test]
    fn or_inside_braces_is_a_parse_error_as_in_prometheus() {
        for q in [
            r#"{job="a" or job="b"}"#,
            r#"rate({job="a" or job="b"}[5m])"#,
        ] {
            let e = parse_expr(q).unwrap_err();
            assert!(matches!(e, PromqlError::Parse(_)), "{q}");
            assert!(
                e.to_string().contains(r#"unexpected identifier "or""#),
                "{e}"
            );
        }
        assert!(matches!(
            parse_selector(r#"{job="a" or job="b"}"#),
            Err(PromqlError::Parse(_))
        ));
    }

    #[test]
    fn only_plain_selectors_are_series_selectors() {
        for s in [
            "rate(x[5m])",
            "x[5m]",
            "x offset 5m",
            "x @ 100",
            "(x)",
            "1+1",
            "{",
            r#"{job=~"("}"#,
        ] {
            assert!(
                matches!(parse_selector(s), Err(PromqlError::Parse(_))),
                "{s}"
            );
        }
    }

    #[test]
    fn selectors_are_found_anywhere_in_an_expression() {
        assert!(has_selector(&parse_expr("sum(rate(x[5m]))").unwrap()));
        assert!(has_selector(&parse_expr("1 + x").unwrap()));
        assert!(!has_selector(&parse_expr("1 + 2").unwrap()));
        assert!(!has_selector(&parse_expr("vector(1)").unwrap()));
    }

    #[test]
    fn bad_queries_are_parse_errors() {
        for q in ["foo{", "sum(", "rate(foo)", "1 +", "`unterminated"] {
            assert!(matches!(parse_expr(q), Err(PromqlError::Parse(_))), "{q}");
        }
    }
}
