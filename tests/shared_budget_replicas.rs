//! One credential, one budget, whatever the number of replicas: three real exporter processes
//! in `per_org` mode share one token against a fake GitHub whose secondary limit allows
//! `BURST_MAX` requests per `WINDOW_SECS` per credential. Paced together through Redis
//! (`rate_limit.shared`, the default) they never meet it; each pacing alone at the full rate
//! (`rate_limit.shared=false`) they do.
//!
//! The rate, `RATE` a minute, is a burst of a tenth and then 90 % spread over the minute: at
//! most `RATE / 10 + 0.9 × RATE × WINDOW_SECS / 60` requests in any window, which the limit
//! allows once but not three times.

mod common;
mod election_support;
mod redis_common;

use std::time::Duration;

use election_support::{wait_until, Cluster, Replica};
use fake_github::FakeConfig;
use redis_common::SHARED_REDIS;

/// `rate_limit.requests_per_minute` of every replica.
const RATE: u32 = 480;
/// The fake's burst window, seconds.
const WINDOW_SECS: u32 = 10;
/// The most one window of the cluster's pacing holds: 48 + 72.
const PACED_PER_WINDOW: usize = 120;
/// The fake's secondary limit per window: above one replica's pacing, below three's.
const BURST_MAX: u32 = 135;
/// Requests the fake must see (after every replica scrapes) before the figures are read.
const OBSERVED: usize = 400;

/// What the fake saw.
#[derive(Debug)]
struct Seen {
    /// Secondary-limit refusals (the fake answers them with 429, which nothing else uses).
    refusals: u64,
    /// The most org requests that arrived within one window.
    busiest_window: usize,
    /// Org requests logged.
    requests: usize,
}

fn owns_an_org(replica: &Replica) -> bool {
    replica.role().is_some_and(|r| !r.owned.is_empty())
}

/// Three per-org replicas on one token, until the fake saw `OBSERVED` org requests after all
/// three scrape.
fn run(test: &str, shared: bool) -> Seen {
    let mut config = FakeConfig {
        orgs: 6,
        repos: 6,
        users: 6,
        ..FakeConfig::default()
    };
    config.secondary.burst_max = BURST_MAX;
    config.secondary.burst_window_secs = WINDOW_SECS;
    config.secondary.status = 429;
    let rate = RATE.to_string();
    let shared = shared.to_string();
    let cluster = Cluster::with_fake(
        test,
        config,
        SHARED_REDIS,
        &[
            ("GITHUB_STATS_LEADER_ELECTION__MODE", "per_org"),
            ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "1s"),
            ("GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE", &rate),
            ("GITHUB_STATS_RATE_LIMIT__SHARED", &shared),
        ],
    );
    let replicas = [
        cluster.start("budget-a", &[]),
        cluster.start("budget-b", &[]),
        cluster.start("budget-c", &[]),
    ];
    wait_until(
        Duration::from_secs(60),
        "every replica scrapes an org",
        || replicas.iter().all(owns_an_org),
    );
    let since = cluster.fake.now();
    wait_until(
        Duration::from_secs(180),
        "the fake sees enough requests from the three replicas",
        || cluster.fake.org_requests_since(since).len() >= OBSERVED,
    );
    let mut arrivals: Vec<f64> = cluster.fake.org_requests().iter().map(|r| r.at).collect();
    arrivals.sort_by(f64::total_cmp);
    let window = f64::from(WINDOW_SECS);
    let busiest_window = arrivals
        .iter()
        .enumerate()
        .map(|(i, t)| {
            arrivals[i..]
                .iter()
                .take_while(|u| **u < t + window)
                .count()
        })
        .max()
        .unwrap_or(0);
    let counts = cluster.fake.requests();
    let seen = Seen {
        refusals: counts.by_status.get("429").copied().unwrap_or(0),
        busiest_window,
        requests: arrivals.len(),
    };
    eprintln!(
        "{test}: shared={shared}: {seen:?}, by status {:?}",
        counts.by_status
    );
    drop(replicas);
    seen
}

/// Shared: zero refusals, and no window holds more than the cluster's pacing allows — while
/// the busiest one comes close to it (the replicas wanted more than the rate).
#[test]
fn three_replicas_sharing_a_token_stay_under_the_secondary_limit() {
    let seen = run("shared-budget-on", true);
    assert!(seen.requests >= OBSERVED, "{seen:?}");
    assert_eq!(seen.refusals, 0, "secondary-limit refusals: {seen:?}");
    assert!(
        seen.busiest_window <= PACED_PER_WINDOW + 5,
        "more requests in one {WINDOW_SECS} s window than the shared pacing allows: {seen:?}"
    );
    assert!(
        seen.busiest_window >= PACED_PER_WINDOW / 2,
        "the replicas never came near the rate, so the test proves nothing: {seen:?}"
    );
}

/// The same replicas, each pacing alone at the full rate, send up to three times the rate and
/// run into the limit: what the shared budget prevents.
#[test]
fn three_replicas_pacing_alone_run_into_the_secondary_limit() {
    let seen = run("shared-budget-off", false);
    assert!(seen.refusals > 0, "no refusal without sharing: {seen:?}");
}
