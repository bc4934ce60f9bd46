//! The agent's configuration file: `cluster`, `server`, `external_labels` and
//! Prometheus's own `global` and `scrape_configs` shapes, so users can paste what
//! they have. Parsing is two-stage: serde reads the raw shape ([`AgentConfig::from_yaml`];
//! unknown keys are errors with line and column), then [`AgentConfig::validate`] checks
//! what serde cannot. `AgentConfig::load` and `AgentConfig::parse`, which also run the
//! `monitors:` section's checks, are defined in `agent.rs`: monitors generate jobs from
//! this configuration, so this module knows nothing of them.

pub use crate::discovery::file_sd::FileSdConfig;
use crate::discovery::kubernetes::{KubernetesSdConfig, Role};
pub use crate::discovery::static_sd::StaticConfig;
pub use crate::error::{ConfigError, InvalidConfig, JobError, MonitorsError};
use orrery_httpclient::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use orrery_model::{RelabelConfig, Relabeler};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The whole agent configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The cluster's name; added to every series as `cluster="<name>"`. Required.
    pub cluster: String,
    /// Where to deliver.
    pub server: ServerTarget,
    /// Labels added to every series that does not have them (`cluster` always wins).
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// Prometheus's `global` section (only the scrape settings are used).
    #[serde(default)]
    pub global: GlobalConfig,
    /// Prometheus scrape configurations.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// The durable queue and sender.
    #[serde(default)]
    pub queue: QueueConfig,
    /// prometheus-operator ServiceMonitor and PodMonitor objects turned into scrape
    /// jobs (disabled by default).
    #[serde(default)]
    pub monitors: MonitorsConfig,
}

/// `monitors:`: watch `monitoring.coreos.com/v1` ServiceMonitors and PodMonitors and
/// scrape what they describe, as prometheus-operator would configure Prometheus (see
/// `crate::monitors`, which also checks this section). The connection options are those of
/// `kubernetes_sd_configs`; they are also used by the generated jobs' discovery.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorsConfig {
    /// Watch monitors and add their jobs (false).
    #[serde(default)]
    pub enabled: bool,
    /// Namespaces whose monitors are used; empty means all. (Which namespaces a monitor
    /// *scrapes* is its own `namespaceSelector`.)
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// The discovery role of ServiceMonitor jobs: `endpoints` (default) or
    /// `endpointslice`, the operator's `serviceDiscoveryRole`.
    #[serde(default)]
    pub service_discovery_role: Option<Role>,
    /// The API server URL; absent means the in-cluster service account.
    #[serde(default)]
    pub api_server: Option<String>,
    /// A kubeconfig file (its current context); excludes `api_server`.
    #[serde(default)]
    pub kubeconfig_file: Option<PathBuf>,
    /// A file holding the bearer token sent to `api_server`.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// The `Authorization` header sent to `api_server` (type `Bearer` only).
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// HTTP basic authentication sent to `api_server`.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// TLS settings for `api_server`.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
}

/// The central server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTarget {
    /// Base URL of `orrery server`, e.g. `http://central.example:9090`; remote write goes
    /// to `<url>/api/v1/write`.
    pub url: String,
    /// File holding the bearer token (re-read at reload).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// The bearer token inline (prefer `token_file`).
    #[serde(default)]
    pub token: Option<String>,
}

/// Prometheus's `global` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub scrape_interval: Duration,
    /// Default scrape timeout (10s).
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub scrape_timeout: Duration,
    /// Accepted for compatibility; rule evaluation happens on the server.
    #[serde(default, deserialize_with = "orrery_model::de::opt_duration")]
    pub evaluation_interval: Option<Duration>,
    /// Prometheus's global external labels; merged under the top-level ones.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            evaluation_interval: None,
            external_labels: BTreeMap::new(),
        }
    }
}

