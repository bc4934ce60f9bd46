//! The seam where authentication sits. The [`crate::ServerBuilder`] wraps every route
//! of every mounted family, and the fallback, in one layer that asks the configured
//! [`Authenticator`] before any handler runs, so a route added later cannot skip it.
//! The default, [`AllowAll`], lets everything through (today's behaviour); the
//! security work replaces it. A refusal is answered in the envelope of the family
//! whose prefix the path falls under, as a 404 is.

use axum::extract::Request;
use axum::http::StatusCode;

/// Why a request was refused, and with which status (401 or 403, usually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// What the client is told.
    pub message: String,
}

/// Decides whether a request may reach its handler.
pub trait Authenticator: Send + Sync + 'static {
    /// `Ok` lets the request through; `Err` answers it without calling the handler.
    fn authenticate(&self, req: &Request) -> Result<(), Denied>;
}

/// Lets every request through.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&self, _req: &Request) -> Result<(), Denied> {
        Ok(())
    }
}
