//! Admin and operational endpoints: flush, readiness, `/metrics`, and the 404 fallback.

use super::AppState;
use crate::error::{ApiError, ErrorType};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `POST /api/v1/admin/flush`: persists the head into blocks; returns when durable.
pub(crate) async fn flush(State(state): State<Arc<AppState>>) -> Result<StatusCode, ApiError> {
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || db.flush())
        .await
        .map_err(|e| ApiError::internal(format!("flush task failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("flush failed: {e}")))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let db = state.db.clone();
    let storage = tokio::task::spawn_blocking(move || db.metrics())
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
pub(crate) async fn ready() -> &'static str {
    "Orrery is Ready.\n"
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::with_status(
        StatusCode::NOT_FOUND,
        ErrorType::NotFound,
        "no such endpoint",
    )
}
