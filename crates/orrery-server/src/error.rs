//! [`ServerError`]: why the server could not start or stopped. Each API family answers
//! its own failures in its own envelope (the Prometheus one is
//! `api::prometheus::error::ApiError`).

use thiserror::Error;

/// Why the server could not start or stopped with an error.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A setting is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Storage failed to open or close.
    #[error(transparent)]
    Storage(#[from] orrery_tsdb::TsdbError),
    /// The listener failed.
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}
