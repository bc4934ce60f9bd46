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
//! Concurrency: [`run`] is one task that owns its store; the agent reads only the
//! snapshots it sends.

mod podmonitor;
mod servicemonitor;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::stream::{self, BoxStream, StreamExt};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use orrery_model::{parse_duration, RelabelConfig, Relabeler};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::kubernetes::{sanitize_label_name, DiscoveryError, KubernetesSdConfig, Role};
use crate::config::{GlobalConfig, MonitorsConfig, ScrapeConfig};

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

/// The `spec` fields of both kinds that generation reads (unknown fields are reported
/// separately, see [`unsupported_fields`]).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MonitorSpec {
    job_label: String,
    target_labels: Vec<String>,
    pod_target_labels: Vec<String>,
    endpoints: Vec<EndpointSpec>,
    pod_metrics_endpoints: Vec<EndpointSpec>,
    selector: LabelSelector,
    namespace_selector: NamespaceSelector,
    sample_limit: Option<u64>,
    label_limit: Option<u64>,
    label_name_length_limit: Option<u64>,
    label_value_length_limit: Option<u64>,
    body_size_limit: Option<String>,
    scrape_protocols: Option<Vec<String>>,
}

/// The spec fields [`MonitorSpec`] reads.
const SPEC_FIELDS: &[&str] = &[
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
struct EndpointSpec {
    port: Option<String>,
    port_number: Option<i64>,
    target_port: Option<IntOrString>,
    path: Option<String>,
    scheme: Option<String>,
    params: BTreeMap<String, Vec<String>>,
    interval: Option<String>,
    scrape_timeout: Option<String>,
    honor_labels: bool,
    honor_timestamps: Option<bool>,
    track_timestamps_staleness: Option<bool>,
    follow_redirects: Option<bool>,
    enable_http2: Option<bool>,
    filter_running: Option<bool>,
    bearer_token_file: Option<String>,
    tls_config: Option<TlsSpec>,
    relabelings: Vec<RelabelSpec>,
    metric_relabelings: Vec<RelabelSpec>,
}

/// The endpoint fields [`EndpointSpec`] reads.
const ENDPOINT_FIELDS: &[&str] = &[
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
struct TlsSpec {
    ca_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    server_name: Option<String>,
    insecure_skip_verify: Option<bool>,
}

/// The `tlsConfig` fields [`TlsSpec`] reads.
const TLS_FIELDS: &[&str] = &[
    "caFile",
    "certFile",
    "keyFile",
    "serverName",
    "insecureSkipVerify",
];

/// A Kubernetes `IntOrString` (`targetPort`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Str(String),
}

/// A Kubernetes label selector.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct LabelSelector {
    match_labels: BTreeMap<String, String>,
    match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` term.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Requirement {
    key: String,
    operator: String,
    values: Vec<String>,
}

/// `namespaceSelector`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct NamespaceSelector {
    any: bool,
    match_names: Vec<String>,
}

/// The operator's `RelabelConfig` (camelCase).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RelabelSpec {
    source_labels: Option<Vec<String>>,
    separator: Option<String>,
    target_label: Option<String>,
    regex: Option<String>,
    modulus: Option<u64>,
    replacement: Option<String>,
    action: Option<String>,
}

/// Which targets an endpoint selects by port.
enum PortMatch {
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
    fn port_match(&self) -> PortMatch {
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

/// The `endpoint` target label: `port`, else `targetPort` as a string.
fn endpoint_label(ep: &EndpointSpec) -> Option<String> {
    if let Some(p) = ep.port.as_ref().filter(|p| !p.is_empty()) {
        return Some(p.clone());
    }
    match &ep.target_port {
        Some(IntOrString::Str(s)) if !s.is_empty() => Some(s.clone()),
        Some(IntOrString::Int(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Ends an endpoint's rules as the operator does (`jobLabel`, read from
/// `<job_label_prefix><jobLabel>`, overrides the job; `endpoint` names the port; then
/// the endpoint's own `relabelings`) and sets them as `job`'s `relabel_configs`.
fn finish_rules(
    job: &mut Value,
    mut rules: Vec<Value>,
    job_label_prefix: &str,
    spec: &MonitorSpec,
    ep: &EndpointSpec,
) -> Result<(), String> {
    if !spec.job_label.is_empty() {
        rules.push(json!({
            "source_labels": [format!("{job_label_prefix}{}", sanitize_label_name(&spec.job_label))],
            "target_label": "job", "regex": "(.+)", "replacement": "${1}",
        }));
    }
    if let Some(endpoint) = endpoint_label(ep) {
        rules.push(json!({"target_label": "endpoint", "replacement": endpoint}));
    }
    rules.extend(relabelings_from(&ep.relabelings, "relabelings")?);
    job["relabel_configs"] = Value::Array(rules);
    Ok(())
}

/// `drop` targets whose pod has finished (`filterRunning`, on by default).
fn running_filter() -> Value {
    json!({"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"})
}

/// `(<v1|v2>);true`-style selector values, joined as the operator joins them.
fn join_values(values: &[String]) -> String {
    values.join("|")
}

/// The label selector as relabel rules on `__meta_kubernetes_<object>_label_*` and
/// `…_labelpresent_*`: `matchLabels` sorted by key, then `matchExpressions` in order.
fn selector_rules(object: &str, sel: &LabelSelector) -> Result<Vec<Value>, String> {
    let label = |k: &str| {
        format!(
            "__meta_kubernetes_{object}_label_{}",
            sanitize_label_name(k)
        )
    };
    let present = |k: &str| {
        format!(
            "__meta_kubernetes_{object}_labelpresent_{}",
            sanitize_label_name(k)
        )
    };
    let mut rules = Vec::new();
    // BTreeMap iterates sorted by key, as the operator sorts the keys.
    for (k, v) in &sel.match_labels {
        rules.push(json!({"action": "keep", "source_labels": [label(k), present(k)], "regex": format!("({v});true")}));
    }
    for (i, e) in sel.match_expressions.iter().enumerate() {
        let (action, sources, regex) = match e.operator.as_str() {
            "In" => (
                "keep",
                vec![label(&e.key), present(&e.key)],
                format!("({});true", join_values(&e.values)),
            ),
            "NotIn" => (
                "drop",
                vec![label(&e.key), present(&e.key)],
                format!("({});true", join_values(&e.values)),
            ),
            "Exists" => ("keep", vec![present(&e.key)], "true".to_owned()),
            "DoesNotExist" => ("drop", vec![present(&e.key)], "true".to_owned()),
            other => {
                return Err(format!(
                    "spec.selector.matchExpressions[{i}]: unknown operator {other:?}"
                ))
            }
        };
        rules.push(json!({"action": action, "source_labels": sources, "regex": regex}));
    }
    Ok(rules)
}

/// The job's `kubernetes_sd_configs` entry (connection options are added later).
fn sd_config(role: Role, namespace: &str, sel: &NamespaceSelector) -> Value {
    let mut sd = json!({"role": role.as_str()});
    let names: Vec<&str> = if sel.any {
        Vec::new()
    } else if !sel.match_names.is_empty() {
        sel.match_names.iter().map(String::as_str).collect()
    } else {
        vec![namespace]
    };
    if !names.is_empty() {
        sd["namespaces"] = json!({"names": names});
    }
    sd
}

/// The operator's relabel rules (camelCase) as Prometheus `relabel_config`s.
fn relabelings_from(rules: &[RelabelSpec], field: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let mut m = Map::new();
        if let Some(v) = &r.source_labels {
            m.insert("source_labels".into(), json!(v));
        }
        if let Some(v) = &r.separator {
            m.insert("separator".into(), json!(v));
        }
        if let Some(v) = r.target_label.as_ref().filter(|v| !v.is_empty()) {
            m.insert("target_label".into(), json!(v));
        }
        if let Some(v) = r.regex.as_ref().filter(|v| !v.is_empty()) {
            m.insert("regex".into(), json!(v));
        }
        if let Some(v) = r.modulus.filter(|v| *v != 0) {
            m.insert("modulus".into(), json!(v));
        }
        if let Some(v) = &r.replacement {
            m.insert("replacement".into(), json!(v));
        }
        if let Some(v) = r.action.as_ref().filter(|v| !v.is_empty()) {
            m.insert("action".into(), json!(v.to_lowercase()));
        }
        let rule = Value::Object(m);
        // Check the rule now so the message names the monitor's field.
        let parsed: RelabelConfig =
            serde_json::from_value(rule.clone()).map_err(|e| format!("{field}[{i}]: {e}"))?;
        Relabeler::new(std::slice::from_ref(&parsed)).map_err(|e| format!("{field}[{i}]: {e}"))?;
        out.push(rule);
    }
    Ok(out)
}

/// The endpoint and spec settings shared by both kinds, in Prometheus's field names.
fn common_settings(
    job: &mut Value,
    spec: &MonitorSpec,
    ep: &EndpointSpec,
    at: &str,
    notes: &mut Notes,
) -> Result<(), String> {
    for (field, key, value) in [
        ("interval", "scrape_interval", &ep.interval),
        ("scrapeTimeout", "scrape_timeout", &ep.scrape_timeout),
    ] {
        if let Some(d) = value.as_ref().filter(|d| !d.is_empty()) {
            parse_duration(d).map_err(|e| format!("{field}: {e}"))?;
            job[key] = json!(d);
        }
    }
    if let Some(p) = ep.path.as_ref().filter(|p| !p.is_empty()) {
        job["metrics_path"] = json!(p);
    }
    if let Some(s) = ep.scheme.as_ref().filter(|s| !s.is_empty()) {
        job["scheme"] = json!(s.to_lowercase());
    }
    if !ep.params.is_empty() {
        job["params"] = json!(ep.params);
    }
    job["honor_labels"] = json!(ep.honor_labels);
    if let Some(v) = ep.honor_timestamps {
        job["honor_timestamps"] = json!(v);
    }
    if let Some(v) = ep.track_timestamps_staleness {
        job["track_timestamps_staleness"] = json!(v);
    }
    if let Some(v) = ep.follow_redirects {
        job["follow_redirects"] = json!(v);
    }
    if let Some(v) = ep.enable_http2 {
        job["enable_http2"] = json!(v);
    }
    if let Some(f) = ep.bearer_token_file.as_ref().filter(|f| !f.is_empty()) {
        job["bearer_token_file"] = json!(f);
    }
    if let Some(t) = &ep.tls_config {
        let mut tls = Map::new();
        for (key, v) in [
            ("ca_file", &t.ca_file),
            ("cert_file", &t.cert_file),
            ("key_file", &t.key_file),
            ("server_name", &t.server_name),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                tls.insert(key.into(), json!(v));
            }
        }
        if let Some(v) = t.insecure_skip_verify {
            tls.insert("insecure_skip_verify".into(), json!(v));
        }
        if t.cert_file.is_some() != t.key_file.is_some() {
            notes.push(format!("{at}.tlsConfig: certFile without keyFile"));
        }
        job["tls_config"] = Value::Object(tls);
    }
    let metric = relabelings_from(&ep.metric_relabelings, "metricRelabelings")?;
    if !metric.is_empty() {
        job["metric_relabel_configs"] = Value::Array(metric);
    }
    for (key, v) in [
        ("sample_limit", spec.sample_limit),
        ("label_limit", spec.label_limit),
        ("label_name_length_limit", spec.label_name_length_limit),
        ("label_value_length_limit", spec.label_value_length_limit),
    ] {
        if let Some(v) = v.filter(|v| *v > 0) {
            job[key] = json!(v);
        }
    }
    if let Some(v) = spec.body_size_limit.as_ref().filter(|v| !v.is_empty()) {
        job["body_size_limit"] = json!(v);
    }
    if let Some(v) = spec.scrape_protocols.as_ref().filter(|v| !v.is_empty()) {
        job["scrape_protocols"] = json!(v);
    }
    Ok(())
}

/// Whether a field's value means "not set": null, `false`, empty, an object of such
/// values, or a secret reference without a name (older CRDs default to `{key: ""}`).
fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => {
            o.values().all(is_unset)
                || o.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(str::is_empty)
        }
        Value::Bool(true) | Value::Number(_) => false,
    }
}

/// Every set field generation ignores, as `spec.<path>`.
fn unsupported_fields(kind: MonitorKind, spec: &Value) -> Notes {
    let mut notes = Vec::new();
    let unknown = |obj: &Value, known: &[&str], at: &str, notes: &mut Notes| {
        for (k, v) in obj.as_object().into_iter().flatten() {
            if !known.contains(&k.as_str()) && !is_unset(v) {
                notes.push(format!("{at}.{k}"));
            }
        }
    };
    unknown(spec, SPEC_FIELDS, "spec", &mut notes);
    let field = kind.endpoints_field();
    for (i, ep) in spec[field].as_array().into_iter().flatten().enumerate() {
        let at = format!("spec.{field}[{i}]");
        unknown(ep, ENDPOINT_FIELDS, &at, &mut notes);
        unknown(
            &ep["tlsConfig"],
            TLS_FIELDS,
            &format!("{at}.tlsConfig"),
            &mut notes,
        );
    }
    notes
}

/// One monitor's jobs in Prometheus's `scrape_configs` shape (as JSON, the way the
/// operator writes them, without connection options), and the ignored settings.
pub fn generate_jobs(
    kind: MonitorKind,
    namespace: &str,
    name: &str,
    spec: &Value,
    service_role: Role,
) -> Result<(Vec<Value>, Vec<String>), String> {
    let parsed: MonitorSpec =
        serde_json::from_value(spec.clone()).map_err(|e| format!("spec: {e}"))?;
    let mut notes = unsupported_fields(kind, spec);
    let jobs = match kind {
        MonitorKind::ServiceMonitor => {
            servicemonitor::generate(namespace, name, &parsed, service_role, &mut notes)?
        }
        MonitorKind::PodMonitor => podmonitor::generate(namespace, name, &parsed, &mut notes)?,
    };
    Ok((jobs, notes))
}

/// One monitor's jobs as [`ScrapeConfig`]s whose discovery connects as `cfg` says, and
/// the ignored settings.
pub fn scrape_configs(
    kind: MonitorKind,
    namespace: &str,
    name: &str,
    spec: &Value,
    cfg: &MonitorsConfig,
) -> Result<(Vec<ScrapeConfig>, Vec<String>), String> {
    let (jobs, notes) = generate_jobs(kind, namespace, name, spec, service_role(cfg))?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut sc: ScrapeConfig = serde_json::from_value(job).map_err(|e| e.to_string())?;
        for sd in &mut sc.kubernetes_sd_configs {
            let names = std::mem::take(&mut sd.namespaces.names);
            *sd = sd_base(cfg, sd.role);
            sd.namespaces.names = names;
        }
        out.push(sc);
    }
    Ok((out, notes))
}

fn service_role(cfg: &MonitorsConfig) -> Role {
    cfg.service_discovery_role.unwrap_or(Role::Endpoints)
}

/// A `kubernetes_sd_config` for `role` with `cfg`'s connection options.
fn sd_base(cfg: &MonitorsConfig, role: Role) -> KubernetesSdConfig {
    KubernetesSdConfig {
        role,
        api_server: cfg.api_server.clone(),
        kubeconfig_file: cfg.kubeconfig_file.clone(),
        namespaces: Default::default(),
        selectors: Vec::new(),
        attach_metadata: Default::default(),
        bearer_token_file: cfg.bearer_token_file.clone(),
        authorization: cfg.authorization.clone(),
        basic_auth: cfg.basic_auth.clone(),
        tls_config: cfg.tls_config.clone(),
    }
}

/// Checks the `monitors:` section (called by `AgentConfig::validate` when enabled).
pub fn validate(cfg: &MonitorsConfig) -> Result<(), String> {
    if !matches!(service_role(cfg), Role::Endpoints | Role::EndpointSlice) {
        return Err(format!(
            "service_discovery_role must be endpoints or endpointslice; got {}",
            service_role(cfg)
        ));
    }
    sd_base(cfg, Role::Pod)
        .validate()
        .map_err(|e| e.to_string())
}

/// The jobs to run: the file's, then each generated job that is valid and whose name
/// no file job uses (the others are logged and skipped, so one bad monitor never
/// blocks a reload).
pub fn merge_jobs(
    file: &[ScrapeConfig],
    generated: &[ScrapeConfig],
    global: &GlobalConfig,
) -> Vec<ScrapeConfig> {
    let mut names: BTreeSet<&str> = file.iter().map(|sc| sc.job_name.as_str()).collect();
    let mut out = file.to_vec();
    for sc in generated {
        if !names.insert(&sc.job_name) {
            tracing::warn!(job = %sc.job_name, "monitor job skipped: the name is already used");
            continue;
        }
        if let Err(error) = sc.validate(global) {
            tracing::warn!(job = %sc.job_name, %error, "monitor job skipped: invalid");
            continue;
        }
        out.push(sc.clone());
    }
    out
}

/// `(kind, namespace, name)` of one monitor.
type Key = (MonitorKind, String, String);

/// One watch stream's scope.
struct StreamInfo {
    kind: MonitorKind,
    namespace: Option<String>,
    synced: bool,
}

/// What stream `stream` yields: a watch event, or `None` when its resource does not
/// exist (the CRD is not installed).
struct Msg {
    stream: usize,
    event: Option<Event<DynamicObject>>,
}

/// The generated jobs per monitor, and the streams' re-list buffers.
#[derive(Default)]
struct Store {
    jobs: BTreeMap<Key, Vec<ScrapeConfig>>,
    relisting: HashMap<usize, BTreeMap<Key, Vec<ScrapeConfig>>>,
}

/// Watches ServiceMonitors and PodMonitors and sends the generated jobs (all of them)
/// after the first list of both kinds and after every change to the set, until `tx`'s
/// receiver is dropped. A kind whose CRD is not installed counts as empty (and is
/// retried with backoff).
pub async fn run(
    cfg: MonitorsConfig,
    tx: mpsc::Sender<Vec<ScrapeConfig>>,
) -> Result<(), DiscoveryError> {
    let client = sd_base(&cfg, Role::Pod).build().await?.client();
    let namespaces: Vec<Option<String>> = if cfg.namespaces.is_empty() {
        vec![None]
    } else {
        let set: BTreeSet<&String> = cfg.namespaces.iter().collect();
        set.into_iter().cloned().map(Some).collect()
    };
    let mut infos = Vec::new();
    let mut streams: Vec<BoxStream<'static, Msg>> = Vec::new();
    for kind in [MonitorKind::ServiceMonitor, MonitorKind::PodMonitor] {
        let ar = kind.api_resource();
        for ns in &namespaces {
            let api: Api<DynamicObject> = match ns {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                None => Api::all_with(client.clone(), &ar),
            };
            let stream = infos.len();
            infos.push(StreamInfo {
                kind,
                namespace: ns.clone(),
                synced: false,
            });
            let scope = ns.clone().unwrap_or_else(|| "*".to_owned());
            let events = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .filter_map(move |r| {
                    let msg = match r {
                        Ok(event) => Some(Msg {
                            stream,
                            event: Some(event),
                        }),
                        Err(error) if is_not_found(&error) => {
                            tracing::warn!(kind = kind.kind(), namespace = %scope,
                                "monitoring.coreos.com/v1 resource not found (CRD not installed?); retrying with backoff");
                            Some(Msg {
                                stream,
                                event: None,
                            })
                        }
                        Err(error) => {
                            tracing::warn!(kind = kind.kind(), namespace = %scope, error = %error,
                                "monitor list/watch failed; retrying with backoff");
                            None
                        }
                    };
                    futures::future::ready(msg)
                });
            streams.push(events.boxed());
        }
    }
    let mut events = stream::select_all(streams);
    let mut store = Store::default();
    let mut last_sent: Option<String> = None;
    loop {
        let msg = tokio::select! {
            () = tx.closed() => return Ok(()),
            msg = events.next() => msg,
        };
        let Some(msg) = msg else {
            return Ok(());
        };
        store.handle(&mut infos, msg, &cfg);
        if !infos.iter().all(|s| s.synced) {
            continue;
        }
        let snapshot: Vec<ScrapeConfig> = store.jobs.values().flatten().cloned().collect();
        let signature = format!("{snapshot:?}");
        if last_sent.as_ref() == Some(&signature) {
            continue;
        }
        last_sent = Some(signature);
        if tx.send(snapshot).await.is_err() {
            return Ok(());
        }
    }
}

fn is_not_found(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 404,
        watcher::Error::WatchError(s) => s.code == 404,
        _ => false,
    }
}

impl Store {
    fn handle(&mut self, infos: &mut [StreamInfo], msg: Msg, cfg: &MonitorsConfig) {
        let stream = msg.stream;
        let Some(event) = msg.event else {
            if let Some(info) = infos.get_mut(stream) {
                info.synced = true;
            }
            return;
        };
        let Some(info) = infos.get_mut(stream) else {
            return;
        };
        let kind = info.kind;
        match event {
            Event::Apply(obj) => {
                let (key, jobs) = monitor_jobs(kind, &obj, cfg);
                self.jobs.insert(key, jobs);
            }
            Event::Delete(obj) => {
                self.jobs.remove(&key_of(kind, &obj));
            }
            Event::Init => {
                self.relisting.insert(stream, BTreeMap::new());
            }
            Event::InitApply(obj) => {
                let (key, jobs) = monitor_jobs(kind, &obj, cfg);
                self.relisting.entry(stream).or_default().insert(key, jobs);
            }
            Event::InitDone => {
                let listed = self.relisting.remove(&stream).unwrap_or_default();
                let ns = info.namespace.as_deref();
                // A re-list replaces this stream's scope: monitors deleted meanwhile go.
                self.jobs
                    .retain(|k, _| k.0 != kind || ns.is_some_and(|ns| k.1 != ns));
                self.jobs.extend(listed);
                info.synced = true;
            }
        }
    }
}

fn key_of(kind: MonitorKind, obj: &DynamicObject) -> Key {
    (
        kind,
        obj.metadata.namespace.clone().unwrap_or_default(),
        obj.metadata.name.clone().unwrap_or_default(),
    )
}

/// One object's jobs; a monitor that cannot be translated has none (and is logged).
fn monitor_jobs(
    kind: MonitorKind,
    obj: &DynamicObject,
    cfg: &MonitorsConfig,
) -> (Key, Vec<ScrapeConfig>) {
    let key = key_of(kind, obj);
    let spec = obj.data.get("spec").cloned().unwrap_or(Value::Null);
    let jobs = match scrape_configs(kind, &key.1, &key.2, &spec, cfg) {
        Ok((jobs, notes)) => {
            if !notes.is_empty() {
                tracing::warn!(kind = kind.kind(), namespace = %key.1, name = %key.2,
                    ignored = %notes.join(", "),
                    "monitor uses settings orrery does not support; they are ignored");
            }
            jobs
        }
        Err(error) => {
            tracing::warn!(kind = kind.kind(), namespace = %key.1, name = %key.2, %error,
                "monitor ignored: it cannot be turned into scrape jobs");
            Vec::new()
        }
    };
    (key, jobs)
}

/// The agent's handle on the monitors watcher: (re)starts it when the `monitors:`
/// section changes, stops it when it is disabled or the handle is dropped.
#[derive(Default)]
pub(crate) struct MonitorsTask {
    /// The running watcher and the configuration it was started with.
    running: Option<(String, JoinHandle<()>)>,
    rx: Option<mpsc::Receiver<Vec<ScrapeConfig>>>,
}

impl MonitorsTask {
    /// Makes the watcher match `cfg`; when it is disabled, `generated` is cleared.
    /// Jobs generated before a restart stay until the new watcher's first snapshot.
    pub(crate) fn ensure(&mut self, cfg: &MonitorsConfig, generated: &mut Vec<ScrapeConfig>) {
        let wanted = cfg.enabled.then(|| format!("{cfg:?}"));
        if wanted.as_ref() == self.running.as_ref().map(|(s, _)| s) {
            return;
        }
        self.stop();
        let Some(signature) = wanted else {
            generated.clear();
            return;
        };
        let (tx, rx) = mpsc::channel(4);
        let cfg = cfg.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = run(cfg, tx).await {
                tracing::error!(error = %e, "monitors discovery stopped");
            }
        });
        self.running = Some((signature, task));
        self.rx = Some(rx);
    }

    /// The next set of generated jobs; never ready while no watcher runs.
    pub(crate) async fn next(&mut self) -> Vec<ScrapeConfig> {
        if let Some(rx) = &mut self.rx {
            if let Some(jobs) = rx.recv().await {
                return jobs;
            }
            // The watcher ended (its error is logged); wait for the next reload.
            self.rx = None;
        }
        std::future::pending().await
    }

    fn stop(&mut self) {
        if let Some((_, task)) = self.running.take() {
            task.abort();
        }
        self.rx = None;
    }
}

impl Drop for MonitorsTask {
    fn drop(&mut self) {
        self.stop();
    }
}
