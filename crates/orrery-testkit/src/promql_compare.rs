//! Comparison of two answers of the Prometheus HTTP API to the same range query
//! (`/api/v1/query_range`): one from the reference (Prometheus), one from the system under
//! test. It is shared by the compliance test (`crates/orrery/tests/promql_compliance.rs`)
//! and by the query phase of the benchmark (`bench/src/query.rs`), so that "equal" means
//! the same thing in both places.
//!
//! Two answers are equal when both are errors (messages are not compared), or both are
//! matrices with the same set of label sets and, for every series, the same timestamps
//! and values equal within a relative tolerance of [`REL_TOLERANCE`] (with an absolute
//! margin of [`ABS_MARGIN`] for values near zero, as the upstream compliance tester does).
//! Any NaN equals any NaN; infinities must match exactly. Pure functions, no I/O.

use std::collections::BTreeMap;

/// Largest accepted `|a - b| / max(|a|, |b|)`.
pub const REL_TOLERANCE: f64 = 1e-5;
/// Differences up to this are accepted whatever the magnitudes (float noise around 0).
pub const ABS_MARGIN: f64 = 1e-13;

/// A series identity: label name to value, `__name__` included.
pub type LabelSet = BTreeMap<String, String>;

/// One series of a matrix: points as (milliseconds, value).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The label set.
    pub labels: LabelSet,
    /// Points in the order the server sent them.
    pub points: Vec<(i64, f64)>,
}

/// What a server answered to a range query.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `"status":"success"` with a matrix.
    Matrix(Vec<Series>),
    /// `"status":"error"`, with its error type and message.
    Error(String),
    /// Anything else: not JSON, an unexpected result type, a malformed point. Never equal
    /// to anything.
    Malformed(String),
}

impl Answer {
    /// Parses an HTTP status and body.
    pub fn parse(status: u16, body: &str) -> Answer {
        let v: serde_json::Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => {
                return Answer::Malformed(format!(
                    "HTTP {status}, body is not JSON ({e}): {}",
                    clip(body, 200)
                ))
            }
        };
        if v["status"] == "error" {
            return Answer::Error(format!(
                "HTTP {status} {}: {}",
                v["errorType"].as_str().unwrap_or("?"),
                v["error"].as_str().unwrap_or("?")
            ));
        }
        if v["status"] != "success" || status != 200 {
            return Answer::Malformed(format!("HTTP {status}: {}", clip(body, 200)));
        }
        match parse_matrix(&v["data"]) {
            Ok(m) => Answer::Matrix(m),
            Err(e) => Answer::Malformed(e),
        }
    }

    /// A one-line description: "error: …" or "N series, M points".
    pub fn describe(&self) -> String {
        match self {
            Answer::Matrix(m) => format!(
                "{} series, {} points",
                m.len(),
                m.iter().map(|s| s.points.len()).sum::<usize>()
            ),
            Answer::Error(e) => format!("error ({})", clip(e, 160)),
            Answer::Malformed(e) => format!("malformed answer ({})", clip(e, 160)),
        }
    }
}

fn parse_matrix(data: &serde_json::Value) -> Result<Vec<Series>, String> {
    if data["resultType"] != "matrix" {
        return Err(format!("resultType is {}, want matrix", data["resultType"]));
    }
    let result = data["result"]
        .as_array()
        .ok_or_else(|| "data.result is not an array".to_string())?;
    let mut out = Vec::with_capacity(result.len());
    for s in result {
        let labels: LabelSet = serde_json::from_value(s["metric"].clone())
            .map_err(|e| format!("metric {} is not a label set: {e}", s["metric"]))?;
        if s.get("histograms").is_some() {
            return Err(format!(
                "series {} has native histograms",
                show_labels(&labels)
            ));
        }
        let values = s["values"]
            .as_array()
            .ok_or_else(|| format!("series {} has no values array", show_labels(&labels)))?;
        let mut points = Vec::with_capacity(values.len());
        for p in values {
            let t = p[0]
                .as_f64()
                .ok_or_else(|| format!("point {p} has no numeric timestamp"))?;
            let v = p[1]
                .as_str()
                .ok_or_else(|| format!("point {p} has no string value"))?;
            let v =
                parse_value(v).ok_or_else(|| format!("point {p}: value {v:?} is not a number"))?;
            points.push(((t * 1000.0).round() as i64, v));
        }
        out.push(Series { labels, points });
    }
    Ok(out)
}

/// Parses a sample value as Prometheus formats it (`NaN`, `+Inf`, `-Inf` or a number).
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Whether two sample values are equal under the tolerance rules of this module.
pub fn values_equal(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    let diff = (a - b).abs();
    diff <= ABS_MARGIN || diff <= REL_TOLERANCE * a.abs().max(b.abs())
}

/// `name{a="b", …}` (the name outside the braces, like Prometheus prints it).
pub fn show_labels(l: &LabelSet) -> String {
    let name = l.get("__name__").map(String::as_str).unwrap_or("");
    let inner: Vec<String> = l
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", inner.join(", "))
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n).collect();
        c.push('…');
        c
    }
}

