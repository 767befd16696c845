//! The decisions of github-stats-exporter: the supervision tree, the actors, their messages and
//! the ports (traits) they talk through. **No network code lives here**: adapters implementing
//! the ports are in the main package, so every actor can be tested with in-memory ports.
//!
//! Actors:
//! - [`health`]: HealthActor — component states → the live / ready / health views; the
//!   [`health::HealthObserver`] turns supervision events into `actor.<name>` components.
//! - [`store`]: StoreActor — owns the [`ports::MetricStore`], refreshes the snapshot when it
//!   changed, and publishes pre-rendered `/metrics` bodies in an [`store::ExpositionCell`].
//! - [`backfill`]: BackfillDispatcher (coalesce, dedup, per-org cap, confirmed publish, outage
//!   buffer) and the supervised consumer pool (ack after stored, retry tiers, dead letters), over
//!   the `JobQueue` / `BackfillWorker` ports; the catch-up worker that confirms recoveries.
//! - [`election`]: RoleManager — lease rounds over the `LeaderElector` port; its decisions are
//!   plain data in [`election::tenures`].
//! - [`scrape`]: ScrapeActor per org, its GitHub and state ports, window arithmetic, LOC.
//! - [`copilot`]: CopilotActor per org or enterprise over the `CopilotSource` port; report
//!   parsing in bounded memory and the mapping of reports to series.
//!
//! Shared pieces:
//! - [`exposition`]: Prometheus text 0.0.4 / OpenMetrics 1.0 rendering and gzip.
//! - [`metrics`]: the catalog of shared metric families (one file per group).
//! - [`messages`]: every cross-actor message; [`ports`]: the traits adapters implement.
//!
//! Runtime primitives:
//! - [`supervisor`]: OTP-style supervision on actix — child specs with fresh-state factories,
//!   restart types, one_for_one / one_for_all / rest_for_one, restart intensity with escalation
//!   (the root giving up lets `main` exit 1), exponential backoff with jitter, ordered start and
//!   reverse stop with timeouts, panics caught and handled as failures, [`supervisor::ActorSlot`]
//!   to reach a child across restarts, [`supervisor::StartedBefore`] for a child's dependency
//!   on a sibling started before it.
//! - [`observe`]: the [`observe::Observer`] trait and its events (supervision, backfill jobs,
//!   scrape cycles), the fan-out [`observe::Multi`], the [`observe::MetricsObserver`] over a
//!   [`observe::Recorder`], the in-memory [`observe::MemRecorder`] and its `prometheus-client`
//!   bridge [`observe::MemCollector`] for `/metrics/replica`, the debug-level
//!   [`observe::LogObserver`]. The metric taxonomy is [`observe::taxonomy`].
//! - [`tick`]: [`tick::TickRunner`] — fixed interval, jittered first tick, no overlap, missed
//!   ticks skipped, cancellable, panics recorded — writing per-service health into
//!   [`service_health::ServiceHealthRegistry`], which `/healthz` reads.
//! - [`calendar`]: the one RFC 3339 parser and writer, UTC days as Unix seconds.
//! - [`clock`]: wall-clock time for health timestamps, with a tokio-driven clock for tests.
//! - [`trace`]: the seam through which spans of one unit of work cross actors and queues.
//!
//! **Absent on purpose:** no network I/O, no HTTP, no client crates. Everything time-related
//! runs on tokio's clock, so tests pause it instead of sleeping.
//!
//! Wiring, in short:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use gse_actors::observe::{LogObserver, MemCollector, MemRecorder, MetricsObserver, Multi};
//! use gse_actors::service_health::ServiceHealthRegistry;
//! use gse_actors::supervisor::{start, ChildSpec, Strategy, SupervisorExit, SupervisorSpec};
//! use gse_actors::tick::TickRunner;
//!
//! actix_rt::System::new().block_on(async {
//!     let recorder = Arc::new(MemRecorder::new());
//!     let mut replica_registry = prometheus_client::registry::Registry::default();
//!     replica_registry.register_collector(Box::new(MemCollector::new(recorder.clone())));
//!     let observer = Arc::new(Multi::new(vec![
//!         Arc::new(LogObserver),
//!         Arc::new(MetricsObserver::new(recorder.clone())),
//!     ]));
//!     let health = ServiceHealthRegistry::new();
//!     let probe = TickRunner::new("dependency_probe", Duration::from_secs(30), &health)
//!         .into_child(|| async { Ok::<(), String>(()) });
//!     let root = start(
//!         SupervisorSpec::new("root", Strategy::RestForOne)
//!             .observer(observer)
//!             .child(probe),
//!     );
//!     // main: tokio::select! { _ = signal => root.shutdown(deadline), _ = root.gave_up() => exit 1 }
//!     assert_eq!(root.shutdown(Duration::from_secs(5)).await, SupervisorExit::Stopped);
//! });
//! ```

#![forbid(unsafe_code)]

pub mod backfill;
pub mod calendar;
pub mod clock;
pub mod copilot;
pub mod election;
pub mod exposition;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod observe;
pub mod ports;
pub mod run_again;
pub mod scrape;
pub mod service_health;
pub mod store;
pub mod supervisor;
pub mod tick;
pub mod trace;
