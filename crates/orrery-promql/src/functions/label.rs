//! `label_replace` and `label_join`.
//!
//! `label_replace` reads its regex in Go's dialect and expands its replacement with Go's
//! `Regexp.Expand` rules, both from `orrery_model::go`, so a pattern means the same here
//! as in a selector or a relabel rule. Writing `__name__` keeps the name that the
//! function would otherwise drop.

use super::{arg, finish, string_arg, valid_label_name, vector_arg};
use crate::error::{PromqlError, Result};
use crate::eval::{Evaluator, Val, DROP_NAME_MARK};
use orrery_model::go::expand::Template;
use orrery_model::go::regex::compile_anchored;
use orrery_model::METRIC_NAME;
use promql_parser::parser::Expr;

/// `label_replace(v, dst, replacement, src, regex)`.
pub(super) fn label_replace(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
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
    finish(v, None)
}

/// `label_join(v, dst, separator, src...)`.
pub(super) fn label_join(ev: &mut Evaluator<'_>, args: &[Box<Expr>]) -> Result<Val> {
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
    finish(v, None)
}

#[cfg(test)]
mod tests {
    use crate::functions::testutil::{err, query, store};

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
}
