//! OpenTelemetry traces against a real OpenTelemetry Collector (tests/otel_support): the real
//! binary scrapes the fake GitHub with `telemetry.*` set, and the collector's file output is
//! read after both have stopped (each flushes on SIGTERM), so nothing waits on export timing.
//!
//! - `detailed`: one `scrape.cycle` root per org with `github.request` children (parent span
//!   id = the cycle's), their attributes, and a `backfill.consume` span in the trace of the
//!   cycle that enqueued its job, across RabbitMQ; no secret anywhere in the output.
//! - `off` exports nothing; `sampled` with ratio 0 exports nothing, with ratio 1 everything;
//!   `errors` with ratio 0 exports only traces that hold an error.
//! - A dead collector costs `gh_exporter_trace_export_failures_total`, not the truth.

mod backfill_support;
mod common;
mod otel_support;
mod scrape_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use backfill_support::{cleanup_blocking, unique, url, BROKER};
use fake_github::FakeGithub;
use github_stats_exporter::queue::names::QueueNames;
use otel_support::{parse_spans, Collector, SpanRec};
use scrape_support::{compare_allowing_push_race, fake, inject, Metrics};

/// The token the exporter sends to the fake; it must never reach a span.
const TOKEN: &str = "ghp_TRACESECRET0123456789abcdef";
/// The AMQP password of the test broker URL (`backfill_support::url`); it must never reach a
/// span either.
const AMQP_PASSWORD: &str = "guest";

/// The exporter's environment for `fake`, traces to `endpoint` in `mode` at `ratio`.
fn env(fake: &FakeGithub, endpoint: &str, mode: &str, ratio: &str) -> Vec<(String, String)> {
    let pairs = [
        (
            "GITHUB_STATS_GITHUB__API_BASE_URL",
            format!("{}/", fake.base_url()),
        ),
        ("GITHUB_STATS_GITHUB__TOKEN", TOKEN.to_string()),
        ("GITHUB_STATS_GITHUB__ORGS", fake.org_names().join(",")),
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "1s".into()),
        (
            "GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE",
            "6000".into(),
        ),
        ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "1".into()),
        ("GITHUB_STATS_TELEMETRY__OTEL_ENABLED", "true".into()),
        (
            "GITHUB_STATS_TELEMETRY__OTEL_EXPORTER_OTLP_ENDPOINT",
            endpoint.into(),
        ),
        ("GITHUB_STATS_TELEMETRY__OTEL_TRACE_MODE", mode.into()),
        (
            "GITHUB_STATS_TELEMETRY__OTEL_TRACE_SAMPLE_RATIO",
            ratio.into(),
        ),
        (
            "GITHUB_STATS_TELEMETRY__SERVICE_NAME",
            "gse-tracing-test".into(),
        ),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn start(env: &[(String, String)]) -> common::Running {
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    common::Running::start(&refs)
}

fn metrics(running: &common::Running, path: &str) -> Metrics {
    Metrics::parse(&running.get(path).map(|r| r.text()).unwrap_or_default())
}

/// Waits until every org has finished `cycles` cycles (any result).
fn wait_cycles(running: &mut common::Running, orgs: &[String], cycles: f64) {
    running.wait_until("every org finished its cycles", |r| {
        let m = metrics(r, "/metrics");
        orgs.iter()
            .all(|org| m.sum("gh_exporter_scrape_runs_total", &[("org", org.as_str())]) >= cycles)
    });
}

/// Stops the exporter (it flushes its spans), then the collector; returns its output.
fn finish(running: common::Running, collector: Collector) -> String {
    let status = running.terminate(Duration::from_secs(20));
    assert!(status.success(), "clean exit: {status}");
    collector.finish()
}

fn by_id(spans: &[SpanRec]) -> BTreeMap<&str, &SpanRec> {
    spans.iter().map(|s| (s.span_id.as_str(), s)).collect()
}

/// No secret in any byte the collector received.
fn assert_no_secret(raw: &str) {
    for secret in [TOKEN, AMQP_PASSWORD, "fake-token"] {
        assert!(
            !raw.contains(secret),
            "the collector output holds a secret ({secret:?})"
        );
    }
}

