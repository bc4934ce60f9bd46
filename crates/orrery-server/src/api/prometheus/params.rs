//! Request parameters as Prometheus parses them: query string and urlencoded form body
//! merged, repeated `match[]`, timestamps as RFC3339 or float seconds, `limit`.

use super::error::ApiError;
use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use orrery_model::Matcher;

/// Parameters from the query string and, for form POSTs, the body.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Params {
        let mut v: Vec<(String, String)> = query
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            v.extend(form_urlencoded::parse(body).into_owned());
        }
        Params(v)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `start`/`end`-style timestamp in ms, or `default` when absent.
    pub fn time(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(s) => parse_time(s).ok_or_else(|| {
                ApiError::bad_data(format!(
                    "invalid parameter \"{key}\": cannot parse {s:?} to a valid timestamp"
                ))
            }),
        }
    }

    /// A timestamp that must be present: absent or empty is Prometheus's
    /// `cannot parse "" to a valid timestamp`.
    pub fn required_time(&self, key: &str) -> Result<i64, ApiError> {
        let s = self.get(key).unwrap_or("");
        parse_time(s).ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter \"{key}\": cannot parse {s:?} to a valid timestamp"
            ))
        })
    }

    /// A duration parameter (`15s`, `1m30s` or float seconds) in nanoseconds, as
    /// Prometheus's `parseDuration`; `None` when absent or empty.
    pub fn duration_ns(&self, key: &str) -> Result<Option<i128>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(s) => parse_duration_ns(s)
                .map(Some)
                .map_err(|m| ApiError::bad_data(format!("invalid parameter \"{key}\": {m}"))),
        }
    }

    /// The `start` and `end` range, checked for order.
    pub fn range(&self) -> Result<(i64, i64), ApiError> {
        let start = self.time("start", i64::MIN)?;
        let end = self.time("end", i64::MAX)?;
        if end < start {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        Ok((start, end))
    }

    /// `limit`: 0 or absent means no limit.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None | Some("") => Ok(0),
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    ApiError::bad_data(format!(
                        "invalid parameter \"limit\": cannot parse {s:?} to a non-negative integer"
                    ))
                }),
        }
    }

    /// Every `match[]` selector's matchers, one set per selector.
    pub fn matcher_sets(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        self.all("match[]")
            .into_iter()
            .map(parse_selector)
            .collect()
    }
}

/// Parses one `match[]` value, such as `up{job=~"a|b"}`, with the parser queries use;
/// as Prometheus's `parseMatchersParam`, a selector that every series matches is refused.
pub(crate) fn parse_selector(s: &str) -> Result<Vec<Matcher>, ApiError> {
    let bad = |m: String| ApiError::bad_data(format!("invalid parameter \"match[]\": {m}"));
    let set = orrery_promql::parse_selector(s).map_err(|e| bad(e.to_string()))?;
    if set.iter().all(|m| m.matches_empty()) {
        return Err(bad(format!(
            "{s:?}: vector selector must contain at least one non-empty matcher"
        )));
    }
    Ok(set)
}

/// Prometheus's API `parseDuration`: float seconds (possibly negative) or a
/// Prometheus duration such as `1m30s`, in nanoseconds.
pub(crate) fn parse_duration_ns(s: &str) -> Result<i128, String> {
    if let Ok(f) = s.parse::<f64>() {
        let ns = f * 1e9;
        if !ns.is_finite() || ns >= i64::MAX as f64 || ns <= i64::MIN as f64 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ns as i128);
    }
    orrery_model::parse_duration(s)
        .ok()
        .filter(|_| !s.trim().is_empty() && s.trim() == s)
        .map(|d| d.as_nanos() as i128)
        .ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// Parses RFC3339 or (fractional) Unix seconds into ms, as Prometheus's API does.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return None;
        }
        let ms = (f * 1000.0).round();
        if ms >= i64::MAX as f64 || ms <= i64::MIN as f64 {
            return None;
        }
        return Some(ms as i64);
    }
    orrery_model::go::time::parse_rfc3339(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_prometheus_does() {
        assert_eq!(parse_time("1435781451.781"), Some(1_435_781_451_781));
        assert_eq!(parse_time("1435781451"), Some(1_435_781_451_000));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Some(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("2015-07-01T22:10:51+02:00"),
            Some(1_435_781_451_000)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("-1.5"), Some(-1500));
        assert_eq!(parse_time("NaN"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2015-13-01T00:00:00Z"), None);
        assert_eq!(parse_time("2015-07-01T20:10:51"), None);
    }

    #[test]
    fn durations_parse_as_prometheus_api_does() {
        assert_eq!(parse_duration_ns("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration_ns("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration_ns("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration_ns("-1"), Ok(-1_000_000_000));
        assert!(parse_duration_ns("")
            .unwrap_err()
            .contains("cannot parse \"\" to a valid duration"));
        assert!(parse_duration_ns("1e30").unwrap_err().contains("overflows"));
        assert!(parse_duration_ns("soon").is_err());
    }

    #[test]
    fn selectors_become_matchers() {
        let set = parse_selector(r#"up{job=~"a|b", env!="dev"}"#).unwrap();
        assert_eq!(set.len(), 3);
        assert!(set.iter().any(|m| m.name == "__name__" && m.value == "up"));
        let set = parse_selector(r"{job=~`a\.b`}").unwrap();
        assert_eq!(set[0].value, r"a\.b");
    }

    #[test]
    fn bad_selectors_are_bad_data() {
        // `or` inside braces is not Prometheus's grammar: refused, as there.
        for s in [
            "rate(x[5m])",
            "{",
            r#"{job=~".*"}"#,
            "1+1",
            r#"{job=~"("}"#,
            r#"{job="a" or job="b"}"#,
            "up offset 5m",
        ] {
            let e = parse_selector(s).unwrap_err();
            assert_eq!(e.status, 400, "{s}");
            assert!(
                e.message.starts_with("invalid parameter \"match[]\""),
                "{s}: {}",
                e.message
            );
        }
    }
}
