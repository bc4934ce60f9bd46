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
//! [`SeenPods`] (the pod enrichment) is shared with `endpointslice`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Endpoints, ObjectReference, Pod};

use super::pod::{
    containers, pod_ip, pod_labels, CONTAINER_IMAGE, CONTAINER_INIT, CONTAINER_NAME,
    CONTAINER_PORT_NAME, CONTAINER_PORT_NUMBER, CONTAINER_PORT_PROTOCOL,
};
use super::service::service_labels;
use super::watch::Related;
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

/// The `{prefix}address_target_kind` and `_name` labels of an endpoint's target
/// reference (empty values for absent fields, as in Prometheus).
pub(crate) fn set_target_ref(t: &mut LabelSet, prefix: &str, r: &ObjectReference) {
    set(
        t,
        &format!("{prefix}address_target_kind"),
        r.kind.clone().unwrap_or_default(),
    );
    set(
        t,
        &format!("{prefix}address_target_name"),
        r.name.clone().unwrap_or_default(),
    );
}

/// The container labels of container `c`'s port `cport`; `protocol` overrides the
/// port's own protocol when `Some`.
fn set_container_port(
    t: &mut LabelSet,
    c: &Container,
    cport: &ContainerPort,
    protocol: Option<&str>,
    is_init: bool,
) {
    set(t, CONTAINER_NAME, c.name.as_str());
    set(t, CONTAINER_IMAGE, c.image.clone().unwrap_or_default());
    set(
        t,
        CONTAINER_PORT_NAME,
        cport.name.clone().unwrap_or_default(),
    );
    set(t, CONTAINER_PORT_NUMBER, cport.container_port.to_string());
    let proto = protocol.or(cport.protocol.as_deref()).unwrap_or_default();
    set(t, CONTAINER_PORT_PROTOCOL, proto);
    set(t, CONTAINER_INIT, is_init.to_string());
}

/// The pod an endpoint address points at, if it is a pod we know.
pub(crate) fn resolve_pod<'a>(
    target_ref: Option<&ObjectReference>,
    namespace: &str,
    related: &Related<'a>,
) -> Option<&'a Pod> {
    let r = target_ref?;
    if r.kind.as_deref() != Some("Pod") {
        return None;
    }
    let ns = r.namespace.as_deref().unwrap_or(namespace);
    related.pods.get(ns, r.name.as_deref()?)
}

/// Pods behind endpoint addresses and the ports already targeted on each, so that their
/// remaining container ports become targets too.
#[derive(Default)]
pub(crate) struct SeenPods<'a> {
    pods: BTreeMap<(&'a str, &'a str), (&'a Pod, Vec<i32>)>,
}

impl<'a> SeenPods<'a> {
    /// Adds `pod`'s labels to the endpoint target `t`, plus the container labels of the
    /// container port equal to `port` (the last such container wins, as in Prometheus).
    /// `protocol` overrides the container port's protocol label when `Some`.
    pub(crate) fn enrich(
        &mut self,
        t: &mut LabelSet,
        pod: &'a Pod,
        port: Option<i32>,
        protocol: Option<&str>,
    ) {
        let key = (
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
        );
        let entry = self.pods.entry(key).or_insert_with(|| (pod, Vec::new()));
        t.extend(pod_labels(pod));
        let Some(port) = port else {
            return;
        };
        entry.1.push(port);
        for (c, is_init) in containers(pod) {
            if let Some(cport) = c
                .ports
                .iter()
                .flatten()
                .find(|cp| cp.container_port == port)
            {
                set_container_port(t, c, cport, protocol, is_init);
            }
        }
    }

    /// One target per container port of the seen pods that no endpoint port covered.
    pub(crate) fn uncovered_targets(&self) -> Vec<LabelSet> {
        let mut out = Vec::new();
        for (pod, covered) in self.pods.values() {
            let Some(ip) = pod_ip(pod) else {
                continue;
            };
            for (c, is_init) in containers(pod) {
                for cport in c.ports.iter().flatten() {
                    if covered.contains(&cport.container_port) {
                        continue;
                    }
                    let mut t = LabelSet::new();
                    set(
                        &mut t,
                        ADDRESS_LABEL,
                        join_host_port(ip, cport.container_port),
                    );
                    set_container_port(&mut t, c, cport, None, is_init);
                    t.extend(pod_labels(pod));
                    out.push(t);
                }
            }
        }
        out
    }
}