/// `detailed`: every org's cycles are roots with `github.request` children; a fault makes a
/// backfill job whose `backfill.consume` span, across RabbitMQ, is in the enqueuing cycle's
/// trace (consume → publish → cycle); attributes are set and no secret is exported.
#[test]
fn detailed_mode_traces_cycles_requests_and_backfill_across_rabbitmq() {
    let collector = Collector::start();
    let fake = fake(2, 5, 6, |c| {
        c.secondary.burst_max = 0;
        c.token = TOKEN.into();
    });
    let orgs = fake.org_names();
    let org = orgs[0].clone();
    let repo = fake_repo(&fake);
    // GraphQL down puts comments on REST, where one repository's comments then fail.
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
    inject(
        &fake,
        &format!(r#"{{"path_regex": "^/repos/{org}/{repo}/issues/comments$", "status": 502}}"#),
    );
    let prefix = unique("tracing");
    let names = [
        format!("{prefix}.x"),
        format!("{prefix}.q"),
        format!("{prefix}.dlq"),
    ];
    let queues = QueueNames::new(&names[0], &names[1], &names[2], &[Duration::from_secs(1)]);
    let mut env = env(&fake, &collector.endpoint(), "detailed", "0");
    env.extend(
        [
            ("GITHUB_STATS_AMQP__URL", url(BROKER)),
            ("GITHUB_STATS_AMQP__EXCHANGE", names[0].clone()),
            ("GITHUB_STATS_AMQP__QUEUE", names[1].clone()),
            ("GITHUB_STATS_AMQP__DLQ", names[2].clone()),
            ("GITHUB_STATS_BACKFILL__REQUEUE_DELAYS", "1s".into()),
            ("GITHUB_STATS_BACKFILL__MAX_ATTEMPTS", "20".into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let mut running = start(&env);
    running.wait_until(
        "a backfill job was consumed (and failed: the fault holds)",
        |r| {
            metrics(r, "/metrics/replica").sum(
                "gh_exporter_backfill_jobs_processed_total",
                &[("org", org.as_str())],
            ) >= 1.0
        },
    );
    wait_cycles(&mut running, &orgs, 2.0);
    assert!(
        fake.faults_served().get("status").copied().unwrap_or(0) > 0,
        "the fake served the injected 502s"
    );
    let raw = finish(running, collector);
    let spans = parse_spans(&raw);
    let ids = by_id(&spans);
    assert!(spans.iter().all(|s| s.service == "gse-tracing-test"));

    // One root per cycle, per org; each with request children linked by parent span id.
    for org in &orgs {
        let cycles: Vec<&SpanRec> = spans
            .iter()
            .filter(|s| s.name == "scrape.cycle" && s.attr("org") == Some(org.as_str()))
            .collect();
        for cycle in &cycles {
            assert!(cycle.parent.is_empty(), "scrape.cycle is a root");
        }
        // The stop may cut a last cycle short: it ends without a result.
        let finished: Vec<&&SpanRec> = cycles
            .iter()
            .filter(|c| {
                c.attr("result").is_some()
                    && c.attr("repos").is_some()
                    && c.attr("series").is_some()
            })
            .collect();
        assert!(
            finished.len() >= 2,
            "{org}: a scrape.cycle per finished cycle"
        );
        let children: Vec<&SpanRec> = spans
            .iter()
            .filter(|s| {
                s.name == "github.request"
                    && finished
                        .iter()
                        .any(|c| c.span_id == s.parent && c.trace_id == s.trace_id)
            })
            .collect();
        assert!(
            children.len() >= 2 * finished.len(),
            "{org}: github.request children under its cycles"
        );
        for request in &children {
            let template = request.attr("url.template").unwrap_or_default();
            let method = request.attr("http.request.method");
            let expected = if template == "/graphql" {
                "POST"
            } else {
                "GET"
            };
            assert_eq!(method, Some(expected), "{template}");
            assert!(template.starts_with('/'), "url.template {template:?}");
            assert!(!template.contains('?') && !template.contains(org.as_str()));
            assert!(request.attr("http.response.status_code").is_some());
            assert!(request.attr("attempt").is_some());
        }
        assert!(
            children
                .iter()
                .any(|r| r.attr("github.rate_limit.remaining").is_some()),
            "{org}: the rate budget is on the request spans"
        );
    }
    // The failed comments listing is an error span of its cycle's trace.
    assert!(spans.iter().any(|s| s.name == "github.request"
        && s.status == 2
        && s.attr("http.response.status_code") == Some("502")));

    // consume → publish → the cycle that missed the window, all in one trace.
    let linked = spans
        .iter()
        .filter(|s| s.name == "backfill.consume")
        .find(|consume| {
            let Some(publish) = ids.get(consume.parent.as_str()) else {
                return false;
            };
            let Some(cycle) = ids.get(publish.parent.as_str()) else {
                return false;
            };
            publish.name == "backfill.publish"
                && cycle.name == "scrape.cycle"
                && cycle.attr("org") == Some(org.as_str())
                && consume.trace_id == cycle.trace_id
                && publish.trace_id == cycle.trace_id
        });
    let consume = linked.expect("a backfill.consume span in the trace of its enqueuing cycle");
    assert_eq!(consume.attr("repo"), Some(repo.as_str()));
    assert_eq!(consume.attr("outcome"), Some("retry"));
    assert_eq!(consume.status, 2, "a failed attempt is an error span");
    assert_no_secret(&raw);
    cleanup_blocking(&queues);
}

/// `off` (with an endpoint and `otel_enabled`) exports nothing.
#[test]
fn off_mode_exports_nothing() {
    let (spans, _) = run_mode("off", "1", false);
    assert!(spans.is_empty(), "off exported {} spans", spans.len());
}

/// `sampled` keeps the ratio of root traces: 0 keeps none, 1 keeps every one (HTTP server
/// spans too).
#[test]
fn sampled_mode_follows_the_ratio() {
    let (none, _) = run_mode("sampled", "0", false);
    assert!(none.is_empty(), "ratio 0 exported {} spans", none.len());
    let (all, raw) = run_mode("sampled", "1", false);
    assert!(all.iter().any(|s| s.name == "scrape.cycle"));
    let served = all
        .iter()
        .filter(|s| s.attr("http.route").is_some())
        .collect::<Vec<_>>();
    assert!(
        served.iter().any(|s| s.name == "GET /metrics"
            && s.attr("http.route") == Some("/metrics")
            && s.attr("http.response.status_code") == Some("200")
            && s.parent.is_empty()),
        "an http.server root span for GET /metrics: {served:?}"
    );
    assert_no_secret(&raw);
}

/// `errors` with ratio 0 exports exactly the traces that hold an error: a fault makes some,
/// and every exported trace has an error span.
#[test]
fn errors_mode_keeps_only_traces_with_an_error() {
    let (spans, raw) = run_mode("errors", "0", true);
    let mut traces: BTreeMap<&str, Vec<&SpanRec>> = BTreeMap::new();
    for span in &spans {
        traces.entry(span.trace_id.as_str()).or_default().push(span);
    }
    assert!(!traces.is_empty(), "the failing cycles were exported");
    for (trace, spans) in &traces {
        assert!(
            spans.iter().any(|s| s.status == 2),
            "trace {trace} without an error was exported: {:?}",
            spans.iter().map(|s| &s.name).collect::<BTreeSet<_>>()
        );
    }
    assert!(spans.iter().any(|s| s.name == "scrape.cycle"));
    assert_no_secret(&raw);
}

/// A collector that is not there: scrapes still serve the truth, and the failed exports are
/// counted on /metrics/replica.
#[test]
fn dead_collector_costs_a_counter_not_a_cycle() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let fake = fake(2, 8, 6, |c| {
        c.secondary.burst_max = 0;
        c.token = TOKEN.into();
    });
    let orgs = fake.org_names();
    let mut running = start(&env(&fake, &format!("http://{dead}"), "detailed", "1"));
    running.wait_until("trace exports failed", |r| {
        metrics(r, "/metrics/replica").sum("gh_exporter_trace_export_failures_total", &[]) > 0.0
    });
    compare_allowing_push_race(
        &orgs,
        0.0,
        |after| {
            let mut m = Metrics::default();
            running.wait_until("every org serves a cycle", |r| {
                m = metrics(r, "/metrics");
                orgs.iter()
                    .all(|o| m.window_end(o).is_some_and(|t| t >= after))
            });
            m
        },
        |org, at| scrape_support::truth_over_http(&fake, org, at),
    );
    let status = running.terminate(Duration::from_secs(20));
    assert!(
        status.success(),
        "clean exit with a dead collector: {status}"
    );
}

/// Runs the exporter in `mode` at `ratio` until every org finished two cycles (with a fault
/// on GraphQL and the first repository's comments when `faults`), and returns what the
/// collector received.
fn run_mode(mode: &str, ratio: &str, faults: bool) -> (Vec<SpanRec>, String) {
    let collector = Collector::start();
    let fake = fake(2, 4, 6, |c| {
        c.secondary.burst_max = 0;
        c.token = TOKEN.into();
    });
    let orgs = fake.org_names();
    if faults {
        let (org, repo) = (&orgs[0], fake_repo(&fake));
        inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
        inject(
            &fake,
            &format!(r#"{{"path_regex": "^/repos/{org}/{repo}/issues/comments$", "status": 502}}"#),
        );
    }
    let mut running = start(&env(&fake, &collector.endpoint(), mode, ratio));
    wait_cycles(&mut running, &orgs, 2.0);
    let answered = running.get("/metrics").map(|r| r.status);
    assert_eq!(answered, Some(200));
    if faults {
        assert!(
            fake.faults_served().get("status").copied().unwrap_or(0) > 0,
            "the fake served the injected 502s"
        );
    }
    let raw = finish(running, collector);
    (parse_spans(&raw), raw)
}

/// The first repository of the fake's first org.
fn fake_repo(fake: &Arc<FakeGithub>) -> String {
    let (_, body) = scrape_support::http_get(fake.addr(), "/_fake/info").expect("info answers");
    let info: serde_json::Value = serde_json::from_str(&body).expect("info is JSON");
    info["orgs"][0]["repos"][0]
        .as_str()
        .expect("the fake org has repositories")
        .to_string()
}