/// Queue and sender settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Largest size of unsent data on disk (1GiB); when full the oldest data is dropped
    /// and counted.
    #[serde(deserialize_with = "orrery_model::de::size")]
    pub max_size: u64,
    /// Fewest parallel senders (1).
    pub min_shards: usize,
    /// Most parallel senders (8).
    pub max_shards: usize,
    /// Timeout of one remote-write request (30s).
    #[serde(deserialize_with = "orrery_model::de::duration")]
    pub remote_timeout: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_size: 1 << 30,
            min_shards: 1,
            max_shards: 8,
            remote_timeout: Duration::from_secs(30),
        }
    }
}

/// One of Prometheus's `scrape_configs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The job name, the `job` label of its targets. Required, unique.
    pub job_name: String,
    /// How often to scrape (global default).
    #[serde(default, deserialize_with = "orrery_model::de::opt_duration")]
    pub scrape_interval: Option<Duration>,
    /// Per-scrape timeout (global default, at most the interval).
    #[serde(default, deserialize_with = "orrery_model::de::opt_duration")]
    pub scrape_timeout: Option<Duration>,
    /// HTTP path (`/metrics`).
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// URL parameters.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// Scraped labels win over target labels when they conflict (false: scraped ones
    /// are renamed `exported_<name>`).
    #[serde(default)]
    pub honor_labels: bool,
    /// Use timestamps the target exposes (true).
    #[serde(default = "yes")]
    pub honor_timestamps: bool,
    /// Give series exposed with their own timestamp stale markers too when they
    /// disappear (false: as Prometheus, only series without one get them, since a
    /// target that sets timestamps may legitimately skip a series for a while).
    #[serde(default)]
    pub track_timestamps_staleness: bool,
    /// Most samples per scrape after metric relabeling (0 = unlimited).
    #[serde(default)]
    pub sample_limit: usize,
    /// Most labels per sample (0 = unlimited).
    #[serde(default)]
    pub label_limit: usize,
    /// Longest label name (0 = unlimited).
    #[serde(default)]
    pub label_name_length_limit: usize,
    /// Longest label value (0 = unlimited).
    #[serde(default)]
    pub label_value_length_limit: usize,
    /// Largest uncompressed body (0 = unlimited), e.g. `10MB`.
    #[serde(default, deserialize_with = "orrery_model::de::size")]
    pub body_size_limit: u64,
    // The HTTP client options below are Prometheus's `http_config`, inline as in
    // Prometheus; `http_client_config` assembles them (serde cannot flatten them into a
    // `deny_unknown_fields` struct and keep line and column in errors).
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// Bearer token (Prometheus's legacy field).
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// File with a bearer token (legacy field).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// The `Authorization` header.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// TLS settings for `https`.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// Follow redirects (true).
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Accepted for compatibility; HTTP/1.1 is used.
    #[serde(default)]
    pub enable_http2: Option<bool>,
    /// Scrape through this HTTP proxy (absent: the `HTTP_PROXY` environment, as before).
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Ask targets for gzip (true).
    #[serde(default = "yes")]
    pub enable_compression: bool,
    /// Accepted for compatibility; OpenMetrics and text 0.0.4 are negotiated.
    #[serde(default)]
    pub scrape_protocols: Option<Vec<String>>,
    /// Targets listed in the file.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Targets read from JSON or YAML files, reloaded on change.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Kubernetes discovery.
    #[serde(default)]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Relabeling of targets before scraping.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Relabeling of scraped samples.
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_scheme() -> String {
    "http".into()
}
fn yes() -> bool {
    true
}

/// A scrape job ready to run: its settings as written, with the interval and timeout
/// in force (`global`'s defaults resolved). Scrape loops and target population take this
/// instead of a `ScrapeConfig` and the `GlobalConfig` it needs.
#[derive(Debug, Clone)]
pub struct ScrapeJob {
    /// The job's settings as written.
    pub config: ScrapeConfig,
    /// How often to scrape.
    pub interval: Duration,
    /// Per-scrape timeout.
    pub timeout: Duration,
}

