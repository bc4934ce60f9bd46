//! Why a configuration is unusable: [`ConfigError`] (which file, and how: unreadable,
//! not the right shape, or a setting that is wrong) and the kinds of wrong settings,
//! [`InvalidConfig`], [`JobError`] and [`MonitorsError`]. Messages name the setting and are
//! the texts users and tests already rely on.
//!
//! The kinds nest by value rather than as `source()`s of each other, so a chain printer
//! shows a setting's problem once; errors from other crates (I/O, relabeling, the HTTP
//! client rules, Kubernetes discovery) are the innermost `source()`s.

use std::time::Duration;

use orrery_httpclient::HttpClientError;
use orrery_model::yaml::YamlFileError;
use orrery_model::RelabelError;

use crate::discovery::kubernetes::{DiscoveryError, Role};

/// Why a configuration file is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read, or its YAML is not the right shape (the message has
    /// line and column); the same texts as every configuration file's.
    #[error(transparent)]
    File(#[from] YamlFileError),
    /// A value is invalid.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong and where (boxed: the kinds carry other crates' errors).
        problem: Box<InvalidConfig>,
    },
}

/// A setting of an agent configuration that serde accepted but the agent cannot use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidConfig {
    /// `cluster` is empty.
    #[error("cluster: must be set to the cluster's name")]
    ClusterMissing,
    /// `server.url` is not an http(s) URL.
    #[error("server.url: want an http:// or https:// URL; got {0:?}")]
    ServerUrl(String),
    /// `server.token` and `server.token_file` are both set.
    #[error("server: set token or token_file, not both")]
    ServerTokenTwice,
    /// The queue's shard bounds are out of order.
    #[error("queue: need 1 <= min_shards <= max_shards")]
    QueueShards,
    /// A scrape config has no `job_name`.
    #[error("scrape_configs[{index}]: job_name is required")]
    JobNameMissing {
        /// Position in `scrape_configs`.
        index: usize,
    },
    /// A scrape config's setting is wrong.
    #[error("scrape_configs[{index}] (job {job:?}): {problem}")]
    Job {
        /// Position in `scrape_configs`.
        index: usize,
        /// The job's name.
        job: String,
        /// What is wrong.
        problem: JobError,
    },
    /// The `monitors:` section is wrong.
    #[error("monitors: {0}")]
    Monitors(MonitorsError),
}

/// What is wrong with one scrape config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Another scrape config has the same name.
    #[error("job_name is used twice")]
    DuplicateName,
    /// The interval in force is zero.
    #[error("scrape_interval must be positive")]
    ZeroInterval,
    /// The timeout in force exceeds the interval.
    #[error(
        "scrape_timeout ({}s) greater than scrape_interval ({}s)",
        .timeout.as_secs_f64(),
        .interval.as_secs_f64()
    )]
    TimeoutAboveInterval {
        /// The timeout in force.
        timeout: Duration,
        /// The interval in force.
        interval: Duration,
    },
    /// `scheme` is neither `http` nor `https`.
    #[error("scheme must be http or https; got {0:?}")]
    Scheme(String),
    /// `metrics_path` does not start with `/`.
    #[error("metrics_path must start with /; got {0:?}")]
    MetricsPath(String),
    /// The HTTP client options break Prometheus's `http_config` rules.
    #[error("{0}")]
    Http(#[source] HttpClientError),
    /// A relabel rule is invalid.
    #[error("{field}: {source}")]
    Relabel {
        /// `relabel_configs` or `metric_relabel_configs`.
        field: &'static str,
        /// The rule's problem.
        #[source]
        source: RelabelError,
    },
    /// A static target is not a `host:port` address.
    #[error("static_configs[{index}]: {target:?} is not a host:port address")]
    StaticTarget {
        /// Position in `static_configs`.
        index: usize,
        /// The target as written.
        target: String,
    },
}

/// What is wrong with the `monitors:` section.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorsError {
    /// `service_discovery_role` names a role that does not discover services' endpoints.
    #[error("service_discovery_role must be endpoints or endpointslice; got {0}")]
    ServiceDiscoveryRole(Role),
    /// The connection options are refused as `kubernetes_sd_configs` would refuse them.
    #[error("{0}")]
    Connection(#[source] DiscoveryError),
}
