//! The supervision tree, one small function per subtree, in the order the root starts them
//! (ARCHITECTURE.md's diagram, top to bottom): `health`, `store`, the backfill subtree (`amqp`,
//! `backfill_dispatcher` or `backfill_pending`), `backfill_consumers`, `github_probe`,
//! `leadership`. Every function takes the [`Shared`] handles instead of a long argument list.

use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;
use gse_actors::backfill::{
    consumer::ConsumerShared, consumer_pool_spec, BackfillDispatcher, BackfillWorker,
    ConsumerSettings, DedupLocks, DispatcherSettings, JobQueue, JobStash, MemoryStash,
};
use gse_actors::election::board::RoleBoard;
use gse_actors::election::manager::{RoleManager, RoleMode, RoleSettings, ScraperHost, StaleWrite};
use gse_actors::election::{LeaderElector, StaleWriteHook};
use gse_actors::health::{ComponentStatus, HealthActor, HealthReporter, Role};
use gse_actors::messages::{EnqueueMissing, RoleChanged};
use gse_actors::observe::{MemRecorder, Observer};
use gse_actors::scrape::pending::{PendingBackfill, PendingBackfillCollector};
use gse_actors::scrape::progress::ScrapeProgress;
use gse_actors::service_health::ServiceHealthRegistry;
use gse_actors::store::{error_chain, ExpositionCell, StoreActor};
use gse_actors::supervisor::{
    ActorSlot, ChildSpec, StartedBefore, Strategy, SupervisorSlot, SupervisorSpec,
};
use gse_actors::tick::TickRunner;

use super::adapters::{redis_settings, SharedMetricStore, GITHUB_PROBE_INTERVAL};
use super::copilot::CopilotActors;
use super::scrapers;
use super::RunError;
use crate::config::{Config, StaticRole};
use crate::queue::dedup_redis::RedisDedup;
use crate::queue::rabbit::RabbitQueue;
use crate::queue::stash_redis::RedisStash;

/// The handles every subtree shares: the current incarnation of each long-lived actor (its
/// slot), the health reporter, the metrics recorder, the observer seam and the role board.
#[derive(Clone)]
pub(super) struct Shared {
    pub recorder: Arc<MemRecorder>,
    pub services: ServiceHealthRegistry,
    pub health_slot: ActorSlot<HealthActor>,
    pub store_slot: ActorSlot<StoreActor>,
    pub roles_slot: ActorSlot<RoleManager>,
    pub reporter: HealthReporter,
    pub board: RoleBoard,
    /// Where a writer whose write was rejected as stale sends the news: the RoleManager.
    pub on_stale: StaleWriteHook,
}

impl Shared {
    pub fn new(recorder: Arc<MemRecorder>, board: RoleBoard) -> Shared {
        let health_slot = ActorSlot::<HealthActor>::new();
        let roles_slot = ActorSlot::<RoleManager>::new();
        let on_stale: StaleWriteHook = {
            let slot = roles_slot.clone();
            Arc::new(move |grant| {
                if let Some(roles) = slot.get() {
                    roles.do_send(StaleWrite(grant));
                }
            })
        };
        Shared {
            recorder,
            services: ServiceHealthRegistry::new(),
            reporter: HealthReporter::from_slot(health_slot.clone()),
            health_slot,
            store_slot: ActorSlot::<StoreActor>::new(),
            roles_slot,
            board,
            on_stale,
        }
    }

    /// The StoreActor's current incarnation, as the scrapers and Copilot actors find it.
    pub fn store_lookup<M>(&self) -> StartedBefore<M>
    where
        StoreActor: actix::Handler<M>,
        M: actix::Message + Send + 'static,
        M::Result: Send,
    {
        StartedBefore::slot("the store actor", &self.store_slot)
    }
}

/// `health`: component states → `/livez`, `/readyz`, `/healthz`; roles read from the board.
pub(super) fn health(
    shared: &Shared,
    role: Role,
    ready_components: Vec<&'static str>,
    progress: ScrapeProgress,
) -> ChildSpec {
    let (services, board) = (shared.services.clone(), shared.board.clone());
    ChildSpec::actor_in(&shared.health_slot, "health", move |_| {
        HealthActor::new(role, &ready_components, services.clone())
            .with_scrape_progress(progress.clone())
            .with_role_board(board.clone())
    })
}

/// `store`: the MetricStore and the pre-rendered exposition `/metrics` serves.
pub(super) fn store(
    shared: &Shared,
    metric_store: SharedMetricStore,
    exposition: Arc<ExpositionCell>,
    refresh: Duration,
) -> ChildSpec {
    let (reporter, on_stale, recorder) = (
        shared.reporter.clone(),
        shared.on_stale.clone(),
        shared.recorder.clone(),
    );
    ChildSpec::actor_in(&shared.store_slot, "store", move |_| {
        StoreActor::new(
            metric_store.clone(),
            exposition.clone(),
            reporter.clone(),
            refresh,
        )
        .with_stale_hook(on_stale.clone())
        .with_recorder(recorder.clone())
    })
}

/// What the backfill subtree gives the rest of the tree.
pub(super) struct Backfill {
    /// `amqp` (when RabbitMQ is configured) and `backfill_dispatcher`, or `backfill_pending`.
    pub children: Vec<ChildSpec>,
    /// Where scrapers send missed windows.
    pub sink: StartedBefore<EnqueueMissing>,
    /// Windows not queued because backfill is disabled (`/metrics/replica`).
    pub pending: PendingBackfillCollector,
}

