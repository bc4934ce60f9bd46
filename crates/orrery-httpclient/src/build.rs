//! From settings to a `reqwest::Client` (TLS, redirects, proxy) and, per request, to the
//! credentials it carries. Only `client_builder` and `read_secret` touch the filesystem:
//! certificates once per client, secret files once per request.

use std::path::{Path, PathBuf};

use reqwest::header::{HeaderValue, AUTHORIZATION};

use crate::{HttpClientConfig, HttpClientError};

/// Most redirects followed, as Go's `net/http` client (and so Prometheus).
const MAX_REDIRECTS: usize = 10;

/// Reads a secret file as Prometheus does: the whole file, without surrounding
/// whitespace (a trailing newline is never part of a token). `what` names the setting
/// in the error.
pub fn read_secret(what: &'static str, path: &Path) -> Result<String, HttpClientError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| HttpClientError::ReadFile {
            what,
            path: path.to_owned(),
            source,
        })
}

fn read_file(what: &'static str, path: &PathBuf) -> Result<Vec<u8>, HttpClientError> {
    std::fs::read(path).map_err(|source| HttpClientError::ReadFile {
        what,
        path: path.clone(),
        source,
    })
}

impl HttpClientConfig {
    /// Validates the settings and returns a client builder with TLS, redirects and proxy
    /// set, for callers that add their own timeouts or user agent. Certificate files are
    /// read now. Installs rustls's ring provider if no provider is installed yet (reqwest
    /// is built without one).
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder, HttpClientError> {
        self.validate()?;
        // A second install fails harmlessly: some other component was first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder().redirect(if self.follow_redirects {
            reqwest::redirect::Policy::limited(MAX_REDIRECTS)
        } else {
            reqwest::redirect::Policy::none()
        });
        if let Some(url) = &self.proxy_url {
            let proxy = reqwest::Proxy::all(url).map_err(|source| HttpClientError::ProxyUrl {
                url: url.clone(),
                source,
            })?;
            b = b.proxy(proxy);
        }
        if let Some(tls) = &self.tls_config {
            if let Some(ca) = &tls.ca_file {
                let pem = read_file("tls_config.ca_file", ca)?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
                    HttpClientError::Pem {
                        what: "tls_config.ca_file",
                        source,
                    }
                })?;
                for cert in certs {
                    b = b.add_root_certificate(cert);
                }
            }
            if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
                let mut pem = read_file("tls_config.cert_file", cert)?;
                pem.extend(read_file("tls_config.key_file", key)?);
                let identity =
                    reqwest::Identity::from_pem(&pem).map_err(|source| HttpClientError::Pem {
                        what: "tls_config client certificate",
                        source,
                    })?;
                b = b.identity(identity);
            }
            if let Some(v) = tls.min_version {
                b = b.tls_version_min(v.to_reqwest());
            }
            if let Some(v) = tls.max_version {
                b = b.tls_version_max(v.to_reqwest());
            }
            if tls.insecure_skip_verify {
                b = b.danger_accept_invalid_certs(true);
            }
        }
        Ok(b)
    }

    /// Validates the settings and makes the client (see
    /// [`client_builder`](Self::client_builder)).
    pub fn build(&self) -> Result<reqwest::Client, HttpClientError> {
        self.client_builder()?
            .build()
            .map_err(HttpClientError::Build)
    }

    /// Adds the credentials to one request: basic auth, the bearer token (inline or
    /// file) or `authorization`'s scheme and credentials. Files are read on every call,
    /// as Prometheus's round trippers do. `authorization` without credentials sends no
    /// header.
    pub fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, HttpClientError> {
        if let Some(b) = &self.basic_auth {
            let password = match (&b.password, &b.password_file) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(f)) => Some(read_secret("basic_auth.password_file", f)?),
                (None, None) => None,
            };
            return Ok(request.basic_auth(&b.username, password));
        }
        let (what, scheme, credentials) = if let Some(t) = &self.bearer_token {
            ("bearer_token", "Bearer", t.clone())
        } else if let Some(f) = &self.bearer_token_file {
            (
                "bearer_token_file",
                "Bearer",
                read_secret("bearer_token_file", f)?,
            )
        } else if let Some(a) = &self.authorization {
            let credentials = match (&a.credentials, &a.credentials_file) {
                (Some(c), _) => c.clone(),
                (None, Some(f)) => read_secret("authorization.credentials_file", f)?,
                (None, None) => return Ok(request),
            };
            ("authorization", a.scheme(), credentials)
        } else {
            return Ok(request);
        };
        let mut value = HeaderValue::from_str(&format!("{scheme} {credentials}"))
            .map_err(|_| HttpClientError::HeaderValue { what })?;
        value.set_sensitive(true);
        Ok(request.header(AUTHORIZATION, value))
    }
}
