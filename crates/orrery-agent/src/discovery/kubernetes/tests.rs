//! Tests for Kubernetes discovery: per-role label tables (Kubernetes objects as JSON →
//! the label sets Prometheus documents for `kubernetes_sd_config`), configuration
//! validation, and the full list/watch loop against a fake API server (`fake_api.rs`).

pub(crate) mod fake_api;
mod labels;

use super::*;

fn parse(yaml_like_json: serde_json::Value) -> Result<KubernetesSdConfig, serde_json::Error> {
    serde_json::from_value(yaml_like_json)
}

#[test]
fn config_rejects_unknown_fields_and_missing_role() {
    let err = parse(serde_json::json!({"role": "pod", "proxy_url": "http://x"})).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `proxy_url`"),
        "{err}"
    );
    let err = parse(serde_json::json!({"api_server": "http://x"})).unwrap_err();
    assert!(err.to_string().contains("missing field `role`"), "{err}");
    let err = parse(serde_json::json!({"role": "pods"})).unwrap_err();
    assert!(err.to_string().contains("unknown variant `pods`"), "{err}");
    let err = parse(serde_json::json!({"role": "pod", "namespaces": {"name": ["a"]}})).unwrap_err();
    assert!(err.to_string().contains("unknown field `name`"), "{err}");
}

#[test]
fn config_accepts_prometheus_shape() {
    let cfg = parse(serde_json::json!({
        "role": "endpointslice",
        "api_server": "https://k8s.example:6443",
        "namespaces": {"names": ["a", "b"]},
        "selectors": [
            {"role": "pod", "label": "app=web"},
            {"role": "service", "field": "metadata.name=web"},
            {"role": "endpointslice", "label": "x", "field": "y"}
        ],
        "attach_metadata": {"node": false},
        "bearer_token_file": "/tmp/token",
        "tls_config": {"ca_file": "/tmp/ca.crt", "insecure_skip_verify": false}
    }))
    .unwrap();
    assert_eq!(cfg.role, Role::EndpointSlice);
    cfg.validate().unwrap();
}

#[test]
fn config_validation_follows_prometheus() {
    let check = |v: serde_json::Value, want: &str| {
        let err = parse(v).unwrap().validate().unwrap_err().to_string();
        assert!(
            err.contains(want),
            "got {err:?}; want it to contain {want:?}"
        );
    };
    check(
        serde_json::json!({"role": "pod", "api_server": "http://a", "kubeconfig_file": "/k"}),
        "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
    );
    check(
        serde_json::json!({"role": "pod", "bearer_token_file": "/t"}),
        "please provide the 'api_server' URL explicitly",
    );
    check(
        serde_json::json!({"role": "pod", "api_server": "http://a", "namespaces": {"own_namespace": true}}),
        "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
    );
    check(
        serde_json::json!({"role": "pod", "selectors": [{"role": "pod"}, {"role": "pod"}]}),
        "duplicated selector role: pod",
    );
    check(
        serde_json::json!({"role": "node", "selectors": [{"role": "pod", "label": "a=b"}]}),
        "node role supports only node selectors",
    );
    check(
        serde_json::json!({"role": "endpoints", "selectors": [{"role": "node"}]}),
        "endpoints role supports only pod, service, endpoints selectors",
    );
    check(
        serde_json::json!({"role": "pod", "attach_metadata": {"node": true}}),
        "'attach_metadata.node' is not supported",
    );
    check(
        serde_json::json!({"role": "pod", "api_server": "http://a", "authorization": {"type": "Token", "credentials": "x"}}),
        "only Bearer is supported",
    );
    // The HTTP client rules and messages are Prometheus's http_config ones, shared with
    // scrape configs.
    check(
        serde_json::json!({"role": "pod", "api_server": "http://a", "authorization": {"type": "Basic", "credentials": "x"}}),
        "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
    );
    check(
        serde_json::json!({"role": "pod", "api_server": "http://a", "tls_config": {"cert_file": "/c"}}),
        "exactly one of key or key_file must be configured when a client certificate is configured",
    );
    check(
        serde_json::json!({"role": "pod", "api_server": "http://a", "tls_config": {"min_version": "TLS13"}}),
        "'tls_config.min_version/max_version' is not supported",
    );
    check(
        serde_json::json!({"role": "pod", "api_server": "http://a", "bearer_token_file": "/t", "authorization": {"credentials": "x"}}),
        "authorization is not compatible with bearer_token & bearer_token_file",
    );
    check(
        serde_json::json!({"role": "pod", "api_server": "http://a", "authorization": {"credentials": "x"}, "basic_auth": {"username": "u"}}),
        "at most one of basic_auth, oauth2 & authorization must be configured",
    );
}

