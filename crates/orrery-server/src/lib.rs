//! The central server's HTTP side: remote-write ingest, the Prometheus series and
//! label APIs, admin endpoints, and the server's own metrics.
//!
//! This crate assembles libraries: it decodes with `orrery-wire`, stores and reads
//! through `orrery-tsdb`, and speaks Prometheus's exact JSON shapes and status codes.
//! It must not contain storage or decoding logic of its own, and it never reads
//! process-wide configuration: everything comes in through [`ServerConfig`].
#![deny(missing_docs)]

mod api;
mod config;
mod error;
mod telemetry;

pub use api::Server;
pub use config::{LimitsConfig, QueryConfig, ServerConfig, StorageConfig, CONFIG_REFERENCE};
pub use error::ServerError;
