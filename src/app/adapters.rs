//! Adapters from configuration: which metric store, state store, backfill queue and lease
//! elector this process uses, how it gets its role, and whether the GitHub credentials' budgets
//! are shared with the other replicas. A configured backend is never replaced by an in-memory
//! one.

use std::sync::Arc;
use std::time::Duration;

use gse_actors::backfill::JobQueue;
use gse_actors::election::board::RoleBoard;
use gse_actors::election::manager::RoleMode;
use gse_actors::election::LeaderElector;
use gse_actors::observe::Recorder;
use gse_actors::ports::MetricStore;
use gse_actors::scrape::memory_state::MemoryStateStore;
use gse_actors::scrape::port::ScrapeStateStore;

use crate::config::{Config, ElectionBackend, ElectionMode, RedisMode, StaticRole, StoreConfig};
use crate::election;
use crate::github::setup::BudgetSharing;
use crate::github::shared_budget::{BudgetSetupError, SharedBudgets};
use crate::queue::memory::MemoryQueue;
use crate::queue::names::QueueNames;
use crate::queue::rabbit::RabbitQueue;
use crate::store::memory::MemoryStore;
use crate::store::redis::{
    RedisSettings, RedisSetupError, RedisStore, RedisTopology, SentinelAuth,
};

/// The metric store the StoreActor owns.
pub type SharedMetricStore = Arc<dyn MetricStore>;
/// The scrapers' state store.
pub type SharedStateStore = Arc<dyn ScrapeStateStore>;

/// How often GitHub's `/meta` is probed for `dependency_health{dependency="github"}`.
pub const GITHUB_PROBE_INTERVAL: Duration = Duration::from_secs(30);

/// The backfill queue `config` asks for: RabbitMQ when `amqp.url` is set, else memory.
pub fn build_queue(config: &Config) -> (Arc<dyn JobQueue>, Option<RabbitQueue>) {
    let names = QueueNames::new(
        &config.amqp.exchange,
        &config.amqp.queue,
        &config.amqp.dlq,
        &config.backfill.requeue_delays,
    );
    match &config.amqp.url {
        Some(url) => {
            let rabbit = RabbitQueue::with_tls_ca_file(
                url.expose_secret().to_string().into(),
                names,
                config.amqp.tls_ca_file.clone(),
            );
            (Arc::new(rabbit.clone()), Some(rabbit))
        }
        None => (
            Arc::new(MemoryQueue::new(
                names,
                usize::try_from(config.backfill.memory_queue_capacity).unwrap_or(usize::MAX),
            )),
            None,
        ),
    }
}

/// The configured metric store: Redis when `store.redis_url` is set — and then **only** Redis:
/// a Redis that is down is reported (not ready, stale snapshot), never replaced by memory —
/// else the in-memory store.
///
/// The scrapers' state store follows the same choice: Redis (so incremental state and LOC mode
/// survive a leader change) or process memory.
pub fn build_store(
    config: &StoreConfig,
) -> Result<(SharedMetricStore, SharedStateStore), RedisSetupError> {
    let (Some(url), Some(settings)) = (&config.redis_url, redis_settings(config)) else {
        return Ok((
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryStateStore::new()),
        ));
    };
    tracing::info!(url = %url, mode = %config.redis_mode, namespace = %config.namespace, "using the Redis metric store");
    let redis = RedisStore::new(settings)?;
    Ok((Arc::new(redis.clone()), Arc::new(redis)))
}

/// The Redis connection settings `store.*` asks for; `None` when no Redis is configured.
pub fn redis_settings(config: &StoreConfig) -> Option<RedisSettings> {
    let url = config.redis_url.as_ref()?;
    let mut settings = RedisSettings::new(
        secrecy::SecretString::from(url.expose_secret().to_string()),
        config.namespace.clone(),
        config.retention,
        config.max_series_budget,
    );
    if config.redis_mode == RedisMode::Sentinel {
        settings.topology = RedisTopology::Sentinel {
            sentinels: config.redis_sentinel_addrs.clone(),
            master_set: config.redis_master_set.clone().unwrap_or_default(),
            auth: SentinelAuth {
                username: config.redis_sentinel_username.clone(),
                password: config.redis_sentinel_password.clone(),
            },
        };
    }
    settings.tls_ca_file = config.redis_tls_ca_file.clone();
    Some(settings)
}

