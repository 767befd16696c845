//! End to end through the real scraper, the real RabbitMQ and the fake GitHub: a fault on one
//! repository's comments endpoint makes the scraper report a missed window, the dispatcher
//! publishes a job, the consumer retries it (tiered delays) until a later cycle has recovered
//! the window, and the served metrics then equal the fake's truth.

mod backfill_support;
mod scrape_support;

use std::time::Duration;

use backfill_support::{cleanup_blocking, unique, url, BROKER};
use github_stats_exporter::queue::names::QueueNames;
use scrape_support::*;

/// A comments fault on one repo → backfill job over RabbitMQ → recovered once the fault
/// clears: the job succeeds and every served series equals the truth.
#[test]
fn missed_comments_window_is_backfilled_through_rabbitmq() {
    let fake = fake(1, 6, 8, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    let repos = fake_repos(&fake);
    let repo = repos
        .first()
        .expect("the fake org has repositories")
        .clone();
    // With GraphQL up, comments come with the org search and the REST comments endpoint is
    // never asked; GraphQL down (for the whole test) puts the scraper on REST, where one
    // repository's comments can fail.
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
    inject(
        &fake,
        &format!(r#"{{"path_regex": "^/repos/{org}/{repo}/issues/comments$", "status": 502}}"#),
    );
    let prefix = unique("scrape-e2e");
    let (exchange, queue, dlq) = (
        format!("{prefix}.x"),
        format!("{prefix}.q"),
        format!("{prefix}.dlq"),
    );
    let delays = [Duration::from_secs(1), Duration::from_secs(2)];
    let names = QueueNames::new(&exchange, &queue, &dlq, &delays);
    let amqp = url(BROKER);
    let env = env_for(
        &fake,
        &[
            ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "1"),
            ("GITHUB_STATS_AMQP__URL", &amqp),
            ("GITHUB_STATS_AMQP__EXCHANGE", &exchange),
            ("GITHUB_STATS_AMQP__QUEUE", &queue),
            ("GITHUB_STATS_AMQP__DLQ", &dlq),
            ("GITHUB_STATS_BACKFILL__REQUEUE_DELAYS", "1s,2s"),
            ("GITHUB_STATS_BACKFILL__MAX_ATTEMPTS", "20"),
            ("GITHUB_STATS_BACKFILL__COALESCE_WINDOW", "1m"),
        ],
    );
    let exporter = Exporter::start(fake.clone(), env);

    let requested = wait_for_backfill_requests(&exporter, "activity_issue_comments_failed", 1.0);
    assert!(
        requested >= 1.0,
        "the missed comments window became a backfill job"
    );
    let failed_attempts = wait_for_replica(&exporter, |m| {
        m.sum(
            "gh_exporter_backfill_jobs_processed_total",
            &[("org", &org), ("result", "retry")],
        ) >= 1.0
    });
    assert!(
        failed_attempts,
        "attempts fail while the window is not recovered"
    );

    clear_faults(&fake);
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
    // The dispatcher widens windows to `coalesce_window` boundaries, so the job's window ends
    // up to a minute after the failure (fake time); move past it so cycles can cover it.
    fake.advance_clock(120.0);
    let recovered = wait_for_replica(&exporter, |m| {
        m.sum(
            "gh_exporter_backfill_jobs_processed_total",
            &[("org", &org), ("result", "success")],
        ) >= 1.0
    });
    assert!(recovered, "a consumer confirmed the recovered window");
    wait_for_truth(&exporter, &fake, fake.now(), Duration::from_secs(60));
    let m = replica_metrics(&exporter);
    assert_eq!(
        m.sum("gh_exporter_backfill_dead_lettered_total", &[]),
        0.0,
        "nothing dead-lettered"
    );
    exporter.stop();
    cleanup_blocking(&names);
}

fn wait_for_replica(exporter: &Exporter, mut check: impl FnMut(&Metrics) -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < until {
        if check(&replica_metrics(exporter)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Repository names of the fake's first org, from its info endpoint.
fn fake_repos(fake: &fake_github::FakeGithub) -> Vec<String> {
    let body = reqwest_blocking_get(&format!("{}/_fake/info", fake.base_url()));
    let info: serde_json::Value = serde_json::from_str(&body).expect("info is JSON");
    info["orgs"][0]["repos"]
        .as_array()
        .map(|repos| {
            repos
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn reqwest_blocking_get(url: &str) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        reqwest::get(url)
            .await
            .expect("GET")
            .text()
            .await
            .expect("body")
    })
}
