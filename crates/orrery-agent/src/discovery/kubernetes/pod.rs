//! The `pod` role: one target per declared container port (`podIP:port`), and one per
//! container without ports (address = pod IP, the port is left to relabeling); init
//! containers too, marked by `__meta_kubernetes_pod_container_init`. A pod without an IP
//! (starting, evicted) has no targets.
//!
//! Group labels: `__meta_kubernetes_namespace`, `_pod_name`, `_pod_ip`, `_pod_ready`,
//! `_pod_phase`, `_pod_node_name`, `_pod_host_ip`, `_pod_uid`, `_pod_controller_kind`,
//! `_pod_controller_name` (when the pod has a controller), `_pod_label_*`,
//! `_pod_labelpresent_*`, `_pod_annotation_*`, `_pod_annotationpresent_*`. Target labels:
//! `_pod_container_name`, `_container_id`, `_container_image`, `_container_init` and, for
//! ports, `_container_port_name`, `_container_port_number`, `_container_port_protocol`.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};

use super::{add_object_meta_labels, join_host_port, set, ADDRESS_LABEL, NAMESPACE_LABEL};
use crate::discovery::{LabelSet, TargetGroup};

pub(crate) const CONTAINER_NAME: &str = "__meta_kubernetes_pod_container_name";
pub(crate) const CONTAINER_ID: &str = "__meta_kubernetes_pod_container_id";
pub(crate) const CONTAINER_IMAGE: &str = "__meta_kubernetes_pod_container_image";
pub(crate) const CONTAINER_INIT: &str = "__meta_kubernetes_pod_container_init";
pub(crate) const CONTAINER_PORT_NAME: &str = "__meta_kubernetes_pod_container_port_name";
pub(crate) const CONTAINER_PORT_NUMBER: &str = "__meta_kubernetes_pod_container_port_number";
pub(crate) const CONTAINER_PORT_PROTOCOL: &str = "__meta_kubernetes_pod_container_port_protocol";

/// The group source of a pod.
pub(crate) fn pod_source(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}

/// The pod's targets, in Prometheus's shape.
pub(crate) fn pod_targets(pod: &Pod) -> TargetGroup {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let mut tg = TargetGroup {
        source: pod_source(namespace, name),
        ..Default::default()
    };
    let Some(ip) = pod_ip(pod) else {
        return tg;
    };
    tg.labels = pod_labels(pod);
    set(&mut tg.labels, NAMESPACE_LABEL, namespace);

    let status = pod.status.as_ref();
    for (c, is_init) in containers(pod) {
        let statuses = if is_init {
            status.and_then(|s| s.init_container_statuses.as_ref())
        } else {
            status.and_then(|s| s.container_statuses.as_ref())
        };
        let mut base = LabelSet::new();
        set(&mut base, CONTAINER_NAME, c.name.as_str());
        set(&mut base, CONTAINER_ID, container_id(statuses, &c.name));
        set(
            &mut base,
            CONTAINER_IMAGE,
            c.image.clone().unwrap_or_default(),
        );
        set(&mut base, CONTAINER_INIT, is_init.to_string());
        let ports = c.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            // No port declared: the address is the bare IP (bracketed for IPv6, as
            // RFC 3986 wants), and relabeling must add the port.
            let addr = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_owned()
            };
            set(&mut base, ADDRESS_LABEL, addr);
            tg.targets.push(base);
            continue;
        }
        for port in ports {
            let mut t = base.clone();
            set(
                &mut t,
                ADDRESS_LABEL,
                join_host_port(ip, port.container_port),
            );
            set(
                &mut t,
                CONTAINER_PORT_NAME,
                port.name.clone().unwrap_or_default(),
            );
            set(
                &mut t,
                CONTAINER_PORT_NUMBER,
                port.container_port.to_string(),
            );
            set(
                &mut t,
                CONTAINER_PORT_PROTOCOL,
                port.protocol.clone().unwrap_or_default(),
            );
            tg.targets.push(t);
        }
    }
    tg
}

/// The pod-level labels that `pod`, `endpoints` and `endpointslice` targets share
/// (Prometheus's `podLabels`; the namespace is not among them).
pub(crate) fn pod_labels(pod: &Pod) -> LabelSet {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let mut ls = LabelSet::new();
    let p = "__meta_kubernetes_pod_";
    set(
        &mut ls,
        &format!("{p}ip"),
        status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
    );
    set(&mut ls, &format!("{p}ready"), pod_ready(pod));
    set(
        &mut ls,
        &format!("{p}phase"),
        status.and_then(|s| s.phase.clone()).unwrap_or_default(),
    );
    set(
        &mut ls,
        &format!("{p}node_name"),
        spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
    );
    set(
        &mut ls,
        &format!("{p}host_ip"),
        status.and_then(|s| s.host_ip.clone()).unwrap_or_default(),
    );
    set(
        &mut ls,
        &format!("{p}uid"),
        pod.metadata.uid.clone().unwrap_or_default(),
    );
    add_object_meta_labels(&mut ls, &pod.metadata, "pod");
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true));
    if let Some(c) = controller {
        if !c.kind.is_empty() {
            set(&mut ls, &format!("{p}controller_kind"), c.kind.as_str());
        }
        if !c.name.is_empty() {
            set(&mut ls, &format!("{p}controller_name"), c.name.as_str());
        }
    }
    ls
}

/// The pod's IP, if it has one.
pub(crate) fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .filter(|ip| !ip.is_empty())
}

/// Regular containers, then init containers, each with whether it is an init container.
pub(crate) fn containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let spec = pod.spec.as_ref();
    let regular = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let init = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();
    regular
        .iter()
        .map(|c| (c, false))
        .chain(init.iter().map(|c| (c, true)))
}

/// The Ready condition's status, lowercased; `unknown` without one.
fn pod_ready(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The container's runtime ID (`<type>://<id>`), empty until it has a status.
fn container_id(statuses: Option<&Vec<ContainerStatus>>, name: &str) -> String {
    statuses
        .into_iter()
        .flatten()
        .find(|s| s.name == name)
        .and_then(|s| s.container_id.clone())
        .unwrap_or_default()
}
