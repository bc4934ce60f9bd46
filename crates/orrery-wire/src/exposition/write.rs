//! The writing side of the text format 0.0.4, for the server's `/metrics` and
//! `/federate` answers: what has one correct spelling and must not be copied.

/// Appends `value` as a label value goes between the quotes of the text format:
/// backslash, double quote and line feed escaped (`\\`, `\"`, `\n`), everything else
/// as it is, as Prometheus's `expfmt` writes it. The parser reads it back unchanged.
pub fn write_label_value(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(i) = rest.find(['\\', '"', '\n']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'\\' => r"\\",
            b'"' => "\\\"",
            _ => r"\n",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_what_the_format_needs_and_nothing_else() {
        for (v, want) in [
            ("plain", "plain"),
            ("", ""),
            ("a\"b", "a\\\"b"),
            ("a\\b", "a\\\\b"),
            ("line\nbreak", "line\\nbreak"),
            ("\\\"\n", "\\\\\\\"\\n"),
            ("tab\tand ünïcode", "tab\tand ünïcode"),
        ] {
            let mut out = String::from("x=");
            write_label_value(&mut out, v);
            assert_eq!(out, format!("x={want}"), "{v:?}");
        }
    }

    #[test]
    fn written_values_parse_back() {
        let value = "a\\b\"c\nd";
        let mut body = String::from("m{l=\"");
        write_label_value(&mut body, value);
        body.push_str("\"} 1\n");
        let scrape = crate::exposition::parse_exposition(
            body.as_bytes(),
            crate::exposition::Format::PrometheusText,
            &Default::default(),
        )
        .expect("a valid exposition");
        assert_eq!(scrape.samples[0].labels.get("l"), Some(value));
    }
}
