//! The `ingress` role (`networking.k8s.io/v1`): one target per rule host and path, at
//! the rule's host (useful for blackbox probing). A rule without `http` yields path `/`;
//! an empty path is `/`. The scheme is `https` when a TLS entry's host equals the rule's
//! host or matches it as a `*.`-wildcard of the same depth.
//!
//! Group labels: `__meta_kubernetes_namespace`, `_ingress_name`, `_ingress_label_*`,
//! `_ingress_labelpresent_*`, `_ingress_annotation_*`, `_ingress_annotationpresent_*`,
//! `_ingress_class_name` (when set). Target labels: `_ingress_scheme`, `_ingress_host`,
//! `_ingress_path`.

use k8s_openapi::api::networking::v1::Ingress;

use super::{add_object_meta_labels, set, ADDRESS_LABEL, NAMESPACE_LABEL};
use crate::discovery::{LabelSet, TargetGroup};

/// The group source of an ingress.
pub(crate) fn ingress_source(namespace: &str, name: &str) -> String {
    format!("ingress/{namespace}/{name}")
}

/// The ingress's targets, in Prometheus's shape.
pub(crate) fn ingress_targets(ingress: &Ingress) -> TargetGroup {
    let namespace = ingress.metadata.namespace.as_deref().unwrap_or_default();
    let name = ingress.metadata.name.as_deref().unwrap_or_default();
    let mut tg = TargetGroup {
        source: ingress_source(namespace, name),
        ..Default::default()
    };
    set(&mut tg.labels, NAMESPACE_LABEL, namespace);
    let spec = ingress.spec.as_ref();
    if let Some(class) = spec.and_then(|s| s.ingress_class_name.as_deref()) {
        set(
            &mut tg.labels,
            "__meta_kubernetes_ingress_class_name",
            class,
        );
    }
    add_object_meta_labels(&mut tg.labels, &ingress.metadata, "ingress");

    let tls_hosts: Vec<&str> = spec
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten())
        .map(String::as_str)
        .collect();
    for rule in spec.and_then(|s| s.rules.as_ref()).into_iter().flatten() {
        let host = rule.host.as_deref().unwrap_or_default();
        let scheme = if tls_hosts.iter().any(|p| matches_hostname_pattern(p, host)) {
            "https"
        } else {
            "http"
        };
        let paths: Vec<&str> = match &rule.http {
            None => vec!["/"],
            Some(http) => http
                .paths
                .iter()
                .map(|p| p.path.as_deref().filter(|p| !p.is_empty()).unwrap_or("/"))
                .collect(),
        };
        for path in paths {
            let mut t = LabelSet::new();
            set(&mut t, ADDRESS_LABEL, host);
            set(&mut t, "__meta_kubernetes_ingress_scheme", scheme);
            set(&mut t, "__meta_kubernetes_ingress_host", host);
            set(&mut t, "__meta_kubernetes_ingress_path", path);
            tg.targets.push(t);
        }
    }
    tg
}

/// Whether `host` equals `pattern` or matches it as a wildcard (`*.example.com` matches
/// `a.example.com`, not `a.b.example.com`).
fn matches_hostname_pattern(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let host: Vec<&str> = host.split('.').collect();
    pattern.first() == Some(&"*") && pattern.len() == host.len() && pattern[1..] == host[1..]
}
