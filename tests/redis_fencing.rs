//! Fencing of the Redis store by the writer's lease, against the real Redis at 127.0.0.1:6379
//! (one unique namespace per test) or a private `redis-server` for data loss:
//! - a leased batch lands only while the lease key holds the grant's value, and a rejection
//!   mutates nothing but the stale-epoch count;
//! - epochs are per org: tenures of different orgs never fence each other;
//! - fenced scrape-state writes;
//! - counter packets are applied exactly once, even when a commit's reply is lost (a TCP proxy
//!   drops it) and the packet is re-sent, alone or carried by a newer batch;
//! - a restore after Redis lost its data lands only for the live holder.

mod proxy_support;
mod redis_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Actor;
use futures::future::{BoxFuture, FutureExt};
use gse_actors::election::Grant;
use gse_actors::health::{HealthActor, HealthReporter, Role};
use gse_actors::messages::UpsertBatch;
use gse_actors::ports::{CounterDeltas, MetricStore, OrgBatch, Sample, StoreError, StoreSnapshot};
use gse_actors::scrape::port::{ScrapeStateStore, Versioned};
use gse_actors::service_health::ServiceHealthRegistry;
use gse_actors::store::{ExpositionCell, StoreActor};
use proxy_support::Proxy;
use redis_common::*;

const STALE_FIELD: &str = "gh_exporter_store_write\u{1f}result\u{1e}stale_epoch";
const SUCCESS_FIELD: &str = "gh_exporter_store_write\u{1f}result\u{1e}success";
const RUNS_FIELD: &str = "gh_exporter_scrape_runs\u{1f}org\u{1e}a";

fn fixture(test: &str) -> (String, Cleanup) {
    let namespace = unique_namespace(test);
    let cleanup = Cleanup {
        url: SHARED_REDIS.into(),
        namespace: namespace.clone(),
    };
    (namespace, cleanup)
}

fn conn(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("direct Redis connection")
}

fn grant(epoch: u64, lease_key: &str, value: &str) -> Grant {
    Grant::leased(epoch, Arc::from(lease_key), Arc::from(value))
}

/// Sets (or, with `None`, deletes) a lease key the way an elector would.
fn set_lease(url: &str, key: &str, value: Option<&str>) {
    let mut c = conn(url);
    match value {
        Some(value) => redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(60_000)
            .query::<()>(&mut c),
        None => redis::cmd("DEL").arg(key).query::<()>(&mut c),
    }
    .expect("lease key written");
}

fn leased_batch(org: &str, grant: &Grant, users: &[(&str, f64)]) -> OrgBatch {
    let mut batch = batch(org, grant.epoch, users);
    batch.grant = Some(grant.clone());
    batch
}

/// A packet of `gh_exporter_scrape_runs{org="a"}` increments.
fn runs(id: &str, value: f64) -> CounterDeltas {
    CounterDeltas {
        id: id.into(),
        deltas: vec![Sample {
            metric: "gh_exporter_scrape_runs".into(),
            labels: vec![("org".into(), "a".into())],
            value,
        }],
    }
}

/// Everything a rejected write must leave alone: org pointers, counters (but the stale-epoch
/// count), the series total and the applied packet ids.
#[derive(Debug, PartialEq)]
struct Observed {
    orgs: Vec<(String, String)>,
    counters: Vec<(String, String)>,
    total: Option<String>,
    packets: Vec<String>,
}

fn observe(url: &str, ns: &str) -> Observed {
    let mut c = conn(url);
    let mut orgs: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(format!("{ns}:orgs"))
        .query(&mut c)
        .expect("orgs");
    orgs.sort();
    let mut counters: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(format!("{ns}:counters"))
        .query(&mut c)
        .expect("counters");
    counters.retain(|(field, _)| field != STALE_FIELD);
    counters.sort();
    let total: Option<String> = redis::cmd("GET")
        .arg(format!("{ns}:total"))
        .query(&mut c)
        .expect("total");
    let packets: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{ns}:counter-packets"))
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("packets");
    Observed {
        orgs,
        counters,
        total,
        packets,
    }
}

