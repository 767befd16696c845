//! One incarnation of a child: how it is spawned and watched, how it is asked to stop, and the
//! handles it gets ([`ChildContext`]) and gives out ([`ActorSlot`]).
//!
//! Every child runs as one `actix_rt` task whose `JoinHandle` a small watcher task awaits: a
//! panic anywhere in that task (an actor's handler, `started`, a task child's body) surfaces as
//! `JoinError::is_panic` and is reported to the supervisor as [`ExitReason::Panicked`], instead
//! of the silent death actix gives a panicking actor. Work an actor spawns outside its context
//! goes through [`ChildContext::spawn_watched`] and is watched the same way.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context as TaskContext, Poll};

use actix::{Actor, ActorContext, Addr, Context};
use futures::future::LocalBoxFuture;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{AbortHandle, JoinError};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::observe::ExitReason;

/// What a child's tasks tell its supervisor. Reports of an older incarnation are ignored.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) index: usize,
    pub(crate) incarnation: u64,
    pub(crate) kind: ReportKind,
}

#[derive(Debug)]
pub(crate) enum ReportKind {
    /// The incarnation's task ended.
    Exited(ExitReason),
    /// The incarnation failed while its task still runs (a declared failure or a panic in
    /// watched work); the supervisor stops it.
    Failing(ExitReason),
}

/// The handle a child gets at start: its name, a way to declare failure, and a way to run
/// detached work whose panic counts as the child's failure. Cheap to clone; keep it in the
/// actor's state.
#[derive(Clone)]
pub struct ChildContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    name: Arc<str>,
    index: usize,
    incarnation: u64,
    reports: UnboundedSender<Report>,
    /// The reason declared with `fail`; the exit is reported with it even if the actor then
    /// stops "normally".
    failure: Mutex<Option<String>>,
    /// Work spawned with `spawn_watched`, aborted when the incarnation ends so a restarted child
    /// never shares the runtime with its predecessor's leftovers.
    watched: Mutex<Vec<AbortHandle>>,
}

impl std::fmt::Debug for ChildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildContext")
            .field("name", &self.inner.name)
            .field("incarnation", &self.inner.incarnation)
            .finish_non_exhaustive()
    }
}

