//! The decisions of github-stats-exporter: the supervision tree, the actors, their messages and
//! the ports (traits) they talk through. **No network code lives here**: adapters implementing
//! the ports are in the main package, so every actor can be tested with in-memory ports.
//!
//! - [`health`]: HealthActor, component states → live / ready / health views.
//! - [`store`]: StoreActor, owns the MetricStore and the pre-rendered `/metrics` bodies.
//! - [`exposition`]: Prometheus text 0.0.4 / OpenMetrics rendering and gzip.
//! - [`metrics`]: the catalog of shared metric families.
//! - [`messages`]: every cross-actor message.
//! - [`ports`]: the traits adapters implement.
//! - [`scrape`]: ScrapeActor per org, its GitHub and state ports, window arithmetic, LOC.
//! - [`tick`]: periodic work with per-service health.

pub mod exposition;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod ports;
pub mod scrape;
pub mod store;
pub mod tick;
