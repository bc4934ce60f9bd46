//! PodMonitor → scrape jobs, as prometheus-operator's config generator writes them
//! (`generatePodMonitorConfig`): one job per `spec.podMetricsEndpoints[i]`, named
//! `podMonitor/<namespace>/<name>/<i>`, discovering `pod` targets in the namespaces of
//! `namespaceSelector`.
//!
//! The generated `relabel_configs`, in the operator's order:
//! 1. `job` → `__tmp_prometheus_job_name`;
//! 2. `drop` of pods in phase `Failed|Succeeded` unless `filterRunning: false`;
//! 3. one `keep`/`drop` per `selector` term on `__meta_kubernetes_pod_label_<k>` and
//!    `…_labelpresent_<k>` (same mapping as for ServiceMonitors);
//! 4. `keep` on the container port name (`port`, or a string `targetPort`) or number
//!    (`portNumber`, or a numeric `targetPort`);
//! 5. `namespace`, `container` and `pod` from the meta labels;
//! 6. `podTargetLabels` copied when non-empty;
//! 7. `job` = `<namespace>/<name>`, overridden by the pod label `jobLabel` when
//!    non-empty; `endpoint` from `port` (or `targetPort`);
//! 8. the endpoint's own `relabelings`.
//!
//! Pure: no I/O; `generate.rs` calls [`generate`].

use serde_json::{json, Value};

use super::generate::{
    endpoint_jobs, finish_rules, job_start, running_filter, selector_rules, GenerateError,
};
use super::servicemonitor::copy_label;
use super::spec::{EndpointSpec, MonitorSpec, PortMatch};
use super::Notes;
use crate::discovery::kubernetes::Role;

/// The Prometheus-shaped jobs (as JSON) of one PodMonitor, one per endpoint.
pub(super) fn generate(
    namespace: &str,
    name: &str,
    spec: &MonitorSpec,
    notes: &mut Notes,
) -> Result<Vec<Value>, GenerateError> {
    let selector = selector_rules("pod", &spec.selector)?;
    endpoint_jobs(
        "podMetricsEndpoints",
        &spec.pod_metrics_endpoints,
        |i, ep, at| endpoint_job(namespace, name, spec, &selector, i, ep, at, notes),
    )
}

#[allow(clippy::too_many_arguments)]
fn endpoint_job(
    namespace: &str,
    name: &str,
    spec: &MonitorSpec,
    selector: &[Value],
    i: usize,
    ep: &EndpointSpec,
    at: &str,
    notes: &mut Notes,
) -> Result<Value, GenerateError> {
    let (mut job, mut rules) = job_start(
        "podMonitor",
        Role::Pod,
        namespace,
        name,
        spec,
        i,
        ep,
        at,
        notes,
    )?;
    if ep.filter_running.unwrap_or(true) {
        rules.push(running_filter());
    }
    rules.extend_from_slice(selector);
    match ep.port_match() {
        PortMatch::Name(port) | PortMatch::TargetName(port) => rules.push(json!({
            "action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port,
        })),
        PortMatch::Number(n) | PortMatch::TargetNumber(n) => rules.push(json!({
            "action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": n.to_string(),
        })),
        PortMatch::Any => {}
    }
    for (source, target) in [
        ("__meta_kubernetes_namespace", "namespace"),
        ("__meta_kubernetes_pod_container_name", "container"),
        ("__meta_kubernetes_pod_name", "pod"),
    ] {
        rules.push(json!({"source_labels": [source], "target_label": target}));
    }
    for l in &spec.pod_target_labels {
        rules.push(copy_label("__meta_kubernetes_pod_label_", l));
    }
    rules.push(json!({"target_label": "job", "replacement": format!("{namespace}/{name}")}));
    finish_rules(&mut job, rules, "__meta_kubernetes_pod_label_", spec, ep)?;
    Ok(job)
}
