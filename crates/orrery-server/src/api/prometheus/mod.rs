//! The Prometheus API family: remote write, PromQL, series and label reads, metadata,
//! build info and federation, answered in Prometheus's exact shapes, with its error
//! envelope ([`error::ApiError`]).
//!
//! The handlers see storage only through the model traits ([`Queryable`] for reads,
//! [`Appendable`] for remote write) and run queries through the shared
//! [`QueryGate`], so any store that implements the traits can be mounted here.

pub(crate) mod error;
mod federate;
mod json;
mod params;
mod query;
mod read;
mod status;
mod write;

use crate::config::LimitsConfig;
use crate::telemetry::HttpMetrics;
use axum::routing::{get, post};
use axum::Router;
use orrery_model::{Appendable, Queryable};
use orrery_promql::QueryGate;
use std::sync::Arc;
use std::time::Duration;

/// What the Prometheus handlers share.
pub(crate) struct PrometheusState {
    /// Reads: queries, series, labels, metadata, federation.
    pub storage: Arc<dyn Queryable>,
    /// Remote-write ingest.
    pub appender: Arc<dyn Appendable>,
    /// The limits every query runs under, shared with other query callers.
    pub gate: Arc<QueryGate>,
    /// The server's own counters (rendered by the admin family's `/metrics`).
    pub metrics: Arc<HttpMetrics>,
    /// Remote-write body and decoding limits (`limits:`).
    pub limits: LimitsConfig,
    /// How far behind the newest sample a write may reach, for the 400's message.
    pub out_of_order_window: Duration,
}

/// The prefixes this family answers under; unknown paths below them get a 404 in its
/// envelope.
pub(crate) const PREFIXES: &[&str] = &["/api/v1/", "/federate"];

/// The family's routes (no fallback: the server builder owns the one fallback).
pub(crate) fn routes(state: Arc<PrometheusState>) -> Router {
    Router::new()
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/query", get(query::query).post(query::query))
        .route(
            "/api/v1/query_range",
            get(query::query_range).post(query::query_range),
        )
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(query::query_exemplars).post(query::query_exemplars),
        )
        .route("/api/v1/metadata", get(status::metadata))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/federate", get(federate::federate))
        .route("/api/v1/series", get(read::series).post(read::series))
        .route("/api/v1/labels", get(read::labels).post(read::labels))
        .route("/api/v1/label/{name}/values", get(read::label_values))
        .with_state(state)
}

#[cfg(test)]
mod grafana_tests;
#[cfg(test)]
mod query_tests;
#[cfg(test)]
mod tests;
