//! Two real exporter processes on one Redis namespace, the leader scraping a fake GitHub and
//! the follower not scraping at all: both serve byte-identical `gh_activity_*` lines, and the
//! follower can read the leader's scrape state (the backfill worker depends on that).

mod common;
mod redis_common;

use std::time::{Duration, Instant};

use common::Running;
use fake_github::{FakeConfig, FakeGithub};
use redis_common::{delete_namespace, unique_namespace, SHARED_REDIS};

fn activity_lines(running: &Running) -> Vec<String> {
    let body = running
        .request("GET", "/metrics", &[("Accept", "text/plain")])
        .map(|r| r.text())
        .unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with("gh_activity_"))
        .map(str::to_string)
        .collect()
}

/// Leader scrapes, follower only reads: identical activity lines on both, and the follower's
/// replica metrics show it scrapes nothing itself.
#[test]
fn follower_serves_exactly_what_the_scraping_leader_wrote() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = FakeConfig {
        orgs: 2,
        repos: 8,
        users: 8,
        ..FakeConfig::default()
    };
    config.secondary.burst_max = 0;
    let fake = FakeGithub::spawn(config).expect("fake GitHub starts");
    let namespace = unique_namespace("scrape-replicas");
    let base = format!("{}/", fake.base_url());
    let orgs = fake.org_names().join(",");
    let shared: Vec<(&str, &str)> = vec![
        ("GITHUB_STATS_GITHUB__ORGS", &orgs),
        ("GITHUB_STATS_GITHUB__TOKEN", "fake-token"),
        ("GITHUB_STATS_GITHUB__API_BASE_URL", &base),
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "2s"),
        ("GITHUB_STATS_STORE__REDIS_URL", SHARED_REDIS),
        ("GITHUB_STATS_STORE__NAMESPACE", &namespace),
        ("GITHUB_STATS_STORE__METRIC_REFRESH_INTERVAL", "1s"),
    ];
    let leader = Running::start(&shared);
    let mut follower_env = shared.clone();
    follower_env.push(("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", "follower"));
    let follower = Running::start(&follower_env);

    let deadline = Instant::now() + Duration::from_secs(60);
    let (from_leader, from_follower) = loop {
        let (a, b) = (activity_lines(&leader), activity_lines(&follower));
        if !a.is_empty() && a == b {
            break (a, b);
        }
        assert!(
            Instant::now() < deadline,
            "replicas never agreed:\nleader {} lines, follower {} lines",
            a.len(),
            b.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(from_leader, from_follower);
    assert!(
        from_leader
            .iter()
            .any(|l| l.starts_with("gh_activity_commits_24h{")),
        "{from_leader:?}"
    );

    let follower_replica = follower
        .get("/metrics/replica")
        .map(|r| r.text())
        .unwrap_or_default();
    assert!(
        follower_replica.contains("gh_exporter_is_leader 0"),
        "{follower_replica}"
    );
    let leader_replica = leader
        .get("/metrics/replica")
        .map(|r| r.text())
        .unwrap_or_default();
    assert!(
        leader_replica.contains("gh_exporter_actor_up{actor=\"scrape."),
        "the leader runs scrapers"
    );
    assert!(
        !follower_replica.contains("gh_exporter_actor_up{actor=\"scrape."),
        "the follower does not scrape"
    );

    drop(leader);
    drop(follower);
    delete_namespace(SHARED_REDIS, &namespace);
}
