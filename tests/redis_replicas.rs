//! Two real exporter processes — a static leader and a static follower — on one Redis
//! namespace serve byte-identical shared series. The serving path is under test here, so the
//! test writes the batches through the Redis adapter itself, with label values a fake GitHub
//! never produces (quotes, backslashes); the leader's GitHub is unreachable, so it writes
//! nothing of its own. `redis_scrape_replicas.rs` covers a leader that really scrapes.

mod common;
mod redis_common;

use common::Running;
use gse_actors::ports::{MetricStore, OrgBatch};
use redis_common::*;

fn replica_env<'a>(namespace: &'a str, role: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GITHUB_STATS_GITHUB__ORGS", "acme,globex"),
        ("GITHUB_STATS_GITHUB__TOKEN", "x-secret-token"),
        ("GITHUB_STATS_GITHUB__API_BASE_URL", "http://127.0.0.1:9"),
        ("GITHUB_STATS_STORE__REDIS_URL", SHARED_REDIS),
        ("GITHUB_STATS_STORE__NAMESPACE", namespace),
        ("GITHUB_STATS_STORE__METRIC_REFRESH_INTERVAL", "1s"),
        ("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", role),
    ]
}

fn activity_lines(running: &Running) -> String {
    let body = running
        .request("GET", "/metrics", &[("Accept", "text/plain")])
        .map(|r| r.text())
        .unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with("gh_activity_"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn cycle(org: &str, value: f64) -> OrgBatch {
    let mut samples = Vec::new();
    for (i, user) in ["alice", "bob \"the builder\"", "carol\\x"]
        .iter()
        .enumerate()
    {
        samples.push(sample(
            "gh_activity_commits_24h",
            org,
            "repo-1",
            user,
            value + i as f64,
        ));
        samples.push(sample(
            "gh_activity_loc_added_weekly",
            org,
            "repo-2",
            user,
            value * 10.5,
        ));
    }
    OrgBatch {
        org: org.into(),
        grant: Some(gse_actors::election::Grant::epoch_only(1)),
        shared: Default::default(),
        counter_deltas: Vec::new(),
        samples,
    }
}

/// Leader and follower processes serve the same `gh_activity_*` bytes (text and OpenMetrics),
/// and follow a second cycle to the same new bytes.
#[tokio::test]
async fn leader_and_follower_serve_identical_activity_lines() {
    let namespace = unique_namespace("replicas");
    let _cleanup = Cleanup {
        url: SHARED_REDIS.into(),
        namespace: namespace.clone(),
    };
    let mut leader = Running::start(&replica_env(&namespace, "leader"));
    let mut follower = Running::start(&replica_env(&namespace, "follower"));

    let writer = store(settings(SHARED_REDIS, &namespace));
    writer.write_org_batch(cycle("acme", 1.0)).await.unwrap();
    writer.write_org_batch(cycle("globex", 2.0)).await.unwrap();

    for running in [&mut leader, &mut follower] {
        running.wait_until("both orgs served", |r| {
            activity_lines(r).lines().count() == 12
        });
        running.wait_until("ready", |r| r.get("/readyz").map(|r| r.status) == Some(200));
    }
    let leader_lines = activity_lines(&leader);
    assert!(leader_lines.contains("gh_activity_commits_24h{org=\"acme\",repo=\"repo-1\",user=\"bob \\\"the builder\\\"\"} 2\n"), "{leader_lines}");
    assert_eq!(leader_lines, activity_lines(&follower));
    let om = |r: &Running| {
        r.request(
            "GET",
            "/metrics",
            &[("Accept", "application/openmetrics-text;version=1.0.0")],
        )
        .unwrap()
        .body
    };
    assert_eq!(
        om(&leader),
        om(&follower),
        "whole OpenMetrics bodies (series counts, shared counters) match too"
    );
    let replica = follower.get("/metrics/replica").unwrap().text();
    assert!(replica.contains("gh_exporter_is_leader 0\n"), "{replica}");
    assert!(
        replica.contains("gh_exporter_dependency_health{dependency=\"redis\"} 1\n"),
        "{replica}"
    );

    writer.write_org_batch(cycle("acme", 5.0)).await.unwrap();
    for running in [&mut leader, &mut follower] {
        running.wait_until("second cycle served", |r| {
            activity_lines(r).contains("user=\"alice\"} 5\n")
        });
    }
    assert_eq!(activity_lines(&leader), activity_lines(&follower));
    assert_eq!(om(&leader), om(&follower));
}
