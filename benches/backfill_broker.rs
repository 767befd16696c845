//! Backfill throughput and latency through the real RabbitMQ at 127.0.0.1:5672 (unique queue
//! names, deleted afterwards). Run: `cargo bench --bench backfill_broker`.
//!
//! Reports:
//! 1. publish with confirms kept in flight (up to 512 outstanding) — jobs/s;
//! 2. consume → no-op handler → ack through the consumer pool, with the default prefetch (2)
//!    and with prefetch 100 — jobs/s;
//! 3. publish and consume at once (the steady-state pipeline) — jobs/s;
//! 4. end-to-end latency of one backfill: `BackfillRequest` to the dispatcher → confirmed
//!    publish → delivery → handler ran (the ack follows), on an idle queue — median and p95.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::Actor as _;
use futures::future::BoxFuture;
use futures::StreamExt as _;
use github_stats_exporter::queue::names::QueueNames;
use github_stats_exporter::queue::rabbit::RabbitQueue;
use gse_actors::backfill::consumer::ConsumerShared;
use gse_actors::backfill::{
    consumer_pool_spec, BackfillDispatcher, BackfillJob, BackfillRequest, BackfillWorker,
    ConsumerSettings, DispatcherSettings, JobError, JobQueue, Reason, Target,
};
use gse_actors::observe::{MemRecorder, MetricsObserver, Observer};
use gse_actors::supervisor::{self, Strategy, SupervisorSpec};
use tokio::sync::Notify;

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const JOBS: u64 = 20_000;
const IN_FLIGHT: usize = 512;

/// Counts handled jobs and wakes the bench when a target is reached.
struct NoOp {
    done: AtomicU64,
    notify: Notify,
}

/// The no-op handler as a worker.
struct NoOpWorker(Arc<NoOp>);

impl BackfillWorker for NoOpWorker {
    fn process(&self, _job: &BackfillJob) -> BoxFuture<'static, Result<(), JobError>> {
        self.0.done.fetch_add(1, Ordering::SeqCst);
        self.0.notify.notify_waiters();
        Box::pin(futures::future::ready(Ok(())))
    }
}

impl NoOp {
    async fn wait_for(&self, target: u64) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.done.load(Ordering::SeqCst) >= target {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }
}

fn jobs(n: u64, tag: &str) -> Vec<BackfillJob> {
    let now = SystemTime::now();
    (0..n)
        .map(|i| {
            BackfillJob::new(
                "bench",
                &format!("{tag}-{i}"),
                (now - Duration::from_secs(900), now),
                Reason::ScrapeError,
                5,
                now,
            )
        })
        .collect()
}

async fn publish_all(queue: &RabbitQueue, jobs: &[BackfillJob]) -> Duration {
    let start = Instant::now();
    let results: Vec<_> =
        futures::stream::iter(jobs.iter().map(|j| queue.publish(j, Target::Work)))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
    let elapsed = start.elapsed();
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "every publish confirmed");
    elapsed
}

