//! Backfill over the in-memory queue: the consumer pool's retry tiers, dead letters, expiry and
//! panic recovery, and the dispatcher's coalescing, dedup, cap and outage buffer — through the
//! real supervision tree, with a worker scripted at the port boundary.

mod backfill_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::Actor as _;
use backfill_support::{counter, gauge, wait_until, ScriptedWorker, Shared, Step};
use futures::future::BoxFuture;
use github_stats_exporter::queue::memory::MemoryQueue;
use github_stats_exporter::queue::names::QueueNames;
use gse_actors::backfill::consumer::ConsumerShared;
use gse_actors::backfill::{
    consumer_pool_spec, BackfillDispatcher, BackfillJob, BackfillRequest, ConsumerSettings,
    DeliveryStream, DispatcherSettings, JobQueue, QueueError, QueueSample, Reason, Target,
};
use gse_actors::observe::{MemRecorder, MetricsObserver, Observer};
use gse_actors::supervisor::{self, Strategy, SupervisorHandle, SupervisorSpec};

const LIMIT: Duration = Duration::from_secs(20);

fn memory_queue(delays: &[Duration]) -> MemoryQueue {
    MemoryQueue::new(QueueNames::new("ex", "jobs", "dlq", delays), 1000)
}

/// Starts a root supervisor holding only the consumer pool.
fn start_pool(
    queue: Arc<dyn JobQueue>,
    worker: Arc<ScriptedWorker>,
    recorder: Arc<MemRecorder>,
    max_message_age: Duration,
) -> SupervisorHandle {
    let observer: Arc<dyn Observer> = Arc::new(MetricsObserver::new(recorder.clone()));
    let shared = ConsumerShared::new(
        queue,
        Arc::new(Shared(worker)),
        observer.clone(),
        recorder,
        ConsumerSettings {
            consumer_count: 1,
            prefetch: 1,
            max_message_age,
        },
    );
    supervisor::start(
        SupervisorSpec::new("root", Strategy::OneForOne)
            .observer(observer)
            .child(consumer_pool_spec(shared)),
    )
}

fn job(repo: &str, max_attempts: u32, created: SystemTime) -> BackfillJob {
    let start = created - Duration::from_secs(86_400);
    BackfillJob::new(
        "acme",
        repo,
        (start, created),
        Reason::ActivityIssueCommentsFailed,
        max_attempts,
        created,
    )
}

/// A failing job climbs the retry tiers with attempt 1, 2, 3 and lands in the DLQ after
/// max_attempts with the attempt count and the last error; every step is counted.
#[actix_rt::test]
async fn retry_tiers_lead_to_dead_letter_with_attempt_and_last_error() {
    let queue = memory_queue(&[Duration::from_millis(30), Duration::from_millis(60)]);
    let worker = ScriptedWorker::new(vec![], Step::Fail("github_5xx"));
    let recorder = Arc::new(MemRecorder::new());
    let root = start_pool(
        Arc::new(queue.clone()),
        worker.clone(),
        recorder.clone(),
        Duration::from_secs(3600),
    );
    queue
        .publish(&job("api", 3, SystemTime::now()), Target::Work)
        .await
        .unwrap();

    wait_until("the job is dead-lettered", LIMIT, || {
        !queue.dead_letters().is_empty()
    })
    .await;
    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.attempt, 3);
    assert!(
        dead[0].last_error.contains("attempt 3/3"),
        "{}",
        dead[0].last_error
    );
    assert!(
        dead[0].last_error.contains("github_5xx"),
        "{}",
        dead[0].last_error
    );
    assert_eq!(worker.attempts_seen(), vec![1, 2, 3]);
    let org = [("org", "acme")];
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_retried",
            &[("error_class", "github_5xx")]
        ),
        2
    );
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_processed",
            &[org[0], ("result", "retry")]
        ),
        2
    );
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_processed",
            &[org[0], ("result", "dead_letter")]
        ),
        1
    );
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_dead_lettered",
            &[org[0], ("reason", "activity_issue_comments_failed")]
        ),
        1
    );
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_finished",
            &[("outcome", "dead_letter")]
        ),
        1
    );
    root.shutdown(Duration::from_secs(5)).await;
}

