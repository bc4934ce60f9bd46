//! Shared harness for the end-to-end tests: starts the real `orrery` binary (and other
//! programs such as Prometheus) on free loopback ports, waits until they answer, and
//! kills them on drop so that no process outlives a test, even one that panics. The
//! process harness, ports and RNG come from `orrery-testkit`; this module adds what is
//! specific to these tests (the `orrery` command lines, HTTP helpers over `ureq`).

// Every test binary compiles this module and uses a different subset of it.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub use orrery_testkit::proc::{spawn_ready, wait_ready, Proc, READY_TIMEOUT};
pub use orrery_testkit::rng::{mix as mix64, seed, Rng};

/// A port that was free a moment ago on 127.0.0.1. Another process may take it before we
/// use it; [`Orrery::start`] retries with a new one when that happens.
pub fn free_port() -> u16 {
    orrery_testkit::ports::free_port().expect("binding 127.0.0.1:0")
}

/// A blocking HTTP client that returns 4xx/5xx as statuses, not errors.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// Reads a response into (status, body text).
pub fn read_reply(mut resp: ureq::http::Response<ureq::Body>) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()
        .unwrap_or_else(|e| format!("<unreadable body: {e}>"));
    (status, body)
}

/// `GET url` with query parameters; the body must be JSON with `"status":"success"`.
/// Returns the `data` member.
pub fn get_api(agent: &ureq::Agent, url: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let resp = agent
        .get(url)
        .query_pairs(query.iter().copied())
        .call()
        .unwrap_or_else(|e| panic!("GET {url} {query:?}: {e}"));
    let (status, body) = read_reply(resp);
    assert_eq!(status, 200, "GET {url} {query:?} answered {status}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("GET {url}: body is not JSON ({e}): {body}"));
    assert_eq!(v["status"], "success", "GET {url} {query:?}: {body}");
    v["data"].clone()
}

/// Posts a snappy-compressed remote-write body: 1.0 from `orrery_wire::encode_v1`, or
/// 2.0 from `encode_v2` when `v2` is set. Returns the status and body, or the transport
/// error (connection refused or reset when the server is gone).
pub fn post_remote_write(
    agent: &ureq::Agent,
    url: &str,
    v2: bool,
    body: &[u8],
) -> Result<(u16, String), ureq::Error> {
    let (content_type, version) = if v2 {
        (
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            "2.0.0",
        )
    } else {
        ("application/x-protobuf", "0.1.0")
    };
    let resp = agent
        .post(url)
        .header("Content-Type", content_type)
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", version)
        .send(body)?;
    Ok(read_reply(resp))
}

/// Debian's node-exporter, scraped by the tests that find it installed.
pub const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// Starts [`NODE_EXPORTER`] on a free port and waits until it serves `/metrics`.
pub fn start_node_exporter() -> (Proc, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let proc = spawn_ready(
        "node-exporter",
        Command::new(NODE_EXPORTER).arg(format!("--web.listen-address={addr}")),
        &format!("http://{addr}/metrics"),
    );
    (proc, addr)
}

/// Starts an `orrery` subcommand (`what`, e.g. "orrery server") listening on a free port,
/// with its output in the log `name`, and waits for its `/-/ready`. `command` gives the
/// command line for a listen address. If the port was taken in between, tries again with
/// another one.
pub fn start_on_free_port(
    name: &str,
    what: &str,
    data_dir: &Path,
    command: impl Fn(SocketAddr) -> Command,
) -> (Proc, SocketAddr) {
    orrery_testkit::proc::start_on_free_port(
        name,
        &format!("{what} (data dir {})", data_dir.display()),
        command,
    )
}

/// A running `orrery server`.
pub struct Orrery {
    /// The process; SIGKILLed on drop.
    pub proc: Proc,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Orrery {
    /// The `orrery server` command line for a data directory, port and optional config.
    pub fn command(data_dir: &Path, port: u16, config: Option<&Path>) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orrery"));
        cmd.arg("server")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        cmd.env("ORRERY_LOG", "info");
        cmd
    }

    /// Starts a server and waits for `/-/ready`. If the port was taken in between, tries
    /// again with another one.
    pub fn start(data_dir: &Path, config: Option<&Path>) -> Orrery {
        let (proc, addr) = start_on_free_port("orrery", "orrery server", data_dir, |addr| {
            Self::command(data_dir, addr.port(), config)
        });
        Orrery { proc, addr }
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Kills the server with SIGKILL: no chance to flush or clean up.
    pub fn sigkill(&mut self) {
        let s = self.proc.kill();
        println!("orrery server pid {} SIGKILLed ({s})", self.proc.pid());
    }

    /// SIGTERM and wait for a clean exit; the exit code must be 0.
    pub fn terminate(&mut self) {
        self.proc.terminate(Duration::from_secs(30));
    }

    /// The value of an unlabelled sample in `/metrics`, or `None` if it is absent.
    pub fn metric(&self, agent: &ureq::Agent, name: &str) -> Option<f64> {
        let resp = agent
            .get(&self.url("/metrics"))
            .call()
            .expect("GET /metrics");
        let (status, body) = read_reply(resp);
        assert_eq!(status, 200, "GET /metrics: {body}");
        body.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(' ')?;
            rest.trim().parse().ok()
        })
    }
}
