//! The Redis lease elector against a real Redis (the shared one at 127.0.0.1:6379, one unique
//! namespace per test, deleted afterwards; a private `redis-server` where a test restarts it):
//! acquire/held/renew/release, one epoch counter, expiry, fencing of stale tokens, release
//! events, duplicate identities, membership, reconnection of the event stream and deadlines
//! against a server that never answers. Every wait polls against a deadline.

mod redis_common;

use std::future::Future;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};
use futures::StreamExt;
use github_stats_exporter::election::{ElectorSettings, ElectorSetupError, RedisElector};
use gse_actors::election::{
    Acquire, ElectionError, Grant, LeaderElector, LeaseEvent, LeaseScope, Membership,
};
use redis::aio::MultiplexedConnection;
use redis_common::{unique_namespace, Cleanup, PrivateRedis, SHARED_REDIS};
use secrecy::SecretString;
use tokio::sync::mpsc;

const LONG_LEASE: Duration = Duration::from_secs(10);

fn fixture(test: &str) -> (String, Cleanup) {
    let namespace = unique_namespace(&format!("elect-{test}"));
    let cleanup = Cleanup {
        url: SHARED_REDIS.into(),
        namespace: namespace.clone(),
    };
    (namespace, cleanup)
}

fn settings(url: &str, namespace: &str, identity: &str, lease: Duration) -> ElectorSettings {
    let mut settings = ElectorSettings::new(
        SecretString::from(url.to_string()),
        namespace,
        "gse",
        identity,
    );
    settings.lease_duration = lease;
    settings.retry_period = Duration::from_millis(500);
    settings.orgs_fingerprint = "f00d".into();
    settings
}

fn elector(namespace: &str, identity: &str, lease: Duration) -> RedisElector {
    RedisElector::new(settings(SHARED_REDIS, namespace, identity, lease)).expect("valid settings")
}

async fn raw(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .expect("valid url")
        .get_multiplexed_async_connection()
        .await
        .expect("test Redis is up")
}

async fn get(conn: &mut MultiplexedConnection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async(conn).await.unwrap()
}

async fn pttl(conn: &mut MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(conn).await.unwrap()
}

/// Polls `check` every 20 ms until it holds, failing after `within`.
async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits `future`, failing (instead of hanging) after `within`.
async fn within<T>(what: &str, within: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(within, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {within:?}"))
}

async fn acquired(elector: &RedisElector, scope: LeaseScope) -> Grant {
    match elector.try_acquire(&scope).await {
        Ok(Acquire::Acquired(grant)) => grant,
        other => panic!("expected to acquire {scope:?}, got {other:?}"),
    }
}

/// Forwards an elector's events into a channel (the stream is driven by its own task).
fn forward_events(elector: &RedisElector) -> mpsc::UnboundedReceiver<LeaseEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut events = elector.events();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    rx
}

