//! Leader election under faults, end to end: a leader paused past its lease (SIGSTOP) whose
//! commit was in flight, and a leader cut off from Redis. The leader reaches Redis through a
//! TCP proxy owned by the test (`proxy_support`), the other replica directly; the proxy's
//! counters prove each fault happened before recovery is asserted.

mod common;
mod election_support;
mod proxy_support;
mod redis_common;
mod scrape_support;

use std::time::{Duration, Instant};

use election_support::{metrics_text, wait_until, Cluster, Replica, LEASE, RENEW, RETRY};
use proxy_support::Proxy;
use scrape_support::{assert_served_truth_after, Metrics};

/// This process's write outcomes (`gh_exporter_replica_store_writes_total{result}`).
fn writes(replica: &Replica, result: &str) -> f64 {
    replica.replica_value(&format!(
        "gh_exporter_replica_store_writes_total{{result=\"{result}\"}}"
    ))
}

/// The shared count of rejected stale writes on `/metrics`.
fn shared_stale(replica: &Replica) -> f64 {
    Metrics::parse(&metrics_text(replica))
        .get(
            "gh_exporter_store_write_total",
            &[("result", "stale_epoch")],
        )
        .unwrap_or(0.0)
}

/// A leader named `name` that reaches Redis only through `proxy` and has written at least one
/// batch, and a second replica (`other`) on Redis directly.
fn proxied_leader_and_other(cluster: &Cluster, proxy: &Proxy, name: &str) -> (Replica, Replica) {
    let leader = cluster.start(
        name,
        &[("GITHUB_STATS_STORE__REDIS_URL", &proxy.redis_url())],
    );
    wait_until(Duration::from_secs(20), "the proxied replica leads", || {
        leader.is_leader()
    });
    let other = cluster.start("other", &[]);
    wait_until(Duration::from_secs(20), "the leader has written", || {
        writes(&leader, "success") >= 1.0
    });
    (leader, other)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The leader is paused (SIGSTOP) with a commit in flight — held by the proxy — for longer
/// than its lease. The other replica takes over. The late commit then reaches Redis and is
/// rejected and counted (≥ 1 rejected, 0 accepted); after SIGCONT the old leader steps down
/// within one retry period, and the served values equal the truth after the next cycle.
#[test]
fn paused_leader_late_write_is_rejected() {
    let rt = runtime();
    let proxy = rt.block_on(Proxy::start("127.0.0.1:6379"));
    let cluster = Cluster::new("election-sigstop", 1, &[]);
    let (leader, other) = proxied_leader_and_other(&cluster, &proxy, "paused");

    // Hold the leader's next commit in the network, then pause the leader with it in flight.
    let commit = redis::Script::new(include_str!("../src/store/redis/scripts/commit.lua"));
    proxy.hold_after(commit.get_hash().as_bytes());
    wait_until(Duration::from_secs(20), "a commit is held", || {
        proxy.stats().held == 1
    });
    let accepted_before = writes(&leader, "success");
    let stale_before = shared_stale(&other);
    leader.signal("STOP");
    wait_until(
        LEASE + Duration::from_secs(10),
        "the other replica leads",
        || other.is_leader(),
    );
    let takeover = cluster.fake.now();
    // The late commit arrives while its writer still sleeps: Redis rejects it.
    proxy.release_held();
    wait_until(
        Duration::from_secs(10),
        "the late commit is rejected",
        || shared_stale(&other) > stale_before,
    );
    leader.signal("CONT");
    let resumed = Instant::now();
    wait_until(Duration::from_secs(10), "the old leader steps down", || {
        leader.role().is_some_and(|r| !r.leader)
    });
    let stepped_down = resumed.elapsed();
    eprintln!("paused leader stepped down {stepped_down:?} after SIGCONT");
    assert!(stepped_down <= RETRY, "stepping down took {stepped_down:?}");
    wait_until(Duration::from_secs(10), "the rejection is counted", || {
        writes(&leader, "stale") >= 1.0
    });
    assert_eq!(
        writes(&leader, "success"),
        accepted_before,
        "no write of the paused leader landed after its lease"
    );
    assert!(other.is_leader() && !leader.is_leader());
    assert_served_truth_after(&cluster.fake, takeover, || metrics_text(&other));
    drop(proxy);
}

/// The leader's Redis connections are cut (and new ones refused): it steps down within
/// `renew_deadline + retry_period`, the other replica takes over, and once the link heals the
/// old leader's queued batches are rejected: none lands.
#[test]
fn leader_cut_from_redis_steps_down_and_nothing_stale_lands() {
    let rt = runtime();
    let proxy = rt.block_on(Proxy::start("127.0.0.1:6379"));
    let cluster = Cluster::new(
        "election-cut",
        1,
        &[("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "1s")],
    );
    let (leader, other) = proxied_leader_and_other(&cluster, &proxy, "cut");

    proxy.set_refusing(true);
    proxy.cut_all();
    let cut = Instant::now();
    let accepted_at_cut = writes(&leader, "success");
    wait_until(Duration::from_secs(10), "the cut leader steps down", || {
        leader.role().is_some_and(|r| !r.leader)
    });
    let stepped_down = cut.elapsed();
    eprintln!("cut leader stepped down after {stepped_down:?}");
    assert!(
        proxy.stats().cut >= 2,
        "store and lease connections were cut"
    );
    assert!(proxy.stats().refused >= 1, "reconnects were refused");
    assert!(
        stepped_down <= RENEW + RETRY,
        "stepping down took {stepped_down:?}"
    );
    wait_until(
        LEASE + Duration::from_secs(5),
        "the other replica leads",
        || other.is_leader(),
    );
    // A cycle finished during the cut could not be written: it waits in the leader's store.
    wait_until(
        Duration::from_secs(10),
        "a write failed during the cut",
        || writes(&leader, "error") >= 1.0,
    );

    proxy.set_refusing(false);
    let healed = Instant::now();
    wait_until(
        Duration::from_secs(20),
        "the queued batch is rejected",
        || writes(&leader, "stale") >= 1.0,
    );
    eprintln!(
        "queued stale batch rejected {:?} after the link healed",
        healed.elapsed()
    );
    assert_eq!(
        writes(&leader, "success"),
        accepted_at_cut,
        "no write of the cut leader landed after the cut"
    );
    // Healed, the old leader is a candidate again but the lease stays with the other.
    let watch = Instant::now();
    while watch.elapsed() < LEASE {
        assert!(other.is_leader() && !leader.is_leader());
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(proxy);
}
