//! Scrape-job generation: one monitor's spec becomes Prometheus `scrape_configs` (as
//! JSON, the way the operator writes them, then as [`ScrapeConfig`]s with the
//! `monitors:` section's connection options), the generated jobs are merged with the
//! file's, and the `monitors:` section is checked. Pure: no I/O; the role-specific
//! rules are in `servicemonitor.rs` and `podmonitor.rs`.

use std::collections::BTreeSet;

use orrery_model::{parse_duration, RelabelConfig, RelabelError, Relabeler};
use serde_json::{json, Map, Value};

use super::spec::*;
use super::{podmonitor, servicemonitor, MonitorKind, Notes};
use crate::config::{GlobalConfig, MonitorsConfig, MonitorsError, ScrapeConfig};
use crate::discovery::kubernetes::{sanitize_label_name, KubernetesSdConfig, Role};

/// Why a monitor cannot be turned into jobs, as the operator would refuse it (the
/// monitor gets no jobs and is logged). Messages start with the monitor's field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// `spec` does not have the monitor's shape.
    #[error("spec: {0}")]
    Spec(#[source] serde_json::Error),
    /// One endpoint is wrong; `at` is `spec.endpoints[i]` or `spec.podMetricsEndpoints[i]`.
    #[error("{at}: {problem}")]
    Endpoint {
        /// The endpoint's path in the spec.
        at: String,
        /// What is wrong with it.
        problem: Box<GenerateError>,
    },
    /// `interval` or `scrapeTimeout` is not a duration.
    #[error("{field}: {reason}")]
    Duration {
        /// The field.
        field: &'static str,
        /// Why it does not parse.
        reason: String,
    },
    /// A `matchExpressions` term has an operator Kubernetes does not define.
    #[error("spec.selector.matchExpressions[{index}]: unknown operator {operator:?}")]
    SelectorOperator {
        /// The term's position.
        index: usize,
        /// The operator as written.
        operator: String,
    },
    /// A relabeling does not have Prometheus's `relabel_config` shape.
    #[error("{field}[{index}]: {source}")]
    RelabelShape {
        /// `relabelings` or `metricRelabelings`.
        field: &'static str,
        /// The rule's position.
        index: usize,
        /// serde's reason.
        #[source]
        source: serde_json::Error,
    },
    /// A relabeling is refused as Prometheus would refuse it.
    #[error("{field}[{index}]: {source}")]
    Relabel {
        /// `relabelings` or `metricRelabelings`.
        field: &'static str,
        /// The rule's position.
        index: usize,
        /// The rule's problem.
        #[source]
        source: RelabelError,
    },
    /// A generated job is not a valid scrape config (a value copied from the spec that
    /// the Prometheus field refuses).
    #[error("{0}")]
    Job(#[source] serde_json::Error),
}

/// The `endpoint` target label: `port`, else `targetPort` as a string.
pub(super) fn endpoint_label(ep: &EndpointSpec) -> Option<String> {
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
pub(super) fn finish_rules(
    job: &mut Value,
    mut rules: Vec<Value>,
    job_label_prefix: &str,
    spec: &MonitorSpec,
    ep: &EndpointSpec,
) -> Result<(), GenerateError> {
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
pub(super) fn running_filter() -> Value {
    json!({"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"})
}

/// `(<v1|v2>);true`-style selector values, joined as the operator joins them.
pub(super) fn join_values(values: &[String]) -> String {
    values.join("|")
}

/// The label selector as relabel rules on `__meta_kubernetes_<object>_label_*` and
/// `…_labelpresent_*`: `matchLabels` sorted by key, then `matchExpressions` in order.
pub(super) fn selector_rules(
    object: &str,
    sel: &LabelSelector,
) -> Result<Vec<Value>, GenerateError> {
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
                return Err(GenerateError::SelectorOperator {
                    index: i,
                    operator: other.to_owned(),
                })
            }
        };
        rules.push(json!({"action": action, "source_labels": sources, "regex": regex}));
    }
    Ok(rules)
}

/// The job's `kubernetes_sd_configs` entry (connection options are added later).
pub(super) fn sd_config(role: Role, namespace: &str, sel: &NamespaceSelector) -> Value {
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
pub(super) fn relabelings_from(
    rules: &[RelabelSpec],
    field: &'static str,
) -> Result<Vec<Value>, GenerateError> {
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
            serde_json::from_value(rule.clone()).map_err(|source| GenerateError::RelabelShape {
                field,
                index: i,
                source,
            })?;
        Relabeler::new(std::slice::from_ref(&parsed)).map_err(|source| GenerateError::Relabel {
            field,
            index: i,
            source,
        })?;
        out.push(rule);
    }
    Ok(out)
}