/// Compares `got` with the reference `want`. `None` when they are equal, otherwise a
/// short multi-line description of the differences (at most a few lines per kind).
pub fn diff(want: &Answer, got: &Answer) -> Option<String> {
    let (w, g) = match (want, got) {
        (Answer::Error(_), Answer::Error(_)) => return None,
        (Answer::Matrix(w), Answer::Matrix(g)) => (w, g),
        _ => {
            return Some(format!(
                "prometheus: {}\n  orrery:     {}",
                want.describe(),
                got.describe()
            ))
        }
    };
    let mut lines = Vec::new();
    let wm = index(w, "prometheus", &mut lines);
    let gm = index(g, "orrery", &mut lines);
    let only_w: Vec<&&LabelSet> = wm.keys().filter(|k| !gm.contains_key(**k)).collect();
    let only_g: Vec<&&LabelSet> = gm.keys().filter(|k| !wm.contains_key(**k)).collect();
    for (side, only) in [("prometheus", &only_w), ("orrery", &only_g)] {
        if !only.is_empty() {
            let shown: Vec<String> = only.iter().take(3).map(|l| show_labels(l)).collect();
            lines.push(format!(
                "{} series only in {side}: {}{}",
                only.len(),
                shown.join(", "),
                if only.len() > 3 { ", …" } else { "" }
            ));
        }
    }
    let mut differing_series = 0;
    for (labels, ws) in &wm {
        let Some(gs) = gm.get(labels) else { continue };
        if let Some(d) = diff_points(&ws.points, &gs.points) {
            differing_series += 1;
            if differing_series <= 3 {
                lines.push(format!("{}: {d}", show_labels(labels)));
            }
        }
    }
    if differing_series > 3 {
        lines.push(format!("… {differing_series} series differ in all"));
    }
    if lines.is_empty() {
        None
    } else {
        Some(lines.join("\n  "))
    }
}

fn index<'a>(
    m: &'a [Series],
    side: &str,
    lines: &mut Vec<String>,
) -> BTreeMap<&'a LabelSet, &'a Series> {
    let mut out = BTreeMap::new();
    for s in m {
        if out.insert(&s.labels, s).is_some() {
            lines.push(format!("{side} returned {} twice", show_labels(&s.labels)));
        }
    }
    out
}

fn show_t(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn diff_points(w: &[(i64, f64)], g: &[(i64, f64)]) -> Option<String> {
    let wt: Vec<i64> = w.iter().map(|p| p.0).collect();
    let gt: Vec<i64> = g.iter().map(|p| p.0).collect();
    if wt != gt {
        let only_w: Vec<i64> = wt.iter().copied().filter(|t| !gt.contains(t)).collect();
        let only_g: Vec<i64> = gt.iter().copied().filter(|t| !wt.contains(t)).collect();
        let first = |v: &[i64]| {
            v.iter()
                .take(3)
                .map(|t| show_t(*t))
                .collect::<Vec<_>>()
                .join(",")
        };
        return Some(format!(
            "timestamps differ: {} vs {} points; only prometheus {} [{}], only orrery {} [{}]",
            w.len(),
            g.len(),
            only_w.len(),
            first(&only_w),
            only_g.len(),
            first(&only_g)
        ));
    }
    let bad: Vec<usize> = (0..w.len())
        .filter(|&i| !values_equal(w[i].1, g[i].1))
        .collect();
    let &i = bad.first()?;
    Some(format!(
        "{} of {} values differ, first at t={}: prometheus {} orrery {}",
        bad.len(),
        w.len(),
        show_t(w[i].0),
        w[i].1,
        g[i].1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(body: &str) -> Answer {
        Answer::parse(200, body)
    }

    #[test]
    fn equal_matrices_within_tolerance_and_nan_compare_equal() {
        let a = matrix(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1.5,"1"],[2,"NaN"],[3,"+Inf"]]}]}}"#,
        );
        let b = matrix(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1.5,"1.000001"],[2,"NaN"],[3,"+Inf"]]}]}}"#,
        );
        assert!(diff(&a, &b).is_none());
    }

    #[test]
    fn value_timestamp_and_series_differences_are_reported() {
        let a = matrix(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1"]]}]}}"#,
        );
        let b = matrix(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1.1"]]}]}}"#,
        );
        assert!(diff(&a, &b).unwrap().contains("1 of 1 values differ"));
        let c = matrix(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[2,"1"]]}]}}"#,
        );
        assert!(diff(&a, &c).unwrap().contains("timestamps differ"));
        let d = matrix(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#);
        assert!(diff(&a, &d).unwrap().contains("only in prometheus"));
    }

    #[test]
    fn errors_on_both_sides_are_equal_and_one_sided_errors_differ() {
        let e1 = Answer::parse(
            400,
            r#"{"status":"error","errorType":"bad_data","error":"x"}"#,
        );
        let e2 = Answer::parse(
            422,
            r#"{"status":"error","errorType":"execution","error":"y"}"#,
        );
        assert!(diff(&e1, &e2).is_none());
        let m = matrix(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#);
        assert!(diff(&e1, &m).is_some());
        assert!(diff(&m, &Answer::parse(502, "gateway")).is_some());
    }
}
