//! The central server's HTTP side: remote-write ingest, the Prometheus series and
//! label APIs, admin endpoints, and the server's own metrics.
//!
//! This crate assembles libraries: it decodes with `orrery-wire`, stores and reads
//! through `orrery-tsdb`, and speaks Prometheus's exact JSON shapes and status codes.
//! It must not contain storage or decoding logic of its own, and it never reads
//! process-wide configuration: everything comes in through [`ServerConfig`].
//!
//! Layout: `api/<family>/` holds one API family each (routes, state, error envelope);
//! [`ServerBuilder`] takes already-opened components, mounts their families behind one
//! fallback and one authentication seam ([`Authenticator`]); `lifecycle.rs` runs the
//! store's background loops while serving.
#![deny(missing_docs)]

mod api;
mod auth;
mod builder;
mod config;
mod error;
mod lifecycle;
mod telemetry;

pub use auth::{AllowAll, Authenticator, Denied};
pub use builder::{plain_text, Envelope, Family, Server, ServerBuilder};
pub use config::{
    ConfigError, LimitsConfig, QueryConfig, ServerConfig, StorageConfig, CONFIG_REFERENCE,
};
pub use error::ServerError;
