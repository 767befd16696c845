//! The shared rate budget of one credential on the real Redis: governors of three "replicas"
//! (each with its own connection, as three processes would have) pace together at the
//! credential's rate, share pauses, and a governor whose Redis is cut paces alone at its share
//! of the rate, counts it, and goes back to the shared budget once Redis answers; the take
//! script's decisions one by one.

mod proxy_support;
mod redis_common;

use std::sync::Arc;
use std::time::Duration;

use github_stats_exporter::github::governor::{Governor, RateLimitSettings, Sharing};
use github_stats_exporter::github::shared_budget::{CredentialId, Pacing, SharedBudgets, Take};
use gse_actors::observe::{MemRecorder, Recorder};
use proxy_support::Proxy;
use redis_common::{delete_namespace, settings, unique_namespace, SHARED_REDIS};
use tokio::time::Instant;

const FALLBACKS: &str = "gh_exporter_rate_governor_fallbacks";

fn rate(per_minute: u32) -> RateLimitSettings {
    RateLimitSettings {
        min_remaining_threshold: 0,
        min_reset_buffer: Duration::ZERO,
        secondary_limit_backoff: Duration::from_secs(60),
        requests_per_minute: per_minute,
    }
}

/// A governor of the credential `token` on its own connection to `url`, its share being
/// `1/peers` when it paces alone.
fn governor(
    url: &str,
    namespace: &str,
    per_minute: u32,
    peers: usize,
    recorder: &Arc<MemRecorder>,
) -> Arc<Governor> {
    let budgets = SharedBudgets::new(&settings(url, namespace)).expect("valid settings");
    let id = CredentialId::token("one-token-for-all");
    Arc::new(Governor::shared(
        rate(per_minute),
        Sharing {
            budget: budgets.credential(&id),
            peers: Arc::new(move || peers),
            recorder: recorder.clone() as Arc<dyn Recorder>,
        },
    ))
}

fn fallbacks(recorder: &MemRecorder) -> u64 {
    recorder.snapshot().counter(FALLBACKS, &[]).unwrap_or(0)
}

/// The most instants of `sorted` within any span of `span`.
fn most_within(sorted: &[Duration], span: Duration) -> usize {
    sorted
        .iter()
        .enumerate()
        .map(|(i, t)| sorted[i..].iter().take_while(|u| **u < *t + span).count())
        .max()
        .unwrap_or(0)
}

/// 1 200 requests from three replicas at 6 000 a minute (a burst of 600, then 90 a second):
/// alone, each replica's 400 would all fit its own burst and go at once; shared, the second
/// 600 wait for the credential's steady rate, and no second holds more than the burst plus a
/// second's worth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_of_one_credential_pace_together() {
    let namespace = unique_namespace("shared-budget-pace");
    let recorder = Arc::new(MemRecorder::new());
    let replicas: Vec<_> = (0..3)
        .map(|_| governor(SHARED_REDIS, &namespace, 6000, 3, &recorder))
        .collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for replica in &replicas {
        for _ in 0..8 {
            let replica = replica.clone();
            tasks.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                for _ in 0..50 {
                    replica.acquire("core").await;
                    sent.push(start.elapsed());
                }
                sent
            }));
        }
    }
    let mut sent = Vec::new();
    for task in tasks {
        sent.extend(task.await.expect("taker task"));
    }
    sent.sort();
    delete_namespace(SHARED_REDIS, &namespace);
    assert_eq!(sent.len(), 1200);
    assert_eq!(fallbacks(&recorder), 0, "Redis answered every take");
    let last = sent[sent.len() - 1];
    assert!(
        last >= Duration::from_millis(6500),
        "600 requests past the burst at 90/s take 6.7 s; the last went at {last:?}"
    );
    let busiest = most_within(&sent, Duration::from_secs(1));
    assert!(
        busiest <= 600 + 90 + 20,
        "{busiest} requests within one second (burst 600 + 90/s)"
    );
}

/// A secondary limit one replica meets pauses that resource for the others too (and only that
/// resource).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_one_replica_meets_holds_the_others() {
    let namespace = unique_namespace("shared-budget-pause");
    let recorder = Arc::new(MemRecorder::new());
    let a = governor(SHARED_REDIS, &namespace, 6000, 2, &recorder);
    let b = governor(SHARED_REDIS, &namespace, 6000, 2, &recorder);
    let imposed = a.secondary("core", Some(Duration::from_secs(2))).await;
    assert_eq!(imposed, Duration::from_secs(2));
    let start = Instant::now();
    b.acquire("search").await;
    let other_resource = start.elapsed();
    b.acquire("core").await;
    let paused = start.elapsed();
    delete_namespace(SHARED_REDIS, &namespace);
    assert_eq!(fallbacks(&recorder), 0, "Redis answered every take");
    assert!(
        other_resource < Duration::from_millis(1500),
        "search is not paused ({other_resource:?})"
    );
    assert!(
        paused >= Duration::from_millis(1800),
        "core waited out the other replica's pause ({paused:?})"
    );
}

