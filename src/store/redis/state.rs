//! The Redis [`ScrapeStateStore`]: the scrapers' per-org event logs, cursors and LOC state,
//! kept beside the metrics so incremental scraping (and LOC mode) survives a restart or a leader
//! change, and any replica's backfill worker can see how far the scrape has come.
//!
//! One STRING per state key under `<namespace>:scrape-state:`, holding a 4-byte big-endian
//! schema version followed by the opaque bytes, with the store's retention as TTL.

use futures::future::{BoxFuture, FutureExt};
use gse_actors::scrape::port::{ScrapeStateStore, StateError, Versioned};

use super::RedisStore;

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
            let mut raw = Vec::with_capacity(value.bytes.len() + 4);
            raw.extend_from_slice(&value.version.to_be_bytes());
            raw.extend_from_slice(&value.bytes);
            let ttl_ms = inner.settings.retention.as_millis() as u64;
            let timeout = inner.settings.bulk_timeout;
            inner
                .call("write scrape state", timeout, |mut conn| async move {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(raw)
                        .arg("PX")
                        .arg(ttl_ms.max(1))
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await
                .map_err(|e| state_error("put", e))
        }
        .boxed()
    }
}
