//! Backfill against the real RabbitMQ at 127.0.0.1:5672 (guest/guest), unique exchange and
//! queue names per test (only those are deleted afterwards): topology, retry tiers to the DLQ
//! with the attempt and last error on the message, expiry, a connection cut through a proxy the
//! test controls, and a panicking handler.

mod backfill_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix::Actor as _;
use backfill_support::{cleanup, counter, gauge, unique, wait_until, ScriptedWorker, Shared, Step};
use github_stats_exporter::queue::names::QueueNames;
use github_stats_exporter::queue::rabbit::RabbitQueue;
use github_stats_exporter::queue::wire;
use gse_actors::backfill::consumer::ConsumerShared;
use gse_actors::backfill::{
    consumer_pool_spec, BackfillDispatcher, BackfillJob, BackfillRequest, ConsumerSettings,
    DispatcherSettings, JobQueue, Reason, Target,
};
use gse_actors::observe::{MemRecorder, MetricsObserver, Observer};
use gse_actors::supervisor::{self, Strategy, SupervisorHandle, SupervisorSpec};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;
use lapin::{Connection, ConnectionProperties};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};

use backfill_support::BROKER;
const LIMIT: Duration = Duration::from_secs(60);

use backfill_support::url;

fn names(test: &str, delays: &[Duration]) -> QueueNames {
    let base = unique(test);
    QueueNames::new(
        &format!("{base}.ex"),
        &format!("{base}.jobs"),
        &format!("{base}.dlq"),
        delays,
    )
}

/// Starts a root supervisor with the connection child and the consumer pool.
fn start_tree(
    rabbit: &RabbitQueue,
    worker: Arc<ScriptedWorker>,
    recorder: Arc<MemRecorder>,
    consumers: u32,
    max_message_age: Duration,
) -> SupervisorHandle {
    let observer: Arc<dyn Observer> = Arc::new(MetricsObserver::new(recorder.clone()));
    let shared = ConsumerShared::new(
        Arc::new(rabbit.clone()),
        Arc::new(Shared(worker)),
        observer.clone(),
        recorder,
        ConsumerSettings {
            consumer_count: consumers,
            prefetch: 2,
            max_message_age,
        },
    );
    supervisor::start(
        SupervisorSpec::new("root", Strategy::RestForOne)
            .observer(observer)
            .child(rabbit.connection_child(None))
            .child(consumer_pool_spec(shared)),
    )
}

fn job(repo: &str, max_attempts: u32, created: SystemTime) -> BackfillJob {
    let start = created - Duration::from_secs(86_400);
    BackfillJob::new(
        "acme",
        repo,
        (start, created),
        Reason::ActivityCommitsFailed,
        max_attempts,
        created,
    )
}

/// Reads (and acks) one message of `queue`, through a separate connection.
async fn take_one(queue: &str) -> Option<lapin::message::BasicGetMessage> {
    backfill_support::within("taking one message from RabbitMQ", async {
        let conn = Connection::connect(&url(BROKER), ConnectionProperties::default())
            .await
            .ok()?;
        let channel = conn.create_channel().await.ok()?;
        let got = channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .ok()??;
        got.delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .ok()?;
        let _ = conn.close(200, "OK".into()).await;
        Some(got)
    })
    .await
}

fn header<'a>(message: &'a lapin::message::BasicGetMessage, key: &str) -> Option<&'a AMQPValue> {
    message
        .delivery
        .properties
        .headers()
        .as_ref()?
        .inner()
        .get(key)
}

