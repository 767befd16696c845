//! Leader election on Kubernetes Leases end to end: real exporter processes electing through a
//! real kube-apiserver (`scripts/kube-testbed start`), fenced in one Redis namespace, scraping
//! one fake GitHub, with CI timings (lease 3 s, renew 2 s, retry 500 ms). Roles are read from
//! each replica's `/healthz`, the holder from the Lease object itself, who scraped what from the
//! fake's request log. The replicas run as the ServiceAccount of `deploy/kubernetes/base/`,
//! bound to its Role (get, list, watch, create, update on Leases in one namespace), never as
//! admin; the namespace comes from their kubeconfig. Without the test bed these tests fail.

mod common;
mod election_support;
mod kube_support;
mod redis_common;
mod scrape_support;

use std::time::{Duration, Instant};

use election_support::{double_owners, metrics_text, wait_until, Replica, LEASE, RENEW, RETRY};
use kube_support::{kube_cluster, lease_holder};
use scrape_support::assert_served_truth_after;

/// Three replicas: one leader, which the Lease names. kill -9 of the leader: a new leader
/// within `lease_duration + 0.5 s` (candidates count from the holder's last renewal, seen on
/// their watch), a higher epoch, and its next cycle equals the truth.
#[test]
fn kill9_of_the_leader_is_taken_over_within_the_lease() {
    let (cluster, lease) = kube_cluster("kube-kill9", 2, &[]);
    let mut replicas: Vec<Replica> = ["k1", "k2", "k3"]
        .iter()
        .map(|id| cluster.start(id, &[]))
        .collect();
    wait_until(Duration::from_secs(30), "a leader is elected", || {
        replicas.iter().filter(|r| r.is_leader()).count() == 1
    });
    let leader = replicas
        .iter()
        .position(|r| r.is_leader())
        .expect("a leader");
    assert_eq!(
        lease_holder(&lease).as_deref(),
        Some(replicas[leader].identity.as_str()),
        "the Lease names the leader"
    );
    let old_epoch = replicas[leader].role().map_or(0, |r| r.epoch);
    // /healthz names the backend and the Lease.
    let health: serde_json::Value = serde_json::from_slice(
        &replicas[leader]
            .get("/healthz")
            .expect("/healthz answers")
            .body,
    )
    .expect("JSON");
    assert_eq!(health["election"]["backend"], "kubernetes", "{health}");
    assert_eq!(
        health["election"]["lease"],
        format!("Lease (default)/{lease}"),
        "{health}"
    );
    // Let the candidates watch a few renewals first.
    std::thread::sleep(Duration::from_secs(2));
    replicas[leader].kill9();
    let killed_at = Instant::now();
    let killed_fake_time = cluster.fake.now();
    let survivors: Vec<&Replica> = replicas.iter().filter(|r| !r.killed).collect();
    wait_until(LEASE + Duration::from_secs(10), "a new leader", || {
        survivors.iter().any(|r| r.is_leader())
    });
    let takeover = killed_at.elapsed();
    eprintln!("kill -9 takeover on a Kubernetes Lease: {takeover:?}");
    assert!(
        takeover <= LEASE + Duration::from_millis(500),
        "takeover took {takeover:?}"
    );
    let new_leader = survivors.iter().find(|r| r.is_leader()).expect("a leader");
    assert!(new_leader.role().map_or(0, |r| r.epoch) > old_epoch);
    assert_eq!(
        lease_holder(&lease).as_deref(),
        Some(new_leader.identity.as_str())
    );
    assert_served_truth_after(&cluster.fake, killed_fake_time, || metrics_text(new_leader));
}

/// SIGTERM of the leader empties the Lease's holder: a watching candidate leads within 1 s.
#[test]
fn sigterm_hands_the_lease_over_within_a_second() {
    let (cluster, lease) = kube_cluster("kube-sigterm", 1, &[]);
    let mut a = cluster.start("a", &[]);
    wait_until(Duration::from_secs(30), "a leads", || a.is_leader());
    let b = cluster.start("b", &[]);
    wait_until(Duration::from_secs(10), "b is a member", || {
        b.replica_value("gh_exporter_cluster_members") >= 2.0
    });
    a.signal("TERM");
    let sent = Instant::now();
    wait_until(Duration::from_secs(10), "b leads", || b.is_leader());
    let handover = sent.elapsed();
    eprintln!("clean handover on a Kubernetes Lease: {handover:?}");
    assert!(
        handover <= Duration::from_secs(1),
        "handover took {handover:?}"
    );
    assert_eq!(lease_holder(&lease).as_deref(), Some("b"));
    assert!(a.wait_exit(Duration::from_secs(15)).success());
}

