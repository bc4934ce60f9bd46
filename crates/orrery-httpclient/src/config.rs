//! The settings' serde shape and Prometheus's validation rules
//! (`HTTPClientConfig.Validate`, `TLSConfig.Validate`), without OAuth 2.0 and the
//! `*_ref` secret references, which nothing here can resolve.

use std::path::PathBuf;

use serde::Deserialize;

use crate::HttpClientError;

/// Prometheus's `http_config`: how to authenticate, verify TLS, follow redirects and
/// reach the other side.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpClientConfig {
    /// HTTP basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header.
    pub authorization: Option<Authorization>,
    /// A bearer token (Prometheus's legacy field; `authorization` is preferred).
    pub bearer_token: Option<String>,
    /// A file with a bearer token (legacy field), read for every request.
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings.
    pub tls_config: Option<TlsConfig>,
    /// Follow HTTP 3xx redirects, at most 10 (true).
    pub follow_redirects: bool,
    /// Accepted for compatibility; HTTP/1.1 is used.
    pub enable_http2: Option<bool>,
    /// Send every request through this HTTP proxy (`http://host:port`). Absent means
    /// the `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` environment, as before.
    pub proxy_url: Option<String>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: None,
            follow_redirects: true,
            enable_http2: None,
            proxy_url: None,
        }
    }
}

/// `basic_auth:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password inline.
    #[serde(default)]
    pub password: Option<String>,
    /// File with the password, read for every request.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `authorization:`, the `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme; absent or empty means `Bearer`. `Basic` is refused (use
    /// `basic_auth`).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Credentials inline.
    #[serde(default)]
    pub credentials: Option<String>,
    /// File with the credentials, read for every request.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

impl Authorization {
    /// The scheme in force: `type` without surrounding space, `Bearer` if that is empty.
    pub fn scheme(&self) -> &str {
        match self.kind.as_deref().map(str::trim) {
            Some(k) if !k.is_empty() => k,
            _ => "Bearer",
        }
    }
}

/// `tls_config:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificate(s) to trust (PEM), besides the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM); needs `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM); needs `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Server name to verify. Accepted; the URL's host is verified (Kubernetes
    /// discovery passes it on as the kubeconfig's `tls-server-name`).
    #[serde(default)]
    pub server_name: Option<String>,
    /// Skip certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Lowest TLS version to accept (`TLS10` to `TLS13`; rustls speaks 1.2 and 1.3 only,
    /// so a lower minimum changes nothing).
    #[serde(default)]
    pub min_version: Option<TlsVersion>,
    /// Highest TLS version to accept.
    #[serde(default)]
    pub max_version: Option<TlsVersion>,
}

/// A TLS protocol version, written as Prometheus writes it (`TLS12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.0.
    #[serde(rename = "TLS10")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLS11")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

impl TlsVersion {
    /// reqwest's name for it.
    pub(crate) fn to_reqwest(self) -> reqwest::tls::Version {
        match self {
            TlsVersion::Tls10 => reqwest::tls::Version::TLS_1_0,
            TlsVersion::Tls11 => reqwest::tls::Version::TLS_1_1,
            TlsVersion::Tls12 => reqwest::tls::Version::TLS_1_2,
            TlsVersion::Tls13 => reqwest::tls::Version::TLS_1_3,
        }
    }
}

impl TlsConfig {
    /// Prometheus's `TLSConfig.Validate`: a client certificate needs its key and back,
    /// and the version range must not be empty.
    pub fn validate(&self) -> Result<(), HttpClientError> {
        if let (Some(min), Some(max)) = (self.min_version, self.max_version) {
            if min > max {
                return Err(HttpClientError::Conflict(
                    "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified",
                ));
            }
        }
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => Err(HttpClientError::IncompleteClientCert {
                missing: "key or key_file",
                present: "certificate",
            }),
            (None, Some(_)) => Err(HttpClientError::IncompleteClientCert {
                missing: "cert or cert_file",
                present: "key",
            }),
            _ => Ok(()),
        }
    }
}

impl HttpClientConfig {
    /// Checks the settings as Prometheus's `HTTPClientConfig.Validate` does, with its
    /// messages; nothing is read from disk.
    pub fn validate(&self) -> Result<(), HttpClientError> {
        let bearer = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err(HttpClientError::Conflict(
                "at most one of bearer_token & bearer_token_file must be configured",
            ));
        }
        if self.basic_auth.is_some() && bearer {
            return Err(HttpClientError::Conflict(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            ));
        }
        if let Some(b) = &self.basic_auth {
            if b.password.is_some() && b.password_file.is_some() {
                return Err(HttpClientError::Conflict(
                    "at most one of basic_auth password & password_file must be configured",
                ));
            }
        }
        if let Some(a) = &self.authorization {
            if bearer {
                return Err(HttpClientError::Conflict(
                    "authorization is not compatible with bearer_token & bearer_token_file",
                ));
            }
            if a.credentials.is_some() && a.credentials_file.is_some() {
                return Err(HttpClientError::Conflict(
                    "at most one of authorization credentials & credentials_file must be configured",
                ));
            }
            if a.scheme().eq_ignore_ascii_case("basic") {
                return Err(HttpClientError::BasicAuthorizationType);
            }
            if self.basic_auth.is_some() {
                return Err(HttpClientError::Conflict(
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
        }
        if let Some(t) = &self.tls_config {
            t.validate()?;
        }
        Ok(())
    }
}
