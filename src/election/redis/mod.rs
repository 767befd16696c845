//! The Redis lease elector: [`RedisElector`] implements [`LeaderElector`] with `SET PX` leases,
//! one `INCR` counter issuing every epoch, a members sorted set fed by heartbeats and a pub/sub
//! channel for fast handover. Every operation is one Lua script (atomic on the server) with a
//! deadline of `min(retry_period, 1 s)`, on a connection of its own (never the metric store's).
//! Key names: [`LeaseKeys`]; scripts: `scripts/*.lua`.
//!
//! - [`settings`]: what the elector needs, and why it could not be built.
//! - [`keys`]: the key names (a contract with the metric store's fencing).
//! - [`calls`]: the five script calls with their deadline; [`reply`] reads what they return.
//! - [`events`]: the pub/sub subscription behind [`LeaderElector::events`].

mod calls;
mod events;
mod keys;
mod reply;
mod settings;

pub use events::parse_event;
pub use keys::LeaseKeys;
pub use settings::{ElectorSettings, ElectorSetupError, MAX_CALL_TIMEOUT};

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use futures::stream::BoxStream;
use gse_actors::election::{
    Acquire, ElectionError, Grant, LeaderElector, LeaseEvent, LeaseScope, Membership,
};
use redis::Script;
use tokio_util::sync::CancellationToken;

use crate::redis::connection::{Connector, MasterSource};
use crate::redis::token::random_hex;
use crate::redis::RedisSettings;

const BACKEND: &str = "redis";

/// The Redis [`LeaderElector`]. Cheap to clone; clones share the connection and the nonce
/// (they are the same member). Dropping the last clone ends its [`LeaderElector::events`]
/// streams.
///
/// Notes for the RoleManager:
/// - [`LeaderElector::events`] also delivers this replica's own `released`/`left` messages
///   (pub/sub does not tell senders apart); they are hints, safe to act on.
/// - A process restarted with the same identity (a StatefulSet pod) gets
///   [`ElectionError::DuplicateIdentity`] until its predecessor's last heartbeat is older
///   than `lease_duration` (unless the predecessor left cleanly): retry until then.
#[derive(Clone)]
pub struct RedisElector {
    inner: Arc<Inner>,
}

/// What every clone shares: the member's identity, keys, connections and scripts.
struct Inner {
    identity: String,
    fingerprint: String,
    keys: LeaseKeys,
    lease_ms: u64,
    timeout: Duration,
    /// Random per process (per elector): tells this process's heartbeats from another's that
    /// uses the same identity.
    nonce: String,
    connector: Connector,
    pubsub: Arc<MasterSource>,
    scripts: Scripts,
    /// Cancelled when the elector is dropped: ends the event streams.
    alive: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.alive.cancel();
    }
}

/// The election's Lua scripts (`scripts/*.lua`).
struct Scripts {
    acquire: Script,
    renew: Script,
    release: Script,
    heartbeat: Script,
    leave: Script,
}

impl RedisElector {
    /// Validates the settings and prepares (without opening) the elector's own connections: a
    /// Redis that is down at start makes calls fail, never this. Must be called inside a tokio
    /// runtime.
    pub fn new(settings: ElectorSettings) -> Result<RedisElector, ElectorSetupError> {
        let invalid = |what| Err(ElectorSetupError::Invalid(what));
        if settings.identity.is_empty() {
            return invalid("the identity is empty");
        }
        if settings.lease_name.is_empty() {
            return invalid("the lease name is empty");
        }
        if settings.lease_duration < Duration::from_millis(1) {
            return invalid("the lease duration is under 1 ms");
        }
        if settings.retry_period < Duration::from_millis(1) {
            return invalid("the retry period is under 1 ms");
        }
        let timeout = settings.call_timeout();
        // The store's connector with this elector's deadlines: a separate ConnectionManager,
        // so lease calls never queue behind the store's multi-MB pipelines.
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
        let connector = Connector::new(&connection).map_err(ElectorSetupError::Redis)?;
        let pubsub = MasterSource::new(
            &settings.url,
            &settings.topology,
            settings.tls_ca_file.as_deref(),
        )
        .map_err(ElectorSetupError::Redis)?;
        let lease_ms = u64::try_from(settings.lease_duration.as_millis()).unwrap_or(u64::MAX);
        Ok(RedisElector {
            inner: Arc::new(Inner {
                keys: LeaseKeys::new(&settings.namespace, &settings.lease_name),
                identity: settings.identity,
                fingerprint: settings.orgs_fingerprint,
                lease_ms,
                timeout,
                nonce: random_hex(),
                connector,
                pubsub: Arc::new(pubsub),
                scripts: Scripts {
                    acquire: Script::new(include_str!("../scripts/acquire.lua")),
                    renew: Script::new(include_str!("../scripts/renew.lua")),
                    release: Script::new(include_str!("../scripts/release.lua")),
                    heartbeat: Script::new(include_str!("../scripts/heartbeat.lua")),
                    leave: Script::new(include_str!("../scripts/leave.lua")),
                },
                alive: CancellationToken::new(),
            }),
        })
    }

    /// The key names this elector uses.
    pub fn keys(&self) -> &LeaseKeys {
        &self.inner.keys
    }

    /// The deadline of every call.
    pub fn call_timeout(&self) -> Duration {
        self.inner.timeout
    }
}

impl LeaderElector for RedisElector {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn identity(&self) -> &str {
        &self.inner.identity
    }

    fn try_acquire(
        &self,
        scope: &LeaseScope,
    ) -> BoxFuture<'static, Result<Acquire, ElectionError>> {
        let inner = self.inner.clone();
        let key = inner.keys.scope(scope);
        async move { inner.acquire(key).await }.boxed()
    }

    fn renew(&self, grants: &[Grant]) -> BoxFuture<'static, Result<Vec<bool>, ElectionError>> {
        let inner = self.inner.clone();
        let grants = grants.to_vec();
        async move { inner.renew(grants).await }.boxed()
    }

    fn release(&self, grants: &[Grant]) -> BoxFuture<'static, Result<(), ElectionError>> {
        let inner = self.inner.clone();
        let grants = grants.to_vec();
        async move { inner.release(grants).await }.boxed()
    }

    fn heartbeat(&self) -> BoxFuture<'static, Result<Membership, ElectionError>> {
        let inner = self.inner.clone();
        async move { inner.heartbeat().await }.boxed()
    }

    fn leave(&self) -> BoxFuture<'static, Result<(), ElectionError>> {
        let inner = self.inner.clone();
        async move { inner.leave().await }.boxed()
    }

    fn events(&self) -> BoxStream<'static, LeaseEvent> {
        events::stream(&self.inner)
    }
}
