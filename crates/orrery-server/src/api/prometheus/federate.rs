//! `GET /federate`: the latest sample (within the lookback delta) of every series
//! matching any `match[]`, in the text exposition format 0.0.4, as Prometheus writes
//! it: families sorted by name, each with `# TYPE <name> untyped`, stale markers left
//! out, values in Go's `%g` form, timestamps in ms. Errors are plain text, as there.

use super::params::Params;
use super::query::{now_ms, run, settings};
use super::PrometheusState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use orrery_model::gofloat::write_expfmt;
use orrery_model::{is_stale_nan, Labels, METRIC_NAME};
use orrery_promql::PromqlError;
use orrery_wire::exposition::write_label_value;
use std::fmt::Write;
use std::sync::Arc;

/// `GET /federate`.
pub(crate) async fn federate(
    State(state): State<Arc<PrometheusState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let _in_flight = state.metrics.query_started();
    let started = std::time::Instant::now();
    let res = answer(&state, q.as_deref(), &headers).await;
    let kind = res.as_ref().err().map(|e| e.kind.as_str());
    state
        .metrics
        .query_finished("federate", started.elapsed(), kind);
    match res {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (e.status, format!("{}\n", e.message)).into_response(),
    }
}

async fn answer(
    state: &Arc<PrometheusState>,
    q: Option<&str>,
    headers: &HeaderMap,
) -> Result<String, super::error::ApiError> {
    let p = Params::parse(q, headers, &Bytes::new());
    let sets = p.matcher_sets()?;
    let settings = settings(state, &Params::default())?;
    let maxt = now_ms();
    let mint = maxt.saturating_sub(settings.lookback_delta_ms);
    run(state, settings, move |_, q| {
        let mut latest: Vec<(Labels, i64, f64)> = Vec::new();
        for set in &sets {
            for s in q.select(mint, maxt, set).map_err(PromqlError::from)? {
                if let Some(last) = s.samples.last() {
                    if !is_stale_nan(last.v) {
                        latest.push((s.labels, last.t, last.v));
                    }
                }
            }
        }
        latest.sort_by(|a, b| {
            a.0.get(METRIC_NAME)
                .cmp(&b.0.get(METRIC_NAME))
                .then_with(|| a.0.cmp(&b.0))
        });
        latest.dedup_by(|a, b| a.0 == b.0);
        Ok(render(&latest))
    })
    .await
}

fn render(samples: &[(Labels, i64, f64)]) -> String {
    let mut out = String::with_capacity(samples.len() * 64);
    let mut family: Option<&str> = None;
    for (labels, t, v) in samples {
        let Some(name) = labels.get(METRIC_NAME) else {
            continue;
        };
        if family != Some(name) {
            let _ = writeln!(out, "# TYPE {name} untyped");
            family = Some(name);
        }
        out.push_str(name);
        let mut first = true;
        for l in labels.iter() {
            if l.name == METRIC_NAME || l.value.is_empty() {
                continue;
            }
            out.push(if first { '{' } else { ',' });
            first = false;
            out.push_str(&l.name);
            out.push_str("=\"");
            write_label_value(&mut out, &l.value);
            out.push('"');
        }
        if !first {
            out.push('}');
        }
        out.push(' ');
        write_expfmt(&mut out, *v);
        let _ = writeln!(out, " {t}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_model::gofloat::go_expfmt;

    #[test]
    fn values_format_like_go_g() {
        for (v, want) in [
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "0"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-1.5e-7, "-1.5e-07"),
            (1e100, "1e+100"),
            (0.25, "0.25"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(go_expfmt(v), want, "{v}");
        }
    }

    #[test]
    fn families_get_one_type_line_and_sorted_labels() {
        let s = vec![
            (
                Labels::from_pairs([("__name__", "a"), ("x", "1\"\\\n")]),
                5,
                1.0,
            ),
            (Labels::from_pairs([("__name__", "a"), ("x", "2")]), 6, 2.5),
            (Labels::from_pairs([("__name__", "b")]), 7, 1e6),
        ];
        assert_eq!(
            render(&s),
            "# TYPE a untyped\na{x=\"1\\\"\\\\\\n\"} 1 5\na{x=\"2\"} 2.5 6\n# TYPE b untyped\nb 1e+06 7\n"
        );
    }
}
