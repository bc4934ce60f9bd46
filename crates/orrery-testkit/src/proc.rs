//! Child processes for end-to-end tests and benchmarks: started with stdin closed and
//! stdout and stderr in one log file, probed until they answer HTTP 200, stopped with a
//! signal, and killed on drop so that none outlives a test, even one that panics (the
//! tail of its log is printed then).
//!
//! The readiness probe speaks just enough HTTP/1.1 over a `TcpStream` to read a status
//! line, so this crate needs no HTTP client.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its readiness URL after it starts (WAL replay
/// included).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A child process whose stdout and stderr go to a log file. Dropping it sends SIGKILL
/// and reaps it; if the thread is panicking, the end of the log is printed first.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
    _log_dir: Option<tempfile::TempDir>,
}

impl Proc {
    /// Starts `cmd`, with stdin closed and output in a fresh log file `<name>.log` in a
    /// temporary directory that goes away with the `Proc`.
    ///
    /// # Panics
    /// When the log file cannot be created or the program cannot be started.
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let log_dir = tempfile::Builder::new()
            .prefix("orrery-e2e-log-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a log directory for {name}: {e}"));
        let log = log_dir.path().join(format!("{name}.log"));
        let mut proc = Proc::spawn_logged(name, cmd, &log)
            .unwrap_or_else(|e| panic!("starting {name} ({:?}): {e}", cmd.get_program()));
        proc._log_dir = Some(log_dir);
        proc
    }

    /// Starts `cmd`, with stdin closed and output in the file `log` (created or
    /// truncated), which stays after the process ends.
    pub fn spawn_logged(name: &str, cmd: &mut Command, log: &Path) -> std::io::Result<Proc> {
        let out = File::create(log)?;
        let err = out.try_clone()?;
        let child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn()?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            status: None,
            _log_dir: None,
        })
    }

    /// The name given at spawn (used in messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process has written so far (empty if the log cannot be read).
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }

    /// The exit status if the process has ended, without waiting. A failed `waitpid`
    /// counts as "still running".
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
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
    ///
    /// # Panics
    /// When the killed child cannot be reaped (not ours any more: a harness bug).
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(s) = self.status {
            return s;
        }
        // Child::kill sends SIGKILL on Unix.
        let _ = self.child.kill();
        let s = self
            .child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for the killed {}: {e}", self.name));
        self.status = Some(s);
        s
    }

    /// Sends `sig` to the process, which must still be running (not reaped).
    pub fn signal(&mut self, sig: libc::c_int) -> std::io::Result<()> {
        if let Some(s) = self.try_status() {
            return Err(std::io::Error::other(format!(
                "{} had already exited ({s}) before signal {sig}",
                self.name
            )));
        }
        let pid = libc::pid_t::try_from(self.pid()).map_err(std::io::Error::other)?;
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet (so it cannot have
        // been reused) and a signal number; it touches no memory.
        let rc = unsafe { libc::kill(pid, sig) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Sends `sig` and waits up to `timeout` for the process to exit; on timeout it is
    /// killed and the test fails.
    ///
    /// # Panics
    /// When the process had already exited, the signal cannot be sent, or it does not
    /// exit in time.
    pub fn signal_and_wait(&mut self, sig: libc::c_int, timeout: Duration) -> ExitStatus {
        if let Err(e) = self.signal(sig) {
            panic!("signal {sig} to {}: {e}", self.name);
        }
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

    /// SIGTERM, and the process must exit with code 0 within `timeout` (a clean
    /// shutdown).
    ///
    /// # Panics
    /// When it does not, with the tail of its log.
    pub fn terminate(&mut self, timeout: Duration) {
        let started = Instant::now();
        let s = self.signal_and_wait(libc::SIGTERM, timeout);
        assert_eq!(
            s.code(),
            Some(0),
            "{} exited with {s} after SIGTERM; log tail:\n{}",
            self.name,
            self.log_tail(40)
        );
        println!(
            "{} pid {} exited 0 after SIGTERM in {:?}",
            self.name,
            self.pid(),
            started.elapsed()
        );
    }

    /// Stops the process without failing: SIGTERM, then SIGKILL if it is still running
    /// after `grace`. Returns the exit status.
    pub fn stop(&mut self, grace: Duration) -> ExitStatus {
        if self.signal(libc::SIGTERM).is_ok() {
            if let Some(s) = self.wait_timeout(grace) {
                return s;
            }
        }
        self.kill()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let alive = self.try_status().is_none();
        if alive {
            let _ = self.child.kill();
            let _ = self.child.wait();
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

/// The last `n` lines of the file `log` (empty if it cannot be read).
pub fn log_tail(log: &Path, n: usize) -> String {
    let text = std::fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The HTTP status of `GET url` (`http://host:port/path` only), or an error text.
pub fn http_status(url: &str, timeout: Duration) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are probed"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    // One write: `write!` on the unbuffered stream would send each piece separately.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    // "HTTP/1.1 200 OK": the status is the second word of the first line.
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < head.len() {
        match s.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(e.to_string()),
        }
        if head[..n].contains(&b'\n') {
            break;
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {line:?}"))
}

/// Polls `url` until it answers 200, the process exits, or `timeout` passes.
pub fn wait_ready(proc: &mut Proc, url: &str, timeout: Duration) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if let Some(s) = proc.try_status() {
            return Err(format!(
                "{} exited ({s}) before {url} answered; log tail:\n{}",
                proc.name,
                proc.log_tail(40)
            ));
        }
        if http_status(url, Duration::from_secs(2)) == Ok(200) {
            return Ok(());
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

/// Starts `cmd`, with its output in the log `name`, and waits until `url` answers 200.
///
/// # Panics
/// When it does not within [`READY_TIMEOUT`].
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

/// Starts a server (`what` names it in messages, e.g. "orrery server") listening on a
/// free port, with its output in the log `name`, and waits for `http://addr/-/ready`.
/// `command` gives the command line for a listen address. If the port was taken in
/// between, tries again with another one.
///
/// # Panics
/// When the server does not start, or the port is taken three times.
pub fn start_on_free_port(
    name: &str,
    what: &str,
    command: impl Fn(SocketAddr) -> Command,
) -> (Proc, SocketAddr) {
    let mut last = String::new();
    for _ in 0..3 {
        let addr = crate::ports::free_addr()
            .unwrap_or_else(|e| panic!("finding a free port for {what}: {e}"));
        let started = Instant::now();
        let mut proc = Proc::spawn(name, &mut command(addr));
        match wait_ready(&mut proc, &format!("http://{addr}/-/ready"), READY_TIMEOUT) {
            Ok(()) => {
                println!(
                    "{what} pid {} ready on {addr} in {:?}",
                    proc.pid(),
                    started.elapsed()
                );
                return (proc, addr);
            }
            Err(e) if proc.log_text().contains("Address already in use") => last = e,
            Err(e) => panic!("{what} did not start: {e}"),
        }
    }
    panic!("{what} did not start (port taken three times): {last}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_writes_its_log_and_stops_on_sigterm() {
        let mut p = Proc::spawn(
            "sh",
            Command::new("sh").args(["-c", "echo one; echo two >&2; exec sleep 30"]),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !p.log_text().contains("two") {
            assert!(Instant::now() < deadline, "log: {:?}", p.log_text());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(p.log_tail(1), "two");
        let s = p.stop(Duration::from_secs(10));
        assert!(!s.success(), "sleep ended by SIGTERM: {s}");
        assert_eq!(p.try_status(), Some(s));
    }

    #[test]
    fn a_process_that_exits_before_it_is_ready_is_reported() {
        let mut p = Proc::spawn("false", &mut Command::new("false"));
        let port = crate::ports::free_port().unwrap();
        let e = wait_ready(
            &mut p,
            &format!("http://127.0.0.1:{port}/-/ready"),
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(e.contains("false exited"), "{e}");
    }

    #[test]
    fn the_probe_reads_the_status_of_a_real_answer() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 256];
            while !req.ends_with(b"\r\n\r\n") {
                let n = c.read(&mut buf).unwrap();
                assert!(n > 0, "request ended early: {req:?}");
                req.extend_from_slice(&buf[..n]);
            }
            assert!(req.starts_with(b"GET /-/ready HTTP/1.1\r\n"), "{req:?}");
            c.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        });
        let got = http_status(&format!("http://{addr}/-/ready"), Duration::from_secs(5));
        t.join().unwrap();
        assert_eq!(got, Ok(503));
    }
}
