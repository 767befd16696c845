//! Ports: the traits through which actors reach the outside world. Adapters live in the main
//! package (`src/store`, …); this crate only sees these traits, so every actor can be tested with
//! in-memory implementations.
//!
//! Ports return boxed `'static` futures so that an actor can spawn the call and get the result
//! back as a message without holding its mailbox.

use futures::future::BoxFuture;
use std::sync::Arc;

use crate::election::Grant;
use crate::exposition::Family;

/// One sample to store: a metric name, its label pairs sorted by name, and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// The result of one org cycle. It **replaces** every series previously written for `org`, so a
/// series whose events left the window disappears, and it becomes visible atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgBatch {
    pub org: String,
    /// The writer's lease grant. A store with leases (Redis) accepts the batch only while the
    /// grant's lease is live; `None` is an unfenced write (embedded store, tools, tests).
    pub grant: Option<Grant>,
    pub samples: Vec<Sample>,
    /// More series of the batch, shared with the writer instead of copied (a scraper keeps
    /// serving its cycle's series between cycles; the in-memory store keeps this same
    /// allocation). Part of the batch exactly like `samples`; usually empty elsewhere.
    pub shared: Arc<[Sample]>,
    /// Monotonic counters to **add** to the shared totals (names without `_total`), applied
    /// atomically with the batch — so `_total` series stay monotonic and identical on every
    /// replica, and a stale batch adds nothing. Each packet carries an idempotency id that the
    /// commit records, so a packet re-sent after a lost reply, or carried into a newer batch,
    /// is added exactly once.
    pub counter_deltas: Vec<CounterDeltas>,
}

impl OrgBatch {
    /// The fencing epoch of the batch (0 when unfenced).
    pub fn epoch(&self) -> u64 {
        self.grant.as_ref().map_or(0, |g| g.epoch)
    }

    /// Every series of the batch: `shared`, then `samples`.
    pub fn all_samples(&self) -> impl Iterator<Item = &Sample> {
        self.shared.iter().chain(self.samples.iter())
    }

    /// How many series the batch holds.
    pub fn series(&self) -> usize {
        self.shared.len() + self.samples.len()
    }
}

/// One packet of counter increments with its idempotency id (unique per packet, e.g. 128
/// random bits in hex).
#[derive(Debug, Clone, PartialEq)]
pub struct CounterDeltas {
    pub id: String,
    pub deltas: Vec<Sample>,
}

impl CounterDeltas {
    /// A packet with a fresh random id.
    pub fn new(deltas: Vec<Sample>) -> CounterDeltas {
        CounterDeltas {
            id: format!(
                "{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            ),
            deltas,
        }
    }
}

/// A consistent view of every stored series, grouped into sorted families.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSnapshot {
    /// Monotonic version; changes whenever stored data changes.
    pub version: u64,
    pub families: Vec<Family>,
}

/// Errors a [`MetricStore`] reports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or answered with an error.
    #[error("{operation} failed on the {backend} store")]
    Backend {
        backend: &'static str,
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The write carried an epoch older than the current one: a newer leader exists.
    #[error("write with epoch {attempted} rejected: current epoch is {current}")]
    StaleEpoch { attempted: u64, current: u64 },
    /// The write would create more series than `store.max_series_budget` allows. The batch
    /// **was** written without the rejected new series (which the store counts); not retried.
    #[error("series budget of {budget} exceeded: {rejected} new series rejected")]
    BudgetExceeded { budget: u64, rejected: u64 },
}

/// Where the shared series live: memory (embedded default) or Redis.
pub trait MetricStore: Send + Sync + 'static {
    /// Short backend name for logs and health (`memory`, `redis`).
    fn backend(&self) -> &'static str;

    /// The external dependency behind this store (`redis`), reported as its own health
    /// component (`gh_exporter_dependency_health{dependency}`); `None` for embedded stores.
    fn dependency(&self) -> Option<&'static str> {
        None
    }

    /// Atomically replaces the series of `batch.org`.
    fn write_org_batch(&self, batch: OrgBatch) -> BoxFuture<'static, Result<(), StoreError>>;

    /// Returns a snapshot when the stored version differs from `known_version`, else `None`.
    fn load_if_changed(
        &self,
        known_version: u64,
    ) -> BoxFuture<'static, Result<Option<StoreSnapshot>, StoreError>>;

    /// Cheap liveness check of the backend.
    fn ping(&self) -> BoxFuture<'static, Result<(), StoreError>>;
}
