//! The `service` role: one target per service port, at the service's DNS name
//! `<name>.<namespace>.svc:<port>` (useful for blackbox probing).
//!
//! Group labels: `__meta_kubernetes_namespace`, `_service_name`, `_service_label_*`,
//! `_service_labelpresent_*`, `_service_annotation_*`, `_service_annotationpresent_*`
//! (the same set enriches `endpoints` and `endpointslice` groups). Target labels:
//! `_service_port_name`, `_service_port_number`, `_service_port_protocol`,
//! `_service_type`, and `_service_external_name` for ExternalName services or
//! `_service_cluster_ip` for the others, plus `_service_loadbalancer_ip` for LoadBalancer.

use k8s_openapi::api::core::v1::Service;

use super::{add_object_meta_labels, join_host_port, set, ADDRESS_LABEL, NAMESPACE_LABEL};
use crate::discovery::{LabelSet, TargetGroup};

/// The group source of a service.
pub(crate) fn service_source(namespace: &str, name: &str) -> String {
    format!("svc/{namespace}/{name}")
}

/// The service-level labels (Prometheus's `serviceLabels`), namespace included.
pub(crate) fn service_labels(svc: &Service) -> LabelSet {
    let mut ls = LabelSet::new();
    set(
        &mut ls,
        NAMESPACE_LABEL,
        svc.metadata.namespace.clone().unwrap_or_default(),
    );
    add_object_meta_labels(&mut ls, &svc.metadata, "service");
    ls
}

/// The service's targets, in Prometheus's shape.
pub(crate) fn service_targets(svc: &Service) -> TargetGroup {
    let namespace = svc.metadata.namespace.as_deref().unwrap_or_default();
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let mut tg = TargetGroup {
        source: service_source(namespace, name),
        labels: service_labels(svc),
        ..Default::default()
    };
    let Some(spec) = svc.spec.as_ref() else {
        return tg;
    };
    let kind = spec.type_.clone().unwrap_or_default();
    for port in spec.ports.iter().flatten() {
        let mut t = LabelSet::new();
        set(
            &mut t,
            ADDRESS_LABEL,
            join_host_port(&format!("{name}.{namespace}.svc"), port.port),
        );
        set(
            &mut t,
            "__meta_kubernetes_service_port_name",
            port.name.clone().unwrap_or_default(),
        );
        set(
            &mut t,
            "__meta_kubernetes_service_port_number",
            port.port.to_string(),
        );
        set(
            &mut t,
            "__meta_kubernetes_service_port_protocol",
            port.protocol.clone().unwrap_or_default(),
        );
        set(&mut t, "__meta_kubernetes_service_type", kind.as_str());
        if kind == "ExternalName" {
            set(
                &mut t,
                "__meta_kubernetes_service_external_name",
                spec.external_name.clone().unwrap_or_default(),
            );
        } else {
            set(
                &mut t,
                "__meta_kubernetes_service_cluster_ip",
                spec.cluster_ip.clone().unwrap_or_default(),
            );
        }
        if kind == "LoadBalancer" {
            set(
                &mut t,
                "__meta_kubernetes_service_loadbalancer_ip",
                spec.load_balancer_ip.clone().unwrap_or_default(),
            );
        }
        tg.targets.push(t);
    }
    tg
}
