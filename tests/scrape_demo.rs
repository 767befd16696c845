//! `--demo`: the binary starts its embedded fake GitHub and serves real activity metrics with
//! no credentials, and the exposition (with every new scrape family) passes `promtool`.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

/// Activity metrics appear on `/metrics` in demo mode and the body is valid for promtool.
#[test]
fn demo_serves_activity_metrics_without_credentials() {
    let addr = common::free_addr();
    let listen = addr.to_string();
    let child = common::exporter(&[("GITHUB_STATS_SERVER__LISTEN_ADDR", &listen)])
        .arg("--demo")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn exporter");
    let running = common::Running { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let body = running
            .get("/metrics")
            .map(|r| r.text())
            .unwrap_or_default();
        if body.contains("gh_activity_commits_24h{")
            && body.contains("gh_exporter_scrape_window_end_timestamp_seconds{")
        {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no activity metrics in demo mode"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    common::promtool_check(body.as_bytes()).expect("promtool accepts /metrics");
    let status = running.terminate(Duration::from_secs(15));
    assert!(status.success(), "clean exit: {status}");
}
