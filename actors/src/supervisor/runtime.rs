//! The supervisor loop: starts children in order, records their exits, decides restarts per
//! restart type, strategy, intensity and backoff, and stops children in reverse order.
//!
//! One `Runtime` is one supervisor. It runs as a single task on the current arbiter and owns
//! its children's bookkeeping outright (no locks); children talk to it only through `Report`s
//! on one channel. Handling is split in two steps so nothing is decided while the state is
//! half-updated: `record` applies a report to the bookkeeping and queues a `Decision`, and
//! `decide` acts on queued decisions one at a time (stopping siblings, scheduling restarts,
//! or giving up). Reports arriving while a child is being stopped are recorded and their
//! decisions wait their turn.
//!
//! Control requests ([`SupervisorControl`](super::SupervisorControl)) arrive on a second
//! channel, selected on in the main loop and while a child is being stopped. `children` is
//! answered at once; `start_child` and `terminate_child` are queued and served from the main
//! loop once no decision is pending, so a strategy group never changes during a restart.
//! Once stopping for good (shutdown or giving up) every request is dropped, which the caller
//! reads as `SupervisorGone`. Terminated children stay in the `Vec` as removed entries
//! (reports carry indices); a later `start_child` of the same name revives the entry.

use std::collections::VecDeque;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::AbortHandle;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use super::child::{payload_message, spawn_incarnation, ChildContext, Report, ReportKind};
use super::control::{ControlError, Request, SupervisorControl};
use super::policy::{Backoff, RestartWindow};
use super::spec::{ChildSpec, RestartType, StartEnv, Strategy, SupervisorSpec};
use crate::observe::{ExitReason, Multi, Observer, SupervisionEvent};

pub(crate) struct Runtime {
    name: Arc<str>,
    strategy: Strategy,
    window: RestartWindow,
    backoff: Backoff,
    observer: Arc<dyn Observer>,
    /// Draws backoff jitter and nested supervisors' seeds; seeded in tests.
    rng: StdRng,
    children: Vec<Child>,
    reports_tx: UnboundedSender<Report>,
    reports_rx: UnboundedReceiver<Report>,
    decisions: VecDeque<Decision>,
    /// Cancelled when this supervisor itself must stop (root shutdown or parent's request).
    stop: CancellationToken,
    /// Kept so the control channel never closes while the supervisor runs; cloned into every
    /// `SupervisorControl` of this incarnation.
    control_tx: UnboundedSender<Request>,
    control_rx: UnboundedReceiver<Request>,
    /// `start_child` / `terminate_child` requests waiting for the main loop.
    deferred: VecDeque<Request>,
    /// Stopping for good (shutdown or giving up): control requests are refused.
    closing: bool,
}

struct Child {
    spec: ChildSpec,
    /// Id of the latest incarnation (0: never started). Reports carry it; older ones are stale.
    incarnation: u64,
    /// Latest incarnation whose end has been decided, so one end is never acted on twice.
    decided: u64,
    running: Option<Running>,
    /// When the child is due to start again (backoff pending).
    restart_at: Option<Instant>,
    /// A `Temporary` child that exited, or a child terminated through the control: never
    /// started again (unless `start_child` revives the entry).
    removed: bool,
    /// Restarts since the child was last stable: the backoff exponent.
    attempts: u32,
    started_at: Instant,
}

impl Child {
    fn new(spec: ChildSpec, now: Instant) -> Self {
        Self {
            spec,
            incarnation: 0,
            decided: 0,
            running: None,
            restart_at: None,
            removed: false,
            attempts: 0,
            started_at: now,
        }
    }

    /// Running or pending restart.
    fn is_live(&self) -> bool {
        self.running.is_some() || self.restart_at.is_some()
    }
}

struct Running {
    abort: AbortHandle,
    stop: CancellationToken,
    context: ChildContext,
    /// The supervisor asked it to stop: its exit is expected, not a failure to act on.
    stopping: bool,
    /// A failure reported while it still ran; it is the exit reason whatever the task returns.
    failure: Option<ExitReason>,
}

struct Decision {
    index: usize,
    incarnation: u64,
    reason: ExitReason,
}

