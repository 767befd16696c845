//! End-to-end tests of the real binary: configuration errors, probes, `/metrics` negotiation
//! checked by promtool, HTTP limits, and graceful shutdown on SIGTERM.

mod common;

use std::time::Duration;

use common::{gunzip, promtool_check, Running};

const UNREACHABLE_GITHUB: &[(&str, &str)] = &[
    ("GITHUB_STATS_GITHUB__ORGS", "acme"),
    ("GITHUB_STATS_GITHUB__TOKEN", "x-secret-token"),
    ("GITHUB_STATS_GITHUB__API_BASE_URL", "http://127.0.0.1:9"),
];

/// `--check-config` lists every problem of a broken environment and exits 2.
#[test]
fn check_config_reports_every_problem_and_exits_2() {
    let output = common::exporter(&[
        ("GITHUB_STATS_SERVER__LISTEN_ADDR", "nonsense"),
        ("GITHUB_STATS_GITHUB__ORGS", ""),
    ])
    .arg("--check-config")
    .output()
    .expect("run exporter");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("server.listen_addr"),
        "listen_addr problem missing: {stderr}"
    );
    assert!(stderr.contains("nonsense"), "bad value not shown: {stderr}");
    assert!(
        stderr.contains("github.orgs"),
        "orgs problem missing: {stderr}"
    );
}

/// `--check-config` accepts a valid environment and exits 0.
#[test]
fn check_config_accepts_valid_env_and_exits_0() {
    let output = common::exporter(UNREACHABLE_GITHUB)
        .arg("--check-config")
        .output()
        .expect("run exporter");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "output: {all}");
}

/// `--check-config` prints every problem with its value — so it could leak — yet a secret in
/// a problem (a malformed AMQP URL, a password in a Redis URL, a misspelt secret key) is
/// redacted while a plain value is shown.
#[test]
fn check_config_prints_problem_values_but_never_secrets() {
    let mut env: Vec<(&str, &str)> = UNREACHABLE_GITHUB.to_vec();
    env.extend([
        ("GITHUB_STATS_SERVER__LOG_LEVEL", "verbose-shown"),
        ("GITHUB_STATS_AMQP__URL", "not-a-url-x-secret-amqp"),
        (
            "GITHUB_STATS_STORE__REDIS_URL",
            "http://user:x-secret-redis@redis/0",
        ),
        ("GITHUB_STATS_GITHUB__TOKNE", "x-secret-misspelt"),
    ]);
    let output = common::exporter(&env)
        .arg("--check-config")
        .output()
        .expect("run exporter");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(2), "output: {all}");
    // The problems are there, values included: the output can tell a leak.
    for shown in [
        "server.log_level=verbose-shown",
        "amqp.url=",
        "store.redis_url=",
        "GITHUB_STATS_GITHUB__TOKNE=",
    ] {
        assert!(all.contains(shown), "{shown} missing from: {all}");
    }
    assert!(!all.contains("x-secret"), "a secret leaked: {all}");
}

/// With GitHub unreachable the service still starts, answers its probes, serves valid
/// `/metrics` in both formats (promtool-checked, gzip when asked), and exits 0 on SIGTERM.
#[test]
fn serves_probes_and_metrics_then_stops_on_sigterm() {
    let mut running = Running::start(UNREACHABLE_GITHUB);

    running.wait_until("ready", |r| r.get("/readyz").map(|r| r.status) == Some(200));
    assert_eq!(running.get("/readyz").unwrap().text(), "ready\n");

    let health = running.get("/healthz").unwrap();
    assert_eq!(health.status, 200);
    assert_eq!(health.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&health.body).expect("healthz is JSON");
    assert_eq!(json["role"], "leader");
    assert_eq!(json["ready"], true);
    assert!(
        json["mode"] == "healthy" || json["mode"] == "degraded",
        "{json}"
    );
    assert_eq!(json["components"]["store"]["ok"], true, "{json}");

    let text = running
        .request("GET", "/metrics", &[("Accept", "text/plain")])
        .unwrap();
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = text.text();
    assert!(body.contains("# TYPE gh_exporter_series gauge\n"), "{body}");
    assert!(
        body.contains("gh_exporter_series{metric=\"gh_activity_commits_24h\"} 0\n"),
        "{body}"
    );
    promtool_check(&text.body).unwrap();

    let om = running
        .request(
            "GET",
            "/metrics",
            &[(
                "Accept",
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            )],
        )
        .unwrap();
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.text().ends_with("# EOF\n"));
    promtool_check(&om.body).unwrap();

    let gz = running
        .request(
            "GET",
            "/metrics",
            &[("Accept", "text/plain"), ("Accept-Encoding", "gzip")],
        )
        .unwrap();
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gz.body), text.body);

    let replica = running.get("/metrics/replica").unwrap();
    assert_eq!(replica.status, 200);
    let replica_text = replica.text();
    assert!(
        replica_text.contains("process_resident_memory_bytes"),
        "{replica_text}"
    );
    assert!(
        replica_text.contains("gh_exporter_is_leader 1\n"),
        "{replica_text}"
    );
    for expected in [
        "gh_exporter_dependency_health{dependency=\"store\"} 1\n",
        "gh_exporter_dependency_health{dependency=\"github\"} 0\n",
        "gh_exporter_actor_up{actor=\"store\"} 1\n",
        "gh_exporter_leader_epoch 0\n",
        "gh_exporter_actor_restarts_total{actor=\"store\"} 0\n",
    ] {
        assert!(
            replica_text.contains(expected),
            "missing {expected:?} in {replica_text}"
        );
    }
    // Counts print as integers, like `is_leader`: `gh_exporter_owned_orgs 1`, never `1.0`.
    let owned = replica_text
        .lines()
        .find_map(|l| l.strip_prefix("gh_exporter_owned_orgs "))
        .unwrap_or_else(|| panic!("gh_exporter_owned_orgs missing in {replica_text}"));
    assert!(
        owned.bytes().all(|b| b.is_ascii_digit()),
        "owned_orgs prints {owned:?}"
    );
    assert_eq!(
        replica.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    promtool_check(&replica.body).unwrap();
    let replica_om = running
        .request(
            "GET",
            "/metrics/replica",
            &[("Accept", "application/openmetrics-text")],
        )
        .unwrap();
    assert!(replica_om.text().ends_with("# EOF\n"));
    assert!(replica_om
        .text()
        .contains("# TYPE gh_exporter_http_requests counter\n"));

    let landing = running.get("/").unwrap();
    assert_eq!(landing.status, 200);
    assert!(landing.text().contains("acme"));

    assert_eq!(running.get("/nope").unwrap().status, 404);
    let post = running
        .request("POST", "/metrics", &[("Content-Length", "0")])
        .unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    for path in ["/", "/metrics", "/healthz", "/metrics/replica"] {
        let body = running.get(path).unwrap().text();
        assert!(!body.contains("x-secret-token"), "{path} leaks the token");
    }

    let status = running.terminate(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
}