/// One job per endpoint of a monitor, in order. An endpoint's error is placed at its
/// path in the spec (`spec.<field>[i]`), the path `job` is given for its own messages,
/// so both kinds report positions the same way.
pub(super) fn endpoint_jobs(
    field: &str,
    endpoints: &[EndpointSpec],
    mut job: impl FnMut(usize, &EndpointSpec, &str) -> Result<Value, GenerateError>,
) -> Result<Vec<Value>, GenerateError> {
    endpoints
        .iter()
        .enumerate()
        .map(|(i, ep)| {
            let at = format!("spec.{field}[{i}]");
            job(i, ep, &at).map_err(|problem| GenerateError::Endpoint {
                problem: Box::new(problem),
                at,
            })
        })
        .collect()
}

/// The start of one endpoint's job, the same for both kinds as the operator writes it:
/// the name `<kind>/<namespace>/<name>/<i>`, discovery of `role` in the monitor's
/// namespaces, the endpoint's settings, and the first target relabeling (the job name
/// kept in `__tmp_prometheus_job_name`), which the caller's rules follow.
#[allow(clippy::too_many_arguments)]
pub(super) fn job_start(
    kind: &str,
    role: Role,
    namespace: &str,
    name: &str,
    spec: &MonitorSpec,
    i: usize,
    ep: &EndpointSpec,
    at: &str,
    notes: &mut Notes,
) -> Result<(Value, Vec<Value>), GenerateError> {
    let mut job = json!({
        "job_name": format!("{kind}/{namespace}/{name}/{i}"),
        "kubernetes_sd_configs": [sd_config(role, namespace, &spec.namespace_selector)],
    });
    common_settings(&mut job, spec, ep, at, notes)?;
    let rules =
        vec![json!({"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"})];
    Ok((job, rules))
}

/// The endpoint and spec settings shared by both kinds, in Prometheus's field names.
pub(super) fn common_settings(
    job: &mut Value,
    spec: &MonitorSpec,
    ep: &EndpointSpec,
    at: &str,
    notes: &mut Notes,
) -> Result<(), GenerateError> {
    for (field, key, value) in [
        ("interval", "scrape_interval", &ep.interval),
        ("scrapeTimeout", "scrape_timeout", &ep.scrape_timeout),
    ] {
        if let Some(d) = value.as_ref().filter(|d| !d.is_empty()) {
            parse_duration(d).map_err(|reason| GenerateError::Duration { field, reason })?;
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
pub(super) fn is_unset(v: &Value) -> bool {
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
pub(super) fn unsupported_fields(kind: MonitorKind, spec: &Value) -> Notes {
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
) -> Result<(Vec<Value>, Vec<String>), GenerateError> {
    let parsed: MonitorSpec = serde_json::from_value(spec.clone()).map_err(GenerateError::Spec)?;
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
) -> Result<(Vec<ScrapeConfig>, Vec<String>), GenerateError> {
    let (jobs, notes) = generate_jobs(kind, namespace, name, spec, service_role(cfg))?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut sc: ScrapeConfig = serde_json::from_value(job).map_err(GenerateError::Job)?;
        for sd in &mut sc.kubernetes_sd_configs {
            let names = std::mem::take(&mut sd.namespaces.names);
            *sd = sd_base(cfg, sd.role);
            sd.namespaces.names = names;
        }
        out.push(sc);
    }
    Ok((out, notes))
}

pub(super) fn service_role(cfg: &MonitorsConfig) -> Role {
    cfg.service_discovery_role.unwrap_or(Role::Endpoints)
}

/// A `kubernetes_sd_config` for `role` with `cfg`'s connection options.
pub(super) fn sd_base(cfg: &MonitorsConfig, role: Role) -> KubernetesSdConfig {
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

impl MonitorsConfig {
    /// Checks the `monitors:` section: the discovery role of ServiceMonitor jobs and the
    /// connection options, as `kubernetes_sd_configs` checks them. The agent calls it when
    /// the section is enabled (see `AgentConfig::parse`).
    pub fn validate(&self) -> Result<(), MonitorsError> {
        let role = service_role(self);
        if !matches!(role, Role::Endpoints | Role::EndpointSlice) {
            return Err(MonitorsError::ServiceDiscoveryRole(role));
        }
        sd_base(self, Role::Pod)
            .validate()
            .map_err(MonitorsError::Connection)
    }
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
