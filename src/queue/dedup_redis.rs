//! [`RedisDedup`]: the backfill dedup lock table ([`DedupLocks`]) in Redis, so every replica's
//! dispatcher sees the locks the others took and one missed window becomes one job, whichever
//! replica asked first.
//!
//! One STRING per lock, `<namespace>:backfill-dedup:<dedup_key>`, with the lock's TTL:
//! - `acquire` is a plain `SET key 1 PX ttl`. The dispatcher takes the lock only **after** the
//!   broker confirmed the publish, so there is no race to win: a second `SET` of the same key
//!   only refreshes a lock that an identical, already published job justifies.
//! - `is_held` is `EXISTS key`; Redis drops the key when its TTL runs out.
//!
//! The table has its own connection (the [`Connector`] of the metric store: standalone or
//! Sentinel, reconnecting by itself) and every call has the `command_timeout` deadline. A
//! failure is a [`DedupError`] with backend `redis`; the dispatcher then publishes rather than
//! suppresses (a redundant job is idempotent, a lost one is not).

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt as _};
use gse_actors::backfill::port::{DedupError, DedupLocks};
use redis::{FromRedisValue, RedisError};

use crate::redis::connection::Connector;
use crate::redis::RedisSettings;

const BACKEND: &str = "redis";

/// Why the table could not be built: only a malformed URL or Sentinel list (nothing connects
/// at construction).
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis connection settings for the backfill dedup table")]
pub struct DedupSetupError(#[source] RedisError);

/// The Redis [`DedupLocks`]. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisDedup {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    /// `<namespace>:backfill-dedup:`.
    prefix: String,
    /// Deadline of every call, connecting included.
    timeout: Duration,
}

impl std::fmt::Debug for RedisDedup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDedup")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisDedup {
    /// Prepares the table on `settings` (URL, topology, `namespace`, `command_timeout`,
    /// `connect_timeout`) without connecting: a Redis that is down makes calls fail, it never
    /// fails here. Must be called inside a tokio runtime (the connection manager spawns its
    /// task).
    pub fn new(settings: &RedisSettings) -> Result<RedisDedup, DedupSetupError> {
        let connector = Connector::new(settings).map_err(DedupSetupError)?;
        Ok(RedisDedup {
            inner: Arc::new(Inner {
                connector,
                prefix: format!("{}:backfill-dedup:", settings.namespace),
                timeout: settings.command_timeout,
            }),
        })
    }

    /// The Redis key that holds the lock of `dedup_key`.
    pub fn key(&self, dedup_key: &str) -> String {
        format!("{}{dedup_key}", self.inner.prefix)
    }
}

impl DedupLocks for RedisDedup {
    fn is_held(&self, key: &str) -> BoxFuture<'static, Result<bool, DedupError>> {
        let inner = self.inner.clone();
        let mut cmd = redis::cmd("EXISTS");
        cmd.arg(self.key(key));
        async move {
            let found: u64 = inner.call("is_held", cmd).await?;
            Ok(found > 0)
        }
        .boxed()
    }

    fn acquire(&self, key: &str, ttl: Duration) -> BoxFuture<'static, Result<(), DedupError>> {
        if ttl.is_zero() {
            // A zero TTL (`backfill.dedup_ttl = 0s`) holds nothing, as in the memory table;
            // Redis would refuse `PX 0`.
            return futures::future::ready(Ok(())).boxed();
        }
        let inner = self.inner.clone();
        // Whole milliseconds, rounded up so a sub-millisecond TTL still holds the key briefly.
        let ttl_ms = u64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(1).arg("PX").arg(ttl_ms);
        async move { inner.call::<()>("acquire", cmd).await }.boxed()
    }
}

impl Inner {
    /// Runs one command within the deadline (see [`crate::redis::call`]); a failure or timeout
    /// is reported to the connector (with Sentinel the next call then asks for the master again).
    async fn call<T: FromRedisValue>(
        &self,
        operation: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, DedupError> {
        crate::redis::with_deadline(&self.connector, self.timeout, |mut conn| async move {
            cmd.query_async::<T>(&mut conn).await
        })
        .await
        .map_err(|error| dedup_error(operation, error))
    }
}

fn dedup_error(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> DedupError {
    DedupError {
        backend: BACKEND,
        operation,
        source: Box::new(source),
    }
}
