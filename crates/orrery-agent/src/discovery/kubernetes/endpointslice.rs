//! The `endpointslice` role (`discovery.k8s.io/v1`): one target per endpoint, port and
//! address (`addr:port`, or the bare address for a port without a number); then, for
//! each pod behind an endpoint, one target per container port that no port covered.
//!
//! Group labels: `__meta_kubernetes_namespace`, `_endpointslice_name`,
//! `_endpointslice_address_type`, `_endpointslice_label_*`,
//! `_endpointslice_labelpresent_*`, `_endpointslice_annotation_*`,
//! `_endpointslice_annotationpresent_*`, and the `service` role's group labels when the
//! service named by the `kubernetes.io/service-name` label exists. Endpoint targets,
//! each only when the slice has the value: `_endpointslice_port_name`,
//! `_endpointslice_port_protocol`, `_endpointslice_port`, `_endpointslice_port_app_protocol`,
//! `_endpointslice_endpoint_conditions_ready`, `_conditions_serving`,
//! `_conditions_terminating`, `_endpointslice_endpoint_hostname`,
//! `_endpointslice_address_target_kind`, `_endpointslice_address_target_name`,
//! `_endpointslice_endpoint_node_name`, `_endpointslice_endpoint_zone`,
//! `_endpointslice_endpoint_topology_<key>` and `_endpointslice_endpoint_topology_present_<key>`
//! (from the deprecated topology map). Pod-backed targets get the pod enrichment of
//! `endpoints`.

use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::service::service_labels;
use super::target_ref::{resolve_pod, set_target_ref, SeenPods};
use super::Related;
use super::{
    add_object_meta_labels, join_host_port, sanitize_label_name, set, ADDRESS_LABEL,
    NAMESPACE_LABEL,
};
use crate::discovery::{LabelSet, TargetGroup};

/// The label naming the service an EndpointSlice belongs to.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The group source of an EndpointSlice.
pub(crate) fn endpointslice_source(namespace: &str, name: &str) -> String {
    format!("endpointslice/{namespace}/{name}")
}

/// The EndpointSlice's targets, enriched from `related` services and pods.
pub(crate) fn endpointslice_targets(eps: &EndpointSlice, related: &Related<'_>) -> TargetGroup {
    let namespace = eps.metadata.namespace.as_deref().unwrap_or_default();
    let name = eps.metadata.name.as_deref().unwrap_or_default();
    let mut tg = TargetGroup {
        source: endpointslice_source(namespace, name),
        ..Default::default()
    };
    let p = "__meta_kubernetes_endpointslice_";
    set(&mut tg.labels, NAMESPACE_LABEL, namespace);
    set(
        &mut tg.labels,
        &format!("{p}address_type"),
        eps.address_type.as_str(),
    );
    add_object_meta_labels(&mut tg.labels, &eps.metadata, "endpointslice");
    let service = eps
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL));
    if let Some(svc) = service.and_then(|s| related.services.get(namespace, s)) {
        tg.labels.extend(service_labels(svc));
    }

    let mut seen = SeenPods::default();
    for ep in &eps.endpoints {
        for port in eps.ports.iter().flatten() {
            for addr in &ep.addresses {
                let mut t = LabelSet::new();
                let address = match port.port {
                    Some(n) => join_host_port(addr, n),
                    None => addr.clone(),
                };
                set(&mut t, ADDRESS_LABEL, address);
                if let Some(v) = &port.name {
                    set(&mut t, &format!("{p}port_name"), v.as_str());
                }
                if let Some(v) = &port.protocol {
                    set(&mut t, &format!("{p}port_protocol"), v.as_str());
                }
                if let Some(v) = port.port {
                    set(&mut t, &format!("{p}port"), v.to_string());
                }
                if let Some(v) = &port.app_protocol {
                    set(&mut t, &format!("{p}port_app_protocol"), v.as_str());
                }
                if let Some(c) = &ep.conditions {
                    let conditions = [
                        ("ready", c.ready),
                        ("serving", c.serving),
                        ("terminating", c.terminating),
                    ];
                    for (cond, value) in conditions {
                        if let Some(v) = value {
                            set(
                                &mut t,
                                &format!("{p}endpoint_conditions_{cond}"),
                                v.to_string(),
                            );
                        }
                    }
                }
                if let Some(v) = &ep.hostname {
                    set(&mut t, &format!("{p}endpoint_hostname"), v.as_str());
                }
                if let Some(r) = &ep.target_ref {
                    set_target_ref(&mut t, p, r);
                }
                if let Some(v) = &ep.node_name {
                    set(&mut t, &format!("{p}endpoint_node_name"), v.as_str());
                }
                if let Some(v) = &ep.zone {
                    set(&mut t, &format!("{p}endpoint_zone"), v.as_str());
                }
                for (k, v) in ep.deprecated_topology.iter().flatten() {
                    let ln = sanitize_label_name(k);
                    set(&mut t, &format!("{p}endpoint_topology_{ln}"), v.as_str());
                    set(
                        &mut t,
                        &format!("{p}endpoint_topology_present_{ln}"),
                        "true",
                    );
                }
                if let Some(pod) = resolve_pod(ep.target_ref.as_ref(), namespace, related) {
                    // Slices report the container port's own protocol.
                    seen.enrich(&mut t, pod, port.port, None);
                }
                tg.targets.push(t);
            }
        }
    }
    tg.targets.extend(seen.uncovered_targets());
    tg
}