/// A transient failure is retried with attempt + 1 and then stored; the original is acked, so
/// nothing is left in any queue.
#[actix_rt::test]
async fn failed_attempt_is_retried_then_stored() {
    let queue = memory_queue(&[Duration::from_millis(20)]);
    let worker = ScriptedWorker::new(vec![Step::Fail("rate_limited")], Step::Store);
    let recorder = Arc::new(MemRecorder::new());
    let root = start_pool(
        Arc::new(queue.clone()),
        worker.clone(),
        recorder.clone(),
        Duration::from_secs(3600),
    );
    let job = job("api", 5, SystemTime::now());
    queue.publish(&job, Target::Work).await.unwrap();

    wait_until("the window is stored", LIMIT, || worker.stored_count() == 1).await;
    assert_eq!(worker.attempts_seen(), vec![1, 2]);
    let stored = worker.stored.lock().unwrap()[&job.dedup_key];
    assert_eq!(
        stored,
        (job.window_start, job.window_end),
        "the full window is recomputed"
    );
    wait_until("queues are empty", LIMIT, || {
        futures::executor::block_on(queue.sample())
            .unwrap()
            .iter()
            .all(|s| s.ready == 0)
    })
    .await;
    wait_until("the success is counted", LIMIT, || {
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_processed",
            &[("org", "acme"), ("result", "success")],
        ) == 1
    })
    .await;
    root.shutdown(Duration::from_secs(5)).await;
}

/// A job this replica cannot run (a deferred error) is passed on through the first retry tier
/// without using an attempt: with `max_attempts = 1` it still runs again, and is stored.
#[actix_rt::test]
async fn a_deferred_job_is_passed_on_without_using_an_attempt() {
    let queue = memory_queue(&[Duration::from_millis(20)]);
    let worker = ScriptedWorker::new(
        vec![
            Step::Defer("copilot_not_owned_here"),
            Step::Defer("copilot_not_owned_here"),
        ],
        Step::Store,
    );
    let recorder = Arc::new(MemRecorder::new());
    let root = start_pool(
        Arc::new(queue.clone()),
        worker.clone(),
        recorder.clone(),
        Duration::from_secs(3600),
    );
    queue
        .publish(&job("api", 1, SystemTime::now()), Target::Work)
        .await
        .unwrap();
    wait_until("the job is stored", LIMIT, || worker.stored_count() == 1).await;
    assert_eq!(worker.attempts_seen(), vec![1, 1, 1]);
    assert!(queue.dead_letters().is_empty(), "nothing dead-lettered");
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_retried",
            &[("error_class", "copilot_not_owned_here")]
        ),
        2
    );
    root.shutdown(Duration::from_secs(5)).await;
}

/// A job older than max_message_age is dead-lettered without running, with the reason in
/// last_error, and counted — never dropped silently.
#[actix_rt::test]
async fn expired_job_is_dead_lettered_and_counted() {
    let queue = memory_queue(&[Duration::from_millis(20)]);
    let worker = ScriptedWorker::new(vec![], Step::Store);
    let recorder = Arc::new(MemRecorder::new());
    let root = start_pool(
        Arc::new(queue.clone()),
        worker.clone(),
        recorder.clone(),
        Duration::from_secs(3600),
    );
    let old = job("api", 5, SystemTime::now() - Duration::from_secs(7200));
    queue.publish(&old, Target::Work).await.unwrap();

    wait_until("the job is dead-lettered", LIMIT, || {
        !queue.dead_letters().is_empty()
    })
    .await;
    let dead = &queue.dead_letters()[0];
    assert!(
        dead.last_error.starts_with("expired"),
        "{}",
        dead.last_error
    );
    assert!(
        worker.calls.lock().unwrap().is_empty(),
        "an expired job is not processed"
    );
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_dead_lettered",
            &[
                ("org", "acme"),
                ("reason", "activity_issue_comments_failed")
            ]
        ),
        1
    );
    root.shutdown(Duration::from_secs(5)).await;
}

