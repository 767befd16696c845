//! The Redis [`ScrapeStateStore`]: the scrapers' per-org event logs, cursors and LOC state,
//! kept beside the metrics so incremental scraping (and LOC mode) survives a restart or a leader
//! change, and any replica's backfill worker can see how far the scrape has come.
//!
//! One STRING per state key under `<namespace>:scrape-state:`, holding a 4-byte big-endian
//! schema version followed by the opaque bytes, with the store's retention as TTL.
//!
//! A leader's writes go through [`ScrapeStateStore::put_fenced`]: `scripts/put_state.lua` checks
//! that the grant's lease key still holds the grant's value and writes in the same atomic step,
//! so an ex-holder (paused, cut off) never overwrites its successor's state. A rejection is a
//! [`StateError`] whose source is [`StaleLease`] (`is_stale_lease()`), counted in
//! `gh_exporter_store_write_total{result="stale_epoch"}`. A grant without a lease, and plain
//! [`ScrapeStateStore::put`] (tools, tests), write unfenced.

use futures::future::{BoxFuture, FutureExt};
use gse_actors::election::Grant;
use gse_actors::scrape::port::{ScrapeStateStore, StaleLease, StateError, Versioned};

use super::{Inner, RedisStore};

fn state_error(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StateError {
    StateError {
        backend: "redis",
        operation,
        source: Box::new(source),
    }
}

/// A stored value that is too short to carry its version header.
#[derive(Debug, thiserror::Error)]
#[error("scrape state value of {len} bytes has no version header")]
struct Truncated {
    len: usize,
}

impl ScrapeStateStore for RedisStore {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<Option<Versioned>, StateError>> {
        let inner = self.inner.clone();
        let key = inner.keys.scrape_state(key);
        async move {
            let timeout = inner.settings.bulk_timeout;
            let raw: Option<Vec<u8>> = inner
                .call("read scrape state", timeout, |mut conn| async move {
                    redis::cmd("GET").arg(&key).query_async(&mut conn).await
                })
                .await
                .map_err(|e| state_error("get", e))?;
            let Some(raw) = raw else { return Ok(None) };
            if raw.len() < 4 {
                return Err(state_error("get", Truncated { len: raw.len() }));
            }
            let version = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            Ok(Some(Versioned {
                version,
                bytes: raw[4..].to_vec(),
            }))
        }
        .boxed()
    }

    fn put(&self, key: &str, value: Versioned) -> BoxFuture<'static, Result<(), StateError>> {
        let inner = self.inner.clone();
        let key = inner.keys.scrape_state(key);
        async move {
            let raw = encode(&value);
            let ttl_ms = state_ttl_ms(&inner);
            let timeout = inner.settings.bulk_timeout;
            inner
                .call("write scrape state", timeout, |mut conn| async move {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(raw)
                        .arg("PX")
                        .arg(ttl_ms)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await
                .map_err(|e| state_error("put", e))
        }
        .boxed()
    }

    fn put_fenced(
        &self,
        key: &str,
        value: Versioned,
        grant: &Grant,
    ) -> BoxFuture<'static, Result<(), StateError>> {
        if !grant.is_leased() {
            return self.put(key, value);
        }
        let inner = self.inner.clone();
        let key = inner.keys.scrape_state(key);
        let grant = grant.clone();
        async move {
            let raw = encode(&value);
            let ttl_ms = state_ttl_ms(&inner);
            let timeout = inner.settings.bulk_timeout;
            let keys = &inner.keys;
            let script = &inner.put_state;
            let token = inner.propose_incarnation();
            let lease = &grant;
            let written: i64 = inner
                .call("write scrape state", timeout, |mut conn| async move {
                    script
                        .key(&key)
                        .key(&*lease.lease_key)
                        .key(keys.counters())
                        .key(keys.version())
                        .key(keys.incarnation())
                        .arg(&*lease.value)
                        .arg(raw)
                        .arg(ttl_ms)
                        .arg(token)
                        .invoke_async(&mut conn)
                        .await
                })
                .await
                .map_err(|e| state_error("put", e))?;
            if written == 1 {
                Ok(())
            } else {
                Err(state_error("put", StaleLease { epoch: grant.epoch }))
            }
        }
        .boxed()
    }
}

/// The stored form: the 4-byte big-endian schema version, then the bytes.
fn encode(value: &Versioned) -> Vec<u8> {
    let mut raw = Vec::with_capacity(value.bytes.len() + 4);
    raw.extend_from_slice(&value.version.to_be_bytes());
    raw.extend_from_slice(&value.bytes);
    raw
}

/// State values live as long as the series (at least 1 ms: `PX 0` is an error).
fn state_ttl_ms(inner: &Inner) -> u64 {
    (inner.settings.retention.as_millis() as u64).max(1)
}
