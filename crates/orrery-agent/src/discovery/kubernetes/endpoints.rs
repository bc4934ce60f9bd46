//! The `endpoints` role: one target per endpoint address and port (`ip:port`), ready and
//! not-ready addresses alike; then, for each pod behind an address, one target per
//! container port that no endpoint port covered.
//!
//! Group labels: `__meta_kubernetes_namespace`, `_endpoints_name`, `_endpoints_label_*`,
//! `_endpoints_labelpresent_*`, `_endpoints_annotation_*`,
//! `_endpoints_annotationpresent_*`, and the `service` role's group labels when the
//! service of the same name exists. Address targets: `_endpoint_port_name`,
//! `_endpoint_port_protocol`, `_endpoint_ready`, and when known
//! `_endpoint_address_target_kind`, `_endpoint_address_target_name`,
//! `_endpoint_node_name`, `_endpoint_hostname`. Targets backed by a pod also carry the
//! `pod` role's pod labels and, for the container port matching the endpoint port,
//! its container labels.
//!
//! The pod enrichment (`target_ref.rs`) is shared with `endpointslice`.

use k8s_openapi::api::core::v1::Endpoints;

use super::service::service_labels;
use super::target_ref::{resolve_pod, set_target_ref, SeenPods};
use super::Related;
use super::{add_object_meta_labels, join_host_port, set, ADDRESS_LABEL, NAMESPACE_LABEL};
use crate::discovery::{LabelSet, TargetGroup};

/// The group source of an Endpoints object.
pub(crate) fn endpoints_source(namespace: &str, name: &str) -> String {
    format!("endpoints/{namespace}/{name}")
}

/// The Endpoints object's targets, enriched from `related` services and pods.
pub(crate) fn endpoints_targets(eps: &Endpoints, related: &Related<'_>) -> TargetGroup {
    let namespace = eps.metadata.namespace.as_deref().unwrap_or_default();
    let name = eps.metadata.name.as_deref().unwrap_or_default();
    let mut tg = TargetGroup {
        source: endpoints_source(namespace, name),
        ..Default::default()
    };
    set(&mut tg.labels, NAMESPACE_LABEL, namespace);
    if let Some(svc) = related.services.get(namespace, name) {
        tg.labels.extend(service_labels(svc));
    }
    add_object_meta_labels(&mut tg.labels, &eps.metadata, "endpoints");

    match eps
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("endpoints.kubernetes.io/over-capacity"))
    {
        Some(v) if v == "truncated" || v == "warning" => tracing::warn!(
            endpoints = name,
            namespace,
            over_capacity = v.as_str(),
            "endpoints object exceeds 1000 addresses; use role endpointslice instead"
        ),
        _ => {}
    }

    let mut seen = SeenPods::default();
    for subset in eps.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            let ready = subset.addresses.iter().flatten().map(|a| (a, "true"));
            let not_ready = subset
                .not_ready_addresses
                .iter()
                .flatten()
                .map(|a| (a, "false"));
            for (addr, ready) in ready.chain(not_ready) {
                let mut t = LabelSet::new();
                set(&mut t, ADDRESS_LABEL, join_host_port(&addr.ip, port.port));
                let p = "__meta_kubernetes_endpoint_";
                set(
                    &mut t,
                    &format!("{p}port_name"),
                    port.name.clone().unwrap_or_default(),
                );
                set(
                    &mut t,
                    &format!("{p}port_protocol"),
                    port.protocol.clone().unwrap_or_default(),
                );
                set(&mut t, &format!("{p}ready"), ready);
                if let Some(r) = &addr.target_ref {
                    set_target_ref(&mut t, p, r);
                }
                if let Some(node) = &addr.node_name {
                    set(&mut t, &format!("{p}node_name"), node.as_str());
                }
                if let Some(host) = addr.hostname.as_deref().filter(|h| !h.is_empty()) {
                    set(&mut t, &format!("{p}hostname"), host);
                }
                if let Some(pod) = resolve_pod(addr.target_ref.as_ref(), namespace, related) {
                    // Endpoints report the endpoint port's protocol for the matched container port.
                    seen.enrich(
                        &mut t,
                        pod,
                        Some(port.port),
                        Some(port.protocol.as_deref().unwrap_or_default()),
                    );
                }
                tg.targets.push(t);
            }
        }
    }
    tg.targets.extend(seen.uncovered_targets());
    tg
}
