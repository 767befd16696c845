//! What to supervise and how: [`ChildSpec`] (one child: name, fresh-state factory, restart
//! type, shutdown timeout) and [`SupervisorSpec`] (a supervisor: strategy, intensity, backoff,
//! its children in start order).

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Context};
use futures::future::LocalBoxFuture;
use futures::FutureExt as _;
use tokio_util::sync::CancellationToken;

use super::child::{actor_future, ActorSlot, ChildContext};
use super::control::{SupervisorSlot, SupervisorSlotGuard};
use super::policy::{Backoff, Intensity};
use super::runtime::Runtime;
use crate::observe::Observer;

/// When a child that exited is started again (OTP's restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartType {
    /// Always restarted, whatever the exit reason. For actors that must always run.
    Permanent,
    /// Restarted only after an abnormal exit (failure, panic, kill); a normal exit is final.
    Transient,
    /// Never restarted; removed from the supervisor once it exits, even when a sibling's
    /// failure stopped it.
    Temporary,
}

/// Which children a failure takes down with it (OTP's strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Restart only the child that failed.
    OneForOne,
    /// Stop every other child (in reverse order) and restart all (in order): for children that
    /// cannot work without each other.
    OneForAll,
    /// Stop the children started after the failed one (in reverse order) and restart the
    /// failed one and those (in order): for children that depend on earlier siblings.
    RestForOne,
}

/// One supervised child. Built with [`ChildSpec::actor`], [`ChildSpec::task`] or
/// [`ChildSpec::supervisor`] (or their `_in` variants); defaults to [`RestartType::Permanent`] and a 5 s shutdown timeout.
///
/// Child names are the `actor` label of `gh_exporter_actor_{up,restarts_total}`: keep them unique
/// in the whole tree and bounded (`scrape:acme`, not a request id).
pub struct ChildSpec {
    pub(crate) name: Arc<str>,
    pub(crate) restart: RestartType,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) starter: Box<dyn Starter>,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

/// What a starter gets for one incarnation.
pub(crate) struct StartEnv {
    /// Cancelled when the supervisor wants this incarnation to stop.
    pub(crate) stop: CancellationToken,
    /// The incarnation's context (reports, declared failure, watched work).
    pub(crate) context: ChildContext,
    /// The supervisor's observer, inherited by a nested supervisor without its own.
    pub(crate) observer: Arc<dyn Observer>,
    /// A seed drawn from the supervisor's RNG, for a nested supervisor without its own.
    pub(crate) seed: u64,
}

/// Builds fresh state for one incarnation and returns its (not yet spawned) task future.
pub(crate) trait Starter {
    fn start(&mut self, env: &StartEnv) -> LocalBoxFuture<'static, Result<(), String>>;
}

struct ActorStarter<A: Actor, F> {
    slot: ActorSlot<A>,
    factory: F,
}

impl<A, F> Starter for ActorStarter<A, F>
where
    A: Actor<Context = Context<A>>,
    F: FnMut(&ChildContext) -> A,
{
    fn start(&mut self, env: &StartEnv) -> LocalBoxFuture<'static, Result<(), String>> {
        let actor = (self.factory)(&env.context);
        actor_future(actor, &self.slot, env.context.clone(), env.stop.clone())
    }
}

struct TryActorStarter<A: Actor, F> {
    slot: ActorSlot<A>,
    factory: F,
}

impl<A, F, E> Starter for TryActorStarter<A, F>
where
    A: Actor<Context = Context<A>>,
    F: FnMut(&ChildContext) -> Result<A, E>,
    E: Display,
{
    fn start(&mut self, env: &StartEnv) -> LocalBoxFuture<'static, Result<(), String>> {
        match (self.factory)(&env.context) {
            Ok(actor) => actor_future(actor, &self.slot, env.context.clone(), env.stop.clone()),
            Err(error) => futures::future::ready(Err(error.to_string())).boxed_local(),
        }
    }
}

struct TaskStarter<F>(F);

impl<F, Fut, E> Starter for TaskStarter<F>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>> + 'static,
    E: Display,
{
    fn start(&mut self, env: &StartEnv) -> LocalBoxFuture<'static, Result<(), String>> {
        (self.0)(env.stop.clone())
            .map(|result| result.map_err(|error| error.to_string()))
            .boxed_local()
    }
}

struct SupervisorStarter<F> {
    slot: Option<SupervisorSlot>,
    factory: F,
}

