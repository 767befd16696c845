//! Backfill: windows that could not be scraped are turned into jobs, queued, and recomputed later
//! by whichever replica is free.
//!
//! - [`job`]: the domain types ([`BackfillJob`], [`Reason`], [`BackfillRequest`], [`JobError`]).
//! - [`window`]: coalescing a missed window onto bucket boundaries without ever shrinking it.
//! - [`port`]: the ports this subsystem talks through — [`JobQueue`] (memory or RabbitMQ
//!   adapters in the main package), [`BackfillWorker`] (recompute and store one job's window),
//!   [`DedupLocks`], [`JobStash`].
//! - [`dedup`]: [`MemoryDedup`], the bounded in-process dedup lock table.
//! - [`limiter`]: [`OrgMinuteCap`], the per-org per-minute enqueue cap with bounded memory.
//! - [`dispatcher`]: [`BackfillDispatcher`], the actor turning requests into confirmed publishes;
//!   what it could not publish when it stops goes to a [`JobStash`] and is published by the
//!   next dispatcher.
//! - [`stash`]: [`MemoryStash`], the in-process [`JobStash`] (Redis's is in the main package).
//! - [`catch_up`]: [`catch_up::CatchUpWorker`], the [`BackfillWorker`] that confirms a window was
//!   recovered from the scrape state, and nudges the org's scraper when it was not.
//! - [`route`]: [`route::JobRouter`], activity windows to the catch-up worker, Copilot report
//!   days to the Copilot worker (`crate::copilot::backfill`).
//! - [`consumer`]: the consumer loop (ack after stored, retry tiers, dead letters) and
//!   [`consumer_pool_spec`], the supervised pool every replica runs.
//! - [`metrics`]: the `gh_exporter_backfill_*` families recorded on `/metrics/replica`.
//!
//! Delivery is at least once: a job is acknowledged only after its window is stored, and a
//! failed attempt is republished (confirmed) before the original is acknowledged. Processing is
//! idempotent, so a redelivery after a reconnect does no harm.

pub mod catch_up;
pub mod consumer;
pub mod dedup;
pub mod dispatcher;
pub mod job;
pub mod limiter;
pub mod metrics;
pub mod port;
pub mod route;
pub mod stash;
pub mod window;

pub use consumer::{consumer_pool_spec, ConsumerSettings};
pub use dedup::MemoryDedup;
pub use dispatcher::{BackfillDispatcher, DispatcherSettings};
pub use job::{BackfillJob, BackfillRequest, CopilotDay, JobError, NotACopilotDay, Reason};
pub use limiter::OrgMinuteCap;
pub use port::{
    Acker, BackfillWorker, DedupLocks, Delivery, DeliveryStream, JobQueue, JobStash, QueueError,
    QueueSample, StashError, Target,
};
pub use stash::MemoryStash;
