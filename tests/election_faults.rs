//! Leader election under faults, end to end: a leader paused past its lease (SIGSTOP) whose
//! commit was in flight, and a leader cut off from Redis. The leader reaches Redis through a
//! TCP proxy owned by the test (`proxy_support`), the other replica directly; the proxy's
//! counters prove each fault happened before recovery is asserted.
//!
//! "Nothing stale landed" is judged from Redis itself, not from the writer's own counters: a
//! watcher polls the org's pointer in the store's orgs hash (`<ns>:orgs`, written by
//! `commit.lua` as `<wire>:<generation>:<series>:<chunks>:<epoch>:<committed ms>`) and records
//! every value it takes, so the epoch of each landed commit is known.

mod common;
mod election_support;
mod kube_support;
mod proxy_support;
mod redis_common;
mod scrape_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
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

/// The default `leader_election.lease_name`: the global lease key is `<ns>:lease:<name>`.
const LEASE_NAME: &str = "github-stats-exporter-leader";

fn redis_conn(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("direct Redis connection")
}

/// One value of an org's pointer in the store's orgs hash, as `commit.lua` writes it:
/// `<wire version>:<generation>:<series>:<chunks>:<epoch>:<committed unix ms>`.
#[derive(Debug, Clone, PartialEq)]
struct Pointer {
    raw: String,
    generation: u64,
    epoch: u64,
}

impl Pointer {
    fn parse(raw: String) -> Pointer {
        let fields: Vec<&str> = raw.split(':').collect();
        assert_eq!(fields.len(), 6, "unexpected pointer format: {raw:?}");
        let number = |i: usize| -> u64 {
            fields[i]
                .parse()
                .unwrap_or_else(|_| panic!("field {i} of pointer {raw:?} is not a number"))
        };
        let (generation, epoch) = (number(1), number(4));
        Pointer {
            raw,
            generation,
            epoch,
        }
    }
}

/// `HGET <ns>:orgs <org>`: the org's committed pointer, read from Redis.
fn read_pointer(conn: &mut redis::Connection, namespace: &str, org: &str) -> Option<Pointer> {
    let raw: Option<String> = redis::cmd("HGET")
        .arg(format!("{namespace}:orgs"))
        .arg(org)
        .query(conn)
        .expect("HGET of the orgs hash");
    raw.map(Pointer::parse)
}

/// The only org of `cluster`'s pointer, now.
fn pointer_now(cluster: &Cluster) -> Option<Pointer> {
    read_pointer(
        &mut redis_conn(&cluster.redis_url),
        &cluster.namespace,
        &cluster.orgs[0],
    )
}

/// The epoch the global lease value (`epoch|token|identity`) holds in Redis now: the Redis
/// lease, or the fence of a Kubernetes Lease (same key).
fn lease_epoch(cluster: &Cluster, lease_name: &str) -> Option<u64> {
    let value: Option<String> = redis::cmd("GET")
        .arg(format!("{}:lease:{lease_name}", cluster.namespace))
        .query(&mut redis_conn(&cluster.redis_url))
        .expect("GET of the lease key");
    value.and_then(|v| v.split('|').next().and_then(|e| e.parse().ok()))
}

/// Polls the only org's pointer every 5 ms from its own connection and records each distinct
/// value with the time it was first seen: which commits landed, and with which epoch. (The
/// writers commit once per scrape interval, so a landed pointer stays far longer than 5 ms.)
struct PointerWatch {
    running: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(Instant, Pointer)>>>,
    thread: Option<JoinHandle<()>>,
}