/// The shared rate budgets, with Redis, `rate_limit.shared` and roles from leases (a static
/// leader on Redis takes the global lease too). A replica pacing alone takes `1/N` of the rate:
/// N is the live members in `per_org` mode (every member may scrape), 1 in `single` mode (one
/// leader scrapes; backfill consumers on followers only ask their own scrapers).
pub fn budget_sharing(
    config: &Config,
    mode: RoleMode,
    board: &RoleBoard,
    recorder: &Arc<dyn Recorder>,
) -> Result<Option<BudgetSharing>, BudgetSetupError> {
    let leased = matches!(mode, RoleMode::Single | RoleMode::PerOrg);
    let Some(settings) = redis_settings(&config.store).filter(|_| leased) else {
        return Ok(None);
    };
    if !config.rate_limit.shared {
        return Ok(None);
    }
    let board = board.clone();
    let peers: Arc<dyn Fn() -> usize + Send + Sync> = Arc::new(move || match board.mode() {
        RoleMode::PerOrg => board.members(),
        _ => 1,
    });
    Ok(Some(BudgetSharing {
        budgets: SharedBudgets::new(&settings)?,
        peers,
        recorder: recorder.clone(),
    }))
}

/// How this replica gets its role (README, "Running N replicas"):
/// - no Redis: the static role (a static follower without Redis is refused by validation);
/// - Redis, election disabled: a static follower never scrapes; a static leader takes the
///   global lease like an elected one, so a second static leader on the namespace is refused
///   loudly instead of double-writing;
/// - election enabled: one global lease (`single`) or one lease per org (`per_org`).
pub fn role_mode(config: &Config) -> RoleMode {
    let l = &config.leader_election;
    let shared = config.store.redis_url.is_some();
    match (l.enabled, l.mode, l.static_role, shared) {
        (true, ElectionMode::PerOrg, _, _) => RoleMode::PerOrg,
        (true, ElectionMode::Single, _, _) => RoleMode::Single,
        (false, _, StaticRole::Follower, _) => RoleMode::StaticFollower,
        (false, _, StaticRole::Leader, true) => RoleMode::Single,
        (false, _, StaticRole::Leader, false) => RoleMode::StaticLeader,
    }
}

/// The Redis lease elector when the role comes from leases.
/// What `/healthz` says about the election: the backend and the lease it is about.
pub fn election_info(config: &Config, backend: &'static str) -> crate::http::ElectionInfo {
    let l = &config.leader_election;
    let lease = if backend == "kubernetes" {
        let namespace = l.namespace.as_deref().unwrap_or("(default)");
        format!("Lease {namespace}/{}", l.lease_name)
    } else {
        let namespace = &config.store.namespace;
        format!("Redis key {namespace}:lease:{}", l.lease_name)
    };
    crate::http::ElectionInfo { backend, lease }
}

/// Why the elector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ElectorError {
    #[error("setting up the Redis lease elector")]
    Redis(#[source] election::ElectorSetupError),
    #[error("setting up the Kubernetes Lease elector")]
    Kubernetes(#[source] election::KubeSetupError),
}

pub(super) fn build_elector(
    config: &Config,
    mode: RoleMode,
) -> Result<Option<Arc<dyn LeaderElector>>, ElectorError> {
    if !matches!(mode, RoleMode::Single | RoleMode::PerOrg) {
        return Ok(None);
    }
    let Some(settings) = redis_settings(&config.store) else {
        return Ok(None);
    };
    let l = &config.leader_election;
    let orgs: Vec<String> = config.github.orgs.iter().map(|o| o.org.clone()).collect();
    let mut elector_settings = election::ElectorSettings::new(
        settings.url.clone(),
        settings.namespace.clone(),
        l.lease_name.clone(),
        l.identity.clone(),
    );
    elector_settings.topology = settings.topology.clone();
    elector_settings.tls_ca_file = settings.tls_ca_file.clone();
    elector_settings.lease_duration = l.lease_duration;
    elector_settings.retry_period = l.retry_period;
    elector_settings.orgs_fingerprint = gse_actors::election::assign::fingerprint(&orgs);
    // A static leader on a shared store takes the global lease of the Redis backend.
    let backend = if l.enabled {
        l.backend
    } else {
        ElectionBackend::Redis
    };
    match backend {
        ElectionBackend::Redis => {
            let elector =
                election::RedisElector::new(elector_settings).map_err(ElectorError::Redis)?;
            tracing::info!(identity = %l.identity, lease = %l.lease_name, mode = ?mode, "leader election on Redis leases");
            Ok(Some(Arc::new(elector)))
        }
        ElectionBackend::Kubernetes => {
            let elector = election::KubeElector::new(election::KubeSettings {
                namespace: l.namespace.clone(),
                redis: elector_settings,
            })
            .map_err(ElectorError::Kubernetes)?;
            tracing::info!(identity = %l.identity, lease = %l.lease_name, mode = ?mode, "leader election on Kubernetes Leases, fenced in Redis");
            Ok(Some(Arc::new(elector)))
        }
    }
}
