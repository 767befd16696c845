//! github-stats-exporter: turns the activity of GitHub organizations into Prometheus metrics.
//!
//! This package holds the I/O: configuration loading ([`config`]), the adapters behind the
//! actors' ports ([`store`], [`queue`], [`election`], [`github`], [`copilot`], over one
//! [`redis`] layer), the actix-web
//! layer ([`http`]), logging, and the composition root ([`app`]), whose [`run`] wires the
//! supervision tree and the HTTP server and returns when the process should exit. The
//! decisions (supervision, roles, scraping, health, store refresh) live in the `gse-actors`
//! crate.

#![forbid(unsafe_code)]

pub mod app;
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
pub mod migrate;
pub mod queue;
pub mod redis;
pub mod replica_metrics;
pub mod store;
pub mod telemetry;

pub use app::adapters::{
    build_queue, build_store, redis_settings, role_mode, SharedMetricStore, SharedStateStore,
    GITHUB_PROBE_INTERVAL,
};
pub use app::scrapers as scraping;
pub use app::{run, run_with, RunError, RunOptions};