/// Retry tiers with short delays lead to the DLQ after max_attempts; the dead letter carries
/// attempt 3 in its body and headers, the last error in `last_error`, and the x-death trail of
/// both retry queues; everything is counted.
#[actix_rt::test]
async fn rabbit_retry_tiers_lead_to_dead_letter_with_attempt_and_last_error() {
    let names = names(
        "retry",
        &[Duration::from_millis(50), Duration::from_millis(100)],
    );
    let rabbit = RabbitQueue::new(url(BROKER).into(), names.clone());
    let worker = ScriptedWorker::new(vec![], Step::Fail("github_5xx"));
    let recorder = Arc::new(MemRecorder::new());
    let root = start_tree(
        &rabbit,
        worker.clone(),
        recorder.clone(),
        1,
        Duration::from_secs(3600),
    );
    backfill_support::wait_connected(&rabbit).await;
    backfill_support::within(
        "publishing to RabbitMQ",
        rabbit.publish(&job("api", 3, SystemTime::now()), Target::Work),
    )
    .await
    .unwrap();

    let labels = [("org", "acme"), ("reason", "activity_commits_failed")];
    wait_until("the job is dead-lettered", LIMIT, || {
        counter(&recorder, "gh_exporter_backfill_dead_lettered", &labels) == 1
    })
    .await;
    assert_eq!(worker.attempts_seen(), vec![1, 2, 3]);
    let dead = take_one(&names.dlq)
        .await
        .expect("a dead letter in the DLQ");
    let body = wire::decode(&dead.delivery.data).unwrap();
    assert_eq!(body.attempt, 3);
    assert_eq!(header(&dead, "attempt"), Some(&AMQPValue::LongLongInt(3)));
    match header(&dead, "last_error") {
        Some(AMQPValue::LongString(text)) => {
            let text = text.to_string();
            assert!(
                text.contains("attempt 3/3") && text.contains("github_5xx"),
                "{text}"
            );
        }
        other => panic!("last_error header missing: {other:?}"),
    }
    assert!(
        dead.delivery.properties.timestamp().is_some(),
        "publish timestamp set"
    );
    assert_eq!(
        *dead.delivery.properties.delivery_mode(),
        Some(2),
        "persistent"
    );
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_retried",
            &[("error_class", "github_5xx")]
        ),
        2
    );
    root.shutdown(Duration::from_secs(10)).await;
    cleanup(&names).await;
}

/// A job older than max_message_age goes to the DLQ unprocessed, with `expired…` as its last
/// error, and is counted.
#[actix_rt::test]
async fn rabbit_expired_job_is_dead_lettered_and_counted() {
    let names = names("expired", &[Duration::from_millis(50)]);
    let rabbit = RabbitQueue::new(url(BROKER).into(), names.clone());
    let worker = ScriptedWorker::new(vec![], Step::Store);
    let recorder = Arc::new(MemRecorder::new());
    let root = start_tree(
        &rabbit,
        worker.clone(),
        recorder.clone(),
        1,
        Duration::from_secs(3600),
    );
    backfill_support::wait_connected(&rabbit).await;
    backfill_support::within(
        "publishing to RabbitMQ",
        rabbit.publish(
            &job("api", 5, SystemTime::now() - Duration::from_secs(7200)),
            Target::Work,
        ),
    )
    .await
    .unwrap();
    let labels = [("org", "acme"), ("reason", "activity_commits_failed")];
    wait_until("the job is dead-lettered", LIMIT, || {
        counter(&recorder, "gh_exporter_backfill_dead_lettered", &labels) == 1
    })
    .await;
    let dead = take_one(&names.dlq).await.expect("a dead letter");
    match header(&dead, "last_error") {
        Some(AMQPValue::LongString(text)) => {
            assert!(text.to_string().starts_with("expired"), "{text}")
        }
        other => panic!("last_error header missing: {other:?}"),
    }
    assert!(worker.calls.lock().unwrap().is_empty());
    root.shutdown(Duration::from_secs(10)).await;
    cleanup(&names).await;
}

/// A handler panic does not lose the message: the consumer's channel closes, the broker
/// redelivers, the supervisor restarts the consumer, and the job is stored once.
#[actix_rt::test]
async fn rabbit_panicking_handler_is_redelivered_and_consumer_restarted() {
    let names = names("panic", &[Duration::from_millis(50)]);
    let rabbit = RabbitQueue::new(url(BROKER).into(), names.clone());
    let worker = ScriptedWorker::new(vec![Step::Panic], Step::Store);
    let recorder = Arc::new(MemRecorder::new());
    let root = start_tree(
        &rabbit,
        worker.clone(),
        recorder.clone(),
        1,
        Duration::from_secs(3600),
    );
    backfill_support::wait_connected(&rabbit).await;
    let job = job("api", 5, SystemTime::now());
    backfill_support::within("publishing to RabbitMQ", rabbit.publish(&job, Target::Work))
        .await
        .unwrap();

    wait_until("the redelivered job is stored", LIMIT, || {
        worker.stored_count() == 1
    })
    .await;
    assert_eq!(worker.attempts_seen(), vec![1, 1]);
    assert!(
        counter(
            &recorder,
            "gh_exporter_actor_restarts",
            &[("actor", "backfill_consumer:0")]
        ) >= 1
    );
    wait_until("the success is counted once", LIMIT, || {
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_processed",
            &[("org", "acme"), ("result", "success")],
        ) == 1
    })
    .await;
    root.shutdown(Duration::from_secs(10)).await;
    cleanup(&names).await;
}