impl ScrapeJob {
    /// Resolves `config`'s interval and timeout against `global`.
    pub fn new(config: ScrapeConfig, global: &GlobalConfig) -> ScrapeJob {
        ScrapeJob {
            interval: config.interval(global),
            timeout: config.timeout(global),
            config,
        }
    }
}

impl ScrapeConfig {
    /// The interval in force.
    pub fn interval(&self, g: &GlobalConfig) -> Duration {
        self.scrape_interval.unwrap_or(g.scrape_interval)
    }

    /// The timeout in force (Prometheus lowers the global default to the interval).
    pub fn timeout(&self, g: &GlobalConfig) -> Duration {
        match self.scrape_timeout {
            Some(t) => t,
            None => g.scrape_timeout.min(self.interval(g)),
        }
    }

    /// The job's HTTP client options in the shared shape.
    pub fn http_client_config(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            bearer_token: self.bearer_token.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            tls_config: self.tls_config.clone(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            proxy_url: self.proxy_url.clone(),
        }
    }

    /// Checks one job's settings that serde cannot (the job name is checked by the
    /// caller); messages name the setting.
    pub fn validate(&self, g: &GlobalConfig) -> Result<(), JobError> {
        let (interval, timeout) = (self.interval(g), self.timeout(g));
        if interval.is_zero() {
            return Err(JobError::ZeroInterval);
        }
        if timeout > interval {
            return Err(JobError::TimeoutAboveInterval { timeout, interval });
        }
        if self.scheme != "http" && self.scheme != "https" {
            return Err(JobError::Scheme(self.scheme.clone()));
        }
        if !self.metrics_path.starts_with('/') {
            return Err(JobError::MetricsPath(self.metrics_path.clone()));
        }
        self.http_client_config()
            .validate()
            .map_err(JobError::Http)?;
        for (field, rules) in [
            ("relabel_configs", &self.relabel_configs),
            ("metric_relabel_configs", &self.metric_relabel_configs),
        ] {
            Relabeler::new(rules).map_err(|source| JobError::Relabel { field, source })?;
        }
        for (index, st) in self.static_configs.iter().enumerate() {
            for t in &st.targets {
                if t.is_empty() || t.contains('/') {
                    return Err(JobError::StaticTarget {
                        index,
                        target: t.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl AgentConfig {
    /// The first stage of [`AgentConfig::parse`]: the YAML shape only (unknown keys and
    /// bad values are errors with line and column); `name` is used in messages.
    pub fn from_yaml(text: &str, name: &str) -> Result<AgentConfig, ConfigError> {
        Ok(orrery_model::yaml::parse(text, name)?)
    }

    /// Checks what serde cannot in the file's own settings. The `monitors:` section is
    /// checked by its owner, `MonitorsConfig::validate` in `crate::monitors`, which `AgentConfig::parse`
    /// and the agent call.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.cluster.trim().is_empty() {
            return Err(InvalidConfig::ClusterMissing);
        }
        let u = self.server.url.trim();
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(InvalidConfig::ServerUrl(self.server.url.clone()));
        }
        if self.server.token.is_some() && self.server.token_file.is_some() {
            return Err(InvalidConfig::ServerTokenTwice);
        }
        if self.queue.min_shards == 0 || self.queue.max_shards < self.queue.min_shards {
            return Err(InvalidConfig::QueueShards);
        }
        let mut names = std::collections::BTreeSet::new();
        for (index, sc) in self.scrape_configs.iter().enumerate() {
            if sc.job_name.is_empty() {
                return Err(InvalidConfig::JobNameMissing { index });
            }
            let at = |problem| InvalidConfig::Job {
                index,
                job: sc.job_name.clone(),
                problem,
            };
            if !names.insert(&sc.job_name) {
                return Err(at(JobError::DuplicateName));
            }
            sc.validate(&self.global).map_err(at)?;
        }
        Ok(())
    }

    /// External labels in force: `global.external_labels`, then the top-level ones,
    /// then `cluster`, which always wins.
    pub fn all_external_labels(&self) -> BTreeMap<String, String> {
        let mut m = self.global.external_labels.clone();
        m.extend(self.external_labels.clone());
        m.insert("cluster".into(), self.cluster.clone());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
cluster: prod-eu-1
server:
  url: http://central.example:9090
  token: abc
external_labels: {region: eu}
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["10.0.0.1:9100", "10.0.0.2:9100"]
        labels: {team: infra}
    relabel_configs:
      - source_labels: [__address__]
        regex: "(.*):9100"
        target_label: host
  - job_name: api
    scrape_interval: 30s
    scrape_timeout: 5s
    metrics_path: /internal/metrics
    file_sd_configs:
      - files: ["/etc/targets/*.json"]
"#;

    #[test]
    fn a_prometheus_shaped_config_loads_with_defaults() {
        let c = AgentConfig::parse(GOOD, "agent.yml").unwrap();
        assert_eq!(c.cluster, "prod-eu-1");
        assert_eq!(c.scrape_configs.len(), 2);
        let node = &c.scrape_configs[0];
        assert_eq!(node.interval(&c.global), Duration::from_secs(15));
        assert_eq!(node.timeout(&c.global), Duration::from_secs(10));
        assert_eq!(node.metrics_path, "/metrics");
        assert!(node.honor_timestamps && !node.honor_labels);
        assert!(!node.track_timestamps_staleness);
        let tracked = AgentConfig::parse(
            "cluster: x\nserver: {url: http://a}\nscrape_configs:\n  - job_name: a\n    track_timestamps_staleness: true\n",
            "a.yml",
        )
        .unwrap();
        assert!(tracked.scrape_configs[0].track_timestamps_staleness);
        assert_eq!(
            c.scrape_configs[1].timeout(&c.global),
            Duration::from_secs(5)
        );
        assert_eq!(c.all_external_labels()["cluster"], "prod-eu-1");
        assert_eq!(c.all_external_labels()["region"], "eu");
    }

    #[test]
    fn errors_name_the_setting_and_position() {
        let e = AgentConfig::parse("cluster: x\nserver: {url: http://a}\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 1m\n", "a.yml").unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("a.yml") && m.contains("scrape_intervall") && m.contains("line 5"),
            "{m}"
        );
        let e = AgentConfig::parse("server: {url: http://a}\n", "a.yml").unwrap_err();
        assert!(e.to_string().contains("cluster"), "{e}");
        let e = AgentConfig::parse("cluster: x\nserver: {url: http://a}\nscrape_configs:\n  - job_name: a\n    scrape_interval: 10s\n    scrape_timeout: 20s\n", "a.yml").unwrap_err();
        assert!(
            e.to_string().contains("greater than scrape_interval"),
            "{e}"
        );
        let e = AgentConfig::parse("cluster: x\nserver: {url: http://a}\nscrape_configs:\n  - job_name: a\n  - job_name: a\n", "a.yml").unwrap_err();
        assert!(e.to_string().contains("used twice"), "{e}");
        let e = AgentConfig::parse("cluster: x\nserver: {url: ftp://a}\n", "a.yml").unwrap_err();
        assert!(e.to_string().contains("server.url"), "{e}");
        let e = AgentConfig::parse("cluster: x\nserver: {url: http://a}\nscrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n        source_labels: [a]\n        target_label: b\n", "a.yml").unwrap_err();
        assert!(e.to_string().contains("relabel_configs"), "{e}");
    }

    fn job_error(job: &str) -> String {
        AgentConfig::parse(
            &format!(
                "cluster: x\nserver: {{url: http://a}}\nscrape_configs:\n  - job_name: a\n{job}"
            ),
            "a.yml",
        )
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn http_client_options_follow_prometheus_http_config() {
        // The scrape copy of these rules had its own message and allowed bearer_token
        // with bearer_token_file, an authorization of type Basic and a client
        // certificate without its key until the client was built; Prometheus refuses
        // all three when it loads the file.
        let m = job_error("    basic_auth: {username: u}\n    bearer_token: t\n");
        assert!(m.contains("scrape_configs[0] (job \"a\"): at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"), "{m}");
        let m = job_error("    bearer_token: t\n    bearer_token_file: /t\n");
        assert!(
            m.contains("at most one of bearer_token & bearer_token_file must be configured"),
            "{m}"
        );
        let m = job_error("    authorization: {type: Basic, credentials: x}\n");
        assert!(
            m.contains("authorization type cannot be set to \"basic\""),
            "{m}"
        );
        let m = job_error("    tls_config: {cert_file: /c}\n");
        assert!(
            m.contains("exactly one of key or key_file must be configured"),
            "{m}"
        );
        let m = job_error("    authorization: {credentials: x}\n    basic_auth: {username: u}\n");
        assert!(
            m.contains("at most one of basic_auth, oauth2 & authorization must be configured"),
            "{m}"
        );
        let m = job_error("    tls_config: {min_version: TLS13, max_version: TLS12}\n");
        assert!(m.contains("tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified"), "{m}");
        let m = job_error("    tls_config: {min_version: TLS14}\n");
        assert!(
            m.contains("unknown variant `TLS14`") && m.contains("line 5"),
            "{m}"
        );
        let m = job_error("    tls_config: {min_versoin: TLS12}\n");
        assert!(
            m.contains("unknown field `min_versoin`") && m.contains("line 5"),
            "{m}"
        );
    }

    #[test]
    fn proxy_url_is_accepted_and_passed_to_the_client_options() {
        let c = AgentConfig::parse(
            "cluster: x\nserver: {url: http://a}\nscrape_configs:\n  - job_name: a\n    proxy_url: http://proxy:3128\n    follow_redirects: false\n    authorization: {type: Token, credentials_file: /t}\n",
            "a.yml",
        )
        .unwrap();
        let http = c.scrape_configs[0].http_client_config();
        assert_eq!(http.proxy_url.as_deref(), Some("http://proxy:3128"));
        assert!(!http.follow_redirects);
        assert_eq!(http.authorization.unwrap().scheme(), "Token");
    }

    #[test]
    fn invalid_settings_are_typed_and_keep_their_messages() {
        let e = AgentConfig::parse("cluster: x\nserver: {url: http://a}\nscrape_configs:\n  - job_name: a\n    scrape_interval: 10s\n    scrape_timeout: 20s\n", "a.yml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.yml: scrape_configs[0] (job \"a\"): scrape_timeout (20s) greater than scrape_interval (10s)"
        );
        let ConfigError::Invalid { problem, .. } = e else {
            panic!("{e:?}")
        };
        let InvalidConfig::Job {
            index: 0, problem, ..
        } = *problem
        else {
            panic!("{problem:?}")
        };
        assert!(
            matches!(problem, JobError::TimeoutAboveInterval { .. }),
            "{problem:?}"
        );
        let e = AgentConfig::parse("cluster: x\nserver: {url: http://a}\nmonitors: {enabled: true, service_discovery_role: pod}\n", "a.yml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.yml: monitors: service_discovery_role must be endpoints or endpointslice; got pod"
        );
        assert!(
            matches!(&e, ConfigError::Invalid { problem, .. } if matches!(**problem, InvalidConfig::Monitors(MonitorsError::ServiceDiscoveryRole(_)))),
            "{e:?}"
        );
        let e = AgentConfig::parse("cluster: ' '\nserver: {url: http://a}\n", "a.yml").unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { problem, .. } if matches!(**problem, InvalidConfig::ClusterMissing)),
            "{e:?}"
        );
    }
}