/// A handler that panics loses nothing: the message returns to the queue, the consumer is
/// restarted by the pool's supervisor, and the redelivered job is stored.
#[actix_rt::test]
async fn panicking_handler_requeues_and_consumer_is_restarted() {
    let queue = memory_queue(&[Duration::from_millis(20)]);
    let worker = ScriptedWorker::new(vec![Step::Panic], Step::Store);
    let recorder = Arc::new(MemRecorder::new());
    let root = start_pool(
        Arc::new(queue.clone()),
        worker.clone(),
        recorder.clone(),
        Duration::from_secs(3600),
    );
    let job = job("api", 5, SystemTime::now());
    queue.publish(&job, Target::Work).await.unwrap();

    wait_until("the redelivered job is stored", LIMIT, || {
        worker.stored_count() == 1
    })
    .await;
    let calls = worker.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![(job.job_id.clone(), 1), (job.job_id.clone(), 1)],
        "same attempt redelivered"
    );
    assert!(
        counter(
            &recorder,
            "gh_exporter_actor_restarts",
            &[("actor", "backfill_consumer:0")]
        ) >= 1
    );
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_retried",
            &[("error_class", "panic")]
        ),
        0
    );
    root.shutdown(Duration::from_secs(5)).await;
}

/// A queue that refuses every publish while `down` is set (a broker outage).
struct FlakyQueue {
    inner: MemoryQueue,
    down: AtomicBool,
}

impl JobQueue for FlakyQueue {
    fn backend(&self) -> &'static str {
        "flaky"
    }
    fn retry_tiers(&self) -> usize {
        self.inner.retry_tiers()
    }
    fn publish(
        &self,
        job: &BackfillJob,
        target: Target,
    ) -> BoxFuture<'static, Result<(), QueueError>> {
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(futures::future::ready(Err(QueueError::Unavailable {
                backend: "flaky",
            })));
        }
        self.inner.publish(job, target)
    }
    fn consume(
        &self,
        consumer: &str,
        prefetch: u16,
    ) -> BoxFuture<'static, Result<DeliveryStream, QueueError>> {
        self.inner.consume(consumer, prefetch)
    }
    fn sample(&self) -> BoxFuture<'static, Result<Vec<QueueSample>, QueueError>> {
        self.inner.sample()
    }
}

fn request(repo: &str, reason: Reason, start: SystemTime, end: SystemTime) -> BackfillRequest {
    BackfillRequest {
        org: "acme".into(),
        repo: repo.into(),
        window_start: start,
        window_end: end,
        reason,
    }
}

fn settings(cap: u32) -> DispatcherSettings {
    let mut s =
        DispatcherSettings::new(Duration::from_secs(900), Duration::from_secs(3600), cap, 5);
    s.flush_interval = Duration::from_millis(20);
    s
}

async fn queued_jobs(queue: &MemoryQueue) -> u64 {
    queue.sample().await.unwrap()[0].ready
}