impl<F> Starter for SupervisorStarter<F>
where
    F: FnMut() -> SupervisorSpec,
{
    fn start(&mut self, env: &StartEnv) -> LocalBoxFuture<'static, Result<(), String>> {
        let mut spec = (self.factory)();
        spec.observer.get_or_insert_with(|| env.observer.clone());
        spec.rng_seed.get_or_insert(env.seed);
        // Children start now, synchronously and in order, like OTP's `start_link`.
        let runtime = Runtime::start(spec, env.stop.clone());
        let Some(slot) = &self.slot else {
            return runtime.run().boxed_local();
        };
        let control = runtime.control();
        slot.set(control.clone());
        // Made before the future so that dropping it unpolled still empties the slot.
        let guard = SupervisorSlotGuard {
            slot: slot.clone(),
            control,
        };
        async move {
            let _guard = guard;
            runtime.run().await
        }
        .boxed_local()
    }
}

impl ChildSpec {
    fn new(name: impl Into<Arc<str>>, starter: Box<dyn Starter>) -> Self {
        Self {
            name: name.into(),
            restart: RestartType::Permanent,
            shutdown_timeout: Duration::from_secs(5),
            starter,
        }
    }

    /// An actix actor child. `factory` builds a fresh actor for every start and may keep the
    /// [`ChildContext`]. Returns the spec and the [`ActorSlot`] that always holds the current
    /// incarnation's address.
    ///
    /// The actor runs in its own task on the supervisor's arbiter; a panic in any of its
    /// handlers is a failure of this child. To stop it, the supervisor calls `ctx.stop()` on
    /// the actor's context (see [`ChildSpec::actor_in`]).
    ///
    /// ```
    /// use actix::prelude::*;
    /// use gse_actors::supervisor::{ChildSpec, RestartType};
    ///
    /// struct Health { checks: u64 }
    /// impl Actor for Health { type Context = Context<Self>; }
    ///
    /// let (spec, health) = ChildSpec::actor("health", |_ctx| Health { checks: 0 });
    /// let spec = spec.restart(RestartType::Permanent);
    /// assert!(health.get().is_none()); // filled once the supervisor starts it
    /// # drop(spec);
    /// ```
    pub fn actor<A, F>(name: impl Into<Arc<str>>, factory: F) -> (Self, ActorSlot<A>)
    where
        A: Actor<Context = Context<A>>,
        F: FnMut(&ChildContext) -> A + 'static,
    {
        let slot = ActorSlot::new();
        (Self::actor_in(&slot, name, factory), slot)
    }

    /// Like [`ChildSpec::actor`] but fills a slot made beforehand: needed under a nested
    /// supervisor, whose factory rebuilds its child specs on every restart while the slot
    /// handed to HTTP handlers must stay the same.
    ///
    /// **Stop protocol.** The supervisor asks the actor to stop exactly as `ctx.stop()` would
    /// from inside: actix calls `Actor::stopping` (returning `Running::Continue` vetoes the
    /// stop, and the child is then aborted after its shutdown timeout) and `Actor::stopped`.
    /// No message handler is needed.
    pub fn actor_in<A, F>(slot: &ActorSlot<A>, name: impl Into<Arc<str>>, factory: F) -> Self
    where
        A: Actor<Context = Context<A>>,
        F: FnMut(&ChildContext) -> A + 'static,
    {
        Self::new(
            name,
            Box::new(ActorStarter {
                slot: slot.clone(),
                factory,
            }),
        )
    }

    /// Like [`ChildSpec::actor_in`], with a factory that may fail (a dependency started before
    /// it is not running, see [`super::StartedBefore`]): an `Err` is a failed start, counted
    /// and retried per the supervisor's strategy and backoff.
    pub fn try_actor_in<A, F, E>(slot: &ActorSlot<A>, name: impl Into<Arc<str>>, factory: F) -> Self
    where
        A: Actor<Context = Context<A>>,
        F: FnMut(&ChildContext) -> Result<A, E> + 'static,
        E: Display + 'static,
    {
        Self::new(
            name,
            Box::new(TryActorStarter {
                slot: slot.clone(),
                factory,
            }),
        )
    }

    /// A plain async task child, e.g. a periodic service built on [`tick`](crate::tick).
    /// `factory` gets a token cancelled when the supervisor stops the child, and returns the
    /// future to run: `Ok(())` is a normal exit, `Err(e)` a failure, a panic a failure.
    ///
    /// ```
    /// use gse_actors::supervisor::{ChildSpec, RestartType};
    ///
    /// let spec = ChildSpec::task("gc", |stop| async move {
    ///     stop.cancelled().await;
    ///     Ok::<(), String>(())
    /// })
    /// .restart(RestartType::Transient);
    /// # drop(spec);
    /// ```
    pub fn task<F, Fut, E>(name: impl Into<Arc<str>>, factory: F) -> Self
    where
        F: FnMut(CancellationToken) -> Fut + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Display + 'static,
    {
        Self::new(name, Box::new(TaskStarter(factory)))
    }

