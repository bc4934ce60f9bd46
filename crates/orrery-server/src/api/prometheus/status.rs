//! `/api/v1/status/buildinfo` and `/api/v1/metadata`.
//!
//! Build info names a Prometheus version, not Orrery's: Grafana and other clients pick
//! features by it (Grafana takes its fast paths from 2.x/3.x on), so we report the
//! Prometheus release whose API we match and put Orrery's own version in `revision`.

use super::error::ApiError;
use super::json;
use super::params::Params;
use super::PrometheusState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The Prometheus release whose HTTP API Orrery answers like.
pub(crate) const PROMETHEUS_COMPAT_VERSION: &str = "3.5.0";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildInfo {
    version: &'static str,
    revision: String,
    branch: &'static str,
    build_user: &'static str,
    build_date: &'static str,
    go_version: &'static str,
}

/// `GET /api/v1/status/buildinfo`.
pub(crate) async fn buildinfo() -> Response {
    let info = BuildInfo {
        version: PROMETHEUS_COMPAT_VERSION,
        revision: format!(
            "orrery-{}{}",
            env!("CARGO_PKG_VERSION"),
            option_env!("ORRERY_GIT_REVISION")
                .map(|r| format!("-{r}"))
                .unwrap_or_default()
        ),
        branch: option_env!("ORRERY_GIT_BRANCH").unwrap_or("HEAD"),
        build_user: "orrery",
        build_date: option_env!("ORRERY_BUILD_DATE").unwrap_or("unknown"),
        go_version: "none (Rust)",
    };
    json::success(&info, &[])
}

/// One metadata entry; fields in Prometheus's order.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Meta {
    #[serde(rename = "type")]
    kind: &'static str,
    help: String,
    unit: String,
}

/// `GET /api/v1/metadata`: remote-write metadata by family name, sorted.
pub(crate) async fn metadata(
    State(state): State<Arc<PrometheusState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = Params::parse(q.as_deref(), &headers, &Bytes::new());
    let number = |key: &str| -> Result<i64, ApiError> {
        match p.get(key) {
            None | Some("") => Ok(-1),
            Some(s) => s
                .parse::<i64>()
                .map_err(|_| ApiError::bad_data(format!("{key} must be a number"))),
        }
    };
    let (limit, per_metric) = match (number("limit"), number("limit_per_metric")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let metric = p.get("metric").unwrap_or("").to_string();
    let db = state.storage.clone();
    let all = match tokio::task::spawn_blocking(move || db.metadata()).await {
        Ok(m) => m,
        Err(e) => return ApiError::internal(format!("metadata task failed: {e}")).into_response(),
    };
    let mut by_name: BTreeMap<String, BTreeSet<Meta>> = BTreeMap::new();
    for m in all {
        if !metric.is_empty() && m.metric_family != metric {
            continue;
        }
        by_name.entry(m.metric_family).or_default().insert(Meta {
            kind: m.kind.as_str(),
            help: m.help,
            unit: m.unit,
        });
    }
    let mut out: BTreeMap<String, Vec<Meta>> = BTreeMap::new();
    for (name, set) in by_name {
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        let take = if per_metric > 0 {
            per_metric as usize
        } else {
            usize::MAX
        };
        out.insert(name, set.into_iter().take(take).collect());
    }
    json::success(&out, &[])
}
