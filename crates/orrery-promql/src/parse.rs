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
    promql_parser::parser::parse(&rewritten).map_err(PromqlError::Parse)
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
    fn bad_queries_are_parse_errors() {
        for q in ["foo{", "sum(", "rate(foo)", "1 +", "`unterminated"] {
            assert!(matches!(parse_expr(q), Err(PromqlError::Parse(_))), "{q}");
        }
    }
}