impl ChildContext {
    pub(crate) fn new(
        name: Arc<str>,
        index: usize,
        incarnation: u64,
        reports: UnboundedSender<Report>,
    ) -> Self {
        Self {
            inner: Arc::new(ContextInner {
                name,
                index,
                incarnation,
                reports,
                failure: Mutex::new(None),
                watched: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The child's name from its spec.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Declares that this incarnation failed for `reason` and asks the supervisor to stop it.
    /// The exit is then abnormal ([`ExitReason::Failed`]) whatever way the actor stops, so a
    /// `Transient` child is restarted. The first declared reason wins.
    pub fn fail(&self, reason: impl Into<String>) {
        let reason = reason.into();
        {
            let mut failure = self
                .inner
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if failure.is_some() {
                return;
            }
            *failure = Some(reason.clone());
        }
        self.report(ReportKind::Failing(ExitReason::Failed(reason)));
    }

    /// Spawns `work` on the current arbiter as its own task, watched: if it panics, this child
    /// is reported as failed ([`ExitReason::Panicked`]) and restarted per its spec. The task is
    /// aborted when this incarnation ends. Use it for I/O an actor must not await in a handler;
    /// send the result back to the actor as a message.
    ///
    /// # Panics
    /// Outside an actix system (no current arbiter), like `actix_rt::spawn`.
    pub fn spawn_watched<F>(&self, work: F)
    where
        F: Future<Output = ()> + 'static,
    {
        let handle = actix_rt::spawn(work);
        {
            let mut watched = self
                .inner
                .watched
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            watched.retain(|task| !task.is_finished());
            watched.push(handle.abort_handle());
        }
        let context = self.clone();
        actix_rt::spawn(async move {
            if let Err(error) = handle.await {
                if error.is_panic() {
                    let message = panic_message(error);
                    context.report(ReportKind::Failing(ExitReason::Panicked(message)));
                }
            }
        });
    }

    fn report(&self, kind: ReportKind) {
        // A closed channel means the supervisor is gone; nobody is left to tell.
        let _ = self.inner.reports.send(Report {
            index: self.inner.index,
            incarnation: self.inner.incarnation,
            kind,
        });
    }

    pub(crate) fn declared_failure(&self) -> Option<String> {
        self.inner
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn abort_watched(&self) {
        let watched = std::mem::take(
            &mut *self
                .inner
                .watched
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for task in watched {
            task.abort();
        }
    }
}

/// The address of an actor child's *current* incarnation. Cheap to clone and `Send + Sync`:
/// give it to HTTP handlers and other actors instead of an `Addr`, which would go stale at the
/// first restart.
pub struct ActorSlot<A: Actor> {
    current: Arc<RwLock<Option<Addr<A>>>>,
}

impl<A: Actor> ActorSlot<A> {
    /// An empty slot; [`ChildSpec::actor_in`](super::ChildSpec::actor_in) fills it at each start.
    pub fn new() -> Self {
        Self {
            current: Arc::new(RwLock::new(None)),
        }
    }

    /// The running incarnation's address, or `None` while the child is down (between an exit
    /// and its restart, or after it was stopped for good).
    pub fn get(&self) -> Option<Addr<A>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, addr: Addr<A>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(addr);
    }

    /// Empties the slot if it still holds `addr` (a newer incarnation's address is kept).
    fn clear_if(&self, addr: &Addr<A>) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref() == Some(addr) {
            *current = None;
        }
    }
}

impl<A: Actor> Clone for ActorSlot<A> {
    fn clone(&self) -> Self {
        Self {
            current: self.current.clone(),
        }
    }
}

impl<A: Actor> Default for ActorSlot<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Actor> std::fmt::Debug for ActorSlot<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorSlot")
            .field("running", &self.get().is_some())
            .finish()
    }
}

/// Builds an actor incarnation's task future: the actor's own `ContextFut`, plus the stop
/// protocol. When `stop` is cancelled the wrapper calls `ctx.stop()` on the actor's context,
/// exactly what the actor would do itself: actix runs `stopping()` (which may veto, in which
/// case the shutdown timeout and abort apply) and then `stopped()`. No `Handler` is required.
pub(crate) fn actor_future<A>(
    actor: A,
    slot: &ActorSlot<A>,
    context: ChildContext,
    stop: CancellationToken,
) -> LocalBoxFuture<'static, Result<(), String>>
where
    A: Actor<Context = Context<A>>,
{
    let fut = Context::new().into_future(actor);
    let addr = fut.address();
    slot.set(addr.clone());
    Box::pin(StopOnCancel {
        fut,
        stop: Box::pin(stop.cancelled_owned()),
        stop_sent: false,
        context,
        _slot: SlotGuard {
            slot: slot.clone(),
            addr,
        },
    })
}

struct StopOnCancel<A: Actor<Context = Context<A>>> {
    fut: actix::dev::ContextFut<A, Context<A>>,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    stop_sent: bool,
    context: ChildContext,
    _slot: SlotGuard<A>,
}

impl<A: Actor<Context = Context<A>>> Future for StopOnCancel<A> {
    type Output = Result<(), String>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // `Actor: Unpin`, so the whole wrapper is Unpin.
        let this = self.get_mut();
        if !this.stop_sent && this.stop.as_mut().poll(cx).is_ready() {
            this.stop_sent = true;
            this.fut.ctx().stop();
        }
        match Pin::new(&mut this.fut).poll(cx) {
            Poll::Ready(()) => Poll::Ready(match this.context.declared_failure() {
                Some(reason) => Err(reason),
                None => Ok(()),
            }),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Empties the slot when the incarnation's future is dropped: on completion, panic or abort
/// alike, and always before the supervisor hears of the exit (tokio drops a task's future
/// before completing its `JoinHandle`).
struct SlotGuard<A: Actor> {
    slot: ActorSlot<A>,
    addr: Addr<A>,
}

impl<A: Actor> Drop for SlotGuard<A> {
    fn drop(&mut self) {
        self.slot.clear_if(&self.addr);
    }
}

/// Spawns an incarnation's future and a watcher that reports its exit. Returns the handle the
/// supervisor uses to abort a child that ignores its stop request.
pub(crate) fn spawn_incarnation(
    future: LocalBoxFuture<'static, Result<(), String>>,
    stop: CancellationToken,
    index: usize,
    incarnation: u64,
    reports: UnboundedSender<Report>,
) -> AbortHandle {
    let handle = actix_rt::spawn(future);
    let abort = handle.abort_handle();
    actix_rt::spawn(async move {
        let reason = match handle.await {
            Ok(Ok(())) if stop.is_cancelled() => ExitReason::Shutdown,
            Ok(Ok(())) => ExitReason::Normal,
            Ok(Err(reason)) => ExitReason::Failed(reason),
            Err(error) if error.is_panic() => ExitReason::Panicked(panic_message(error)),
            Err(_) => ExitReason::Killed,
        };
        let _ = reports.send(Report {
            index,
            incarnation,
            kind: ReportKind::Exited(reason),
        });
    });
    abort
}

/// The text of a panic payload (`&str` or `String`, as `panic!` produces).
pub(crate) fn panic_message(error: JoinError) -> String {
    payload_message(error.into_panic())
}

pub(crate) fn payload_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "non-string panic payload".to_owned(),
        },
    }
}
