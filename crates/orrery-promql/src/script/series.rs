//! The value notation of the script format: durations, numbers, series descriptions
//! (`metric{l="v"} 1 2+3x4 _ stale {{…}}`) and their expansion into sample sequences.
//!
//! Mirrors Prometheus's series-description grammar: `_` is one gap, `_xN` is N gaps,
//! `AxN` is N+1 copies, `A+BxN`/`A-BxN` are N+1 values stepping by B (added up one
//! step at a time, as the reference does), `stale` is the stale marker, a number may
//! carry a duration unit (`5m` = 300), and hexadecimal is not allowed (`0x59` means
//! "0 repeated"). Native histograms (`{{…}}`) are recognised and counted but not
//! decoded: this engine has no native histograms.

use orrery_model::{Labels, Sample, STALE_NAN};

/// One position of an expanded sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeqValue {
    /// No sample at this position.
    Omitted,
    /// A float sample.
    Float(f64),
    /// A native histogram sample (not decoded).
    Histogram,
}

/// A parsed series line.
#[derive(Debug, Clone)]
pub struct SeriesDesc {
    /// The series' labels, `__name__` included when a metric name was given.
    pub labels: Labels,
    /// One entry per position of the expanded value list.
    pub values: Vec<SeqValue>,
}

impl SeriesDesc {
    /// The float samples, position k at `k × interval_ms` (gaps and histograms left out).
    pub fn samples(&self, interval_ms: i64) -> Vec<Sample> {
        self.values
            .iter()
            .enumerate()
            .filter_map(|(k, v)| match v {
                SeqValue::Float(f) => Some(Sample::new(k as i64 * interval_ms, *f)),
                _ => None,
            })
            .collect()
    }

    /// True when any position holds a native histogram.
    pub fn has_histogram(&self) -> bool {
        self.values.iter().any(|v| matches!(v, SeqValue::Histogram))
    }
}

/// A series description, value list or duration that does not follow the notation; the
/// message names the offending text.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotationError(pub String);

/// Parses a Prometheus duration (`0`, `5m`, `1h30m`, `10s53ms`, `1d`, `2w`, `1y`) into ms.
pub fn parse_duration_ms(s: &str) -> Result<i64, NotationError> {
    parse_duration_ms_str(s).map_err(NotationError)
}

/// Parses a series line: `metric{l="v"} values…` (see [`parse_values`]).
pub fn parse_series_line(line: &str) -> Result<SeriesDesc, NotationError> {
    parse_series_line_str(line).map_err(NotationError)
}

/// Expands a value list (`1 2+3x4 _ _x2 stale 5xN {{…}}`) into one [`SeqValue`] per
/// position.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, NotationError> {
    parse_values_str(s).map_err(NotationError)
}

/// [`parse_duration_ms`] with a plain message.
fn parse_duration_ms_str(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(format!("bad duration {s:?}"));
        }
        let n: i64 = s[start..i]
            .parse()
            .map_err(|_| format!("bad duration {s:?}"))?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit_ms: i64 = match &s[ustart..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            u => return Err(format!("bad duration {s:?}: unknown unit {u:?}")),
        };
        total = n
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {s:?} overflows"))?;
    }
    Ok(total)
}

/// Parses a bare number the way the reference's `parseNumber` does (Go's
/// `strconv.ParseInt(s, 0, 64)`, then `strconv.ParseFloat`): decimal, `0x` hex, `0o`/
/// leading-zero octal, `0b` binary, floats, `Inf`, `NaN`.
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(&h.replace('_', ""), 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(&o.replace('_', ""), 8).ok()
    } else if let Some(bn) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(&bn.replace('_', ""), 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(&body[1..], 8).ok()
    } else if !body.is_empty() && body.bytes().all(|c| c.is_ascii_digit()) {
        body.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(if neg { -(i as f64) } else { i as f64 });
    }
    parse_float_word(s)
}

/// Go `ParseFloat`-like: plain floats plus case-insensitive `inf`, `infinity`, `nan`.
fn parse_float_word(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let (sign, rest) = match lower.as_bytes().first() {
        Some(b'-') => (-1.0, &lower[1..]),
        Some(b'+') => (1.0, &lower[1..]),
        _ => (1.0, &lower[..]),
    };
    match rest {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if rest.is_empty()
        || !rest
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Splits a series line into its label part and the rest, and parses the labels.
fn parse_series_line_str(line: &str) -> Result<SeriesDesc, String> {
    let (labels, rest) = parse_metric(line)?;
    let values = parse_values_str(rest)?;
    Ok(SeriesDesc { labels, values })
}

/// Parses `name`, `name{…}` or `{…}` at the start of `s`; returns the labels and the rest.
pub(crate) fn parse_metric(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
        i += 1;
    }
    let name = &s[..i];
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    if !name.is_empty() {
        pairs.push(("__name__".into(), name.into()));
    }
    let rest = &s[i..];
    let rest = if rest.starts_with('{') {
        let (more, rest) = parse_label_set(rest)?;
        for (n, v) in more {
            if n == "__name__" && !name.is_empty() {
                return Err("metric name given twice".into());
            }
            pairs.push((n, v));
        }
        rest
    } else {
        if name.is_empty() {
            return Err(format!("expected a metric name or '{{' at {s:?}"));
        }
        rest
    };
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(format!("unexpected {rest:?} after the series labels"));
    }
    Ok((Labels::from_pairs(pairs), rest))
}

