//! The Kubernetes Lease elector against a real kube-apiserver (`scripts/kube-testbed start`,
//! whose last line exports `KUBECONFIG`) and the real Redis that fences its tenures: acquire,
//! held, renew, release, the 409 of a lost race, expiry judged on the candidate's own clock,
//! fences that only move forward, membership and duplicate identities, release events. Every
//! test uses its own lease name and Redis namespace. Without the test bed these tests fail.

mod redis_common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use github_stats_exporter::election::{ElectorSettings, KubeElector, KubeSettings};
use gse_actors::election::{Acquire, ElectionError, Grant, LeaderElector, LeaseEvent, LeaseScope};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use redis::aio::MultiplexedConnection;
use redis_common::{unique_namespace, Cleanup, SHARED_REDIS};
use secrecy::SecretString;

const NAMESPACE: &str = "default";

fn testbed() {
    let path = std::env::var("KUBECONFIG").unwrap_or_default();
    assert!(
        !path.is_empty() && std::path::Path::new(&path).is_file(),
        "no kube-apiserver test bed: run `eval \"$(scripts/kube-testbed start | tail -1)\"` (KUBECONFIG={path:?})"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
}

struct Fixture {
    namespace: String,
    lease_name: String,
    _cleanup: Cleanup,
}

fn fixture(test: &str) -> Fixture {
    testbed();
    let namespace = unique_namespace(&format!("kube-{test}"));
    let suffix: String = namespace
        .chars()
        .rev()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    Fixture {
        lease_name: format!("gse-{}-{suffix}", test.replace('_', "-")),
        _cleanup: Cleanup {
            url: SHARED_REDIS.into(),
            namespace: namespace.clone(),
        },
        namespace,
    }
}

impl Fixture {
    fn elector(&self, identity: &str, lease: Duration) -> KubeElector {
        let mut redis = ElectorSettings::new(
            SecretString::from(SHARED_REDIS.to_string()),
            self.namespace.clone(),
            self.lease_name.clone(),
            identity,
        );
        redis.lease_duration = lease;
        redis.retry_period = Duration::from_millis(500);
        redis.orgs_fingerprint = "f00d".into();
        KubeElector::new(KubeSettings {
            namespace: Some(NAMESPACE.into()),
            redis,
        })
        .expect("valid settings")
    }

    fn fence_key(&self) -> String {
        format!("{}:lease:{}", self.namespace, self.lease_name)
    }
}

async fn leases() -> Api<Lease> {
    let client = kube::Client::try_default().await.expect("a kube client");
    Api::namespaced(client, NAMESPACE)
}

async fn holder(name: &str) -> Option<String> {
    let lease = leases().await.get(name).await.expect("the Lease exists");
    lease
        .spec
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn redis() -> MultiplexedConnection {
    redis::Client::open(SHARED_REDIS)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is up")
}

async fn get(key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut redis().await)
        .await
        .expect("GET")
}

fn acquired(answer: Result<Acquire, ElectionError>) -> Grant {
    match answer {
        Ok(Acquire::Acquired(grant)) => grant,
        other => panic!("expected the lease, got {other:?}"),
    }
}

#[tokio::test]
async fn acquire_hold_renew_release_and_take_over() {
    let f = fixture("cycle");
    let long = Duration::from_secs(30);
    let (a, b) = (f.elector("a", long), f.elector("b", long));
    let global = LeaseScope::Global;

    let grant = acquired(a.try_acquire(&global).await);
    assert_eq!(grant.epoch, 1, "the first tenure of a new Lease");
    assert_eq!(
        holder(&f.lease_name).await.as_deref(),
        Some("a"),
        "kubectl get lease shows it"
    );
    assert_eq!(
        get(&f.fence_key()).await.as_deref(),
        Some(grant.value.as_ref()),
        "fenced in Redis"
    );
    assert_eq!(grant.lease_key.as_ref(), f.fence_key());

    match b.try_acquire(&global).await {
        Ok(Acquire::Held { holder, ttl }) => {
            assert_eq!(holder, "a");
            assert!(ttl <= long && ttl > Duration::from_secs(20), "{ttl:?}");
        }
        other => panic!("b must see the lease held, got {other:?}"),
    }
    assert_eq!(
        a.renew(std::slice::from_ref(&grant)).await.expect("renew"),
        vec![true]
    );
    assert_eq!(
        b.renew(std::slice::from_ref(&grant)).await.expect("renew"),
        vec![false],
        "not b's"
    );

    a.release(std::slice::from_ref(&grant))
        .await
        .expect("release");
    assert_eq!(
        holder(&f.lease_name).await,
        None,
        "released: the holder is emptied"
    );
    assert_eq!(get(&f.fence_key()).await, None, "and the fence removed");

    let taken = acquired(b.try_acquire(&global).await);
    assert_eq!(taken.epoch, 2, "leaseTransitions is the epoch");
    assert_eq!(
        a.renew(std::slice::from_ref(&grant)).await.expect("renew"),
        vec![false]
    );
    assert_eq!(
        get(&f.fence_key()).await.as_deref(),
        Some(taken.value.as_ref())
    );
}

#[tokio::test]
async fn a_silent_holder_expires_on_the_candidates_clock_and_loses_its_writes() {
    let f = fixture("expiry");
    let lease = Duration::from_secs(2);
    let (a, b) = (f.elector("a", lease), f.elector("b", lease));
    let global = LeaseScope::Global;
    let old = acquired(a.try_acquire(&global).await);

    // b sees the Lease for the first time now: it counts from here, whatever renewTime says.
    let first_seen = Instant::now();
    let deadline = first_seen + Duration::from_secs(30);
    let new = loop {
        match b.try_acquire(&global).await {
            Ok(Acquire::Acquired(grant)) => break grant,
            Ok(Acquire::Held { holder, .. }) => assert_eq!(holder, "a"),
            Err(error) => panic!("acquire failed: {error}"),
        }
        assert!(
            Instant::now() < deadline,
            "the silent holder's lease never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        first_seen.elapsed() >= lease,
        "taken over after {:?}, before the lease duration of b's own clock",
        first_seen.elapsed()
    );
    assert_eq!(new.epoch, old.epoch + 1);
    // The ex-holder's renewal is refused (409 on the stale resourceVersion) and its fence is
    // gone: the store would reject its writes.
    assert_eq!(
        a.renew(std::slice::from_ref(&old)).await.expect("renew"),
        vec![false]
    );
    assert_eq!(
        get(&f.fence_key()).await.as_deref(),
        Some(new.value.as_ref())
    );
}

#[tokio::test]
async fn a_race_for_a_free_lease_has_one_winner() {
    let f = fixture("race");
    let long = Duration::from_secs(30);
    let electors: Vec<KubeElector> = (0..4).map(|i| f.elector(&format!("r{i}"), long)).collect();
    let answers =
        futures::future::join_all(electors.iter().map(|e| e.try_acquire(&LeaseScope::Global)))
            .await;
    let winners: Vec<&Grant> = answers
        .iter()
        .filter_map(|a| match a {
            Ok(Acquire::Acquired(g)) => Some(g),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {answers:?}");
    for answer in &answers {
        assert!(
            answer.is_ok(),
            "a lost race is an answer, not an error: {answer:?}"
        );
    }
}

#[tokio::test]
async fn a_fence_only_moves_forward() {
    let f = fixture("fence");
    let a = f.elector("a", Duration::from_secs(30));
    // A tenure with epoch 5 fences this lease (a Lease that was deleted and made again).
    let _: () = redis::cmd("SET")
        .arg(f.fence_key())
        .arg("5|old|ghost")
        .arg("PX")
        .arg(30_000)
        .query_async(&mut redis().await)
        .await
        .expect("SET");
    let refused = a.try_acquire(&LeaseScope::Global).await;
    assert!(
        matches!(&refused, Err(ElectionError::Backend { .. })),
        "a tenure below the fence is refused: {refused:?}"
    );
    assert_eq!(
        holder(&f.lease_name).await,
        None,
        "and the Lease given back"
    );
    let grant = acquired(a.try_acquire(&LeaseScope::Global).await);
    assert_eq!(grant.epoch, 6, "the next tenure starts above the fence");
    assert_eq!(
        get(&f.fence_key()).await.as_deref(),
        Some(grant.value.as_ref())
    );
}

#[tokio::test]
async fn members_duplicates_and_leaving() {
    let f = fixture("members");
    let long = Duration::from_secs(30);
    let (a, b) = (f.elector("a", long), f.elector("b", long));
    assert_eq!(a.heartbeat().await.expect("heartbeat").members, ["a"]);
    let seen = b.heartbeat().await.expect("heartbeat");
    assert_eq!(seen.members, ["a", "b"]);
    assert!(seen.next_expiry.is_some_and(|e| e <= long));

    let twin = f.elector("a", long);
    assert!(
        matches!(
            twin.heartbeat().await,
            Err(ElectionError::DuplicateIdentity { .. })
        ),
        "a second live process with a's identity is refused"
    );
    assert_eq!(
        a.heartbeat()
            .await
            .expect("the first keeps its place")
            .members,
        ["a", "b"]
    );

    a.leave().await.expect("leave");
    assert_eq!(b.heartbeat().await.expect("heartbeat").members, ["b"]);
}

#[tokio::test]
async fn a_release_wakes_the_candidates() {
    let f = fixture("events");
    let long = Duration::from_secs(30);
    let (a, b) = (f.elector("a", long), f.elector("b", long));
    let scope = LeaseScope::Org("acme".into());
    let mut events = b.events();
    // The watch opens in the background: a release before it is open is not seen, so release
    // again until one is (each attempt waits 2 s, at most 10 attempts).
    for attempt in 1..=10 {
        let grant = acquired(a.try_acquire(&scope).await);
        a.release(std::slice::from_ref(&grant))
            .await
            .expect("release");
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Some(event)) = tokio::time::timeout_at(until, events.next()).await {
            if let LeaseEvent::Released { lease_key } = event {
                assert_eq!(lease_key, format!("{}-acme", f.lease_name));
                return;
            }
        }
        eprintln!("no Released event after release {attempt}; releasing again");
    }
    panic!("no Released event after 10 releases");
}
