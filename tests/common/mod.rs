//! Helpers for end-to-end tests: run the real binary on a free port, wait for it, talk HTTP,
//! and pipe bodies through `promtool`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the exporter binary built for this test run.
pub fn exporter_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_github-stats-exporter"))
}

/// A free loopback port (bound then released; the OS does not hand it out again at once).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
}

/// A command for the exporter with a clean `GITHUB_STATS_*` environment plus `env`.
pub fn exporter(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(exporter_bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("GITHUB_STATS_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// A running exporter process, killed on drop.
pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Running {
    /// Starts the exporter with `env` on a free port and waits until `/livez` answers.
    pub fn start(env: &[(&str, &str)]) -> Running {
        let addr = free_addr();
        let listen = addr.to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("GITHUB_STATS_SERVER__LISTEN_ADDR", &listen),
            ("GITHUB_STATS_SERVER__LOG_FORMAT", "text"),
        ];
        all.extend_from_slice(env);
        let child = exporter(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn exporter");
        let mut running = Running { child, addr };
        running.wait_until("livez answers 200", |r| {
            r.get("/livez").map(|r| r.status) == Some(200)
        });
        running
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A raw HTTP/1.1 request; returns `None` when the connection fails.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Option<HttpResponse> {
        raw_request(self.addr, method, path, headers)
    }

    pub fn get(&self, path: &str) -> Option<HttpResponse> {
        self.request("GET", path, &[])
    }

    /// Polls `check` until it holds, failing the test after a generous deadline.
    pub fn wait_until(&mut self, what: &str, mut check: impl FnMut(&Running) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if check(self) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exporter exited with {status} while waiting for: {what}");
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the exit status (failing after `limit`).
    pub fn terminate(mut self, limit: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for exporter") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "exporter did not exit within {limit:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request over a fresh connection with `Connection: close`, so the body ends at EOF.
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<HttpResponse> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Runs `promtool check metrics` on `body`; returns its combined output on failure.
pub fn promtool_check(body: &[u8]) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run promtool (install Debian's `prometheus` package; .ci/run does): {e}"
            )
        })?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(body)
        .map_err(|e| e.to_string())?;
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "promtool: {status}\n{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ))
    }
}

/// Decompresses a gzip body.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}
