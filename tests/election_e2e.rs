//! Leader election end to end: real exporter processes on one Redis namespace, scraping one
//! fake GitHub, with CI timings (lease 3 s, renew 2 s, retry 500 ms). Roles are read from each
//! replica's `/healthz`; which replica scraped which org from the fake's request log (each
//! replica names itself in its `User-Agent`).
//!
//! Time bounds here are the behaviour (README, "High availability"): takeover after kill -9 within
//! `lease_duration + 0.5 s`, clean handover within 1 s. `benches/election.rs` reports the real
//! figures at the default timings.

mod common;
mod election_support;
mod redis_common;
mod scrape_support;

use std::time::{Duration, Instant};

use common::raw_request;
use election_support::{
    double_owners, identity_of, metrics_text, wait_until, Cluster, Replica, LEASE, RETRY,
    SCRAPE_INTERVAL,
};
use scrape_support::{
    assert_served_truth_after, http_get, inject, wait_served_truth_after, Metrics,
};

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
    let handover = (
        killed_fake_time - 1.0,
        killed_fake_time + LEASE.as_secs_f64() + 1.5,
    );
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
    cluster.assert_single_scraper(since, SCRAPE_INTERVAL, &[handover]);
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
/// re-owned within `lease_duration + 0.5 s`, really scraped by their new owners and served
/// equal to the truth. No org is owned by two replicas in any sample (`/healthz`), and the
/// fake never saw one org asked about by two replicas within a scrape interval outside the
/// hand-overs.
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
    // Every sample of every wait below also checks single ownership.
    let counts = |rs: &[Replica]| -> Vec<usize> {
        let live: Vec<&Replica> = rs.iter().filter(|r| !r.killed).collect();
        let doubles = double_owners(&live);
        assert!(doubles.is_empty(), "an org owned twice: {doubles:?}");
        live.iter()
            .map(|r| r.role().map_or(usize::MAX, |v| v.owned.len()))
            .collect()
    };
    wait_until(Duration::from_secs(30), "2/2/2", || {
        counts(&replicas) == vec![2, 2, 2]
    });
    // Replicas that started first held every org until the others joined: hand-overs.
    let startup = (since, cluster.fake.now() + 1.0);
    assert_eq!(
        replicas.iter().filter(|r| r.is_leader()).count(),
        1,
        "one replica holds the global lease"
    );
    let join_from = cluster.fake.now();
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
    let join_to = cluster.fake.now() + 1.0;
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
    let victim_id = replicas[victim].identity.clone();
    let kill_from = cluster.fake.now() - 1.0;
    replicas[victim].kill9();
    let killed = Instant::now();
    let killed_fake = cluster.fake.now();
    wait_until(
        LEASE + Duration::from_secs(10),
        "orphaned orgs re-owned",
        || {
            let owned: Vec<String> = replicas
                .iter()
                .filter(|r| !r.killed)
                .flat_map(|r| r.role().map(|v| v.owned).unwrap_or_default())
                .collect();
            counts(&replicas);
            orphaned.iter().all(|o| owned.contains(o))
        },
    );
    let reowned = killed.elapsed();
    let kill_to = cluster.fake.now() + 1.0;
    eprintln!("orgs re-owned after kill -9 in {reowned:?}");
    assert!(
        reowned <= LEASE + Duration::from_millis(500),
        "re-owning took {reowned:?}"
    );
    let expected: Vec<String> = cluster
        .orgs
        .iter()
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let owners = || -> std::collections::BTreeMap<String, String> {
        replicas
            .iter()
            .filter(|r| !r.killed)
            .flat_map(|r| {
                let id = r.identity.clone();
                r.role()
                    .map(|v| v.owned)
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |o| (o, id.clone()))
            })
            .collect()
    };
    wait_until(
        Duration::from_secs(10),
        "every org owned exactly once",
        || {
            counts(&replicas);
            owners().keys().cloned().collect::<Vec<_>>() == expected
        },
    );
    // Re-owned orgs are really scraped, by their new owner (the fake's log, not /healthz) …
    let owner_of = owners();
    wait_until(
        Duration::from_secs(15),
        "each orphaned org asked about by its new owner",
        || {
            let log = cluster.org_requests_since(killed_fake);
            orphaned.iter().all(|org| {
                log.iter()
                    .any(|(_, o, who)| o == org && Some(who) == owner_of.get(org))
            })
        },
    );
    // (Stamped when the fake handles it: one sent just before the kill may come a moment late.)
    assert!(
        cluster
            .org_requests_since(killed_fake + 1.0)
            .iter()
            .all(|(_, _, who)| *who != victim_id),
        "the killed replica asked nothing after its death"
    );
    // … and served equal to the truth by every survivor (one shared store).
    let survivor = replicas.iter().find(|r| !r.killed).expect("survivors");
    assert_served_truth_after(&cluster.fake, killed_fake, || metrics_text(survivor));
    cluster.assert_single_scraper(
        since,
        SCRAPE_INTERVAL,
        &[startup, (join_from, join_to), (kill_from, kill_to)],
    );
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

