//! Parsing, with workarounds for known gaps of the `promql-parser` crate (0.11):
//!
//! 1. Raw (backtick) strings containing a backslash, such as ``{job=~`a\.b`}``, fail to
//!    parse. We rewrite every raw string as an equivalent double-quoted one first.
//! 2. Number literals with `_` digit separators (`1_000`) fail. We drop separators
//!    between digits in number tokens (never inside identifiers or strings).
//! 3. Experimental duration arithmetic (`foo[5m+1m]`) is not supported by the crate;
//!    such queries fail with its parse error.

use crate::error::{PromqlError, Result};
use promql_parser::parser::Expr;

/// Parses a PromQL expression.
pub fn parse_expr(query: &str) -> Result<Expr> {
    let rewritten = rewrite(query);
    check_number_literals(&rewritten)?;
    let expr = promql_parser::parser::parse(&rewritten).map_err(PromqlError::Parse)?;
    check_durations(&expr)?;
    Ok(expr)
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

/// Go durations hold at most 2^63-1 nanoseconds (about 292 years); Prometheus rejects
/// longer ranges, offsets and steps, which the crate accepts.
fn check_durations(e: &Expr) -> Result<()> {
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
            check_durations(&a.expr)?;
            if let Some(p) = &a.param {
                check_durations(p)?;
            }
            Ok(())
        }
        Expr::Unary(u) => check_durations(&u.expr),
        Expr::Binary(b) => {
            check_durations(&b.lhs)?;
            check_durations(&b.rhs)
        }
        Expr::Paren(p) => check_durations(&p.expr),
        Expr::Subquery(s) => {
            check(&s.range)?;
            if let Some(st) = &s.step {
                check(st)?;
            }
            check_offset(&s.offset)?;
            check_durations(&s.expr)
        }
        Expr::VectorSelector(v) => check_offset(&v.offset),
        Expr::MatrixSelector(m) => {
            check(&m.range)?;
            check_offset(&m.vs.offset)
        }
        Expr::Call(c) => c.args.args.iter().try_for_each(|a| check_durations(a)),
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

    #[test]
    fn bad_queries_are_parse_errors() {
        for q in ["foo{", "sum(", "rate(foo)", "1 +", "`unterminated"] {
            assert!(matches!(parse_expr(q), Err(PromqlError::Parse(_))), "{q}");
        }
    }
}
