//! Failure handling against injected faults: 5xx bursts, secondary limits with and without
//! `retry-after` (and pacing that avoids them), malformed and truncated bodies, slow
//! responses, resets, an exhausted budget and a persistently failing endpoint — on the REST
//! endpoints the GraphQL path still calls (repo list, per-repo commit listings and details,
//! contributor stats), on `/graphql` itself, and on the REST fallback's endpoints while
//! GraphQL is down. No crash, no request storm, missed windows reported for backfill, and
//! values equal the truth once the faults stop.
//!
//! Every fault test first proves the fault was **served** (a counted fault is used up in the
//! fake's `/_fake/faults`; its status is in the request counters) and which path answered
//! (GraphQL, or the REST fallback), then asserts recovery.

mod scrape_support;

use std::time::{Duration, Instant};

use fake_github::FakeGithub;
use scrape_support::*;

const DEADLINE: Duration = Duration::from_secs(60);

/// The REST search the fallback uses instead of GraphQL's.
const REST_SEARCH: &str = "GET /search/issues";
const GRAPHQL: &str = "POST /graphql";

/// The fake's active faults (`GET /_fake/faults`).
fn faults_left(fake: &FakeGithub) -> Vec<serde_json::Value> {
    let (status, body) =
        http_send(fake.addr(), "GET", "/_fake/faults", None).expect("the fake answers");
    assert_eq!(status, 200, "GET /_fake/faults: {body}");
    serde_json::from_str(&body).expect("a JSON list of faults")
}