/// per_org: 6 orgs on 3 replicas → 2/2/2, one Lease per org naming its scraper; a replica
/// killed → its orgs owned again within `lease_duration + 0.5 s`, never twice, then 3/3.
#[test]
fn per_org_leases_spread_and_are_taken_over() {
    let (cluster, lease) = kube_cluster(
        "kube-per-org",
        6,
        &[("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org")],
    );
    let mut replicas: Vec<Replica> = ["p1", "p2", "p3"]
        .iter()
        .map(|id| cluster.start(id, &[]))
        .collect();
    let counts = |rs: &[Replica]| -> Vec<usize> {
        let live: Vec<&Replica> = rs.iter().filter(|r| !r.killed).collect();
        let doubles = double_owners(&live);
        assert!(doubles.is_empty(), "an org owned twice: {doubles:?}");
        live.iter()
            .map(|r| r.role().map_or(usize::MAX, |v| v.owned.len()))
            .collect()
    };
    wait_until(Duration::from_secs(40), "2/2/2", || {
        counts(&replicas) == vec![2, 2, 2]
    });
    for org in &cluster.orgs {
        let holder = lease_holder(&format!("{lease}-{}", org.to_ascii_lowercase()));
        let owner = replicas
            .iter()
            .find(|r| r.role().is_some_and(|v| v.owned.contains(org)))
            .map(|r| r.identity.clone());
        assert_eq!(holder, owner, "the Lease of {org} names its scraper");
    }
    replicas[0].kill9();
    let killed_at = Instant::now();
    wait_until(
        LEASE + Duration::from_secs(15),
        "orphaned orgs re-owned",
        || {
            let mut owned: Vec<String> = replicas
                .iter()
                .filter(|r| !r.killed)
                .flat_map(|r| r.role().map(|v| v.owned).unwrap_or_default())
                .collect();
            owned.sort();
            owned.dedup();
            owned.len() == cluster.orgs.len()
        },
    );
    let reowned = killed_at.elapsed();
    eprintln!("per-org re-own after kill -9: {reowned:?}");
    assert!(
        reowned <= LEASE + Duration::from_millis(500),
        "re-owning took {reowned:?}"
    );
    wait_until(Duration::from_secs(15), "3/3 after the kill", || {
        counts(&replicas) == vec![3, 3]
    });
}

/// The API server stops answering (its process paused, on a test bed of this test's own): the
/// leader steps down within `renew_deadline + retry_period` of its last renewal and nobody
/// leads while the API server is away; once it answers again, one replica leads.
#[test]
fn an_api_server_that_stops_answering_leaves_no_leader() {
    let testbed = kube_support::PrivateTestbed::start();
    let (cluster, _lease) = kube_cluster(
        "kube-apiserver-gone",
        1,
        &[
            ("KUBECONFIG", &testbed.kubeconfig),
            ("GITHUB_STATS_LEADER_ELECTION__NAMESPACE", "default"),
        ],
    );
    let replicas: Vec<Replica> = ["g1", "g2"]
        .iter()
        .map(|id| cluster.start(id, &[]))
        .collect();
    wait_until(Duration::from_secs(30), "a leader", || {
        replicas.iter().filter(|r| r.is_leader()).count() == 1
    });
    testbed.signal_apiserver("STOP");
    let paused = Instant::now();
    wait_until(RENEW + RETRY + Duration::from_secs(5), "no leader", || {
        replicas.iter().all(|r| !r.is_leader())
    });
    let stepped_down = paused.elapsed();
    eprintln!("leader stepped down {stepped_down:?} after the API server stopped answering");
    assert!(
        stepped_down <= RENEW + RETRY,
        "stepping down took {stepped_down:?}"
    );
    let check = Instant::now();
    while check.elapsed() < LEASE * 2 {
        assert!(
            replicas.iter().all(|r| !r.is_leader()),
            "a replica leads while the API server is away"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    testbed.signal_apiserver("CONT");
    wait_until(
        LEASE * 2 + Duration::from_secs(10),
        "a leader again",
        || replicas.iter().filter(|r| r.is_leader()).count() == 1,
    );
}

/// A replica whose clock is an hour ahead (faketime) never makes a second leader: candidates
/// judge expiry from the Lease's resourceVersion on their own monotonic clock, never from
/// `renewTime`. When the leader dies, the skewed replica takes over and keeps the Lease.
#[test]
fn a_skewed_clock_never_makes_two_leaders() {
    let library = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("libfaketime is missing (Debian package `faketime`; .ci/run installs it)");
    let (cluster, lease) = kube_cluster("kube-skew", 1, &[]);
    let mut a = cluster.start("a", &[]);
    wait_until(Duration::from_secs(30), "a leads", || a.is_leader());
    let skewed = cluster.start("skewed", &[("LD_PRELOAD", library), ("FAKETIME", "+1h")]);
    let start_time = |r: &Replica| r.replica_value("process_start_time_seconds");
    let ahead = start_time(&skewed) - start_time(&a);
    assert!(
        (3000.0..4000.0).contains(&ahead),
        "the skewed clock is {ahead} s ahead"
    );
    let check = Instant::now();
    while check.elapsed() < Duration::from_secs(10) {
        assert!(a.is_leader() && !skewed.is_leader(), "two leaders or none");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lease_holder(&lease).as_deref(), Some("a"));
    a.kill9();
    wait_until(LEASE + Duration::from_secs(5), "skewed leads", || {
        skewed.is_leader()
    });
    let since = Instant::now();
    while since.elapsed() < LEASE * 2 {
        assert!(skewed.is_leader(), "the skewed leader lost its Lease");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lease_holder(&lease).as_deref(), Some("skewed"));
}