fn counter(url: &str, ns: &str, field: &str) -> f64 {
    let value: Option<f64> = redis::cmd("HGET")
        .arg(format!("{ns}:counters"))
        .arg(field)
        .query(&mut conn(url))
        .expect("counter");
    value.unwrap_or(0.0)
}

fn version(url: &str, ns: &str) -> u64 {
    let value: Option<u64> = redis::cmd("GET")
        .arg(format!("{ns}:version"))
        .query(&mut conn(url))
        .expect("version");
    value.unwrap_or(0)
}

fn pointer(url: &str, ns: &str, org: &str) -> Option<String> {
    redis::cmd("HGET")
        .arg(format!("{ns}:orgs"))
        .arg(org)
        .query(&mut conn(url))
        .expect("pointer")
}

fn assert_stale(result: Result<(), StoreError>, attempted: u64, current: u64) {
    match result {
        Err(StoreError::StaleEpoch {
            attempted: a,
            current: c,
        }) => assert_eq!((a, c), (attempted, current)),
        other => panic!("expected StaleEpoch {{ {attempted}, {current} }}, got {other:?}"),
    }
}

/// A batch whose lease key holds another holder's value, or is missing, is rejected: nothing
/// changes but the stale-epoch count (and the version, so replicas see it). With the lease key
/// holding the grant's value, the same batch lands with its counter packet.
#[tokio::test]
async fn leased_batch_lands_only_while_its_lease_is_live() {
    let (ns, _cleanup) = fixture("fence-lease");
    let store = store(settings(SHARED_REDIS, &ns));
    let lease = format!("{ns}:lease:leader");
    let ours = grant(4, &lease, "4|aaaa|pod-a");
    set_lease(SHARED_REDIS, &lease, Some("4|aaaa|pod-a"));
    store
        .write_org_batch(leased_batch("a", &ours, &[("u1", 1.0)]))
        .await
        .expect("the live holder writes");
    let before = observe(SHARED_REDIS, &ns);
    assert_eq!(before.orgs.len(), 1);

    // Someone else holds the lease now (epoch 9).
    set_lease(SHARED_REDIS, &lease, Some("9|bbbb|pod-b"));
    let mut stale = leased_batch("a", &ours, &[("u1", 5.0), ("u2", 5.0)]);
    stale.counter_deltas = vec![runs("p-stale", 3.0)];
    let version_before = version(SHARED_REDIS, &ns);
    assert_stale(store.write_org_batch(stale.clone()).await, 4, 9);
    assert_eq!(observe(SHARED_REDIS, &ns), before, "nothing mutated");
    assert_eq!(counter(SHARED_REDIS, &ns, STALE_FIELD), 1.0);
    assert!(
        version(SHARED_REDIS, &ns) > version_before,
        "replicas see the count"
    );

    // The lease expired and nobody took it.
    set_lease(SHARED_REDIS, &lease, None);
    assert_stale(store.write_org_batch(stale.clone()).await, 4, 0);
    assert_eq!(observe(SHARED_REDIS, &ns), before, "nothing mutated");
    assert_eq!(counter(SHARED_REDIS, &ns, STALE_FIELD), 2.0);

    // Our value again: the very same batch lands, packet included.
    set_lease(SHARED_REDIS, &lease, Some("4|aaaa|pod-a"));
    store
        .write_org_batch(stale)
        .await
        .expect("lands while the lease holds our value");
    let all = lines(&store.load_if_changed(0).await.unwrap().unwrap().families);
    assert!(
        all.contains(&"gh_activity_commits_24h{org=\"a\",repo=\"r\",user=\"u2\"} 5".to_string()),
        "{all:?}"
    );
    assert_eq!(counter(SHARED_REDIS, &ns, RUNS_FIELD), 3.0);
    assert!(
        all.contains(&"gh_exporter_store_write_total{result=\"stale_epoch\"} 2".to_string()),
        "{all:?}"
    );
    assert_eq!(counter(SHARED_REDIS, &ns, SUCCESS_FIELD), 2.0);
}