impl Runtime {
    /// Builds the supervisor and starts its children, synchronously and in order.
    pub(crate) fn start(spec: SupervisorSpec, stop: CancellationToken) -> Self {
        let (reports_tx, reports_rx) = unbounded_channel();
        let (control_tx, control_rx) = unbounded_channel();
        let now = Instant::now();
        let mut runtime = Self {
            name: spec.name,
            strategy: spec.strategy,
            window: RestartWindow::new(spec.intensity),
            backoff: spec.backoff,
            observer: spec.observer.unwrap_or_else(|| Arc::new(Multi::default())),
            rng: spec
                .rng_seed
                .map_or_else(StdRng::from_entropy, StdRng::seed_from_u64),
            children: spec
                .children
                .into_iter()
                .map(|spec| Child::new(spec, now))
                .collect(),
            reports_tx,
            reports_rx,
            decisions: VecDeque::new(),
            stop,
            control_tx,
            control_rx,
            deferred: VecDeque::new(),
            closing: false,
        };
        for index in 0..runtime.children.len() {
            runtime.start_child(index);
        }
        runtime
    }

    /// A control handle to this incarnation. Call it on the supervisor's thread.
    pub(crate) fn control(&self) -> SupervisorControl {
        SupervisorControl::new(self.name.clone(), self.control_tx.clone())
    }

    /// Supervises until asked to stop (`Ok`) or until the restart intensity is exceeded
    /// (`Err` with the reason, after every child was stopped).
    pub(crate) async fn run(mut self) -> Result<(), String> {
        loop {
            while let Some(decision) = self.decisions.pop_front() {
                self.decide(decision).await?;
            }
            if !self.stop.is_cancelled() {
                if let Some(request) = self.deferred.pop_front() {
                    // Serving may stop a child, whose siblings' reports queue decisions.
                    self.serve(request).await;
                    continue;
                }
            }
            let next_restart = self.children.iter().filter_map(|c| c.restart_at).min();
            tokio::select! {
                biased;
                () = self.stop.cancelled() => {
                    self.stop_all().await;
                    return Ok(());
                }
                report = self.reports_rx.recv() => {
                    // `self` holds a sender, so the channel never closes while we run.
                    if let Some(report) = report {
                        self.record(report);
                    }
                }
                request = self.control_rx.recv() => {
                    // `self` holds a sender too.
                    if let Some(request) = request {
                        self.intake(request);
                    }
                }
                () = sleep_until_some(next_restart) => self.restart_due(),
            }
        }
    }

    /// Takes a control request in: refused (its reply dropped) while stopping for good,
    /// answered at once if it only reads, queued for the main loop otherwise.
    fn intake(&mut self, request: Request) {
        if self.closing {
            return;
        }
        match request {
            Request::Children { reply } => {
                let _ = reply.send(Ok(self.live_names()));
            }
            request @ (Request::Start { .. } | Request::Terminate { .. }) => {
                self.deferred.push_back(request);
            }
        }
    }

    /// Serves a queued control request; a caller that gave up waiting is ignored.
    async fn serve(&mut self, request: Request) {
        match request {
            Request::Start { spec, reply } => {
                let result = match spec.take() {
                    Some(spec) => self.add_child(spec),
                    None => Err(ControlError::WrongThread),
                };
                let _ = reply.send(result);
            }
            Request::Terminate { name, reply } => {
                let terminated = self.terminate(&name).await;
                let _ = reply.send(Ok(terminated));
            }
            Request::Children { reply } => {
                let _ = reply.send(Ok(self.live_names()));
            }
        }
    }

    /// Names of the children running or pending restart, in position order.
    fn live_names(&self) -> Vec<String> {
        self.children
            .iter()
            .filter(|child| child.is_live())
            .map(|child| child.spec.name.to_string())
            .collect()
    }

    /// Appends a dynamic child (or revives the removed entry of that name) and starts it.
    fn add_child(&mut self, spec: ChildSpec) -> Result<(), ControlError> {
        let same_name = |child: &Child| child.spec.name == spec.name;
        if self
            .children
            .iter()
            .any(|child| same_name(child) && child.is_live())
        {
            return Err(ControlError::AlreadyExists(spec.name.to_string()));
        }
        let now = Instant::now();
        let index = match self.children.iter().position(same_name) {
            Some(index) => {
                let child = &mut self.children[index];
                // Fresh bookkeeping; the incarnation counter goes on so that late reports of
                // the old entry stay stale.
                *child = Child {
                    incarnation: child.incarnation,
                    decided: child.incarnation,
                    ..Child::new(spec, now)
                };
                index
            }
            None => {
                self.children.push(Child::new(spec, now));
                self.children.len() - 1
            }
        };
        self.start_child(index);
        Ok(())
    }

