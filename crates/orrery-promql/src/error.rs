//! Query errors, split the way Prometheus's API reports them (`errorType`).

use thiserror::Error;

/// Why a query failed.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum PromqlError {
    /// The query text does not parse (API `bad_data`, HTTP 400).
    #[error("{0}")]
    Parse(String),
    /// The query is well-formed but cannot be evaluated, e.g. many-to-many matching
    /// (API `execution`, HTTP 422).
    #[error("{0}")]
    Execution(String),
    /// A configured limit was hit; the message names it (API `execution`, HTTP 422).
    #[error("{0}")]
    Limit(String),
    /// The query ran longer than its timeout (API `timeout`, HTTP 503).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// Storage failed (API `internal`, HTTP 500).
    #[error("{0}")]
    Storage(String),
    /// No query slot freed up before the query's deadline; the message names
    /// `query.max_concurrent` (API `timeout`, HTTP 503).
    #[error("{0}")]
    Busy(String),
    /// The query could not be run at all, e.g. its thread died (API `internal`, HTTP 500).
    #[error("{0}")]
    Internal(String),
}

impl From<orrery_model::StorageError> for PromqlError {
    fn from(e: orrery_model::StorageError) -> Self {
        match e {
            orrery_model::StorageError::InvalidInput(m) => PromqlError::Execution(m),
            orrery_model::StorageError::LimitExceeded(m) => PromqlError::Limit(m),
            other => PromqlError::Storage(other.to_string()),
        }
    }
}

/// Shorthand.
pub type Result<T, E = PromqlError> = std::result::Result<T, E>;
