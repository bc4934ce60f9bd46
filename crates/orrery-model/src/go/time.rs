//! Calendar arithmetic and RFC 3339 as Go's `time` package does them: the proleptic
//! Gregorian calendar in UTC, no leap seconds.
//!
//! [`civil`] breaks a Unix time into a date (PromQL's `year()`, `day_of_week()`, …),
//! [`days_from_civil`] goes back, [`parse_rfc3339`] reads the timestamps the HTTP APIs
//! accept and the `format_rfc3339*` functions write the ones they return. Everything
//! here is pure arithmetic on integers; it must not read the clock (that is
//! [`crate::clock`]) or know about time zones other than fixed offsets.

use std::fmt::Write as _;

use thiserror::Error;

/// A UTC calendar breakdown of a Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// The year; before 1 AD it is 0, -1, … (astronomical numbering, as Go's).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 is Sunday, as Go's `time.Weekday`.
    pub weekday: u32,
    /// 1-based day of the year, as Go's `YearDay`.
    pub yday: u32,
}

/// True for Gregorian leap years.
pub fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days in `month` (1 to 12) of `year`.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Breaks `secs` since the Unix epoch into a UTC date and time of day.
pub fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let before: u32 = (1..month).map(|m| days_in_month(year, m)).sum();
    Civil {
        year,
        month,
        day,
        hour: (sod / 3600) as u32,
        minute: (sod % 3600 / 60) as u32,
        second: (sod % 60) as u32,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
        yday: before + day,
    }
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Days since 0000-03-01, counted in 400-year eras of 146,097 days, so that the
    // leap day is the last day of its year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`); `month` is 1 to 12, `day` is not checked against the month.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A string that is not an RFC 3339 timestamp of the accepted form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot parse {input:?} as an RFC 3339 time: {reason}")]
pub struct Rfc3339Error {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses an RFC 3339 timestamp (`2015-07-01T20:10:51.781Z`,
/// `2015-07-01T22:10:51+02:00`) into Unix milliseconds, truncating finer fractions as
/// Prometheus's `timestamp.FromTime` does.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS`, an optional `.` and one or more fraction digits,
/// then `Z` or `±HH:MM`; `T` and `Z` may be lower case. Fields are range-checked one by
/// one (month 1–12, day 1–31, hour ≤ 23, minute ≤ 59, second ≤ 60), not against each
/// other, so `02-31` rolls over into March as the server's API always accepted.
pub fn parse_rfc3339(s: &str) -> Result<i64, Rfc3339Error> {
    let (secs, nanos) = parse_rfc3339_parts(s)?;
    secs.checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(nanos / 1_000_000)))
        .ok_or_else(|| err(s, "out of range"))
}

/// [`parse_rfc3339`] to Unix nanoseconds (fraction digits past the ninth are
/// truncated); an error for times outside the years 1678 to 2262 that `i64`
/// nanoseconds can hold.
pub fn parse_rfc3339_nanos(s: &str) -> Result<i64, Rfc3339Error> {
    let (secs, nanos) = parse_rfc3339_parts(s)?;
    secs.checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(i64::from(nanos)))
        .ok_or_else(|| err(s, "out of range for nanoseconds"))
}

fn err(input: &str, reason: &'static str) -> Rfc3339Error {
    Rfc3339Error {
        input: input.to_string(),
        reason,
    }
}

/// Unix seconds and the nanoseconds within that second.
fn parse_rfc3339_parts(s: &str) -> Result<(i64, u32), Rfc3339Error> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, Rfc3339Error> {
        let part = s.get(r).ok_or_else(|| err(s, "truncated"))?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err(s, "expected digits"));
        }
        part.parse().map_err(|_| err(s, "expected digits"))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(err(
            s,
            "want YYYY-MM-DDTHH:MM:SS followed by Z or an offset",
        ));
    }
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(err(s, "a field is out of range"));
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(err(s, "no digits after the decimal point"));
        }
        for (k, &c) in b[start..i].iter().take(9).enumerate() {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - k as u32);
        }
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let sign = if c == b'-' { -1 } else { 1 };
            sign * (num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?)
        }
        _ => return Err(err(s, "want Z or an offset ±HH:MM at the end")),
    };
    // The fields are range-checked, so the casts cannot truncate.
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Ok((secs, nanos))
}

/// Formats Unix milliseconds as RFC 3339 in UTC with exactly three fraction digits
/// (`2026-11-22T13:05:07.123Z`).
pub fn format_rfc3339_ms(ms: i64) -> String {
    let mut out = String::with_capacity(24);
    write_date_time(&mut out, ms.div_euclid(1000));
    let _ = write!(out, ".{:03}Z", ms.rem_euclid(1000));
    out
}

/// Formats Unix milliseconds as Go's `time.RFC3339Nano` does in UTC: the fraction
/// without trailing zeros, and none at all on a whole second
/// (`2026-11-22T13:05:07.12Z`, `2026-11-22T13:05:07Z`). This is how Go's
/// `encoding/json` writes a `time.Time`.
pub fn format_rfc3339(ms: i64) -> String {
    format_parts(ms.div_euclid(1000), ms.rem_euclid(1000) as u32 * 1_000_000)
}

