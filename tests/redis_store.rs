//! The Redis metric store against the real Redis at 127.0.0.1:6379, one unique namespace per
//! test: batch replacement, fencing, atomic visibility, retention, the series budget, shared
//! counters and incremental refresh.

mod redis_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gse_actors::ports::{MetricStore, OrgBatch, StoreError};
use redis_common::*;

fn fixture(test: &str) -> (String, Cleanup) {
    let namespace = unique_namespace(test);
    let cleanup = Cleanup {
        url: SHARED_REDIS.into(),
        namespace: namespace.clone(),
    };
    (namespace, cleanup)
}

/// A batch replaces the org's previous series (departed users disappear), leaves other orgs
/// alone, and a second replica reading the same namespace sees exactly the same lines.
#[tokio::test]
async fn org_batch_replaces_previous_series_for_every_replica() {
    let (ns, _cleanup) = fixture("replace");
    let leader = store(settings(SHARED_REDIS, &ns));
    let follower = store(settings(SHARED_REDIS, &ns));
    leader
        .write_org_batch(batch("a", 1, &[("u1", 1.0), ("u2", 2.0)]))
        .await
        .unwrap();
    leader
        .write_org_batch(batch("b", 1, &[("u9", 9.0)]))
        .await
        .unwrap();
    leader
        .write_org_batch(batch("a", 1, &[("u2", 5.0)]))
        .await
        .unwrap();

    let snapshot = follower
        .load_if_changed(0)
        .await
        .unwrap()
        .expect("first load returns a snapshot");
    let activity: Vec<String> = lines(&snapshot.families)
        .into_iter()
        .filter(|l| l.starts_with("gh_activity_"))
        .collect();
    assert_eq!(
        activity,
        vec![
            "gh_activity_commits_24h{org=\"a\",repo=\"r\",user=\"u2\"} 5".to_string(),
            "gh_activity_commits_24h{org=\"b\",repo=\"r\",user=\"u9\"} 9".to_string(),
        ]
    );
    let from_leader = leader.load_if_changed(0).await.unwrap().unwrap();
    assert_eq!(lines(&from_leader.families), lines(&snapshot.families));
    assert!(lines(&snapshot.families)
        .contains(&"gh_exporter_series{metric=\"gh_activity_commits_24h\"} 2".to_string()));
}

/// Nothing changed → `None`, without re-reading the series; a change → a new version.
#[tokio::test]
async fn unchanged_store_returns_no_snapshot() {
    let (ns, _cleanup) = fixture("unchanged");
    let store = store(settings(SHARED_REDIS, &ns));
    store
        .write_org_batch(batch("a", 1, &[("u1", 1.0)]))
        .await
        .unwrap();
    let first = store.load_if_changed(0).await.unwrap().unwrap();
    assert!(store
        .load_if_changed(first.version)
        .await
        .unwrap()
        .is_none());
    store
        .write_org_batch(batch("b", 1, &[("u2", 2.0)]))
        .await
        .unwrap();
    let second = store
        .load_if_changed(first.version)
        .await
        .unwrap()
        .expect("changed");
    assert_ne!(second.version, first.version);
    assert_eq!(
        lines(&second.families)
            .iter()
            .filter(|l| l.starts_with("gh_activity_"))
            .count(),
        2
    );
}

