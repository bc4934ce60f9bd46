//! Free loopback ports for processes a test or benchmark starts.
//!
//! A port found by binding `127.0.0.1:0` and releasing it was free a moment ago; another
//! process may take it before the child binds it. Callers that start servers therefore
//! retry with a new port when the child reports "Address already in use"
//! ([`crate::proc::start_on_free_port`] does).

use std::net::{SocketAddr, TcpListener};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// `127.0.0.1:<a free port>`.
pub fn free_addr() -> std::io::Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
}