/// Identical requests are deduped; the same window with another reason is its own job; the
/// queued window contains the requested one (never shrunk).
#[actix_rt::test]
async fn dispatcher_dedups_on_reason_and_never_shrinks_the_window() {
    let queue = memory_queue(&[Duration::from_secs(60)]);
    let recorder = Arc::new(MemRecorder::new());
    let dispatcher =
        BackfillDispatcher::new(settings(100), Arc::new(queue.clone()), recorder.clone()).start();
    let end = SystemTime::now();
    let start = end - Duration::from_secs(86_400);
    for reason in [
        Reason::ActivityPullsFailed,
        Reason::ActivityPullsFailed,
        Reason::ActivityCommitsFailed,
    ] {
        dispatcher
            .send(request("api", reason, start, end))
            .await
            .unwrap();
    }
    wait_until("two jobs enqueued and one deduped", LIMIT, || {
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_enqueued",
            &[("org", "acme"), ("reason", "activity_pulls_failed")],
        ) == 1
            && counter(
                &recorder,
                "gh_exporter_backfill_jobs_enqueued",
                &[("org", "acme"), ("reason", "activity_commits_failed")],
            ) == 1
            && counter(
                &recorder,
                "gh_exporter_backfill_jobs_deduped",
                &[("org", "acme"), ("reason", "activity_pulls_failed")],
            ) == 1
    })
    .await;
    assert_eq!(queued_jobs(&queue).await, 2);
    // After the confirm the lock is held: a later identical request is deduped too.
    dispatcher
        .send(request("api", Reason::ActivityPullsFailed, start, end))
        .await
        .unwrap();
    wait_until("the late duplicate is deduped", LIMIT, || {
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_deduped",
            &[("org", "acme"), ("reason", "activity_pulls_failed")],
        ) == 2
    })
    .await;
    // The consumer side sees the widened window.
    let worker = ScriptedWorker::new(vec![], Step::Store);
    let root = start_pool(
        Arc::new(queue.clone()),
        worker.clone(),
        recorder.clone(),
        Duration::from_secs(3600),
    );
    wait_until("both stored", LIMIT, || worker.stored_count() == 2).await;
    for (window_start, window_end) in worker.stored.lock().unwrap().values() {
        assert!(
            *window_start <= start && *window_end >= end,
            "window shrunk"
        );
    }
    root.shutdown(Duration::from_secs(5)).await;
}

/// Over the per-org cap, requests are dropped and counted; other orgs are not affected.
#[actix_rt::test]
async fn dispatcher_caps_enqueues_per_org_per_minute() {
    let queue = memory_queue(&[Duration::from_secs(60)]);
    let recorder = Arc::new(MemRecorder::new());
    let dispatcher =
        BackfillDispatcher::new(settings(2), Arc::new(queue.clone()), recorder.clone()).start();
    let end = SystemTime::now();
    for repo in ["a", "b", "c"] {
        dispatcher
            .send(request(repo, Reason::ScrapeError, end, end))
            .await
            .unwrap();
    }
    let labels = [("org", "acme"), ("reason", "scrape_error")];
    wait_until("two enqueued, one dropped", LIMIT, || {
        counter(&recorder, "gh_exporter_backfill_jobs_enqueued", &labels) == 2
            && counter(&recorder, "gh_exporter_backfill_enqueues_dropped", &labels) == 1
    })
    .await;
    assert_eq!(queued_jobs(&queue).await, 2);
}