/// Label pairs as written, in order.
type Pairs = Vec<(String, String)>;

/// Parses `{a="b", "quoted.name", "c.d"='e',}`; returns pairs and the text after `}`.
fn parse_label_set(s: &str) -> Result<(Pairs, &str), String> {
    let mut rest = &s[1..];
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((out, r));
        }
        // A label name: identifier or quoted string.
        let (name, quoted, r) = if rest.starts_with(['"', '\'', '`']) {
            let (v, r) = parse_quoted(rest)?;
            (v, true, r)
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("expected a label name at {rest:?}"));
            }
            (rest[..end].to_string(), false, &rest[end..])
        };
        let r = r.trim_start();
        if let Some(r) = r.strip_prefix('=') {
            if r.starts_with('~') || r.starts_with('=') {
                return Err("only '=' is allowed in a series description".into());
            }
            let (v, r) = parse_quoted(r.trim_start())?;
            out.push((name, v));
            rest = r;
        } else if quoted {
            out.push(("__name__".into(), name));
            rest = r;
        } else {
            return Err(format!("expected '=' after label {name:?}"));
        }
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err(format!("expected ',' or '}}' at {rest:?}"));
        }
    }
}

/// Parses a Go-style quoted string (`"…"` or `'…'` with escapes, or raw `` `…` ``).
pub(crate) fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.char_indices();
    let q = match chars.next() {
        Some((_, c @ ('"' | '\'' | '`'))) => c,
        _ => return Err(format!("expected a quoted string at {s:?}")),
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Ok((out, &s[i + c.len_utf8()..]));
        }
        if c == '\\' && q != '`' {
            let (_, e) = chars.next().ok_or("unterminated escape")?;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                '\\' | '"' | '\'' => out.push(e),
                'x' | 'u' | 'U' => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    let v = u32::from_str_radix(&hex, 16)
                        .map_err(|_| format!("bad escape \\{e}{hex}"))?;
                    if e == 'x' {
                        // A byte; the scripts only use ASCII here.
                        out.push(char::from(v as u8));
                    } else {
                        out.push(char::from_u32(v).ok_or("bad unicode escape")?);
                    }
                }
                '0'..='7' => {
                    let more: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                    let v = u32::from_str_radix(&format!("{e}{more}"), 8)
                        .map_err(|_| "bad octal escape".to_string())?;
                    out.push(char::from(v as u8));
                }
                other => return Err(format!("unknown escape \\{other}")),
            }
        } else if c == '\n' && q != '`' {
            return Err("newline in string".into());
        } else {
            out.push(c);
        }
    }
    Err("unterminated string".into())
}