    /// A nested supervisor. `factory` builds its spec (children included) afresh on every
    /// start. It inherits the parent's observer unless its spec sets one. Giving up is a
    /// failure of this child, handled by the parent per its own strategy and intensity.
    /// The default shutdown timeout of a supervisor child is 30 s; set it above the sum of its
    /// children's timeouts.
    pub fn supervisor<F>(name: impl Into<Arc<str>>, factory: F) -> Self
    where
        F: FnMut() -> SupervisorSpec + 'static,
    {
        Self::new(
            name,
            Box::new(SupervisorStarter {
                slot: None,
                factory,
            }),
        )
        .shutdown_timeout(Duration::from_secs(30))
    }

    /// Like [`ChildSpec::supervisor`], and `slot` always holds the
    /// [`SupervisorControl`](super::SupervisorControl) of the nested supervisor's current
    /// incarnation, to start and terminate its children while it runs. Children started that
    /// way belong to the incarnation: after a restart the supervisor runs its spec's children
    /// only, and the slot holds the new incarnation's control.
    ///
    /// ```
    /// use gse_actors::supervisor::{ChildSpec, Strategy, SupervisorSlot, SupervisorSpec};
    ///
    /// let scrapers = SupervisorSlot::new();
    /// let spec = ChildSpec::supervisor_in(&scrapers, "scrapers", || {
    ///     SupervisorSpec::new("scrapers", Strategy::OneForOne)
    /// });
    /// assert!(scrapers.get().is_none()); // filled once the parent starts it
    /// # drop(spec);
    /// ```
    pub fn supervisor_in<F>(slot: &SupervisorSlot, name: impl Into<Arc<str>>, factory: F) -> Self
    where
        F: FnMut() -> SupervisorSpec + 'static,
    {
        Self::new(
            name,
            Box::new(SupervisorStarter {
                slot: Some(slot.clone()),
                factory,
            }),
        )
        .shutdown_timeout(Duration::from_secs(30))
    }

    /// Sets the restart type (default [`RestartType::Permanent`]).
    pub fn restart(mut self, restart: RestartType) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how long the child may take to stop before it is aborted (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A supervisor: its name, strategy, restart intensity, backoff, and children in start order.
///
/// ```
/// use std::time::Duration;
/// use gse_actors::supervisor::{ChildSpec, Intensity, Strategy, SupervisorSpec};
///
/// let spec = SupervisorSpec::new("root", Strategy::RestForOne)
///     .intensity(Intensity { max_restarts: 3, within: Duration::from_secs(30) })
///     .child(ChildSpec::task("probe", |stop| async move {
///         stop.cancelled().await;
///         Ok::<(), String>(())
///     }));
/// # drop(spec);
/// ```
pub struct SupervisorSpec {
    pub(crate) name: Arc<str>,
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) backoff: Backoff,
    pub(crate) children: Vec<ChildSpec>,
    pub(crate) observer: Option<Arc<dyn Observer>>,
    pub(crate) rng_seed: Option<u64>,
}

impl std::fmt::Debug for SupervisorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorSpec")
            .field("name", &self.name)
            .field("strategy", &self.strategy)
            .field("intensity", &self.intensity)
            .field("backoff", &self.backoff)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

impl SupervisorSpec {
    /// A supervisor with default [`Intensity`] and [`Backoff`], no children, no observer.
    pub fn new(name: impl Into<Arc<str>>, strategy: Strategy) -> Self {
        Self {
            name: name.into(),
            strategy,
            intensity: Intensity::default(),
            backoff: Backoff::default(),
            children: Vec::new(),
            observer: None,
            rng_seed: None,
        }
    }

    /// Sets the restart intensity.
    pub fn intensity(mut self, intensity: Intensity) -> Self {
        self.intensity = intensity;
        self
    }

    /// Sets the backoff between restarts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Appends a child; children start in the order added and stop in reverse.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Sets where supervision events go (a nested supervisor inherits its parent's otherwise;
    /// a root without one emits nothing).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Seeds the backoff jitter RNG, for reproducible tests (default: from entropy).
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }
}