/// A TCP proxy between the client and RabbitMQ that the test can cut and restore.
struct Proxy {
    addr: String,
    open: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let open = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (open2, conns2) = (open.clone(), conns.clone());
        actix_rt::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !open2.load(Ordering::SeqCst) {
                    drop(client); // refused while cut
                    continue;
                }
                let task = actix_rt::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(BROKER).await {
                        let _ = copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { addr, open, conns }
    }

    /// Drops every proxied connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// The AMQP connection is cut mid-stream and restored: every job (including those requested
/// during the outage, which the dispatcher buffers) is stored, none is counted twice, and the
/// consumers resume on the new connection.
#[actix_rt::test]
async fn rabbit_connection_cut_loses_no_job_and_counts_no_duplicate() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let names = names("cut", &[Duration::from_millis(100)]);
    let proxy = Proxy::start().await;
    let rabbit = RabbitQueue::new(url(&proxy.addr).into(), names.clone());
    let worker = ScriptedWorker::with_delay(vec![], Step::Store, Duration::from_millis(5));
    let recorder = Arc::new(MemRecorder::new());
    let root = start_tree(
        &rabbit,
        worker.clone(),
        recorder.clone(),
        2,
        Duration::from_secs(3600),
    );
    let mut settings = DispatcherSettings::new(
        Duration::from_secs(900),
        Duration::from_secs(3600),
        10_000,
        5,
    );
    settings.flush_interval = Duration::from_millis(100);
    let dispatcher =
        BackfillDispatcher::new(settings, Arc::new(rabbit.clone()), recorder.clone()).start();
    backfill_support::wait_connected(&rabbit).await;

    let now = SystemTime::now();
    let send = |repo: String| BackfillRequest {
        org: "acme".into(),
        repo,
        window_start: now - Duration::from_secs(86_400),
        window_end: now,
        reason: Reason::ScrapeError,
    };
    for i in 0..300 {
        dispatcher.send(send(format!("before-{i}"))).await.unwrap();
    }
    let success = [("org", "acme"), ("result", "success")];
    wait_until("processing is under way", LIMIT, || {
        counter(&recorder, "gh_exporter_backfill_jobs_processed", &success) >= 30
    })
    .await;
    proxy.cut();
    wait_until("the client notices the cut", LIMIT, || {
        !rabbit.is_connected()
    })
    .await;
    for i in 0..50 {
        dispatcher.send(send(format!("during-{i}"))).await.unwrap();
    }
    wait_until("outage jobs are buffered", LIMIT, || {
        gauge(&recorder, "gh_exporter_backfill_buffered_jobs", &[]) > 0.0
    })
    .await;
    proxy.restore();

    wait_until("every job is stored", LIMIT, || {
        worker.stored_count() == 350
    })
    .await;
    wait_until("every job is settled", LIMIT, || {
        counter(&recorder, "gh_exporter_backfill_jobs_processed", &success) >= 350
            && gauge(&recorder, "gh_exporter_backfill_buffered_jobs", &[]) == 0.0
    })
    .await;
    // Let any redelivery of a job whose ack was lost arrive, then check no success counted twice.
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !backfill_support::within("sampling RabbitMQ", rabbit.sample())
        .await
        .is_ok_and(|s| s[0].ready == 0)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the work queue never drained"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        counter(&recorder, "gh_exporter_backfill_jobs_processed", &success),
        350
    );
    assert_eq!(
        counter(
            &recorder,
            "gh_exporter_backfill_jobs_enqueued",
            &[("org", "acme"), ("reason", "scrape_error")]
        ),
        350
    );
    assert!(
        rabbit.generation() >= 2,
        "consumers resumed on a new connection"
    );
    root.shutdown(Duration::from_secs(10)).await;
    cleanup(&names).await;
}
