//! ServiceMonitor → scrape jobs, as prometheus-operator's config generator writes them
//! (`generateServiceMonitorConfig`): one job per `spec.endpoints[i]`, named
//! `serviceMonitor/<namespace>/<name>/<i>`, discovering `endpoints` (or `endpointslice`)
//! in the namespaces of `namespaceSelector`.
//!
//! The generated `relabel_configs`, in the operator's order:
//! 1. `job` → `__tmp_prometheus_job_name`;
//! 2. one `keep`/`drop` per `selector` term on `__meta_kubernetes_service_label_<k>` and
//!    `…_labelpresent_<k>` (`matchLabels` sorted by key, then `matchExpressions` in
//!    order: `In` keep `(<v1|v2>);true`, `NotIn` drop the same, `Exists` keep
//!    `labelpresent` `true`, `DoesNotExist` drop it);
//! 3. `keep` on the endpoint port name when `port` is set, else on the pod container
//!    port name or number when `targetPort` is a string or a number;
//! 4. `node` and `pod` from the address target kind and name, then `namespace`,
//!    `service`, `pod` and `container` from the meta labels;
//! 5. `drop` of pods in phase `Failed|Succeeded` unless `filterRunning: false`;
//! 6. `targetLabels` (service labels) and `podTargetLabels` (pod labels) copied when
//!    non-empty;
//! 7. `job` from the service name, overridden by the service label `jobLabel` when
//!    non-empty; `endpoint` from `port` (or `targetPort`);
//! 8. the endpoint's own `relabelings`.
//!
//! Pure: no I/O; `generate.rs` calls [`generate`].

use serde_json::{json, Value};

use super::generate::{endpoint_jobs, finish_rules, job_start, selector_rules, GenerateError};
use super::spec::{EndpointSpec, MonitorSpec, PortMatch};
use super::Notes;
use crate::discovery::kubernetes::{sanitize_label_name, Role};

/// The Prometheus-shaped jobs (as JSON) of one ServiceMonitor, one per endpoint.
pub(super) fn generate(
    namespace: &str,
    name: &str,
    spec: &MonitorSpec,
    role: Role,
    notes: &mut Notes,
) -> Result<Vec<Value>, GenerateError> {
    let selector = selector_rules("service", &spec.selector)?;
    endpoint_jobs("endpoints", &spec.endpoints, |i, ep, at| {
        endpoint_job(namespace, name, spec, &selector, role, i, ep, at, notes)
    })
}

#[allow(clippy::too_many_arguments)]
fn endpoint_job(
    namespace: &str,
    name: &str,
    spec: &MonitorSpec,
    selector: &[Value],
    role: Role,
    i: usize,
    ep: &EndpointSpec,
    at: &str,
    notes: &mut Notes,
) -> Result<Value, GenerateError> {
    let (mut job, mut rules) = job_start(
        "serviceMonitor",
        role,
        namespace,
        name,
        spec,
        i,
        ep,
        at,
        notes,
    )?;
    rules.extend_from_slice(selector);

    // Which targets belong to this endpoint.
    let port_name_label = if role == Role::EndpointSlice {
        "__meta_kubernetes_endpointslice_port_name"
    } else {
        "__meta_kubernetes_endpoint_port_name"
    };
    match ep.port_match() {
        PortMatch::Name(port) => rules.push(keep(port_name_label, &port)),
        PortMatch::TargetName(port) => {
            rules.push(keep("__meta_kubernetes_pod_container_port_name", &port))
        }
        PortMatch::TargetNumber(n) | PortMatch::Number(n) => rules.push(keep(
            "__meta_kubernetes_pod_container_port_number",
            &n.to_string(),
        )),
        PortMatch::Any => {}
    }

    let prefix = if role == Role::EndpointSlice {
        "__meta_kubernetes_endpointslice"
    } else {
        "__meta_kubernetes_endpoint"
    };
    let target = [
        format!("{prefix}_address_target_kind"),
        format!("{prefix}_address_target_name"),
    ];
    rules.push(json!({"source_labels": target, "separator": ";", "regex": "Node;(.*)", "replacement": "${1}", "target_label": "node"}));
    rules.push(json!({"source_labels": target, "separator": ";", "regex": "Pod;(.*)", "replacement": "${1}", "target_label": "pod"}));
    for (source, target) in [
        ("__meta_kubernetes_namespace", "namespace"),
        ("__meta_kubernetes_service_name", "service"),
        ("__meta_kubernetes_pod_name", "pod"),
        ("__meta_kubernetes_pod_container_name", "container"),
    ] {
        rules.push(json!({"source_labels": [source], "target_label": target}));
    }
    if ep.filter_running.unwrap_or(true) {
        rules.push(super::generate::running_filter());
    }
    for l in &spec.target_labels {
        rules.push(copy_label("__meta_kubernetes_service_label_", l));
    }
    for l in &spec.pod_target_labels {
        rules.push(copy_label("__meta_kubernetes_pod_label_", l));
    }
    rules.push(json!({"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"}));
    finish_rules(
        &mut job,
        rules,
        "__meta_kubernetes_service_label_",
        spec,
        ep,
    )?;
    Ok(job)
}

fn keep(label: &str, regex: &str) -> Value {
    json!({"action": "keep", "source_labels": [label], "regex": regex})
}

/// `targetLabels`/`podTargetLabels`: copy `<prefix><label>` to `<label>` when non-empty.
pub(super) fn copy_label(prefix: &str, label: &str) -> Value {
    let l = sanitize_label_name(label);
    json!({"source_labels": [format!("{prefix}{l}")], "target_label": l, "regex": "(.+)", "replacement": "${1}"})
}
