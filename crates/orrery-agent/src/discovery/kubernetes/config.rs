//! `kubernetes_sd_configs` entries in Prometheus's shape, their validation, and how they
//! become a kube client: `kubeconfig_file`, an explicit `api_server` (with optional
//! token, basic auth and TLS options), or the in-cluster service account.
//!
//! Validation follows Prometheus's `SDConfig.UnmarshalYAML`: `api_server` and
//! `kubeconfig_file` exclude each other, client options need `api_server`,
//! `own_namespace` needs the in-cluster config, and each role accepts selectors only for
//! the resources it watches.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use orrery_httpclient::{Authorization, BasicAuth, HttpClientConfig, HttpClientError, TlsConfig};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{DiscoveryError, KubernetesDiscovery};

/// The service account directory mounted into every pod.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// What kind of Kubernetes object becomes a target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// One target per node, at the kubelet port.
    Node,
    /// One target per declared container port (or per container without ports).
    Pod,
    /// One target per service port, at the service's DNS name.
    Service,
    /// One target per endpoint address and port, plus the backing pods' other ports.
    Endpoints,
    /// Like `endpoints`, from `discovery.k8s.io/v1` EndpointSlices.
    #[serde(rename = "endpointslice")]
    EndpointSlice,
    /// One target per ingress rule host and path.
    Ingress,
}

impl Role {
    /// The name used in configuration and in label names.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Pod => "pod",
            Role::Service => "service",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
            Role::Ingress => "ingress",
        }
    }

    /// The roles whose selectors this role accepts (the resources it watches).
    fn allowed_selectors(self) -> &'static [Role] {
        match self {
            Role::Node => &[Role::Node],
            Role::Pod => &[Role::Pod],
            Role::Service => &[Role::Service],
            Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints],
            Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice],
            Role::Ingress => &[Role::Ingress],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `kubernetes_sd_configs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSdConfig {
    /// The kind of object to discover.
    pub role: Role,
    /// The API server URL (`https://host:port`; `http://` works too). Absent means the
    /// agent runs in the cluster: `KUBERNETES_SERVICE_HOST`/`_PORT` and the service
    /// account's token and CA under `/var/run/secrets/kubernetes.io/serviceaccount/`.
    #[serde(default)]
    pub api_server: Option<String>,
    /// A kubeconfig file to use (its current context); excludes `api_server`.
    #[serde(default)]
    pub kubeconfig_file: Option<PathBuf>,
    /// Which namespaces to watch; absent or empty means all.
    #[serde(default)]
    pub namespaces: NamespaceDiscovery,
    /// Label and field selectors passed to the API server, at most one per role.
    #[serde(default)]
    pub selectors: Vec<SelectorConfig>,
    /// Extra metadata to attach (not supported yet: `node: true` is a config error).
    #[serde(default)]
    pub attach_metadata: AttachMetadataConfig,
    /// A file holding the bearer token sent to `api_server` (re-read as it changes).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// The `Authorization` header sent to `api_server` (type `Bearer` only).
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// HTTP basic authentication sent to `api_server`.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// TLS settings for `api_server`.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
}

/// `namespaces:`, which namespaces to watch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceDiscovery {
    /// Also watch the agent's own namespace (read from the service account's `namespace`
    /// file; needs the in-cluster config).
    #[serde(default)]
    pub own_namespace: bool,
    /// Namespaces to watch.
    #[serde(default)]
    pub names: Vec<String>,
}

/// One entry of `selectors:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorConfig {
    /// Which watched resource the selectors apply to.
    pub role: Role,
    /// A label selector (`app=web,tier!=db`), passed to the API server as is.
    #[serde(default)]
    pub label: Option<String>,
    /// A field selector (`spec.nodeName=n1`), passed to the API server as is.
    #[serde(default)]
    pub field: Option<String>,
}

/// `attach_metadata:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadataConfig {
    /// Attach the node's labels to pod, endpoints and endpointslice targets (not
    /// supported yet; `true` is a config error).
    #[serde(default)]
    pub node: bool,
}

/// Where `build` finds in-cluster facts; a field so tests need no real pod.
pub(crate) struct ClusterEnv {
    /// The service account directory (holding `namespace`).
    pub(crate) service_account_dir: PathBuf,
}

impl Default for ClusterEnv {
    fn default() -> Self {
        ClusterEnv {
            service_account_dir: PathBuf::from(SERVICE_ACCOUNT_DIR),
        }
    }
}

