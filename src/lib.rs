//! github-stats-exporter: turns the activity of GitHub organizations into Prometheus metrics.
//!
//! This package holds the I/O: configuration loading ([`config`]), the adapters behind the
//! actors' ports ([`store`]), the actix-web layer ([`http`]), logging, and [`run`], which wires
//! the supervision tree and the HTTP server and returns when the process should exit. The
//! decisions (supervision, health, store refresh) live in the `gse-actors` crate.

pub mod cli;
pub mod config;
pub mod demo;
pub mod github;
mod health_view;
pub mod healthcheck;
pub mod http;
pub mod logging;
pub mod replica_metrics;
pub mod scraping;
pub mod store;

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use gse_actors::health::{HealthActor, Role};
use gse_actors::messages::StopScraping;
use gse_actors::scrape::events::LogObserver;
use gse_actors::scrape::memory_state::MemoryStateStore;
use gse_actors::scrape::pending::PendingBackfill;
use gse_actors::scrape::port::{Clock, ScrapeStateStore, SystemClock};
use gse_actors::store::{ExpositionCell, StoreActor};
use gse_actors::tick::ServiceHealthRegistry;

use crate::config::{Config, StaticRole};
use crate::http::{HttpLimits, HttpState, LandingInfo};
use crate::replica_metrics::ReplicaMetrics;
use crate::scraping::ScrapeDeps;
use crate::store::memory::MemoryStore;

/// Why [`run`] ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("starting the HTTP server")]
    Http(#[source] std::io::Error),
    #[error("the HTTP server stopped unexpectedly")]
    HttpStopped(#[source] std::io::Error),
    #[error("setting up the GitHub clients")]
    Github(#[source] github::setup::SetupError),
}

/// Dependencies `run` can be given instead of the production defaults (tests inject a clock
/// that follows the fake GitHub's).
pub struct RunOptions {
    pub clock: Arc<dyn Clock>,
    pub state_store: Arc<dyn ScrapeStateStore>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            clock: Arc::new(SystemClock),
            state_store: Arc::new(MemoryStateStore::new()),
        }
    }
}

/// Runs the exporter until `shutdown` resolves, then stops it gracefully within
/// `server.shutdown_timeout`. Must be called inside an actix `System`.
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
    let role = match config.leader_election.static_role {
        StaticRole::Leader => Role::Leader,
        StaticRole::Follower => Role::Follower,
    };
    let services = ServiceHealthRegistry::default();
    let health = HealthActor::new(role, &[gse_actors::store::COMPONENT], services.clone()).start();
    let exposition = Arc::new(ExpositionCell::new());
    let store = StoreActor::new(
        Arc::new(MemoryStore::new()),
        exposition.clone(),
        health.clone().recipient(),
        config.store.metric_refresh_interval,
    )
    .start();

    // INTERIM: missed windows are counted and logged until the BackfillDispatcher exists.
    let (pending, pending_collector) = PendingBackfill::new();
    let backfill = pending.start();
    let scrapers = if role == Role::Leader {
        let deps = ScrapeDeps {
            clock: options.clock,
            state_store: options.state_store,
            store: store.clone().recipient(),
            backfill: backfill.clone().recipient(),
            observer: Arc::new(LogObserver),
            epoch: 0,
        };
        scraping::start_scrapers(&config, &deps).map_err(RunError::Github)?
    } else {
        Vec::new()
    };

    let health_lookup = {
        let health = health.clone();
        Arc::new(move || Some(health.clone())) as http::HealthLookup
    };
    let state = HttpState {
        exposition,
        health: health_lookup,
        replica: Arc::new(ReplicaMetrics::new(vec![Box::new(pending_collector)])),
        landing: Arc::new(LandingInfo {
            version: env!("CARGO_PKG_VERSION"),
            orgs: config.github.orgs.iter().map(|o| o.org.clone()).collect(),
            store_backend: "memory",
            queue_backend: "memory",
        }),
        actor_timeout: Duration::from_secs(2),
    };
    let local_addr = listener.local_addr().ok();
    let server = http::serve(listener, state, HttpLimits::default()).map_err(RunError::Http)?;
    let handle = server.handle();
    tracing::info!(listen = ?local_addr, role = role.as_str(), "github-stats-exporter started");
    let server_task = actix_rt::spawn(server);

    tokio::pin!(shutdown);
    tokio::select! {
        () = &mut shutdown => {}
        result = server_task => {
            return match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(RunError::HttpStopped(error)),
                Err(join) => Err(RunError::HttpStopped(std::io::Error::other(join.to_string()))),
            };
        }
    }
    tracing::info!(
        timeout_s = config.server.shutdown_timeout.as_secs_f64(),
        "shutting down"
    );
    for scraper in &scrapers {
        scraper.do_send(StopScraping);
    }
    let stop = async {
        handle.stop(true).await;
        drop(scrapers);
        drop(backfill);
        drop(store);
        drop(health);
    };
    if tokio::time::timeout(config.server.shutdown_timeout, stop)
        .await
        .is_err()
    {
        tracing::warn!("graceful shutdown timed out; exiting anyway");
    }
    tracing::info!("stopped");
    Ok(())
}