/// Epochs are per org: org A written by epoch 7 and org B by epoch 3 (different leases) both
/// land, again and again; then B with epoch 2 is rejected even while its lease key holds the
/// epoch-2 grant's value (a newer tenure already wrote B), and so is an unfenced epoch-2 write.
#[tokio::test]
async fn epochs_are_compared_per_org() {
    let (ns, _cleanup) = fixture("fence-per-org");
    let store = store(settings(SHARED_REDIS, &ns));
    let lease_a = format!("{ns}:lease:leader:org:a");
    let lease_b = format!("{ns}:lease:leader:org:b");
    let a7 = grant(7, &lease_a, "7|aaaa|pod-1");
    let b3 = grant(3, &lease_b, "3|bbbb|pod-2");
    set_lease(SHARED_REDIS, &lease_a, Some("7|aaaa|pod-1"));
    set_lease(SHARED_REDIS, &lease_b, Some("3|bbbb|pod-2"));
    store
        .write_org_batch(leased_batch("a", &a7, &[("u1", 1.0)]))
        .await
        .expect("org a, epoch 7");
    store
        .write_org_batch(leased_batch("b", &b3, &[("u2", 2.0)]))
        .await
        .expect("org b, epoch 3, after epoch 7 wrote org a");
    store
        .write_org_batch(leased_batch("a", &a7, &[("u1", 3.0)]))
        .await
        .expect("org a again");
    store
        .write_org_batch(leased_batch("b", &b3, &[("u2", 4.0)]))
        .await
        .expect("org b again");

    let b2 = grant(2, &lease_b, "2|cccc|pod-3");
    set_lease(SHARED_REDIS, &lease_b, Some("2|cccc|pod-3"));
    let before = observe(SHARED_REDIS, &ns);
    assert_stale(
        store
            .write_org_batch(leased_batch("b", &b2, &[("u2", 9.0)]))
            .await,
        2,
        3,
    );
    assert_stale(
        store.write_org_batch(batch("b", 2, &[("u2", 9.0)])).await,
        2,
        3,
    );
    assert_eq!(observe(SHARED_REDIS, &ns), before, "nothing mutated");
    assert_eq!(counter(SHARED_REDIS, &ns, STALE_FIELD), 2.0);

    let all = lines(&store.load_if_changed(0).await.unwrap().unwrap().families);
    let activity: Vec<&String> = all
        .iter()
        .filter(|l| l.starts_with("gh_activity_"))
        .collect();
    assert_eq!(
        activity,
        vec![
            "gh_activity_commits_24h{org=\"a\",repo=\"r\",user=\"u1\"} 3",
            "gh_activity_commits_24h{org=\"b\",repo=\"r\",user=\"u2\"} 4",
        ]
    );
}

/// Fenced scrape-state writes land while the lease holds the grant's value; otherwise they are
/// rejected with `is_stale_lease()`, leave the stored value alone and are counted. A grant
/// without a lease writes unfenced.
#[tokio::test]
async fn scrape_state_put_fenced_checks_the_live_lease() {
    let (ns, _cleanup) = fixture("fence-state");
    let store = store(settings(SHARED_REDIS, &ns));
    let lease = format!("{ns}:lease:leader:org:acme");
    let ours = grant(5, &lease, "5|aaaa|pod-a");
    let value = |n: u8| Versioned {
        version: 3,
        bytes: vec![n; 4],
    };
    set_lease(SHARED_REDIS, &lease, Some("5|aaaa|pod-a"));
    store
        .put_fenced("scrape/acme", value(1), &ours)
        .await
        .expect("the live holder writes");
    assert_eq!(store.get("scrape/acme").await.unwrap(), Some(value(1)));

    set_lease(SHARED_REDIS, &lease, Some("6|bbbb|pod-b"));
    let error = store
        .put_fenced("scrape/acme", value(2), &ours)
        .await
        .expect_err("an ex-holder is rejected");
    assert!(error.is_stale_lease(), "{error:?}");
    set_lease(SHARED_REDIS, &lease, None);
    let error = store
        .put_fenced("scrape/acme", value(3), &ours)
        .await
        .expect_err("no lease, no write");
    assert!(error.is_stale_lease(), "{error:?}");
    assert_eq!(store.get("scrape/acme").await.unwrap(), Some(value(1)));
    assert_eq!(counter(SHARED_REDIS, &ns, STALE_FIELD), 2.0);
    let all = lines(&store.load_if_changed(0).await.unwrap().unwrap().families);
    assert!(
        all.contains(&"gh_exporter_store_write_total{result=\"stale_epoch\"} 2".to_string()),
        "{all:?}"
    );

    store
        .put_fenced("scrape/acme", value(4), &Grant::epoch_only(5))
        .await
        .expect("a grant without a lease writes unfenced");
    assert_eq!(store.get("scrape/acme").await.unwrap(), Some(value(4)));
}

