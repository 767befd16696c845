//! Leader election on Kubernetes Leases (`coordination.k8s.io/v1`): the `kubernetes` backend of
//! [`LeaderElector`]. Kubernetes decides who holds a lease; Redis fences what the holder writes
//! ([`fence`]).
//!
//! - **Locks**: the global Lease `<lease_name>` and, per org, `<lease_name>-<org>`
//!   ([`record::LeaseNames`]). `holderIdentity` is the replica's identity, `leaseTransitions`
//!   the tenure's epoch (raised at every acquisition), an annotation the tenure's random token.
//!   Every write goes through the Lease's `resourceVersion`: a 409 is a lost race, answered as
//!   "held", never retried blindly.
//! - **Expiry** is judged on the candidate's own monotonic clock ([`record::Observations`]): a
//!   Lease is free after `leaseDurationSeconds` without its `resourceVersion` changing, never by
//!   comparing `renewTime` with a wall clock.
//! - **Members**: one Lease per replica, `<lease_name>-member-<identity>`, renewed at every
//!   heartbeat and carrying the process's nonce; a second live process with the same identity
//!   is refused. Members are the holders of the member Leases that changed within their
//!   duration, as this replica observed them.
//! - **Release** empties `holderIdentity` (so candidates take over at once, woken by the
//!   [`events`] watch) and removes the fence.
//! - **Fencing**: at every acquisition and renewal the holder writes the fence
//!   `epoch|token|identity` under the Redis key the store checks; a renewal whose fence is
//!   refused is a lost lease.
//!
//! RBAC: get, list, watch, create and update on `leases` in the namespace (see
//! `deploy/kubernetes/base/role.yaml`).

pub mod events;
pub mod fence;
mod locks;
mod members;
pub mod record;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use futures::stream::BoxStream;
use gse_actors::election::{
    Acquire, ElectionError, Grant, LeaderElector, LeaseEvent, LeaseScope, Membership,
};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::Api;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use self::fence::RedisFence;
use self::record::{LeaseNames, Observations, Record, KIND_LABEL, TOKEN_ANNOTATION};
use super::redis::ElectorSettings;
use crate::redis::token::random_hex;

/// The backend's name in errors, `/healthz` and metrics.
pub const BACKEND: &str = "kubernetes";

/// What the Kubernetes elector needs.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// `leader_election.namespace`; `None`: the client's default (the pod's namespace from
    /// its service account, or the kubeconfig context's).
    pub namespace: Option<String>,
    /// Redis (for the fences), the key namespace, `lease_name`, identity, timings and the
    /// orgs' fingerprint: the same settings the Redis backend takes.
    pub redis: ElectorSettings,
}

/// Why the Kubernetes elector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KubeSetupError {
    #[error("invalid leader election settings: {0}")]
    Invalid(&'static str),
    #[error("invalid Redis connection settings for the lease fences")]
    Redis(#[source] redis::RedisError),
}

/// A lock this replica holds: the Lease's name, its last `resourceVersion`, the tenure's token.
#[derive(Debug, Clone)]
struct HeldLock {
    name: String,
    resource_version: String,
    token: String,
    epoch: u64,
}

#[derive(Debug, Default)]
struct State {
    observations: Observations,
    /// By fence key (the grant's `lease_key`).
    held: HashMap<String, HeldLock>,
    /// Lowest epoch a new tenure of a Lease may take (a fence refused a lower one).
    min_epoch: HashMap<String, u64>,
    /// This process's member Lease version, once written.
    member_version: Option<String>,
}

struct Inner {
    settings: KubeSettings,
    names: LeaseNames,
    lease_secs: i32,
    timeout: Duration,
    nonce: String,
    fence: RedisFence,
    /// The Lease API and its namespace, built at the first call.
    api: OnceCell<(Api<Lease>, String)>,
    state: Mutex<State>,
    alive: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.alive.cancel();
    }
}

/// The Kubernetes Lease elector. Cheap to clone.
#[derive(Clone)]
pub struct KubeElector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KubeElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeElector")
            .field("lease_name", &self.inner.settings.redis.lease_name)
            .field("identity", &self.inner.settings.redis.identity)
            .finish_non_exhaustive()
    }
}

fn backend_error(
    operation: &'static str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> ElectionError {
    ElectionError::Backend {
        backend: BACKEND,
        operation,
        source: source.into(),
    }
}

/// The HTTP status of an API error, if the API server answered with one.
fn status(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// The parts of `lease` the election reads.
fn record_of(lease: &Lease) -> Record {
    let spec = lease.spec.clone().unwrap_or_default();
    Record {
        holder: spec.holder_identity,
        duration: Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        ),
        transitions: u64::try_from(spec.lease_transitions.unwrap_or(0)).unwrap_or(0),
        resource_version: lease.metadata.resource_version.clone().unwrap_or_default(),
        token: lease
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(TOKEN_ANNOTATION).cloned()),
    }
}

