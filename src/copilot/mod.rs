//! Copilot usage metrics from GitHub's report API (`docs/copilot-metrics.md` is the contract):
//! the JSON shapes ([`model`]), the streaming reader of report files ([`reader`]), the pure
//! mapping to `gh_copilot_*` series ([`mapping`]), the GitHub and download I/O of one run
//! ([`fetch`]) and the per-org (and enterprise) actor that runs it on `copilot.scrape_interval`
//! and publishes one fenced batch ([`actor`]), built once from the configuration by the composition root ([`crate::app::copilot`]).

pub mod actor;
pub mod fetch;
pub mod mapping;
pub mod model;
pub mod reader;
