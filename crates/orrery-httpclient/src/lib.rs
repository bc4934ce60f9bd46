//! HTTP client settings in Prometheus's `http_config` shape (`prometheus/common/config`'s
//! `HTTPClientConfig`), shared by everything that makes outgoing requests on a user's
//! behalf: the agent's scrapes, remote write and Kubernetes discovery today, and
//! Alertmanager-style receivers (`http_config:`) next.
//!
//! # Brief overview
//!
//! * [`HttpClientConfig`] is the serde shape: `basic_auth`, `authorization`,
//!   `bearer_token(_file)`, `tls_config`, `follow_redirects`, `proxy_url` and
//!   `enable_http2`. It denies unknown keys, so it can be embedded as a nested
//!   `http_config:` as is. Prometheus writes the same fields inline in scrape and
//!   discovery configs; serde cannot combine `flatten` with `deny_unknown_fields` (and
//!   would lose line and column), so those configs declare the fields with this crate's
//!   types and assemble an [`HttpClientConfig`] from them.
//! * [`HttpClientConfig::validate`] applies Prometheus's rules with its error texts.
//! * [`HttpClientConfig::build`] (or [`HttpClientConfig::client_builder`], for callers
//!   that add timeouts) makes the `reqwest::Client`: TLS through rustls with the ring
//!   provider, redirects, proxy.
//! * [`HttpClientConfig::authorize`] adds the credentials to one request. Secret files
//!   (`password_file`, `credentials_file`, `bearer_token_file`) are read again for every
//!   request, as Prometheus's round trippers do, so rotated secrets take effect without
//!   a reload.
//!
//! This crate owns the client settings and how a client is made from them. It must not
//! know who calls it (no scrape, discovery or notification types), keep state between
//! requests, log, or read globals: everything comes from the configuration.
#![deny(missing_docs)]

mod build;
mod config;
mod error;
#[cfg(test)]
mod tests;

pub use build::read_secret;
pub use config::{Authorization, BasicAuth, HttpClientConfig, TlsConfig, TlsVersion};
pub use error::HttpClientError;