/// Splits the value part into items; whitespace inside `{{ … }}` does not split.
fn split_items(s: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced '}' in values".into());
                }
            }
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if let Some(st) = start.take() {
                items.push(&s[st..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if depth != 0 {
        return Err("unbalanced '{' in values".into());
    }
    if let Some(st) = start {
        items.push(&s[st..]);
    }
    Ok(items)
}

/// Expands the value items of a series line.
fn parse_values_str(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    for item in split_items(s)? {
        expand_item(item, &mut out).map_err(|e| format!("bad value {item:?}: {e}"))?;
    }
    Ok(out)
}

fn parse_count(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .map_err(|_| format!("bad repetition count {s:?}"))
}

fn expand_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if item == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = item.strip_prefix("_x") {
        out.extend(std::iter::repeat_n(SeqValue::Omitted, parse_count(n)?));
        return Ok(());
    }
    if item.starts_with("{{") {
        // Histogram: `{{…}}`, `{{…}}xN`, `{{…}}+{{…}}xN`, `{{…}}-{{…}}xN`.
        let end = item.rfind("}}").ok_or("unterminated histogram")?;
        let tail = &item[end + 2..];
        let n = match tail.strip_prefix('x') {
            Some(n) => parse_count(n)? + 1,
            None if tail.is_empty() => {
                if item[2..end].contains("}}") {
                    return Err("histogram increment needs 'xN'".into());
                }
                1
            }
            None => return Err(format!("unexpected {tail:?} after histogram")),
        };
        out.extend(std::iter::repeat_n(SeqValue::Histogram, n));
        return Ok(());
    }
    let (a, rest) = scan_value(item)?;
    if rest.is_empty() {
        out.push(SeqValue::Float(a));
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n = parse_count(n)?;
        out.extend(std::iter::repeat_n(SeqValue::Float(a), n + 1));
        return Ok(());
    }
    if rest.starts_with(['+', '-']) {
        let (b, rest2) = scan_value(rest)?;
        let n = rest2
            .strip_prefix('x')
            .ok_or("an increment needs 'xN'")
            .and_then(|n| parse_count(n).map_err(|_| "bad repetition count"))?;
        let mut v = a;
        out.push(SeqValue::Float(v));
        for _ in 0..n {
            v += b;
            out.push(SeqValue::Float(v));
        }
        return Ok(());
    }
    Err(format!("unexpected {rest:?}"))
}

/// Scans one signed value (number, number with duration unit, `Inf`, `NaN`, `stale`)
/// from the start of `s`; returns it and the rest.
fn scan_value(s: &str) -> Result<(f64, &str), String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut sign = 1.0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        if b[i] == b'-' {
            sign = -1.0;
        }
        i += 1;
    }
    let body = &s[i..];
    let lower = body.to_ascii_lowercase();
    for (word, v) in [("inf", f64::INFINITY), ("nan", f64::NAN)] {
        if lower.starts_with(word) && !next_is_word(&lower[word.len()..]) {
            return Ok((sign * v, &body[word.len()..]));
        }
    }
    if i == 0 && body.starts_with("stale") && !next_is_word(&body[5..]) {
        return Ok((STALE_NAN, &body[5..]));
    }
    // Digits, optional fraction, optional exponent.
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_end = i;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == start || (i == start + 1 && b[start] == b'.') {
        return Err(format!("expected a number at {body:?}"));
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    // A duration unit right after an integer: `5m`, `1h30m`, `10s53ms` mean seconds.
    if i == int_end && i < b.len() && b[i].is_ascii_alphabetic() && b[i] != b'x' {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_alphanumeric()) && b[j] != b'x' {
            j += 1;
        }
        let ms = parse_duration_ms_str(&s[start..j])?;
        return Ok((sign * ms as f64 / 1000.0, &s[j..]));
    }
    let v: f64 = s[start..i]
        .parse()
        .map_err(|_| format!("bad number {:?}", &s[start..i]))?;
    Ok((sign * v, &s[i..]))
}

fn next_is_word(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric() && c != 'x' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(s: &str) -> Vec<Option<f64>> {
        parse_values(s)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                SeqValue::Float(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn expanding_notation() {
        assert_eq!(
            floats("5 2+3x2 _ 1x2 _x2 -1-1x1 5m 1e3 .5"),
            vec![
                Some(5.0),
                Some(2.0),
                Some(5.0),
                Some(8.0),
                None,
                Some(1.0),
                Some(1.0),
                Some(1.0),
                None,
                None,
                Some(-1.0),
                Some(-2.0),
                Some(300.0),
                Some(1000.0),
                Some(0.5)
            ]
        );
        assert_eq!(floats("0x2"), vec![Some(0.0); 3]);
        let v = parse_values("stale Inf -Inf NaN {{schema:1 sum:3 count:2}}x1").unwrap();
        assert!(matches!(v[0], SeqValue::Float(f) if orrery_model::is_stale_nan(f)));
        assert_eq!(v[1], SeqValue::Float(f64::INFINITY));
        assert_eq!(v[2], SeqValue::Float(f64::NEG_INFINITY));
        assert!(matches!(v[3], SeqValue::Float(f) if f.is_nan()));
        assert_eq!(&v[4..], &[SeqValue::Histogram, SeqValue::Histogram]);
        assert!(parse_values("1+2").is_err());
        assert!(parse_values("abc").is_err());
    }

    #[test]
    fn metrics_and_labels() {
        let d = parse_series_line(r#"foo{a="x\"y", "b.c"='z',} 1"#).unwrap();
        assert_eq!(
            d.labels,
            Labels::from_pairs([("__name__", "foo"), ("a", "x\"y"), ("b.c", "z")])
        );
        let d = parse_series_line(r#"{"my.metric", l="v"} 1"#).unwrap();
        assert_eq!(d.labels.metric_name(), Some("my.metric"));
        assert!(parse_series_line("{} 1").unwrap().labels.is_empty());
        assert!(parse_series_line("foo{a=~\"x\"} 1").is_err());
    }

    #[test]
    fn durations_and_numbers() {
        assert_eq!(parse_duration_ms("10s53ms"), Ok(10_053));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert!(parse_duration_ms("10").is_err());
        assert_eq!(parse_number("0x10"), Some(16.0));
        assert_eq!(parse_number("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_number("1.5e3"), Some(1500.0));
        assert_eq!(parse_number("foo 1"), None);
    }
}
