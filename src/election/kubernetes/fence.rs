//! Kubernetes decides, Redis fences: the fence a Kubernetes Lease holder writes into Redis at
//! every acquisition and renewal ([`RedisFence`]).
//!
//! The fence key is the key the Redis backend would use for the same lease
//! (`<ns>:lease:<lease_name>[:org:<org>]`, see [`LeaseKeys`]), holding the tenure's
//! `epoch|token|identity` for `lease_duration`. The store's commit and state scripts compare a
//! writer's grant with that key, exactly as with the Redis backend, so a late write from an
//! ex-holder is rejected and counted. The fence only moves forward (`scripts/fence.lua`): a
//! tenure whose epoch is not above the fence in place is refused.

use std::future::Future;
use std::time::Duration;

use gse_actors::election::{ElectionError, Grant, LeaseScope};
use redis::aio::ConnectionManager;
use redis::{RedisError, Script, Value};

use super::super::redis::{ElectorSettings, LeaseKeys};
use super::BACKEND;
use crate::redis::connection::Connector;
use crate::redis::RedisSettings;

/// The answer to a fence write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fenced {
    /// The fence holds this tenure until `lease_duration` from now.
    Written,
    /// A tenure with epoch `held` (not below ours) holds the fence.
    Refused { held: u64 },
}

/// Writes and removes fences on the elector's own Redis connection, within its deadline.
pub struct RedisFence {
    keys: LeaseKeys,
    connector: Connector,
    timeout: Duration,
    lease_ms: u64,
    fence: Script,
    unfence: Script,
}

impl std::fmt::Debug for RedisFence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFence")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisFence {
    /// Prepares (without connecting) the fence's connection from the Redis elector's settings
    /// (the same Redis, namespace, lease name and timings).
    pub fn new(settings: &ElectorSettings) -> Result<RedisFence, RedisError> {
        let timeout = settings.call_timeout();
        let mut connection = RedisSettings::new(
            settings.url.clone(),
            settings.namespace.clone(),
            Duration::from_secs(1),
            0,
        );
        connection.topology = settings.topology.clone();
        connection.tls_ca_file = settings.tls_ca_file.clone();
        connection.command_timeout = timeout;
        connection.bulk_timeout = timeout;
        connection.connect_timeout = timeout;
        Ok(RedisFence {
            keys: LeaseKeys::new(&settings.namespace, &settings.lease_name),
            connector: Connector::new(&connection)?,
            timeout,
            lease_ms: u64::try_from(settings.lease_duration.as_millis()).unwrap_or(u64::MAX),
            fence: Script::new(include_str!("../scripts/fence.lua")),
            unfence: Script::new(include_str!("../scripts/unfence.lua")),
        })
    }

    /// The fence key of `scope` (a grant's `lease_key`).
    pub fn key(&self, scope: &LeaseScope) -> String {
        self.keys.scope(scope)
    }

    async fn call<T, F, Fut>(&self, operation: &'static str, f: F) -> Result<T, ElectionError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        crate::redis::with_deadline(&self.connector, self.timeout, f)
            .await
            .map_err(|error| {
                if error.is_timeout() {
                    ElectionError::Timeout {
                        operation,
                        timeout: self.timeout,
                    }
                } else {
                    ElectionError::Backend {
                        backend: BACKEND,
                        operation,
                        source: Box::new(error),
                    }
                }
            })
    }

    /// Writes (or extends) the fence of `grant` for `lease_duration`.
    pub async fn write(&self, grant: &Grant) -> Result<Fenced, ElectionError> {
        const OP: &str = "fence";
        let reply: Value = self
            .call(OP, |mut conn| {
                let mut invocation = self.fence.prepare_invoke();
                invocation
                    .key(grant.lease_key.as_ref())
                    .arg(grant.epoch)
                    .arg(grant.value.as_ref())
                    .arg(self.lease_ms);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        let unexpected = || ElectionError::Backend {
            backend: BACKEND,
            operation: OP,
            source: format!("unexpected reply to the fence script: {reply:?}").into(),
        };
        let Value::Array(items) = &reply else {
            return Err(unexpected());
        };
        match items.as_slice() {
            [Value::Int(1), _] => Ok(Fenced::Written),
            [Value::Int(0), Value::Int(held)] => Ok(Fenced::Refused {
                held: u64::try_from(*held).unwrap_or(0),
            }),
            _ => Err(unexpected()),
        }
    }

    /// Removes the fences of `grants` that still hold their values.
    pub async fn remove(&self, grants: &[Grant]) -> Result<(), ElectionError> {
        let leased: Vec<&Grant> = grants.iter().filter(|g| g.is_leased()).collect();
        if leased.is_empty() {
            return Ok(());
        }
        let _: i64 = self
            .call("unfence", |mut conn| {
                let mut invocation = self.unfence.prepare_invoke();
                for grant in &leased {
                    invocation
                        .key(grant.lease_key.as_ref())
                        .arg(grant.value.as_ref());
                }
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(())
    }
}