/// Redis cut: the replica paces alone at a third of 6 000 a minute (a burst of 200, then 30 a
/// second), so 260 requests take 2 s where the whole rate's burst of 600 would let them all go
/// at once; every one is counted. Redis back: the takes are shared again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_replica_paces_at_its_share_and_counts_it() {
    let namespace = unique_namespace("shared-budget-cut");
    let proxy = Proxy::start("127.0.0.1:6379").await;
    let recorder = Arc::new(MemRecorder::new());
    let replica = governor(&proxy.redis_url(), &namespace, 6000, 3, &recorder);
    replica.acquire("core").await;
    assert_eq!(fallbacks(&recorder), 0, "shared while Redis answers");

    proxy.set_refusing(true);
    proxy.cut_all();
    let start = Instant::now();
    for _ in 0..260 {
        replica.acquire("core").await;
    }
    let alone = start.elapsed();
    let stats = proxy.stats();
    assert!(
        stats.cut >= 1 && stats.refused >= 1,
        "the proxy cut and refused Redis: {stats:?}"
    );
    assert_eq!(
        fallbacks(&recorder),
        260,
        "every request paced alone is counted"
    );
    assert!(
        alone >= Duration::from_millis(1800),
        "60 requests past a burst of 200 at 30/s take 2 s; took {alone:?}"
    );

    proxy.set_refusing(false);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let before = fallbacks(&recorder);
        replica.acquire("core").await;
        if fallbacks(&recorder) == before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the shared budget never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut conn = redis::Client::open(SHARED_REDIS)
        .and_then(|c| c.get_connection())
        .expect("shared Redis");
    let id = CredentialId::token("one-token-for-all");
    let pace_key = format!("{namespace}:github-budget:{}:pace", id.as_str());
    let exists: bool = redis::cmd("EXISTS")
        .arg(&pace_key)
        .query(&mut conn)
        .expect("EXISTS");
    delete_namespace(SHARED_REDIS, &namespace);
    assert!(exists, "the take after the outage went through Redis");
}

/// The script's decisions, one by one: a burst of 3 goes at once, the next requests get the
/// following slots, one interval apart; a paused resource reserves nothing.
#[tokio::test]
async fn takes_go_then_reserve_slots_one_interval_apart() {
    let namespace = unique_namespace("shared-budget-gcra");
    let budgets = SharedBudgets::new(&settings(SHARED_REDIS, &namespace)).expect("settings");
    let budget = budgets.credential(&CredentialId::token("gcra"));
    let pacing = Some(Pacing {
        interval: Duration::from_secs(10),
        burst: 3,
    });
    let mut takes = Vec::new();
    for _ in 0..5 {
        takes.push(budget.take("core", pacing).await.expect("take"));
    }
    let other = budgets.credential(&CredentialId::token("other"));
    other
        .pause("core", Duration::from_secs(5))
        .await
        .expect("pause");
    let paused = other.take("core", pacing).await.expect("take");
    let mut conn = redis::Client::open(SHARED_REDIS)
        .and_then(|c| c.get_connection())
        .expect("shared Redis");
    let reserved: bool = redis::cmd("EXISTS")
        .arg(other.pace_key())
        .query(&mut conn)
        .expect("EXISTS");
    delete_namespace(SHARED_REDIS, &namespace);
    assert_eq!(&takes[..3], &[Take::Go, Take::Go, Take::Go]);
    let slot = |take: &Take| match take {
        Take::Slot(wait) => *wait,
        other => panic!("a slot, not {other:?}"),
    };
    let (fourth, fifth) = (slot(&takes[3]), slot(&takes[4]));
    assert!(
        fourth > Duration::from_secs(9) && fourth <= Duration::from_secs(10),
        "{fourth:?}"
    );
    assert!(
        fifth > Duration::from_secs(19) && fifth <= Duration::from_secs(20),
        "{fifth:?}"
    );
    assert!(
        matches!(paused, Take::Paused(w) if w > Duration::from_secs(4) && w <= Duration::from_secs(5)),
        "{paused:?}"
    );
    assert!(!reserved, "a paused take reserves no slot");
}

/// The credential's name in Redis keys is a fingerprint: the token appears nowhere.
#[test]
fn credential_ids_never_carry_the_token() {
    let id = CredentialId::token("ghp_secretsecretsecret");
    assert!(!id.as_str().contains("secret"), "{}", id.as_str());
    assert_eq!(id, CredentialId::token("ghp_secretsecretsecret"));
    assert_ne!(id, CredentialId::token("ghp_another"));
    assert_eq!(
        CredentialId::app(7, Some(42), "org").as_str(),
        "app-7-inst-42"
    );
}