impl KubernetesSdConfig {
    /// Validates the configuration and builds the API client; nothing is contacted yet.
    pub async fn build(self) -> Result<KubernetesDiscovery, DiscoveryError> {
        self.build_with(&ClusterEnv::default()).await
    }

    /// Checks everything that does not need files or the network.
    pub fn validate(&self) -> Result<(), DiscoveryError> {
        let client_option = self.client_option();
        if self.api_server.is_some() && self.kubeconfig_file.is_some() {
            return Err(DiscoveryError::Conflict {
                first: "kubeconfig_file",
                second: "api_server",
            });
        }
        if let (Some(option), true) = (client_option, self.kubeconfig_file.is_some()) {
            return Err(DiscoveryError::Conflict {
                first: "kubeconfig_file",
                second: option,
            });
        }
        if let (Some(option), None) = (client_option, &self.api_server) {
            return Err(DiscoveryError::ClientOptionWithoutApiServer { option });
        }
        if self.namespaces.own_namespace {
            if self.api_server.is_some() {
                return Err(DiscoveryError::Conflict {
                    first: "api_server",
                    second: "namespaces.own_namespace",
                });
            }
            if self.kubeconfig_file.is_some() {
                return Err(DiscoveryError::Conflict {
                    first: "kubeconfig_file",
                    second: "namespaces.own_namespace",
                });
            }
        }
        if self.attach_metadata.node {
            return Err(DiscoveryError::Unsupported {
                option: "attach_metadata.node",
                reason: "node metadata is not attached yet; relabel on __meta_kubernetes_pod_node_name instead",
            });
        }
        let mut seen = BTreeSet::new();
        for s in &self.selectors {
            if !seen.insert(s.role) {
                return Err(DiscoveryError::DuplicateSelector(s.role));
            }
            let allowed = self.role.allowed_selectors();
            if !allowed.contains(&s.role) {
                return Err(DiscoveryError::SelectorNotAllowed {
                    role: self.role,
                    selector: s.role,
                    allowed: allowed
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let http = self.http_client_config();
        http.validate().map_err(DiscoveryError::Http)?;
        if let Some(t) = &self.tls_config {
            if t.min_version.is_some() || t.max_version.is_some() {
                return Err(DiscoveryError::Unsupported {
                    option: "tls_config.min_version/max_version",
                    reason: "the Kubernetes client negotiates TLS 1.2 or 1.3 itself",
                });
            }
        }
        // kube sends tokens only as `Bearer`; Prometheus would send any scheme.
        if let Some(a) = &self.authorization {
            if a.scheme() != "Bearer" {
                return Err(DiscoveryError::Invalid {
                    option: "authorization.type",
                    reason: format!("only Bearer is supported; got {:?}", a.scheme()),
                });
            }
        }
        Ok(())
    }

    /// The HTTP client options in the shared shape (Prometheus declares them inline in
    /// `kubernetes_sd_configs`; these are the ones kube's client can honour).
    pub fn http_client_config(&self) -> HttpClientConfig {
        HttpClientConfig {
            bearer_token_file: self.bearer_token_file.clone(),
            authorization: self.authorization.clone(),
            basic_auth: self.basic_auth.clone(),
            tls_config: self.tls_config.clone(),
            ..HttpClientConfig::default()
        }
    }

    /// The first HTTP client option that is set, if any.
    fn client_option(&self) -> Option<&'static str> {
        if self.bearer_token_file.is_some() {
            Some("bearer_token_file")
        } else if self.authorization.is_some() {
            Some("authorization")
        } else if self.basic_auth.is_some() {
            Some("basic_auth")
        } else if self.tls_config.is_some() {
            Some("tls_config")
        } else {
            None
        }
    }

    /// [`build`](Self::build) with the in-cluster facts taken from `env`.
    pub(crate) async fn build_with(
        self,
        env: &ClusterEnv,
    ) -> Result<KubernetesDiscovery, DiscoveryError> {
        self.validate()?;
        // kube's rustls client needs a process-wide crypto provider; ring is the one the
        // workspace builds. A second install fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let mut own_namespace = None;
        let kube_config = if let Some(path) = &self.kubeconfig_file {
            let kc =
                kube::config::Kubeconfig::read_from(path).map_err(DiscoveryError::Kubeconfig)?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(DiscoveryError::Kubeconfig)?
        } else if let Some(server) = &self.api_server {
            let kc = kubeconfig_for(server, &self.http_client_config())?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(DiscoveryError::Kubeconfig)?
        } else {
            if self.namespaces.own_namespace {
                own_namespace = Some(read_own_namespace(&env.service_account_dir)?);
            }
            kube::Config::incluster().map_err(DiscoveryError::InCluster)?
        };
        let client = kube::Client::try_from(kube_config).map_err(DiscoveryError::Client)?;

        let mut names: BTreeSet<String> = self.namespaces.names.iter().cloned().collect();
        names.extend(own_namespace);
        let namespaces = if names.is_empty() {
            None
        } else {
            Some(names.into_iter().collect())
        };
        Ok(KubernetesDiscovery {
            client,
            role: self.role,
            namespaces,
            selectors: self.selectors,
        })
    }
}

/// A one-context kubeconfig for `server` and the HTTP client options, so that kube
/// loads certificates and token files exactly as it does for kubeconfig files (a token
/// file is re-read by kube as it changes; a password file is read once, here).
/// `follow_redirects`, `proxy_url` and `enable_http2` have no kubeconfig counterpart and
/// are not passed on; [`KubernetesSdConfig`] does not accept them.
pub(crate) fn kubeconfig_for(
    server: &str,
    http: &HttpClientConfig,
) -> Result<kube::config::Kubeconfig, DiscoveryError> {
    let mut cluster = Map::new();
    cluster.insert("server".into(), json!(server));
    let mut user = Map::new();
    if let Some(t) = &http.tls_config {
        if let Some(ca) = &t.ca_file {
            cluster.insert("certificate-authority".into(), path_value(ca)?);
        }
        if let Some(name) = &t.server_name {
            cluster.insert("tls-server-name".into(), json!(name));
        }
        if t.insecure_skip_verify {
            cluster.insert("insecure-skip-tls-verify".into(), json!(true));
        }
        if let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) {
            user.insert("client-certificate".into(), path_value(cert)?);
            user.insert("client-key".into(), path_value(key)?);
        }
    }
    if let Some(token) = &http.bearer_token {
        user.insert("token".into(), json!(token));
    }
    if let Some(file) = &http.bearer_token_file {
        user.insert("token-file".into(), path_value(file)?);
    }
    if let Some(a) = &http.authorization {
        if let Some(token) = &a.credentials {
            user.insert("token".into(), json!(token));
        }
        if let Some(file) = &a.credentials_file {
            user.insert("token-file".into(), path_value(file)?);
        }
    }
    if let Some(b) = &http.basic_auth {
        user.insert("username".into(), json!(b.username));
        let password = match (&b.password, &b.password_file) {
            (Some(p), _) => p.clone(),
            (None, Some(file)) => orrery_httpclient::read_secret("basic_auth.password_file", file)
                .map_err(|e| match e {
                    HttpClientError::ReadFile { path, source, .. } => {
                        DiscoveryError::ReadFile { path, source }
                    }
                    other => DiscoveryError::Http(other),
                })?,
            (None, None) => String::new(),
        };
        user.insert("password".into(), json!(password));
    }
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sd", "cluster": cluster}],
        "users": [{"name": "sd", "user": user}],
        "contexts": [{"name": "sd", "context": {"cluster": "sd", "user": "sd"}}],
        "current-context": "sd",
    });
    serde_json::from_value(doc).map_err(|e| DiscoveryError::Invalid {
        option: "api_server",
        reason: e.to_string(),
    })
}

/// A path as a kubeconfig string value (kubeconfig paths must be UTF-8).
fn path_value(path: &Path) -> Result<Value, DiscoveryError> {
    path.to_str()
        .map(|s| json!(s))
        .ok_or_else(|| DiscoveryError::Invalid {
            option: "file path",
            reason: format!("{path:?} is not valid UTF-8"),
        })
}

/// The pod's own namespace, from the service account's `namespace` file.
fn read_own_namespace(dir: &Path) -> Result<String, DiscoveryError> {
    let path = dir.join("namespace");
    let text = std::fs::read_to_string(&path).map_err(|source| DiscoveryError::ReadFile {
        path: path.clone(),
        source,
    })?;
    let ns = text.trim();
    if ns.is_empty() {
        return Err(DiscoveryError::Invalid {
            option: "namespaces.own_namespace",
            reason: format!("{path:?} is empty"),
        });
    }
    Ok(ns.to_owned())
}
