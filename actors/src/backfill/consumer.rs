//! The consumer pool: `backfill.consumer_count` consumers on **every** replica, leader or not,
//! each with at most `backfill.prefetch` jobs in flight.
//!
//! One delivery is settled like this, and never dropped:
//! - undecodable body → raw body to the dead-letter queue with the decode error, then ack;
//! - already settled by this replica (a redelivery after a lost ack) → ack, counted `skipped`;
//! - older than `max_message_age` → dead-letter queue (`last_error` says why), then ack;
//! - the worker stored the window → ack;
//! - the worker failed → the job with `attempt + 1` is published (confirmed) to the next retry
//!   tier, then the original is acked; on its last attempt it goes to the dead-letter queue with
//!   the error instead;
//! - the worker cannot run it on this replica (a deferred error: another replica owns what it
//!   needs) → the job with the **same** attempt is published (confirmed) to the first retry
//!   tier, then the original is acked without being remembered as settled here, so it can
//!   come back to this replica; `max_message_age` bounds how long it travels;
//! - a republish that fails, or a shutdown mid-job → the original is requeued (nack);
//! - a panic in the worker → the consumer task dies unsettled, the message returns to the
//!   queue, and the pool's supervisor restarts the consumer.
//!
//! Each delivery runs in a `backfill.consume` span, a child of the publishing span whose
//! context the message carries (see [`crate::trace`]), with the outcome; anything but a stored
//! or skipped job is an error of the trace.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures::StreamExt as _;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::job::BackfillJob;
use super::metrics::{DEAD_LETTERED, IN_FLIGHT, LABEL_ORG, LABEL_REASON, LABEL_RESULT, PROCESSED};
use super::port::{Acker, BackfillWorker, Delivery, JobQueue, Target};
use crate::observe::{JobEvent, JobOutcome, Observer, Recorder};
use crate::store::error_chain;
use crate::supervisor::{ChildSpec, Intensity, Strategy, SupervisorSpec};

/// The pool's configuration (from `backfill.*`).
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    pub consumer_count: u32,
    pub prefetch: u16,
    pub max_message_age: Duration,
}

/// Everything one consumer needs; shared by the pool's consumers and their restarts.
#[derive(Clone)]
pub struct ConsumerShared {
    pub queue: Arc<dyn JobQueue>,
    pub worker: Arc<dyn BackfillWorker>,
    pub observer: Arc<dyn Observer>,
    pub recorder: Arc<dyn Recorder>,
    pub settings: ConsumerSettings,
    /// Wall clock for the age check; injectable for tests.
    pub now: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    settled: Arc<Mutex<Settled>>,
    /// Woken whenever an attempt stops being in progress.
    released: Arc<Notify>,
    in_flight: Arc<AtomicI64>,
}

impl ConsumerShared {
    pub fn new(
        queue: Arc<dyn JobQueue>,
        worker: Arc<dyn BackfillWorker>,
        observer: Arc<dyn Observer>,
        recorder: Arc<dyn Recorder>,
        settings: ConsumerSettings,
    ) -> ConsumerShared {
        ConsumerShared {
            queue,
            worker,
            observer,
            recorder,
            settings,
            now: Arc::new(SystemTime::now),
            settled: Arc::new(Mutex::new(Settled::new(4096))),
            released: Arc::new(Notify::new()),
            in_flight: Arc::new(AtomicI64::new(0)),
        }
    }
}

/// Attempts this replica settled recently (job id and attempt), so that a redelivery after a
/// lost ack is acknowledged without running the job again, and attempts running right now, so
/// that two copies of one attempt (a redelivery plus a republish whose confirm was lost) never
/// run at once. Bounded, oldest forgotten first.
struct Settled {
    capacity: usize,
    order: VecDeque<(String, u32)>,
    set: HashSet<(String, u32)>,
    running: HashSet<(String, u32)>,
}

/// What a consumer may do with an attempt it received.
enum Claim {
    /// Run it (it is now marked running).
    Run,
    /// This replica settled it already: ack without work.
    Done,
    /// Another consumer of this replica runs it now: wait, then claim again.
    Busy,
}

impl Settled {
    fn new(capacity: usize) -> Settled {
        Settled {
            capacity,
            order: VecDeque::new(),
            set: HashSet::new(),
            running: HashSet::new(),
        }
    }

