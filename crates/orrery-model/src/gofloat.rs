//! Floats written as Go's `strconv.FormatFloat` writes them with precision -1 (the
//! shortest digits that read back as the same float), which is what Prometheus puts in
//! its JSON (`'f'`, and `'e'` for sample values below 1e-6 or from 1e21 on), label
//! values (`'f'`) and exposition text (`'g'`, zero always `0`).
//!
//! The shortest digits come from `zmij`; a query answer writes one float per point,
//! so these are written straight into the caller's buffer, and whole numbers (most
//! counters and gauges) skip the digit search.

/// A finite float's shortest round-trip digits: the value is `0.DIGITS × 10^point`.
struct Decimal {
    neg: bool,
    digits: [u8; 24],
    len: usize,
    point: i32,
}

impl Decimal {
    fn new(v: f64) -> Decimal {
        let mut buf = zmij::Buffer::new();
        let s = buf.format_finite(v).as_bytes();
        let (neg, s) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, s),
        };
        let (mantissa, exp) = match s.iter().position(|&b| b == b'e') {
            Some(e) => (&s[..e], parse_exp(&s[e + 1..])),
            None => (s, 0),
        };
        let mut d = Decimal {
            neg,
            digits: [0; 24],
            len: 0,
            point: 0,
        };
        let mut point = None;
        for &b in mantissa {
            if b == b'.' {
                point = Some(d.len);
            } else if d.len < d.digits.len() {
                d.digits[d.len] = b;
                d.len += 1;
            }
        }
        d.point = point.unwrap_or(d.len) as i32 + exp;
        // Leading zeros (`0.001`) move the point; trailing ones (`10.0`) say nothing.
        let lead = d.digits[..d.len].iter().take_while(|&&b| b == b'0').count();
        d.digits.copy_within(lead..d.len, 0);
        d.len -= lead;
        d.point -= lead as i32;
        while d.len > 0 && d.digits[d.len - 1] == b'0' {
            d.len -= 1;
        }
        d
    }

    fn digits(&self) -> &str {
        // zmij writes ASCII digits only.
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or("0")
    }
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let e = s
        .iter()
        .fold(0i32, |e, &b| e * 10 + i32::from(b.wrapping_sub(b'0')));
    if neg {
        -e
    } else {
        e
    }
}

/// Writes `NaN`, `+Inf` or `-Inf` and returns true if `v` is not finite.
fn special(out: &mut String, v: f64) -> bool {
    let s = if v.is_nan() {
        "NaN"
    } else if v == f64::INFINITY {
        "+Inf"
    } else if v == f64::NEG_INFINITY {
        "-Inf"
    } else {
        return false;
    };
    out.push_str(s);
    true
}

/// Whole numbers below 2^53 are written as integers (exactly what `'f'` writes for
/// them); true if `v` was one.
fn whole(out: &mut String, v: f64) -> bool {
    if v.fract() != 0.0 || v.abs() >= 9_007_199_254_740_992.0 {
        return false;
    }
    if v == 0.0 && v.is_sign_negative() {
        out.push_str("-0");
    } else {
        out.push_str(itoa::Buffer::new().format(v as i64));
    }
    true
}

/// Appends Go's `strconv.FormatFloat(v, 'f', -1, 64)`, with Prometheus's `NaN`,
/// `+Inf` and `-Inf`: `1`, `0.1`, `-0`, `1000000000000000000000`, `0.00000015`.
pub fn write_go_f(out: &mut String, v: f64) {
    if special(out, v) || whole(out, v) {
        return;
    }
    // zmij writes moderate magnitudes plainly, with the shortest digits, as `'f'`
    // does, except for the `.0` it gives whole numbers.
    let mut buf = zmij::Buffer::new();
    let s = buf.format_finite(v);
    if !s.contains('e') {
        out.push_str(s.strip_suffix(".0").unwrap_or(s));
        return;
    }
    write_plain(out, &Decimal::new(v));
}