/// The SHA1 of the commit script, loaded into the shared Redis so its first invocation is an
/// `EVALSHA` that runs (not a `NOSCRIPT` answer followed by a load).
fn load_commit_script() -> String {
    let script = redis::Script::new(include_str!("../src/store/redis/scripts/commit.lua"));
    let sha = script
        .prepare_invoke()
        .load(&mut conn(SHARED_REDIS))
        .expect("script loads");
    assert_eq!(sha, script.get_hash());
    sha
}

/// Exactly once through a lost reply: the commit lands in Redis but the proxy drops its reply,
/// so the write fails. Re-sending the same batch (same packet ids), then a newer batch that
/// carries the old packet next to a new one, adds every distinct packet exactly once.
#[tokio::test]
async fn counter_packets_apply_exactly_once_through_a_dropped_reply() {
    let (ns, _cleanup) = fixture("fence-once");
    let sha = load_commit_script();
    let proxy = Proxy::start("127.0.0.1:6379").await;
    let mut through = settings(&proxy.redis_url(), &ns);
    through.command_timeout = Duration::from_secs(5);
    let store = store(through);
    let lease = format!("{ns}:lease:leader");
    let ours = grant(2, &lease, "2|aaaa|pod-a");
    set_lease(SHARED_REDIS, &lease, Some("2|aaaa|pod-a"));

    let mut first = leased_batch("a", &ours, &[("u1", 1.0)]);
    first.counter_deltas = vec![runs("p1", 1.0)];
    proxy.drop_reply_after(sha.as_bytes());
    let error = store
        .write_org_batch(first.clone())
        .await
        .expect_err("the reply was dropped");
    assert!(matches!(error, StoreError::Backend { .. }), "{error:?}");
    let stats = proxy.stats();
    assert_eq!(stats.markers_seen, 1, "{stats:?}");
    assert_eq!(stats.replies_dropped, 1, "{stats:?}");
    // The commit did land.
    assert!(pointer(SHARED_REDIS, &ns, "a").is_some());
    assert_eq!(counter(SHARED_REDIS, &ns, RUNS_FIELD), 1.0);
    assert_eq!(observe(SHARED_REDIS, &ns).packets, vec!["p1".to_string()]);

    // The same batch again (a retry): the series are rewritten, the packet is skipped.
    store.write_org_batch(first).await.expect("the retry lands");
    assert_eq!(counter(SHARED_REDIS, &ns, RUNS_FIELD), 1.0);

    // A newer batch carrying the old packet and a new one.
    let mut second = leased_batch("a", &ours, &[("u1", 2.0)]);
    second.counter_deltas = vec![runs("p2", 10.0), runs("p1", 1.0)];
    store
        .write_org_batch(second.clone())
        .await
        .expect("the newer batch lands");
    assert_eq!(counter(SHARED_REDIS, &ns, RUNS_FIELD), 11.0);
    store.write_org_batch(second).await.expect("and once more");
    assert_eq!(counter(SHARED_REDIS, &ns, RUNS_FIELD), 11.0);
    assert_eq!(counter(SHARED_REDIS, &ns, SUCCESS_FIELD), 4.0);
    let mut packets = observe(SHARED_REDIS, &ns).packets;
    packets.sort();
    assert_eq!(packets, vec!["p1".to_string(), "p2".to_string()]);
    assert_eq!(proxy.stats().replies_dropped, 1);
}

/// One `write_org_batch` call the StoreActor made: the counter packets it carried and whether
/// the store answered success.
#[derive(Debug, Clone)]
struct WriteCall {
    packets: Vec<String>,
    ok: bool,
}

impl WriteCall {
    fn carries(&self, id: &str) -> bool {
        self.packets.iter().any(|p| p == id)
    }
}

