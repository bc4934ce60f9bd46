//! Why client settings are unusable or a client cannot be made. Validation messages are
//! Prometheus's own (`prometheus/common/config/http_config.go`), so users searching for
//! them find the upstream documentation.

use std::path::PathBuf;

/// What is wrong with an [`HttpClientConfig`](crate::HttpClientConfig) or its files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpClientError {
    /// Two settings that exclude each other are both set; the message is Prometheus's.
    #[error("{0}")]
    Conflict(&'static str),
    /// `authorization.type` is `Basic`.
    #[error("authorization type cannot be set to \"basic\", use \"basic_auth\" instead")]
    BasicAuthorizationType,
    /// Only one half of the client certificate pair is set.
    #[error("exactly one of {missing} must be configured when a client {present} is configured")]
    IncompleteClientCert {
        /// What is missing (`key or key_file`).
        missing: &'static str,
        /// What is set (`certificate`).
        present: &'static str,
    },
    /// `proxy_url` is not a usable proxy URL.
    #[error("proxy_url {url:?}: {source}")]
    ProxyUrl {
        /// The configured URL.
        url: String,
        /// reqwest's reason.
        #[source]
        source: reqwest::Error,
    },
    /// A file named by the settings could not be read.
    #[error("{what}: reading {path}: {source}", path = .path.display())]
    ReadFile {
        /// Which setting named the file (`tls_config.ca_file`, `bearer_token_file`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key file does not hold usable PEM.
    #[error("{what}: {source}")]
    Pem {
        /// Which setting (`tls_config.ca_file`, `tls_config client certificate`).
        what: &'static str,
        /// reqwest's reason.
        #[source]
        source: reqwest::Error,
    },
    /// A secret cannot be sent as a header value (it holds a control character).
    #[error("{what}: not a valid header value")]
    HeaderValue {
        /// Which setting the secret came from.
        what: &'static str,
    },
    /// reqwest refused the assembled client.
    #[error("building the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}