/// The backfill subtree: with `backfill.enabled`, the RabbitMQ connection (when configured)
/// and the dispatcher — dedup locks and its job stash in Redis when configured, else in this
/// process (`memory_stash`, whose leftovers are counted lost at exit); otherwise a sink that
/// logs and counts the windows it is sent.
pub(super) fn backfill(
    config: &Config,
    shared: &Shared,
    queue: Arc<dyn JobQueue>,
    rabbit: Option<&RabbitQueue>,
    memory_stash: Arc<MemoryStash>,
) -> Result<Backfill, RunError> {
    let (_, pending) = PendingBackfill::new();
    if !config.backfill.enabled {
        let collector = pending.clone();
        let slot = ActorSlot::new();
        let spec = ChildSpec::actor_in(&slot, "backfill_pending", move |_| {
            PendingBackfill::sharing(&collector)
        });
        return Ok(Backfill {
            children: vec![spec],
            sink: StartedBefore::slot("backfill_pending", &slot),
            pending,
        });
    }
    let mut children = Vec::new();
    if let Some(rabbit) = rabbit {
        children.push(rabbit.connection_child(Some(shared.reporter.clone())));
    }
    let capacity = usize::try_from(config.backfill.buffer_capacity).unwrap_or(usize::MAX);
    // Dedup locks shared by every replica when Redis is configured (two replicas never enqueue
    // the same window), else in this process.
    let dedup: Option<Arc<dyn DedupLocks>> = match redis_settings(&config.store) {
        Some(settings) => Some(Arc::new(
            RedisDedup::new(&settings).map_err(RunError::Dedup)?,
        )),
        None => None,
    };
    let stash: Arc<dyn JobStash> = match redis_settings(&config.store) {
        Some(settings) => Arc::new(RedisStash::new(&settings, capacity).map_err(RunError::Stash)?),
        None => memory_stash,
    };
    let (recorder, b) = (shared.recorder.clone(), config.backfill.clone());
    let slot = ActorSlot::new();
    children.push(ChildSpec::actor_in(
        &slot,
        "backfill_dispatcher",
        move |_| {
            let mut settings = DispatcherSettings::new(
                b.coalesce_window,
                b.dedup_ttl,
                b.max_enqueues_per_org_per_minute,
                b.max_attempts,
            );
            settings.buffer_capacity = capacity;
            let dispatcher = BackfillDispatcher::new(settings, queue.clone(), recorder.clone())
                .with_stash(stash.clone());
            match &dedup {
                Some(dedup) => dispatcher.with_dedup(dedup.clone()),
                None => dispatcher,
            }
        },
    ));
    Ok(Backfill {
        children,
        sink: StartedBefore::slot("backfill_dispatcher", &slot),
        pending,
    })
}

/// `backfill_consumers`: the consumer pool, on every replica (leader included).
pub(super) fn consumers(
    config: &Config,
    shared: &Shared,
    queue: Arc<dyn JobQueue>,
    worker: Arc<dyn BackfillWorker>,
    observer: Arc<dyn Observer>,
) -> ChildSpec {
    consumer_pool_spec(ConsumerShared::new(
        queue,
        worker,
        observer,
        shared.recorder.clone(),
        ConsumerSettings {
            consumer_count: config.backfill.consumer_count,
            prefetch: u16::try_from(config.backfill.prefetch).unwrap_or(u16::MAX),
            max_message_age: config.backfill.max_message_age,
        },
    ))
}

/// `github_probe`: `GET {api_base_url}meta` every 30 s → component `github`.
pub(super) fn github_probe(config: &Config, shared: &Shared, client: reqwest::Client) -> ChildSpec {
    let (base, reporter) = (config.github.api_base_url.clone(), shared.reporter.clone());
    TickRunner::new("github_probe", GITHUB_PROBE_INTERVAL, &shared.services)
        .first_tick_jitter(Duration::ZERO)
        .into_child(move || {
            let (client, base, reporter) = (client.clone(), base.clone(), reporter.clone());
            async move {
                let result = crate::github::probe::probe_meta(&client, &base).await;
                let status = match &result {
                    Ok(()) => ComponentStatus::Up,
                    Err(error) => ComponentStatus::Down(error_chain(error)),
                };
                reporter.report("github", status, false);
                result.map_err(|error| error_chain(&error))
            }
        })
}

/// `leadership` (one_for_all): the `orgs` supervisor (scrapers, started empty) and the
/// RoleManager that fills it. A new RoleManager never finds scrapers it did not start.
pub(super) fn leadership(
    config: &Config,
    shared: &Shared,
    mode: RoleMode,
    elector: Option<Arc<dyn LeaderElector>>,
    scrapers: Arc<scrapers::OrgScrapers>,
    copilot: Option<Arc<CopilotActors>>,
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
    let host: Arc<dyn ScraperHost> = Arc::new(scrapers::SupervisedScrapers {
        scrapers,
        orgs: orgs_slot.clone(),
        copilot,
    });
    let health_slot = shared.health_slot.clone();
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
    let shared = shared.clone();
    ChildSpec::supervisor("leadership", move || {
        let orgs_spec = scrapers::orgs_supervisor_in(&orgs_slot);
        let (settings, elector, host, announce, shared) = (
            settings.clone(),
            elector.clone(),
            host.clone(),
            announce.clone(),
            shared.clone(),
        );
        let roles_spec = ChildSpec::actor_in(&shared.roles_slot.clone(), "roles", move |_| {
            RoleManager::new(
                settings.clone(),
                elector.clone(),
                host.clone(),
                shared.reporter.clone(),
                announce.clone(),
                shared.recorder.clone(),
            )
            .with_board(shared.board.clone())
        })
        .shutdown_timeout(stop_timeout);
        SupervisorSpec::new("leadership", Strategy::OneForAll)
            .child(orgs_spec)
            .child(roles_spec)
    })
}
