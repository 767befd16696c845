//! `--healthcheck`: a tiny HTTP/1.0 GET of `/readyz` over a plain TCP socket, so the container
//! image needs no curl or wget.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Why the health check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("connecting to {addr}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to {addr}")]
    Io {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr} answered: {status_line}")]
    NotReady {
        addr: SocketAddr,
        status_line: String,
    },
}

/// Checks `GET /readyz` on `listen` (an unspecified IP is reached through loopback).
pub fn check(listen: SocketAddr) -> Result<(), HealthcheckError> {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|source| HealthcheckError::Connect { addr, source })?;
    let io = |source| HealthcheckError::Io { addr, source };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(io)?;
    let mut response = Vec::new();
    stream.take(4096).read_to_end(&mut response).map_err(io)?;
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or("").to_string();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(HealthcheckError::NotReady { addr, status_line })
    }
}
