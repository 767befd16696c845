//! [`SupervisorHandle`]: what `main` holds for the root supervisor — graceful shutdown with a
//! deadline, and a future that resolves if the tree gives up (so the process can exit 1).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use super::control::SupervisorControl;
use super::runtime::Runtime;
use super::spec::SupervisorSpec;

/// How a root supervisor ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorExit {
    /// It was shut down and every child stopped.
    Stopped,
    /// Its restart intensity was exceeded; every child was stopped. Carries the reason.
    GaveUp(String),
    /// `shutdown` reached its deadline first; the tree was aborted.
    DeadlineExceeded,
}

/// Handle to a running root supervisor: shutdown, outcome, and its [`SupervisorControl`].
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct SupervisorHandle {
    stop: CancellationToken,
    exit: watch::Receiver<Option<SupervisorExit>>,
    task: AbortHandle,
    /// Set before `shutdown` aborts the task, so the task's exit guard reports
    /// `DeadlineExceeded` rather than a failure.
    aborted: Arc<AtomicBool>,
    control: SupervisorControl,
}

/// Publishes the supervisor's outcome exactly once, even when its task panics or is aborted
/// (then from `Drop`), so `wait` and `gave_up` can never hang on a dead tree.
struct ExitGuard {
    exit: watch::Sender<Option<SupervisorExit>>,
    aborted: Arc<AtomicBool>,
}

impl ExitGuard {
    fn publish(&self, outcome: SupervisorExit) {
        self.exit.send_if_modified(|exit| {
            if exit.is_some() {
                return false;
            }
            *exit = Some(outcome);
            true
        });
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let outcome = if self.aborted.load(Ordering::SeqCst) {
            SupervisorExit::DeadlineExceeded
        } else {
            SupervisorExit::GaveUp("supervisor task ended without an outcome (panic)".into())
        };
        self.publish(outcome);
    }
}

/// Starts a root supervisor on the current arbiter: its children start synchronously and in
/// order before this returns (so their [`ActorSlot`](super::ActorSlot)s are filled), then the
/// supervision loop runs as its own task.
///
/// # Panics
/// Outside an actix system (no current arbiter), like `actix_rt::spawn`.
///
/// ```
/// use std::time::Duration;
/// use gse_actors::supervisor::{start, ChildSpec, Strategy, SupervisorExit, SupervisorSpec};
///
/// actix_rt::System::new().block_on(async {
///     let root = start(
///         SupervisorSpec::new("root", Strategy::OneForOne).child(ChildSpec::task(
///             "idle",
///             |stop| async move {
///                 stop.cancelled().await;
///                 Ok::<(), String>(())
///             },
///         )),
///     );
///     // In main: select between the stop signal and `root.gave_up()` (exit 1).
///     assert_eq!(root.shutdown(Duration::from_secs(10)).await, SupervisorExit::Stopped);
/// });
/// ```
pub fn start(spec: SupervisorSpec) -> SupervisorHandle {
    let stop = CancellationToken::new();
    let runtime = Runtime::start(spec, stop.clone());
    let control = runtime.control();
    let (exit_tx, exit) = watch::channel(None);
    let aborted = Arc::new(AtomicBool::new(false));
    let guard = ExitGuard {
        exit: exit_tx,
        aborted: aborted.clone(),
    };
    let task = actix_rt::spawn(async move {
        let outcome = match runtime.run().await {
            Ok(()) => SupervisorExit::Stopped,
            Err(reason) => SupervisorExit::GaveUp(reason),
        };
        guard.publish(outcome);
    });
    SupervisorHandle {
        stop,
        exit,
        task: task.abort_handle(),
        aborted,
        control,
    }
}

impl SupervisorHandle {
    /// The [`SupervisorControl`] of the root: start and terminate its children while it runs.
    /// Once the root is shutting down or over, its requests answer
    /// [`ControlError::SupervisorGone`](super::ControlError::SupervisorGone).
    pub fn control(&self) -> SupervisorControl {
        self.control.clone()
    }

    /// Resolves once the supervisor has ended, for whatever reason.
    pub async fn wait(&self) -> SupervisorExit {
        let mut exit = self.exit.clone();
        let outcome = match exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone(),
            Err(_) => None,
        };
        // `None` cannot happen (the exit guard always publishes before the sender drops); if
        // it did, a failure is the safe reading: the process must not linger half-dead.
        outcome.unwrap_or_else(|| {
            SupervisorExit::GaveUp("supervisor task ended without an outcome".into())
        })
    }

    /// Resolves with the reason if, and only if, the supervisor gives up; stays pending after
    /// a graceful shutdown. `main` selects on it next to the stop signal and exits 1.
    pub async fn gave_up(&self) -> String {
        match self.wait().await {
            SupervisorExit::GaveUp(reason) => reason,
            SupervisorExit::Stopped | SupervisorExit::DeadlineExceeded => {
                std::future::pending().await
            }
        }
    }

    /// Stops every child in reverse start order (each within its shutdown timeout, then
    /// aborted) and returns once all stopped, or aborts the whole tree when `deadline` passes
    /// first. Returns immediately with the earlier outcome if the supervisor already ended.
    pub async fn shutdown(&self, deadline: Duration) -> SupervisorExit {
        self.stop.cancel();
        match tokio::time::timeout(deadline, self.wait()).await {
            Ok(exit) => exit,
            Err(_) => {
                // Dropping the runtime aborts every child still running.
                self.aborted.store(true, Ordering::SeqCst);
                self.task.abort();
                SupervisorExit::DeadlineExceeded
            }
        }
    }
}
