//! Conversion tests on the fixtures of `tests/fixtures/go-config/` and on small files: every
//! key handled, Go fallbacks carried over, secrets never in the output, telemetry gated by the
//! key table.

use super::go_file::GO_KEYS;
use super::*;

const EVERY_KEY: &str = include_str!("../../tests/fixtures/go-config/every-key.yaml");
const SECRETS: [&str; 2] = ["redis-S3cret-pw", "amqp-S3cret-pw"];

fn convert(text: &str) -> Migration {
    migrate_text(text, Options::default()).expect("readable YAML")
}

/// The every-key fixture really sets every key of the format, and none is left unhandled.
#[test]
fn every_key_fixture_sets_every_key_and_each_is_handled() {
    let file = go_file::GoFile::parse(EVERY_KEY).expect("yaml");
    for key in GO_KEYS {
        let path = key.replace("github.orgs[]", "github.orgs[0]");
        assert!(file.has(&path), "every-key.yaml does not set {key}");
    }
    let migration = convert(EVERY_KEY);
    let telemetry_known = crate::config::is_known_key("telemetry.otel_enabled");
    for blocker in &migration.blockers {
        assert!(
            !telemetry_known && blocker.contains("telemetry.") && blocker.contains("yet"),
            "unexpected blocker: {blocker}"
        );
    }
    if telemetry_known {
        assert!(migration.blockers.is_empty(), "{:?}", migration.blockers);
        assert!(migration.toml.contains("[telemetry]"), "{}", migration.toml);
        assert!(migration.toml.contains("otel_trace_sample_ratio = 0.01"));
        assert!(migration
            .toml
            .contains("\"http://otel-collector.monitoring.svc:4318/v1/traces\""));
    } else {
        assert_eq!(migration.blockers.len(), 4, "{:?}", migration.blockers);
        assert!(!migration.toml.contains("[telemetry]"));
    }
}

/// Secrets are `_file` indirections by default, inline only when asked for.
#[test]
fn secrets_are_never_written_unless_asked_for() {
    let default = convert(EVERY_KEY).render("every-key.yaml");
    for secret in SECRETS {
        assert!(!default.contains(secret), "{secret} leaked:\n{default}");
    }
    assert!(default.contains("redis_url_file = \"/run/secrets/github-stats-exporter/redis-url\""));
    assert!(default.contains("url_file = \"/run/secrets/github-stats-exporter/amqp-url\""));
    let inline = migrate_text(
        EVERY_KEY,
        Options {
            include_secrets: true,
        },
    )
    .expect("yaml")
    .toml;
    assert!(
        inline.contains("redis_url = \"redis://:redis-S3cret-pw@unused/2\""),
        "{inline}"
    );
    assert!(inline.contains("amqp://exporter:amqp-S3cret-pw@rabbitmq.monitoring.svc:5672/%2f"));
}

/// Left out or 0, a value becomes what the Go exporter used at run time.
#[test]
fn missing_values_become_the_go_fallbacks() {
    let migration = convert(
        "github:\n  orgs:\n    - org: a\n      app_id: 1\n      private_key_path: k.pem\n      \
         scrape_interval: 5m\nbackfill:\n  requeue_delays: [1m]\n",
    );
    assert!(migration.blockers.is_empty(), "{:?}", migration.blockers);
    let toml = &migration.toml;
    for line in [
        "listen_addr = \"0.0.0.0:80\"",
        "unhealthy_failure_threshold = 1",
        "unhealthy_cooldown = \"1m\"",
        "recover_success_threshold = 1",
        "per_org_concurrency = 1",
        "min_remaining_threshold = 0",
        "max_attempts = 1",
        "max_attempts = 7",
        "fallback_enabled = false",
        "fallback_max_commits_per_repo_per_week = 500",
        "max_message_age = \"1d\"",
        "consumer_count = 1",
        "max_enqueues_per_org_per_minute = 100000",
        "redis_url = \"redis://localhost:6379/0\"",
        "retention = \"1d\"",
        "max_series_budget = 1000000",
    ] {
        assert!(toml.contains(line), "`{line}` missing:\n{toml}");
    }
    assert!(
        !toml.contains("[amqp]"),
        "no RabbitMQ without url and exchange"
    );
}

/// Election turns into the Kubernetes backend with a renew deadline that fits the rules.
#[test]
fn election_becomes_kubernetes_leases_with_valid_timings() {
    let migration = convert(
        "leader_election:\n  enabled: true\n  namespace: ns\n  lease_name: lead\n  \
         renew_deadline: 40s\ngithub:\n  orgs:\n    - org: a\n      app_id: 1\n      \
         private_key_path: k.pem\n      scrape_interval: 5m\nbackfill:\n  requeue_delays: [1m]\n\
         store:\n  redis_addr: r:6379\n",
    );
    assert!(migration.blockers.is_empty(), "{:?}", migration.blockers);
    for line in [
        "backend = \"kubernetes\"",
        "lease_duration = \"30s\"",
        "renew_deadline = \"20s\"",
        "retry_period = \"5s\"",
    ] {
        assert!(
            migration.toml.contains(line),
            "`{line}` missing:\n{}",
            migration.toml
        );
    }
    let memory = convert(
        "leader_election:\n  enabled: true\nstore:\n  backend: memory\ngithub:\n  orgs:\n    \
         - org: a\n      app_id: 1\n      private_key_path: k.pem\n      scrape_interval: 5m\n\
         backfill:\n  requeue_delays: [1m]\n",
    );
    assert!(
        memory
            .blockers
            .iter()
            .any(|b| b.contains("leader_election.enabled")),
        "{:?}",
        memory.blockers
    );
}

/// Unknown keys, bad values and unsupported settings are blockers, one per key.
#[test]
fn what_cannot_be_carried_is_listed_once_per_key() {
    let migration = convert(
        "metrics:\n  topology: per_pod\ngithub:\n  orgs:\n    - org: a\n      app_id: 1\n      \
         private_key_path: k.pem\n      scrape_interval: 5x\n  colour: red\nbackfill:\n  \
         requeue_delays: [5m, 1m]\n",
    );
    let keys: Vec<&str> = migration
        .blockers
        .iter()
        .filter_map(|b| b.split('`').nth(1))
        .collect();
    assert_eq!(
        keys,
        [
            "github.colour",
            "metrics.topology",
            "github.orgs[0].scrape_interval",
            "backfill.requeue_delays"
        ],
        "{:?}",
        migration.blockers
    );
    assert!(matches!(
        migrate_text("a: [", Options::default()),
        Err(MigrateError::Yaml { .. })
    ));
}
