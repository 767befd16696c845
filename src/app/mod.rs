//! The composition root: [`run`] builds the adapters the configuration asks for
//! ([`adapters`]), the supervision tree ([`tree`], one function per subtree) and the HTTP
//! server, and owns the shutdown sequence. Nothing else in the crate wires actors together.
//!
//! [`scrapers`] wires the per-org scrapers the RoleManager starts and stops, [`github`] builds
//! one GitHub client per org (credentials and rate governors shared per credential), and
//! [`copilot`] the Copilot actors that go with each org's scraper.

pub mod adapters;
pub mod copilot;
pub mod github;
pub mod scrapers;
mod tree;

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use gse_actors::backfill::MemoryStash;
use gse_actors::election::board::RoleBoard;
use gse_actors::election::manager::RoleMode;
use gse_actors::health::{HealthObserver, Role};
use gse_actors::observe::{
    LogObserver, MemCollector, MemRecorder, MetricsObserver, Multi, Observer, Recorder,
};
use gse_actors::scrape::events::{ScrapeObservers, SeamObserver};
use gse_actors::scrape::port::{Clock, ScrapeStateStore, SystemClock};
use gse_actors::scrape::progress::ScrapeProgress;
use gse_actors::store::ExpositionCell;
use gse_actors::supervisor::{self, Backoff, Intensity, Strategy, SupervisorExit, SupervisorSpec};

