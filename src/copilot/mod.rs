//! The network side of the Copilot usage metrics (`docs/copilot-metrics.md` is the contract):
//! the adapter behind [`gse_actors::copilot::run::CopilotSource`] — one run of one scope
//! ([`fetch`]) and the report-link calls and downloads it reads through ([`download`]). The
//! actor, the JSON shapes, the streaming reader, the sinks and the mapping to `gh_copilot_*`
//! series are in [`gse_actors::copilot`]; the composition root builds the sources once from
//! the configuration ([`crate::app::copilot`]).

pub mod download;
pub mod fetch;
