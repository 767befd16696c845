//! Shared pieces of the backfill tests: a worker scripted at the port boundary that records
//! what it stored, polling with a generous deadline, metric lookups, unique queue names.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use gse_actors::backfill::{BackfillJob, BackfillWorker, JobError};
use gse_actors::observe::MemRecorder;

/// What the scripted worker does on one call.
#[derive(Debug, Clone)]
pub enum Step {
    /// Store the job's window and succeed.
    Store,
    /// Fail with this error class.
    Fail(&'static str),
    /// Pass the job on (a deferred error of this class: another replica can run it).
    Defer(&'static str),
    /// Panic inside the handler.
    Panic,
}

/// A worker whose behaviour per call is scripted, falling back to `default`. Success "stores"
/// the job's window keyed by its dedup key (idempotent, like the real store write).
pub struct ScriptedWorker {
    script: Mutex<VecDeque<Step>>,
    default: Step,
    delay: Duration,
    /// Every call: (job id, attempt).
    pub calls: Mutex<Vec<(String, u32)>>,
    /// Dedup key → (window start, window end) of every stored job.
    pub stored: Mutex<HashMap<String, (SystemTime, SystemTime)>>,
}

impl ScriptedWorker {
    pub fn new(script: Vec<Step>, default: Step) -> Arc<ScriptedWorker> {
        Self::with_delay(script, default, Duration::ZERO)
    }

    pub fn with_delay(script: Vec<Step>, default: Step, delay: Duration) -> Arc<ScriptedWorker> {
        Arc::new(ScriptedWorker {
            script: Mutex::new(script.into()),
            default,
            delay,
            calls: Mutex::new(Vec::new()),
            stored: Mutex::new(HashMap::new()),
        })
    }

    pub fn attempts_seen(&self) -> Vec<u32> {
        self.calls.lock().unwrap().iter().map(|(_, a)| *a).collect()
    }

    pub fn stored_count(&self) -> usize {
        self.stored.lock().unwrap().len()
    }
}

/// A handle that lets the worker be shared as `Arc<dyn BackfillWorker>` while the test keeps
/// the concrete type.
pub struct Shared(pub Arc<ScriptedWorker>);

impl BackfillWorker for Shared {
    fn process(&self, job: &BackfillJob) -> BoxFuture<'static, Result<(), JobError>> {
        let worker = self.0.clone();
        let job = job.clone();
        Box::pin(async move {
            worker
                .calls
                .lock()
                .unwrap()
                .push((job.job_id.clone(), job.attempt));
            let step = worker
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| worker.default.clone());
            if !worker.delay.is_zero() {
                tokio::time::sleep(worker.delay).await;
            }
            match step {
                Step::Store => {
                    worker
                        .stored
                        .lock()
                        .unwrap()
                        .insert(job.dedup_key.clone(), (job.window_start, job.window_end));
                    Ok(())
                }
                Step::Fail(class) => Err(JobError::new(class, format!("scripted {class} failure"))),
                Step::Defer(class) => Err(JobError::deferred(class, "scripted deferral")),
                Step::Panic => panic!("scripted worker panic for {}", job.job_id),
            }
        })
    }
}

/// Polls `check` every 20 ms until it holds or `limit` passes; panics naming `what` then.
pub async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The counter `name{labels}`, 0 when absent.
pub fn counter(recorder: &MemRecorder, name: &str, labels: &[(&'static str, &str)]) -> u64 {
    recorder.snapshot().counter(name, labels).unwrap_or(0)
}

/// The gauge `name{labels}`, 0 when absent.
pub fn gauge(recorder: &MemRecorder, name: &str, labels: &[(&'static str, &str)]) -> f64 {
    recorder.snapshot().gauge(name, labels).unwrap_or(0.0)
}

/// A name no other test (or run) uses.
pub fn unique(prefix: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "gse-test.{prefix}.{}.{nanos}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// The local RabbitMQ.
pub const BROKER: &str = "127.0.0.1:5672";

/// How long any single wait on RabbitMQ may take in a test.
pub const RABBIT_DEADLINE: Duration = Duration::from_secs(30);

/// Awaits `fut` within [`RABBIT_DEADLINE`], failing the test with `what` instead of hanging
/// when RabbitMQ is down or unreachable.
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(RABBIT_DEADLINE, fut)
        .await
        .unwrap_or_else(|_| {
            panic!("{what}: no answer within {RABBIT_DEADLINE:?} (is RabbitMQ at {BROKER} up?)")
        })
}

/// Waits until `rabbit` is connected, within [`RABBIT_DEADLINE`].
pub async fn wait_connected(rabbit: &github_stats_exporter::queue::rabbit::RabbitQueue) {
    within("connecting to RabbitMQ", rabbit.wait_connected()).await;
}

/// The AMQP URL of a broker at `addr`.
pub fn url(addr: &str) -> String {
    format!("amqp://guest:guest@{addr}/%2f")
}

/// Deletes this test's own exchange and queues (never anyone else's).
pub async fn cleanup(names: &github_stats_exporter::queue::names::QueueNames) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let broker = url(BROKER);
    let connect = lapin::Connection::connect(&broker, lapin::ConnectionProperties::default());
    let Ok(Ok(conn)) = tokio::time::timeout(RABBIT_DEADLINE, connect).await else {
        eprintln!("cleanup: RabbitMQ at {BROKER} did not answer; {names:?} left behind");
        return;
    };
    let Ok(Ok(channel)) = tokio::time::timeout(RABBIT_DEADLINE, conn.create_channel()).await else {
        return;
    };
    let mut queues = vec![names.work.clone(), names.dlq.clone()];
    queues.extend(names.retry.iter().map(|(n, _)| n.clone()));
    for queue in queues {
        let delete = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default());
        let _ = tokio::time::timeout(RABBIT_DEADLINE, delete).await;
    }
    let delete = channel.exchange_delete(
        names.exchange.as_str().into(),
        ExchangeDeleteOptions::default(),
    );
    let _ = tokio::time::timeout(RABBIT_DEADLINE, delete).await;
    let _ = tokio::time::timeout(RABBIT_DEADLINE, conn.close(200, "OK".into())).await;
}

/// [`cleanup`] from a synchronous test.
pub fn cleanup_blocking(names: &github_stats_exporter::queue::names::QueueNames) {
    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        runtime.block_on(cleanup(names));
    }
}
