//! Kubernetes service discovery, compatible with Prometheus's `kubernetes_sd_configs`.
//!
//! One [`KubernetesSdConfig`] names a role (`node`, `pod`, `service`, `endpoints`,
//! `endpointslice` or `ingress`). [`KubernetesSdConfig::build`] validates it and builds the
//! API client; [`KubernetesDiscovery::run`] lists and watches the role's objects (plus, for
//! `endpoints` and `endpointslice`, the services and pods that enrich their targets) and
//! sends target groups with Prometheus's exact `__meta_kubernetes_*` labels:
//!
//! - Each object is one group, with Prometheus's source (`pod/<ns>/<name>`,
//!   `svc/<ns>/<name>`, `endpoints/<ns>/<name>`, `endpointslice/<ns>/<name>`,
//!   `ingress/<ns>/<name>`, `node/<name>`). A deleted object sends an empty group for its
//!   source, which removes its targets.
//! - Nothing is sent until every watched collection has been listed once; then one update
//!   carries every group. After that each change sends the groups it affects (a service
//!   change re-sends its endpoints, a pod change re-sends the endpoints that point at it).
//! - List+watch, resource versions, bookmarks and the re-list after `410 Gone` are
//!   kube-runtime's watcher. A re-list replaces the listed scope: objects that vanished
//!   meanwhile get empty groups, the rest are re-sent (as Prometheus's informers do).
//!
//! Label production is pure, one file per role (`node.rs`, `pod.rs`, `service.rs`,
//! `endpoints.rs`, `endpointslice.rs`, `ingress.rs`, plus `target_ref.rs` for what the two
//! endpoint roles share), so it is tested without a server; `watch.rs` owns the object
//! stores and the event loop, and calls the role files, which see the stores only
//! through [`Related`].
//!
//! Concurrency: `run` is one task; every watch stream is polled from it, and the stores
//! have a single writer (the loop), so no locks are needed.
//!
//! The HTTP client options are `orrery_httpclient`'s, checked by Prometheus's
//! `http_config` rules, and become a kubeconfig for kube (`config::kubeconfig_for`).
//!
//! Differences from Prometheus: `attach_metadata` (node and namespace metadata) and the
//! HTTP client options other than `bearer_token_file`, `authorization` (type `Bearer`
//! only), `basic_auth` and `tls_config` are rejected with a config error; a
//! `basic_auth.password_file` is read once, when discovery starts; a node without any
//! address sends an empty group (Prometheus keeps its previous targets).

mod config;
mod endpoints;
mod endpointslice;
mod ingress;
mod node;
mod pod;
mod service;
mod target_ref;
mod watch;

#[cfg(test)]
pub(crate) mod tests;

use std::fmt;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio::sync::mpsc;

pub use config::{
    AttachMetadataConfig, KubernetesSdConfig, NamespaceDiscovery, Role, SelectorConfig,
};

use super::{LabelSet, Update};

/// The objects that enrich `endpoints` and `endpointslice` targets.
pub(crate) struct Related<'a> {
    /// Services, looked up by the endpoints' name or the slice's service-name label.
    pub(crate) services: &'a watch::Store<Service>,
    /// Pods, looked up by the addresses' target references.
    pub(crate) pods: &'a watch::Store<Pod>,
}