/// The StoreActor's store port for the test: the real Redis store, with every write call and
/// its outcome logged in order.
struct LoggingStore {
    inner: Arc<dyn MetricStore>,
    calls: Arc<Mutex<Vec<WriteCall>>>,
}

impl MetricStore for LoggingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn dependency(&self) -> Option<&'static str> {
        self.inner.dependency()
    }

    fn write_org_batch(&self, batch: OrgBatch) -> BoxFuture<'static, Result<(), StoreError>> {
        let packets = batch.counter_deltas.iter().map(|p| p.id.clone()).collect();
        let calls = self.calls.clone();
        let write = self.inner.write_org_batch(batch);
        async move {
            let result = write.await;
            calls.lock().unwrap().push(WriteCall {
                packets,
                ok: result.is_ok(),
            });
            result
        }
        .boxed()
    }

    fn load_if_changed(
        &self,
        known_version: u64,
    ) -> BoxFuture<'static, Result<Option<StoreSnapshot>, StoreError>> {
        self.inner.load_if_changed(known_version)
    }

    fn ping(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        self.inner.ping()
    }
}

/// The same through a real StoreActor: its first write's reply is lost, so the write fails
/// although it landed. The store port's log proves the actor retried: a failed call carrying
/// packet q1, then a successful call carrying q1 again (the batch retried, or q1 carried over
/// into the newer batch). Redis still ends with each distinct packet added exactly once.
#[actix_rt::test]
async fn store_actor_retries_apply_each_packet_once() {
    let (ns, _cleanup) = fixture("fence-actor");
    let sha = load_commit_script();
    let proxy = Proxy::start("127.0.0.1:6379").await;
    let mut through = settings(&proxy.redis_url(), &ns);
    through.command_timeout = Duration::from_secs(5);
    let calls: Arc<Mutex<Vec<WriteCall>>> = Arc::default();
    let logging = Arc::new(LoggingStore {
        inner: Arc::new(store(through)),
        calls: calls.clone(),
    });
    let health = HealthActor::new(
        Role::Leader,
        &[gse_actors::store::COMPONENT],
        ServiceHealthRegistry::default(),
    )
    .start();
    let actor = StoreActor::new(
        logging,
        Arc::new(ExpositionCell::new()),
        HealthReporter::from_recipient(health.recipient()),
        Duration::from_secs(1),
    )
    .start();
    let lease = format!("{ns}:lease:leader");
    let ours = grant(3, &lease, "3|aaaa|pod-a");
    set_lease(SHARED_REDIS, &lease, Some("3|aaaa|pod-a"));

    let mut first = leased_batch("a", &ours, &[("u1", 1.0)]);
    first.counter_deltas = vec![runs("q1", 1.0)];
    proxy.drop_reply_after(sha.as_bytes());
    actor.send(UpsertBatch(first)).await.unwrap();
    eventually("the commit's reply is dropped", async || {
        proxy.stats().replies_dropped == 1
    })
    .await;
    eventually("the first commit landed in Redis", async || {
        counter(SHARED_REDIS, &ns, RUNS_FIELD) == 1.0
    })
    .await;

    let mut second = leased_batch("a", &ours, &[("u1", 2.0)]);
    second.counter_deltas = vec![runs("q2", 10.0)];
    actor.send(UpsertBatch(second)).await.unwrap();
    eventually("the newer batch lands", async || {
        pointer(SHARED_REDIS, &ns, "a").is_some() && counter(SHARED_REDIS, &ns, RUNS_FIELD) == 11.0
    })
    .await;
    // A retry happened: q1's write failed (its reply was lost), and q1 was sent again and
    // that call succeeded — so "applied once" below means the store skipped a re-sent packet.
    eventually("q1 is re-sent and lands", async || {
        let calls = calls.lock().unwrap();
        calls
            .iter()
            .position(|c| c.carries("q1") && !c.ok)
            .is_some_and(|failed| calls[failed + 1..].iter().any(|c| c.carries("q1") && c.ok))
    })
    .await;
    let log = calls.lock().unwrap().clone();
    eprintln!("store port calls: {log:?}");
    assert!(
        !log[0].ok && log[0].packets == ["q1"],
        "the first call (q1) failed: {log:?}"
    );
    let all = lines(
        &store(settings(SHARED_REDIS, &ns))
            .load_if_changed(0)
            .await
            .unwrap()
            .unwrap()
            .families,
    );
    assert!(
        all.contains(&"gh_activity_commits_24h{org=\"a\",repo=\"r\",user=\"u1\"} 2".to_string()),
        "{all:?}"
    );
    // Still exactly once after a later write: the actor writes in order, so a late re-apply
    // of q1 or q2 would land before q3 and show in the total.
    let mut third = leased_batch("a", &ours, &[("u1", 3.0)]);
    third.counter_deltas = vec![runs("q3", 100.0)];
    actor.send(UpsertBatch(third)).await.unwrap();
    eventually("the third batch lands", async || {
        counter(SHARED_REDIS, &ns, RUNS_FIELD) >= 111.0
    })
    .await;
    assert_eq!(counter(SHARED_REDIS, &ns, RUNS_FIELD), 111.0);
    assert_eq!(proxy.stats().replies_dropped, 1);
    let log = calls.lock().unwrap().clone();
    let sent_q1 = log.iter().filter(|c| c.carries("q1")).count();
    assert!(
        sent_q1 >= 2,
        "q1 reached the store {sent_q1} times and was applied once: {log:?}"
    );
    let mut packets = observe(SHARED_REDIS, &ns).packets;
    packets.sort();
    assert_eq!(packets, vec!["q1", "q2", "q3"]);
}

