//! A small blocking HTTP/1.1 server for the `agent` phase's scrape fixture and
//! remote-write sink: one thread per listener accepting, one thread per connection,
//! keep-alive, `Content-Length` and chunked request bodies.
//!
//! It serves the harness's own loopback traffic only, from two well-behaved clients (Go's
//! `net/http` and `reqwest`), so it reads just what those send and answers anything it
//! cannot read by closing the connection. Threads live until the harness exits; the
//! systems under test are stopped before that, which closes their connections.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// Largest request head or body the server reads; more closes the connection.
const MAX_HEAD: usize = 64 << 10;
const MAX_BODY: usize = 256 << 20;

/// One request as read from the connection.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    headers: Vec<(String, String)>,
    /// The body (de-chunked), empty when there is none.
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a handler answers.
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Content-Length` is added, except for 204).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A request handler shared by every connection of a listener.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Binds `127.0.0.1:0` and serves `handler` there on background threads.
pub fn serve_loopback(handler: Handler) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name(format!("accept-{}", addr.port()))
        .stack_size(64 << 10)
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let handler = handler.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("conn-{}", addr.port()))
                    .stack_size(256 << 10)
                    .spawn(move || {
                        let _ = serve_connection(conn, &handler);
                    });
                if spawned.is_err() {
                    // Out of threads: the connection was moved into the failed closure and
                    // is closed; the client retries.
                    continue;
                }
            }
        })?;
    Ok(addr)
}

fn serve_connection(conn: TcpStream, handler: &Handler) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut writer = conn.try_clone()?;
    let mut reader = BufReader::with_capacity(64 << 10, conn);
    while let Some(req) = read_request(&mut reader)? {
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let resp = handler(&req);
        write_response(&mut writer, &resp)?;
        if close {
            break;
        }
    }
    Ok(())
}

/// Reads one request; `None` at a clean end of stream before a request starts.
fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut head_bytes = 0usize;
    let mut line = String::new();
    // Tolerate stray empty lines between requests (RFC 9112 §2.2).
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        head_bytes += line.len();
        if !line.trim().is_empty() {
            break;
        }
        if head_bytes > MAX_HEAD {
            return Err(bad("request head too long"));
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().ok_or_else(|| bad("no method"))?.to_string();
    let path = parts.next().ok_or_else(|| bad("no target"))?.to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("end of stream in request head"));
        }
        head_bytes += line.len();
        if head_bytes > MAX_HEAD {
            return Err(bad("request head too long"));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').ok_or_else(|| bad("header without ':'"))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        req.body = read_chunked(r)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(bad("body too large"));
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(Some(req))
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        line.clear();
        r.read_line(&mut line)?; // CRLF after the chunk
    }
}

fn write_response(w: &mut impl Write, resp: &Response) -> io::Result<()> {
    let reason = match resp.status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Status",
    };
    let mut out = Vec::with_capacity(256 + resp.body.len());
    write!(out, "HTTP/1.1 {} {reason}\r\n", resp.status)?;
    for (n, v) in &resp.headers {
        write!(out, "{n}: {v}\r\n")?;
    }
    // RFC 9110 §8.6: no Content-Length in a 204.
    if resp.status != 204 {
        write!(out, "Content-Length: {}\r\n", resp.body.len())?;
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&resp.body);
    // One write, so the head and body leave in the same segments.
    w.write_all(&out)?;
    w.flush()
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_length_and_chunked_bodies_on_one_connection() {
        let wire = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
GET /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n1;x=y\r\n!\r\n0\r\n\r\n";
        let mut r = BufReader::new(&wire[..]);
        let a = read_request(&mut r).unwrap().unwrap();
        assert_eq!((a.method.as_str(), a.path.as_str()), ("POST", "/a"));
        assert_eq!(a.body, b"abc");
        assert_eq!(a.header("HOST"), Some("x"));
        let b = read_request(&mut r).unwrap().unwrap();
        assert_eq!(b.body, b"hi!");
        assert!(read_request(&mut r).unwrap().is_none());
    }

    #[test]
    fn serves_over_tcp() {
        let addr = serve_loopback(Arc::new(|req: &Request| Response {
            status: 200,
            headers: vec![("Content-Type", "text/plain".into())],
            body: req.path.clone().into_bytes(),
        }))
        .unwrap();
        let client = crate::http::Client::new(std::time::Duration::from_secs(5));
        for _ in 0..2 {
            let r = client.get(&format!("http://{addr}/metrics/7")).unwrap();
            assert_eq!((r.status, r.body.as_str()), (200, "/metrics/7"));
        }
    }
}