/// Waits until every counted fault was served (used up), within the deadline.
fn wait_faults_served(fake: &FakeGithub) {
    let until = Instant::now() + DEADLINE;
    loop {
        let left: Vec<_> = faults_left(fake)
            .into_iter()
            .filter(|f| !f["remaining"].is_null())
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < until,
            "counted faults never served in full: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the fake counted `at_least` answers with `status` (`"503"`, `"reset"`, …).
fn wait_status_served(fake: &FakeGithub, status: &str, at_least: u64) {
    let until = Instant::now() + DEADLINE;
    loop {
        let served = fake.requests().by_status.get(status).copied().unwrap_or(0);
        if served >= at_least {
            return;
        }
        assert!(
            Instant::now() < until,
            "{status} served {served} times, expected at least {at_least}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts the org's activity came over GraphQL (no REST search fallback ran).
fn assert_graphql_path(fake: &FakeGithub) {
    assert!(requests_to(fake, GRAPHQL) >= 1, "GraphQL answered");
    assert_eq!(
        requests_to(fake, REST_SEARCH),
        0,
        "no REST fallback: {:?}",
        fake.requests().by_endpoint
    );
}

/// A burst of 503s on every listing is retried with backoff; values then equal the truth.
#[test]
fn server_error_bursts_are_retried_and_values_match_truth() {
    let fake = fake(1, 12, 10, |c| c.secondary.burst_max = 0);
    inject(
        &fake,
        r#"{"path_regex": "^/repos/.*/commits$", "status": 503, "count": 6}"#,
    );
    inject(
        &fake,
        r#"{"path_regex": "^/orgs/.*/repos$", "status": 502, "count": 2}"#,
    );
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    wait_faults_served(&fake);
    let statuses = fake.requests().by_status;
    assert_eq!(statuses.get("503").copied(), Some(6));
    assert_eq!(statuses.get("502").copied(), Some(2));
    assert_matches_truth(&exporter, &fake, fake.now());
    assert_graphql_path(&fake);
    exporter.stop();
}

/// Malformed and truncated 200 bodies are errors for that call, retried, never a crash: on
/// every REST endpoint the GraphQL path calls and on `/graphql` itself.
#[test]
fn malformed_and_truncated_bodies_are_retried() {
    let fake = fake(1, 12, 10, |c| c.secondary.burst_max = 0);
    for spec in [
        r#"{"path_regex": "^/orgs/[^/]+/repos$", "body": "truncated", "count": 1}"#,
        r#"{"path_regex": "^/repos/[^/]+/[^/]+/commits/[^/]+$", "body": "malformed", "count": 3}"#,
        r#"{"path_regex": "^/repos/[^/]+/[^/]+/stats/contributors$", "body": "truncated", "count": 2}"#,
        r#"{"path_regex": "^/graphql$", "body": "malformed", "count": 1}"#,
        r#"{"path_regex": "^/graphql$", "body": "truncated", "count": 1}"#,
    ] {
        inject(&fake, spec);
    }
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    wait_faults_served(&fake);
    assert_matches_truth(&exporter, &fake, fake.now());
    assert_graphql_path(&fake);
    exporter.stop();
}

/// With GraphQL down (502 until cleared) the REST fallback runs; malformed and truncated
/// bodies on its endpoints (search, issue comments, reviews) are retried, never a crash.
#[test]
fn malformed_and_truncated_rest_fallback_bodies_are_retried() {
    let fake = fake(1, 12, 10, |c| c.secondary.burst_max = 0);
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
    for spec in [
        r#"{"path_regex": "^/repos/.*/issues/comments$", "body": "malformed", "count": 3}"#,
        r#"{"path_regex": "^/search/issues$", "body": "truncated", "count": 1}"#,
        r#"{"path_regex": "^/repos/.*/pulls/[0-9]+/reviews$", "body": "truncated", "count": 3}"#,
    ] {
        inject(&fake, spec);
    }
    let env = env_for(&fake, &[("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "2")]);
    let exporter = Exporter::start(fake.clone(), env);
    wait_faults_served(&fake);
    wait_status_served(&fake, "502", 1);
    assert!(
        requests_to(&fake, REST_SEARCH) >= 1,
        "the REST fallback ran"
    );
    assert_matches_truth(&exporter, &fake, fake.now());
    exporter.stop();
}

/// One bad GraphQL answer — a 5xx, a malformed or truncated body, a reset connection — is
/// retried over GraphQL (no REST fallback for a single failure), and values equal the truth.
#[test]
fn graphql_transient_faults_are_retried_over_graphql() {
    for (fault, status) in [
        (r#""status": 503"#, Some("503")),
        (r#""body": "malformed""#, None),
        (r#""body": "truncated""#, None),
        (r#""reset_connection": true"#, Some("reset")),
    ] {
        eprintln!("fault {fault}");
        let fake = fake(1, 8, 8, |c| c.secondary.burst_max = 0);
        inject(
            &fake,
            &format!(r#"{{"path_regex": "^/graphql$", {fault}, "count": 1}}"#),
        );
        let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
        wait_faults_served(&fake);
        if let Some(status) = status {
            wait_status_served(&fake, status, 1);
        }
        assert_matches_truth(&exporter, &fake, fake.now());
        assert!(
            requests_to(&fake, GRAPHQL) >= 2,
            "{fault}: GraphQL asked again after the fault"
        );
        assert_graphql_path(&fake);
        exporter.stop();
    }
}

/// GraphQL answering badly for good — malformed or truncated bodies, reset connections (502s:
/// see `graphql_failure_falls_back_to_rest_with_exact_values`) — makes REST stand in, and
/// values equal the truth.
#[test]
fn graphql_persistent_faults_fall_back_to_rest() {
    for (fault, status) in [
        (r#""body": "malformed""#, None),
        (r#""body": "truncated""#, None),
        (r#""reset_connection": true"#, Some("reset")),
    ] {
        eprintln!("fault {fault}");
        let fake = fake(1, 8, 8, |c| c.secondary.burst_max = 0);
        inject(
            &fake,
            &format!(r#"{{"path_regex": "^/graphql$", {fault}}}"#),
        );
        let env = env_for(&fake, &[("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "2")]);
        let exporter = Exporter::start(fake.clone(), env);
        if let Some(status) = status {
            wait_status_served(&fake, status, 1);
        }
        assert_matches_truth(&exporter, &fake, fake.now());
        // Every GraphQL request got the fault (it is never used up); REST answered instead.
        assert!(
            requests_to(&fake, GRAPHQL) >= 1,
            "{fault}: the fault was served"
        );
        assert!(
            requests_to(&fake, REST_SEARCH) >= 1,
            "{fault}: REST search answered"
        );
        exporter.stop();
    }
}

/// Responses slower than `github.request_timeout` time out and are retried. The delay is
/// longer than the whole wait for the truth (90 s), so only a client that gave up on the slow
/// answers and asked again can pass; the timeouts are counted as `status_class="error"`.
#[test]
fn slow_responses_time_out_and_are_retried() {
    let fake = fake(1, 8, 10, |c| c.secondary.burst_max = 0);
    inject(
        &fake,
        r#"{"path_regex": "^/repos/.*/commits$", "delay_ms": 600000, "count": 2}"#,
    );
    let env = env_for(&fake, &[("GITHUB_STATS_GITHUB__REQUEST_TIMEOUT", "1s")]);
    let exporter = Exporter::start(fake.clone(), env);
    wait_faults_served(&fake);
    let m = assert_matches_truth(&exporter, &fake, fake.now());
    let timed_out = m.sum(
        "gh_exporter_github_requests_total",
        &[("status_class", "error")],
    );
    assert!(
        timed_out >= 2.0,
        "both slow answers were given up on ({timed_out} transport errors)"
    );
    exporter.stop();
}

/// Secondary limits with `retry-after` (the fake's concurrency limit) pause and succeed;
/// hits are counted; the refused requests stay few.
#[test]
fn secondary_limits_with_retry_after_pause_then_succeed() {
    let fake = fake(1, 12, 10, |c| {
        c.secondary.burst_max = 0;
        c.secondary.max_concurrent = 1;
        c.secondary.concurrency_retry_after_secs = 1;
        c.secondary.status = 429;
    });
    // Slow listings make the org's parallel requests overlap, so the concurrency limit bites.
    inject(
        &fake,
        r#"{"path_regex": "^/repos/.*/commits$", "delay_ms": 200}"#,
    );
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    let m = assert_matches_truth(&exporter, &fake, fake.now());
    let org = &fake.org_names()[0];
    let hits = m
        .get(
            "gh_exporter_github_secondary_limit_hits_total",
            &[("org", org)],
        )
        .unwrap_or(0.0);
    let refused = fake.requests().by_status.get("429").copied().unwrap_or(0);
    let ok = fake.requests().by_status.get("200").copied().unwrap_or(0);
    assert!(
        hits >= 1.0,
        "secondary limits were hit and counted ({hits})"
    );
    assert!(
        refused <= ok,
        "no storm: {refused} refusals for {ok} successes"
    );
    exporter.stop();
}

/// Secondary limits without `retry-after` (403 with GitHub's message body, or a bare 429)
/// wait `secondary_limit_backoff` and then succeed.
#[test]
fn secondary_limits_without_retry_after_back_off_then_succeed() {
    let fake = fake(1, 8, 10, |c| c.secondary.burst_max = 0);
    inject(
        &fake,
        r#"{"path_regex": "^/repos/.*/stats/contributors$", "status": 429, "count": 2}"#,
    );
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    let m = assert_matches_truth(&exporter, &fake, fake.now());
    let org = &fake.org_names()[0];
    assert!(
        m.get(
            "gh_exporter_github_secondary_limit_hits_total",
            &[("org", org)]
        )
        .unwrap_or(0.0)
            >= 2.0
    );
    exporter.stop();
}

/// Proactive pacing: with `rate_limit.requests_per_minute` under the fake's burst limit, a
/// cold cycle that needs more requests than the limit allows per window never meets a
/// secondary limit, and values equal the truth.
#[test]
fn pacing_stays_under_the_secondary_limit() {
    const BURST_MAX: u64 = 100;
    // Four repositories, one of them large: its LOC fallback alone needs ~130 commit details.
    let fake = fake(1, 4, 10, |c| {
        c.secondary.burst_max = BURST_MAX as u32;
        c.secondary.burst_window_secs = 10;
        c.stats_compute_calls = 0;
    });
    // 400/min: a burst of 40, then 6/s, so at most 100 requests in any 10 s window.
    let env = env_for(
        &fake,
        &[("GITHUB_STATS_RATE_LIMIT__REQUESTS_PER_MINUTE", "400")],
    );
    let exporter = Exporter::start(fake.clone(), env);
    let m = assert_matches_truth(&exporter, &fake, fake.now());
    let org = &fake.org_names()[0];
    let requests = fake.requests();
    assert!(
        requests.total > BURST_MAX,
        "the cycle needed more requests ({}) than one window allows ({BURST_MAX})",
        requests.total
    );
    let refused: u64 = ["403", "429"]
        .iter()
        .filter_map(|s| requests.by_status.get(*s).copied())
        .sum();
    assert_eq!(refused, 0, "no secondary limit was met");
    assert_eq!(
        m.get(
            "gh_exporter_github_secondary_limit_hits_total",
            &[("org", org)]
        )
        .unwrap_or(0.0),
        0.0
    );
    exporter.stop();
}

/// A persistently failing endpoint gives partial cycles that keep every other series, report
/// missed windows, and do not hammer GitHub; values equal the truth once the fault stops.
#[test]
fn persistent_endpoint_failure_is_partial_reported_and_recovers() {
    let fake = fake(1, 12, 10, |c| c.secondary.burst_max = 0);
    inject(
        &fake,
        r#"{"path_regex": "^/repos/.*/commits$", "status": 500}"#,
    );
    let env = env_for(&fake, &[("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "2")]);
    let exporter = Exporter::start(fake.clone(), env);
    let org = fake.org_names()[0].clone();
    let m = wait_for(&exporter, "two partial cycles", DEADLINE, |m| {
        m.get(
            "gh_exporter_scrape_runs_total",
            &[("org", &org), ("result", "partial")],
        )
        .unwrap_or(0.0)
            >= 2.0
    });
    let at = m
        .window_end(&org)
        .expect("partial cycles serve their window");
    let served = m.activity(&org);
    let expected = truth(&fake, &org, at);
    let others_ok = expected
        .iter()
        .filter(|((metric, _, _), _)| {
            metric == "gh_activity_reviews_submitted_24h"
                || metric == "gh_activity_issue_comments_24h"
                || metric == "gh_activity_prs_opened_24h"
        })
        .all(|(k, v)| served.get(k) == Some(v));
    assert!(
        others_ok,
        "series of endpoints that succeeded are served exactly"
    );
    let pending = wait_for_backfill_requests(&exporter, "activity_commits_failed", 1.0);
    assert!(
        pending >= 1.0,
        "missed windows are reported for backfill ({pending})"
    );
    let cycles = requests_to(&fake, "GET /orgs/{org}/repos").max(1);
    let commit_calls = requests_to(&fake, "GET /repos/{owner}/{repo}/commits");
    assert!(
        commit_calls <= cycles * 12 * 2,
        "at most max_attempts per repo and cycle: {commit_calls} calls in {cycles} cycles"
    );
    clear_faults(&fake);
    wait_for_truth(&exporter, &fake, fake.now(), DEADLINE);
    exporter.stop();
}

/// GraphQL failing for good (502s) costs the org nothing but economy: after one failed call
/// (with its retries) REST stands in for a while (search, per-PR reviews, per-repo commits),
/// and values equal the truth.
#[test]
fn graphql_failure_falls_back_to_rest_with_exact_values() {
    let fake = fake(1, 10, 8, |c| c.secondary.burst_max = 0);
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
    let env = env_for(&fake, &[("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "2")]);
    let exporter = Exporter::start(fake.clone(), env);
    assert_matches_truth(&exporter, &fake, fake.now());
    assert!(
        requests_to(&fake, "GET /search/issues") >= 1,
        "REST search answered"
    );
    assert!(
        requests_to(
            &fake,
            "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
        ) >= 1,
        "reviews came over REST"
    );
    assert_matches_truth(&exporter, &fake, fake.now());
    assert_eq!(
        requests_to(&fake, "POST /graphql"),
        2,
        "one failed GraphQL call (max_attempts 2), then REST for a while"
    );
    exporter.stop();
}

/// A spent GraphQL points budget (RATE_LIMITED in a 200 answer) is reported, pauses GraphQL
/// until its reset, and the org goes on over REST with exact values.
#[test]
fn graphql_rate_limited_pauses_graphql_and_rest_carries_on() {
    let fake = fake(1, 8, 8, |c| {
        c.secondary.burst_max = 0;
        c.graphql_rate_limit = 0;
    });
    let exporter = Exporter::start(fake.clone(), env_for(&fake, &[]));
    let m = assert_matches_truth(&exporter, &fake, fake.now());
    let org = &fake.org_names()[0];
    assert_eq!(
        m.get(
            "gh_exporter_github_rate_limit_remaining",
            &[("org", org), ("resource", "graphql")]
        ),
        Some(0.0),
        "the spent GraphQL budget is reported"
    );
    let first = requests_to(&fake, "POST /graphql");
    assert_matches_truth(&exporter, &fake, fake.now());
    assert_eq!(
        requests_to(&fake, "POST /graphql"),
        first,
        "no GraphQL request while its budget is paused"
    );
    assert!(requests_to(&fake, "GET /search/issues") >= 2);
    exporter.stop();
}

/// An exhausted budget pauses the org until reset: no storm, health still answers, the
/// remaining budget is reported as observed, and shutdown cancels the wait.
#[test]
fn exhausted_budget_pauses_without_storm_and_shutdown_cancels_the_wait() {
    let fake = fake(1, 20, 10, |c| {
        c.secondary.burst_max = 0;
        c.rate_limit = 40;
    });
    // A shutdown that waited for the rate-limit reset (an hour away) would take the whole
    // shutdown timeout: ten minutes, far beyond the deadline of the stop below.
    let env = env_for(&fake, &[("GITHUB_STATS_SERVER__SHUTDOWN_TIMEOUT", "10m")]);
    let exporter = Exporter::start(fake.clone(), env);
    let org = fake.org_names()[0].clone();
    let m = wait_for(&exporter, "the budget is reported low", DEADLINE, |m| {
        m.get(
            "gh_exporter_github_rate_limit_remaining",
            &[("org", &org), ("resource", "core")],
        )
        .is_some_and(|r| r < 5.0)
    });
    assert!(m
        .get(
            "gh_exporter_github_rate_limit_reset_timestamp_seconds",
            &[("org", &org), ("resource", "core")]
        )
        .is_some());
    assert_eq!(exporter.get("/livez").map(|r| r.0), Some(200));
    assert!(
        exporter.get("/healthz").is_some(),
        "health answers while scrapes wait"
    );
    // The cycle (20 repositories need more than 40 requests) is now waiting for the reset.
    // No storm against the spent budget: the fake refuses every request beyond it with 403.
    exporter.stop_within(DEADLINE, "shutdown must cancel the rate-limit wait");
    let requests = fake.requests();
    let refused = requests.by_status.get("403").copied().unwrap_or(0);
    assert!(
        refused <= 2,
        "no storm against the spent budget: {refused} refusals, {} requests",
        requests.total
    );
    assert!(
        requests.budget_consumed <= 40,
        "the budget was never overdrawn ({})",
        requests.budget_consumed
    );
}

/// After an exhausted budget refills (a 15 s window on the fake), the paused org resumes by
/// itself and its values equal the truth; the budget is never overdrawn by more than a few
/// requests (the ones in flight when it ran out).
#[test]
fn exhausted_budget_resumes_after_the_reset_with_exact_values() {
    const LIMIT: u32 = 3;
    let fake = fake(1, 3, 6, |c| {
        c.secondary.burst_max = 0;
        c.rate_limit = LIMIT;
        c.rate_limit_window_secs = 15;
        c.stats_compute_calls = 0;
    });
    let env = env_for(
        &fake,
        &[("GITHUB_STATS_RATE_LIMIT__MIN_RESET_BUFFER", "1s")],
    );
    let exporter = Exporter::start(fake.clone(), env);
    assert_matches_truth(&exporter, &fake, fake.now());
    let requests = fake.requests();
    let refused = requests.by_status.get("403").copied().unwrap_or(0);
    // More than one window's budget used: the org waited for a reset and went on by itself.
    assert!(
        requests.budget_consumed > u64::from(LIMIT),
        "more than one window of budget was used ({})",
        requests.budget_consumed
    );
    assert!(
        refused <= 3,
        "no storm against the empty budget ({refused} refusals)"
    );
    exporter.stop();
}
