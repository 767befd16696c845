//! API-economy bench: scrape cycles of one org (300 repositories, 50 users) against the fake
//! GitHub, the clock advancing one scrape interval (5 min) between cycles so that a small share
//! of repositories changes. Reports GitHub requests per repository per cycle, cold (first
//! cycle, empty state) and warm (later cycles), the primary (REST) budget consumed, the
//! GraphQL points consumed, the cold cycle's requests by endpoint, and each cycle's wall time
//! (with the default `rate_limit.requests_per_minute` pacing), including the LOC rounds that
//! follow each cycle until GitHub has answered every repository's contributor stats.
//!
//! Run: `cargo bench --bench scrape_economy` (add `-- --cycles N --repos N --users N
//! --interval-secs N --stats-compute-calls N` to vary). Secondary burst limits of the fake are
//! disabled: this measures requests, not pacing.

use std::sync::Arc;

use fake_github::{Clock, FakeConfig, FakeGithub};
use github_stats_exporter::config;
use github_stats_exporter::github::setup::org_apis;
use github_stats_exporter::scraping::cycle_settings;
use gse_actors::scrape::cycle::run_cycle;
use gse_actors::scrape::loc_round::run_loc_round;
use gse_actors::scrape::memory_state::MemoryStateStore;
use gse_actors::scrape::port::ScrapeStateStore;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let repos = arg("--repos", 300) as usize;
    let users = arg("--users", 50) as usize;
    let cycles = arg("--cycles", 12);
    let interval = arg("--interval-secs", 300) as f64;
    let stats_calls = arg("--stats-compute-calls", 1) as u32;
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut fake_config = FakeConfig {
        seed: 11,
        orgs: 1,
        repos,
        users,
        clock: Clock::Fixed(start.floor()),
        stats_compute_calls: stats_calls,
        rate_limit: 1_000_000,
        ..FakeConfig::default()
    };
    fake_config.secondary.burst_max = 0;
    let fake = FakeGithub::spawn(fake_config).expect("fake github starts");
    let org = fake.org_names()[0].clone();
    let env = vec![
        (
            "GITHUB_STATS_GITHUB__API_BASE_URL".to_string(),
            format!("{}/", fake.base_url()),
        ),
        (
            "GITHUB_STATS_GITHUB__TOKEN".to_string(),
            "fake-token".to_string(),
        ),
        ("GITHUB_STATS_GITHUB__ORGS".to_string(), org.clone()),
        (
            "GITHUB_STATS_GITHUB__SCRAPE_INTERVAL".to_string(),
            format!("{}s", interval as u64),
        ),
    ];
    let cfg = config::load_from(None, env).unwrap_or_else(|e| panic!("config: {:?}", e.problems));
    let system = actix_rt::System::new();
    let (org_cfg, api) = org_apis(&cfg).expect("github setup").remove(0);
    let settings = Arc::new(cycle_settings(&cfg, &org_cfg));
    let state: Arc<dyn ScrapeStateStore> = Arc::new(MemoryStateStore::new());

    println!("org {org}: {repos} repositories, {users} users, interval {interval} s, stats 202 answers per repo: {stats_calls}");
    println!(
        "{:>5} {:>9} {:>9} {:>8} {:>9} {:>8} {:>10} {:>12} {:>9} {:>6}",
        "cycle",
        "requests",
        "budget",
        "gql pts",
        "304s",
        "req/repo",
        "changed",
        "exact",
        "seconds",
        "loc rounds"
    );
    let mut warm = (0u64, 0u64, 0u64);
    let points = |r: &fake_github::counters::RequestCounts| {
        r.budget_consumed_by_resource
            .get("graphql")
            .copied()
            .unwrap_or(0)
    };
    let mut previous_truth = None;
    for cycle in 0..cycles {
        if cycle > 0 {
            fake.advance_clock(interval);
        }
        let now = fake.now();
        let before = fake.requests();
        let started = std::time::Instant::now();
        let mut outcome = system.block_on(run_cycle(
            org.clone(),
            now,
            api.clone(),
            state.clone(),
            settings.clone(),
        ));
        // LOC rounds as the ScrapeActor runs them: after the cycle, then again while GitHub
        // still computes (the fake counts calls, so no delay is needed here).
        let mut rounds = 0;
        if outcome.loc_due > 0 {
            loop {
                rounds += 1;
                let round = system.block_on(run_loc_round(
                    org.clone(),
                    now,
                    api.clone(),
                    state.clone(),
                    settings.clone(),
                ));
                outcome.missing.extend(round.missing);
                if let Some((_, samples)) = round.served {
                    outcome.samples = samples;
                }
                if round.waiting == 0 || rounds >= 20 {
                    break;
                }
            }
        }
        let took = started.elapsed().as_secs_f64();
        let after = fake.requests();
        let requests = after.total - before.total;
        let budget = after.budget_consumed - before.budget_consumed;
        let not_modified = after.not_modified - before.not_modified;
        let graphql_points = points(&after) - points(&before);
        if cycle == 0 {
            let by_endpoint: Vec<String> = after
                .by_endpoint
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}: {}",
                        v - before.by_endpoint.get(k).copied().unwrap_or(0)
                    )
                })
                .collect();
            println!("cold cycle by endpoint: {}", by_endpoint.join(", "));
        }
        // Exactness check of the same cycle, and how many repositories changed since the last.
        let truth = fake.truth(now);
        let mut served: Vec<(String, String, String, u64)> = outcome
            .samples
            .iter()
            .filter(|s| s.metric.starts_with("gh_activity_"))
            .map(|s| {
                (
                    s.metric.clone(),
                    s.labels[1].1.clone(),
                    s.labels[2].1.clone(),
                    s.value as u64,
                )
            })
            .collect();
        served.sort();
        let mut expected: Vec<(String, String, String, u64)> = truth
            .series
            .iter()
            .map(|s| {
                (
                    s.metric.to_string(),
                    s.repo.clone(),
                    s.user.clone(),
                    s.value,
                )
            })
            .collect();
        expected.sort();
        let exact = served == expected;
        let changed =
            previous_truth
                .as_ref()
                .map_or(repos, |prev: &Vec<(String, String, String, u64)>| {
                    let mut changed_repos = std::collections::BTreeSet::new();
                    for s in prev
                        .iter()
                        .filter(|s| !expected.contains(s))
                        .chain(expected.iter().filter(|s| !prev.contains(s)))
                    {
                        changed_repos.insert(s.1.clone());
                    }
                    changed_repos.len()
                });
        previous_truth = Some(expected);
        println!(
            "{cycle:>5} {requests:>9} {budget:>9} {graphql_points:>8} {not_modified:>9} {:>8.3} {:>9.1}% {:>12} {took:>9.1} {rounds:>6}",
            requests as f64 / repos as f64,
            100.0 * changed as f64 / repos as f64,
            if exact { "yes" } else { "NO" }
        );
        if cycle > 0 {
            warm.0 += requests;
            warm.1 += budget;
            warm.2 += 1;
        }
        assert_eq!(
            outcome.missing.len(),
            0,
            "no failures expected against a healthy fake"
        );
    }
    if warm.2 > 0 {
        println!(
            "warm average: {:.3} requests/repo/cycle, {:.3} budget/repo/cycle",
            warm.0 as f64 / warm.2 as f64 / repos as f64,
            warm.1 as f64 / warm.2 as f64 / repos as f64
        );
    }
    let totals = fake.requests();
    println!("by endpoint over all cycles: {:?}", totals.by_endpoint);
}
