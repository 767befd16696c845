//! Tracing overhead: CPU seconds of the real exporter binary (release build) per warm scrape
//! cycle, with `telemetry.otel_trace_mode=detailed` exporting to a live OpenTelemetry Collector
//! against traces off, over the same fake GitHub (secondary limits off, real clock: warm cycles
//! see few changes and are mostly conditional requests).
//!
//! For each mode, after every org has finished its first two cycles (cold, then the first warm
//! one), the exporter's user + system CPU (`/proc/<pid>/stat`) is read, the bench waits for
//! `--cycles` more cycles of every org, and reads it again: CPU per warm cycle is the difference
//! over the cycles finished in between. The modes alternate `--rounds` times; medians are
//! reported with their ratio.
//!
//! Run: `cargo bench --bench tracing_overhead` (needs the collector of
//! `scripts/otelcol-testbed build`; options `-- --orgs N --repos N --users N --cycles N
//! --rounds N`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/otel_support/mod.rs"]
mod otel_support;
#[path = "../tests/scrape_support/mod.rs"]
mod scrape_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use fake_github::{FakeConfig, FakeGithub};
use otel_support::{parse_spans, Collector};
use scrape_support::Metrics;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU seconds of `pid`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Cycles finished by every org (the smallest count).
fn cycles_done(addr: std::net::SocketAddr, orgs: &[String]) -> f64 {
    let body = common::raw_request(addr, "GET", "/metrics", &[])
        .map(|r| r.text())
        .unwrap_or_default();
    let m = Metrics::parse(&body);
    orgs.iter()
        .map(|o| m.sum("gh_exporter_scrape_runs_total", &[("org", o.as_str())]))
        .fold(f64::INFINITY, f64::min)
}

fn wait_cycles(addr: std::net::SocketAddr, orgs: &[String], at_least: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = cycles_done(addr, orgs);
        if done >= at_least {
            return done;
        }
        assert!(
            Instant::now() < deadline,
            "cycles did not finish within 10 min"
        );
        // Each poll is a request the exporter answers (and, traced, a span): keep them rare.
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// CPU seconds per warm cycle (one cycle of every org) in one run, and the spans the
/// collector received (0 when off).
fn run(fake: &FakeGithub, detailed: bool, cycles: u64) -> (f64, usize) {
    let collector = detailed.then(Collector::start);
    let orgs = fake.org_names();
    let mut env = vec![
        (
            "GITHUB_STATS_GITHUB__API_BASE_URL".to_string(),
            format!("{}/", fake.base_url()),
        ),
        (
            "GITHUB_STATS_GITHUB__TOKEN".to_string(),
            "fake-token".to_string(),
        ),
        ("GITHUB_STATS_GITHUB__ORGS".to_string(), orgs.join(",")),
        (
            "GITHUB_STATS_GITHUB__SCRAPE_INTERVAL".to_string(),
            "1s".to_string(),
        ),
        (
            "GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE".to_string(),
            "0".to_string(),
        ),
        (
            "GITHUB_STATS_SERVER__LOG_LEVEL".to_string(),
            "warn".to_string(),
        ),
    ];
    if let Some(collector) = &collector {
        env.extend(
            [
                ("GITHUB_STATS_TELEMETRY__OTEL_ENABLED", "true".to_string()),
                (
                    "GITHUB_STATS_TELEMETRY__OTEL_TRACE_MODE",
                    "detailed".to_string(),
                ),
                (
                    "GITHUB_STATS_TELEMETRY__OTEL_EXPORTER_OTLP_ENDPOINT",
                    collector.endpoint(),
                ),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
    }
    let addr = common::free_addr();
    env.push((
        "GITHUB_STATS_SERVER__LISTEN_ADDR".to_string(),
        addr.to_string(),
    ));
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let child = common::exporter(&refs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the exporter");
    let running = common::Running { child, addr };
    let pid = running.child.id();
    let first = wait_cycles(addr, &orgs, 2.0);
    let cpu_before = cpu_seconds(pid);
    let last = wait_cycles(addr, &orgs, first + cycles as f64);
    let cpu_after = cpu_seconds(pid);
    let per_cycle = (cpu_after - cpu_before) / (last - first);
    let status = running.terminate(Duration::from_secs(20));
    assert!(status.success(), "clean exit");
    let spans = collector.map_or(0, |c| parse_spans(&c.finish()).len());
    (per_cycle, spans)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let orgs = arg("--orgs", 2) as usize;
    let repos = arg("--repos", 100) as usize;
    let users = arg("--users", 30) as usize;
    let cycles = arg("--cycles", 10);
    let rounds = arg("--rounds", 3);
    let mut config = FakeConfig {
        seed: 7,
        orgs,
        repos,
        users,
        stats_compute_calls: 1,
        rate_limit: 1_000_000,
        ..FakeConfig::default()
    };
    config.secondary.burst_max = 0;
    let fake = FakeGithub::spawn(config).expect("fake github starts");
    println!(
        "{orgs} orgs x {repos} repositories, {users} users; {cycles} warm cycles per run, {rounds} rounds"
    );
    println!(
        "{:>6} {:>10} {:>22} {:>10}",
        "round", "mode", "CPU ms / warm cycle", "spans"
    );
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        for detailed in [false, true] {
            let (per_cycle, spans) = run(&fake, detailed, cycles);
            let mode = if detailed { "detailed" } else { "off" };
            println!(
                "{round:>6} {mode:>10} {:>22.2} {spans:>10}",
                per_cycle * 1000.0
            );
            if detailed {
                on.push(per_cycle);
            } else {
                off.push(per_cycle);
            }
        }
    }
    let (off, on) = (median(off), median(on));
    println!(
        "median CPU per warm cycle: off {:.2} ms, detailed {:.2} ms: {:+.1} %",
        off * 1000.0,
        on * 1000.0,
        (on / off - 1.0) * 100.0
    );
}