use crate::config::Config;
use crate::http::{self, HttpLimits, HttpState, LandingInfo};
use crate::queue;
use crate::replica_metrics::ReplicaMetrics;
use crate::store::redis::RedisSetupError;
use adapters::{build_elector, build_queue, build_store, role_mode};
use gse_actors::backfill::catch_up;
use gse_actors::backfill::route::JobRouter;
use gse_actors::backfill::BackfillWorker;
use gse_actors::copilot::backfill::CopilotDayWorker;
use scrapers::ScrapeDeps;
use tree::Shared;

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
    Github(#[source] github::SetupError),
    #[error("setting up the Redis backfill dedup table")]
    Dedup(#[source] queue::dedup_redis::DedupSetupError),
    #[error("setting up the Redis backfill job stash")]
    Stash(#[source] queue::stash_redis::StashSetupError),
    #[error(transparent)]
    Elector(#[from] adapters::ElectorError),
    #[error("setting up the shared rate budget")]
    Budget(#[source] crate::github::shared_budget::BudgetSetupError),
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
    let elector = build_elector(&config, role_mode)?;
    let election = elector
        .as_ref()
        .map(|e| adapters::election_info(&config, e.backend()));
    let (metric_store, configured_state) = build_store(&config.store).map_err(RunError::Store)?;
    let github_client = crate::github::http_client(
        config.github.request_timeout,
        &config.leader_election.identity,
    )
    .map_err(RunError::GithubClient)?;
    let (job_queue, rabbit) = build_queue(&config);
    let mut ready_components = vec![gse_actors::store::COMPONENT];
    if rabbit.is_some() && config.backfill.enabled {
        ready_components.push(queue::rabbit::COMPONENT);
    }
    // The roles as readers see them: posted by the RoleManager, judged at read time.
    let board = RoleBoard::new(
        role_mode,
        config.github.orgs.iter().map(|o| o.org.clone()).collect(),
    );
    let shared = Shared::new(Arc::new(MemRecorder::new()), board);
    let exposition = Arc::new(ExpositionCell::new());
    let progress = ScrapeProgress::new();
    let observer: Arc<dyn Observer> = Arc::new(Multi::new(vec![
        Arc::new(LogObserver),
        Arc::new(MetricsObserver::new(shared.recorder.clone())),
        Arc::new(HealthObserver::new(shared.reporter.clone())),
    ]));

    // Root tree, started in this order and stopped in reverse. rest_for_one: a restarted
    // HealthActor restarts everything after it, so every component reports afresh.
    let mut root_spec = SupervisorSpec::new("root", Strategy::RestForOne)
        .observer(observer.clone())
        .intensity(Intensity::default())
        .backoff(Backoff::default())
        .child(tree::health(
            &shared,
            role,
            ready_components,
            progress.clone(),
        ))
        .child(tree::store(
            &shared,
            metric_store.clone(),
            exposition.clone(),
            config.store.metric_refresh_interval,
        ));
    // Unpublished backfill jobs outlive a dispatcher: in Redis when configured (they outlive
    // the process too), else in memory (lost, counted and logged, when it stops).
    let capacity = usize::try_from(config.backfill.buffer_capacity).unwrap_or(usize::MAX);
    let memory_stash = Arc::new(MemoryStash::new(capacity));
    let backfill = tree::backfill(
        &config,
        &shared,
        job_queue.clone(),
        rabbit.as_ref(),
        memory_stash.clone(),
    )?;
    for child in backfill.children {
        root_spec = root_spec.child(child);
    }

    // Scrapers: the RoleManager starts one per org this replica owns, under the grant of the
    // lease that makes it the owner.
    let state_store = options.state_store.unwrap_or(configured_state);
    let deps = ScrapeDeps {
        clock: options.clock.clone(),
        state_store: state_store.clone(),
        store: shared.store_lookup(),
        backfill: backfill.sink.clone(),
        observer: Arc::new(ScrapeObservers(vec![
            Arc::new(SeamObserver(observer.clone())),
            Arc::new(progress),
        ])),
        on_stale: Some(shared.on_stale.clone()),
    };
    let recorder: Arc<dyn Recorder> = shared.recorder.clone();
    let sharing = adapters::budget_sharing(&config, role_mode, &shared.board, &recorder)
        .map_err(RunError::Budget)?;
    let scrapers = Arc::new(
        scrapers::OrgScrapers::new(&config, deps, sharing.as_ref()).map_err(RunError::Github)?,
    );
    // Copilot actors go with each org's scraper (same owner, same grant), in their own store
    // partition.
    let copilot_actors = copilot::CopilotActors::new(
        &config,
        scrapers.clients(),
        shared.store_lookup(),
        backfill.sink,
        shared.reporter.clone(),
        options.clock,
    )
    .map_err(RunError::Github)?
    .map(Arc::new);
    if config.backfill.enabled {
        let catch_up = catch_up::CatchUpWorker {
            state: state_store,
            scrapers: scrapers.slots(),
        };
        let worker = JobRouter {
            activity: Arc::new(catch_up),
            copilot: copilot_actors.as_ref().map(|c| {
                Arc::new(CopilotDayWorker { actors: c.slots() }) as Arc<dyn BackfillWorker>
            }),
        };
        root_spec = root_spec.child(tree::consumers(
            &config,
            &shared,
            job_queue.clone(),
            Arc::new(worker),
            observer.clone(),
        ));
    }
    root_spec = root_spec
        .child(tree::github_probe(&config, &shared, github_client))
        .child(tree::leadership(
            &config,
            &shared,
            role_mode,
            elector,
            scrapers,
            copilot_actors,
        ));
    let root = supervisor::start(root_spec);

    let health_lookup: http::HealthLookup = {
        let slot = shared.health_slot.clone();
        Arc::new(move || slot.get())
    };
    let state = HttpState {
        exposition,
        health: health_lookup,
        replica: Arc::new(ReplicaMetrics::new(vec![
            Box::new(MemCollector::new(shared.recorder.clone())),
            Box::new(backfill.pending),
        ])),
        landing: Arc::new(LandingInfo {
            version: env!("CARGO_PKG_VERSION"),
            orgs: config.github.orgs.iter().map(|o| o.org.clone()).collect(),
            store_backend: metric_store.backend(),
            queue_backend: job_queue.backend(),
            election,
        }),
        actor_timeout: Duration::from_secs(2),
        queue: config.backfill.enabled.then(|| job_queue.clone()),
        roles: shared.board.clone(),
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
    report_lost_jobs(&memory_stash, shared.recorder.as_ref());
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
