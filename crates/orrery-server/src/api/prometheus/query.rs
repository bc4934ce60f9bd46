//! PromQL over HTTP: `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query`
//! and `/api/v1/query_exemplars`, with Prometheus's parameters, checks (in its order),
//! JSON and errors. Every query runs through the server's [`orrery_promql::QueryGate`]
//! (a slot among `query.max_concurrent`, a timeout, `query.max_samples` and
//! `query.max_series`), the gate rule evaluation will share.

use super::error::ApiError;
use super::json;
use super::params::Params;
use super::PrometheusState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use orrery_model::Queryable;
use orrery_promql::{Engine, Expr, PromqlError, QueryResult, QuerySettings, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Prometheus's cap on points per series in a range query.
const MAX_POINTS: i128 = 11_000;
const TRUNCATED: &str = "results truncated due to limit";

pub(crate) use orrery_model::clock::now_ms;

/// The query's settings: the configured ones, lowered or overridden by parameters
/// (`timeout` only lowers `query.timeout`; `lookback_delta`).
pub(crate) fn settings(state: &PrometheusState, p: &Params) -> Result<QuerySettings, ApiError> {
    let mut s = state.gate.default_settings();
    if let Some(ns) = p.duration_ns("timeout")? {
        let asked = Duration::from_nanos(u64::try_from(ns.max(0)).unwrap_or(u64::MAX));
        s.timeout = s.timeout.min(asked);
    }
    if let Some(ns) = p.duration_ns("lookback_delta")? {
        if ns < 0 {
            return Err(ApiError::bad_data(
                "invalid parameter \"lookback_delta\": lookback delta must not be negative",
            ));
        }
        if ns > 0 {
            s.lookback_delta_ms = i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX).max(1);
        }
    }
    Ok(s)
}

/// Parses the `query` parameter; failures are 400 `invalid parameter "query"`.
fn parse_query(p: &Params) -> Result<Expr, ApiError> {
    Ok(orrery_promql::parse_expr(p.get("query").unwrap_or(""))?)
}

/// Runs `job` through the query gate over the server's storage.
pub(crate) async fn run<T: Send + 'static>(
    state: &Arc<PrometheusState>,
    settings: QuerySettings,
    job: impl FnOnce(&Engine, &dyn Queryable) -> Result<T, PromqlError> + Send + 'static,
) -> Result<T, ApiError> {
    let storage = state.storage.clone();
    Ok(state.gate.run(storage, settings, job).await?)
}

/// Records the query's duration and outcome, and turns errors into responses.
async fn observed(
    state: &Arc<PrometheusState>,
    endpoint: &'static str,
    f: impl std::future::Future<Output = Result<Response, ApiError>>,
) -> Response {
    let _in_flight = state.metrics.query_started();
    let start = std::time::Instant::now();
    let res = f.await;
    let kind = res.as_ref().err().map(|e| e.kind.as_str());
    state
        .metrics
        .query_finished(endpoint, start.elapsed(), kind);
    match res {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// A value truncated to `limit` series (0: no limit), with the warning Prometheus adds.
fn respond(state: &PrometheusState, mut res: QueryResult, limit: usize) -> Response {
    state
        .metrics
        .query_samples
        .fetch_add(res.samples_loaded as u64, Ordering::Relaxed);
    let truncated = match &mut res.value {
        Value::Vector(v) if limit > 0 && v.len() > limit => {
            v.truncate(limit);
            true
        }
        Value::Matrix(m) if limit > 0 && m.len() > limit => {
            m.truncate(limit);
            true
        }
        _ => false,
    };
    if truncated {
        res.warnings.push(TRUNCATED.into());
    }
    json::success_raw(&json::query_data(&res.value), &res.warnings, &res.infos)
}

/// `GET|POST /api/v1/query`.
pub(crate) async fn query(
    State(state): State<Arc<PrometheusState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::parse(q.as_deref(), &headers, &body);
    observed(&state, "query", async {
        let limit = p.limit()?;
        let t = p.time("time", now_ms())?;
        let settings = settings(&state, &p)?;
        let expr = parse_query(&p)?;
        let res = run(&state, settings, move |e, q| e.instant_expr(q, &expr, t)).await?;
        Ok::<_, ApiError>(respond(&state, res, limit))
    })
    .await
}

/// `GET|POST /api/v1/query_range`.
pub(crate) async fn query_range(
    State(state): State<Arc<PrometheusState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::parse(q.as_deref(), &headers, &body);
    observed(&state, "query_range", async {
        let limit = p.limit()?;
        let start = p.required_time("start")?;
        let end = p.required_time("end")?;
        if end < start {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        let step_ns = match p.duration_ns("step")? {
            Some(ns) => ns,
            None => {
                return Err(ApiError::bad_data(
                    "invalid parameter \"step\": cannot parse \"\" to a valid duration",
                ))
            }
        };
        if step_ns <= 0 {
            return Err(ApiError::bad_data(
                "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if (i128::from(end) - i128::from(start)) * 1_000_000 / step_ns > MAX_POINTS {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        let step_ms = i64::try_from(step_ns / 1_000_000).unwrap_or(i64::MAX).max(1);
        let settings = settings(&state, &p)?;
        let expr = parse_query(&p)?;
        let res = run(&state, settings, move |e, q| {
            e.range_expr(q, &expr, start, end, step_ms)
        })
        .await?;
        Ok::<_, ApiError>(respond(&state, res, limit))
    })
    .await
}

/// `GET|POST /api/v1/format_query`: the expression pretty-printed.
pub(crate) async fn format_query(
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::parse(q.as_deref(), &headers, &body);
    match parse_query(&p) {
        Ok(expr) => json::success(&expr.prettify(), &[]),
        Err(e) => e.into_response(),
    }
}

/// `GET|POST /api/v1/query_exemplars`: Orrery stores no exemplars yet, so a valid
/// request gets an empty list (and, as in Prometheus, no `data` at all when the
/// expression has no selector).
pub(crate) async fn query_exemplars(
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::parse(q.as_deref(), &headers, &body);
    let checked = (|| {
        let start = p.time("start", i64::MIN)?;
        let end = p.time("end", i64::MAX)?;
        if end < start {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        parse_query(&p)
    })();
    match checked {
        Err(e) => e.into_response(),
        Ok(expr) if orrery_promql::has_selector(&expr) => json::success_raw("[]", &[], &[]),
        Ok(_) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            r#"{"status":"success"}"#,
        )
            .into_response(),
    }
}