/// Why Kubernetes discovery could not be configured or could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Two options that cannot be combined were both set.
    #[error("cannot use '{first}' and '{second}' simultaneously")]
    Conflict {
        /// The first option's name.
        first: &'static str,
        /// The second option's name.
        second: &'static str,
    },
    /// An HTTP client option was set without `api_server`.
    #[error("to use custom HTTP client configuration ('{option}') please provide the 'api_server' URL explicitly")]
    ClientOptionWithoutApiServer {
        /// The option's name.
        option: &'static str,
    },
    /// Two selectors name the same role.
    #[error("duplicated selector role: {0}")]
    DuplicateSelector(Role),
    /// A selector names a role that the configured role does not watch.
    #[error("{role} role supports only {allowed} selectors; got {selector}")]
    SelectorNotAllowed {
        /// The configured role.
        role: Role,
        /// The selector's role.
        selector: Role,
        /// The roles the configured role accepts, comma-separated.
        allowed: String,
    },
    /// An option that Orrery does not implement (yet) was set.
    #[error("kubernetes_sd_config: '{option}' is not supported: {reason}")]
    Unsupported {
        /// The option's name.
        option: &'static str,
        /// What to do instead.
        reason: &'static str,
    },
    /// An option has a value Orrery cannot use.
    #[error("kubernetes_sd_config: invalid '{option}': {reason}")]
    Invalid {
        /// The option's name.
        option: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A file named in the config (or the pod's own namespace file) could not be read.
    #[error("cannot read {path:?}")]
    ReadFile {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client options break one of Prometheus's `http_config` rules.
    #[error("kubernetes_sd_config: {0}")]
    Http(orrery_httpclient::HttpClientError),
    /// The in-cluster configuration (service host/port environment, token, CA) is unusable.
    #[error("in-cluster Kubernetes configuration")]
    InCluster(#[source] kube::config::InClusterError),
    /// A kubeconfig (the file, or the one built from `api_server` and its options) is unusable.
    #[error("Kubernetes client configuration")]
    Kubeconfig(#[source] kube::config::KubeconfigError),
    /// The Kubernetes client could not be built from a valid configuration.
    #[error("cannot build the Kubernetes client")]
    Client(#[source] kube::Error),
}

/// A validated, ready-to-run Kubernetes discoverer; made by [`KubernetesSdConfig::build`].
pub struct KubernetesDiscovery {
    client: kube::Client,
    role: Role,
    /// `None` watches all namespaces; otherwise one watch per namespace, deduplicated.
    namespaces: Option<Vec<String>>,
    selectors: Vec<SelectorConfig>,
}

impl fmt::Debug for KubernetesDiscovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesDiscovery")
            .field("role", &self.role)
            .field("namespaces", &self.namespaces)
            .field("selectors", &self.selectors)
            .finish_non_exhaustive()
    }
}

impl KubernetesDiscovery {
    /// The API client (shared with the monitors watcher, which connects the same way).
    pub(crate) fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Watches the cluster and sends target groups until `tx`'s receiver is dropped, then
    /// returns `Ok(())`. API errors are logged and retried with backoff; they never end
    /// the loop.
    pub async fn run(self, tx: mpsc::Sender<Update>) -> Result<(), DiscoveryError> {
        watch::run(self, tx).await;
        Ok(())
    }
}

/// Builds the discoverer for `cfg` and runs it until `tx`'s receiver is dropped.
pub async fn run(cfg: KubernetesSdConfig, tx: mpsc::Sender<Update>) -> Result<(), DiscoveryError> {
    cfg.build().await?.run(tx).await
}

/// Every label this discovery produces starts with this.
pub(crate) const META: &str = "__meta_kubernetes_";
/// `__meta_kubernetes_namespace`, shared by every namespaced role.
pub(crate) const NAMESPACE_LABEL: &str = "__meta_kubernetes_namespace";
/// The target address label.
pub(crate) const ADDRESS_LABEL: &str = "__address__";
/// The value of `*present_*` labels.
const PRESENT: &str = "true";

/// Prometheus's `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]`
/// becomes `_` (one per character, not per byte).
pub(crate) fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Prometheus's `addObjectMetaLabels`: `<role>_name`, and `<role>_label_*`,
/// `<role>_labelpresent_*`, `<role>_annotation_*`, `<role>_annotationpresent_*` with
/// sanitized names. `role` is the label infix (`pod`, `service`, `endpoints`, …).
pub(crate) fn add_object_meta_labels(ls: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    ls.insert(
        format!("{META}{role}_name"),
        meta.name.clone().unwrap_or_default(),
    );
    for (k, v) in meta.labels.iter().flatten() {
        let ln = sanitize_label_name(k);
        ls.insert(format!("{META}{role}_label_{ln}"), v.clone());
        ls.insert(
            format!("{META}{role}_labelpresent_{ln}"),
            PRESENT.to_owned(),
        );
    }
    for (k, v) in meta.annotations.iter().flatten() {
        let ln = sanitize_label_name(k);
        ls.insert(format!("{META}{role}_annotation_{ln}"), v.clone());
        ls.insert(
            format!("{META}{role}_annotationpresent_{ln}"),
            PRESENT.to_owned(),
        );
    }
}

/// Go's `net.JoinHostPort`: brackets hosts that contain a colon (IPv6).
pub(crate) fn join_host_port(host: &str, port: impl fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Inserts `name = value` (helper that keeps the role files short).
pub(crate) fn set(ls: &mut LabelSet, name: &str, value: impl Into<String>) {
    ls.insert(name.to_owned(), value.into());
}
