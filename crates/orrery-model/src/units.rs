//! Units in configuration: Prometheus-style durations (`1h30m`, `15d`) and byte sizes
//! (`128MiB`, `15GB`), shared by every crate that reads configuration.

use std::time::Duration;

/// Parses Prometheus durations: `1h30m`, `15d`, `500ms`, `2w`, `1y`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "invalid duration {s:?}: expected a number at {rest:?}"
            ));
        }
        let n: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms: u128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            "" => {
                return Err(format!(
                    "invalid duration {s:?}: missing unit (ms, s, m, h, d, w, y)"
                ))
            }
            u => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {u:?} (want ms, s, m, h, d, w, y)"
                ))
            }
        };
        rest = &rest[unit_len..];
        total = total.saturating_add(n.saturating_mul(ms));
    }
    Ok(Duration::from_millis(
        u64::try_from(total).unwrap_or(u64::MAX),
    ))
}

/// Parses sizes: `512`, `64KB`, `128MiB`, `15GB`, `1TB` (decimal `KB/MB/GB/TB`,
/// binary `KiB/MiB/GiB/TiB`, `B` optional).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if split == 0 {
        return Err(format!("invalid size {s:?}: expected a number"));
    }
    let n: u64 = t[..split]
        .parse()
        .map_err(|_| format!("invalid size {s:?}: number too large"))?;
    let mult: u64 = match t[split..].trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        u => {
            return Err(format!(
            "invalid size {s:?}: unknown unit {u:?} (want B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
        ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size {s:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(
            parse_duration("15d").unwrap(),
            Duration::from_secs(15 * 86400)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn sizes_parse_decimal_and_binary_units() {
        assert_eq!(parse_size("15GB").unwrap(), 15_000_000_000);
        assert_eq!(parse_size("128MiB").unwrap(), 128 << 20);
        assert_eq!(parse_size("42").unwrap(), 42);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999999999999TB").is_err());
    }
}
