//! The parts of the `monitoring.coreos.com/v1` ServiceMonitor and PodMonitor specs that
//! generation reads, as serde structs (camelCase, every field optional), and the field
//! lists that let generation report what it ignores. Pure data: no I/O.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `spec` fields of both kinds that generation reads (unknown fields are reported
/// separately, see [`unsupported_fields`]).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct MonitorSpec {
    pub(super) job_label: String,
    pub(super) target_labels: Vec<String>,
    pub(super) pod_target_labels: Vec<String>,
    pub(super) endpoints: Vec<EndpointSpec>,
    pub(super) pod_metrics_endpoints: Vec<EndpointSpec>,
    pub(super) selector: LabelSelector,
    pub(super) namespace_selector: NamespaceSelector,
    pub(super) sample_limit: Option<u64>,
    pub(super) label_limit: Option<u64>,
    pub(super) label_name_length_limit: Option<u64>,
    pub(super) label_value_length_limit: Option<u64>,
    pub(super) body_size_limit: Option<String>,
    pub(super) scrape_protocols: Option<Vec<String>>,
}

/// The spec fields [`MonitorSpec`] reads.
pub(super) const SPEC_FIELDS: &[&str] = &[
    "jobLabel",
    "targetLabels",
    "podTargetLabels",
    "endpoints",
    "podMetricsEndpoints",
    "selector",
    "namespaceSelector",
    "sampleLimit",
    "labelLimit",
    "labelNameLengthLimit",
    "labelValueLengthLimit",
    "bodySizeLimit",
    "scrapeProtocols",
];

/// One `endpoints[i]` (ServiceMonitor) or `podMetricsEndpoints[i]` (PodMonitor).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct EndpointSpec {
    pub(super) port: Option<String>,
    pub(super) port_number: Option<i64>,
    pub(super) target_port: Option<IntOrString>,
    pub(super) path: Option<String>,
    pub(super) scheme: Option<String>,
    pub(super) params: BTreeMap<String, Vec<String>>,
    pub(super) interval: Option<String>,
    pub(super) scrape_timeout: Option<String>,
    pub(super) honor_labels: bool,
    pub(super) honor_timestamps: Option<bool>,
    pub(super) track_timestamps_staleness: Option<bool>,
    pub(super) follow_redirects: Option<bool>,
    pub(super) enable_http2: Option<bool>,
    pub(super) filter_running: Option<bool>,
    pub(super) bearer_token_file: Option<String>,
    pub(super) tls_config: Option<TlsSpec>,
    pub(super) relabelings: Vec<RelabelSpec>,
    pub(super) metric_relabelings: Vec<RelabelSpec>,
}

/// The endpoint fields [`EndpointSpec`] reads.
pub(super) const ENDPOINT_FIELDS: &[&str] = &[
    "port",
    "portNumber",
    "targetPort",
    "path",
    "scheme",
    "params",
    "interval",
    "scrapeTimeout",
    "honorLabels",
    "honorTimestamps",
    "trackTimestampsStaleness",
    "followRedirects",
    "enableHttp2",
    "filterRunning",
    "bearerTokenFile",
    "tlsConfig",
    "relabelings",
    "metricRelabelings",
];

/// `tlsConfig`: the file-based part.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct TlsSpec {
    pub(super) ca_file: Option<String>,
    pub(super) cert_file: Option<String>,
    pub(super) key_file: Option<String>,
    pub(super) server_name: Option<String>,
    pub(super) insecure_skip_verify: Option<bool>,
}

/// The `tlsConfig` fields [`TlsSpec`] reads.
pub(super) const TLS_FIELDS: &[&str] = &[
    "caFile",
    "certFile",
    "keyFile",
    "serverName",
    "insecureSkipVerify",
];

/// A Kubernetes `IntOrString` (`targetPort`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum IntOrString {
    Int(i64),
    Str(String),
}

/// A Kubernetes label selector.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct LabelSelector {
    pub(super) match_labels: BTreeMap<String, String>,
    pub(super) match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` term.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Requirement {
    pub(super) key: String,
    pub(super) operator: String,
    pub(super) values: Vec<String>,
}

/// `namespaceSelector`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct NamespaceSelector {
    pub(super) any: bool,
    pub(super) match_names: Vec<String>,
}

/// The operator's `RelabelConfig` (camelCase).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct RelabelSpec {
    pub(super) source_labels: Option<Vec<String>>,
    pub(super) separator: Option<String>,
    pub(super) target_label: Option<String>,
    pub(super) regex: Option<String>,
    pub(super) modulus: Option<u64>,
    pub(super) replacement: Option<String>,
    pub(super) action: Option<String>,
}

/// Which targets an endpoint selects by port.
pub(super) enum PortMatch {
    /// `port`: the endpoint (service) port name, or the container port name for pods.
    Name(String),
    /// `portNumber` (PodMonitor): the container port number.
    Number(i64),
    /// `targetPort` as a name: the container port name.
    TargetName(String),
    /// `targetPort` as a number: the container port number.
    TargetNumber(i64),
    /// No port given: every port.
    Any,
}

impl EndpointSpec {
    pub(super) fn port_match(&self) -> PortMatch {
        if let Some(p) = self.port.as_ref().filter(|p| !p.is_empty()) {
            return PortMatch::Name(p.clone());
        }
        if let Some(n) = self.port_number.filter(|n| *n != 0) {
            return PortMatch::Number(n);
        }
        match &self.target_port {
            Some(IntOrString::Str(s)) if !s.is_empty() => PortMatch::TargetName(s.clone()),
            Some(IntOrString::Int(n)) if *n != 0 => PortMatch::TargetNumber(*n),
            _ => PortMatch::Any,
        }
    }
}