impl PointerWatch {
    fn start(cluster: &Cluster) -> PointerWatch {
        let running = Arc::new(AtomicBool::new(true));
        let seen: Arc<Mutex<Vec<(Instant, Pointer)>>> = Arc::default();
        let mut conn = redis_conn(&cluster.redis_url);
        let (namespace, org) = (cluster.namespace.clone(), cluster.orgs[0].clone());
        let thread = {
            let (running, seen) = (running.clone(), seen.clone());
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    if let Some(pointer) = read_pointer(&mut conn, &namespace, &org) {
                        let mut seen = seen.lock().unwrap();
                        if seen.last().is_none_or(|(_, last)| *last != pointer) {
                            seen.push((Instant::now(), pointer));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        PointerWatch {
            running,
            seen,
            thread: Some(thread),
        }
    }

    /// Stops polling; every distinct pointer seen, in order.
    fn stop(mut self) -> Vec<(Instant, Pointer)> {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the pointer watcher did not panic");
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for PointerWatch {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
    }
}

/// The leader's epoch from its `/healthz`, checked against Redis before the fault: its lease
/// holds that epoch and its commits landed with it (which also checks the pointer format).
fn assert_leader_writes_with_its_epoch(cluster: &Cluster, leader: &Replica, lease: &str) -> u64 {
    let old = leader.role().expect("the leader answers").epoch;
    assert!(old > 0, "the leader has an epoch");
    assert_eq!(
        lease_epoch(cluster, lease),
        Some(old),
        "the lease holds the leader's epoch"
    );
    wait_until(
        Duration::from_secs(20),
        "the org's pointer in Redis carries the leader's epoch",
        || pointer_now(cluster).is_some_and(|p| p.epoch == old),
    );
    old
}

/// The new leader's epoch from its `/healthz`, checked against the lease value in Redis.
fn new_leader_epoch(cluster: &Cluster, other: &Replica, old: u64, lease: &str) -> u64 {
    let new = other.role().expect("the new leader answers").epoch;
    assert!(
        new > old,
        "the takeover issued a newer epoch ({new} after {old})"
    );
    assert_eq!(
        lease_epoch(cluster, lease),
        Some(new),
        "the lease in Redis holds the new leader's epoch"
    );
    new
}

/// What the watcher saw, judged: every pointer first seen after `from` carries `new` (or a
/// newer epoch), except that the pointer present at `from` (`at_from`, possibly still the old
/// leader's last landed commit) may stay until the new leader's first commit replaces it; once
/// a pointer with `new` is seen, no pointer with `old` (or any older epoch) ever appears again.
fn assert_no_stale_pointer(
    seen: &[(Instant, Pointer)],
    from: Instant,
    at_from: Option<&Pointer>,
    old: u64,
    new: u64,
) {
    let history: Vec<(u64, u64)> = seen.iter().map(|(_, p)| (p.generation, p.epoch)).collect();
    eprintln!("org pointer history (generation, epoch): {history:?}; old {old}, new {new}");
    for (at, pointer) in seen.iter().filter(|(at, _)| *at > from) {
        assert!(
            pointer.epoch >= new || Some(pointer) == at_from,
            "a commit with epoch {} landed {:?} after the old leader was fenced: {pointer:?} (history {history:?})",
            pointer.epoch,
            at.duration_since(from),
        );
    }
    let first_new = seen
        .iter()
        .position(|(_, p)| p.epoch == new)
        .expect("the new leader's commit landed");
    let regressed: Vec<_> = seen[first_new..]
        .iter()
        .filter(|(_, p)| p.epoch < new)
        .map(|(_, p)| p)
        .collect();
    assert!(
        regressed.is_empty(),
        "the pointer went back to an older epoch after the new leader wrote: {regressed:?}"
    );
    assert!(
        !seen[first_new..].iter().any(|(_, p)| p.epoch == old),
        "the old leader's epoch {old} reappeared"
    );
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
/// rejected: Redis itself shows it did not land (the org's pointer is unchanged by it, then
/// carries the new leader's epoch and never the old one again), and the rejection is counted
/// (shared stale count up; the writer's own counters: ≥ 1 stale, no new success). After
/// SIGCONT the old leader steps down within one retry period, and the served values equal the
/// truth after the next cycle.
#[test]
fn paused_leader_late_write_is_rejected() {
    paused_leader_case(Cluster::new("election-sigstop", 1, &[]), LEASE_NAME);
}

/// The same with the Kubernetes Lease backend (the test bed's API server decides, Redis
/// fences): the late commit of the paused ex-holder is rejected by its fence.
#[test]
fn paused_leader_late_write_is_rejected_on_a_kubernetes_lease() {
    let (env, lease) = kube_support::kube_env("kube-sigstop");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    paused_leader_case(Cluster::new("kube-sigstop", 1, &env), &lease);
}

fn paused_leader_case(cluster: Cluster, lease: &str) {
    let rt = runtime();
    let proxy = rt.block_on(Proxy::start("127.0.0.1:6379"));
    let (leader, other) = proxied_leader_and_other(&cluster, &proxy, "paused");
    let old = assert_leader_writes_with_its_epoch(&cluster, &leader, lease);
    let watch = PointerWatch::start(&cluster);

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
    let new = new_leader_epoch(&cluster, &other, old, lease);
    // The pointer as the late commit finds it: the old leader's last landed commit, or
    // already the new leader's.
    let released = Instant::now();
    let before = pointer_now(&cluster).expect("the org has a pointer");
    assert!(
        before.epoch == old || before.epoch == new,
        "{before:?} (old {old}, new {new})"
    );
    // The late commit arrives while its writer still sleeps: Redis rejects it.
    proxy.release_held();
    wait_until(
        Duration::from_secs(10),
        "the late commit is rejected",
        || shared_stale(&other) > stale_before,
    );
    let after = pointer_now(&cluster).expect("the org has a pointer");
    assert!(
        after == before || after.epoch == new,
        "the rejected late commit moved the org's pointer: {before:?} -> {after:?} (old {old}, new {new})"
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
        "the paused leader counted no landed write after its lease"
    );
    assert!(other.is_leader() && !leader.is_leader());
    wait_until(
        Duration::from_secs(30),
        "the org's pointer in Redis carries the new leader's epoch",
        || pointer_now(&cluster).is_some_and(|p| p.epoch == new),
    );
    assert_served_truth_after(&cluster.fake, takeover, || metrics_text(&other));
    assert_eq!(pointer_now(&cluster).map(|p| p.epoch), Some(new));
    assert_no_stale_pointer(&watch.stop(), released, Some(&before), old, new);
    drop(proxy);
}

/// The leader's Redis connections are cut (and new ones refused): it steps down within
/// `renew_deadline + retry_period`, the other replica takes over and writes the org with its
/// epoch, and once the link heals the old leader's queued batch is rejected: the shared stale
/// count goes up, and Redis shows nothing of the old leader landed — the org's pointer keeps
/// the new leader's epoch and never shows the old one again (the writer's own counters agree:
/// ≥ 1 stale, no new success).
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
    let old = assert_leader_writes_with_its_epoch(&cluster, &leader, LEASE_NAME);
    let watch = PointerWatch::start(&cluster);

    proxy.set_refusing(true);
    proxy.cut_all();
    let cut = Instant::now();
    let accepted_at_cut = writes(&leader, "success");
    wait_until(Duration::from_secs(10), "the cut leader steps down", || {
        leader.role().is_some_and(|r| !r.leader)
    });
    let stepped_down = cut.elapsed();
    eprintln!("cut leader stepped down after {stepped_down:?}");
    // Whatever the leader had sent before the cut has reached Redis by now; from here on
    // nothing of it can, until the link heals.
    let fenced = Instant::now();
    let at_fence = pointer_now(&cluster);
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
    let new = new_leader_epoch(&cluster, &other, old, LEASE_NAME);
    // A cycle finished during the cut could not be written: it waits in the leader's store.
    wait_until(
        Duration::from_secs(10),
        "a write failed during the cut",
        || writes(&leader, "error") >= 1.0,
    );
    wait_until(
        Duration::from_secs(20),
        "the org's pointer in Redis carries the new leader's epoch",
        || pointer_now(&cluster).is_some_and(|p| p.epoch == new),
    );
    let stale_before = shared_stale(&other);

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
    wait_until(
        Duration::from_secs(10),
        "the rejection shows in the shared stale count",
        || shared_stale(&other) > stale_before,
    );
    assert_eq!(
        pointer_now(&cluster).map(|p| p.epoch),
        Some(new),
        "after the rejection the org's pointer carries the new leader's epoch"
    );
    assert_eq!(
        writes(&leader, "success"),
        accepted_at_cut,
        "the cut leader counted no landed write after the cut"
    );
    // Healed, the old leader is a candidate again but the lease stays with the other.
    let steady = Instant::now();
    while steady.elapsed() < LEASE {
        assert!(other.is_leader() && !leader.is_leader());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(pointer_now(&cluster).map(|p| p.epoch), Some(new));
    assert_no_stale_pointer(&watch.stop(), fenced, at_fence.as_ref(), old, new);
    drop(proxy);
}
