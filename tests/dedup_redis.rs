//! The Redis backfill dedup table against the shared Redis at 127.0.0.1:6379 (one fresh
//! namespace per test, deleted afterwards): locks hold for their TTL only, replicas see each
//! other's locks, an unreachable Redis fails within the deadline, and two real dispatchers on
//! separate queues but one table publish a missed window once.

mod backfill_support;
mod redis_common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::Actor as _;
use backfill_support::counter;
use github_stats_exporter::queue::dedup_redis::RedisDedup;
use github_stats_exporter::queue::memory::MemoryQueue;
use github_stats_exporter::queue::names::QueueNames;
use gse_actors::backfill::{BackfillDispatcher, DedupLocks, DispatcherSettings, JobQueue};
use gse_actors::messages::EnqueueMissing;
use gse_actors::observe::MemRecorder;
use redis_common::{eventually, settings, unique_namespace, Cleanup, SHARED_REDIS};

/// A table on the shared Redis in `namespace`, and the guard that deletes its keys.
fn table(namespace: &str) -> (RedisDedup, Cleanup) {
    let dedup = RedisDedup::new(&settings(SHARED_REDIS, namespace)).expect("valid settings");
    let cleanup = Cleanup {
        url: SHARED_REDIS.to_string(),
        namespace: namespace.to_string(),
    };
    (dedup, cleanup)
}

/// Remaining TTL of a raw key in milliseconds (`-2`: no such key).
fn pttl(key: &str) -> i64 {
    let client = redis::Client::open(SHARED_REDIS).expect("redis url");
    let mut conn = client
        .get_connection()
        .expect("connect to the shared Redis");
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut conn)
        .expect("PTTL answers")
}

/// Keys of the dedup table in `namespace`.
fn lock_keys(namespace: &str) -> Vec<String> {
    let client = redis::Client::open(SHARED_REDIS).expect("redis url");
    let mut conn = client
        .get_connection()
        .expect("connect to the shared Redis");
    redis::cmd("KEYS")
        .arg(format!("{namespace}:backfill-dedup:*"))
        .query(&mut conn)
        .expect("KEYS answers")
}