#[test]
fn authorization_without_credentials_is_accepted_as_in_prometheus() {
    // The Kubernetes copy of the rules asked for credentials or credentials_file; the
    // scrape copy and Prometheus accept neither (no token is sent).
    let cfg = parse(serde_json::json!({"role": "pod", "api_server": "http://a", "authorization": {"type": "Bearer"}})).unwrap();
    cfg.validate().unwrap();
    let kc = config::kubeconfig_for("http://a", &cfg.http_client_config()).unwrap();
    let kc = serde_json::to_value(kc).unwrap();
    let user = &kc["users"][0]["user"];
    assert!(
        user.get("token").is_none() && user.get("tokenFile").is_none(),
        "{user}"
    );
}

#[test]
fn a_password_file_loses_surrounding_whitespace_as_in_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, " secret \n").unwrap();
    let cfg = parse(serde_json::json!({
        "role": "pod",
        "api_server": "http://a",
        "basic_auth": {"username": "u", "password_file": file},
        "tls_config": {"ca_file": "/ca.crt", "server_name": "k8s", "insecure_skip_verify": true},
    }))
    .unwrap();
    let kc = config::kubeconfig_for("http://a", &cfg.http_client_config()).unwrap();
    let kc = serde_json::to_value(kc).unwrap();
    let user = &kc["users"][0]["user"];
    assert_eq!(user["username"], "u", "{kc}");
    assert_eq!(user["password"], "secret", "{kc}");
    let cluster = &kc["clusters"][0]["cluster"];
    assert_eq!(cluster["certificate-authority"], "/ca.crt", "{kc}");
    assert_eq!(cluster["tls-server-name"], "k8s", "{kc}");
    assert_eq!(cluster["insecure-skip-tls-verify"], true, "{kc}");
}

#[tokio::test]
async fn build_reports_unreadable_files_and_bad_urls() {
    let cfg =
        parse(serde_json::json!({"role": "pod", "kubeconfig_file": "/nonexistent/kubeconfig"}))
            .unwrap();
    let err = cfg.build().await.unwrap_err();
    assert!(matches!(err, DiscoveryError::Kubeconfig(_)), "{err:?}");

    let cfg = parse(serde_json::json!({
        "role": "pod",
        "api_server": "http://127.0.0.1:1",
        "basic_auth": {"username": "u", "password_file": "/nonexistent/password"}
    }))
    .unwrap();
    let err = cfg.build().await.unwrap_err();
    assert!(matches!(err, DiscoveryError::ReadFile { .. }), "{err:?}");
}

#[tokio::test]
async fn own_namespace_is_read_from_the_service_account_dir() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        parse(serde_json::json!({"role": "pod", "namespaces": {"own_namespace": true}})).unwrap();
    let env = config::ClusterEnv {
        service_account_dir: dir.path().to_owned(),
    };
    // No namespace file: a clear error naming the file.
    let err = cfg.clone().build_with(&env).await.unwrap_err();
    assert!(err.to_string().contains("namespace"), "{err}");
    assert!(matches!(err, DiscoveryError::ReadFile { .. }), "{err:?}");
    // An empty file is rejected too.
    std::fs::write(dir.path().join("namespace"), "\n").unwrap();
    let err = cfg.build_with(&env).await.unwrap_err();
    assert!(err.to_string().contains("is empty"), "{err}");
}
