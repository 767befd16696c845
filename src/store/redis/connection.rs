//! Connections to the Redis master: a [`ConnectionManager`] (multiplexed, reconnecting in the
//! background with exponential backoff) for standalone Redis, and for Sentinel a manager built
//! on the master the Sentinels name, dropped and re-resolved after a connection error or a
//! `READONLY` answer (redis-rs does not follow a failover by itself).
//!
//! Nothing connects eagerly: a Redis that is down at start makes calls fail (and the replica
//! not ready), it never makes the process fall back to memory or exit.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Client, IntoConnectionInfo, RedisError};
use secrecy::{ExposeSecret, SecretString};

use super::settings::{RedisSettings, RedisTopology};

/// Hands out a connection to the current master.
pub struct Connector {
    kind: Kind,
    config: ConnectionManagerConfig,
}

enum Kind {
    Standalone(ConnectionManager),
    Sentinel(Box<SentinelState>),
}

struct SentinelState {
    client: tokio::sync::Mutex<SentinelClient>,
    current: Mutex<Option<ConnectionManager>>,
}

impl Connector {
    /// Validates the URL and prepares (without opening) the connection.
    pub fn new(settings: &RedisSettings) -> Result<Connector, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            // The per-call deadlines are enforced by the caller; this is the outer bound.
            .set_response_timeout(Some(settings.bulk_timeout))
            // One attempt per call: the StoreActor's own backoff paces the retries, so a call
            // during an outage fails within the connect timeout instead of sleeping here.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(2));
        let kind = match &settings.topology {
            RedisTopology::Standalone => {
                let client = Client::open(settings.url.expose_secret())?;
                Kind::Standalone(ConnectionManager::new_lazy_with_config(
                    client,
                    config.clone(),
                )?)
            }
            RedisTopology::Sentinel {
                sentinels,
                master_set,
            } => {
                let client = sentinel_client(&settings.url, sentinels, master_set)?;
                Kind::Sentinel(Box::new(SentinelState {
                    client: tokio::sync::Mutex::new(client),
                    current: Mutex::new(None),
                }))
            }
        };
        Ok(Connector { kind, config })
    }

    /// A connection to the master (cheap clone of a multiplexed manager).
    pub async fn get(&self) -> Result<ConnectionManager, RedisError> {
        match &self.kind {
            Kind::Standalone(manager) => Ok(manager.clone()),
            Kind::Sentinel(sentinel) => {
                if let Some(manager) = lock(&sentinel.current).clone() {
                    return Ok(manager);
                }
                let master = sentinel.client.lock().await.async_get_client().await?;
                let manager = ConnectionManager::new_lazy_with_config(master, self.config.clone())?;
                *lock(&sentinel.current) = Some(manager.clone());
                Ok(manager)
            }
        }
    }

    /// Reports a failed call (`None`: it timed out): with Sentinel, a connection error, a
    /// timeout or a write refused by a demoted master makes the next call ask the Sentinels
    /// again.
    pub fn failed(&self, error: Option<&RedisError>) {
        if let Kind::Sentinel(sentinel) = &self.kind {
            let reresolve = error.is_none_or(|e| {
                e.code() == Some("READONLY")
                    || e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_timeout()
            });
            if reresolve {
                *lock(&sentinel.current) = None;
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded value is replaced in one assignment; a poisoned lock still holds valid data.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A Sentinel client that finds the master of `master_set`, connecting to it with the
/// credentials and database of `url` (shared by the store and the lease elector).
pub fn sentinel_client(
    url: &SecretString,
    sentinels: &[String],
    master_set: &str,
) -> Result<SentinelClient, RedisError> {
    let node = url.expose_secret().into_connection_info()?;
    let info = SentinelNodeConnectionInfo::default()
        .set_redis_connection_info(node.redis_settings().clone());
    let addrs: Vec<String> = sentinels
        .iter()
        .map(|addr| format!("redis://{addr}"))
        .collect();
    SentinelClient::build(
        addrs,
        master_set.to_string(),
        Some(info),
        SentinelServerType::Master,
    )
}
