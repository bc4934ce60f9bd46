//! Error types shared across crates: matcher construction and storage access.

use thiserror::Error;

/// A label matcher could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MatcherError {
    /// The regular expression in a `=~` or `!~` matcher does not compile.
    #[error("invalid regular expression {pattern:?} for label {name:?}: {source}")]
    Regex {
        /// Label name the matcher applies to.
        name: String,
        /// The pattern as the user wrote it.
        pattern: String,
        /// The regex crate's reason.
        #[source]
        source: regex::Error,
    },
}

/// Errors from an [`crate::Appendable`] or [`crate::Queryable`] implementation.
///
/// The kinds are split by what the caller should do: input errors are the client's
/// fault (HTTP 4xx), `Unavailable` may succeed on retry (HTTP 5xx), `Internal` is a bug
/// or a disk failure.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The request was understood but its content is not acceptable.
    #[error("{0}")]
    InvalidInput(String),
    /// A configured limit was exceeded; the message names the limit.
    #[error("{0}")]
    LimitExceeded(String),
    /// Storage cannot take the write now, a retry may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// An I/O failure or a broken invariant inside storage.
    #[error("internal storage error: {0}")]
    Internal(String),
}
