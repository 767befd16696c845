//! `--healthcheck`: a tiny HTTP/1.0 GET of `/readyz` over a plain TCP socket, so the container
//! image needs no curl or wget. It needs only the listen address — from
//! `GITHUB_STATS_SERVER__LISTEN_ADDR`, else `server.listen_addr` of the `--config` file, else the
//! default — never the rest of the configuration (the process that serves has validated that).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// The variable that sets `server.listen_addr`.
pub const LISTEN_ENV: &str = "GITHUB_STATS_SERVER__LISTEN_ADDR";
/// `server.listen_addr`'s built-in default (a test keeps it equal to the configuration's).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

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
    #[error("reading server.listen_addr from {path}")]
    ConfigFile {
        path: String,
        #[source]
        source: ::config::ConfigError,
    },
    #[error("{source_name} is not a socket address (ip:port): {value:?}")]
    BadAddress { source_name: String, value: String },
    #[error("{addr} answered: {status_line}")]
    NotReady {
        addr: SocketAddr,
        status_line: String,
    },
}

/// The address to check: `env_value` (of [`LISTEN_ENV`]) when set, else `server.listen_addr` of
/// `config_path` when the file sets it, else [`DEFAULT_LISTEN`].
pub fn listen_addr(
    env_value: Option<&str>,
    config_path: Option<&Path>,
) -> Result<SocketAddr, HealthcheckError> {
    let (source_name, value) = match (env_value, config_path) {
        (Some(value), _) => (LISTEN_ENV.to_string(), value.to_string()),
        (None, Some(path)) => {
            let file_error = |source| HealthcheckError::ConfigFile {
                path: path.display().to_string(),
                source,
            };
            let tree = ::config::Config::builder()
                .add_source(::config::File::from(path))
                .build()
                .map_err(file_error)?;
            match tree.get_string("server.listen_addr") {
                Ok(value) => (path.display().to_string(), value),
                Err(::config::ConfigError::NotFound(_)) => {
                    ("default".to_string(), DEFAULT_LISTEN.to_string())
                }
                Err(error) => return Err(file_error(error)),
            }
        }
        (None, None) => ("default".to_string(), DEFAULT_LISTEN.to_string()),
    };
    value
        .trim()
        .parse()
        .map_err(|_| HealthcheckError::BadAddress { source_name, value })
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// The environment wins, then the file, then the default; nothing else is read.
    #[test]
    fn listen_addr_layers() {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        // A file the full loader would reject (no orgs, unknown key): only listen_addr matters.
        writeln!(
            file,
            "[server]\nlisten_addr = \"127.0.0.1:9123\"\n[nonsense]\nx = 1"
        )
        .unwrap();
        let path = Some(file.path());
        assert_eq!(
            listen_addr(Some("127.0.0.1:7000"), path)
                .unwrap()
                .to_string(),
            "127.0.0.1:7000"
        );
        assert_eq!(
            listen_addr(None, path).unwrap().to_string(),
            "127.0.0.1:9123"
        );
        assert_eq!(listen_addr(None, None).unwrap().to_string(), DEFAULT_LISTEN);
        let mut empty = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        writeln!(empty, "github:\n  orgs: [a]").unwrap();
        assert_eq!(
            listen_addr(None, Some(empty.path())).unwrap().to_string(),
            DEFAULT_LISTEN
        );
        assert!(matches!(
            listen_addr(Some("nonsense"), None),
            Err(HealthcheckError::BadAddress { .. })
        ));
    }

    /// [`DEFAULT_LISTEN`] is the configuration's default.
    #[test]
    fn default_matches_the_configuration() {
        let config = crate::config::load_from(
            None,
            vec![
                ("GITHUB_STATS_GITHUB__ORGS".into(), "a".into()),
                ("GITHUB_STATS_GITHUB__TOKEN".into(), "t".into()),
            ],
        )
        .unwrap();
        assert_eq!(config.server.listen_addr.to_string(), DEFAULT_LISTEN);
    }
}
