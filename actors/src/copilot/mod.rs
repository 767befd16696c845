//! Copilot usage metrics from GitHub's report API (`docs/copilot-metrics.md` is the contract),
//! everything but the network: the per-scope [`actor::CopilotActor`] over the
//! [`run::CopilotSource`] port, and the pure pieces a run is made of.
//!
//! - [`actor`]: CopilotActor — when to run (at start, then every `copilot.scrape_interval`,
//!   never two at once, under the org's lease) and the one fenced batch a run publishes.
//! - [`backfill`]: the backfill worker of failed report days (through the local actor).
//! - [`run`]: the port, what a run returns and remembers, what a failed part means and the
//!   recovery rule.
//! - [`model`]: the JSON shapes of the report API.
//! - [`reader`]: the streaming scanner that cuts report files into JSON values.
//! - [`sinks`]: the reductions of one report read (newest day record, each user's latest row).
//! - [`mapping`]: day records and seats → `gh_copilot_*` series.
//! - [`users`]: the per-user families and their `user` label.

pub mod actor;
pub mod backfill;
pub mod mapping;
pub mod model;
pub mod reader;
pub mod run;
pub mod sinks;
pub mod users;
