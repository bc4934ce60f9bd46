//! JSON written the way Prometheus's Go server writes it, byte for byte: the envelope's
//! key order (`status`, `data`, `warnings`, `infos`), sample values as strings in Go's
//! `strconv.FormatFloat(v, 'f', -1, 64)` form (`'e'` for vector and matrix values below
//! 1e-6 or from 1e21 on, as `jsonutil.MarshalFloat` writes them), sample timestamps as
//! seconds with the millisecond fraction written out (`1435781451.780`) but a scalar's or
//! string's as the shortest float (`1.5`), strings escaped as Go's `encoding/json` does
//! (HTML-safe `\u003c`, `\u003e`, `\u0026`).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use orrery_model::gofloat::{write_go_e, write_go_f};
use orrery_model::{Labels, Sample};
use orrery_promql::Value;
use std::fmt::Write;

/// A successful response: `{"status":"success","data":<data>[,"warnings":[…]][,"infos":[…]]}`.
pub(crate) fn success_raw(data_json: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut out = String::with_capacity(data_json.len() + 64);
    out.push_str(r#"{"status":"success","data":"#);
    out.push_str(data_json);
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(out, r#","{key}":["#);
        for (i, w) in list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(&mut out, w);
        }
        out.push(']');
    }
    out.push('}');
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// [`success_raw`] for data any serde type can describe.
pub(crate) fn success<T: serde::Serialize>(data: &T, warnings: &[String]) -> Response {
    match serde_json::to_string(data) {
        Ok(s) => success_raw(&s, warnings, &[]),
        Err(e) => {
            super::error::ApiError::internal(format!("encoding response: {e}")).into_response()
        }
    }
}

/// `{"resultType":…,"result":…}` of a query value.
pub(crate) fn query_data(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    let _ = write!(out, r#"{{"resultType":"{}","result":"#, v.type_name());
    match v {
        Value::Scalar { t, v } => {
            out.push('[');
            scalar_timestamp(&mut out, *t);
            out.push(',');
            float_string(&mut out, *v);
            out.push(']');
        }
        Value::String { t, s } => {
            out.push('[');
            scalar_timestamp(&mut out, *t);
            out.push(',');
            string(&mut out, s);
            out.push(']');
        }
        Value::Vector(elems) => {
            out.push('[');
            for (i, e) in elems.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                labels(&mut out, &e.labels);
                out.push_str(r#","value":"#);
                point(&mut out, e.t, e.v);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                labels(&mut out, &s.labels);
                if !s.samples.is_empty() {
                    out.push_str(r#","values":["#);
                    for (j, Sample { t, v }) in s.samples.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        point(&mut out, *t, *v);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

/// `[t, "v"]` of a vector or matrix, as Prometheus's `marshalFPointJSON` writes it.
fn point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    timestamp(out, t);
    out.push_str(",\"");
    // `jsonutil.MarshalFloat` switches to `'e'` where `'f'` would be long.
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        write_go_e(out, v);
    } else {
        write_go_f(out, v);
    }
    out.push_str("\"]");
}

fn labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, l) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, &l.name);
        out.push(':');
        string(out, &l.value);
    }
    out.push('}');
}

/// The time of a scalar or string result. Prometheus encodes those through their own
/// `MarshalJSON` with Go's `encoding/json`, as the float `T / 1000` (`1.5`, not the
/// `1.500` that sample timestamps get).
fn scalar_timestamp(out: &mut String, t: i64) {
    write_go_f(out, t as f64 / 1000.0);
}

/// Milliseconds as Prometheus's `jsonutil.MarshalTimestamp` writes them.
pub(crate) fn timestamp(out: &mut String, t: i64) {
    let neg = t < 0;
    let a = t.unsigned_abs();
    if neg {
        out.push('-');
    }
    out.push_str(itoa::Buffer::new().format(a / 1000));
    let frac = a % 1000;
    if frac != 0 {
        out.push('.');
        // Three digits, leading zeros kept: those of 1000 + frac after its `1`.
        out.push_str(&itoa::Buffer::new().format(1000 + frac)[1..]);
    }
}

/// A scalar's value as a JSON string (`Scalar.MarshalJSON` writes `'f'` only).
fn float_string(out: &mut String, v: f64) {
    out.push('"');
    write_go_f(out, v);
    out.push('"');
}

/// A JSON string escaped as Go's `encoding/json` escapes it.
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_model::Series;
    use orrery_promql::VectorElem;

    #[test]
    fn timestamps_keep_three_fraction_digits_when_present() {
        for (t, want) in [
            (1_435_781_451_781, "1435781451.781"),
            (1_435_781_451_780, "1435781451.780"),
            (1_435_781_451_005, "1435781451.005"),
            (1_435_781_451_000, "1435781451"),
            (-1500, "-1.500"),
            (0, "0"),
        ] {
            let mut s = String::new();
            timestamp(&mut s, t);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn strings_escape_like_go() {
        let mut s = String::new();
        string(&mut s, "a\"b\\c\n<&>\u{1}é");
        assert_eq!(s, r#""a\"b\\c\n\u003c\u0026\u003e\u0001é""#);
    }

    #[test]
    fn every_result_type_has_prometheus_shape() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let v = Value::Vector(vec![VectorElem {
            labels: l.clone(),
            t: 1_435_781_451_781,
            v: 1.0,
        }]);
        assert_eq!(
            query_data(&v),
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1435781451.781,"1"]}]}"#
        );
        let m = Value::Matrix(vec![Series {
            labels: l,
            samples: vec![Sample::new(1000, 0.5), Sample::new(2000, f64::NAN)],
        }]);
        assert_eq!(
            query_data(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a"},"values":[[1,"0.5"],[2,"NaN"]]}]}"#
        );
        let m = Value::Matrix(vec![Series {
            labels: Labels::default(),
            samples: vec![
                Sample::new(0, 1.5e-7),
                Sample::new(0, -1e21),
                Sample::new(0, 1e-6),
                Sample::new(0, f64::INFINITY),
            ],
        }]);
        assert_eq!(
            query_data(&m),
            r#"{"resultType":"matrix","result":[{"metric":{},"values":[[0,"1.5e-07"],[0,"-1e+21"],[0,"0.000001"],[0,"+Inf"]]}]}"#
        );
        assert_eq!(
            query_data(&Value::Scalar { t: 1500, v: 2.0 }),
            r#"{"resultType":"scalar","result":[1.5,"2"]}"#
        );
        assert_eq!(
            query_data(&Value::String {
                t: 0,
                s: "x".into()
            }),
            r#"{"resultType":"string","result":[0,"x"]}"#
        );
        assert_eq!(
            query_data(&Value::Vector(vec![])),
            r#"{"resultType":"vector","result":[]}"#
        );
    }
}
