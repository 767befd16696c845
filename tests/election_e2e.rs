//! Leader election end to end: real exporter processes on one Redis namespace, scraping one
//! fake GitHub, with CI timings (lease 3 s, renew 2 s, retry 500 ms). Roles are read from each
//! replica's `/healthz`; which replica scraped which org from the fake's request log (each
//! replica names itself in its `User-Agent`).
//!
//! Time bounds here are the behaviour (SPEC §8): takeover after kill -9 within
//! `lease_duration + 0.5 s`, clean handover within 1 s. `benches/election.rs` reports the real
//! figures at the default timings.

mod common;
mod election_support;
mod redis_common;
mod scrape_support;

use std::time::{Duration, Instant};

use election_support::{metrics_text, wait_until, Cluster, Replica, LEASE, RETRY};
use scrape_support::assert_served_truth_after;

/// Three replicas: exactly one leader in every sample over 30 s, and it alone scrapes. Then
/// kill -9 of the leader: a new leader within `lease_duration + 0.5 s`, whose next cycle
/// equals the truth.
#[test]
fn three_replicas_one_leader_then_kill9_takeover() {
    let cluster = Cluster::new("election-kill9", 2, &[]);
    let mut replicas: Vec<Replica> = ["r1", "r2", "r3"]
        .iter()
        .map(|id| cluster.start(id, &[]))
        .collect();
    wait_until(Duration::from_secs(20), "a leader is elected", || {
        replicas.iter().filter(|r| r.is_leader()).count() == 1
    });
    let since = cluster.fake.now();
    let sampling = Instant::now();
    let mut samples = 0;
    let mut leader_id = String::new();
    while sampling.elapsed() < Duration::from_secs(30) {
        let leaders: Vec<&str> = replicas
            .iter()
            .filter(|r| r.is_leader())
            .map(|r| r.identity.as_str())
            .collect();
        assert_eq!(leaders.len(), 1, "sample {samples}: leaders {leaders:?}");
        leader_id = leaders[0].to_string();
        samples += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(samples >= 100, "{samples} samples");
    // Only the leader asked GitHub about the orgs.
    let askers: std::collections::BTreeSet<String> = cluster
        .org_requests_since(since)
        .into_iter()
        .map(|(_, _, who)| who)
        .collect();
    assert_eq!(askers, [leader_id.clone()].into_iter().collect());

    let index = replicas
        .iter()
        .position(|r| r.identity == leader_id)
        .expect("the leader is one of them");
    let old_epoch = replicas[index].role().map_or(0, |r| r.epoch);
    replicas[index].kill9();
    let killed_at = Instant::now();
    let killed_fake_time = cluster.fake.now();
    let survivors: Vec<&Replica> = replicas.iter().filter(|r| !r.killed).collect();
    wait_until(LEASE + Duration::from_secs(5), "a new leader", || {
        survivors.iter().any(|r| r.is_leader())
    });
    let takeover = killed_at.elapsed();
    eprintln!("kill -9 takeover: {takeover:?}");
    assert!(
        takeover <= LEASE + Duration::from_millis(500),
        "takeover took {takeover:?}"
    );
    let new_leader = survivors.iter().find(|r| r.is_leader()).expect("a leader");
    let new_epoch = new_leader.role().map_or(0, |r| r.epoch);
    assert!(new_epoch > old_epoch, "epoch {old_epoch} → {new_epoch}");
    assert_served_truth_after(&cluster.fake, killed_fake_time, || metrics_text(new_leader));
    cluster.assert_no_double_scrape(since, 1.5);
}

/// SIGTERM of the leader: it exits 0 and another replica leads within 1 s (the release is
/// signalled; nobody waits for the lease to expire).
#[test]
fn sigterm_hands_over_within_a_second() {
    let cluster = Cluster::new("election-sigterm", 1, &[]);
    let mut a = cluster.start("a", &[]);
    wait_until(Duration::from_secs(20), "a leads", || a.is_leader());
    let b = cluster.start("b", &[]);
    // b is a live candidate (it has seen the lease held) before the handover.
    wait_until(Duration::from_secs(10), "b is a member", || {
        b.replica_value("gh_exporter_cluster_members") >= 2.0
    });
    a.signal("TERM");
    let sent = Instant::now();
    wait_until(Duration::from_secs(10), "b leads", || b.is_leader());
    let handover = sent.elapsed();
    eprintln!("clean handover: {handover:?}");
    assert!(
        handover <= Duration::from_secs(1),
        "handover took {handover:?}"
    );
    let status = a.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "the old leader exited with {status}");
}

