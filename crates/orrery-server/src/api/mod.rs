//! The API families the server can mount, one directory (or file) each, each with its
//! own routes, state and error envelope: `prometheus` (the Prometheus HTTP API) and
//! `admin` (`/metrics`, readiness, flush). Later families (`loki`, `alertmanager`, the
//! UI) sit beside them; the [`crate::ServerBuilder`] merges them behind one fallback
//! and one authentication seam.

pub(crate) mod admin;
pub(crate) mod prometheus;
