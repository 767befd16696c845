//! Dynamic children: [`SupervisorControl`] asks one running supervisor incarnation to start or
//! terminate children, and [`SupervisorSlot`] holds the control of a nested supervisor's
//! current incarnation.
//!
//! Requests travel on a channel the supervisor loop selects on next to its children's reports,
//! and each carries a one-shot reply. The loop answers `children` at once, queues
//! `start_child` and `terminate_child` until no restart decision is in progress (so strategy
//! groups never change under a restart), and drops every request once it is stopping; a
//! dropped reply reads as [`ControlError::SupervisorGone`], so a caller's await always resolves.
//!
//! A [`ChildSpec`] is not `Send` (its factory runs on the supervisor's arbiter), yet the control
//! must be `Send + Sync` to sit in slots, messages and shared state. `start_child` therefore
//! leaves the spec in a thread-local drop box on the supervisor's thread and sends only a
//! ticket; it refuses to run on any other thread ([`ControlError::WrongThread`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::{self, ThreadId};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::spec::ChildSpec;

/// Why a [`SupervisorControl`] request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// A child of that name is running or pending restart under this supervisor.
    #[error("a child named {0} is already running or pending restart")]
    AlreadyExists(String),
    /// This supervisor incarnation has ended, is shutting down, or gave up.
    #[error("the supervisor incarnation is gone (stopped, stopping or gave up)")]
    SupervisorGone,
    /// `start_child` was called off the supervisor's arbiter thread; a [`ChildSpec`] cannot
    /// cross threads.
    #[error("start_child must be called on the supervisor's arbiter thread")]
    WrongThread,
}

/// One control request, answered by the supervisor loop.
pub(crate) enum Request {
    Start {
        spec: Ticket,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    Terminate {
        name: String,
        reply: oneshot::Sender<Result<bool, ControlError>>,
    },
    Children {
        reply: oneshot::Sender<Result<Vec<String>, ControlError>>,
    },
}

/// A handle to one running supervisor incarnation: start and terminate children while it runs.
/// Cheap to clone, `Send + Sync`. Get it from [`SupervisorHandle::control`] for a root, or from
/// a [`SupervisorSlot`] for a nested supervisor.
///
/// Every method resolves once the supervisor acted, or with [`ControlError::SupervisorGone`]
/// once this incarnation is stopping or over: a restarted supervisor is a new incarnation with
/// a new control and only the children of its spec (dynamic children are not carried over).
///
/// Dynamic children are supervised exactly like the spec's: restart type, strategy group
/// (appended after the existing children), intensity, backoff; they stop in reverse order with
/// the others.
///
/// [`SupervisorHandle::control`]: super::SupervisorHandle::control
///
/// ```
/// use std::time::Duration;
/// use gse_actors::supervisor::{
///     start, ChildSpec, ControlError, Strategy, SupervisorExit, SupervisorSpec,
/// };
///
/// actix_rt::System::new().block_on(async {
///     let root = start(SupervisorSpec::new("scrapers", Strategy::OneForOne));
///     let control = root.control();
///     let scraper = |name: &str| {
///         ChildSpec::task(name.to_owned(), |stop| async move {
///             stop.cancelled().await;
///             Ok::<(), String>(())
///         })
///     };
///     control.start_child(scraper("scrape.acme")).await?;
///     assert_eq!(
///         control.start_child(scraper("scrape.acme")).await,
///         Err(ControlError::AlreadyExists("scrape.acme".into()))
///     );
///     assert_eq!(control.children().await?, ["scrape.acme"]);
///     assert!(control.terminate_child("scrape.acme").await?); // returns once it exited
///     assert!(control.children().await?.is_empty());
///     assert_eq!(root.shutdown(Duration::from_secs(5)).await, SupervisorExit::Stopped);
///     assert_eq!(control.children().await, Err(ControlError::SupervisorGone));
///     Ok::<(), ControlError>(())
/// })?;
/// # Ok::<(), ControlError>(())
/// ```
#[derive(Clone)]
pub struct SupervisorControl {
    supervisor: Arc<str>,
    requests: UnboundedSender<Request>,
    /// The thread the supervisor (and its whole tree) runs on.
    home: ThreadId,
}

impl std::fmt::Debug for SupervisorControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorControl")
            .field("supervisor", &self.supervisor)
            .field("gone", &self.requests.is_closed())
            .finish()
    }
}

impl SupervisorControl {
    pub(crate) fn new(supervisor: Arc<str>, requests: UnboundedSender<Request>) -> Self {
        Self {
            supervisor,
            requests,
            home: thread::current().id(),
        }
    }

