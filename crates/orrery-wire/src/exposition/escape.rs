//! The writer's side of the exposition escapes: what a label value must look like
//! between the quotes of `name="…"`, the inverse of what the parser unescapes.
//!
//! Anything that writes the text format (federation, the server's own `/metrics`)
//! calls this rather than its own `replace` chain, so that every writer escapes the
//! same three characters Go's `expfmt` does: `\`, `"` and line feed. This file only
//! escapes; it must not write names, numbers or whole lines.

use std::borrow::Cow;

/// `value` with `\` written as `\\`, `"` as `\"` and a line feed as `\n`, as
/// Prometheus's `expfmt` writes label values; borrowed when nothing needs escaping.
pub fn escape_label_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    write_label_value(&mut out, value);
    Cow::Owned(out)
}

/// Appends `value`, escaped as [`escape_label_value`] does, to `out`.
pub fn write_label_value(out: &mut String, value: &str) {
    let mut seg = 0;
    for (i, b) in value.bytes().enumerate() {
        let rep = match b {
            b'\\' => r"\\",
            b'"' => r#"\""#,
            b'\n' => r"\n",
            _ => continue,
        };
        out.push_str(&value[seg..i]);
        out.push_str(rep);
        seg = i + 1;
    }
    out.push_str(&value[seg..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{parse_exposition, Format, ParseLimits};

    #[test]
    fn escapes_backslash_quote_and_line_feed_only() {
        assert!(matches!(escape_label_value("plain é\t"), Cow::Borrowed(_)));
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("x\ny\r"), "x\\ny\r");
        assert_eq!(escape_label_value(r"\n"), r"\\n");
    }

    #[test]
    fn parser_reads_back_what_was_escaped() {
        for value in ["plain", r"C:\dir\", "say \"hi\"\nbye", r#"\\""#, "é\\n"] {
            let mut body = String::from("m{l=\"");
            write_label_value(&mut body, value);
            body.push_str("\"} 1\n");
            let parsed = parse_exposition(
                body.as_bytes(),
                Format::PrometheusText,
                &ParseLimits::default(),
            )
            .unwrap_or_else(|e| panic!("{body:?}: {e}"));
            assert_eq!(parsed.samples[0].labels.get("l"), Some(value), "{body:?}");
        }
    }
}
