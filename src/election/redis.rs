//! The Redis lease elector: [`RedisElector`] implements [`LeaderElector`] with `SET PX` leases,
//! one `INCR` counter issuing every epoch, a members sorted set fed by heartbeats and a pub/sub
//! channel for fast handover. Every operation is one Lua script (atomic on the server) with a
//! deadline of `min(retry_period, 1 s)`, on a connection of its own (never the metric store's).
//! Key names: [`LeaseKeys`]; scripts: `scripts/*.lua`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{BoxStream, StreamExt};
use gse_actors::election::{
    Acquire, ElectionError, Grant, LeaderElector, LeaseEvent, LeaseScope, Membership,
};
use redis::aio::{ConnectionManager, PubSubSink, PubSubStream};
use redis::{RedisError, Script, Value};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::redis::connection::{Connector, MasterSource};
use crate::redis::{CallError, RedisSettings, RedisTopology};

const BACKEND: &str = "redis";

/// Upper bound of every call's deadline (the lower one is `retry_period`).
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// First wait before the event subscription reconnects; doubles up to [`EVENTS_MAX_BACKOFF`].
const EVENTS_MIN_BACKOFF: Duration = Duration::from_millis(100);
const EVENTS_MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What the Redis elector needs.
#[derive(Debug, Clone)]
pub struct ElectorSettings {
    /// `redis://[user:password@]host:port[/db]`; secret because it may carry a password. With
    /// Sentinel it only supplies credentials and the database number.
    pub url: SecretString,
    pub topology: RedisTopology,
    /// `store.redis_tls_ca_file`: the same TLS roots as the metric store.
    pub tls_ca_file: Option<PathBuf>,
    /// Prefix of every key (`<namespace>:…`): the metric store's namespace, so the store's
    /// commit script finds the lease keys.
    pub namespace: String,
    /// `leader_election.lease_name`.
    pub lease_name: String,
    /// This replica's name among the members (unique per live process).
    pub identity: String,
    /// A lease lives this long without renewal; a member this long without heartbeat is gone.
    pub lease_duration: Duration,
    /// Renew/heartbeat period; bounds every call's deadline (`min(retry_period, 1 s)`).
    pub retry_period: Duration,
    /// [`gse_actors::election::assign::fingerprint`] of the configured org list.
    pub orgs_fingerprint: String,
}

impl ElectorSettings {
    /// Settings with client-go's timings (15 s lease, 2 s retry period), standalone Redis and
    /// an empty org fingerprint.
    pub fn new(
        url: SecretString,
        namespace: impl Into<String>,
        lease_name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        ElectorSettings {
            url,
            topology: RedisTopology::Standalone,
            tls_ca_file: None,
            namespace: namespace.into(),
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            retry_period: Duration::from_secs(2),
            orgs_fingerprint: String::new(),
        }
    }

    /// The deadline of every call: `min(retry_period, 1 s)`.
    pub fn call_timeout(&self) -> Duration {
        self.retry_period.min(MAX_CALL_TIMEOUT)
    }
}