/// A lock is held right after `acquire`, only for its own key, under
/// `<namespace>:backfill-dedup:<key>` with the TTL as PTTL, and expires after the TTL.
#[actix_rt::test]
async fn a_lock_is_held_for_its_ttl_only() {
    let namespace = unique_namespace("dedup-ttl");
    let (dedup, _cleanup) = table(&namespace);
    // Long enough that a loaded CI machine still sees the lock, short enough to wait out.
    let ttl = Duration::from_secs(2);

    dedup
        .acquire("acme:api:w1:scrape_error", ttl)
        .await
        .unwrap();
    assert!(dedup.is_held("acme:api:w1:scrape_error").await.unwrap());
    assert!(!dedup.is_held("acme:api:w2:scrape_error").await.unwrap());
    let key = format!("{namespace}:backfill-dedup:acme:api:w1:scrape_error");
    assert_eq!(dedup.key("acme:api:w1:scrape_error"), key);
    let remaining = pttl(&key);
    assert!(
        remaining > 0 && remaining <= 2000,
        "PTTL of {key} is {remaining}"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    while dedup.is_held("acme:api:w1:scrape_error").await.unwrap() {
        assert!(Instant::now() < deadline, "the lock never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pttl(&key), -2, "the expired lock left its key behind");
}

/// A zero TTL (`backfill.dedup_ttl = 0s`) holds nothing, like the memory table.
#[actix_rt::test]
async fn a_zero_ttl_holds_nothing() {
    let namespace = unique_namespace("dedup-zero");
    let (dedup, _cleanup) = table(&namespace);
    dedup.acquire("k", Duration::ZERO).await.unwrap();
    assert!(!dedup.is_held("k").await.unwrap());
    assert!(lock_keys(&namespace).is_empty());
}

/// Two tables on one namespace (two replicas) see each other's locks; another namespace (another
/// deployment) sees none of them.
#[actix_rt::test]
async fn replicas_share_one_table() {
    let namespace = unique_namespace("dedup-shared");
    let (replica_a, _cleanup) = table(&namespace);
    let (replica_b, _) = table(&namespace);
    let other_namespace = unique_namespace("dedup-other");
    let (other, _other_cleanup) = table(&other_namespace);
    let ttl = Duration::from_secs(60);

    replica_a.acquire("from-a", ttl).await.unwrap();
    replica_b.acquire("from-b", ttl).await.unwrap();
    assert!(replica_b.is_held("from-a").await.unwrap());
    assert!(replica_a.is_held("from-b").await.unwrap());
    assert!(!other.is_held("from-a").await.unwrap());
    assert!(!other.is_held("from-b").await.unwrap());

    // Re-taking a held lock refreshes it (plain SET): still held, TTL back to the full value.
    replica_b
        .acquire("from-a", Duration::from_secs(120))
        .await
        .unwrap();
    assert!(pttl(&replica_a.key("from-a")) > 60_000);
}

/// An unreachable Redis is an error (backend `redis`, with its operation and source) within
/// the command deadline, never a hang; a malformed URL is refused at construction.
#[actix_rt::test]
async fn an_unreachable_redis_fails_within_the_deadline() {
    let mut unreachable = settings("redis://127.0.0.1:1", "gse-test:dedup-down");
    unreachable.command_timeout = Duration::from_millis(500);
    unreachable.connect_timeout = Duration::from_millis(200);
    let dedup = RedisDedup::new(&unreachable).expect("valid settings");

    // Each call fails on its own deadline (500 ms); a call without one would hang until the
    // test's deadline fails it.
    const LIMIT: Duration = Duration::from_secs(30);
    const HUNG: &str = "the call failed within its deadline instead of hanging";
    let error = tokio::time::timeout(LIMIT, dedup.is_held("k"))
        .await
        .expect(HUNG)
        .expect_err("no Redis there");
    assert_eq!((error.backend, error.operation), ("redis", "is_held"));
    let error = tokio::time::timeout(LIMIT, dedup.acquire("k", Duration::from_secs(1)))
        .await
        .expect(HUNG)
        .expect_err("no Redis there");
    assert_eq!((error.backend, error.operation), ("redis", "acquire"));
    assert!(std::error::Error::source(&error).is_some());

    assert!(RedisDedup::new(&settings("not a url", "x")).is_err());
}

fn dispatcher_settings() -> DispatcherSettings {
    let mut s =
        DispatcherSettings::new(Duration::from_secs(900), Duration::from_secs(3600), 100, 5);
    s.flush_interval = Duration::from_millis(20);
    s
}

async fn queued_jobs(queue: &MemoryQueue) -> u64 {
    queue.sample().await.unwrap()[0].ready
}

/// Two replicas' dispatchers, each with its own queue but one Redis dedup namespace: the same
/// missed window sent to both is published once in total, and the second dispatcher counts it
/// as deduped. The second request follows the first's lock, as it does in production: the lock
/// is taken only after the broker confirmed the publish.
#[actix_rt::test]
async fn two_dispatchers_sharing_the_table_publish_a_window_once() {
    let namespace = unique_namespace("dedup-dispatch");
    let (dedup_a, _cleanup) = table(&namespace);
    let (dedup_b, _) = table(&namespace);
    let names = |replica: &str| QueueNames::new("ex", &format!("jobs-{replica}"), "dlq", &[]);
    let (queue_a, queue_b) = (
        MemoryQueue::new(names("a"), 1000),
        MemoryQueue::new(names("b"), 1000),
    );
    let (recorder_a, recorder_b) = (Arc::new(MemRecorder::new()), Arc::new(MemRecorder::new()));
    let dispatcher_a = BackfillDispatcher::new(
        dispatcher_settings(),
        Arc::new(queue_a.clone()),
        recorder_a.clone(),
    )
    .with_dedup(Arc::new(dedup_a))
    .start();
    let dispatcher_b = BackfillDispatcher::new(
        dispatcher_settings(),
        Arc::new(queue_b.clone()),
        recorder_b.clone(),
    )
    .with_dedup(Arc::new(dedup_b))
    .start();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64();
    let missing = EnqueueMissing {
        org: "acme".into(),
        repo: "api".into(),
        window_start: now - 86_400.0,
        window_end: now,
        reason: gse_actors::backfill::Reason::ScrapeError,
        trace_parent: None,
    };
    let labels = [("org", "acme"), ("reason", "scrape_error")];

    dispatcher_a.send(missing.clone()).await.unwrap();
    eventually(
        "replica A publishes and takes the shared lock",
        async || {
            counter(&recorder_a, "gh_exporter_backfill_jobs_enqueued", &labels) == 1
                && lock_keys(&namespace).len() == 1
        },
    )
    .await;

    dispatcher_b.send(missing).await.unwrap();
    eventually("replica B counts the window as deduped", async || {
        counter(&recorder_b, "gh_exporter_backfill_jobs_deduped", &labels) == 1
    })
    .await;
    // B decided (deduped) before any publish; A published once: nothing else is in flight.
    assert_eq!(queued_jobs(&queue_a).await, 1);
    assert_eq!(queued_jobs(&queue_b).await, 0);
    assert_eq!(
        counter(&recorder_b, "gh_exporter_backfill_jobs_enqueued", &labels),
        0
    );
    assert_eq!(
        counter(&recorder_a, "gh_exporter_backfill_jobs_deduped", &labels),
        0
    );
}
