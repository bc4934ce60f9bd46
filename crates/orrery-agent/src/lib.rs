//! The agent that runs in every cluster: finds what to scrape (static, file and
//! Kubernetes discovery), scrapes it, and delivers every sample to the central server
//! through a durable on-disk queue, so nothing is lost through outages and restarts.
//!
//! This crate owns the pipeline `discovery -> targets -> scrape -> queue -> sender`, and
//! `monitors`, which turns prometheus-operator monitors into more jobs beside the file's
//! (`config`). HTTP client settings (auth, TLS, proxy) are `orrery_httpclient`'s.
//! It must not store or query data (that is the server's), and its queue module must
//! not know about scraping or HTTP. Configuration comes in explicitly; nothing reads
//! globals or flags.
#![deny(missing_docs)]

mod agent;
pub mod api;
pub mod config;
pub mod discovery;
mod error;
pub mod monitors;
pub mod queue;
pub mod scrape;
pub mod send;

pub use agent::{Agent, AgentError};