/// Why the elector could not be built (malformed settings; nothing connects yet).
#[derive(Debug, thiserror::Error)]
pub enum ElectorSetupError {
    #[error("invalid leader election settings: {0}")]
    Invalid(&'static str),
    #[error("invalid Redis connection settings for leader election")]
    Redis(#[source] RedisError),
}

/// The Redis key names of the election, all under `<namespace>:`.
///
/// The metric store's fencing compares `GET grant.lease_key` with `grant.value`, so these
/// names are a contract with `src/store/redis/`.
#[derive(Debug, Clone)]
pub struct LeaseKeys {
    prefix: String,
    lease_name: String,
}

impl LeaseKeys {
    pub fn new(namespace: &str, lease_name: &str) -> LeaseKeys {
        LeaseKeys {
            prefix: format!("{namespace}:"),
            lease_name: lease_name.to_string(),
        }
    }

    /// STRING `epoch|token|identity`, `PX lease_duration`: `<ns>:lease:<lease_name>`.
    pub fn global(&self) -> String {
        format!("{}lease:{}", self.prefix, self.lease_name)
    }
    /// STRING, as [`LeaseKeys::global`], one per org: `<ns>:lease:<lease_name>:org:<org>`.
    pub fn org(&self, org: &str) -> String {
        format!("{}lease:{}:org:{org}", self.prefix, self.lease_name)
    }
    /// The lease key of `scope`.
    pub fn scope(&self, scope: &LeaseScope) -> String {
        match scope {
            LeaseScope::Global => self.global(),
            LeaseScope::Org(org) => self.org(org),
        }
    }
    /// STRING counter (`INCR`) issuing every epoch: `<ns>:lease-seq`.
    pub fn seq(&self) -> String {
        format!("{}lease-seq", self.prefix)
    }
    /// ZSET identity → Redis `TIME` (ms) of its last heartbeat: `<ns>:members`.
    pub fn members(&self) -> String {
        format!("{}members", self.prefix)
    }
    /// HASH identity → `nonce|orgs-fingerprint`: `<ns>:members:info`.
    pub fn members_info(&self) -> String {
        format!("{}members:info", self.prefix)
    }
    /// Pub/sub channel of `released <lease key>` and `left <identity>`: `<ns>:lease-events`.
    pub fn channel(&self) -> String {
        format!("{}lease-events", self.prefix)
    }
}

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
                    acquire: Script::new(include_str!("scripts/acquire.lua")),
                    renew: Script::new(include_str!("scripts/renew.lua")),
                    release: Script::new(include_str!("scripts/release.lua")),
                    heartbeat: Script::new(include_str!("scripts/heartbeat.lua")),
                    leave: Script::new(include_str!("scripts/leave.lua")),
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
        let subscription = Subscription {
            source: self.inner.pubsub.clone(),
            channel: self.inner.keys.channel(),
            alive: self.inner.alive.clone(),
            timeout: self.inner.timeout,
            keepalive: self.inner.timeout.max(Duration::from_secs(1)) * 5,
            connection: None,
            backoff: EVENTS_MIN_BACKOFF,
            was_connected: false,
        };
        futures::stream::unfold(subscription, |mut subscription| async move {
            let event = subscription.next_event().await?;
            Some((event, subscription))
        })
        .boxed()
    }
}

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

    async fn acquire(&self, key: String) -> Result<Acquire, ElectionError> {
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

    async fn renew(&self, grants: Vec<Grant>) -> Result<Vec<bool>, ElectionError> {
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

    async fn release(&self, grants: Vec<Grant>) -> Result<(), ElectionError> {
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

    async fn heartbeat(&self) -> Result<Membership, ElectionError> {
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

    async fn leave(&self) -> Result<(), ElectionError> {
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

/// A reply that does not have the shape the script returns.
#[derive(Debug, thiserror::Error)]
#[error("unexpected reply from Redis: {0}")]
struct UnexpectedReply(String);

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

/// `{'ok', epoch, value}` or `{'held', value, pttl}`.
fn parse_acquire(key: &str, reply: Value) -> Result<Acquire, UnexpectedReply> {
    let items = array(reply)?;
    match items.as_slice() {
        [status, epoch, value] if text(status).as_deref() == Some("ok") => {
            let epoch = integer(epoch)
                .and_then(|e| u64::try_from(e).ok())
                .ok_or_else(|| UnexpectedReply(format!("epoch {epoch:?}")))?;
            let value = text(value).ok_or_else(|| UnexpectedReply("lease value".into()))?;
            Ok(Acquire::Acquired(Grant::leased(
                epoch,
                Arc::from(key),
                Arc::from(value),
            )))
        }
        [status, value, pttl] if text(status).as_deref() == Some("held") => {
            let value = text(value).ok_or_else(|| UnexpectedReply("lease value".into()))?;
            // PTTL: -1 no expiry (not set by us), -2 gone: report no time left.
            let ttl = integer(pttl)
                .and_then(|ms| u64::try_from(ms).ok())
                .unwrap_or(0);
            Ok(Acquire::Held {
                holder: holder_of(&value).to_string(),
                ttl: Duration::from_millis(ttl),
            })
        }
        _ => Err(UnexpectedReply(format!("acquire returned {items:?}"))),
    }
}

/// `{'duplicate'}` (None) or `{'ok', {identity, …}}` (the members, sorted).
fn parse_heartbeat(reply: Value) -> Result<Option<Membership>, UnexpectedReply> {
    let items = array(reply)?;
    match items.as_slice() {
        [status] if text(status).as_deref() == Some("duplicate") => Ok(None),
        [status, members, expiry] if text(status).as_deref() == Some("ok") => {
            let mut members = array(members.clone())?
                .iter()
                .map(|m| text(m).ok_or_else(|| UnexpectedReply(format!("member {m:?}"))))
                .collect::<Result<Vec<String>, _>>()?;
            members.sort_unstable();
            let next_expiry = match expiry {
                Value::Int(ms) if *ms >= 0 => Some(Duration::from_millis(*ms as u64)),
                Value::Int(_) => None,
                other => return Err(UnexpectedReply(format!("expiry {other:?}"))),
            };
            Ok(Some(Membership {
                members,
                next_expiry,
            }))
        }
        _ => Err(UnexpectedReply(format!("heartbeat returned {items:?}"))),
    }
}

/// The identity in a lease value `epoch|token|identity` (the whole value if malformed).
fn holder_of(value: &str) -> &str {
    let mut parts = value.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(identity)) => identity,
        _ => value,
    }
}

fn array(value: Value) -> Result<Vec<Value>, UnexpectedReply> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(UnexpectedReply(format!("expected an array, got {other:?}"))),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::BulkString(_) | Value::SimpleString(_) => text(value)?.parse().ok(),
        _ => None,
    }
}

/// 128 random bits as 32 hex digits (lease tokens, process nonces).
fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A [`LeaseEvent`] from a pub/sub payload; `None` for anything else.
pub fn parse_event(payload: &str) -> Option<LeaseEvent> {
    let (kind, rest) = payload.split_once(' ')?;
    if rest.is_empty() {
        return None;
    }
    match kind {
        "released" => Some(LeaseEvent::Released {
            lease_key: rest.to_string(),
        }),
        "left" => Some(LeaseEvent::Left {
            identity: rest.to_string(),
        }),
        _ => None,
    }
}

/// The state of one [`LeaderElector::events`] stream: a dedicated pub/sub connection,
/// re-established with a short backoff whenever it breaks, until the elector is dropped.
struct Subscription {
    source: Arc<MasterSource>,
    channel: String,
    alive: CancellationToken,
    timeout: Duration,
    /// A silent connection is pinged after this long (a half-open TCP connection never ends
    /// the stream by itself).
    keepalive: Duration,
    connection: Option<(PubSubSink, PubSubStream)>,
    backoff: Duration,
    was_connected: bool,
}

impl Subscription {
    /// The next event; `None` once the elector is gone.
    async fn next_event(&mut self) -> Option<LeaseEvent> {
        loop {
            if self.alive.is_cancelled() {
                return None;
            }
            let Some((sink, stream)) = &mut self.connection else {
                match self.connect().await {
                    Ok(connection) => {
                        tracing::debug!(channel = %self.channel, "subscribed to lease events");
                        self.connection = Some(connection);
                        self.backoff = EVENTS_MIN_BACKOFF;
                        self.was_connected = true;
                    }
                    Err(error) => {
                        tracing::debug!(error = %error, retry_in = ?self.backoff, "lease event subscription failed");
                        let wait = self.backoff.mul_f64(1.0 + rand::random::<f64>() * 0.2);
                        self.backoff = (self.backoff * 2).min(EVENTS_MAX_BACKOFF);
                        tokio::select! {
                            () = self.alive.cancelled() => return None,
                            () = tokio::time::sleep(wait) => {}
                        }
                    }
                }
                continue;
            };
            let lost = tokio::select! {
                () = self.alive.cancelled() => return None,
                message = stream.next() => match message {
                    Some(message) => {
                        match std::str::from_utf8(message.get_payload_bytes()).ok().and_then(parse_event) {
                            Some(event) => return Some(event),
                            None => {
                                tracing::debug!(channel = message.get_channel_name(), payload = ?String::from_utf8_lossy(message.get_payload_bytes()), "ignoring a malformed lease event");
                                false
                            }
                        }
                    }
                    None => true,
                },
                () = tokio::time::sleep(self.keepalive) => {
                    !matches!(
                        tokio::time::timeout(self.timeout, sink.ping::<Value>()).await,
                        Ok(Ok(_))
                    )
                }
            };
            if lost {
                if self.was_connected {
                    tracing::warn!(channel = %self.channel, "lease event subscription lost; reconnecting");
                    self.was_connected = false;
                }
                self.connection = None;
            }
        }
    }

    async fn connect(
        &self,
    ) -> Result<(PubSubSink, PubSubStream), Box<dyn std::error::Error + Send + Sync>> {
        let attempt = async {
            let client = self.source.client().await?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, RedisError>(pubsub.split())
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(Box::new(error)),
            Err(_) => Err(Box::new(CallError::TimedOut(self.timeout))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_names() {
        let keys = LeaseKeys::new("ns", "gse");
        assert_eq!(keys.global(), "ns:lease:gse");
        assert_eq!(keys.org("acme"), "ns:lease:gse:org:acme");
        assert_eq!(
            keys.scope(&LeaseScope::Org("a".into())),
            "ns:lease:gse:org:a"
        );
        assert_eq!(keys.seq(), "ns:lease-seq");
        assert_eq!(keys.members(), "ns:members");
        assert_eq!(keys.members_info(), "ns:members:info");
        assert_eq!(keys.channel(), "ns:lease-events");
    }

    #[test]
    fn events_parse_and_malformed_ones_are_ignored() {
        assert_eq!(
            parse_event("released ns:lease:gse"),
            Some(LeaseEvent::Released {
                lease_key: "ns:lease:gse".into()
            })
        );
        assert_eq!(
            parse_event("left pod a"),
            Some(LeaseEvent::Left {
                identity: "pod a".into()
            })
        );
        for bad in ["", "released", "released ", "joined x", "left"] {
            assert_eq!(parse_event(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn holder_is_the_identity_part_of_the_value() {
        assert_eq!(holder_of("7|abc|pod-1"), "pod-1");
        assert_eq!(holder_of("7|abc|pod|with|bars"), "pod|with|bars");
        assert_eq!(holder_of("garbage"), "garbage");
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        assert!(parse_acquire("k", Value::Nil).is_err());
        assert!(parse_acquire("k", Value::Array(vec![Value::Int(1)])).is_err());
        let negative_epoch = Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Int(-1),
            Value::BulkString(b"v".to_vec()),
        ]);
        assert!(parse_acquire("k", negative_epoch).is_err());
        assert!(parse_heartbeat(Value::Array(vec![])).is_err());
        let bad_member = Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Array(vec![Value::Int(3)]),
            Value::Int(-1),
        ]);
        assert!(parse_heartbeat(bad_member).is_err());
        let bad_expiry = Value::Array(vec![
            Value::BulkString(b"ok".to_vec()),
            Value::Array(vec![Value::BulkString(b"a".to_vec())]),
            Value::BulkString(b"soon".to_vec()),
        ]);
        assert!(parse_heartbeat(bad_expiry).is_err());
    }
}
