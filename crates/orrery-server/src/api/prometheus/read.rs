//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values` with Prometheus's
//! parameters, JSON shapes and errors.

use super::error::ApiError;
use super::params::Params;
use super::PrometheusState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const TRUNCATED: &str = "results truncated due to limit";

fn success(data: Value, warnings: Vec<&str>) -> Response {
    let warnings: Vec<String> = warnings.into_iter().map(String::from).collect();
    super::json::success(&data, &warnings)
}

/// Runs blocking storage work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?
}

pub(crate) async fn series(
    State(state): State<Arc<PrometheusState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body);
    let sets = p.matcher_sets()?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = p.range()?;
    let limit = p.limit()?;
    let db = state.storage.clone();
    let mut all = blocking(move || {
        let mut all = Vec::new();
        for set in &sets {
            all.extend(db.series(start, end, set)?);
        }
        Ok(all)
    })
    .await?;
    all.sort();
    all.dedup();
    let mut warnings = Vec::new();
    if limit > 0 && all.len() > limit {
        all.truncate(limit);
        warnings.push(TRUNCATED);
    }
    let data: Vec<Value> = all
        .into_iter()
        .map(|l| {
            let m: Map<String, Value> = l
                .into_vec()
                .into_iter()
                .map(|l| (l.name, Value::String(l.value)))
                .collect();
            Value::Object(m)
        })
        .collect();
    Ok(success(Value::Array(data), warnings))
}

pub(crate) async fn labels(
    State(state): State<Arc<PrometheusState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body);
    let sets = p.matcher_sets()?;
    let (start, end) = p.range()?;
    let limit = p.limit()?;
    let db = state.storage.clone();
    let names = blocking(move || Ok(db.label_names(start, end, &sets)?)).await?;
    Ok(limited(names, limit))
}

pub(crate) async fn label_values(
    State(state): State<Arc<PrometheusState>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &Bytes::new());
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let name = unescape_label_name(&name);
    let sets = p.matcher_sets()?;
    let (start, end) = p.range()?;
    let limit = p.limit()?;
    let db = state.storage.clone();
    let values = blocking(move || Ok(db.label_values(&name, start, end, &sets)?)).await?;
    Ok(limited(values, limit))
}

fn limited(mut v: Vec<String>, limit: usize) -> Response {
    let mut warnings = Vec::new();
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        warnings.push(TRUNCATED);
    }
    success(json!(v), warnings)
}

/// Prometheus 3 lets clients send UTF-8 label names in the path as `U__` + escaped
/// form (`_2e_` for `.`, `__` for `_`); plain names pass through.
fn unescape_label_name(s: &str) -> String {
    let Some(rest) = s.strip_prefix("U__") else {
        return s.to_string();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|&c| c != '_').collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(ch) => out.push(ch),
            None => return s.to_string(),
        }
    }
    out
}