    fn claim(&mut self, job: &BackfillJob) -> Claim {
        let key = (job.job_id.clone(), job.attempt);
        if self.set.contains(&key) {
            Claim::Done
        } else if self.running.insert(key) {
            Claim::Run
        } else {
            Claim::Busy
        }
    }

    fn insert(&mut self, job: &BackfillJob) {
        let key = (job.job_id.clone(), job.attempt);
        if self.set.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// The supervised pool: a one_for_one supervisor `backfill_consumers` with one task child
/// `backfill_consumer:<i>` per consumer. A consumer that panics is restarted alone.
pub fn consumer_pool_spec(shared: ConsumerShared) -> ChildSpec {
    ChildSpec::supervisor("backfill_consumers", move || {
        let mut spec =
            SupervisorSpec::new("backfill_consumers", Strategy::OneForOne).intensity(Intensity {
                max_restarts: 10,
                within: Duration::from_secs(60),
            });
        for index in 0..shared.settings.consumer_count.max(1) {
            let name = format!("backfill_consumer:{index}");
            let shared = shared.clone();
            let tag = name.clone();
            spec = spec.child(
                ChildSpec::task(name, move |stop| {
                    run_consumer(tag.clone(), shared.clone(), stop)
                })
                .shutdown_timeout(Duration::from_secs(10)),
            );
        }
        spec
    })
}

/// One consumer: (re)subscribes whenever its delivery stream ends (connection lost), handles up
/// to `prefetch` deliveries at once, and on stop requeues what it holds.
pub async fn run_consumer(
    tag: String,
    shared: ConsumerShared,
    stop: CancellationToken,
) -> Result<(), String> {
    let prefetch = shared.settings.prefetch.max(1);
    let mut backoff = Duration::from_millis(100);
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            stream = shared.queue.consume(&tag, prefetch) => stream,
        };
        match stream {
            Ok(stream) => {
                backoff = Duration::from_millis(100);
                stream
                    .take_until(stop.clone().cancelled_owned())
                    .for_each_concurrent(usize::from(prefetch), |item| {
                        let shared = shared.clone();
                        let stop = stop.clone();
                        let tag = tag.clone();
                        async move {
                            match item {
                                Ok(delivery) => {
                                    let span = consume_span(&delivery);
                                    handle_delivery(&shared, delivery, &stop)
                                        .instrument(span)
                                        .await
                                }
                                Err(error) => tracing::warn!(consumer = %tag,
                                    error = %error_chain(&error), "backfill delivery stream error"),
                            }
                        }
                    })
                    .await;
                if stop.is_cancelled() {
                    return Ok(());
                }
                tracing::info!(consumer = %tag, "backfill delivery stream ended; resubscribing");
            }
            Err(error) => {
                tracing::warn!(consumer = %tag, error = %error_chain(&error),
                    "backfill consumer could not subscribe; retrying");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The `backfill.consume` span of one delivery: a child of the publishing span whose context
/// the message carries (so it belongs to the trace of the cycle that enqueued the job), or a
/// root when the message has none.
fn consume_span(delivery: &Delivery) -> tracing::Span {
    let job = delivery.job.as_ref().ok();
    let span = tracing::info_span!(parent: None, "backfill.consume",
        org = job.map_or("unknown", |j| j.org.as_str()),
        repo = job.map_or("", |j| j.repo.as_str()),
        reason = job.map_or("", |j| j.reason.as_str()),
        attempt = job.map_or(0, |j| i64::from(j.attempt)),
        redelivered = delivery.redelivered,
        outcome = tracing::field::Empty,
        otel.status_code = tracing::field::Empty);
    crate::trace::set_parent(&span, job.and_then(|j| j.trace_parent.as_deref()));
    span
}

/// Records a delivery's outcome on the current (`backfill.consume`) span; anything but a
/// stored or skipped job is an error of the trace.
fn record_outcome(outcome: &str) {
    let span = tracing::Span::current();
    span.record("outcome", outcome);
    if !matches!(outcome, "success" | "skipped") {
        span.record("otel.status_code", "ERROR");
    }
}

/// Counts one delivery in flight for as long as it lives (also across a panic).
struct InFlight<'a>(&'a ConsumerShared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a ConsumerShared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.recorder.gauge(&IN_FLIGHT, &[], now as f64);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let now = self.0.in_flight.fetch_sub(1, Ordering::SeqCst) - 1;
        self.0.recorder.gauge(&IN_FLIGHT, &[], now as f64);
    }
}

/// Marks an attempt as running for as long as it lives (also across a panic).
struct Running<'a> {
    shared: &'a ConsumerShared,
    job: &'a BackfillJob,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.shared
            .settled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .running
            .remove(&(self.job.job_id.clone(), self.job.attempt));
        self.shared.released.notify_waiters();
    }
}

