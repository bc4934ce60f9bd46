//! The admin family: `/metrics` (the server's and storage's own metrics), `/-/ready`,
//! `/-/healthy` and `POST /api/v1/admin/flush`. Failures of the flush are answered in
//! the Prometheus envelope, as Prometheus answers its admin API.

use super::prometheus::error::ApiError;
use crate::telemetry::HttpMetrics;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use orrery_tsdb::{Db, MetricValue};
use std::sync::Arc;

/// What the admin endpoints need from the metric store beyond reads and writes.
pub(crate) trait StoreAdmin: Send + Sync {
    /// Persists the head into blocks; returns when durable.
    fn flush(&self) -> Result<(), String>;
    /// The store's own metrics, for `/metrics`.
    fn metrics(&self) -> Vec<MetricValue>;
}

impl StoreAdmin for Db {
    fn flush(&self) -> Result<(), String> {
        Db::flush(self).map_err(|e| e.to_string())
    }

    fn metrics(&self) -> Vec<MetricValue> {
        Db::metrics(self)
    }
}

/// What the admin handlers share.
pub(crate) struct AdminState {
    pub store: Arc<dyn StoreAdmin>,
    pub metrics: Arc<HttpMetrics>,
}

/// The family's routes.
pub(crate) fn routes(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/api/v1/admin/flush", post(flush))
        .route("/metrics", get(metrics))
        .route("/-/ready", get(ready))
        .route("/-/healthy", get(ready))
        .with_state(state)
}

/// `POST /api/v1/admin/flush`: persists the head into blocks; returns when durable.
async fn flush(State(state): State<Arc<AdminState>>) -> Result<StatusCode, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.flush())
        .await
        .map_err(|e| ApiError::internal(format!("flush task failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("flush failed: {e}")))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /metrics`.
async fn metrics(State(state): State<Arc<AdminState>>) -> Response {
    let store = state.store.clone();
    let storage = tokio::task::spawn_blocking(move || store.metrics())
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&storage),
    )
        .into_response()
}

/// `GET /-/ready` and `/-/healthy`: storage is open once the server listens.
async fn ready() -> &'static str {
    "Orrery is Ready.\n"
}
