//! [`RedisStash`]: the backfill [`JobStash`] in Redis, so jobs a dispatcher could not publish
//! (broker away) survive the process: the next dispatcher to start — this replica restarted,
//! or any other — takes them back and publishes them.
//!
//! One LIST, `<namespace>:backfill-stash`, of jobs in the queue's wire format
//! ([`wire`](super::wire)), oldest first:
//! - `save` is one script: `RPUSH` the jobs, then if the list is longer than its capacity,
//!   `LTRIM` the oldest and return them (the dispatcher counts them lost).
//! - `take_all` is one script: `LRANGE 0 -1` then `DEL`, atomically, so two dispatchers never
//!   take the same job.
//!
//! Own connection (the store's [`Connector`]: standalone or Sentinel), every call within
//! `command_timeout`. An entry that does not decode (a newer wire version, say) is logged
//! and left out, logged at error with the count.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt as _};
use gse_actors::backfill::port::{JobStash, StashError};
use gse_actors::backfill::BackfillJob;
use redis::{RedisError, Script};

use super::wire;
use crate::redis::connection::Connector;
use crate::redis::RedisSettings;

const BACKEND: &str = "redis";

const SAVE: &str = r"
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
local over = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[1])
if over <= 0 then return {} end
local dropped = redis.call('LRANGE', KEYS[1], 0, over - 1)
redis.call('LTRIM', KEYS[1], over, -1)
return dropped
";

const TAKE_ALL: &str = r"
local jobs = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return jobs
";

/// Why the stash could not be built: only a malformed URL or Sentinel list.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis connection settings for the backfill job stash")]
pub struct StashSetupError(#[source] RedisError);

/// The Redis [`JobStash`]. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisStash {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    key: String,
    capacity: usize,
    timeout: Duration,
    save: Script,
    take_all: Script,
}

impl std::fmt::Debug for RedisStash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStash")
            .field("key", &self.inner.key)
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl RedisStash {
    /// Prepares the stash on `settings` holding at most `capacity` jobs, without connecting.
    /// Must be called inside a tokio runtime.
    pub fn new(settings: &RedisSettings, capacity: usize) -> Result<RedisStash, StashSetupError> {
        let connector = Connector::new(settings).map_err(StashSetupError)?;
        Ok(RedisStash {
            inner: Arc::new(Inner {
                connector,
                key: format!("{}:backfill-stash", settings.namespace),
                capacity: capacity.max(1),
                timeout: settings.command_timeout,
                save: Script::new(SAVE),
                take_all: Script::new(TAKE_ALL),
            }),
        })
    }

    /// The Redis key of the list.
    pub fn key(&self) -> &str {
        &self.inner.key
    }
}

impl JobStash for RedisStash {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn save(
        &self,
        jobs: Vec<BackfillJob>,
    ) -> BoxFuture<'static, Result<Vec<BackfillJob>, StashError>> {
        let inner = self.inner.clone();
        async move {
            if jobs.is_empty() {
                return Ok(Vec::new());
            }
            let mut invocation = inner.save.key(&inner.key);
            invocation.arg(inner.capacity);
            for job in &jobs {
                invocation.arg(wire::encode(job));
            }
            let dropped: Vec<Vec<u8>> = inner
                .call("save", |mut conn| async move {
                    invocation.invoke_async(&mut conn).await
                })
                .await?;
            Ok(decode_all(dropped))
        }
        .boxed()
    }

    fn take_all(&self) -> BoxFuture<'static, Result<Vec<BackfillJob>, StashError>> {
        let inner = self.inner.clone();
        async move {
            let invocation = inner.take_all.key(&inner.key);
            let raw: Vec<Vec<u8>> = inner
                .call("take_all", |mut conn| async move {
                    invocation.invoke_async(&mut conn).await
                })
                .await?;
            Ok(decode_all(raw))
        }
        .boxed()
    }
}

impl Inner {
    /// Runs one call on a connection within the deadline (see [`crate::redis::call`]).
    async fn call<T, F, Fut>(&self, operation: &'static str, f: F) -> Result<T, StashError>
    where
        F: FnOnce(redis::aio::ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T, RedisError>>,
    {
        crate::redis::with_deadline(&self.connector, self.timeout, f)
            .await
            .map_err(|error| stash_error(operation, error))
    }
}

/// Decodes stashed entries; one that does not decode is logged with its error and skipped.
fn decode_all(raw: Vec<Vec<u8>>) -> Vec<BackfillJob> {
    let mut jobs = Vec::with_capacity(raw.len());
    let mut undecodable = 0_usize;
    for body in raw {
        match wire::decode(&body) {
            Ok(job) => jobs.push(job),
            Err(error) => {
                undecodable += 1;
                tracing::error!(error = %error, "a stashed backfill job does not decode; dropped");
            }
        }
    }
    if undecodable > 0 {
        tracing::error!(
            jobs = undecodable,
            "backfill jobs lost: stashed entries that do not decode"
        );
    }
    jobs
}

fn stash_error(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StashError {
    StashError {
        backend: BACKEND,
        operation,
        source: Box::new(source),
    }
}
