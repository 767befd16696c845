//! The real [`CatchUpWorker`] over the real RabbitMQ, judging a window the real scraper
//! missed: the exporter (in-process, backfill off, so it only scrapes) writes its scrape state
//! into a state store this test shares; a fault on one repository's comments (GraphQL down,
//! so comments come over REST) makes its window fail. A job for that window, published by the
//! real dispatcher and consumed by the real consumer pool, fails with `not_recovered_yet` and
//! climbs the retry tiers while the fault lasts — the stored cursor has not passed the
//! window — and succeeds once the fault clears and a later cycle has covered it; the served
//! series then equal the fake's truth.
//!
//! The whole pipeline inside one exporter (scraper → dispatcher → consumer) is
//! `backfill_scrape_e2e.rs`; this test isolates the worker's judgement on real state.

mod backfill_support;
mod scrape_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use actix::Actor as _;
use backfill_support::{cleanup, counter, unique, url, wait_connected, within, BROKER};
use github_stats_exporter::queue::names::QueueNames;
use github_stats_exporter::queue::rabbit::RabbitQueue;
use gse_actors::backfill::catch_up::CatchUpWorker;
use gse_actors::backfill::consumer::ConsumerShared;
use gse_actors::backfill::{
    consumer_pool_spec, BackfillDispatcher, BackfillRequest, ConsumerSettings, DispatcherSettings,
    Reason,
};
use gse_actors::observe::{MemRecorder, MetricsObserver, Observer};
use gse_actors::scrape::memory_state::MemoryStateStore;
use gse_actors::supervisor::{self, Strategy, SupervisorSpec};
use scrape_support::*;

const DEADLINE: Duration = Duration::from_secs(60);
const REASON: &str = "activity_issue_comments_failed";

/// Polls `check` (a plain function of shared state) until it holds, failing after `DEADLINE`.
fn wait(what: &str, mut check: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + DEADLINE;
    while !check() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fault on one repo's comments → the scraper misses the window → job → the real worker
/// retries it while the stored cursor lags → fault cleared → success → truth.
#[test]
fn catch_up_worker_confirms_a_missed_window_only_once_recovered() {
    let fake = fake(1, 6, 8, |c| c.secondary.burst_max = 0);
    let org = fake.org_names()[0].clone();
    // The repository with the most comment series, so the recovery is not trivially empty.
    let mut per_repo: BTreeMap<String, usize> = BTreeMap::new();
    for (metric, repo, _) in truth(&fake, &org, fake.now()).into_keys() {
        if metric == "gh_activity_issue_comments_24h" {
            *per_repo.entry(repo).or_default() += 1;
        }
    }
    let repo = per_repo
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(r, _)| r)
        .expect("a repository with comments");
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
    inject(
        &fake,
        &format!(r#"{{"path_regex": "^/repos/{org}/{repo}/issues/comments$", "status": 502}}"#),
    );
    let state = Arc::new(MemoryStateStore::new());
    let env = env_for(
        &fake,
        &[
            ("GITHUB_STATS_RETRY__MAX_ATTEMPTS", "1"),
            ("GITHUB_STATS_BACKFILL__ENABLED", "false"),
        ],
    );
    let exporter = Exporter::start_with_state(fake.clone(), env, state.clone());
    wait("the scraper missed the comments window", || {
        replica_metrics(&exporter).sum(
            "gh_exporter_backfill_windows_not_queued_total",
            &[("org", &org), ("reason", REASON)],
        ) >= 1.0
    });
    assert!(
        fake.requests().by_status.get("502").copied().unwrap_or(0) >= 1,
        "the comments fault was served"
    );
    assert!(
        fake.requests()
            .by_endpoint
            .contains_key("GET /repos/{owner}/{repo}/issues/comments"),
        "comments came over REST"
    );

    // The backfill side, on its own actix system: the real dispatcher, consumer pool and
    // CatchUpWorker (no scraper to nudge here: the exporter scrapes every second anyway).
    let names = QueueNames::new(
        &format!("{}.ex", unique("e2e")),
        &unique("e2e-jobs"),
        &unique("e2e-dlq"),
        &[Duration::from_secs(1), Duration::from_secs(2)],
    );
    let recorder = Arc::new(MemRecorder::new());
    let now = fake.now();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let backfill = {
        let (names, recorder, state, org, repo) = (
            names.clone(),
            recorder.clone(),
            state.clone(),
            org.clone(),
            repo.clone(),
        );
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let rabbit = RabbitQueue::new(url(BROKER).into(), names.clone());
                let observer: Arc<dyn Observer> = Arc::new(MetricsObserver::new(recorder.clone()));
                let worker = CatchUpWorker {
                    state,
                    scrapers: Arc::new(BTreeMap::new()),
                };
                let shared = ConsumerShared::new(
                    Arc::new(rabbit.clone()),
                    Arc::new(worker),
                    observer.clone(),
                    recorder.clone(),
                    ConsumerSettings {
                        consumer_count: 1,
                        prefetch: 1,
                        max_message_age: Duration::from_secs(3600),
                    },
                );
                let root = supervisor::start(
                    SupervisorSpec::new("root", Strategy::RestForOne)
                        .observer(observer)
                        .child(rabbit.connection_child(None))
                        .child(consumer_pool_spec(shared)),
                );
                let dispatcher = BackfillDispatcher::new(
                    DispatcherSettings::new(
                        Duration::from_secs(60),
                        Duration::from_secs(3600),
                        100,
                        50,
                    ),
                    Arc::new(rabbit.clone()),
                    recorder.clone(),
                )
                .start();
                wait_connected(&rabbit).await;
                let at = |secs: f64| UNIX_EPOCH + Duration::from_secs_f64(secs);
                within(
                    "the dispatcher takes the request",
                    dispatcher.send(BackfillRequest {
                        org,
                        repo,
                        window_start: at(now - 86_400.0),
                        window_end: at(now),
                        reason: Reason::ActivityIssueCommentsFailed,
                    }),
                )
                .await
                .expect("the dispatcher runs");
                let _ = stop_rx.await;
                root.shutdown(Duration::from_secs(10)).await;
                cleanup(&names).await;
            });
        })
    };

    let labels = [("org", org.as_str()), ("reason", REASON)];
    wait("the job is published", || {
        counter(&recorder, "gh_exporter_backfill_jobs_enqueued", &labels) == 1
    });
    wait("attempts fail while the window is not recovered", || {
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_retried",
            &[("error_class", "not_recovered_yet")],
        ) >= 2
    });
    let success = [("org", org.as_str()), ("result", "success")];
    assert_eq!(
        counter(&recorder, "gh_exporter_backfill_jobs_processed", &success),
        0,
        "no success while the fault lasts"
    );

    clear_faults(&fake);
    inject(&fake, r#"{"path_regex": "^/graphql$", "status": 502}"#);
    // The dispatcher widens the window to the 1-minute coalesce boundary (fake time): move
    // past it so a cycle can cover it.
    fake.advance_clock(120.0);
    wait("the worker confirms the recovered window", || {
        counter(&recorder, "gh_exporter_backfill_jobs_processed", &success) == 1
    });
    wait_for_truth(&exporter, &fake, fake.now(), DEADLINE);
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_dead_lettered",
            &[("org", org.as_str()), ("reason", REASON)]
        ),
        0,
        "nothing dead-lettered"
    );
    let _ = stop_tx.send(());
    backfill.join().expect("the backfill side stops");
    exporter.stop();
}
