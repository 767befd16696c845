//! Point 4 of the Redis store: a test-owned `redis-server` is killed mid-run and restarted
//! empty (no persistence). A follower exporter process keeps serving its last snapshot,
//! reports `dependency_health{dependency="redis"} 0`, a growing snapshot age and `/readyz` 503,
//! and catches up by itself; the in-test leader (a real StoreActor on the Redis adapter) keeps
//! the write that failed during the outage and retries it, and re-seeds what Redis lost, so
//! nothing is lost.

mod common;
mod redis_common;

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use common::Running;
use gse_actors::health::{HealthActor, Role};
use gse_actors::messages::{GetHealth, UpsertBatch};
use gse_actors::service_health::ServiceHealthRegistry;
use gse_actors::store::{ExpositionCell, StoreActor};
use redis_common::*;

fn metrics_text(running: &Running) -> Option<String> {
    running
        .request("GET", "/metrics", &[("Accept", "text/plain")])
        .filter(|r| r.status == 200)
        .map(|r| r.text())
}

fn replica_gauge(running: &Running, series: &str) -> Option<f64> {
    let text = running.get("/metrics/replica")?.text();
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))?;
    line.rsplit(' ').next()?.parse().ok()
}

// The polls below go through `eventually` (an async sleep), never `Running::wait_until`
// (a thread sleep): the leader's actors run on this test's thread and must keep running.

fn activity(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("gh_activity_"))
        .collect()
}

/// Kill and restart Redis: the follower serves its last snapshot marked stale and not ready,
/// then recovers; the leader's failed write lands after the restart and the pre-outage batch
/// is restored, so both batches are served in the end.
#[actix_rt::test]
async fn redis_outage_keeps_last_snapshot_and_recovers_without_loss() {
    let mut redis = PrivateRedis::start();
    let url = redis.url();
    let namespace = unique_namespace("outage");
    let env = [
        ("GITHUB_STATS_GITHUB__ORGS", "acme,globex"),
        ("GITHUB_STATS_GITHUB__TOKEN", "x-secret-token"),
        ("GITHUB_STATS_GITHUB__API_BASE_URL", "http://127.0.0.1:9"),
        ("GITHUB_STATS_STORE__REDIS_URL", url.as_str()),
        ("GITHUB_STATS_STORE__NAMESPACE", namespace.as_str()),
        ("GITHUB_STATS_STORE__METRIC_REFRESH_INTERVAL", "1s"),
        ("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", "follower"),
    ];
    let follower = Running::start(&env);

    // The leader: a real StoreActor over the Redis adapter, in this process.
    let health = HealthActor::new(
        Role::Leader,
        &[gse_actors::store::COMPONENT],
        ServiceHealthRegistry::default(),
    )
    .start();
    let cell = Arc::new(ExpositionCell::new());
    let leader_store = Arc::new(store(settings(&url, &namespace)));
    let leader = StoreActor::new(
        leader_store,
        cell.clone(),
        gse_actors::health::HealthReporter::from_recipient(health.clone().recipient()),
        Duration::from_secs(1),
    )
    .start();

    leader
        .send(UpsertBatch(batch(
            "acme",
            1,
            &[("alice", 3.0), ("bob", 4.0)],
        )))
        .await
        .unwrap();
    eventually("pre-outage batch served", async || {
        let r = &follower;
        metrics_text(r).is_some_and(|t| activity(&t).len() == 2)
    })
    .await;
    eventually("ready", async || {
        let r = &follower;
        r.get("/readyz").map(|r| r.status) == Some(200)
    })
    .await;
    assert_eq!(
        replica_gauge(
            &follower,
            "gh_exporter_dependency_health{dependency=\"redis\"}"
        ),
        Some(1.0)
    );
    let before = metrics_text(&follower).unwrap();

    redis.kill();
    // Written while Redis is down: must be retried, not dropped.
    leader
        .send(UpsertBatch(batch("globex", 1, &[("carol", 7.0)])))
        .await
        .unwrap();

    eventually("readyz 503", async || {
        let r = &follower;
        r.get("/readyz").map(|r| r.status) == Some(503)
    })
    .await;
    eventually("redis reported down", async || {
        let r = &follower;
        replica_gauge(r, "gh_exporter_dependency_health{dependency=\"redis\"}") == Some(0.0)
    })
    .await;
    eventually("snapshot age grows", async || {
        let r = &follower;
        replica_gauge(r, "gh_exporter_store_snapshot_age_seconds").is_some_and(|age| age >= 2.0)
    })
    .await;
    assert_eq!(
        metrics_text(&follower).unwrap(),
        before,
        "the last snapshot keeps being served, unchanged"
    );
    eventually("leader not ready", async || {
        !health.send(GetHealth).await.unwrap().ready
    })
    .await;
    assert!(String::from_utf8_lossy(&cell.load().text.plain()).contains("user=\"alice\"} 3\n"));

    redis.restart();

    let expected = [
        "gh_activity_commits_24h{org=\"acme\",repo=\"r\",user=\"alice\"} 3",
        "gh_activity_commits_24h{org=\"acme\",repo=\"r\",user=\"bob\"} 4",
        "gh_activity_commits_24h{org=\"globex\",repo=\"r\",user=\"carol\"} 7",
    ];
    eventually("both batches served after the restart", async || {
        let r = &follower;
        metrics_text(r).is_some_and(|t| activity(&t) == expected)
    })
    .await;
    eventually("ready again", async || {
        let r = &follower;
        r.get("/readyz").map(|r| r.status) == Some(200)
    })
    .await;
    assert_eq!(
        replica_gauge(
            &follower,
            "gh_exporter_dependency_health{dependency=\"redis\"}"
        ),
        Some(1.0)
    );
    let age = replica_gauge(&follower, "gh_exporter_store_snapshot_age_seconds").unwrap();
    assert!(age < 30.0, "snapshot confirmed current again, age {age}");
    eventually("leader ready again", async || {
        health.send(GetHealth).await.unwrap().ready
    })
    .await;
    eventually("leader serves both batches", async || {
        let text = String::from_utf8_lossy(&cell.load().text.plain()).into_owned();
        activity(&text) == expected
    })
    .await;
}