    /// Stops a live child like a shutdown does and removes it: no restart, no intensity.
    /// Returns once it exited; `false` if no live child has that name.
    async fn terminate(&mut self, name: &str) -> bool {
        let Some(index) = self
            .children
            .iter()
            .position(|child| &*child.spec.name == name && child.is_live())
        else {
            return false;
        };
        let child = &mut self.children[index];
        child.removed = true;
        child.restart_at = None;
        // Its end is settled here: no decision about it is ever acted on.
        child.decided = child.incarnation;
        self.stop_child(index).await;
        true
    }

    fn start_child(&mut self, index: usize) {
        let seed = self.rng.gen();
        let child = &mut self.children[index];
        child.incarnation += 1;
        child.started_at = Instant::now();
        let incarnation = child.incarnation;
        let stop = CancellationToken::new();
        let context = ChildContext::new(
            child.spec.name.clone(),
            index,
            incarnation,
            self.reports_tx.clone(),
        );
        let env = StartEnv {
            stop: stop.clone(),
            context: context.clone(),
            observer: self.observer.clone(),
            seed,
        };
        // A panicking factory must not take the supervisor down: it is this child's failure.
        match catch_unwind(AssertUnwindSafe(|| child.spec.starter.start(&env))) {
            Ok(future) => {
                let abort = spawn_incarnation(
                    future,
                    stop.clone(),
                    index,
                    incarnation,
                    self.reports_tx.clone(),
                );
                child.running = Some(Running {
                    abort,
                    stop,
                    context,
                    stopping: false,
                    failure: None,
                });
                self.observer.on_supervision(&SupervisionEvent::Started {
                    supervisor: &self.name,
                    child: &child.spec.name,
                });
            }
            Err(payload) => {
                let reason =
                    ExitReason::Panicked(format!("while starting: {}", payload_message(payload)));
                self.exited(index, &reason);
                self.decisions.push_back(Decision {
                    index,
                    incarnation,
                    reason,
                });
            }
        }
    }

    /// Applies a report to the bookkeeping; queues a decision when a child ended or failed on
    /// its own.
    fn record(&mut self, report: Report) {
        let Report {
            index,
            incarnation,
            kind,
        } = report;
        let Some(child) = self.children.get_mut(index) else {
            return;
        };
        if child.incarnation != incarnation {
            return;
        }
        match kind {
            ReportKind::Failing(reason) => {
                let Some(running) = child.running.as_mut() else {
                    return;
                };
                if running.stopping || running.failure.is_some() {
                    return;
                }
                running.failure = Some(reason.clone());
                self.decisions.push_back(Decision {
                    index,
                    incarnation,
                    reason,
                });
            }
            ReportKind::Exited(reason) => {
                let Some(running) = child.running.take() else {
                    return;
                };
                running.context.abort_watched();
                let expected = running.stopping || running.failure.is_some();
                let reason = running.failure.unwrap_or(reason);
                self.exited(index, &reason);
                if !expected {
                    self.decisions.push_back(Decision {
                        index,
                        incarnation,
                        reason,
                    });
                }
            }
        }
    }

    /// Acts on one child's end: restart it (and its group), leave it stopped, or give up.
    async fn decide(&mut self, decision: Decision) -> Result<(), String> {
        let Decision {
            index,
            incarnation,
            reason,
        } = decision;
        {
            let child = &mut self.children[index];
            if child.incarnation != incarnation || child.decided >= incarnation {
                return Ok(());
            }
            child.decided = incarnation;
        }
        if self.children[index].running.is_some() {
            // It failed while still running (declared failure, panic in watched work).
            self.stop_child(index).await;
        }
        let restart_type = self.children[index].spec.restart;
        let restart = match restart_type {
            RestartType::Permanent => true,
            RestartType::Transient => reason.is_abnormal(),
            RestartType::Temporary => false,
        };
        if restart_type == RestartType::Temporary {
            self.children[index].removed = true;
        }
        if !restart {
            return Ok(());
        }
        if !self.window.admit(Instant::now()) {
            return Err(self.give_up(index, &reason).await);
        }

        let group = self.group(index);
        for sibling in group.clone().rev() {
            if sibling != index && self.children[sibling].running.is_some() {
                self.stop_child(sibling).await;
            }
        }

        let now = Instant::now();
        let child = &mut self.children[index];
        if now.duration_since(child.started_at) >= self.backoff.reset_after {
            child.attempts = 0;
        }
        child.attempts = child.attempts.saturating_add(1);
        let attempt = child.attempts;
        let delay = self.backoff.delay(attempt, self.rng.gen::<f64>());
        for member in group {
            let child = &mut self.children[member];
            // The group restart covers any end of a member not yet decided.
            child.decided = child.incarnation;
            if member != index && child.spec.restart == RestartType::Temporary {
                child.removed = true;
            }
            if child.removed {
                child.restart_at = None;
                continue;
            }
            child.restart_at = Some(now + delay);
            self.observer.on_supervision(&SupervisionEvent::Restarting {
                supervisor: &self.name,
                child: &child.spec.name,
                attempt,
                delay,
            });
            warn!(
                supervisor = %self.name,
                child = %child.spec.name,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                %reason,
                "restarting child"
            );
        }
        Ok(())
    }