    /// Starts `spec` as a new child, appended after the existing ones, and resolves once it
    /// was started (the observer's `Started` event fired). A child whose start fails (its
    /// factory panicked) is handled like any failed start: still `Ok`, then restarted per its
    /// spec. A name that was terminated or removed before takes its old entry, and position,
    /// afresh (backoff attempts start over).
    ///
    /// Must be called on the supervisor's arbiter thread, where the tree and its actors run.
    ///
    /// # Errors
    /// [`ControlError::AlreadyExists`] if a child of that name is running or pending restart;
    /// [`ControlError::SupervisorGone`] if the incarnation is stopping or over;
    /// [`ControlError::WrongThread`] off the supervisor's thread.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<(), ControlError> {
        if thread::current().id() != self.home {
            return Err(ControlError::WrongThread);
        }
        let (reply, answer) = oneshot::channel();
        let spec = Ticket::deposit(spec);
        // On failure the request, and with it the ticket and the deposited spec, is dropped.
        self.requests
            .send(Request::Start { spec, reply })
            .map_err(|_| ControlError::SupervisorGone)?;
        answer.await.unwrap_or(Err(ControlError::SupervisorGone))
    }

    /// Stops the child `name` the way a shutdown does (stop request, then abort after its
    /// shutdown timeout), cancels any pending restart, and removes it so it is never restarted.
    /// Resolves after the child exited: `Ok(true)` if it was running or pending restart,
    /// `Ok(false)` if there is no such live child. Not a failure: no restart, no intensity.
    ///
    /// # Errors
    /// [`ControlError::SupervisorGone`] if the incarnation is stopping or over.
    pub async fn terminate_child(&self, name: &str) -> Result<bool, ControlError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Terminate {
                name: name.to_owned(),
                reply,
            })
            .map_err(|_| ControlError::SupervisorGone)?;
        answer.await.unwrap_or(Err(ControlError::SupervisorGone))
    }

    /// The names of the children running or pending restart, in their order in the supervisor
    /// (start order; a re-added name keeps its former position).
    ///
    /// # Errors
    /// [`ControlError::SupervisorGone`] if the incarnation is stopping or over.
    pub async fn children(&self) -> Result<Vec<String>, ControlError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Children { reply })
            .map_err(|_| ControlError::SupervisorGone)?;
        answer.await.unwrap_or(Err(ControlError::SupervisorGone))
    }

    /// `true` when both controls reach the same supervisor incarnation.
    fn same_incarnation(&self, other: &Self) -> bool {
        self.requests.same_channel(&other.requests)
    }
}

/// The [`SupervisorControl`] of a nested supervisor's *current* incarnation: filled when it
/// starts, emptied when it ends, refilled on restart. Cheap to clone and `Send + Sync`; made
/// beforehand and passed to [`ChildSpec::supervisor_in`], like an
/// [`ActorSlot`](super::ActorSlot).
#[derive(Clone, Default)]
pub struct SupervisorSlot {
    current: Arc<RwLock<Option<SupervisorControl>>>,
}

impl SupervisorSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The running incarnation's control, or `None` while the supervisor is down (between an
    /// exit and its restart, or after it was stopped for good).
    pub fn get(&self) -> Option<SupervisorControl> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set(&self, control: SupervisorControl) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(control);
    }

    /// Empties the slot if it still holds `control` (a newer incarnation's is kept).
    fn clear_if(&self, control: &SupervisorControl) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|held| held.same_incarnation(control))
        {
            *current = None;
        }
    }
}

impl std::fmt::Debug for SupervisorSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorSlot")
            .field("running", &self.get().is_some())
            .finish()
    }
}

/// Empties a [`SupervisorSlot`] when a nested supervisor incarnation's future is dropped:
/// on completion, panic or abort alike, before the parent hears of the exit.
pub(crate) struct SupervisorSlotGuard {
    pub(crate) slot: SupervisorSlot,
    pub(crate) control: SupervisorControl,
}

impl Drop for SupervisorSlotGuard {
    fn drop(&mut self) {
        self.slot.clear_if(&self.control);
    }
}

thread_local! {
    /// Specs deposited by `start_child`, waiting for the supervisor loop on this thread.
    static DROP_BOX: RefCell<HashMap<u64, ChildSpec>> = RefCell::new(HashMap::new());
}

static NEXT_TICKET: AtomicU64 = AtomicU64::new(0);

/// A claim on a [`ChildSpec`] deposited in the current thread's drop box. Sendable; the spec
/// can only be taken on the thread that deposited it. Dropping an untaken ticket on that
/// thread drops the spec.
pub(crate) struct Ticket {
    id: u64,
    home: ThreadId,
}

impl Ticket {
    fn deposit(spec: ChildSpec) -> Self {
        let id = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
        DROP_BOX.with(|drop_box| drop_box.borrow_mut().insert(id, spec));
        Self {
            id,
            home: thread::current().id(),
        }
    }

    /// The deposited spec; `None` on another thread or if already taken.
    pub(crate) fn take(&self) -> Option<ChildSpec> {
        if thread::current().id() != self.home {
            return None;
        }
        DROP_BOX
            .try_with(|drop_box| {
                drop_box
                    .try_borrow_mut()
                    .ok()
                    .and_then(|mut specs| specs.remove(&self.id))
            })
            .ok()
            .flatten()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Dropped outside the borrow: a factory's captures may run arbitrary drop code.
        drop(self.take());
    }
}
