//! The Redis [`MetricStore`]: the shared store every replica serves `/metrics` from.
//!
//! Layout (all keys under `<namespace>:`, see [`keys`]): each org cycle is written as a new
//! **generation** of immutable chunk values, then one Lua script (`scripts/commit.lua`) checks
//! the writer's fencing, the series budget, and flips the org's pointer to the new generation.
//! So:
//! - a batch costs three round trips whatever its size (read pointer + total, one pipeline of
//!   chunk `SET`s, the commit script), never one per series;
//! - fencing happens inside the script, atomically with the flip: a batch whose
//!   [`Grant`](gse_actors::election::Grant) is leased lands only while the lease key still holds the
//!   grant's value (so a paused or cut-off ex-holder never lands a write, even before its
//!   successor wrote), and any batch is rejected when its epoch is older than the epoch stored in
//!   the org's pointer (per org: holders of different orgs' leases never fence each other). A
//!   rejection changes nothing but `gh_exporter_store_write_total{result="stale_epoch"}` and
//!   surfaces as [`StoreError::StaleEpoch`];
//! - readers see an org's old generation or its new one, never a mix (superseded chunks stay
//!   readable for a grace period), and the org's timestamp series travel in the same batch;
//! - the budget check is O(1): a stored total, adjusted by each flip;
//! - retention: each org has a deadline in a zset; `scripts/read_state.lua` expires orgs past
//!   it (O(expired)) and chunk keys carry a TTL as a backstop;
//! - readers refresh incrementally: a version number says whether anything changed, and only
//!   orgs whose pointer moved are fetched and decoded ([`reader`]);
//! - shared `_total` counters live in a hash, incremented by the scripts, so every replica
//!   serves the same monotonic values. A batch's counter packets are applied **exactly once**:
//!   the commit records each packet id (zset `counter-packets`, id → commit time) atomically
//!   with the increments and skips ids already there, so a packet re-sent after a lost reply,
//!   or carried into a newer batch, is not added twice. Ids are kept for
//!   [`RedisSettings::counter_packet_window`] (24 h): a re-send later than that would count
//!   twice, and the zset never holds more than that window's packets;
//! - scraper state ([`ScrapeStateStore`](gse_actors::scrape::port::ScrapeStateStore), `state.rs`)
//!   is fenced the same way by `scripts/put_state.lua`.
//!
//! An **incarnation** token detects a Redis that lost its data (restart without persistence):
//! the writer re-commits the generations it last wrote, each with the grant it was committed
//! with, so only those whose lease is still live land (never an ex-holder's), without their
//! counter packets; readers keep their last snapshot (reporting the store down) instead of
//! publishing an empty one.
//!
//! Every call has an explicit deadline (`command_timeout` / `bulk_timeout`).

pub mod keys;
mod reader;
mod state;
pub mod wire;
mod writer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use gse_actors::ports::{MetricStore, OrgBatch, StoreError, StoreSnapshot};
use redis::aio::ConnectionManager;
use redis::{RedisError, Script};

pub use crate::redis::{RedisSettings, RedisTopology, SentinelAuth};

use crate::redis::connection::Connector;
use keys::Keys;

const BACKEND: &str = "redis";

/// The Redis metric store. Cheap to clone; clones share connection and caches.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RedisSettings,
    keys: Keys,
    connector: Connector,
    commit: Script,
    read_state: Script,
    put_state: Script,
    writer: tokio::sync::Mutex<writer::WriterState>,
    reader: tokio::sync::Mutex<reader::ReaderState>,
}

/// Why the adapter could not be built (only a malformed URL or Sentinel list).
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis connection settings")]
pub struct RedisSetupError(#[source] RedisError);

impl RedisStore {
    /// Prepares the store without connecting: a Redis that is down at start makes calls fail
    /// (and the replica not ready) until it comes up. Must be called inside a tokio runtime
    /// (the connection manager spawns its task).
    pub fn new(settings: RedisSettings) -> Result<RedisStore, RedisSetupError> {
        let connector = Connector::new(&settings).map_err(RedisSetupError)?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                keys: Keys::new(&settings.namespace),
                settings,
                connector,
                commit: Script::new(include_str!("scripts/commit.lua")),
                read_state: Script::new(include_str!("scripts/read_state.lua")),
                put_state: Script::new(include_str!("scripts/put_state.lua")),
                writer: tokio::sync::Mutex::new(writer::WriterState::default()),
                reader: tokio::sync::Mutex::new(reader::ReaderState::default()),
            }),
        })
    }

    /// The settings this store runs with.
    pub fn settings(&self) -> &RedisSettings {
        &self.inner.settings
    }
}

impl MetricStore for RedisStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn dependency(&self) -> Option<&'static str> {
        Some(BACKEND)
    }

    fn write_org_batch(&self, batch: OrgBatch) -> BoxFuture<'static, Result<(), StoreError>> {
        let inner = self.inner.clone();
        async move { inner.write(batch).await }.boxed()
    }

    fn load_if_changed(
        &self,
        known_version: u64,
    ) -> BoxFuture<'static, Result<Option<StoreSnapshot>, StoreError>> {
        let inner = self.inner.clone();
        async move { inner.load(known_version).await }.boxed()
    }

    fn ping(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        let inner = self.inner.clone();
        async move {
            let timeout = inner.settings.command_timeout;
            inner
                .call("ping", timeout, |mut conn| async move {
                    redis::cmd("PING").query_async::<String>(&mut conn).await
                })
                .await
                .map(drop)
        }
        .boxed()
    }
}

impl Inner {
    /// A fresh incarnation token, proposed (`SET NX`) by every script that may be the first to
    /// touch a dataset. Fresh per call, never per process: a process that set the token of the
    /// lost dataset and is the first to touch the new one must still see a different token.
    fn propose_incarnation(&self) -> String {
        crate::redis::token::random_hex()
    }

    /// Runs one Redis call with a deadline, mapping failures to [`StoreError::Backend`].
    async fn call<T, F, Fut>(
        &self,
        operation: &'static str,
        timeout: Duration,
        f: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        crate::redis::with_deadline(&self.connector, timeout, f)
            .await
            .map_err(|error| backend_error(operation, error))
    }
}

fn backend_error(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        operation,
        source: Box::new(source),
    }
}