/// `/_fake/org_requests?since=` over HTTP, as a tool outside the process reads it:
/// `(at, org, identity)` of every org-scoped request, REST and GraphQL.
fn org_requests_over_http(cluster: &Cluster, since: f64) -> Vec<(f64, String, String)> {
    let (status, body) = http_get(
        cluster.fake.addr(),
        &format!("/_fake/org_requests?since={since}"),
    )
    .expect("the fake answers /_fake/org_requests");
    assert_eq!(status, 200, "{body}");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&body).expect("a JSON array");
    entries
        .into_iter()
        .map(|e| {
            (
                e["at"].as_f64().expect("at"),
                e["org"].as_str().expect("org").to_string(),
                identity_of(e["user_agent"].as_str().expect("user_agent")),
            )
        })
        .collect()
}

/// The bar: three replicas; the leader is killed (kill -9) while its first LOC round is in
/// progress (every repository's stats answer 202 twice): the survivors serve the whole truth,
/// LOC included. Then, five times in a row, the current leader is paused (SIGSTOP) for 5 s —
/// longer than its 3 s lease — with a `/metrics/replica` request queued during the pause:
/// every answer says `gh_exporter_is_leader 0`, and the fake's `/_fake/org_requests` shows no
/// request from the paused replica's User-Agent after SIGCONT.
#[test]
fn killed_mid_loc_then_paused_leaders_never_claim_nor_scrape() {
    let cluster = Cluster::new("election-bar", 2, &[]);
    let since = cluster.fake.now();
    let mut replicas: Vec<Replica> = ["b1", "b2", "b3"]
        .iter()
        .map(|id| cluster.start(id, &[]))
        .collect();
    wait_until(Duration::from_secs(20), "a leader is elected", || {
        replicas.iter().filter(|r| r.is_leader()).count() == 1
    });
    // Its first LOC round is in progress once GitHub has answered a stats call with 202.
    wait_until(
        Duration::from_secs(20),
        "the leader's first LOC round asks for stats",
        || {
            let requests = cluster.fake.requests();
            requests.by_status.get("202").copied().unwrap_or(0) >= 1
        },
    );
    let leader = replicas
        .iter()
        .position(|r| r.is_leader())
        .expect("a leader");
    let before = Metrics::parse(&metrics_text(&replicas[leader]));
    let loc_served = cluster.orgs.iter().any(|org| {
        before
            .activity(org)
            .keys()
            .any(|(m, _, _)| m.starts_with("gh_activity_loc_"))
    });
    assert!(!loc_served, "killed before any LOC was served");
    replicas[leader].kill9();
    let killed_fake = cluster.fake.now();
    let killed_id = replicas[leader].identity.clone();
    let survivor = replicas.iter().find(|r| !r.killed).expect("survivors");
    let served =
        wait_served_truth_after(&cluster.fake, killed_fake, Duration::from_secs(60), || {
            metrics_text(survivor)
        });
    assert!(
        cluster.orgs.iter().any(|org| served
            .activity(org)
            .keys()
            .any(|(m, _, _)| m.starts_with("gh_activity_loc_"))),
        "the truth served includes LOC"
    );
    let mut handovers = vec![(killed_fake - 1.0, killed_fake + LEASE.as_secs_f64() + 1.5)];
    // From now on every cycle waits 1.5 s on its repository listing, so a leader can be paused
    // with a cycle in flight: what it does with it after SIGCONT is what is tested.
    inject(
        &cluster.fake,
        r#"{"path_regex": "^/orgs/[^/]+/repos$", "delay_ms": 1500}"#,
    );

    for round in 1..=5 {
        let live: Vec<&Replica> = replicas.iter().filter(|r| !r.killed).collect();
        wait_until(Duration::from_secs(15), "exactly one leader", || {
            live.iter().filter(|r| r.is_leader()).count() == 1
        });
        let paused = *live.iter().find(|r| r.is_leader()).expect("a leader");
        let others: Vec<&Replica> = live
            .iter()
            .copied()
            .filter(|r| r.identity != paused.identity)
            .collect();
        let lost_before =
            paused.replica_value("gh_exporter_leader_transitions_total{event=\"lost\"}");
        let paused_fake = cluster.fake.now();
        // Paused with a cycle in flight: its repository listing has reached the fake (which
        // holds the answer 1.5 s).
        let mark = cluster.fake.now();
        wait_until(
            Duration::from_secs(10),
            "the leader has a repository listing in flight",
            || {
                cluster.fake.org_requests_since(mark).iter().any(|r| {
                    identity_of(&r.user_agent) == paused.identity
                        && r.endpoint == "GET /orgs/{org}/repos"
                })
            },
        );
        paused.signal("STOP");
        let pause_started = Instant::now();
        wait_until(Duration::from_secs(2), "the leader is stopped", || {
            paused.is_stopped()
        });
        // A scrape of /metrics/replica arrives during the pause and waits in the kernel's queue.
        let addr = paused.addr;
        let queued = std::thread::spawn(move || {
            raw_request(addr, "GET", "/metrics/replica", &[("Accept", "text/plain")])
        });
        wait_until(
            LEASE + Duration::from_secs(5),
            "another replica leads",
            || others.iter().any(|r| r.is_leader()),
        );
        // The pause lasts 5 s in all: longer than the lease (the scenario, not a wait).
        std::thread::sleep(Duration::from_secs(5).saturating_sub(pause_started.elapsed()));
        let resumed_fake = cluster.fake.now();
        paused.signal("CONT");
        let answer = queued
            .join()
            .expect("the queued request's thread")
            .expect("the queued /metrics/replica request is answered");
        let text = answer.text();
        assert_eq!(answer.status, 200, "round {round}: {text}");
        let is_leader: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("gh_exporter_is_leader "))
            .collect();
        assert!(
            is_leader == ["gh_exporter_is_leader 0"],
            "round {round}: the resumed {} answered the queued request as leader:\n{text}",
            paused.identity
        );
        wait_until(
            Duration::from_secs(10),
            "the resumed replica has ended its tenure",
            || {
                paused.replica_value("gh_exporter_leader_transitions_total{event=\"lost\"}")
                    > lost_before
            },
        );
        // The new leader scrapes every org after the resume: the log is live and complete …
        let new_leader: Vec<String> = others.iter().map(|r| r.identity.clone()).collect();
        wait_until(
            Duration::from_secs(15),
            "the new leader asked about every org after the resume",
            || {
                let log = org_requests_over_http(&cluster, resumed_fake);
                cluster.orgs.iter().all(|org| {
                    log.iter()
                        .any(|(_, o, who)| o == org && new_leader.contains(who))
                })
            },
        );
        // … and holds nothing from the paused replica after SIGCONT.
        let late: Vec<(f64, String, String)> = org_requests_over_http(&cluster, resumed_fake)
            .into_iter()
            .filter(|(_, _, who)| *who == paused.identity)
            .collect();
        assert!(
            late.is_empty(),
            "round {round}: {} asked GitHub after SIGCONT without a lease: {late:?}",
            paused.identity
        );
        handovers.push((paused_fake - 1.0, cluster.fake.now()));
        eprintln!(
            "round {round}: {} paused, answered is_leader 0, asked nothing",
            paused.identity
        );
    }
    // (The fake stamps a request when it handles it: one sent just before the kill may be
    // stamped a moment after it.)
    let log = cluster.org_requests_since(killed_fake + 1.0);
    assert!(
        log.iter().all(|(_, _, who)| *who != killed_id),
        "the killed replica asked nothing after its death"
    );
    cluster.assert_single_scraper(since, SCRAPE_INTERVAL, &handovers);
}
