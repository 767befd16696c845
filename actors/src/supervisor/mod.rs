//! OTP-style supervision built on actix, which lacks it: actix's `Supervisor` restarts only
//! self-stopped actors, reuses their old state, has no limits or backoff, and lets a panic kill
//! the actor's task silently.
//!
//! - Specs: [`ChildSpec`] (name, fresh-state factory, [`RestartType`], shutdown
//!   timeout) for an actix actor, a plain async task, or a nested supervisor;
//!   [`SupervisorSpec`] with a [`Strategy`] (one_for_one / one_for_all / rest_for_one).
//! - [`Intensity`]: more than N restarts within T → stop all children in reverse order and
//!   escalate to the parent as a failure; the root giving up resolves
//!   [`SupervisorHandle::gave_up`].
//! - [`Backoff`]: exponential delay with jitter between restarts, reset after a stable period.
//! - Children start in order, stop in reverse, each within its shutdown timeout, then aborted.
//! - Dynamic children: a [`SupervisorControl`] (from [`SupervisorHandle::control`] for the
//!   root, or the [`SupervisorSlot`] of [`ChildSpec::supervisor_in`] for a nested supervisor's
//!   current incarnation) starts and terminates children of a running supervisor.
//!   `start_child` appends a child supervised exactly like the spec's (restart type, strategy
//!   group, intensity, backoff) and fails with [`ControlError::AlreadyExists`] while one of that
//!   name runs or awaits restart; `terminate_child` stops one like a shutdown does, never
//!   restarts it and returns once it exited; `children` lists the live ones. Requests to a
//!   supervisor that is stopping or over answer [`ControlError::SupervisorGone`]; dynamic
//!   children do not survive a restart of their supervisor. `start_child` runs on the tree's
//!   arbiter thread only (a [`ChildSpec`] is not `Send`).
//! - A panic in a child's task (actor handler included) or in work it spawned with
//!   [`ChildContext::spawn_watched`] is caught through the task's `JoinHandle` and handled as
//!   that child's failure.
//! - Every start, exit, restart and give-up goes to the [`Observer`](crate::observe::Observer)
//!   first (metrics `gh_exporter_actor_restarts_total{actor}`, `gh_exporter_actor_up{actor}`).
//! - Time is tokio's (`tokio::time::Instant`, `sleep_until`), so tests run on a paused clock;
//!   the jitter RNG is seedable ([`SupervisorSpec::rng_seed`]).
//!
//! **Stopping an actor child** needs no handler: the supervisor calls `ctx.stop()` on the
//! actor's own context (see [`ChildSpec::actor_in`]). Task children get a `CancellationToken`.
//!
//! Everything runs on the arbiter that called [`start`]; [`ActorSlot`]s, [`SupervisorSlot`]s
//! and [`SupervisorControl`]s are `Send + Sync` and can be shared with actix-web workers.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use actix::prelude::*;
//! use gse_actors::observe::{MemRecorder, MetricsObserver};
//! use gse_actors::supervisor::{start, ChildSpec, Strategy, SupervisorExit, SupervisorSpec};
//!
//! struct Store;
//! impl Actor for Store { type Context = Context<Self>; }
//!
//! actix_rt::System::new().block_on(async {
//!     let recorder = Arc::new(MemRecorder::new());
//!     let (store_spec, store) = ChildSpec::actor("store", |_ctx| Store);
//!     let root = start(
//!         SupervisorSpec::new("root", Strategy::RestForOne)
//!             .observer(Arc::new(MetricsObserver::new(recorder.clone())))
//!             .child(store_spec),
//!     );
//!     assert!(store.get().is_some());
//!     assert_eq!(root.shutdown(Duration::from_secs(5)).await, SupervisorExit::Stopped);
//!     assert!(store.get().is_none());
//! });
//! ```

mod child;
mod control;
mod dependency;
mod handle;
mod policy;
mod runtime;
mod spec;
#[cfg(test)]
mod tests;

pub(crate) use child::payload_message;
pub use child::{ActorSlot, ChildContext};
pub use control::{ControlError, SupervisorControl, SupervisorSlot};
pub use dependency::{NotStarted, StartedBefore};
pub use handle::{start, SupervisorExit, SupervisorHandle};
pub use policy::{Backoff, Intensity};
pub use spec::{ChildSpec, RestartType, Strategy, SupervisorSpec};