async fn subscribers(conn: &mut MultiplexedConnection, channel: &str) -> i64 {
    let reply: (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(conn)
        .await
        .unwrap_or_default();
    reply.1
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Acquire, held, renew, release, and a fresh token on the next acquisition.
#[tokio::test]
async fn acquire_held_renew_release() {
    let (ns, _cleanup) = fixture("basic");
    let (a, b) = (elector(&ns, "a", LONG_LEASE), elector(&ns, "b", LONG_LEASE));
    let mut conn = raw(SHARED_REDIS).await;

    let grant = acquired(&a, LeaseScope::Global).await;
    assert_eq!(&*grant.lease_key, format!("{ns}:lease:gse"));
    assert_eq!(&*grant.lease_key, a.keys().global());
    let parts: Vec<&str> = grant.value.splitn(3, '|').collect();
    assert_eq!(parts.len(), 3, "value is epoch|token|identity");
    assert_eq!(parts[0], grant.epoch.to_string());
    assert_eq!(parts[1].len(), 32, "token is 128 bits in hex");
    assert!(parts[1].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(parts[2], "a");
    assert_eq!(
        get(&mut conn, &grant.lease_key).await.as_deref(),
        Some(&*grant.value)
    );
    let ttl = pttl(&mut conn, &grant.lease_key).await;
    assert!(ttl > 0 && ttl <= 10_000, "PX lease_duration, got {ttl}");

    // Held: by whom and for how long.
    match b.try_acquire(&LeaseScope::Global).await.unwrap() {
        Acquire::Held { holder, ttl } => {
            assert_eq!(holder, "a");
            assert!(ttl > Duration::ZERO && ttl <= LONG_LEASE, "{ttl:?}");
        }
        other => panic!("expected Held, got {other:?}"),
    }
    // Never by force, not even for the holder's own identity.
    assert!(matches!(
        a.try_acquire(&LeaseScope::Global).await.unwrap(),
        Acquire::Held { .. }
    ));

    // Renew extends the lease back to lease_duration.
    redis::cmd("PEXPIRE")
        .arg(&*grant.lease_key)
        .arg(2000)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        a.renew(std::slice::from_ref(&grant)).await.unwrap(),
        vec![true]
    );
    assert!(pttl(&mut conn, &grant.lease_key).await > 5000);
    assert_eq!(a.renew(&[]).await.unwrap(), Vec::<bool>::new());

    // Release deletes it; the next acquisition has a higher epoch and a new token.
    a.release(std::slice::from_ref(&grant)).await.unwrap();
    assert_eq!(get(&mut conn, &grant.lease_key).await, None);
    let next = acquired(&b, LeaseScope::Global).await;
    assert!(next.epoch > grant.epoch);
    b.release(&[next]).await.unwrap();
    let again = acquired(&a, LeaseScope::Global).await;
    assert_ne!(again.value.split('|').nth(1), grant.value.split('|').nth(1));
}

/// One counter issues the epochs of the global lease and of every org lease.
#[tokio::test]
async fn epochs_come_from_one_counter() {
    let (ns, _cleanup) = fixture("epochs");
    let a = elector(&ns, "a", LONG_LEASE);
    let b = elector(&ns, "b", LONG_LEASE);
    let mut conn = raw(SHARED_REDIS).await;

    let global = acquired(&a, LeaseScope::Global).await;
    let org_x = acquired(&b, LeaseScope::Org("x".into())).await;
    let org_y = acquired(&a, LeaseScope::Org("y".into())).await;
    assert_eq!(&*org_x.lease_key, format!("{ns}:lease:gse:org:x"));
    assert_eq!(&*org_y.lease_key, a.keys().org("y"));
    assert!(global.epoch < org_x.epoch && org_x.epoch < org_y.epoch);
    b.release(std::slice::from_ref(&org_x)).await.unwrap();
    let org_x_again = acquired(&a, LeaseScope::Org("x".into())).await;
    assert!(org_x_again.epoch > org_y.epoch);
    let seq: u64 = redis::cmd("GET")
        .arg(format!("{ns}:lease-seq"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(seq, org_x_again.epoch);
}

/// A lease that expired cannot be renewed (and renewing does not bring it back).
#[tokio::test]
async fn renew_after_expiry_fails() {
    let (ns, _cleanup) = fixture("expiry");
    let a = elector(&ns, "a", Duration::from_millis(300));
    let mut conn = raw(SHARED_REDIS).await;
    let grant = acquired(&a, LeaseScope::Org("x".into())).await;
    let key = grant.lease_key.to_string();
    wait_until("the lease to expire", Duration::from_secs(5), || {
        let (mut conn, key) = (conn.clone(), key.clone());
        async move { get(&mut conn, &key).await.is_none() }
    })
    .await;
    assert_eq!(
        a.renew(std::slice::from_ref(&grant)).await.unwrap(),
        vec![false]
    );
    assert_eq!(get(&mut conn, &key).await, None);
}

/// A stale token (the lease expired and someone else took it) is neither renewed nor
/// released, and the new holder's lease is not extended by the stale renew.
#[tokio::test]
async fn stale_token_neither_renews_nor_releases() {
    let (ns, _cleanup) = fixture("stale");
    // a's lease is long: a stale renew, if it went through, would visibly extend b's lease.
    let a = elector(&ns, "a", Duration::from_secs(60));
    let b = elector(&ns, "b", Duration::from_secs(5));
    let mut conn = raw(SHARED_REDIS).await;

    let old = acquired(&a, LeaseScope::Global).await;
    let kept = acquired(&a, LeaseScope::Org("kept".into())).await;
    // a is paused past its lease: the key expires.
    redis::cmd("DEL")
        .arg(&*old.lease_key)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let new = acquired(&b, LeaseScope::Global).await;
    assert_eq!(new.lease_key, old.lease_key);

    let renewed = a
        .renew(&[old.clone(), kept.clone(), Grant::epoch_only(old.epoch)])
        .await
        .unwrap();
    assert_eq!(renewed, vec![false, true, false]);
    assert_eq!(
        get(&mut conn, &new.lease_key).await.as_deref(),
        Some(&*new.value)
    );
    let ttl = pttl(&mut conn, &new.lease_key).await;
    assert!(ttl > 0 && ttl <= 5000, "b's lease not extended: {ttl} ms");

    a.release(std::slice::from_ref(&old)).await.unwrap();
    assert_eq!(
        get(&mut conn, &new.lease_key).await.as_deref(),
        Some(&*new.value),
        "release of a lease that is not ours keeps it"
    );
    // Releasing a mix: only the lease still ours goes.
    a.release(&[old, kept.clone()]).await.unwrap();
    assert_eq!(get(&mut conn, &kept.lease_key).await, None);
    assert!(get(&mut conn, &new.lease_key).await.is_some());
}

/// A release publishes `released <key>` and a leave `left <identity>`; another elector's
/// event stream delivers them (skipping malformed messages).
#[tokio::test]
async fn release_and_leave_reach_event_subscribers() {
    let (ns, _cleanup) = fixture("events");
    let a = elector(&ns, "a", LONG_LEASE);
    let watcher = elector(&ns, "w", LONG_LEASE);
    let mut conn = raw(SHARED_REDIS).await;
    let channel = format!("{ns}:lease-events");
    let mut events = forward_events(&watcher);
    wait_until("the subscription", Duration::from_secs(5), || {
        let (mut conn, channel) = (conn.clone(), channel.clone());
        async move { subscribers(&mut conn, &channel).await >= 1 }
    })
    .await;

    for garbage in ["", "released", "hello world", "left"] {
        redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(garbage)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
    let grant = acquired(&a, LeaseScope::Org("x".into())).await;
    a.release(std::slice::from_ref(&grant)).await.unwrap();
    let event = within("the released event", Duration::from_secs(5), events.recv()).await;
    assert_eq!(
        event,
        Some(LeaseEvent::Released {
            lease_key: grant.lease_key.to_string()
        })
    );

    a.heartbeat().await.unwrap();
    a.leave().await.unwrap();
    let event = within("the left event", Duration::from_secs(5), events.recv()).await;
    assert_eq!(
        event,
        Some(LeaseEvent::Left {
            identity: "a".into()
        })
    );
}

/// The event stream ends once its elector is dropped.
#[tokio::test]
async fn events_end_with_the_elector() {
    let (ns, _cleanup) = fixture("events-end");
    let watcher = elector(&ns, "w", LONG_LEASE);
    let mut events = watcher.events();
    drop(watcher);
    let next = within("the stream's end", Duration::from_secs(5), events.next()).await;
    assert_eq!(next, None);
}

/// When Redis goes away and comes back, the event stream subscribes again by itself; the
/// calls work again too.
#[tokio::test]
async fn events_survive_a_redis_restart() {
    let mut server = PrivateRedis::start();
    let url = server.url();
    let ns = unique_namespace("elect-restart");
    let a = RedisElector::new(settings(&url, &ns, "a", LONG_LEASE)).unwrap();
    let channel = format!("{ns}:lease-events");
    let mut events = forward_events(&a);
    let conn = raw(&url).await;
    wait_until("the subscription", Duration::from_secs(5), || {
        let (mut conn, channel) = (conn.clone(), channel.clone());
        async move { subscribers(&mut conn, &channel).await >= 1 }
    })
    .await;
    a.heartbeat().await.unwrap();

    server.restart();
    let mut conn = raw(&url).await;
    wait_until("the subscription again", Duration::from_secs(10), || {
        let (mut conn, channel) = (conn.clone(), channel.clone());
        async move { subscribers(&mut conn, &channel).await >= 1 }
    })
    .await;
    redis::cmd("PUBLISH")
        .arg(&channel)
        .arg("left b")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let event = within(
        "the event after restart",
        Duration::from_secs(5),
        events.recv(),
    )
    .await;
    assert_eq!(
        event,
        Some(LeaseEvent::Left {
            identity: "b".into()
        })
    );
    wait_until("calls after restart", Duration::from_secs(10), || {
        let a = a.clone();
        async move { a.heartbeat().await.is_ok() }
    })
    .await;
}

/// A second live process with the same identity is refused until the first leaves.
#[tokio::test]
async fn duplicate_identity_is_refused_until_the_first_leaves() {
    let (ns, _cleanup) = fixture("dup-leave");
    let first = elector(&ns, "pod", LONG_LEASE);
    let second = elector(&ns, "pod", LONG_LEASE);
    let mut conn = raw(SHARED_REDIS).await;

    assert_eq!(first.heartbeat().await.unwrap().members, vec!["pod"]);
    let refused = second.heartbeat().await.unwrap_err();
    assert!(
        matches!(&refused, ElectionError::DuplicateIdentity { identity } if identity == "pod"),
        "{refused:?}"
    );
    assert_eq!(refused.reason(), "duplicate_identity");
    // The refused process cannot make the first one leave either.
    second.leave().await.unwrap();
    assert_eq!(first.heartbeat().await.unwrap().members, vec!["pod"]);

    first.leave().await.unwrap();
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{ns}:members"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(members.is_empty());
    assert_eq!(second.heartbeat().await.unwrap().members, vec!["pod"]);
    assert!(matches!(
        first.heartbeat().await,
        Err(ElectionError::DuplicateIdentity { .. })
    ));
    let info: Option<String> = redis::cmd("HGET")
        .arg(format!("{ns}:members:info"))
        .arg("pod")
        .query_async(&mut conn)
        .await
        .unwrap();
    let info = info.expect("info of the live member");
    assert!(info.ends_with("|f00d"), "nonce|fingerprint, got {info}");
}

/// A second process with the same identity is accepted once the first's last heartbeat is
/// older than the lease duration (the first crashed).
#[tokio::test]
async fn duplicate_identity_is_accepted_after_the_first_goes_stale() {
    let (ns, _cleanup) = fixture("dup-stale");
    let lease = Duration::from_millis(400);
    let first = elector(&ns, "pod", lease);
    let second = elector(&ns, "pod", lease);
    first.heartbeat().await.unwrap();
    let started = Instant::now();
    assert!(matches!(
        second.heartbeat().await,
        Err(ElectionError::DuplicateIdentity { .. })
    ));
    wait_until("the first to go stale", Duration::from_secs(5), || {
        let second = second.clone();
        async move { second.heartbeat().await.is_ok() }
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// Heartbeats list the live members, sorted, and drop the stale ones (and their info).
#[tokio::test]
async fn membership_lists_live_members_and_drops_stale_ones() {
    let (ns, _cleanup) = fixture("members");
    let lease = Duration::from_millis(600);
    let (x, y, z) = (
        elector(&ns, "x", lease),
        elector(&ns, "y", lease),
        elector(&ns, "z", lease),
    );
    let mut conn = raw(SHARED_REDIS).await;
    z.heartbeat().await.unwrap();
    x.heartbeat().await.unwrap();
    let all = y.heartbeat().await.unwrap();
    assert_eq!(all.members, vec!["x", "y", "z"]);

    // Scores are Redis TIME in ms.
    let (secs, _micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let score: f64 = redis::cmd("ZSCORE")
        .arg(format!("{ns}:members"))
        .arg("y")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((score / 1000.0 - secs as f64).abs() < 5.0, "score {score}");

    // Only y keeps beating: x and z drop out.
    wait_until("x and z to drop out", Duration::from_secs(5), || {
        let y = y.clone();
        async move {
            y.heartbeat().await.ok()
                == Some(Membership {
                    members: vec!["y".into()],
                    next_expiry: None,
                })
        }
    })
    .await;
    let info: Vec<String> = redis::cmd("HKEYS")
        .arg(format!("{ns}:members:info"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(info, vec!["y"]);
    // x comes back; it learns when y would drop out (y just beat: almost a whole lease).
    let back = x.heartbeat().await.unwrap();
    assert_eq!(back.members, vec!["x", "y"]);
    let expiry = back.next_expiry.expect("y is another member");
    assert!(expiry <= lease && expiry > Duration::ZERO, "{expiry:?}");
}

/// Against a server that accepts connections but never answers, every call fails with
/// `Timeout` after `min(retry_period, 1 s)` instead of hanging.
#[tokio::test]
async fn calls_time_out_against_a_silent_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut settings = settings(&format!("redis://{addr}"), "silent", "a", LONG_LEASE);
    settings.retry_period = Duration::from_millis(200);
    let a = RedisElector::new(settings).unwrap();
    assert_eq!(a.call_timeout(), Duration::from_millis(200));
    let grant = Grant::leased(1, "silent:lease:gse".into(), "1|t|a".into());

    // Each call is a lazy future: timed from its first poll. (A call may fail sooner than the
    // deadline: the connection attempt a previous call started times out first.)
    let calls: Vec<(&str, BoxFuture<'static, Option<ElectionError>>)> = vec![
        (
            "acquire",
            a.try_acquire(&LeaseScope::Global).map(Result::err).boxed(),
        ),
        (
            "renew",
            a.renew(std::slice::from_ref(&grant))
                .map(Result::err)
                .boxed(),
        ),
        (
            "release",
            a.release(std::slice::from_ref(&grant))
                .map(Result::err)
                .boxed(),
        ),
        ("heartbeat", a.heartbeat().map(Result::err).boxed()),
        ("leave", a.leave().map(Result::err).boxed()),
    ];
    for (operation, call) in calls {
        // The outer deadline turns a hang into a failure instead of a stuck test; the error
        // names the call's own 200 ms deadline as the one that fired (no timed assertion).
        match within(operation, Duration::from_secs(3), call).await {
            Some(ElectionError::Timeout {
                operation: op,
                timeout,
            }) => {
                assert_eq!(op, operation);
                assert_eq!(timeout, Duration::from_millis(200));
            }
            other => panic!("{operation}: expected Timeout, got {other:?}"),
        }
    }
    silent.abort();
}

/// The deadline is min(retry_period, 1 s); malformed settings are refused at setup; the
/// password of the URL shows neither in the settings' Debug nor in errors.
#[tokio::test]
async fn settings_errors_and_secrets() {
    let mut long = settings(SHARED_REDIS, "ns", "a", LONG_LEASE);
    long.retry_period = Duration::from_secs(5);
    assert_eq!(long.call_timeout(), Duration::from_secs(1));

    let empty_identity = settings(SHARED_REDIS, "ns", "", LONG_LEASE);
    assert!(matches!(
        RedisElector::new(empty_identity),
        Err(ElectorSetupError::Invalid(_))
    ));
    assert!(matches!(
        RedisElector::new(settings("not a url", "ns", "a", LONG_LEASE)),
        Err(ElectorSetupError::Redis(_))
    ));

    // Port 1: nothing listens; the error must not carry the password.
    let secret = settings("redis://user:hunter2@127.0.0.1:1", "ns", "a", LONG_LEASE);
    assert!(!format!("{secret:?}").contains("hunter2"));
    let a = RedisElector::new(secret).unwrap();
    let error = within("a refused heartbeat", Duration::from_secs(3), a.heartbeat())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ElectionError::Backend { .. } | ElectionError::Timeout { .. }
        ),
        "{error:?}"
    );
    let text = format!("{} / {error:?}", error_chain(&error));
    assert!(!text.contains("hunter2"), "{text}");
}