    /// The children a failure of `index` takes down, per the strategy.
    fn group(&self, index: usize) -> Range<usize> {
        match self.strategy {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => index..self.children.len(),
        }
    }

    async fn give_up(&mut self, index: usize, last: &ExitReason) -> String {
        let intensity = self.window.intensity();
        let reason = format!(
            "more than {} restarts within {:?}; last: child {} {}",
            intensity.max_restarts, intensity.within, self.children[index].spec.name, last
        );
        error!(supervisor = %self.name, %reason, "supervisor giving up");
        self.stop_all().await;
        self.observer.on_supervision(&SupervisionEvent::GaveUp {
            supervisor: &self.name,
            reason: &reason,
        });
        reason
    }

    fn restart_due(&mut self) {
        let now = Instant::now();
        for index in 0..self.children.len() {
            if self.children[index].restart_at.is_some_and(|at| at <= now) {
                self.children[index].restart_at = None;
                self.start_child(index);
            }
        }
    }

    /// Stops every child in reverse start order and cancels pending restarts. From here on
    /// control requests are refused.
    async fn stop_all(&mut self) {
        self.closing = true;
        // Dropping their replies answers the callers `SupervisorGone`.
        self.deferred.clear();
        for child in &mut self.children {
            child.restart_at = None;
        }
        for index in (0..self.children.len()).rev() {
            self.stop_child(index).await;
        }
    }

    /// Asks a running child to stop and waits for its exit; aborts it once its shutdown
    /// timeout has passed. Other children's reports arriving meanwhile are recorded, control
    /// requests taken in (answered, queued or refused).
    async fn stop_child(&mut self, index: usize) {
        let child = &mut self.children[index];
        let incarnation = child.incarnation;
        let timeout = child.spec.shutdown_timeout;
        let Some(running) = child.running.as_mut() else {
            return;
        };
        running.stopping = true;
        running.stop.cancel();
        let abort = running.abort.clone();
        let deadline = Instant::now() + timeout;
        let mut aborted = false;
        while self.is_running(index, incarnation) {
            tokio::select! {
                report = self.reports_rx.recv() => match report {
                    Some(report) => self.record(report),
                    None => return,
                },
                request = self.control_rx.recv() => {
                    if let Some(request) = request {
                        self.intake(request);
                    }
                }
                () = sleep_until(deadline), if !aborted => {
                    aborted = true;
                    warn!(
                        supervisor = %self.name,
                        child = %self.children[index].spec.name,
                        timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                        "child ignored its stop request; aborting it"
                    );
                    abort.abort();
                }
            }
        }
    }

    fn is_running(&self, index: usize, incarnation: u64) -> bool {
        let child = &self.children[index];
        child.incarnation == incarnation && child.running.is_some()
    }

    /// Emits the exit event and logs abnormal ends.
    fn exited(&self, index: usize, reason: &ExitReason) {
        let name = &self.children[index].spec.name;
        self.observer.on_supervision(&SupervisionEvent::Exited {
            supervisor: &self.name,
            child: name,
            reason,
        });
        if reason.is_abnormal() {
            warn!(supervisor = %self.name, child = %name, %reason, "child exited abnormally");
        }
    }
}

impl Drop for Runtime {
    /// A supervisor that is dropped while children still run (its own task was aborted after
    /// a shutdown deadline, or its parent killed it) takes them down with it: no orphans.
    fn drop(&mut self) {
        for index in 0..self.children.len() {
            if let Some(running) = self.children[index].running.take() {
                running.abort.abort();
                running.context.abort_watched();
                self.exited(index, &ExitReason::Killed);
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
