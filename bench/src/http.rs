//! The harness's HTTP client: a thin layer over a `ureq` agent (plain HTTP only, no TLS)
//! that returns status and body instead of turning 4xx/5xx into errors, because the
//! harness must tell retryable answers from hard failures itself.

use std::time::Duration;

use anyhow::{Context, Result};

/// A status code and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body as text (lossy for binary bodies).
    pub body: String,
}

impl Reply {
    /// True for 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A keep-alive HTTP client; clone it freely, clones share connections.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_idle_connections_per_host(16)
            .build()
            .into();
        Client { agent }
    }

    /// `GET url`.
    pub fn get(&self, url: &str) -> Result<Reply> {
        let resp = self
            .agent
            .get(url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        read(url, resp)
    }

    /// `POST url` with a form-encoded body (empty when `form` is empty).
    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Reply> {
        let req = self.agent.post(url);
        let resp = if form.is_empty() {
            req.send_empty()
        } else {
            req.send_form(form.iter().copied())
        }
        .with_context(|| format!("POST {url}"))?;
        read(url, resp)
    }

    /// `POST url` with a remote-write 1.0 body.
    pub fn post_remote_write(&self, url: &str, body: &[u8]) -> Result<Reply> {
        let resp = self
            .agent
            .post(url)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header("User-Agent", "orrery-bench")
            .send(body)
            .with_context(|| format!("POST {url}"))?;
        read(url, resp)
    }
}

fn read(url: &str, mut resp: ureq::http::Response<ureq::Body>) -> Result<Reply> {
    let status = resp.status().as_u16();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .with_context(|| format!("read response body of {url}"))?;
    Ok(Reply {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}