/// [`format_rfc3339`] for Unix nanoseconds.
pub fn format_rfc3339_nanos(ns: i64) -> String {
    format_parts(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
}

fn format_parts(secs: i64, nanos: u32) -> String {
    let mut out = String::with_capacity(30);
    write_date_time(&mut out, secs);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the epoch, in UTC.
fn write_date_time(out: &mut String, secs: i64) {
    let c = civil(secs);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_gos_time() {
        // 2006-01-02T22:04:05Z, Go's reference time in UTC: a Monday.
        let c = civil(1_136_239_445);
        assert_eq!(
            c,
            Civil {
                year: 2006,
                month: 1,
                day: 2,
                hour: 22,
                minute: 4,
                second: 5,
                weekday: 1,
                yday: 2,
            }
        );
        assert_eq!(civil(0).weekday, 4, "1970-01-01 was a Thursday");
        assert_eq!(civil(-1).year, 1969);
        assert_eq!(civil(-1).yday, 365);
        assert_eq!(civil(1_230_767_999).year, 2008);
        assert_eq!(civil(1_230_768_000).year, 2009);
        assert_eq!(civil(1_483_191_420).yday, 366, "2016 is a leap year");
        assert_eq!(civil(1_672_493_820).yday, 365);
        // 2000-02-29 exists (divisible by 400); 1900-02-29 does not.
        assert_eq!((civil(951_782_400).month, civil(951_782_400).day), (2, 29));
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        // Before year 1: astronomical numbering, as Go's.
        let c = civil(-62_167_219_201);
        assert_eq!((c.year, c.month, c.day), (-1, 12, 31));
    }

    #[test]
    fn days_from_civil_inverts_civil() {
        for days in [-800_000, -719_469, -1, 0, 1, 10_957, 11_016, 2_932_896] {
            let c = civil(days * 86_400);
            assert_eq!(days_from_civil(c.year, c.month, c.day), days, "{c:?}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn rfc3339_parses_as_the_http_api_does() {
        let p = |s: &str| parse_rfc3339(s).ok();
        assert_eq!(p("2015-07-01T20:10:51.781Z"), Some(1_435_781_451_781));
        assert_eq!(p("2015-07-01T22:10:51+02:00"), Some(1_435_781_451_000));
        assert_eq!(p("2015-07-01T18:40:51-01:30"), Some(1_435_781_451_000));
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(p("2015-07-01t20:10:51z"), Some(1_435_781_451_000));
        // Finer fractions are truncated, not rounded.
        assert_eq!(p("1970-01-01T00:00:00.0019999Z"), Some(1));
        assert_eq!(p("1970-01-01T00:00:00.5Z"), Some(500));
        assert_eq!(p("0000-01-01T00:00:00Z"), Some(-62_167_219_200_000));
        assert_eq!(p("9999-12-31T23:59:59Z"), Some(253_402_300_799_000));
        for bad in [
            "2015-13-01T00:00:00Z",
            "2015-07-01T20:10:51",
            "2015-07-01T24:00:00Z",
            "2015-07-01T20:60:00Z",
            "2015-07-01T20:10:61Z",
            "2015-07-00T20:10:51Z",
            "2015-07-01 20:10:51Z",
            "2015-07-01T20:10:51.Z",
            "2015-07-01T20:10:51+0200",
            "2015-07-01T20:10:51Z ",
            "+015-07-01T20:10:51Z",
            "yesterday",
            "",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad:?} parsed");
        }
        let e = parse_rfc3339("2015-07-01T20:10:51").unwrap_err();
        assert!(e.to_string().contains("\"2015-07-01T20:10:51\""), "{e}");
    }

    #[test]
    fn rfc3339_nanoseconds_keep_nine_digits() {
        assert_eq!(
            parse_rfc3339_nanos("2015-07-01T20:10:51.123456789123Z"),
            Ok(1_435_781_451_123_456_789)
        );
        assert_eq!(
            parse_rfc3339_nanos("1969-12-31T23:59:59.5Z"),
            Ok(-500_000_000)
        );
        assert!(parse_rfc3339_nanos("9999-12-31T23:59:59Z").is_err());
    }

    #[test]
    fn rfc3339_formats_fixed_millis_and_go_nano_forms() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_ms(1_435_781_451_781),
            "2015-07-01T20:10:51.781Z"
        );
        assert_eq!(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339_ms(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_435_781_451_780), "2015-07-01T20:10:51.78Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339_nanos(1_435_781_451_000_000_100),
            "2015-07-01T20:10:51.0000001Z"
        );
        assert_eq!(format_rfc3339_nanos(-1), "1969-12-31T23:59:59.999999999Z");
        for ms in [0, 1, -1, 1_435_781_451_781, -62_167_219_200_000] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Ok(ms));
            assert_eq!(parse_rfc3339(&format_rfc3339_ms(ms)), Ok(ms));
        }
    }
}
