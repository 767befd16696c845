//! The real binary with backfill wired: `/metrics/replica` samples the queue on every scrape
//! (`queue_depth{queue}`, `queue_oldest_message_age_seconds{queue}`), `dependency_health{amqp}`
//! and `/readyz` follow the broker, and an unreachable broker makes the sample fail with 500
//! instead of hiding the backlog.

mod backfill_support;
mod common;

use std::time::Duration;

use common::Running;

const BASE: &[(&str, &str)] = &[
    ("GITHUB_STATS_GITHUB__ORGS", "acme"),
    ("GITHUB_STATS_GITHUB__TOKEN", "x-secret-token"),
    ("GITHUB_STATS_GITHUB__API_BASE_URL", "http://127.0.0.1:9"),
];

fn with(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> =
        BASE.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.extend(extra.iter().cloned());
    env
}

fn start(env: &[(&'static str, String)]) -> Running {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Running::start(&pairs)
}

/// Without `amqp.url` the in-memory queue is sampled: its work, retry and dead-letter queues
/// show on `/metrics/replica` with depth 0.
#[test]
fn memory_queue_gauges_are_served_on_replica_metrics() {
    let running = start(&with(&[]));
    let body = running
        .get("/metrics/replica")
        .expect("replica metrics")
        .text();
    for line in [
        r#"gh_exporter_queue_depth{queue="gh.backfill.jobs"} 0"#,
        r#"gh_exporter_queue_depth{queue="gh.backfill.jobs.retry.1m0s"} 0"#,
        r#"gh_exporter_queue_depth{queue="gh.backfill.dlq"} 0"#,
        r#"gh_exporter_queue_oldest_message_age_seconds{queue="gh.backfill.jobs"} 0"#,
    ] {
        assert!(body.contains(line), "missing {line} in\n{body}");
    }
    common::promtool_check(body.as_bytes()).expect("promtool accepts the body");
}

/// With RabbitMQ the replica becomes ready once the topology is declared, reports
/// `dependency_health{dependency="amqp"} 1`, and samples the broker's queues by name.
#[test]
fn rabbitmq_backed_replica_is_ready_and_samples_the_broker() {
    let base = backfill_support::unique("service");
    let (queue, dlq) = (format!("{base}.jobs"), format!("{base}.dlq"));
    let mut running = start(&with(&[
        (
            "GITHUB_STATS_AMQP__URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
        ),
        ("GITHUB_STATS_AMQP__EXCHANGE", format!("{base}.ex")),
        ("GITHUB_STATS_AMQP__QUEUE", queue.clone()),
        ("GITHUB_STATS_AMQP__DLQ", dlq.clone()),
    ]));
    running.wait_until("/readyz is ready", |r| {
        r.get("/readyz").map(|r| r.status) == Some(200)
    });
    let response = running.get("/metrics/replica").expect("replica metrics");
    assert_eq!(response.status, 200);
    let body = response.text();
    for line in [
        format!(r#"gh_exporter_queue_depth{{queue="{queue}"}} 0"#),
        format!(r#"gh_exporter_queue_depth{{queue="{queue}.retry.5m0s"}} 0"#),
        format!(r#"gh_exporter_queue_depth{{queue="{dlq}"}} 0"#),
        r#"gh_exporter_dependency_health{dependency="amqp"} 1"#.to_string(),
    ] {
        assert!(body.contains(&line), "missing {line} in\n{body}");
    }
    assert_eq!(running.terminate(Duration::from_secs(20)).code(), Some(0));
    backfill_support::cleanup_blocking(&github_stats_exporter::queue::names::QueueNames::new(
        &format!("{base}.ex"),
        &queue,
        &dlq,
        &[60, 300, 1800, 7200].map(Duration::from_secs),
    ));
}

/// A configured but unreachable broker is never replaced by memory: the replica is not ready
/// (`amqp` named), `dependency_health{amqp}` is 0 on `/healthz`, and `/metrics/replica` answers
/// 500 because the queue cannot be sampled.
#[test]
fn unreachable_broker_is_not_ready_and_replica_metrics_fail() {
    let closed = common::free_addr();
    let mut running = start(&with(&[(
        "GITHUB_STATS_AMQP__URL",
        format!("amqp://guest:guest@{closed}/%2f"),
    )]));
    running.wait_until("/readyz reports amqp down", |r| {
        r.get("/readyz")
            .is_some_and(|r| r.status == 503 && r.text().contains("amqp"))
    });
    let response = running.get("/metrics/replica").expect("replica metrics");
    assert_eq!(response.status, 500, "{}", response.text());
    assert!(
        response.text().contains("backfill queue"),
        "{}",
        response.text()
    );
}
