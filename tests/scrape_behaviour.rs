//! ScrapeActor behaviour through the running exporter: the mailbox stays responsive while a
//! GitHub call hangs, cycles of one org never overlap, GitHub health cools down and recovers,
//! `stats/contributors` 202 answers are polled until LOC values appear, and the LOC fallback
//! stops at its per-repository cap.

mod scrape_support;

use std::time::Duration;

use std::sync::Arc;

use gse_actors::scrape::memory_state::MemoryStateStore;
use scrape_support::*;

const DEADLINE: Duration = Duration::from_secs(60);

/// While the repository listing hangs, health and metrics answer, and ticks (every second)
/// never start a second cycle of the org; shutdown cancels the hanging call.
#[test]
fn hanging_github_call_blocks_neither_health_nor_starts_a_second_cycle() {
    let fake = fake(1, 4, 5, |c| c.secondary.burst_max = 0);
    inject(
        &fake,
        r#"{"path_regex": "^/orgs/[^/]+/repos$", "delay_ms": 600000, "count": 1}"#,
    );
    // A shutdown that waited for the hanging call would take the whole shutdown timeout.
    let env = env_for(
        &fake,
        &[
            ("GITHUB_STATS_GITHUB__REQUEST_TIMEOUT", "10m"),
            ("GITHUB_STATS_SERVER__SHUTDOWN_TIMEOUT", "10m"),
        ],
    );
    let exporter = Exporter::start(fake.clone(), env);
    let listing = "GET /orgs/{org}/repos";
    // The fault is used up when the listing arrives at the fake: it hangs from then on (the
    // fake counts a request only when it completes).
    let until = std::time::Instant::now() + DEADLINE;
    while http_send(fake.addr(), "GET", "/_fake/faults", None).is_none_or(|r| r.1 != "[]") {
        assert!(
            std::time::Instant::now() < until,
            "the listing never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(exporter.get("/livez").map(|r| r.0), Some(200));
    let health = exporter.get("/healthz").expect("healthz answers");
    assert!(health.1.contains("\"role\""), "health body: {}", health.1);
    assert!(exporter.get("/metrics").is_some_and(|r| r.0 == 200));
    // A second cycle would list the repositories again, and that listing (no fault left)
    // would complete at once. Observe a few scrape intervals' worth of health probes.
    for _ in 0..30 {
        assert_eq!(exporter.get("/livez").map(|r| r.0), Some(200));
        assert_eq!(
            requests_to(&fake, listing),
            0,
            "no second cycle started while the first hangs"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    exporter.stop_within(DEADLINE, "shutdown must cancel the hanging call");
}

/// Consecutive failed cycles start a cooldown (cycles skipped, the period sent to backfill),
/// and the org recovers once GitHub answers again.
#[test]
fn github_failures_cool_down_then_recover() {
    let fake = fake(1, 4, 5, |c| c.secondary.burst_max = 0);
    inject(
        &fake,
        r#"{"path_regex": "^/orgs/[^/]+/repos$", "status": 503}"#,
    );
    let env = env_for(
        &fake,
        &[
            ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "1"),
            ("GITHUB_STATS_GITHUB__UNHEALTHY_FAILURE_THRESHOLD", "2"),
            ("GITHUB_STATS_GITHUB__UNHEALTHY_COOLDOWN", "3s"),
            ("GITHUB_STATS_GITHUB__RECOVER_SUCCESS_THRESHOLD", "1"),
        ],
    );
    let exporter = Exporter::start(fake.clone(), env);
    let org = fake.org_names()[0].clone();
    let runs = |m: &Metrics, result: &str| {
        m.get(
            "gh_exporter_scrape_runs_total",
            &[("org", &org), ("result", result)],
        )
        .unwrap_or(0.0)
    };
    let m = wait_for(&exporter, "a skipped cycle", DEADLINE, |m| {
        runs(m, "skipped_unhealthy") >= 1.0
    });
    assert!(runs(&m, "failure") >= 2.0);
    assert_eq!(
        m.get("gh_exporter_github_org_healthy", &[("org", &org)]),
        Some(0.0)
    );
    // Only the owner lookup (`GET /users/{org}`) answered: its real budget may be reported,
    // a made-up 0 never.
    assert!(
        m.get(
            "gh_exporter_github_rate_limit_remaining",
            &[("org", &org), ("resource", "core")]
        )
        .is_none_or(|remaining| remaining > 0.0),
        "a failing org never reports remaining 0"
    );
    assert!(wait_for_backfill_requests(&exporter, "github_unhealthy", 1.0) >= 1.0);
    assert!(wait_for_backfill_requests(&exporter, "scrape_error", 2.0) >= 2.0);
    clear_faults(&fake);
    let m = wait_for(&exporter, "recovery", DEADLINE, |m| {
        runs(m, "success") >= 1.0
    });
    let m = if m.get("gh_exporter_github_org_healthy", &[("org", &org)]) == Some(1.0) {
        m
    } else {
        wait_for(&exporter, "healthy again", DEADLINE, |m| {
            m.get("gh_exporter_github_org_healthy", &[("org", &org)]) == Some(1.0)
        })
    };
    assert!(m
        .get(
            "gh_exporter_last_successful_scrape_timestamp_seconds",
            &[("org", &org)]
        )
        .is_some());
    wait_for_truth(&exporter, &fake, fake.now(), DEADLINE);
    exporter.stop();
}

/// `stats/contributors` answering 202 for a while yields no LOC series until computed, then
/// LOC values equal the truth. Each repository answers 202 to its first `COMPUTE_CALLS`
/// calls: as long as the fake has counted fewer calls than that in all (every repository
/// together), every repository is still computing, and a served cycle must carry no
/// `gh_activity_loc_*` series at all.
#[test]
fn stats_202_is_polled_until_values_appear() {
    const COMPUTE_CALLS: u64 = 12;
    const STATS: &str = "GET /repos/{owner}/{repo}/stats/contributors";
    let fake = fake(1, 2, 8, |c| {
        c.secondary.burst_max = 0;
        c.stats_compute_calls = COMPUTE_CALLS as u32;
    });
    let org = fake.org_names()[0].clone();
    let env = env_for(&fake, &[("GITHUB_STATS_LOC__STATS_POLL_ATTEMPTS", "1")]);
    let exporter = Exporter::start(fake.clone(), env);
    let loc_series = |m: &Metrics| -> Vec<(String, String, String)> {
        m.activity(&org)
            .into_keys()
            .filter(|(metric, _, _)| metric.starts_with("gh_activity_loc_"))
            .collect()
    };
    // A served cycle while every repository is still computing: the stats calls counted
    // *after* reading `/metrics` are still under COMPUTE_CALLS.
    let until = std::time::Instant::now() + DEADLINE;
    let computing = loop {
        let m = exporter.metrics();
        let calls = requests_to(&fake, STATS);
        if m.window_end(&org).is_some() && (1..COMPUTE_CALLS).contains(&calls) {
            break m;
        }
        assert!(
            calls < COMPUTE_CALLS && std::time::Instant::now() < until,
            "no cycle served while stats were computing ({calls} stats calls)"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let accepted = fake.requests().by_status.get("202").copied().unwrap_or(0);
    assert!(accepted >= 1, "202 answers were served ({accepted})");
    let early = loc_series(&computing);
    assert!(
        early.is_empty(),
        "LOC served while every repository was still computing: {early:?}"
    );
    let m = wait_for(&exporter, "LOC series once computed", DEADLINE, |m| {
        !loc_series(m).is_empty()
    });
    assert!(
        requests_to(&fake, STATS) >= COMPUTE_CALLS,
        "LOC appeared only after a repository was computed"
    );
    drop(m);
    wait_for_truth(&exporter, &fake, fake.now(), DEADLINE);
    exporter.stop();
}

/// A repository allowlist and denylist restrict what is scraped; forks can be excluded.
#[test]
fn repo_filters_restrict_the_scraped_repositories() {
    let fake = fake(1, 10, 8, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    let env = env_for(
        &fake,
        &[
            ("GITHUB_STATS_GITHUB__ORGS", ""),
            ("GITHUB_STATS_GITHUB__ORGS__0__ORG", org.as_str()),
            ("GITHUB_STATS_GITHUB__ORGS__0__REPO_DENYLIST", "*"),
        ],
    );
    let exporter = Exporter::start(fake.clone(), env);
    let m = wait_for(&exporter, "a cycle", DEADLINE, |m| {
        m.window_end(&org).is_some()
    });
    assert!(
        m.activity(&org).is_empty(),
        "every repository denied: no activity series"
    );
    assert_eq!(requests_to(&fake, "GET /repos/{owner}/{repo}/commits"), 0);
    exporter.stop();
}

/// A new exporter sharing the scrape state (a restart or a new leader) serves the last saved
/// cycle at once, exactly, even while its own first cycle is still waiting on GitHub.
#[test]
fn saved_state_is_served_at_once_after_a_restart() {
    let fake = fake(1, 6, 6, |c| c.secondary.burst_max = 0);
    let state = Arc::new(MemoryStateStore::new());
    let first = Exporter::start_with_state(fake.clone(), env_for(&fake, &[]), state.clone());
    assert_matches_truth(&first, &fake, fake.now());
    first.stop();
    inject(
        &fake,
        r#"{"path_regex": "^/orgs/[^/]+/repos$", "delay_ms": 30000, "count": 1}"#,
    );
    let env = env_for(&fake, &[("GITHUB_STATS_GITHUB__REQUEST_TIMEOUT", "60s")]);
    let second = Exporter::start_with_state(fake.clone(), env, state);
    let org = fake.org_names()[0].clone();
    let m = wait_for(&second, "the saved cycle is served", DEADLINE, |m| {
        m.window_end(&org).is_some()
    });
    let at = m.window_end(&org).expect("waited");
    let problems = diff(&m.activity(&org), &truth(&fake, &org, at));
    assert!(problems.is_empty(), "{problems:#?}");
    clear_faults(&fake);
    second.stop();
}

/// The commit-detail fallback of a large repository (its stats report zero lines) fetches at
/// most `loc.fallback_max_commits_per_repo_per_week` commits, says so with
/// `gh_exporter_loc_fallback_incomplete 1`, and hands the week to backfill
/// (`fallback_truncated`) instead of spending more of the budget.
#[test]
fn loc_fallback_stops_at_the_per_repo_cap_and_says_so() {
    const CAP: u64 = 5;
    let fake = fake(1, 4, 6, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    let env = env_for(
        &fake,
        &[(
            "GITHUB_STATS_LOC__FALLBACK_MAX_COMMITS_PER_REPO_PER_WEEK",
            &CAP.to_string(),
        )],
    );
    let exporter = Exporter::start(fake.clone(), env);
    let m = wait_for(
        &exporter,
        "the fallback to report a cut week",
        DEADLINE,
        |m| m.sum("gh_exporter_loc_fallback_incomplete", &[("org", &org)]) >= 1.0,
    );
    let large: Vec<&String> =
        m.0.iter()
            .filter(|((name, labels), v)| {
                name == "gh_exporter_loc_source_mode"
                    && **v == 1.0
                    && labels
                        .iter()
                        .any(|(k, v)| k == "mode" && v == "sampled_commit_stats")
            })
            .filter_map(|((_, labels), _)| labels.iter().find(|(k, _)| k == "repo").map(|(_, v)| v))
            .collect();
    assert_eq!(
        large.len(),
        1,
        "exactly the large repository is on the fallback"
    );
    assert_eq!(
        m.sum("gh_exporter_loc_fallback_incomplete", &[("org", &org)]),
        1.0,
        "only that repository is incomplete"
    );
    let details = requests_to(&fake, "GET /repos/{owner}/{repo}/commits/{ref}");
    assert!(
        (1..=CAP).contains(&details),
        "commit details stay within the cap of {CAP} per repository and week ({details})"
    );
    assert!(
        wait_for_backfill_requests(&exporter, "fallback_truncated", 1.0) >= 1.0,
        "the cut week was handed to backfill"
    );
    // Later cycles of the same week fetch no more details.
    let before = requests_to(&fake, "GET /repos/{owner}/{repo}/commits/{ref}");
    let first_end = m.window_end(&org).unwrap_or_default();
    wait_for(&exporter, "two more cycles", DEADLINE, |m| {
        m.window_end(&org).is_some_and(|t| t > first_end)
    });
    assert_eq!(
        requests_to(&fake, "GET /repos/{owner}/{repo}/commits/{ref}"),
        before,
        "the cap holds across cycles of one week"
    );
    exporter.stop();
}