/// While the broker is away jobs are buffered (bounded: the oldest is dropped and counted) and
/// published when it returns; a job whose publish never confirmed took no dedup lock, so the
/// same window can be requested again.
#[actix_rt::test]
async fn dispatcher_buffers_during_outage_and_locks_only_after_confirm() {
    let memory = memory_queue(&[Duration::from_secs(60)]);
    let flaky = Arc::new(FlakyQueue {
        inner: memory.clone(),
        down: AtomicBool::new(true),
    });
    let recorder = Arc::new(MemRecorder::new());
    let mut s = settings(100);
    s.buffer_capacity = 1;
    let dispatcher = BackfillDispatcher::new(s, flaky.clone(), recorder.clone()).start();
    let end = SystemTime::now();
    let labels = [("org", "acme"), ("reason", "scrape_error")];
    dispatcher
        .send(request("first", Reason::ScrapeError, end, end))
        .await
        .unwrap();
    wait_until("the first job is buffered", LIMIT, || {
        gauge(&recorder, "gh_exporter_backfill_buffered_jobs", &[]) == 1.0
    })
    .await;
    dispatcher
        .send(request("second", Reason::ScrapeError, end, end))
        .await
        .unwrap();
    wait_until("the oldest buffered job is dropped", LIMIT, || {
        counter(&recorder, "gh_exporter_backfill_enqueues_dropped", &labels) == 1
    })
    .await;
    assert_eq!(
        counter(&recorder, "gh_exporter_backfill_jobs_enqueued", &labels),
        0
    );

    flaky.down.store(false, Ordering::SeqCst);
    wait_until("the buffer is flushed", LIMIT, || {
        counter(&recorder, "gh_exporter_backfill_jobs_enqueued", &labels) == 1
            && gauge(&recorder, "gh_exporter_backfill_buffered_jobs", &[]) == 0.0
    })
    .await;
    // "first" never confirmed, so no lock was taken: asking again enqueues it.
    dispatcher
        .send(request("first", Reason::ScrapeError, end, end))
        .await
        .unwrap();
    wait_until("the first job is enqueued on the second try", LIMIT, || {
        counter(&recorder, "gh_exporter_backfill_jobs_enqueued", &labels) == 2
    })
    .await;
    assert_eq!(
        counter(&recorder, "gh_exporter_backfill_jobs_deduped", &labels),
        0
    );
    assert_eq!(queued_jobs(&memory).await, 2);
}

/// Shutdown (SIGTERM) mid-job requeues the in-flight job instead of losing or acking it, and
/// the pool stops within its timeout although the handler would run for an hour.
#[actix_rt::test]
async fn shutdown_requeues_the_in_flight_job() {
    let queue = memory_queue(&[Duration::from_millis(20)]);
    let worker = ScriptedWorker::with_delay(vec![], Step::Store, Duration::from_secs(3600));
    let recorder = Arc::new(MemRecorder::new());
    let root = start_pool(
        Arc::new(queue.clone()),
        worker.clone(),
        recorder.clone(),
        Duration::from_secs(3600),
    );
    queue
        .publish(&job("api", 5, SystemTime::now()), Target::Work)
        .await
        .unwrap();
    wait_until("the job is in flight", LIMIT, || {
        !worker.calls.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(queued_jobs(&queue).await, 0);
    assert_eq!(
        root.shutdown(Duration::from_secs(5)).await,
        supervisor::SupervisorExit::Stopped
    );
    assert_eq!(queued_jobs(&queue).await, 1, "the job is back in the queue");
    assert_eq!(worker.stored_count(), 0);
}

/// `backfill.memory_queue_capacity` sizes the in-memory queue `run` builds: with 2, the third
/// publish is refused as full (the dispatcher then buffers it, counted, never silently).
#[actix_rt::test]
async fn memory_queue_capacity_comes_from_the_configuration() {
    let env: Vec<(String, String)> = [
        ("GITHUB_STATS_GITHUB__ORGS", "acme"),
        ("GITHUB_STATS_GITHUB__TOKEN", "t"),
        ("GITHUB_STATS_BACKFILL__MEMORY_QUEUE_CAPACITY", "2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = github_stats_exporter::config::load_from(None, env)
        .unwrap_or_else(|e| panic!("config: {:?}", e.problems));
    let (queue, rabbit) = github_stats_exporter::build_queue(&config);
    assert!(rabbit.is_none(), "no amqp.url: the memory queue");
    let now = SystemTime::now();
    for repo in ["a", "b"] {
        let published = queue.publish(&job(repo, 5, now), Target::Work).await;
        assert!(published.is_ok(), "{published:?}");
    }
    let third = queue.publish(&job("c", 5, now), Target::Work).await;
    assert!(
        matches!(third, Err(QueueError::Full { capacity: 2, .. })),
        "{third:?}"
    );
}
