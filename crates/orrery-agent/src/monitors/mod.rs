//! prometheus-operator monitors: `monitoring.coreos.com/v1` ServiceMonitor and PodMonitor
//! objects are watched and turned into scrape jobs the way the operator's config
//! generator turns them into Prometheus `scrape_configs`, so a cluster moving from
//! kube-prometheus-stack keeps its monitors without the operator.
//!
//! Pipeline: [`run`] lists and watches both kinds (kube-runtime watcher over
//! `DynamicObject`s, so no CRD types are compiled in), turns each object's `spec` into
//! jobs ([`scrape_configs`]: `servicemonitor.rs`, `podmonitor.rs`), and sends the full
//! set of generated jobs on every change. The agent merges the set with the file's
//! `scrape_configs` ([`merge_jobs`]) and re-applies; unchanged jobs keep their loops.
//!
//! Generation follows the operator's documented behaviour: job names
//! `serviceMonitor/<ns>/<name>/<i>` and `podMonitor/<ns>/<name>/<i>`; discovery role
//! `endpoints` (or `endpointslice`, see `service_discovery_role`) or `pod`, in the
//! namespaces of `namespaceSelector` (`any: true`: all; `matchNames`; default: the
//! monitor's own); the generated relabelings (see the two role files); and the endpoint
//! settings `interval`, `scrapeTimeout`, `path`, `scheme`, `params`, `honorLabels`,
//! `honorTimestamps`, `trackTimestampsStaleness`, `followRedirects`, `enableHttp2`,
//! `filterRunning`, `bearerTokenFile`, `tlsConfig` (file paths, `serverName`, `insecureSkipVerify`),
//! `relabelings` (after the generated rules) and `metricRelabelings`, plus the spec's
//! `jobLabel`, `targetLabels`, `podTargetLabels`, `sampleLimit`, `labelLimit`,
//! `labelNameLengthLimit`, `labelValueLengthLimit`, `bodySizeLimit` and `scrapeProtocols`.
//!
//! Not supported (each use is logged per monitor, and the setting is ignored): anything
//! read from Secrets or ConfigMaps (`basicAuth`, `bearerTokenSecret`, `authorization`,
//! `oauth2`, `tlsConfig.ca`/`cert`/`keySecret`), `proxyUrl` and the other proxy
//! settings, `targetLimit`, `keepDroppedTargets`, `attachMetadata`, `scrapeClass`,
//! `selectorMechanism`, native-histogram settings, and any
//! other field this module does not name. The operator's sharding rules (`hashmod` of
//! `__address__` into `__tmp_hash`, keep `$(SHARD)`) are not generated: one agent scrapes
//! the whole cluster, which is the operator's single-shard case, where they keep every
//! target. Interval and timeout default to the agent's `global` section (the operator
//! uses the Prometheus resource's, 30s by default in kube-prometheus-stack). A monitor
//! the operator would reject (bad duration, unknown selector operator, invalid
//! relabeling) produces no jobs and is logged.
//!
//! Files: `spec.rs` (the CRD fields read), `generate.rs` (jobs from specs, the merge with
//! the file's jobs, the `monitors:` checks), `servicemonitor.rs` and `podmonitor.rs`
//! (each kind's rules) and `watch.rs` (the watcher and its store).
//!
//! Monitors are a job generator, a peer of [`crate::config`], not a discovery mechanism:
//! they read the configuration and produce [`ScrapeConfig`](crate::config::ScrapeConfig)s,
//! and the configuration knows nothing of them.
//!
//! Concurrency: [`run`] is one task that owns its store; the agent reads only the
//! snapshots it sends.

mod generate;
mod podmonitor;
mod servicemonitor;
mod spec;
mod watch;

#[cfg(test)]
mod tests;

use kube::api::{ApiResource, GroupVersionKind};

pub use generate::{generate_jobs, merge_jobs, scrape_configs, GenerateError};
pub use watch::run;
pub(crate) use watch::MonitorsTask;

#[cfg(test)]
use generate::*;

/// The two monitor kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MonitorKind {
    /// `ServiceMonitor`: targets are a service's endpoints.
    ServiceMonitor,
    /// `PodMonitor`: targets are pods' container ports.
    PodMonitor,
}

impl MonitorKind {
    /// The Kubernetes kind.
    pub fn kind(self) -> &'static str {
        match self {
            MonitorKind::ServiceMonitor => "ServiceMonitor",
            MonitorKind::PodMonitor => "PodMonitor",
        }
    }

    /// The resource's plural name in the API path.
    fn plural(self) -> &'static str {
        match self {
            MonitorKind::ServiceMonitor => "servicemonitors",
            MonitorKind::PodMonitor => "podmonitors",
        }
    }

    /// The spec field holding the endpoints.
    fn endpoints_field(self) -> &'static str {
        match self {
            MonitorKind::ServiceMonitor => "endpoints",
            MonitorKind::PodMonitor => "podMetricsEndpoints",
        }
    }

    fn api_resource(self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("monitoring.coreos.com", "v1", self.kind()),
            self.plural(),
        )
    }
}

/// Settings the generator ignores, as `spec.<path>` strings, to be logged.
type Notes = Vec<String>;