impl KubeElector {
    /// Validates the settings and prepares (without connecting) the elector: the API client is
    /// built at the first call, so an API server that is down at start makes calls fail, never
    /// this. Must be called inside a tokio runtime.
    pub fn new(settings: KubeSettings) -> Result<KubeElector, KubeSetupError> {
        let invalid = |what| Err(KubeSetupError::Invalid(what));
        let r = &settings.redis;
        if r.identity.is_empty() {
            return invalid("the identity is empty");
        }
        if r.lease_name.is_empty() {
            return invalid("the lease name is empty");
        }
        if r.lease_duration < Duration::from_secs(1) {
            return invalid("a Kubernetes lease lasts at least 1 s");
        }
        let lease_secs = i32::try_from(r.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let fence = RedisFence::new(r).map_err(KubeSetupError::Redis)?;
        Ok(KubeElector {
            inner: Arc::new(Inner {
                names: LeaseNames::new(&r.lease_name),
                lease_secs,
                timeout: r.call_timeout(),
                nonce: random_hex(),
                fence,
                api: OnceCell::new(),
                state: Mutex::new(State::default()),
                alive: CancellationToken::new(),
                settings,
            }),
        })
    }

    /// The namespace the Leases live in (builds the client if needed).
    pub async fn namespace(&self) -> Result<String, ElectionError> {
        self.inner.api().await?;
        Ok(self
            .inner
            .api
            .get()
            .map(|(_, namespace)| namespace.clone())
            .unwrap_or_default())
    }

    /// The names of this election's Leases.
    pub fn names(&self) -> &LeaseNames {
        &self.inner.names
    }
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn identity(&self) -> &str {
        &self.settings.redis.identity
    }

    /// The Lease API, built at the first call from the in-cluster configuration or the
    /// kubeconfig (`KUBECONFIG`, `~/.kube/config`).
    async fn api(&self) -> Result<&Api<Lease>, ElectionError> {
        let (api, _) = self
            .api
            .get_or_try_init(|| async {
                let config = tokio::time::timeout(self.timeout * 5, kube::Config::infer())
                    .await
                    .map_err(|_| ElectionError::Timeout {
                        operation: "configure",
                        timeout: self.timeout * 5,
                    })?
                    .map_err(|e| backend_error("configure", e))?;
                let namespace = self
                    .settings
                    .namespace
                    .clone()
                    .unwrap_or_else(|| config.default_namespace.clone());
                let client =
                    kube::Client::try_from(config).map_err(|e| backend_error("configure", e))?;
                Ok((Api::namespaced(client, &namespace), namespace))
            })
            .await?;
        Ok(api)
    }

    /// Runs one API call within the elector's deadline.
    async fn call<T>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<Result<T, kube::Error>, ElectionError> {
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ElectionError::Timeout {
                operation,
                timeout: self.timeout,
            })
    }

    fn labels(&self, kind: &str) -> BTreeMap<String, String> {
        let (key, value) = self.names.election_label();
        BTreeMap::from([
            (key.to_string(), value),
            (KIND_LABEL.to_string(), kind.to_string()),
            (
                "app.kubernetes.io/managed-by".to_string(),
                "github-stats-exporter".to_string(),
            ),
        ])
    }

    /// A Lease held by this replica.
    #[allow(clippy::too_many_arguments)]
    fn lease(
        &self,
        name: &str,
        kind: &str,
        holder: Option<&str>,
        token: &str,
        transitions: u64,
        duration_secs: i32,
        resource_version: Option<String>,
        extra: &[(&str, &str)],
    ) -> Lease {
        let mut annotations = BTreeMap::from([(TOKEN_ANNOTATION.to_string(), token.to_string())]);
        for (k, v) in extra {
            annotations.insert(k.to_string(), v.to_string());
        }
        let now = now_micro();
        Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(self.labels(kind)),
                annotations: Some(annotations),
                resource_version,
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_string),
                lease_duration_seconds: Some(duration_secs),
                lease_transitions: Some(i32::try_from(transitions).unwrap_or(i32::MAX)),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                ..LeaseSpec::default()
            }),
        }
    }

    fn scope_name(&self, scope: &LeaseScope) -> String {
        match scope {
            LeaseScope::Global => self.names.global(),
            LeaseScope::Org(org) => self.names.org(org),
        }
    }
}

impl LeaderElector for KubeElector {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn identity(&self) -> &str {
        self.inner.identity()
    }

    fn try_acquire(
        &self,
        scope: &LeaseScope,
    ) -> BoxFuture<'static, Result<Acquire, ElectionError>> {
        let (inner, scope) = (self.inner.clone(), scope.clone());
        async move { inner.try_acquire(scope).await }.boxed()
    }

    fn renew(&self, grants: &[Grant]) -> BoxFuture<'static, Result<Vec<bool>, ElectionError>> {
        let (inner, grants) = (self.inner.clone(), grants.to_vec());
        async move {
            let results =
                futures::future::join_all(grants.iter().map(|g| inner.renew_one(g))).await;
            results.into_iter().collect()
        }
        .boxed()
    }

    fn release(&self, grants: &[Grant]) -> BoxFuture<'static, Result<(), ElectionError>> {
        let (inner, grants) = (self.inner.clone(), grants.to_vec());
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
