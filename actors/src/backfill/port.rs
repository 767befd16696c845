//! The ports of the backfill subsystem. Adapters live in the main package (`src/queue/`), the
//! worker is wired by `run` (the scraper recomputing one window).
//!
//! - [`JobQueue`]: publish with confirmation to the work queue, a retry tier or the dead-letter
//!   queue; consume with manual acknowledgement; sample the depths.
//! - [`BackfillWorker`]: recompute one job's full window and store it. Must be idempotent:
//!   redelivery after a reconnect is normal.
//! - [`DedupLocks`]: the dedup lock table the dispatcher takes **after** a confirmed publish.
//!
//! Ports return boxed `'static` futures so actors can spawn calls without holding their mailbox.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::job::{BackfillJob, JobError};

/// Where a publish goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The work queue consumers read.
    Work,
    /// Retry tier `tier` (0-based index into `backfill.requeue_delays`); after its delay the job
    /// returns to the work queue.
    Retry { tier: usize },
    /// The dead-letter queue, with the last error recorded on the message.
    DeadLetter { last_error: String },
}

/// Errors of a [`JobQueue`].
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The broker is not connected right now (the adapter is reconnecting).
    #[error("the {backend} queue is not connected")]
    Unavailable { backend: &'static str },
    /// The broker answered a publish with a negative confirmation.
    #[error("the broker refused the message on {operation}")]
    Refused { operation: &'static str },
    /// The in-memory queue reached its capacity.
    #[error("the {backend} queue is full ({capacity} messages)")]
    Full {
        backend: &'static str,
        capacity: usize,
    },
    /// Any other backend failure, with its source.
    #[error("{operation} failed on the {backend} queue")]
    Backend {
        backend: &'static str,
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One queue's state when sampled.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSample {
    /// The queue's name (label value of `queue_depth{queue}`).
    pub queue: String,
    /// Messages ready for delivery.
    pub ready: u64,
    /// Age of the oldest ready message (from its publish timestamp), if any is ready and
    /// the backend can tell.
    pub oldest_ready_age: Option<Duration>,
}

/// A stream of deliveries for one consumer; it ends (or yields an error) when the connection is
/// lost, and the consumer then asks for a new one.
pub type DeliveryStream = BoxStream<'static, Result<Delivery, QueueError>>;

/// One delivered message, unacknowledged until its [`Acker`] says so.
pub struct Delivery {
    /// The decoded job, or why the body could not be decoded.
    pub job: Result<BackfillJob, String>,
    /// Whether the broker delivered this message before (after a reconnect or a requeue).
    pub redelivered: bool,
    /// Settles the delivery. Dropping it unsettled returns the message to the queue (the
    /// memory adapter requeues it; RabbitMQ does when the channel closes).
    pub acker: Box<dyn Acker>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("job", &self.job)
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

/// Settles one delivery.
pub trait Acker: Send + 'static {
    /// Acknowledges: the message is removed from the queue.
    fn ack(self: Box<Self>) -> BoxFuture<'static, Result<(), QueueError>>;
    /// Returns the message to the queue for another consumer (shutdown, failed republish).
    fn requeue(self: Box<Self>) -> BoxFuture<'static, Result<(), QueueError>>;
    /// For a body that cannot be decoded: publishes the raw body to the dead-letter queue with
    /// `last_error` (confirmed), then acknowledges.
    fn dead_letter_raw(
        self: Box<Self>,
        last_error: String,
    ) -> BoxFuture<'static, Result<(), QueueError>>;
}

/// The queue behind the dispatcher and the consumers.
pub trait JobQueue: Send + Sync + 'static {
    /// Short backend name (`memory`, `rabbitmq`).
    fn backend(&self) -> &'static str;
    /// Number of retry tiers (`backfill.requeue_delays` entries).
    fn retry_tiers(&self) -> usize;
    /// Publishes `job` to `target`; resolves only once the broker confirmed it (persistent).
    fn publish(
        &self,
        job: &BackfillJob,
        target: Target,
    ) -> BoxFuture<'static, Result<(), QueueError>>;
    /// Starts one consumer on the work queue with at most `prefetch` unacknowledged deliveries.
    /// Waits while the broker is away; fails only on a permanent error.
    fn consume(
        &self,
        consumer: &str,
        prefetch: u16,
    ) -> BoxFuture<'static, Result<DeliveryStream, QueueError>>;
    /// Samples every queue (work, retry tiers, dead letters) fresh.
    fn sample(&self) -> BoxFuture<'static, Result<Vec<QueueSample>, QueueError>>;
}

/// Recomputes the **full** window of one job and stores it. Idempotent: the same job processed
/// twice stores the same values.
pub trait BackfillWorker: Send + Sync + 'static {
    fn process(&self, job: &BackfillJob) -> BoxFuture<'static, Result<(), JobError>>;
}

/// Errors of a [`DedupLocks`] table.
#[derive(Debug, thiserror::Error)]
#[error("dedup lock {operation} failed on the {backend} table")]
pub struct DedupError {
    pub backend: &'static str,
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The dedup lock table: a key held means an identical job was published within `dedup_ttl`.
pub trait DedupLocks: Send + Sync + 'static {
    /// Whether `key` is held now.
    fn is_held(&self, key: &str) -> BoxFuture<'static, Result<bool, DedupError>>;
    /// Takes `key` for `ttl` (called only after the publish was confirmed).
    fn acquire(&self, key: &str, ttl: Duration) -> BoxFuture<'static, Result<(), DedupError>>;
}

/// Errors of a [`JobStash`].
#[derive(Debug, thiserror::Error)]
#[error("backfill job stash {operation} failed on the {backend} backend")]
pub struct StashError {
    pub backend: &'static str,
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Where the dispatcher keeps the jobs of its outage buffer (and the publishes still
/// unconfirmed) when it stops, so a new dispatcher — after a sibling's restart, or a new
/// process when the stash is Redis — publishes them instead of losing them.
pub trait JobStash: Send + Sync + 'static {
    /// Short backend name (`memory`, `redis`).
    fn backend(&self) -> &'static str;
    /// Adds `jobs` to the stash. The stash is bounded: beyond its capacity it drops its
    /// oldest jobs and resolves to them (the caller counts them lost); an error means none of
    /// `jobs` was saved.
    fn save(
        &self,
        jobs: Vec<BackfillJob>,
    ) -> BoxFuture<'static, Result<Vec<BackfillJob>, StashError>>;
    /// Removes and returns every stashed job (oldest first), atomically: two dispatchers
    /// never take the same job.
    fn take_all(&self) -> BoxFuture<'static, Result<Vec<BackfillJob>, StashError>>;
}