/// Redis restarts empty. The writer restores its last batches with the grants they were
/// committed with: org a, whose lease key holds the writer's value again, is restored; org b,
/// whose lease someone else holds now, is rejected (nothing written, counted). Counter packets
/// are not re-sent.
#[tokio::test]
async fn restore_after_data_loss_lands_only_for_the_live_holder() {
    let mut redis = PrivateRedis::start();
    let url = redis.url();
    let ns = unique_namespace("fence-restore");
    let writer = store(settings(&url, &ns));
    let lease_a = format!("{ns}:lease:leader:org:a");
    let lease_b = format!("{ns}:lease:leader:org:b");
    let a1 = grant(1, &lease_a, "1|aaaa|pod-a");
    let b2 = grant(2, &lease_b, "2|bbbb|pod-a");
    set_lease(&url, &lease_a, Some("1|aaaa|pod-a"));
    set_lease(&url, &lease_b, Some("2|bbbb|pod-a"));
    let mut first = leased_batch("a", &a1, &[("u1", 1.0)]);
    first.counter_deltas = vec![runs("r1", 1.0)];
    writer.write_org_batch(first).await.expect("org a");
    writer
        .write_org_batch(leased_batch("b", &b2, &[("u2", 2.0)]))
        .await
        .expect("org b");
    let loaded = writer.load_if_changed(0).await.unwrap().unwrap();
    assert_eq!(
        lines(&loaded.families)
            .iter()
            .filter(|l| l.starts_with("gh_activity_"))
            .count(),
        2
    );

    redis.restart();
    // The fault happened: the dataset is empty.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}:*"))
        .query(&mut conn(&url))
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    set_lease(&url, &lease_a, Some("1|aaaa|pod-a"));
    set_lease(&url, &lease_b, Some("5|cccc|pod-b"));

    // The writer's next refresh sees the new incarnation and restores.
    eventually("org a restored", async || {
        let _ = writer.load_if_changed(loaded.version).await;
        pointer(&url, &ns, "a").is_some()
    })
    .await;
    assert_eq!(
        pointer(&url, &ns, "b"),
        None,
        "the ex-holder's restore is rejected"
    );
    assert_eq!(counter(&url, &ns, STALE_FIELD), 1.0);
    assert_eq!(counter(&url, &ns, SUCCESS_FIELD), 1.0);
    assert_eq!(
        counter(&url, &ns, RUNS_FIELD),
        0.0,
        "packets are not re-sent"
    );
    let all = lines(&writer.load_if_changed(0).await.unwrap().unwrap().families);
    let activity: Vec<&String> = all
        .iter()
        .filter(|l| l.starts_with("gh_activity_"))
        .collect();
    assert_eq!(
        activity,
        vec!["gh_activity_commits_24h{org=\"a\",repo=\"r\",user=\"u1\"} 1"]
    );
}
