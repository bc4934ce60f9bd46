//! Tests for the settings: the YAML shape and its defaults, Prometheus's validation
//! messages, and the credentials each request carries (requests are built, never
//! sent: no network).

use super::*;
use reqwest::header::AUTHORIZATION;

fn parse(yaml: &str) -> HttpClientConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

fn header(cfg: &HttpClientConfig) -> Option<String> {
    let client = cfg.build().unwrap();
    let req = cfg
        .authorize(client.get("http://127.0.0.1:1/metrics"))
        .unwrap()
        .build()
        .unwrap();
    req.headers()
        .get(AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[test]
fn the_prometheus_shape_parses_with_its_defaults() {
    let empty = parse("{}");
    assert_eq!(empty, HttpClientConfig::default());
    assert!(empty.follow_redirects);
    let cfg = parse(
        "basic_auth: {username: u, password_file: /p}\nfollow_redirects: false\nenable_http2: true\nproxy_url: http://proxy:3128\ntls_config: {ca_file: /ca, cert_file: /c, key_file: /k, server_name: s, insecure_skip_verify: true}\n",
    );
    assert!(!cfg.follow_redirects);
    assert_eq!(cfg.proxy_url.as_deref(), Some("http://proxy:3128"));
    assert_eq!(
        cfg.basic_auth.unwrap().password_file.unwrap(),
        std::path::Path::new("/p")
    );
    let tls = cfg.tls_config.unwrap();
    assert!(tls.insecure_skip_verify);
    assert_eq!(tls.server_name.as_deref(), Some("s"));
}

#[test]
fn unknown_keys_are_refused_at_every_level() {
    for yaml in [
        "bearer_tokn: x\n",
        "basic_auth: {username: u, pasword: p}\n",
        "authorization: {credentails: x}\n",
        "tls_config: {ca: x}\n",
        "tls_config: {min_version: TLS14}\n",
    ] {
        let err = serde_saphyr::from_str::<HttpClientConfig>(yaml).unwrap_err();
        assert!(err.to_string().contains("unknown"), "{yaml}: {err}");
    }
}

#[test]
fn validation_follows_prometheus_with_its_messages() {
    let check = |yaml: &str, want: &str| {
        let err = parse(yaml).validate().unwrap_err().to_string();
        assert_eq!(err, want, "{yaml}");
    };
    check(
        "bearer_token: a\nbearer_token_file: /b\n",
        "at most one of bearer_token & bearer_token_file must be configured",
    );
    check(
        "basic_auth: {username: u}\nbearer_token: a\n",
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    );
    check(
        "basic_auth: {username: u, password: p, password_file: /p}\n",
        "at most one of basic_auth password & password_file must be configured",
    );
    check(
        "authorization: {credentials: x}\nbearer_token_file: /b\n",
        "authorization is not compatible with bearer_token & bearer_token_file",
    );
    check(
        "authorization: {credentials: x, credentials_file: /x}\n",
        "at most one of authorization credentials & credentials_file must be configured",
    );
    check(
        "authorization: {type: basic, credentials: x}\n",
        "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
    );
    check(
        "authorization: {credentials: x}\nbasic_auth: {username: u}\n",
        "at most one of basic_auth, oauth2 & authorization must be configured",
    );
    check(
        "tls_config: {cert_file: /c}\n",
        "exactly one of key or key_file must be configured when a client certificate is configured",
    );
    check(
        "tls_config: {min_version: TLS13, max_version: TLS12}\n",
        "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified",
    );
    check(
        "tls_config: {key_file: /k}\n",
        "exactly one of cert or cert_file must be configured when a client key is configured",
    );
    parse("authorization: {type: Token, credentials: x}\n")
        .validate()
        .unwrap();
}

#[test]
fn each_kind_of_credentials_sets_the_authorization_header() {
    assert_eq!(header(&parse("{}")), None);
    assert_eq!(
        header(&parse("bearer_token: abc\n")).as_deref(),
        Some("Bearer abc")
    );
    assert_eq!(
        header(&parse("authorization: {type: Token, credentials: abc}\n")).as_deref(),
        Some("Token abc")
    );
    // An empty type means Bearer, as Prometheus trims and defaults it.
    assert_eq!(
        header(&parse("authorization: {type: ' ', credentials: abc}\n")).as_deref(),
        Some("Bearer abc")
    );
    assert_eq!(header(&parse("authorization: {type: Bearer}\n")), None);
    assert_eq!(
        header(&parse("basic_auth: {username: u, password: p}\n")).as_deref(),
        Some("Basic dTpw")
    );
    assert_eq!(
        header(&parse("basic_auth: {username: u}\n")).as_deref(),
        Some("Basic dTo=")
    );
}

#[test]
fn secret_files_are_read_again_for_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    let password = dir.path().join("password");
    std::fs::write(&token, "first\n").unwrap();
    std::fs::write(&password, " p \n").unwrap();
    let cfg = HttpClientConfig {
        bearer_token_file: Some(token.clone()),
        ..Default::default()
    };
    assert_eq!(header(&cfg).as_deref(), Some("Bearer first"));
    std::fs::write(&token, "second").unwrap();
    assert_eq!(header(&cfg).as_deref(), Some("Bearer second"));
    let cfg = HttpClientConfig {
        authorization: Some(Authorization {
            kind: None,
            credentials: None,
            credentials_file: Some(token.clone()),
        }),
        ..Default::default()
    };
    assert_eq!(header(&cfg).as_deref(), Some("Bearer second"));
    let cfg = HttpClientConfig {
        basic_auth: Some(BasicAuth {
            username: "u".into(),
            password: None,
            password_file: Some(password),
        }),
        ..Default::default()
    };
    assert_eq!(header(&cfg).as_deref(), Some("Basic dTpw"));
    std::fs::remove_file(&token).unwrap();
    let cfg = HttpClientConfig {
        bearer_token_file: Some(token),
        ..Default::default()
    };
    let client = cfg.build().unwrap();
    let err = cfg
        .authorize(client.get("http://127.0.0.1:1/"))
        .unwrap_err();
    assert!(matches!(err, HttpClientError::ReadFile { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("bearer_token_file: reading "),
        "{err}"
    );
}

#[test]
fn build_reads_certificates_and_checks_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("ca.pem");
    let cfg = parse(&format!("tls_config: {{ca_file: {}}}\n", missing.display()));
    let err = cfg.build().unwrap_err();
    assert!(
        matches!(
            err,
            HttpClientError::ReadFile {
                what: "tls_config.ca_file",
                ..
            }
        ),
        "{err:?}"
    );
    std::fs::write(&missing, "not a certificate").unwrap();
    // No PEM block at all is an empty bundle, which reqwest accepts.
    cfg.build().unwrap();
    let err = parse("proxy_url: '::not a url'\n").build().unwrap_err();
    assert!(
        err.to_string().starts_with("proxy_url \"::not a url\""),
        "{err}"
    );
    parse("proxy_url: http://proxy.example:3128\n")
        .build()
        .unwrap();
    parse("tls_config: {insecure_skip_verify: true}\nfollow_redirects: false\n")
        .build()
        .unwrap();
    let cfg = parse("tls_config: {min_version: TLS12, max_version: TLS13}\n");
    assert_eq!(
        cfg.tls_config.as_ref().unwrap().min_version,
        Some(TlsVersion::Tls12)
    );
    cfg.build().unwrap();
    // rustls has no TLS 1.1: a range that ends there leaves nothing to speak.
    let err = parse("tls_config: {max_version: TLS11}\n")
        .build()
        .unwrap_err();
    assert!(matches!(err, HttpClientError::Build(_)), "{err:?}");
}

#[test]
fn validate_runs_before_anything_is_read() {
    let err = parse("tls_config: {cert_file: /nonexistent/c}\n")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, HttpClientError::IncompleteClientCert { .. }),
        "{err:?}"
    );
}

#[test]
fn it_embeds_as_a_nested_http_config_as_alertmanager_receivers_do() {
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Webhook {
        #[allow(dead_code)]
        url: String,
        #[serde(default)]
        http_config: HttpClientConfig,
    }
    let w: Webhook = serde_saphyr::from_str("url: http://hook\n").unwrap();
    assert_eq!(w.http_config, HttpClientConfig::default());
    let w: Webhook = serde_saphyr::from_str(
        "url: http://hook\nhttp_config:\n  authorization: {credentials: x}\n  follow_redirects: false\n",
    )
    .unwrap();
    assert!(!w.http_config.follow_redirects);
    let err =
        serde_saphyr::from_str::<Webhook>("url: http://hook\nhttp_config:\n  bearer_tokn: x\n")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("unknown field `bearer_tokn`") && err.contains("line 3"),
        "{err}"
    );
}
