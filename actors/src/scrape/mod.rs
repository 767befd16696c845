//! Scraping one org: the [`ScrapeActor`](actor::ScrapeActor) and everything it decides with.
//!
//! - [`port`]: `GithubApi`, `ScrapeStateStore`, `Clock` — what the actor talks through.
//! - [`actor`]: schedule, one cycle at a time, one batch per cycle, backfill messages.
//! - [`cycle`]: one org cycle over the ports (incremental fetch, bounded fan-out).
//! - [`log`]: per-repository event logs and cursors kept between cycles.
//! - [`window`]: pure window arithmetic and activity samples.
//! - [`loc`]: LOC state machine, zero-LOC detection, commit-detail fallback.
//! - [`loc_round`]: LOC off the critical path: one `stats/contributors` call per due
//!   repository, no 202 polling, after each cycle and again while GitHub computes.
//! - [`owner`]: organization or user account, and what it decides (listing, search
//!   qualifier, Copilot).
//! - [`identity`], [`filter`], [`health`]: commit authors, repository filters, GitHub health.
//! - [`events`]: the cycle events the observer seam receives.
//! - [`progress`]: each org's last cycle and LOC waiting count, for `/healthz`.
//! - [`pending`]: the `EnqueueMissing` sink used when backfill is disabled.
//! - [`memory_state`]: the in-memory state store.

pub mod actor;
pub mod cycle;
pub mod events;
pub mod filter;
pub mod health;
pub mod identity;
pub mod loc;
pub mod loc_round;
pub mod log;
pub mod memory_state;
pub mod owner;
pub mod pending;
pub mod port;
pub mod progress;
pub mod window;
