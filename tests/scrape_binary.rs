//! The real binary against the fake GitHub: several orgs of 30+ repositories; every
//! `gh_activity_*` series on `/metrics` equals `/_fake/truth?at=<that org's window end>` and no
//! extra series exists, after the first cycle and again after a later cycle.

mod common;
mod scrape_support;

use std::time::Duration;

use scrape_support::{compare_allowing_push_race, fake, Metrics};

/// Waits for a cycle of every org ending at or after `after` and compares it with the truth
/// over HTTP (see `scrape_support::compare_allowing_push_race`). Returns the newest window end
/// compared.
fn check(running: &mut common::Running, fake: &fake_github::FakeGithub, after: f64) -> f64 {
    let orgs = fake.org_names();
    let metrics = compare_allowing_push_race(
        &orgs,
        after,
        |after| {
            let mut metrics = Metrics::default();
            running.wait_until("every org serves a cycle", |r| {
                metrics = Metrics::parse(&r.get("/metrics").map(|x| x.text()).unwrap_or_default());
                orgs.iter()
                    .all(|o| metrics.window_end(o).is_some_and(|t| t >= after))
            });
            metrics
        },
        |org, at| scrape_support::truth_over_http(fake, org, at),
    );
    orgs.iter()
        .filter_map(|o| metrics.window_end(o))
        .fold(0.0, f64::max)
}

/// The binary's series equal the truth after its first cycle and after a later one.
#[test]
fn binary_serves_exactly_the_truth() {
    let fake = fake(3, 32, 20, |c| c.secondary.burst_max = 0);
    let base = format!("{}/", fake.base_url());
    let orgs = fake.org_names().join(",");
    let mut running = common::Running::start(&[
        ("GITHUB_STATS_GITHUB__API_BASE_URL", &base),
        ("GITHUB_STATS_GITHUB__TOKEN", "fake-token"),
        ("GITHUB_STATS_GITHUB__ORGS", &orgs),
        ("GITHUB_STATS_GITHUB__SCRAPE_INTERVAL", "2s"),
        // The default pacing (800/min, GitHub's secondary limit) would stretch three cold
        // 32-repo cycles over ~25 s; the fake allows more.
        ("GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE", "6000"),
    ]);
    let first = check(&mut running, &fake, 0.0);
    let second = check(&mut running, &fake, first + 1.0);
    assert!(second > first, "a later cycle was served");
    let status = running.terminate(Duration::from_secs(15));
    assert!(status.success(), "clean exit: {status}");
}
