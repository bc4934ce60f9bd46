//! The agent's status API: `GET /api/v1/targets` in Prometheus's shape, `POST
//! /-/reload`, readiness, and the agent's own metrics at `/metrics`.

use crate::agent::Agent;
use crate::config::AgentConfig;
use crate::scrape::fmt_duration;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orrery_model::format_rfc3339_ms;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the handlers share.
pub struct ApiState {
    /// The running agent.
    pub agent: Arc<Agent>,
    /// The configuration file, re-read on reload.
    pub config_path: PathBuf,
}

/// The status API router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/v1/targets", get(targets))
        .route("/-/reload", post(reload).put(reload))
        .route("/-/ready", get(|| async { "Orrery agent is Ready.\n" }))
        .route("/-/healthy", get(|| async { "Orrery agent is Healthy.\n" }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn labels_json<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let m: Map<String, Value> = it
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    Value::Object(m)
}

async fn targets(
    State(st): State<Arc<ApiState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let snap = st.agent.targets().await;
    let state = q.get("state").map(String::as_str).unwrap_or("any");
    let active: Vec<Value> = if state == "dropped" {
        Vec::new()
    } else {
        snap.active
            .iter()
            .map(|a| {
                let t = &a.target;
                json!({
                    "discoveredLabels": labels_json(t.discovered.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    "labels": labels_json(t.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))),
                    "scrapePool": a.job,
                    "scrapeUrl": t.url,
                    "globalUrl": t.url,
                    "lastError": a.health.last_error,
                    "lastScrape": if a.health.last_scrape_ms == 0 { "0001-01-01T00:00:00Z".to_string() } else { format_rfc3339_ms(a.health.last_scrape_ms) },
                    "lastScrapeDuration": a.health.last_duration.as_secs_f64(),
                    "health": a.health.health,
                    "scrapeInterval": fmt_duration(t.interval),
                    "scrapeTimeout": fmt_duration(t.timeout),
                })
            })
            .collect()
    };
    let dropped: Vec<Value> = if state == "active" {
        Vec::new()
    } else {
        snap.dropped
            .iter()
            .map(|(job, d)| {
                json!({
                    "discoveredLabels": labels_json(d.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    "scrapePool": job,
                })
            })
            .collect()
    };
    Json(json!({"status": "success", "data": {"activeTargets": active, "droppedTargets": dropped}}))
}

async fn reload(State(st): State<Arc<ApiState>>) -> Response {
    let cfg = match AgentConfig::load(&st.config_path) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("failed to reload config: {e}\n"),
            )
                .into_response()
        }
    };
    match st.agent.reload(cfg).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(st): State<Arc<ApiState>>) -> Response {
    let snap = st.agent.targets().await;
    let up = snap
        .active
        .iter()
        .filter(|a| a.health.health == "up")
        .count();
    let mut out = String::new();
    out.push_str("# HELP orrery_agent_targets Active scrape targets by health.\n# TYPE orrery_agent_targets gauge\n");
    out.push_str(&format!("orrery_agent_targets{{health=\"up\"}} {up}\n"));
    out.push_str(&format!(
        "orrery_agent_targets{{health=\"down\"}} {}\n",
        snap.active.len() - up
    ));
    let d = st.agent.delivery_stats();
    for (name, help, kind, v) in [
        (
            "orrery_agent_queue_pending_records",
            "Records in the durable queue not yet acknowledged by the server.",
            "gauge",
            d.pending_records as f64,
        ),
        (
            "orrery_agent_queue_pending_bytes",
            "Bytes in the durable queue not yet acknowledged by the server.",
            "gauge",
            d.pending_bytes as f64,
        ),
        (
            "orrery_agent_sent_records_total",
            "Records delivered (2xx).",
            "counter",
            d.sent_records as f64,
        ),
        (
            "orrery_agent_sent_requests_total",
            "Remote-write requests that succeeded.",
            "counter",
            d.sent_requests as f64,
        ),
        (
            "orrery_agent_failed_requests_total",
            "Remote-write requests that failed.",
            "counter",
            d.failed_requests as f64,
        ),
        (
            "orrery_agent_retried_requests_total",
            "Remote-write requests retried.",
            "counter",
            d.retried_requests as f64,
        ),
        (
            "orrery_agent_dropped_full_records_total",
            "Records dropped because the queue was full (oldest first).",
            "counter",
            d.dropped_full_records as f64,
        ),
        (
            "orrery_agent_dropped_4xx_records_total",
            "Records dropped because the server rejected them with a 4xx other than 429.",
            "counter",
            d.dropped_4xx_records as f64,
        ),
        (
            "orrery_agent_dropped_corrupt_records_total",
            "Records lost to queue corruption.",
            "counter",
            d.dropped_corrupt_records as f64,
        ),
        (
            "orrery_agent_shards",
            "Parallel senders.",
            "gauge",
            d.shards as f64,
        ),
        (
            "orrery_agent_oldest_pending_seconds",
            "Age of the oldest unacknowledged record.",
            "gauge",
            d.oldest_pending_age.map_or(0.0, |a| a.as_secs_f64()),
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
