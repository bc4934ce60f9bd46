//! The `node` role: one target per node at `<address>:<kubelet port>`, the address being
//! the first of the node's addresses by type priority InternalIP, InternalDNS,
//! ExternalIP, ExternalDNS, LegacyHostIP, Hostname. `instance` is set to the node name.
//!
//! Group labels: `__meta_kubernetes_node_name`, `_node_provider_id`, `_node_label_*`,
//! `_node_labelpresent_*`, `_node_annotation_*`, `_node_annotationpresent_*`. Target
//! labels: `__address__`, `instance`, and `_node_address_<type>` (the first address of
//! each type). A node without any usable address has no targets.

use k8s_openapi::api::core::v1::Node;

use super::{add_object_meta_labels, join_host_port, sanitize_label_name, set, ADDRESS_LABEL};
use crate::discovery::{LabelSet, TargetGroup};

/// Address types in the order the target address is chosen from (Prometheus's
/// `nodeAddress`, derived from Kubernetes' own `GetPreferredNodeAddress`).
const ADDRESS_PRIORITY: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

/// The group source of a node.
pub(crate) fn node_source(name: &str) -> String {
    format!("node/{name}")
}

/// The node's target, in Prometheus's shape.
pub(crate) fn node_targets(node: &Node) -> TargetGroup {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let mut tg = TargetGroup {
        source: node_source(name),
        ..Default::default()
    };
    set(
        &mut tg.labels,
        "__meta_kubernetes_node_provider_id",
        node.spec
            .as_ref()
            .and_then(|s| s.provider_id.clone())
            .unwrap_or_default(),
    );
    add_object_meta_labels(&mut tg.labels, &node.metadata, "node");

    let status = node.status.as_ref();
    let addresses = status
        .and_then(|s| s.addresses.as_deref())
        .unwrap_or_default();
    let first_of = |ty: &str| {
        addresses
            .iter()
            .find(|a| a.type_ == ty)
            .map(|a| a.address.as_str())
    };
    let Some(host) = ADDRESS_PRIORITY.iter().find_map(|ty| first_of(ty)) else {
        tracing::warn!(node = name, "node has no address; it has no target");
        return tg;
    };
    let port = status
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map_or(0, |e| e.port);

    let mut t = LabelSet::new();
    set(&mut t, ADDRESS_LABEL, join_host_port(host, port));
    set(&mut t, "instance", name);
    for a in addresses {
        let label = sanitize_label_name(&format!("__meta_kubernetes_node_address_{}", a.type_));
        t.entry(label).or_insert_with(|| a.address.clone());
    }
    tg.targets.push(t);
    tg
}