/// Go's `%f` of shortest digits: no exponent, no trailing zeros.
fn write_plain(out: &mut String, d: &Decimal) {
    if d.neg {
        out.push('-');
    }
    let digits = d.digits();
    if d.len == 0 {
        out.push('0');
    } else if d.point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', d.point.unsigned_abs() as usize));
        out.push_str(digits);
    } else if d.point as usize >= d.len {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', d.point as usize - d.len));
    } else {
        let (int, frac) = digits.split_at(d.point as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
}

/// [`write_go_f`] into a new string.
pub fn go_f(v: f64) -> String {
    let mut s = String::with_capacity(24);
    write_go_f(&mut s, v);
    s
}

/// Appends Go's `strconv.FormatFloat(v, 'g', -1, 64)`, with Prometheus's `NaN`,
/// `+Inf` and `-Inf`: the shortest digits, in `%e` form (`1e+06`, `1.5e-05`) when the
/// decimal exponent is below -4 or at least 6 (Go decides with precision 6 when the
/// precision is the shortest), plain otherwise.
pub fn write_go_g(out: &mut String, v: f64) {
    if special(out, v) {
        return;
    }
    let d = Decimal::new(v);
    // Go's %e exponent: the value is d.ddd × 10^exp.
    let exp = d.point - 1;
    if d.len == 0 || (-4..6).contains(&exp) {
        write_plain(out, &d);
    } else {
        write_e(out, &d);
    }
}

/// A sample value as Prometheus's text exposition writes it (`expfmt`'s `writeFloat`):
/// [`write_go_g`], except that zero, negative or not, is `0`.
pub fn write_expfmt(out: &mut String, v: f64) {
    if v == 0.0 {
        out.push('0');
    } else {
        write_go_g(out, v);
    }
}

/// [`write_expfmt`] into a new string.
pub fn go_expfmt(v: f64) -> String {
    let mut s = String::with_capacity(24);
    write_expfmt(&mut s, v);
    s
}

/// Appends Go's `strconv.FormatFloat(v, 'e', -1, 64)`, with Prometheus's `NaN`,
/// `+Inf` and `-Inf`: the shortest digits as `d.ddde±XX` (`1e+21`, `-1.5e-07`).
pub fn write_go_e(out: &mut String, v: f64) {
    if special(out, v) {
        return;
    }
    let d = Decimal::new(v);
    if d.len == 0 {
        out.push_str(if d.neg { "-0e+00" } else { "0e+00" });
        return;
    }
    write_e(out, &d);
}

/// Go's `%e` of nonzero shortest digits.
fn write_e(out: &mut String, d: &Decimal) {
    let exp = d.point - 1;
    if d.neg {
        out.push('-');
    }
    let digits = d.digits();
    out.push_str(&digits[..1]);
    if d.len > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    if exp.unsigned_abs() < 10 {
        out.push('0');
    }
    out.push_str(itoa::Buffer::new().format(exp.unsigned_abs()));
}

/// [`write_go_g`] into a new string.
pub fn go_g(v: f64) -> String {
    let mut s = String::with_capacity(24);
    write_go_g(&mut s, v);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_format_matches_go() {
        for (v, want) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (-2.5, "-2.5"),
            (1e21, "1000000000000000000000"),
            (1.5e-7, "0.00000015"),
            (123456.789, "123456.789"),
            (0.001, "0.001"),
            (1e15, "1000000000000000"),
            (9007199254740993.0, "9007199254740992"),
            (1.2345678901234566e25, "12345678901234566000000000"),
            // A tie between two 17-digit candidates goes to the even digit, as in Go
            // (Rust's Display writes ...797.3).
            (-(1149636667324797.0 + 0.25), "-1149636667324797.2"),
            (0.30000000000000004, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(go_f(v), want, "{v:e}");
        }
        assert_eq!(go_f(5e-324), format!("0.{}5", "0".repeat(323)));
        assert_eq!(
            go_f(f64::MAX),
            format!("17976931348623157{}", "0".repeat(292))
        );
    }

    /// Significant digits of a plain or exponent-form number.
    fn significant(s: &str) -> usize {
        let mantissa = s.split(['e', 'E']).next().unwrap_or(s);
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        digits.trim_start_matches('0').trim_end_matches('0').len()
    }

    #[test]
    fn f_format_reads_back_with_the_fewest_digits() {
        // Rust's `{:e}` also writes the shortest round-trip digits, so the digit
        // counts must agree (the digits may differ in a tie, see above).
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let small = (x % 2_000_000) as f64 / 1000.0 - 1000.0;
            for v in [f64::from_bits(x), small] {
                if !v.is_finite() {
                    continue;
                }
                let s = go_f(v);
                assert!(!s.contains('e'), "{v:e}: {s}");
                assert_eq!(s.parse::<f64>().ok(), Some(v), "{v:e}: {s}");
                assert_eq!(
                    significant(&s),
                    significant(&format!("{v:e}")),
                    "{v:e}: {s}"
                );
            }
        }
    }

    #[test]
    fn e_format_matches_go() {
        for (v, want) in [
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-07"),
            (-1.25e-300, "-1.25e-300"),
            (123.0, "1.23e+02"),
            (0.0, "0e+00"),
            (-0.0, "-0e+00"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            let mut s = String::new();
            write_go_e(&mut s, v);
            assert_eq!(s, want, "{v:e}");
        }
    }

    #[test]
    fn g_format_matches_go() {
        for (v, want) in [
            (1.0, "1"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (-1.25e-7, "-1.25e-07"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(go_g(v), want, "{v:e}");
        }
    }
}