fn start_pool(
    queue: &RabbitQueue,
    worker: Arc<NoOp>,
    prefetch: u16,
) -> supervisor::SupervisorHandle {
    let recorder = Arc::new(MemRecorder::new());
    let observer: Arc<dyn Observer> = Arc::new(MetricsObserver::new(recorder.clone()));
    let shared = ConsumerShared::new(
        Arc::new(queue.clone()),
        Arc::new(NoOpWorker(worker)),
        observer.clone(),
        recorder,
        ConsumerSettings {
            consumer_count: 2,
            prefetch,
            max_message_age: Duration::from_secs(3600),
        },
    );
    supervisor::start(
        SupervisorSpec::new("bench", Strategy::OneForOne)
            .observer(observer)
            .child(consumer_pool_spec(shared)),
    )
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn bench() {
    let base = format!(
        "gse-bench.{}.{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let names = QueueNames::new(
        &format!("{base}.ex"),
        &format!("{base}.jobs"),
        &format!("{base}.dlq"),
        &[Duration::from_secs(60)],
    );
    let queue = RabbitQueue::new(URL.to_string().into(), names.clone());
    let conn = supervisor::start(
        SupervisorSpec::new("conn", Strategy::OneForOne).child(queue.connection_child(None)),
    );
    queue.wait_connected().await;

    // 1. Publish with confirms in flight.
    let batch = jobs(JOBS, "p");
    let took = publish_all(&queue, &batch).await;
    println!(
        "publish (confirms, {IN_FLIGHT} in flight): {JOBS} jobs in {took:.2?} = {:.0} jobs/s",
        rate(JOBS, took)
    );

    // 2. Consume → no-op → ack, default prefetch, then prefetch 100.
    for (prefetch, label) in [(2u16, "default prefetch 2"), (100, "prefetch 100")] {
        if prefetch != 2 {
            publish_all(&queue, &jobs(JOBS, "c")).await;
        }
        let worker = Arc::new(NoOp {
            done: AtomicU64::new(0),
            notify: Notify::new(),
        });
        let start = Instant::now();
        let pool = start_pool(&queue, worker.clone(), prefetch);
        worker.wait_for(JOBS).await;
        let took = start.elapsed();
        println!(
            "consume+ack, 2 consumers, {label}: {JOBS} jobs in {took:.2?} = {:.0} jobs/s",
            rate(JOBS, took)
        );
        pool.shutdown(Duration::from_secs(10)).await;
    }

    // 3. Pipeline: publish and consume concurrently.
    let worker = Arc::new(NoOp {
        done: AtomicU64::new(0),
        notify: Notify::new(),
    });
    let pool = start_pool(&queue, worker.clone(), 100);
    let batch = jobs(JOBS, "x");
    let start = Instant::now();
    let (_, ()) = futures::join!(publish_all(&queue, &batch), worker.wait_for(JOBS));
    let took = start.elapsed();
    println!(
        "pipeline publish→consume→ack (prefetch 100): {JOBS} jobs in {took:.2?} = {:.0} jobs/s",
        rate(JOBS, took)
    );
    pool.shutdown(Duration::from_secs(10)).await;

    // 4. Latency of one backfill through the dispatcher, on an idle queue (default prefetch).
    let worker = Arc::new(NoOp {
        done: AtomicU64::new(0),
        notify: Notify::new(),
    });
    let pool = start_pool(&queue, worker.clone(), 2);
    let recorder = Arc::new(MemRecorder::new());
    let settings = DispatcherSettings::new(
        Duration::from_secs(900),
        Duration::from_secs(3600),
        100_000,
        5,
    );
    let dispatcher = BackfillDispatcher::new(settings, Arc::new(queue.clone()), recorder).start();
    let mut samples = Vec::new();
    for i in 0..200u64 {
        let now = SystemTime::now();
        let start = Instant::now();
        dispatcher
            .send(BackfillRequest {
                org: "bench".into(),
                repo: format!("lat-{i}"),
                window_start: now - Duration::from_secs(86_400),
                window_end: now,
                reason: Reason::ScrapeError,
            })
            .await
            .expect("dispatcher alive");
        worker.wait_for(i + 1).await;
        samples.push(start.elapsed());
    }
    samples.sort();
    println!(
        "one backfill end to end (request→dispatcher→confirmed publish→delivery→handler ran): median {:.2?}, p95 {:.2?}, max {:.2?} over {} runs",
        samples[samples.len() / 2],
        samples[samples.len() * 95 / 100],
        samples[samples.len() - 1],
        samples.len()
    );
    pool.shutdown(Duration::from_secs(10)).await;
    conn.shutdown(Duration::from_secs(10)).await;
    cleanup(&names).await;
}

async fn cleanup(names: &QueueNames) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok(conn) = lapin::Connection::connect(URL, lapin::ConnectionProperties::default()).await
    else {
        return;
    };
    let Ok(channel) = conn.create_channel().await else {
        return;
    };
    let mut queues = vec![names.work.clone(), names.dlq.clone()];
    queues.extend(names.retry.iter().map(|(n, _)| n.clone()));
    for q in queues {
        let _ = channel
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = channel
        .exchange_delete(
            names.exchange.as_str().into(),
            ExchangeDeleteOptions::default(),
        )
        .await;
}

fn main() {
    // Only `cargo bench` (which passes `--bench`) runs it: `cargo test --all-targets` and
    // nextest's `--list` must not run a benchmark, and expect no output from it.
    if !std::env::args().any(|arg| arg == "--bench") || std::env::args().any(|arg| arg == "--list")
    {
        return;
    }
    actix_rt::System::new().block_on(bench());
}
