//! `ApiError`, the Prometheus error envelope every Prometheus API failure is answered
//! with: `{"status":"error","errorType":…,"error":…}` and the status code Prometheus
//! uses for it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Prometheus's `errorType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorType {
    BadData,
    Execution,
    Timeout,
    Internal,
    Unavailable,
    NotFound,
}

impl ErrorType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::NotFound => "not_found",
        }
    }
}

/// An API failure: answered as `{"status":"error","errorType":…,"error":…}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }

    /// 422 `execution`: the query is valid but cannot be evaluated (or hit a limit).
    pub fn execution(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: ErrorType::Execution,
            message: message.into(),
        }
    }

    /// 503 `timeout`.
    pub fn timeout(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: ErrorType::Timeout,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: ErrorType::Internal,
            message: message.into(),
        }
    }

    pub fn with_status(status: StatusCode, kind: ErrorType, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }
}

impl From<orrery_model::StorageError> for ApiError {
    fn from(e: orrery_model::StorageError) -> Self {
        use orrery_model::StorageError as E;
        match e {
            E::InvalidInput(m) | E::LimitExceeded(m) => ApiError::bad_data(m),
            E::Unavailable(m) => {
                ApiError::with_status(StatusCode::SERVICE_UNAVAILABLE, ErrorType::Unavailable, m)
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<orrery_promql::PromqlError> for ApiError {
    /// Prometheus's mapping: parse errors are the `query` parameter's fault (400),
    /// evaluation failures and limits are `execution` (422), timeouts 503, storage 500.
    fn from(e: orrery_promql::PromqlError) -> Self {
        use orrery_promql::PromqlError as E;
        match e {
            E::Parse(m) => ApiError::bad_data(format!("invalid parameter \"query\": {m}")),
            E::Execution(m) | E::Limit(m) => ApiError::execution(m),
            e @ E::Timeout(_) => ApiError::timeout(e.to_string()),
            E::Busy(m) => ApiError::timeout(m),
            E::Storage(m) | E::Internal(m) => ApiError::internal(m),
            other => ApiError::execution(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    /// Keys in Prometheus's order: `status`, `errorType`, `error`.
    fn into_response(self) -> Response {
        let mut body = format!(
            r#"{{"status":"error","errorType":"{}","error":"#,
            self.kind.as_str()
        );
        super::json::string(&mut body, &self.message);
        body.push('}');
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// The Prometheus envelope for failures that come from outside the handlers (the
/// authentication seam, an unknown path under `/api/v1/`): the `errorType` follows the
/// status.
pub(crate) fn envelope(status: StatusCode, message: &str) -> Response {
    let kind = match status {
        StatusCode::NOT_FOUND => ErrorType::NotFound,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorType::Execution,
        StatusCode::SERVICE_UNAVAILABLE => ErrorType::Unavailable,
        s if s.is_client_error() => ErrorType::BadData,
        _ => ErrorType::Internal,
    };
    ApiError::with_status(status, kind, message).into_response()
}
