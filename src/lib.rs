//! github-stats-exporter: turns the activity of GitHub organizations into Prometheus metrics.
//!
//! This package holds the I/O: configuration loading ([`config`]), the adapters behind the
//! actors' ports ([`store`]), the actix-web layer ([`http`]), logging, and [`run`], which wires
//! the supervision tree and the HTTP server and returns when the process should exit. The
//! decisions (supervision, health, store refresh) live in the `gse-actors` crate.

#![forbid(unsafe_code)]

pub mod backfill_worker;
pub mod cli;
pub mod config;
pub mod copilot;
#[cfg(feature = "demo")]
pub mod demo;
pub mod election;
pub mod github;
mod health_view;
pub mod healthcheck;
pub mod http;
pub mod logging;
pub mod queue;
pub mod replica_metrics;
pub mod scraping;
pub mod store;

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;
use gse_actors::backfill::DedupLocks;
use gse_actors::backfill::{
    consumer::ConsumerShared, consumer_pool_spec, BackfillDispatcher, ConsumerSettings,
    DispatcherSettings, JobQueue, JobStash, MemoryStash,
};
use gse_actors::health::{ComponentStatus, HealthActor, HealthObserver, HealthReporter, Role};
use gse_actors::messages::EnqueueMissing;
use gse_actors::messages::RoleChanged;
use gse_actors::observe::{
    LogObserver, MemCollector, MemRecorder, MetricsObserver, Multi, Observer, Recorder,
};
use gse_actors::ports::MetricStore;
use gse_actors::roles::board::RoleBoard;
use gse_actors::roles::manager::{RoleManager, RoleMode, RoleSettings, ScraperHost, StaleWrite};
use gse_actors::roles::{LeaderElector, StaleWriteHook};
use gse_actors::scrape::events::{ScrapeObservers, SeamObserver};
use gse_actors::scrape::memory_state::MemoryStateStore;
use gse_actors::scrape::pending::PendingBackfill;
use gse_actors::scrape::port::{Clock, ScrapeStateStore, SystemClock};
use gse_actors::scrape::progress::ScrapeProgress;
use gse_actors::service_health::ServiceHealthRegistry;
use gse_actors::store::{error_chain, ExpositionCell, StoreActor};
use gse_actors::supervisor::{
    self, ActorSlot, Backoff, ChildSpec, Intensity, Strategy, SupervisorExit, SupervisorSlot,
    SupervisorSpec,
};
use gse_actors::tick::TickRunner;

use crate::config::{Config, ElectionMode, RedisMode, StaticRole, StoreConfig};
use crate::http::{HttpLimits, HttpState, LandingInfo};
use crate::queue::dedup_redis::RedisDedup;
use crate::queue::memory::MemoryQueue;
use crate::queue::names::QueueNames;
use crate::queue::rabbit::RabbitQueue;
use crate::queue::stash_redis::RedisStash;
use crate::replica_metrics::ReplicaMetrics;
use crate::scraping::ScrapeDeps;
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

