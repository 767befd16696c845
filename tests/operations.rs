//! Operating the real binary: request metrics on `/metrics/replica` (bounded `path` label,
//! status `code`, duration histogram), the derived `scheduler`/`consumer` dependency health, the
//! status page's row per org, and `--healthcheck` with configuration from a file.

mod common;
mod scrape_support;

use std::process::Stdio;
use std::time::Duration;

use common::{promtool_check, Running};

fn replica_text(running: &Running) -> String {
    let replica = running.get("/metrics/replica").expect("replica answers");
    assert_eq!(replica.status, 200);
    promtool_check(&replica.body).unwrap();
    replica.text()
}

/// The value of the sample line starting with `prefix` (labels included), if any.
fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' ')?.parse().ok())
}

/// Requests are counted by route and code, never by raw path; durations land in the histogram;
/// `scheduler` and `consumer` appear in `dependency_health`; the status page has a row per org
/// with the org's figures once it was scraped; SIGTERM still exits 0.
#[test]
fn request_metrics_dependencies_and_status_page() {
    let fake = scrape_support::fake(2, 3, 3, |_| {});
    let env = scrape_support::env_for(&fake, &[]);
    // Running::start picks the port.
    let env: Vec<(&str, &str)> = env
        .iter()
        .filter(|(k, _)| k != "GITHUB_STATS_SERVER__LISTEN_ADDR")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut running = Running::start(&env);
    running.wait_until("ready", |r| r.get("/readyz").map(|r| r.status) == Some(200));

    for _ in 0..3 {
        assert_eq!(running.get("/metrics").unwrap().status, 200);
    }
    let secret_path = "/no/such/path-7f3a9";
    assert_eq!(running.get(secret_path).unwrap().status, 404);
    let post = running
        .request("POST", "/healthz", &[("Content-Length", "0")])
        .unwrap();
    assert_eq!(post.status, 405);

    let text = replica_text(&running);
    assert!(
        value(
            &text,
            "gh_exporter_http_requests_total{path=\"/metrics\",code=\"200\"}"
        ) >= Some(3.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "gh_exporter_http_requests_total{path=\"other\",code=\"404\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "gh_exporter_http_requests_total{path=\"/healthz\",code=\"405\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("path-7f3a9"), "raw path leaked: {text}");
    assert!(text.contains("# TYPE gh_exporter_http_request_duration_seconds histogram\n"));
    assert!(
        value(
            &text,
            "gh_exporter_http_request_duration_seconds_count{path=\"/metrics\"}"
        ) >= Some(3.0),
        "{text}"
    );
    assert!(
        value(
            &text,
            "gh_exporter_http_request_duration_seconds_bucket{le=\"+Inf\",path=\"/metrics\"}"
        ) >= Some(3.0),
        "{text}"
    );
    for dependency in ["scheduler", "consumer"] {
        assert_eq!(
            value(
                &text,
                &format!("gh_exporter_dependency_health{{dependency=\"{dependency}\"}}")
            ),
            Some(1.0),
            "{text}"
        );
    }

    let orgs = fake.org_names();
    running.wait_until("every org scraped", |r| {
        let body = r.get("/metrics").map(|m| m.text()).unwrap_or_default();
        orgs.iter().all(|o| {
            body.contains(&format!(
                "gh_exporter_last_successful_scrape_timestamp_seconds{{org=\"{o}\"}}"
            ))
        })
    });
    let page = running.get("/").unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert_eq!(
        html.matches("<tr class=\"org\"").count(),
        orgs.len(),
        "{html}"
    );
    for org in &orgs {
        let start = html
            .find(&format!("data-org=\"{org}\""))
            .unwrap_or_else(|| panic!("no row for {org}: {html}"));
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        assert!(row.contains("this replica"), "{row}");
        assert!(row.contains(" ago</span>"), "no last scrape in {row}");
        assert!(row.contains("success "), "no cycle results in {row}");
        assert!(row.contains("GitHub healthy"), "{row}");
    }
    assert!(html.contains("Role: <b>leader</b>"), "{html}");
    assert!(html.contains("id=\"queues\""), "{html}");

    let status = running.terminate(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
}

/// With the configuration in a file and only the listen address in the environment (as in the
/// container, whose HEALTHCHECK passes no `--config`), `--healthcheck` reports ready (0), and
/// not ready (1) once the server is gone.
#[test]
fn healthcheck_needs_only_the_listen_address() {
    let addr = common::free_addr();
    let listen = addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.toml");
    std::fs::write(
        &file,
        "[github]\norgs = [\"acme\"]\ntoken = \"x-secret-token\"\napi_base_url = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let child = common::exporter(&[("GITHUB_STATS_SERVER__LISTEN_ADDR", &listen)])
        .arg("--config")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn exporter");
    let mut running = Running { child, addr };
    running.wait_until("ready", |r| r.get("/readyz").map(|r| r.status) == Some(200));

    let healthcheck = |env: &[(&str, &str)], args: &[&std::ffi::OsStr]| {
        common::exporter(env)
            .arg("--healthcheck")
            .args(args)
            .output()
            .expect("run --healthcheck")
    };
    let by_env = healthcheck(&[("GITHUB_STATS_SERVER__LISTEN_ADDR", &listen)], &[]);
    assert_eq!(
        by_env.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&by_env.stderr)
    );
    // The file alone names the port when the environment does not.
    let port_file = dir.path().join("port-only.toml");
    std::fs::write(
        &port_file,
        format!("[server]\nlisten_addr = \"{listen}\"\n"),
    )
    .unwrap();
    let by_file = healthcheck(&[], &["--config".as_ref(), port_file.as_os_str()]);
    assert_eq!(
        by_file.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&by_file.stderr)
    );

    let status = running.terminate(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    let after = healthcheck(&[("GITHUB_STATS_SERVER__LISTEN_ADDR", &listen)], &[]);
    assert_eq!(after.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&after.stderr).contains("unhealthy"));
}
