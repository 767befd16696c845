//! A credential's rate budget shared by every replica through Redis, so replicas that use the
//! same token or App installation pace together instead of each at the full rate.
//!
//! Keys, under the store's namespace: `<namespace>:github-budget:<credential>:pace` (the
//! pacing state) and `…:paused:<resource>` (the end of a pause). `<credential>` is a
//! [`CredentialId`]: a fingerprint of the token, never the token.
//!
//! - **Pacing** is GCRA in one script per request (`scripts/take.lua`): a burst of a tenth of
//!   the rate, then one request per emission interval, on Redis' clock (`TIME`), so replicas
//!   with skewed clocks agree. A request that does not fit now *reserves* the next free slot
//!   and is told how long to wait: one round trip per request, however many replicas contend.
//! - **Pauses** (a primary budget below its threshold, a secondary limit) are written with the
//!   longer one winning (`scripts/pause.lua`) and read by the same take, which then reserves no
//!   slot.
//!
//! Every call has a short deadline ([`CALL_DEADLINE`]); the governor paces alone when it
//! passes ([`super::governor`]).

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt as _};
use redis::{RedisError, Script};
use sha2::{Digest, Sha256};

use crate::redis::connection::Connector;
use crate::redis::{CallError, RedisSettings};

/// Longest a request waits for the shared budget to answer before pacing alone.
pub const CALL_DEADLINE: Duration = Duration::from_millis(250);

/// A stable, non-secret name of a credential, the same on every replica with the same
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialId(String);

impl CredentialId {
    /// A token, by the first 16 hex digits of its SHA-256.
    pub fn token(token: &str) -> CredentialId {
        let digest = Sha256::digest(token.as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        CredentialId(format!("token-{hex}"))
    }

    /// A GitHub App installation: by its id when configured, else by the org it is found for.
    pub fn app(app_id: u64, installation: Option<u64>, org: &str) -> CredentialId {
        match installation {
            Some(installation) => CredentialId(format!("app-{app_id}-inst-{installation}")),
            None => CredentialId(format!("app-{app_id}-org-{org}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the shared budget says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Send now.
    Go,
    /// The resource is paused this long; nothing was taken.
    Paused(Duration),
    /// A slot is reserved this long from now.
    Slot(Duration),
}

/// GCRA parameters: one request per `interval` after a burst of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    pub interval: Duration,
    pub burst: u32,
}

/// Why the shared budget did not answer.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("shared rate budget of {credential}: {operation} failed")]
    Call {
        credential: String,
        operation: &'static str,
        #[source]
        source: CallError,
    },
    #[error("shared rate budget of {credential}: unexpected reply {reply:?} to {operation}")]
    Reply {
        credential: String,
        operation: &'static str,
        reply: Vec<i64>,
    },
}

/// Why the shared budget could not be set up: only malformed connection settings.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis connection settings for the shared rate budget")]
pub struct BudgetSetupError(#[source] RedisError);

/// The process's connection to the shared budgets. Cheap to clone.
#[derive(Clone)]
pub struct SharedBudgets {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    /// `<namespace>:github-budget:`.
    prefix: String,
    take: Script,
    pause: Script,
}

impl std::fmt::Debug for SharedBudgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudgets")
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl SharedBudgets {
    /// Prepares the connection (its own, so bulk store calls never delay a take) without
    /// connecting. Must be called inside a tokio runtime.
    pub fn new(settings: &RedisSettings) -> Result<SharedBudgets, BudgetSetupError> {
        let connector = Connector::new(settings).map_err(BudgetSetupError)?;
        Ok(SharedBudgets {
            inner: Arc::new(Inner {
                connector,
                prefix: format!("{}:github-budget:", settings.namespace),
                take: Script::new(include_str!("scripts/take.lua")),
                pause: Script::new(include_str!("scripts/pause.lua")),
            }),
        })
    }

    /// The budget of one credential.
    pub fn credential(&self, id: &CredentialId) -> CredentialBudget {
        CredentialBudget {
            budgets: self.clone(),
            id: id.clone(),
            base: format!("{}{}", self.inner.prefix, id.as_str()),
        }
    }
}

/// One credential's shared budget.
#[derive(Clone)]
pub struct CredentialBudget {
    budgets: SharedBudgets,
    id: CredentialId,
    /// `<namespace>:github-budget:<credential>`.
    base: String,
}

impl std::fmt::Debug for CredentialBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialBudget")
            .field("key", &self.base)
            .finish_non_exhaustive()
    }
}

impl CredentialBudget {
    /// The pacing key.
    pub fn pace_key(&self) -> String {
        format!("{}:pace", self.base)
    }

    /// The pause key of `resource`.
    pub fn pause_key(&self, resource: &str) -> String {
        format!("{}:paused:{resource}", self.base)
    }

    /// One request of `resource`: paused, go, or a reserved slot (`pacing` `None`: pauses
    /// only).
    /// Boxed: it sits inside every GitHub request's future, which is deep enough already.
    pub fn take<'a>(
        &'a self,
        resource: &str,
        pacing: Option<Pacing>,
    ) -> BoxFuture<'a, Result<Take, BudgetError>> {
        let inner = &self.budgets.inner;
        let (interval_us, burst) = pacing.map_or((0, 0), |p| {
            (
                u64::try_from(p.interval.as_micros()).unwrap_or(u64::MAX),
                p.burst,
            )
        });
        let mut invocation = inner.take.key(self.pace_key());
        invocation
            .key(self.pause_key(resource))
            .arg(interval_us)
            .arg(burst);
        async move {
            let reply: Vec<i64> = self
                .call("take", |mut conn| async move {
                    invocation.invoke_async(&mut conn).await
                })
                .await?;
            let ms = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
            match reply.as_slice() {
                [0, _] => Ok(Take::Go),
                [1, wait] => Ok(Take::Paused(ms(*wait))),
                [2, wait] => Ok(Take::Slot(ms(*wait))),
                _ => Err(BudgetError::Reply {
                    credential: self.id.as_str().to_string(),
                    operation: "take",
                    reply,
                }),
            }
        }
        .boxed()
    }

    /// Pauses `resource` for every replica for `wait` (a longer pause in place stays).
    pub fn pause<'a>(
        &'a self,
        resource: &str,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(), BudgetError>> {
        let inner = &self.budgets.inner;
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut invocation = inner.pause.key(self.pause_key(resource));
        invocation.arg(ms);
        async move {
            let _: i64 = self
                .call("pause", |mut conn| async move {
                    invocation.invoke_async(&mut conn).await
                })
                .await?;
            Ok(())
        }
        .boxed()
    }

    async fn call<T, F, Fut>(&self, operation: &'static str, f: F) -> Result<T, BudgetError>
    where
        F: FnOnce(redis::aio::ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T, RedisError>>,
    {
        crate::redis::with_deadline(&self.budgets.inner.connector, CALL_DEADLINE, f)
            .await
            .map_err(|source| BudgetError::Call {
                credential: self.id.as_str().to_string(),
                operation,
                source,
            })
    }
}