/// Why [`run`] ended abnormally (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("starting the HTTP server")]
    Http(#[source] std::io::Error),
    #[error("the HTTP server stopped unexpectedly")]
    HttpStopped(#[source] std::io::Error),
    #[error("building the GitHub HTTP client")]
    GithubClient(#[source] reqwest::Error),
    #[error("setting up the Redis metric store")]
    Store(#[source] RedisSetupError),
    #[error("the root supervisor gave up: {0}")]
    SupervisorGaveUp(String),
    #[error("setting up the GitHub clients")]
    Github(#[source] github::setup::SetupError),
    #[error("setting up the Redis backfill dedup table")]
    Dedup(#[source] queue::dedup_redis::DedupSetupError),
    #[error("setting up the Redis backfill job stash")]
    Stash(#[source] queue::stash_redis::StashSetupError),
    #[error("setting up the Redis lease elector")]
    Elector(#[source] election::ElectorSetupError),
}

/// Dependencies `run` can be given instead of the production defaults (tests inject a clock
/// that follows the fake GitHub's).
pub struct RunOptions {
    pub clock: Arc<dyn Clock>,
    /// `None`: the store the configuration implies (Redis when `store.redis_url` is set).
    pub state_store: Option<Arc<dyn ScrapeStateStore>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            clock: Arc::new(SystemClock),
            state_store: None,
        }
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

/// How this replica gets its role (SPEC §8):
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
fn build_elector(
    config: &Config,
    mode: RoleMode,
) -> Result<Option<Arc<dyn LeaderElector>>, election::ElectorSetupError> {
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
    elector_settings.orgs_fingerprint = gse_actors::roles::assign::fingerprint(&orgs);
    let elector = election::RedisElector::new(elector_settings)?;
    tracing::info!(identity = %l.identity, lease = %l.lease_name, mode = ?mode, "leader election on Redis leases");
    Ok(Some(Arc::new(elector)))
}

/// The `leadership` supervisor: the `orgs` supervisor (scrapers, started empty) and the
/// RoleManager that fills it, one_for_all.
#[allow(clippy::too_many_arguments)]
fn leadership_spec(
    config: &Config,
    mode: RoleMode,
    elector: Option<Arc<dyn LeaderElector>>,
    scrapers: Arc<scraping::OrgScrapers>,
    copilot: Option<Arc<copilot::setup::CopilotActors>>,
    roles_slot: ActorSlot<RoleManager>,
    health_slot: ActorSlot<HealthActor>,
    reporter: HealthReporter,
    recorder: Arc<MemRecorder>,
    board: RoleBoard,
) -> ChildSpec {
    let l = &config.leader_election;
    let settings = RoleSettings {
        mode,
        orgs: config.github.orgs.iter().map(|o| o.org.clone()).collect(),
        lease_duration: l.lease_duration,
        renew_deadline: l.renew_deadline,
        retry_period: l.retry_period,
        rebalance_delay: l.rebalance_delay,
        max_orgs_per_replica: l.max_orgs_per_replica as usize,
        static_leader_on_lease: !l.enabled && l.static_role == StaticRole::Leader,
    };
    let orgs_slot = SupervisorSlot::new();
    let host: Arc<dyn ScraperHost> = Arc::new(scraping::SupervisedScrapers {
        scrapers,
        orgs: orgs_slot.clone(),
        copilot,
    });
    let announce: Arc<dyn Fn() -> Vec<Recipient<RoleChanged>> + Send + Sync> =
        Arc::new(move || {
            health_slot
                .get()
                .map(|a| a.recipient())
                .into_iter()
                .collect()
        });
    // Stopping scrapers and releasing leases must fit in the RoleManager's stop.
    let stop_timeout = l.retry_period.max(Duration::from_secs(5));
    ChildSpec::supervisor("leadership", move || {
        let orgs_spec = scraping::orgs_supervisor_in(&orgs_slot);
        let (settings, elector, host, reporter, announce, recorder, board) = (
            settings.clone(),
            elector.clone(),
            host.clone(),
            reporter.clone(),
            announce.clone(),
            recorder.clone(),
            board.clone(),
        );
        let roles_spec = ChildSpec::actor_in(&roles_slot, "roles", move |_| {
            RoleManager::new(
                settings.clone(),
                elector.clone(),
                host.clone(),
                reporter.clone(),
                announce.clone(),
                recorder.clone(),
            )
            .with_board(board.clone())
        })
        .shutdown_timeout(stop_timeout);
        SupervisorSpec::new("leadership", Strategy::OneForAll)
            .child(orgs_spec)
            .child(roles_spec)
    })
}

/// Runs the exporter until `shutdown` resolves, then stops it gracefully within
/// `server.shutdown_timeout`: the supervision tree in reverse start order, then the HTTP
/// server. Returns an error when the root supervisor gives up. Must be called inside an actix
/// `System`.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    run_with(config, listener, shutdown, RunOptions::default()).await
}

/// [`run`] with injected dependencies.
pub async fn run_with(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    options: RunOptions,
) -> Result<(), RunError> {
    let role_mode = role_mode(&config);
    let role = if role_mode == RoleMode::StaticLeader {
        Role::Leader
    } else {
        Role::Follower
    };
    let elector = build_elector(&config, role_mode).map_err(RunError::Elector)?;
    // Where a writer whose write was rejected as stale sends the news: the RoleManager.
    let roles_slot = ActorSlot::<RoleManager>::new();
    let on_stale: StaleWriteHook = {
        let slot = roles_slot.clone();
        Arc::new(move |grant| {
            if let Some(roles) = slot.get() {
                roles.do_send(StaleWrite(grant));
            }
        })
    };
    let services = ServiceHealthRegistry::new();
    let recorder = Arc::new(MemRecorder::new());
    let exposition = Arc::new(ExpositionCell::new());
    let (metric_store, configured_state) = build_store(&config.store).map_err(RunError::Store)?;
    let github_client = github::http_client(
        config.github.request_timeout,
        &config.leader_election.identity,
    )
    .map_err(RunError::GithubClient)?;
    let (job_queue, rabbit) = build_queue(&config);
    let mut ready_components = vec![gse_actors::store::COMPONENT];
    if rabbit.is_some() && config.backfill.enabled {
        ready_components.push(queue::rabbit::COMPONENT);
    }

    // Root tree, started in this order and stopped in reverse. rest_for_one: a restarted
    // HealthActor restarts everything after it, so every component reports afresh.
    let scrape_progress = ScrapeProgress::new();
    // The roles as readers see them: posted by the RoleManager, judged at read time.
    let role_board = RoleBoard::new(
        role_mode,
        config.github.orgs.iter().map(|o| o.org.clone()).collect(),
    );
    let (health_spec, health_slot) = {
        let services = services.clone();
        let scrape_progress = scrape_progress.clone();
        let role_board = role_board.clone();
        ChildSpec::actor("health", move |_| {
            HealthActor::new(role, &ready_components, services.clone())
                .with_scrape_progress(scrape_progress.clone())
                .with_role_board(role_board.clone())
        })
    };
    let reporter = HealthReporter::from_slot(health_slot.clone());
    let (store_spec, store_slot) = {
        let (metric_store, exposition, reporter, on_stale, recorder) = (
            metric_store.clone(),
            exposition.clone(),
            reporter.clone(),
            on_stale.clone(),
            recorder.clone(),
        );
        let refresh = config.store.metric_refresh_interval;
        ChildSpec::actor("store", move |_| {
            StoreActor::new(
                metric_store.clone(),
                exposition.clone(),
                reporter.clone(),
                refresh,
            )
            .with_stale_hook(on_stale.clone())
            .with_recorder(recorder.clone())
        })
    };
    let github_probe = {
        let (client, base, reporter) = (
            github_client.clone(),
            config.github.api_base_url.clone(),
            reporter.clone(),
        );
        TickRunner::new("github_probe", GITHUB_PROBE_INTERVAL, &services)
            .first_tick_jitter(Duration::ZERO)
            .into_child(move || {
                let (client, base, reporter) = (client.clone(), base.clone(), reporter.clone());
                async move {
                    let result = github::probe::probe_meta(&client, &base).await;
                    let status = match &result {
                        Ok(()) => ComponentStatus::Up,
                        Err(error) => ComponentStatus::Down(error_chain(error)),
                    };
                    reporter.report("github", status, false);
                    result.map_err(|error| error_chain(&error))
                }
            })
    };
    let observer: Arc<dyn Observer> = Arc::new(Multi::new(vec![
        Arc::new(LogObserver),
        Arc::new(MetricsObserver::new(recorder.clone())),
        Arc::new(HealthObserver::new(reporter.clone())),
    ]));
    let mut root_spec = SupervisorSpec::new("root", Strategy::RestForOne)
        .observer(observer.clone())
        .intensity(Intensity::default())
        .backoff(Backoff::default())
        .child(health_spec)
        .child(store_spec);

    // Where scrapers send missed windows: the BackfillDispatcher, or (backfill disabled) a sink
    // that logs and counts them in gh_exporter_backfill_windows_not_queued_total.
    let (_, pending_collector) = PendingBackfill::new();
    // Unpublished backfill jobs outlive a dispatcher here: in Redis when configured (they
    // outlive the process too), else in memory (lost, counted and logged, when it stops).
    let buffer_capacity = usize::try_from(config.backfill.buffer_capacity).unwrap_or(usize::MAX);
    let memory_stash = Arc::new(MemoryStash::new(buffer_capacity));
    let backfill_lookup: scraping::RecipientLookup<EnqueueMissing> = if config.backfill.enabled {
        if let Some(rabbit) = &rabbit {
            root_spec = root_spec.child(rabbit.connection_child(Some(reporter.clone())));
        }
        // Dedup locks shared by every replica when Redis is configured (two replicas never
        // enqueue the same window), else in this process.
        let shared_dedup: Option<Arc<dyn DedupLocks>> = match redis_settings(&config.store) {
            Some(settings) => Some(Arc::new(
                RedisDedup::new(&settings).map_err(RunError::Dedup)?,
            )),
            None => None,
        };
        let stash: Arc<dyn JobStash> = match redis_settings(&config.store) {
            Some(settings) => {
                Arc::new(RedisStash::new(&settings, buffer_capacity).map_err(RunError::Stash)?)
            }
            None => memory_stash.clone(),
        };
        let (dispatcher_spec, dispatcher_slot) = {
            let (queue, recorder, b) =
                (job_queue.clone(), recorder.clone(), config.backfill.clone());
            ChildSpec::actor("backfill_dispatcher", move |_| {
                let mut settings = DispatcherSettings::new(
                    b.coalesce_window,
                    b.dedup_ttl,
                    b.max_enqueues_per_org_per_minute,
                    b.max_attempts,
                );
                settings.buffer_capacity = buffer_capacity;
                let dispatcher = BackfillDispatcher::new(settings, queue.clone(), recorder.clone())
                    .with_stash(stash.clone());
                match &shared_dedup {
                    Some(dedup) => dispatcher.with_dedup(dedup.clone()),
                    None => dispatcher,
                }
            })
        };
        root_spec = root_spec.child(dispatcher_spec);
        Arc::new(move || dispatcher_slot.get().map(|a| a.recipient()))
    } else {
        let collector = pending_collector.clone();
        let (pending_spec, pending_slot) = ChildSpec::actor("backfill_pending", move |_| {
            PendingBackfill::sharing(&collector)
        });
        root_spec = root_spec.child(pending_spec);
        Arc::new(move || pending_slot.get().map(|a| a.recipient()))
    };

    // Scrapers: the RoleManager starts one per org this replica owns, under the grant of the
    // lease that makes it the owner, in the `orgs` supervisor; both live in the `leadership`
    // supervisor (one_for_all: a new RoleManager never finds scrapers it did not start).
    let state_store = options.state_store.unwrap_or(configured_state);
    let copilot_clock = options.clock.clone();
    let deps = ScrapeDeps {
        clock: options.clock,
        state_store: state_store.clone(),
        store: {
            let slot = store_slot.clone();
            Arc::new(move || slot.get().map(|a| a.recipient()))
        },
        backfill: backfill_lookup,
        observer: Arc::new(ScrapeObservers(vec![
            Arc::new(SeamObserver(observer.clone())),
            Arc::new(scrape_progress),
        ])),
        on_stale: Some(on_stale.clone()),
    };
    let scrapers = Arc::new(scraping::OrgScrapers::new(&config, deps).map_err(RunError::Github)?);
    // Copilot actors go with each org's scraper (same owner, same grant), in their own store
    // partition.
    let copilot_actors = copilot::setup::CopilotActors::new(
        &config,
        scrapers.clients(),
        {
            let slot = store_slot.clone();
            Arc::new(move || slot.get().map(|a| a.recipient()))
        },
        reporter.clone(),
        copilot_clock,
    )
    .map_err(RunError::Github)?
    .map(Arc::new);

    // Consumers run on every replica, leader included.
    if config.backfill.enabled {
        let worker = backfill_worker::CatchUpWorker {
            state: state_store,
            scrapers: scrapers.slots(),
        };
        root_spec = root_spec.child(consumer_pool_spec(ConsumerShared::new(
            job_queue.clone(),
            Arc::new(worker),
            observer.clone(),
            recorder.clone(),
            ConsumerSettings {
                consumer_count: config.backfill.consumer_count,
                prefetch: u16::try_from(config.backfill.prefetch).unwrap_or(u16::MAX),
                max_message_age: config.backfill.max_message_age,
            },
        )));
    }
    root_spec = root_spec.child(github_probe);
    root_spec = root_spec.child(leadership_spec(
        &config,
        role_mode,
        elector,
        scrapers,
        copilot_actors,
        roles_slot,
        health_slot.clone(),
        reporter.clone(),
        recorder.clone(),
        role_board,
    ));
    let root = supervisor::start(root_spec);

    let health_lookup: http::HealthLookup = {
        let slot = health_slot.clone();
        Arc::new(move || slot.get())
    };
    let state = HttpState {
        exposition,
        health: health_lookup,
        replica: Arc::new(ReplicaMetrics::new(vec![
            Box::new(MemCollector::new(recorder.clone())),
            Box::new(pending_collector),
        ])),
        landing: Arc::new(LandingInfo {
            version: env!("CARGO_PKG_VERSION"),
            orgs: config.github.orgs.iter().map(|o| o.org.clone()).collect(),
            store_backend: metric_store.backend(),
            queue_backend: job_queue.backend(),
        }),
        actor_timeout: Duration::from_secs(2),
        queue: config.backfill.enabled.then(|| job_queue.clone()),
    };
    let local_addr = listener.local_addr().ok();
    let server = http::serve(listener, state, HttpLimits::default()).map_err(RunError::Http)?;
    let handle = server.handle();
    tracing::info!(listen = ?local_addr, role = role.as_str(), store = metric_store.backend(), "github-stats-exporter started");
    let mut server_task = actix_rt::spawn(server);

    tokio::pin!(shutdown);
    let outcome = tokio::select! {
        () = &mut shutdown => Ok(()),
        reason = root.gave_up() => Err(RunError::SupervisorGaveUp(reason)),
        result = &mut server_task => match result {
            Ok(Ok(())) => Err(RunError::HttpStopped(std::io::Error::other("server future ended"))),
            Ok(Err(error)) => Err(RunError::HttpStopped(error)),
            Err(join) => Err(RunError::HttpStopped(std::io::Error::other(join.to_string()))),
        },
    };
    let deadline = config.server.shutdown_timeout;
    tracing::info!(timeout_s = deadline.as_secs_f64(), "shutting down");
    let started = tokio::time::Instant::now();
    match root.shutdown(deadline).await {
        SupervisorExit::Stopped => tracing::info!("actors stopped"),
        SupervisorExit::GaveUp(reason) => {
            tracing::warn!(reason = %reason, "actors had already given up")
        }
        SupervisorExit::DeadlineExceeded => {
            tracing::warn!("actors did not stop in time and were aborted")
        }
    }
    report_lost_jobs(&memory_stash, recorder.as_ref());
    let left = deadline.saturating_sub(started.elapsed());
    if tokio::time::timeout(left, handle.stop(true)).await.is_err() {
        tracing::warn!("HTTP server did not drain in time");
    }
    tracing::info!("stopped");
    outcome
}

/// Jobs still in the in-memory stash when the process ends are lost: counted in
/// `gh_exporter_backfill_jobs_lost_total` and logged at error with the count.
fn report_lost_jobs(stash: &MemoryStash, recorder: &dyn Recorder) {
    let lost = stash.drain_lost();
    if lost.is_empty() {
        return;
    }
    for job in &lost {
        recorder.count(
            &gse_actors::backfill::metrics::LOST,
            &[("org", &job.org), ("reason", job.reason.as_str())],
            1,
        );
    }
    tracing::error!(
        jobs = lost.len(),
        "backfill jobs lost at exit: RabbitMQ was unreachable and no Redis is configured to keep them"
    );
}