/// A write carrying an epoch older than the one that last wrote its org is rejected by the
/// commit script, changes no series, and is counted in the shared write counter. Epochs are
/// per org: a newer epoch on one org does not fence another.
#[tokio::test]
async fn stale_epoch_write_is_rejected() {
    let (ns, _cleanup) = fixture("stale");
    let store = store(settings(SHARED_REDIS, &ns));
    store
        .write_org_batch(batch("a", 2, &[("u1", 1.0)]))
        .await
        .unwrap();
    let error = store
        .write_org_batch(batch("a", 1, &[("u1", 7.0)]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::StaleEpoch {
                attempted: 1,
                current: 2
            }
        ),
        "{error:?}"
    );
    // A newer epoch is accepted and becomes the fence of its org only.
    store
        .write_org_batch(batch("b", 3, &[("u3", 3.0)]))
        .await
        .unwrap();
    store
        .write_org_batch(batch("a", 2, &[("u1", 1.0)]))
        .await
        .unwrap();
    let error = store
        .write_org_batch(batch("b", 2, &[("u3", 4.0)]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::StaleEpoch {
                attempted: 2,
                current: 3
            }
        ),
        "{error:?}"
    );

    let all = lines(&store.load_if_changed(0).await.unwrap().unwrap().families);
    assert!(
        all.contains(&"gh_activity_commits_24h{org=\"a\",repo=\"r\",user=\"u1\"} 1".to_string()),
        "{all:?}"
    );
    assert!(
        all.contains(&"gh_activity_commits_24h{org=\"b\",repo=\"r\",user=\"u3\"} 3".to_string()),
        "{all:?}"
    );
    assert!(
        all.contains(&"gh_exporter_store_write_total{result=\"stale_epoch\"} 2".to_string()),
        "{all:?}"
    );
    assert!(
        all.contains(&"gh_exporter_store_write_total{result=\"success\"} 3".to_string()),
        "{all:?}"
    );
    let epoch_key: Option<String> = redis::cmd("GET")
        .arg(format!("{ns}:epoch"))
        .query(
            &mut redis::Client::open(SHARED_REDIS)
                .unwrap()
                .get_connection()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(epoch_key, None, "no global epoch key any more");
}

/// An org not rewritten within the retention disappears from the snapshot (and the budget).
#[tokio::test]
async fn retention_expires_series() {
    let (ns, _cleanup) = fixture("retention");
    let mut short = settings(SHARED_REDIS, &ns);
    short.retention = Duration::from_millis(300);
    short.max_series_budget = 10;
    let store = store(short);
    store
        .write_org_batch(batch("a", 1, &[("u1", 1.0)]))
        .await
        .unwrap();
    let first = store.load_if_changed(0).await.unwrap().unwrap();
    assert!(lines(&first.families)
        .iter()
        .any(|l| l.starts_with("gh_activity_commits_24h{")));

    eventually("series expire", async || {
        let snapshot = store.load_if_changed(0).await.unwrap().unwrap();
        !lines(&snapshot.families)
            .iter()
            .any(|l| l.starts_with("gh_activity_commits_24h{"))
    })
    .await;
    let total: u64 = redis_get(&format!("{ns}:total"));
    assert_eq!(total, 0, "expired series leave the budget");
}

fn redis_get(key: &str) -> u64 {
    let mut conn = redis::Client::open(SHARED_REDIS)
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("GET")
        .arg(key)
        .query::<Option<u64>>(&mut conn)
        .unwrap()
        .unwrap_or(0)
}

/// Beyond `max_series_budget`, new series are dropped (existing ones keep updating), the write
/// reports `BudgetExceeded`, and the drops are counted in a shared counter.
#[tokio::test]
async fn budget_rejects_new_series_and_counts_them() {
    let (ns, _cleanup) = fixture("budget");
    let mut limited = settings(SHARED_REDIS, &ns);
    limited.max_series_budget = 3;
    let store = store(limited);
    store
        .write_org_batch(batch("a", 1, &[("u1", 1.0), ("u2", 1.0)]))
        .await
        .unwrap();
    let error = store
        .write_org_batch(batch("b", 1, &[("v1", 1.0), ("v2", 1.0), ("v3", 1.0)]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::BudgetExceeded {
                budget: 3,
                rejected: 2
            }
        ),
        "{error:?}"
    );

    // Org b keeps its one admitted series (updated) even though v0 is new and would not fit.
    let error = store
        .write_org_batch(batch("b", 1, &[("v0", 5.0), ("v1", 7.0)]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::BudgetExceeded {
                budget: 3,
                rejected: 1
            }
        ),
        "{error:?}"
    );

    let all = lines(&store.load_if_changed(0).await.unwrap().unwrap().families);
    let activity: Vec<&String> = all
        .iter()
        .filter(|l| l.starts_with("gh_activity_"))
        .collect();
    assert_eq!(activity.len(), 3, "{all:?}");
    assert!(
        all.contains(&"gh_activity_commits_24h{org=\"b\",repo=\"r\",user=\"v1\"} 7".to_string()),
        "{all:?}"
    );
    assert!(
        all.contains(&"gh_exporter_store_series_rejected_total 3".to_string()),
        "{all:?}"
    );
    assert_eq!(redis_get(&format!("{ns}:total")), 3);

    // Shrinking org a frees room for a new series of org b.
    store
        .write_org_batch(batch("a", 1, &[("u1", 1.0)]))
        .await
        .unwrap();
    store
        .write_org_batch(batch("b", 1, &[("v0", 5.0), ("v1", 7.0)]))
        .await
        .unwrap();
    assert_eq!(redis_get(&format!("{ns}:total")), 3);
}

/// While a writer keeps replacing an org's multi-chunk batch, every snapshot a second replica
/// loads holds exactly one cycle: all series and the cycle timestamp carry the same value.
#[tokio::test]
async fn readers_never_see_half_of_two_cycles() {
    let (ns, _cleanup) = fixture("atomic");
    let mut small_chunks = settings(SHARED_REDIS, &ns);
    small_chunks.chunk_series = 7;
    let writer = store(small_chunks.clone());
    let reader = store(small_chunks);
    let cycle = |n: u32| {
        let mut batch = OrgBatch {
            org: "a".into(),
            grant: Some(gse_actors::election::Grant::epoch_only(1)),
            shared: Default::default(),
            counter_deltas: Vec::new(),
            samples: (0..50)
                .map(|i| {
                    sample(
                        "gh_activity_commits_24h",
                        "a",
                        "r",
                        &format!("u{i:02}"),
                        f64::from(n),
                    )
                })
                .collect(),
        };
        batch.samples.push(gse_actors::ports::Sample {
            metric: "gh_exporter_scrape_window_end_timestamp_seconds".into(),
            labels: vec![("org".into(), "a".into())],
            value: f64::from(n),
        });
        batch
    };
    writer.write_org_batch(cycle(0)).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writing = {
        let done = done.clone();
        tokio::spawn(async move {
            for n in 1..=60 {
                writer.write_org_batch(cycle(n)).await.unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut version = 0;
    while !done.load(Ordering::SeqCst) {
        if let Some(snapshot) = reader.load_if_changed(version).await.unwrap() {
            version = snapshot.version;
            let values: std::collections::BTreeSet<String> = lines(&snapshot.families)
                .iter()
                .filter(|l| {
                    l.starts_with("gh_activity_") || l.starts_with("gh_exporter_scrape_window")
                })
                .map(|l| l.rsplit(' ').next().unwrap().to_string())
                .collect();
            assert_eq!(values.len(), 1, "a snapshot mixed cycles: {values:?}");
            seen.extend(values);
        }
    }
    writing.await.unwrap();
    assert!(
        seen.len() > 1,
        "the reader observed several cycles: {seen:?}"
    );
}

/// Counter deltas carried by batches accumulate in Redis atomically with the commit: every
/// replica reads the same monotonic total, a packet re-sent with the same id is added once, and
/// a stale-epoch batch adds nothing (nor records its packet id).
#[tokio::test]
async fn counter_deltas_accumulate_for_every_replica_and_stale_batches_add_nothing() {
    let (ns, _cleanup) = fixture("counters");
    let leader = store(settings(SHARED_REDIS, &ns));
    let follower = store(settings(SHARED_REDIS, &ns));
    let delta = |value: f64| gse_actors::ports::Sample {
        metric: "gh_exporter_store_write".into(),
        labels: vec![("result".into(), "success".into())],
        value,
    };
    let mut cycle = batch("a", 2, &[("u1", 1.0)]);
    let rejected = || {
        gse_actors::ports::CounterDeltas::new(vec![gse_actors::ports::Sample {
            metric: "gh_exporter_store_series_rejected".into(),
            labels: vec![],
            value: 4.0,
        }])
    };
    cycle.counter_deltas = vec![rejected()];
    leader.write_org_batch(cycle.clone()).await.unwrap();
    // The same packet again (a retry after a lost reply): skipped.
    leader.write_org_batch(cycle.clone()).await.unwrap();
    cycle.counter_deltas = vec![rejected()];
    leader.write_org_batch(cycle).await.unwrap();
    let mut stale = batch("a", 1, &[("u1", 1.0)]);
    let stale_packet = gse_actors::ports::CounterDeltas::new(vec![delta(100.0)]);
    stale.counter_deltas = vec![stale_packet.clone()];
    leader.write_org_batch(stale).await.unwrap_err();
    // The rejected packet was not recorded: a live writer carrying it later adds it.
    let packets: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{ns}:counter-packets"))
        .arg(0)
        .arg(-1)
        .query(
            &mut redis::Client::open(SHARED_REDIS)
                .unwrap()
                .get_connection()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(packets.len(), 2, "{packets:?}");
    assert!(!packets.contains(&stale_packet.id));

    let seen = lines(&follower.load_if_changed(0).await.unwrap().unwrap().families);
    assert!(
        seen.contains(&"gh_exporter_store_series_rejected_total 8".to_string()),
        "{seen:?}"
    );
    // Three successful commits, plus nothing from the stale batch's delta of 100.
    assert!(
        seen.contains(&"gh_exporter_store_write_total{result=\"success\"} 3".to_string()),
        "{seen:?}"
    );
    let from_leader = lines(&leader.load_if_changed(0).await.unwrap().unwrap().families);
    assert_eq!(from_leader, seen);
}

/// The scrapers' state round-trips through Redis (version header and bytes), under the
/// namespace, so another replica (a new leader, a backfill consumer) reads what the last
/// leader wrote.
#[tokio::test]
async fn scrape_state_round_trips_between_replicas() {
    use gse_actors::scrape::port::{ScrapeStateStore, Versioned};
    let (ns, _cleanup) = fixture("scrape-state");
    let leader = store(settings(SHARED_REDIS, &ns));
    let follower = store(settings(SHARED_REDIS, &ns));
    assert_eq!(
        ScrapeStateStore::get(&follower, "scrape/acme")
            .await
            .unwrap(),
        None
    );
    let value = Versioned {
        version: 7,
        bytes: b"{\"repos\":{}}".to_vec(),
    };
    ScrapeStateStore::put(&leader, "scrape/acme", value.clone())
        .await
        .unwrap();
    assert_eq!(
        ScrapeStateStore::get(&follower, "scrape/acme")
            .await
            .unwrap(),
        Some(value)
    );
}