/// A replica whose clock is an hour ahead (faketime) never makes a second leader: leases live
/// on Redis time, local validity on the monotonic clock.
#[test]
fn skewed_clock_never_makes_two_leaders() {
    // libfaketime preloaded directly (the `faketime` wrapper forks, and a SIGKILL of the
    // wrapper would leave the exporter running).
    let library = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("libfaketime is missing (Debian package `faketime`; .ci/run installs it)");
    let cluster = Cluster::new("election-skew", 1, &[]);
    let mut a = cluster.start("a", &[]);
    wait_until(Duration::from_secs(20), "a leads", || a.is_leader());
    let skewed = cluster.start("skewed", &[("LD_PRELOAD", library), ("FAKETIME", "+1h")]);
    // The preload took: the skewed replica's own clock (its process start time) is an hour
    // ahead.
    let start_time = |r: &election_support::Replica| r.replica_value("process_start_time_seconds");
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
    // The skewed replica takes over like any other when the leader dies, and keeps the lease.
    a.kill9();
    wait_until(LEASE + Duration::from_secs(5), "skewed leads", || {
        skewed.is_leader()
    });
    let since = Instant::now();
    while since.elapsed() < LEASE * 2 {
        assert!(skewed.is_leader(), "the skewed leader lost its lease");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Per-org scale-out: 6 orgs on 3 replicas → 2/2/2; a fourth joins → spread ≤ 1 within
/// `rebalance_delay` + 3 retry periods once it is a member; kill -9 of one → its orgs are
/// re-owned within `lease_duration + 0.5 s`; the fake never saw one org scraped by two
/// replicas at once.
#[test]
fn per_org_spreads_rebalances_and_reowns() {
    let cluster = Cluster::new(
        "election-per-org",
        6,
        &[("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org")],
    );
    let since = cluster.fake.now();
    let mut replicas: Vec<Replica> = ["p1", "p2", "p3"]
        .iter()
        .map(|id| cluster.start(id, &[]))
        .collect();
    let counts = |rs: &[Replica]| -> Vec<usize> {
        rs.iter()
            .filter(|r| !r.killed)
            .map(|r| r.role().map_or(usize::MAX, |v| v.owned.len()))
            .collect()
    };
    wait_until(Duration::from_secs(30), "2/2/2", || {
        counts(&replicas) == vec![2, 2, 2]
    });
    assert_eq!(
        replicas.iter().filter(|r| r.is_leader()).count(),
        1,
        "one replica holds the global lease"
    );
    replicas.push(cluster.start("p4", &[]));
    wait_until(Duration::from_secs(10), "p4 is a member everywhere", || {
        replicas
            .iter()
            .all(|r| r.replica_value("gh_exporter_cluster_members") >= 4.0)
    });
    let joined = Instant::now();
    wait_until(Duration::from_secs(30), "spread ≤ 1 over 4", || {
        let c = counts(&replicas);
        c.iter().sum::<usize>() == 6 && c.iter().max() <= Some(&2) && c.iter().min() >= Some(&1)
    });
    let settled = joined.elapsed();
    eprintln!("rebalanced after a join in {settled:?}");
    assert!(
        settled <= Duration::from_secs(2) + RETRY * 3 + Duration::from_millis(500),
        "rebalance took {settled:?}"
    );
    // Kill the replica with the most orgs.
    let victim = (0..replicas.len())
        .max_by_key(|i| replicas[*i].role().map_or(0, |v| v.owned.len()))
        .expect("replicas");
    let orphaned = replicas[victim].role().map(|v| v.owned).unwrap_or_default();
    assert!(!orphaned.is_empty());
    replicas[victim].kill9();
    let killed = Instant::now();
    wait_until(
        LEASE + Duration::from_secs(10),
        "orphaned orgs re-owned",
        || {
            let owned: Vec<String> = replicas
                .iter()
                .filter(|r| !r.killed)
                .flat_map(|r| r.role().map(|v| v.owned).unwrap_or_default())
                .collect();
            orphaned.iter().all(|o| owned.contains(o))
        },
    );
    let reowned = killed.elapsed();
    eprintln!("orgs re-owned after kill -9 in {reowned:?}");
    assert!(
        reowned <= LEASE + Duration::from_millis(500),
        "re-owning took {reowned:?}"
    );
    wait_until(
        Duration::from_secs(10),
        "every org owned exactly once",
        || {
            let mut owned: Vec<String> = replicas
                .iter()
                .filter(|r| !r.killed)
                .flat_map(|r| r.role().map(|v| v.owned).unwrap_or_default())
                .collect();
            owned.sort();
            owned
                == cluster
                    .orgs
                    .iter()
                    .cloned()
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
        },
    );
    cluster.assert_no_double_scrape(since, 1.5);
}

/// Election off, two replicas both configured `static_role=leader` on one namespace: the
/// second is refused loudly (its `/healthz` says why) and never scrapes beside the first; a
/// static follower never scrapes at all.
#[test]
fn a_second_static_leader_is_refused() {
    let cluster = Cluster::new(
        "election-static",
        1,
        &[("GITHUB_STATS_LEADER_ELECTION__ENABLED", "false")],
    );
    let since = cluster.fake.now();
    let first = cluster.start("first", &[]);
    wait_until(
        Duration::from_secs(20),
        "the first static leader leads",
        || first.is_leader(),
    );
    let second = cluster.start("second", &[]);
    let follower = cluster.start(
        "follower",
        &[("GITHUB_STATS_LEADER_ELECTION__STATIC_ROLE", "follower")],
    );
    wait_until(Duration::from_secs(10), "the refusal is visible", || {
        second
            .get("/healthz")
            .map(|r| r.text())
            .is_some_and(|body| body.contains("static leader refused"))
    });
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(5) {
        assert!(first.is_leader() && !second.is_leader() && !follower.is_leader());
        std::thread::sleep(Duration::from_millis(100));
    }
    let askers: std::collections::BTreeSet<String> = cluster
        .org_requests_since(since)
        .into_iter()
        .map(|(_, _, who)| who)
        .collect();
    assert_eq!(askers, ["first".to_string()].into_iter().collect());
}
