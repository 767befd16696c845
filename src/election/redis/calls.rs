//! The elector's Redis calls: each operation is one Lua script (atomic on the server) run on
//! the elector's own connection within its deadline; timeouts become
//! [`ElectionError::Timeout`], other failures [`ElectionError::Backend`].

use std::future::Future;

use gse_actors::election::{Acquire, ElectionError, Grant, Membership};
use redis::aio::ConnectionManager;
use redis::{RedisError, Value};

use super::reply::{parse_acquire, parse_heartbeat, UnexpectedReply};
use super::{Inner, BACKEND};
use crate::redis::token::random_hex;
use crate::redis::CallError;

impl Inner {
    /// Runs one Redis call with the elector's deadline (see [`crate::redis::call`]).
    async fn call<T, F, Fut>(&self, operation: &'static str, f: F) -> Result<T, ElectionError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        crate::redis::with_deadline(&self.connector, self.timeout, f)
            .await
            .map_err(|error| match error {
                error if error.is_timeout() => ElectionError::Timeout {
                    operation,
                    timeout: self.timeout,
                },
                CallError::Redis(error) => backend_error(operation, error),
                CallError::TimedOut(_) => ElectionError::Timeout {
                    operation,
                    timeout: self.timeout,
                },
            })
    }

    pub(super) async fn acquire(&self, key: String) -> Result<Acquire, ElectionError> {
        const OP: &str = "acquire";
        let token = random_hex();
        let reply: Value = self
            .call(OP, |mut conn| {
                let mut invocation = self.scripts.acquire.prepare_invoke();
                invocation
                    .key(&key)
                    .key(self.keys.seq())
                    .arg(&token)
                    .arg(&self.identity)
                    .arg(self.lease_ms);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        parse_acquire(&key, reply).map_err(|error| backend_error(OP, error))
    }

    pub(super) async fn renew(&self, grants: Vec<Grant>) -> Result<Vec<bool>, ElectionError> {
        const OP: &str = "renew";
        // Grants without a lease key (epoch only) have nothing to extend: never ours here.
        let leased: Vec<usize> = (0..grants.len())
            .filter(|&i| grants[i].is_leased())
            .collect();
        let mut result = vec![false; grants.len()];
        if leased.is_empty() {
            return Ok(result);
        }
        let reply: Vec<i64> = self
            .call(OP, |mut conn| {
                let mut invocation = self.scripts.renew.prepare_invoke();
                invocation.arg(self.lease_ms);
                for &i in &leased {
                    invocation.key(&*grants[i].lease_key).arg(&*grants[i].value);
                }
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        if reply.len() != leased.len() {
            return Err(backend_error(
                OP,
                UnexpectedReply(format!(
                    "{} results for {} leases",
                    reply.len(),
                    leased.len()
                )),
            ));
        }
        for (&i, renewed) in leased.iter().zip(reply) {
            result[i] = renewed == 1;
        }
        Ok(result)
    }

    pub(super) async fn release(&self, grants: Vec<Grant>) -> Result<(), ElectionError> {
        let grants: Vec<Grant> = grants.into_iter().filter(Grant::is_leased).collect();
        if grants.is_empty() {
            return Ok(());
        }
        let released: i64 = self
            .call("release", |mut conn| {
                let mut invocation = self.scripts.release.prepare_invoke();
                invocation.arg(self.keys.channel());
                for grant in &grants {
                    invocation.key(&*grant.lease_key).arg(&*grant.value);
                }
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        tracing::debug!(
            released,
            asked = grants.len(),
            "released leases (the others were no longer ours)"
        );
        Ok(())
    }

    pub(super) async fn heartbeat(&self) -> Result<Membership, ElectionError> {
        const OP: &str = "heartbeat";
        let reply: Value = self
            .call(OP, |mut conn| {
                let mut invocation = self.scripts.heartbeat.prepare_invoke();
                invocation
                    .key(self.keys.members())
                    .key(self.keys.members_info())
                    .arg(&self.identity)
                    .arg(&self.nonce)
                    .arg(&self.fingerprint)
                    .arg(self.lease_ms);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        match parse_heartbeat(reply).map_err(|error| backend_error(OP, error))? {
            Some(membership) => Ok(membership),
            None => Err(ElectionError::DuplicateIdentity {
                identity: self.identity.clone(),
            }),
        }
    }

    pub(super) async fn leave(&self) -> Result<(), ElectionError> {
        let left: i64 = self
            .call("leave", |mut conn| {
                let mut invocation = self.scripts.leave.prepare_invoke();
                invocation
                    .key(self.keys.members())
                    .key(self.keys.members_info())
                    .arg(&self.identity)
                    .arg(&self.nonce)
                    .arg(self.keys.channel());
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        if left == 0 {
            tracing::debug!(identity = %self.identity, "not leaving: another live process announces this identity");
        }
        Ok(())
    }
}

/// A backend error of `operation` with `source` as its cause.
fn backend_error(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> ElectionError {
    ElectionError::Backend {
        backend: BACKEND,
        operation,
        source: Box::new(source),
    }
}
