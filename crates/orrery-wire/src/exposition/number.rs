//! Numbers in expositions: sample values with Go `strconv.ParseFloat` rules (as
//! Prometheus restricts them), text and OpenMetrics timestamps, and the OpenMetrics
//! canonical rendering of `le`/`quantile` label values.

/// Prometheus's canonical NaN (`value.NormalNaN`): every scraped NaN becomes this, so
/// it differs from the stale marker.
pub(crate) const NORMAL_NAN: f64 = f64::from_bits(0x7ff8_0000_0000_0001);

/// Parses a value the way Prometheus does: Go's `ParseFloat` minus hex floats and
/// underscores. `None` means the token is not a number; the caller words the error.
pub(crate) fn parse_value(tok: &str) -> Option<f64> {
    let b = tok.as_bytes();
    // Fast path: short plain integers, the most common counter and gauge values.
    if !b.is_empty() && b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
        let n = b.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        return Some(n as f64);
    }
    let (signed, rest) = match b.first() {
        Some(b'+' | b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let first = *rest.first()?;
    if first == b'n' || first == b'N' {
        // Go accepts "NaN" in any case but never signed.
        return (!signed && rest.eq_ignore_ascii_case(b"nan")).then_some(NORMAL_NAN);
    }
    if first == b'i' || first == b'I' {
        if !(rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity")) {
            return None;
        }
    } else if !rest
        .iter()
        .all(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        // Rust's parser would take the same set; this refuses anything else early
        // (hex, underscores) without relying on its exact extensions.
        return None;
    }
    let v: f64 = tok.parse().ok()?;
    if v.is_infinite() && !(first == b'i' || first == b'I') {
        // Go reports overflow (`1e400`) as an error; Rust rounds to infinity.
        return None;
    }
    if v.is_nan() {
        return Some(NORMAL_NAN);
    }
    Some(v)
}

/// Parses a text-format timestamp: a base-10 `int64` of milliseconds with an optional
/// sign, as Go's `strconv.ParseInt(s, 10, 64)`.
pub(crate) fn parse_text_timestamp(tok: &str) -> Option<i64> {
    let b = tok.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        n = n.checked_mul(10)?;
        n = if neg {
            n.checked_sub(d)?
        } else {
            n.checked_add(d)?
        };
    }
    Some(n)
}

/// Parses an OpenMetrics timestamp (seconds, maybe fractional) into milliseconds,
/// truncating toward zero. Plain decimals are converted exactly; other number forms go
/// through `f64`. NaN, infinities and out-of-range values are `None`.
pub(crate) fn parse_om_timestamp(tok: &str) -> Option<i64> {
    if let Some(ms) = exact_decimal_ms(tok.as_bytes()) {
        return Some(ms);
    }
    let secs = parse_value(tok)?;
    let ms = secs * 1000.0;
    // i64::MAX is not exactly representable; stay strictly inside the range.
    if !ms.is_finite() || ms.abs() >= 9.2e18 {
        return None;
    }
    Some(ms as i64)
}

/// `[sign] digits [. digits]` seconds to milliseconds, exactly, or `None` if the token
/// has another shape or overflows.
fn exact_decimal_ms(b: &[u8]) -> Option<i64> {
    let (neg, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match rest.iter().position(|&c| c == b'.') {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let mut ms: i64 = 0;
    for &d in int {
        ms = ms.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    let mut millis = 0i64;
    for i in 0..3 {
        millis = millis * 10 + frac.get(i).map_or(0, |&d| i64::from(d - b'0'));
    }
    ms = ms.checked_mul(1000)?.checked_add(millis)?;
    Some(if neg { -ms } else { ms })
}

/// The OpenMetrics canonical text of a number, as Prometheus's
/// `formatOpenMetricsFloat`: Go's shortest `%g` with `.0` appended when the result
/// has neither a point nor an exponent, and `+Inf`, `-Inf`, `NaN`.
pub(crate) fn format_om_float(f: f64) -> String {
    if f == 0.0 {
        return "0.0".into();
    }
    let mut s = orrery_model::gofloat::go_g(f);
    if f.is_finite() && !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_go_parse_float_as_prometheus_restricts_it() {
        let ok: &[(&str, f64)] = &[
            ("0", 0.0),
            ("42", 42.0),
            ("0042", 42.0),
            ("-1.5", -1.5),
            ("+1.5", 1.5),
            ("1e3", 1000.0),
            ("1E-3", 0.001),
            ("1.", 1.0),
            (".5", 0.5),
            ("4.20072246e+06", 4_200_722.46),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("inf", f64::INFINITY),
            ("Infinity", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
            ("123456789012345678901234", 1.2345678901234568e23),
            ("1e-400", 0.0),
        ];
        for (s, want) in ok {
            assert_eq!(parse_value(s), Some(*want), "{s}");
        }
        for s in ["NaN", "nan", "NAN"] {
            assert_eq!(parse_value(s).map(f64::to_bits), Some(NORMAL_NAN.to_bits()));
        }
        for s in [
            "", "abc", "+NaN", "-nan", "0x1p-2", "0x10", "1_000", "1e", "e3", ".", "-", "+",
            "1e400", "-1e400", "1.2.3", "Inf1", "infinit", "1 ", " 1", "١",
        ] {
            assert_eq!(parse_value(s), None, "{s:?}");
        }
    }

    #[test]
    fn text_timestamps_are_int64_milliseconds() {
        assert_eq!(
            parse_text_timestamp("1395066363000"),
            Some(1_395_066_363_000)
        );
        assert_eq!(parse_text_timestamp("-5"), Some(-5));
        assert_eq!(parse_text_timestamp("+5"), Some(5));
        assert_eq!(parse_text_timestamp("-9223372036854775808"), Some(i64::MIN));
        for s in ["", "-", "1.5", "1e3", "9223372036854775808", "abc"] {
            assert_eq!(parse_text_timestamp(s), None, "{s:?}");
        }
    }

    #[test]
    fn openmetrics_timestamps_are_seconds_converted_exactly() {
        assert_eq!(
            parse_om_timestamp("1520879607.789"),
            Some(1_520_879_607_789)
        );
        assert_eq!(parse_om_timestamp("1520879607"), Some(1_520_879_607_000));
        assert_eq!(
            parse_om_timestamp("1604676851.123456789"),
            Some(1_604_676_851_123)
        );
        assert_eq!(parse_om_timestamp("-1.5"), Some(-1500));
        assert_eq!(parse_om_timestamp(".5"), Some(500));
        assert_eq!(parse_om_timestamp("1.5e3"), Some(1_500_000));
        for s in [
            "",
            ".",
            "NaN",
            "+Inf",
            "1e300",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(parse_om_timestamp(s), None, "{s:?}");
        }
    }

    #[test]
    fn canonical_floats_match_the_openmetrics_examples() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (0.001, "0.001"),
            (0.002, "0.002"),
            (0.01, "0.01"),
            (0.1, "0.1"),
            (0.9, "0.9"),
            (0.95, "0.95"),
            (0.99, "0.99"),
            (0.999, "0.999"),
            (1.0, "1.0"),
            (1.7, "1.7"),
            (10.0, "10.0"),
            (1e-10, "1e-10"),
            (1e-9, "1e-09"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1e10, "1e+10"),
            (1.1e-4, "0.00011"),
            (-1.0, "-1.0"),
            (-2.5e7, "-2.5e+07"),
            (123456.0, "123456.0"),
            (1234567.0, "1.234567e+06"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(format_om_float(*f), *want, "{f}");
        }
    }
}