/// Settles one delivery (see the module doc).
pub async fn handle_delivery(
    shared: &ConsumerShared,
    delivery: Delivery,
    stop: &CancellationToken,
) {
    let _in_flight = InFlight::enter(shared);
    shared
        .observer
        .on_backfill_job(&JobEvent::Claimed { batch: 1 });
    let Delivery { job, acker, .. } = delivery;
    let job = match job {
        Ok(job) => job,
        Err(decode_error) => {
            let last_error = format!("undecodable message: {decode_error}");
            match acker.dead_letter_raw(last_error).await {
                Ok(()) => {
                    record_outcome("dead_letter");
                    count_processed(shared, "unknown", "dead_letter");
                    shared.recorder.count(
                        &DEAD_LETTERED,
                        &[(LABEL_ORG, "unknown"), (LABEL_REASON, "undecodable")],
                        1,
                    );
                    tracing::error!(error = %decode_error, "undecodable backfill message dead-lettered");
                }
                Err(error) => tracing::error!(error = %error_chain(&error),
                    "dead-lettering an undecodable backfill message failed; it stays queued"),
            }
            return;
        }
    };
    let started = Instant::now();
    shared.observer.on_backfill_job(&JobEvent::Started {
        org: &job.org,
        job_id: &job.job_id,
    });
    let finish = |outcome: JobOutcome| {
        shared.observer.on_backfill_job(&JobEvent::Finished {
            org: &job.org,
            job_id: &job.job_id,
            outcome,
            duration: started.elapsed(),
        });
    };

    let _running = loop {
        let released = shared.released.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        let claim = shared
            .settled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .claim(&job);
        match claim {
            Claim::Run => break Running { shared, job: &job },
            Claim::Done => {
                settle_ack(shared, &job, acker).await;
                count_processed(shared, &job.org, "skipped");
                finish(JobOutcome::Skipped);
                return;
            }
            Claim::Busy => {
                tokio::select! {
                    () = released => {}
                    () = stop.cancelled() => {
                        if let Err(error) = acker.requeue().await {
                            tracing::warn!(job_id = %job.job_id, error = %error_chain(&error),
                                "requeue on shutdown failed");
                        }
                        finish(JobOutcome::Skipped);
                        return;
                    }
                }
            }
        }
    };

    let age = job.age((shared.now)());
    if age > shared.settings.max_message_age {
        let last_error = format!(
            "expired: age {}s exceeds backfill.max_message_age {}s (attempt {})",
            age.as_secs(),
            shared.settings.max_message_age.as_secs(),
            job.attempt
        );
        let outcome = dead_letter(shared, &job, acker, last_error).await;
        finish(outcome);
        return;
    }

    let result = tokio::select! {
        result = shared.worker.process(&job) => result,
        () = stop.cancelled() => {
            // Shutdown mid-job: give the job back for another replica.
            if let Err(error) = acker.requeue().await {
                tracing::warn!(job_id = %job.job_id, error = %error_chain(&error),
                    "requeue on shutdown failed; the broker redelivers it when the channel closes");
            }
            finish(JobOutcome::Skipped);
            return;
        }
    };
    match result {
        Ok(()) => {
            record_outcome("success");
            settle_ack(shared, &job, acker).await;
            count_processed(shared, &job.org, "success");
            finish(JobOutcome::Success);
        }
        Err(error) if error.deferred => {
            let target = if shared.queue.retry_tiers() == 0 {
                Target::Work
            } else {
                Target::Retry { tier: 0 }
            };
            match shared.queue.publish(&job, target).await {
                Ok(()) => {
                    if let Err(ack_error) = acker.ack().await {
                        tracing::warn!(job_id = %job.job_id, error = %error_chain(&ack_error),
                            "ack of a passed-on job failed; the broker redelivers it");
                    }
                    shared.observer.on_backfill_job(&JobEvent::Retried {
                        org: &job.org,
                        job_id: &job.job_id,
                        error_class: error.class,
                        attempt: job.attempt,
                    });
                    count_processed(shared, &job.org, "retry");
                    tracing::info!(job_id = %job.job_id, attempt = job.attempt, error = %error,
                        "backfill job passed on to another replica; attempt not used");
                }
                Err(publish_error) => {
                    tracing::warn!(job_id = %job.job_id, error = %error_chain(&publish_error),
                        "passing the job on failed; requeueing the original");
                    if let Err(requeue_error) = acker.requeue().await {
                        tracing::warn!(job_id = %job.job_id, error = %error_chain(&requeue_error),
                            "requeue failed; the broker redelivers it when the channel closes");
                    }
                }
            }
            finish(JobOutcome::Retry);
        }
        Err(error) if job.is_last_attempt() => {
            record_outcome("dead_letter");
            let last_error = format!("attempt {}/{}: {error}", job.attempt, job.max_attempts);
            let outcome = dead_letter(shared, &job, acker, last_error).await;
            finish(outcome);
        }
        Err(error) => {
            record_outcome("retry");
            let tiers = shared.queue.retry_tiers();
            let next = job.next_attempt();
            let target = if tiers == 0 {
                Target::Work
            } else {
                let tier = usize::try_from(job.attempt.saturating_sub(1)).unwrap_or(usize::MAX);
                Target::Retry {
                    tier: tier.min(tiers - 1),
                }
            };
            match shared.queue.publish(&next, target).await {
                Ok(()) => {
                    settle_ack(shared, &job, acker).await;
                    shared.observer.on_backfill_job(&JobEvent::Retried {
                        org: &job.org,
                        job_id: &job.job_id,
                        error_class: error.class,
                        attempt: next.attempt,
                    });
                    count_processed(shared, &job.org, "retry");
                    tracing::info!(job_id = %job.job_id, attempt = job.attempt, error = %error,
                        "backfill attempt failed; scheduled for retry");
                    finish(JobOutcome::Retry);
                }
                Err(publish_error) => {
                    tracing::warn!(job_id = %job.job_id, error = %error_chain(&publish_error),
                        "publishing the retry failed; requeueing the original");
                    if let Err(requeue_error) = acker.requeue().await {
                        tracing::warn!(job_id = %job.job_id, error = %error_chain(&requeue_error),
                            "requeue failed; the broker redelivers it when the channel closes");
                    }
                    finish(JobOutcome::Retry);
                }
            }
        }
    }
}

