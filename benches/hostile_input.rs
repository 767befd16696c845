//! Figures for hostile input, on the real exporter binary scraping an in-process fake GitHub:
//! - `endless_body`: every commit listing answers an endless chunked body;
//! - `endless_pages`: every repository listing has a `next` page forever;
//! - `idle_connections`: 500 client connections that never finish their headers (reopened
//!   when the server closes them).
//!
//! For each: the exporter's peak RSS (`VmHWM`) and `/livez` latency (median, max, failures)
//! over the run, and what the fake served. Goals: peak RSS ≤ 64 MB (must be ≤ 256 MB), `/livez`
//! within 1 s.
//!
//! `cargo bench --bench hostile_input` (release) or `cargo bench --bench hostile_input
//! --profile dev` (debug build, quicker to build). `HOSTILE_BENCH_SECS` (default 20) sets each
//! scenario's length, `HOSTILE_BENCH_ONLY=idle_connections` runs one scenario, and
//! `HOSTILE_BENCH_ENV="KEY=VALUE,…"` adds exporter settings (e.g. to compare limits),
//! `HOSTILE_BENCH_IDLE` sets the number of idle connections (default 500).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Running;
use fake_github::{FakeConfig, FakeGithub};

fn main() {
    let secs: u64 = std::env::var("HOSTILE_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let only = std::env::var("HOSTILE_BENCH_ONLY").ok();
    let scenarios: [(&str, Option<&str>); 4] = [
        ("baseline", None),
        (
            "endless_body",
            Some(r#"{"path_regex": "^/repos/[^/]+/[^/]+/commits$", "body": "endless"}"#),
        ),
        (
            "endless_pages",
            Some(r#"{"path_regex": "^/orgs/[^/]+/repos$", "body": "endless_pages"}"#),
        ),
        ("idle_connections", None),
    ];
    for (name, fault) in scenarios {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        run(name, fault, Duration::from_secs(secs));
    }
}

fn run(name: &str, fault: Option<&str>, length: Duration) {
    let fake = FakeGithub::spawn(FakeConfig {
        orgs: 2,
        repos: 10,
        users: 10,
        stats_compute_calls: 1,
        ..FakeConfig::default()
    })
    .expect("fake github");
    if let Some(spec) = fault {
        let (status, body) = http(fake.addr(), "POST", "/_fake/faults", spec).expect("fault");
        assert_eq!(status, 201, "{body}");
    }
    let base = format!("{}/", fake.base_url());
    let orgs = fake.org_names().join(",");
    let extra = std::env::var("HOSTILE_BENCH_ENV").unwrap_or_default();
    let mut env: Vec<(String, String)> = vec![
        ("GITHUB_STATS_GITHUB__API_BASE_URL".into(), base),
        ("GITHUB_STATS_GITHUB__TOKEN".into(), "fake-token".into()),
        ("GITHUB_STATS_GITHUB__ORGS".into(), orgs),
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL".into(), "2s".into()),
        // Long enough that only the response limits end an endless answer.
        ("GITHUB_STATS_GITHUB__REQUEST_TIMEOUT".into(), "5m".into()),
        (
            "GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE".into(),
            "0".into(),
        ),
        ("GITHUB_STATS_SERVER__LOG_LEVEL".into(), "error".into()),
    ];
    for pair in extra.split(',').filter(|p| !p.is_empty()) {
        if let Some((k, v)) = pair.split_once('=') {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v.to_string()));
        }
    }
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let exporter = Running::start(&env_refs);
    let pid = exporter.child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let idle = (name == "idle_connections").then(|| {
        let stop = stop.clone();
        let addr = exporter.addr;
        let n = std::env::var("HOSTILE_BENCH_IDLE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500);
        std::thread::spawn(move || hold_idle_connections(addr, n, &stop))
    });
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut failures = 0;
    while started.elapsed() < length {
        let t = Instant::now();
        match http(exporter.addr, "GET", "/livez", "") {
            Some((200, _)) => latencies.push(t.elapsed()),
            _ => failures += 1,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    let reopened = idle.map(|h| h.join().unwrap_or(0));
    let peak_kb = status_kb(pid, "VmHWM:");
    let rss_kb = status_kb(pid, "VmRSS:");
    latencies.sort();
    let median = latencies.get(latencies.len() / 2).copied();
    let max = latencies.last().copied();
    println!(
        "{name}: peak RSS {:.1} MB (now {:.1} MB); /livez {} ok, {failures} failed, median {:?}, \
         max {:?}; fake served faults {:?}, requests {}{}",
        peak_kb as f64 / 1024.0,
        rss_kb as f64 / 1024.0,
        latencies.len(),
        median.unwrap_or_default(),
        max.unwrap_or_default(),
        fake.faults_served(),
        fake.requests().total,
        reopened
            .map(|n| format!("; idle connections closed by the server and reopened: {n}"))
            .unwrap_or_default(),
    );
    drop(exporter);
    fake.stop();
}

/// Keeps `n` connections open with unfinished headers until `stop`; returns how many the
/// server closed (and were reopened).
fn hold_idle_connections(addr: SocketAddr, n: usize, stop: &AtomicBool) -> usize {
    let open = || -> Option<TcpStream> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n").ok()?;
        s.set_nonblocking(true).ok()?;
        Some(s)
    };
    let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| open()).collect();
    let mut reopened = 0;
    while !stop.load(Ordering::Relaxed) {
        for c in conns.iter_mut() {
            let closed = match c {
                None => true,
                Some(s) => {
                    let mut buf = [0u8; 512];
                    // Any answer (the 408) or EOF means the server is done with it.
                    match s.read(&mut buf) {
                        Ok(n) => n <= buf.len(),
                        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                    }
                }
            };
            if closed {
                *c = open();
                reopened += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reopened
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One HTTP/1.1 request with a 5 s timeout; (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text))
}
