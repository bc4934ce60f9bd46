//! Shared harness for the end-to-end tests: starts the real `orrery` binary (and other
//! programs such as Prometheus) on free loopback ports, waits until they answer, and
//! kills them on drop so that no process outlives a test, even one that panics. Each
//! process writes its output to a log file whose tail is printed when a test fails.

// Every test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer `/-/ready` after it starts (WAL replay included).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A port that was free a moment ago on 127.0.0.1. Another process may take it before we
/// use it; [`Orrery::start`] retries with a new one when that happens.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr()
        .expect("local_addr of a bound listener")
        .port()
}

/// A child process whose stdout and stderr go to a log file. Dropping it sends SIGKILL
/// and reaps it; if the thread is panicking, the end of the log is printed first.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
    _log_dir: tempfile::TempDir,
}

impl Proc {
    /// Starts `cmd`, with stdin closed and output in a fresh log file.
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let log_dir = tempfile::Builder::new()
            .prefix("orrery-e2e-log-")
            .tempdir()
            .expect("creating a log directory");
        let log = log_dir.path().join(format!("{name}.log"));
        let out = File::create(&log).expect("creating a log file");
        let err = out.try_clone().expect("cloning a log file handle");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({:?}): {e}", cmd.get_program()));
        Proc {
            name: name.to_string(),
            child,
            log,
            status: None,
            _log_dir: log_dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process has written so far.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The exit status if the process has ended, without waiting.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait on a child");
        }
        self.status
    }

    /// Waits up to `timeout` for the process to end.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, then reap. Returns the exit status.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(s) = self.status {
            return s;
        }
        // Child::kill sends SIGKILL on Unix.
        let _ = self.child.kill();
        let s = self.child.wait().expect("waiting for a killed child");
        self.status = Some(s);
        s
    }

    /// Sends `sig` and waits up to `timeout` for the process to exit; on timeout it is
    /// killed and the test fails.
    pub fn signal_and_wait(&mut self, sig: libc::c_int, timeout: Duration) -> ExitStatus {
        if let Some(s) = self.try_status() {
            panic!("{} had already exited ({s}) before signal {sig}", self.name);
        }
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits pid_t");
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet (so it cannot have
        // been reused) and a valid signal number; it touches no memory.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {sig}) failed: {}",
            std::io::Error::last_os_error()
        );
        match self.wait_timeout(timeout) {
            Some(s) => s,
            None => {
                self.kill();
                panic!(
                    "{} did not exit within {timeout:?} of signal {sig}; log tail:\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let alive = self.try_status().is_none();
        if alive {
            self.kill();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- last lines of the {} log ({}) ----\n{}\n---- end of {} log ----",
                self.name,
                if alive {
                    "killed by the harness"
                } else {
                    "had exited"
                },
                self.log_tail(60),
                self.name
            );
        }
    }
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

/// Polls `url` until it answers 200, the process exits, or `timeout` passes.
pub fn wait_ready(proc: &mut Proc, url: &str, timeout: Duration) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let started = Instant::now();
    loop {
        if let Some(s) = proc.try_status() {
            return Err(format!(
                "{} exited ({s}) before {url} answered; log tail:\n{}",
                proc.name,
                proc.log_tail(40)
            ));
        }
        if let Ok(resp) = agent.get(url).call() {
            if resp.status() == 200 {
                return Ok(());
            }
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "{url} did not answer 200 within {timeout:?}; {} log tail:\n{}",
                proc.name,
                proc.log_tail(40)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `cmd`, with its output in the log `name`, and waits until `url` answers 200;
/// panics if it does not within [`READY_TIMEOUT`].
pub fn spawn_ready(name: &str, cmd: &mut Command, url: &str) -> Proc {
    let started = Instant::now();
    let mut proc = Proc::spawn(name, cmd);
    wait_ready(&mut proc, url, READY_TIMEOUT)
        .unwrap_or_else(|e| panic!("{name} did not start: {e}"));
    println!(
        "{name} pid {} ready at {url} in {:?}",
        proc.pid(),
        started.elapsed()
    );
    proc
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
    let mut last = String::new();
    for _ in 0..3 {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let started = Instant::now();
        let mut proc = Proc::spawn(name, &mut command(addr));
        match wait_ready(&mut proc, &format!("http://{addr}/-/ready"), READY_TIMEOUT) {
            Ok(()) => {
                println!(
                    "{what} pid {} ready on {addr} in {:?} (data dir {})",
                    proc.pid(),
                    started.elapsed(),
                    data_dir.display()
                );
                return (proc, addr);
            }
            Err(e) if proc.log_text().contains("Address already in use") => last = e,
            Err(e) => panic!("{what} did not start: {e}"),
        }
    }
    panic!("{what} did not start (port taken three times): {last}");
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
        let started = Instant::now();
        let s = self
            .proc
            .signal_and_wait(libc::SIGTERM, Duration::from_secs(30));
        assert_eq!(
            s.code(),
            Some(0),
            "orrery server exited with {s} after SIGTERM; log tail:\n{}",
            self.proc.log_tail(40)
        );
        println!(
            "orrery server pid {} exited 0 after SIGTERM in {:?}",
            self.proc.pid(),
            started.elapsed()
        );
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

/// The seed for a randomised test: `ORRERY_TEST_SEED` if set, otherwise the clock. It is
/// printed so that a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var("ORRERY_TEST_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("ORRERY_TEST_SEED={s:?} is not a u64: {e}")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    println!("{test}: seed {seed} (replay with ORRERY_TEST_SEED={seed})");
    seed
}

/// A small deterministic generator (SplitMix64); good enough to pick delays and values.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// A number in `[lo, hi)`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo < hi, "empty range {lo}..{hi}");
        lo + self.next_u64() % (hi - lo)
    }
}

/// SplitMix64's finaliser: a stateless hash of `x`.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