/// Publishes `job` to the dead-letter queue with `last_error`, then acks the original. A failed
/// publish requeues the original instead: a dead letter is never dropped.
async fn dead_letter(
    shared: &ConsumerShared,
    job: &BackfillJob,
    acker: Box<dyn Acker>,
    last_error: String,
) -> JobOutcome {
    let target = Target::DeadLetter {
        last_error: last_error.clone(),
    };
    match shared.queue.publish(job, target).await {
        Ok(()) => {
            settle_ack(shared, job, acker).await;
            shared.recorder.count(
                &DEAD_LETTERED,
                &[(LABEL_ORG, &job.org), (LABEL_REASON, job.reason.as_str())],
                1,
            );
            count_processed(shared, &job.org, "dead_letter");
            tracing::error!(job_id = %job.job_id, org = %job.org, repo = %job.repo,
                last_error = %last_error, "backfill job dead-lettered");
            JobOutcome::DeadLetter
        }
        Err(error) => {
            tracing::warn!(job_id = %job.job_id, error = %error_chain(&error),
                "publishing to the dead-letter queue failed; requeueing the original");
            if let Err(requeue_error) = acker.requeue().await {
                tracing::warn!(error = %error_chain(&requeue_error), "requeue failed");
            }
            JobOutcome::Retry
        }
    }
}

/// Acks and remembers the attempt as settled: if the ack is lost (connection cut), the
/// redelivery is recognised and acknowledged without running the job again.
async fn settle_ack(shared: &ConsumerShared, job: &BackfillJob, acker: Box<dyn Acker>) {
    shared
        .settled
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(job);
    if let Err(error) = acker.ack().await {
        tracing::warn!(job_id = %job.job_id, error = %error_chain(&error),
            "ack failed; the broker will redeliver and this replica will skip it");
    }
}

fn count_processed(shared: &ConsumerShared, org: &str, result: &str) {
    shared
        .recorder
        .count(&PROCESSED, &[(LABEL_ORG, org), (LABEL_RESULT, result)], 1);
}
