//! RoleManager: the shell of the election. It drives the [`LeaderElector`], hands each round's
//! outcome to the decisions ([`super::tenures`]), carries out the steps they return, and starts
//! or stops the scrapers through a [`ScraperHost`]. Modes are [`RoleMode`]s: static leader or
//! follower (no elector), `single` (one global lease), `per_org` (the global lease plus one per
//! org, balanced by [`super::assign`], handed over once the membership is stable).
//!
//! How a tenure ends, in this order: it is forgotten and its validity ends at once (no new
//! scraper starts under it, readers of the [`RoleBoard`] stop reporting it), its scrapers are
//! stopped and awaited, `RoleChanged` is announced, and only then is the lease released (a
//! no-op in Redis when it was lost).
//!
//! The actor never awaits I/O in a handler: each round of elector calls and each reconciliation
//! of the scrapers is a spawned future whose result comes back to the actor. Rounds run every
//! `retry_period × U(1, 1.2)`, sooner when a lease we wait for expires (its TTL + 50 ms) or when
//! another replica signals a release; a tenure is re-checked at its local deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, Recipient,
    Running, SpawnHandle, StreamHandler, WrapFuture,
};
use futures::future::LocalBoxFuture;
use rand::Rng;
use tokio::time::Instant;

use super::board::RoleBoard;
use super::tenures::{scraper_changes, EndCause, Phase, RoundOutcome, RoundPlan, Step, Tenures};
pub use super::tenures::{RoleMode, RoleSettings};
use super::{Grant, LeaderElector, LeaseEvent, LeaseScope};
use crate::health::{ComponentStatus, HealthReporter, Role};
use crate::messages::RoleChanged;
use crate::observe::taxonomy::{
    CLUSTER_MEMBERS, LEADER_TRANSITIONS, LEASE_OPERATIONS, LEASE_RENEW_FAILURES,
};
use crate::observe::Recorder;
use crate::run_again::RunAgain;
use crate::store::error_chain;

/// Health component of the election.
pub const COMPONENT: &str = "leader_election";

/// Starts and stops the scraper of one org (the `orgs` supervisor in production). The futures
/// run on the RoleManager's arbiter (child specs are not `Send`).
pub trait ScraperHost: Send + Sync + 'static {
    /// Starts the org's scraper under `grant` (`None`: unfenced, static leader).
    fn start(&self, org: &str, grant: Option<Grant>)
        -> LocalBoxFuture<'static, Result<(), String>>;
    /// Stops the org's scraper; resolves once it has stopped (or was not running).
    fn stop(&self, org: &str) -> LocalBoxFuture<'static, ()>;
}

/// Sent by the store (through a [`super::StaleWriteHook`]) when a write under `grant` was
/// rejected: the tenure is over. Reply: none.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct StaleWrite(pub Grant);

#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
struct Round;

#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
struct DeadlineCheck(LeaseScope, Grant);

/// The RoleManager actor.
pub struct RoleManager {
    /// The decisions: tenures, membership, shutdown's phase.
    tenures: Tenures,
    elector: Option<Arc<dyn LeaderElector>>,
    host: Arc<dyn ScraperHost>,
    health: HealthReporter,
    announce: Arc<dyn Fn() -> Vec<Recipient<RoleChanged>> + Send + Sync>,
    recorder: Arc<dyn Recorder>,
    /// Where readers find the roles (judged at read time).
    board: RoleBoard,

    /// Scrapers running now: org → the grant they were started under.
    running: BTreeMap<String, Option<Grant>>,
    /// Grants whose tenure ended and that wait (behind their scrapers' stop) to be released.
    to_release: Vec<Grant>,
    /// Earliest instant a lease we wait for expires (next round then).
    wake_at: Option<Instant>,
    /// Lease rounds: one at a time, a request during one runs another after it.
    round_run: RunAgain,
    /// Reconciliations of the scrapers, likewise.
    reconcile_run: RunAgain,
    next_round: Option<SpawnHandle>,
    /// Last announced (role, epoch, owned orgs).
    announced: Option<(Role, u64, Vec<String>)>,
    release_in_flight: usize,
}

impl RoleManager {
    pub fn new(
        settings: RoleSettings,
        elector: Option<Arc<dyn LeaderElector>>,
        host: Arc<dyn ScraperHost>,
        health: HealthReporter,
        announce: Arc<dyn Fn() -> Vec<Recipient<RoleChanged>> + Send + Sync>,
        recorder: Arc<dyn Recorder>,
    ) -> RoleManager {
        let board = RoleBoard::new(settings.mode, settings.orgs.clone());
        let me = elector.as_ref().map(|e| e.identity().to_string());
        RoleManager {
            board,
            tenures: Tenures::new(settings, me, Instant::now()),
            elector,
            host,
            health,
            announce,
            recorder,
            running: BTreeMap::new(),
            to_release: Vec::new(),
            wake_at: None,
            round_run: RunAgain::default(),
            reconcile_run: RunAgain::default(),
            next_round: None,
            announced: None,
            release_in_flight: 0,
        }
    }

    /// Posts to `board` (shared with the readers) instead of a board of its own.
    pub fn with_board(mut self, board: RoleBoard) -> RoleManager {
        self.board = board;
        self
    }

    /// The board this actor posts its roles to.
    pub fn board(&self) -> RoleBoard {
        self.board.clone()
    }

    fn schedule_round(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.next_round.take() {
            ctx.cancel_future(handle);
        }
        let retry = self.tenures.settings().retry_period.as_secs_f64();
        let mut delay = Duration::from_secs_f64(retry * rand::thread_rng().gen_range(1.0..1.2));
        if let Some(at) = self.wake_at {
            delay = delay.min(at.saturating_duration_since(Instant::now()));
        }
        self.next_round = Some(ctx.run_later(delay, |act, ctx| {
            act.next_round = None;
            ctx.notify(Round);
        }));
    }

    fn start_round(&mut self, ctx: &mut Context<Self>) {
        let (Some(elector), Some(request)) = (self.elector.clone(), self.tenures.round_request())
        else {
            return;
        };
        if !self.round_run.start() {
            return;
        }
        self.wake_at = None;
        let recorder = self.recorder.clone();
        let count = move |operation: &str| {
            recorder.count(&LEASE_OPERATIONS, &[("operation", operation)], 1)
        };
        let fut = async move {
            count("heartbeat");
            let membership = elector.heartbeat().await;
            let seen = membership.as_ref().ok().map(|m| m.members.as_slice());
            let wanted = request.wanted(elector.identity(), seen);
            let refused = matches!(
                membership,
                Err(super::ElectionError::DuplicateIdentity { .. })
            );
            let renew_sent = Instant::now();
            let renewed = if request.renew.is_empty() {
                Ok(Vec::new())
            } else {
                let grants: Vec<Grant> = request.renew.iter().map(|(_, g)| g.clone()).collect();
                count("renew");
                elector.renew(&grants).await.map(|alive| {
                    request
                        .renew
                        .into_iter()
                        .zip(alive.into_iter().chain(std::iter::repeat(false)))
                        .map(|((s, g), ok)| (s, g, ok))
                        .collect()
                })
            };
            let mut acquired = Vec::new();
            if !refused {
                for scope in wanted {
                    let sent = Instant::now();
                    count("acquire");
                    let result = elector.try_acquire(&scope).await;
                    let stop = result.is_err();
                    acquired.push((scope, result, sent));
                    if stop {
                        break;
                    }
                }
            }
            RoundOutcome {
                membership,
                renewed,
                renew_sent,
                acquired,
            }
        };
        ctx.spawn(fut.into_actor(self).map(|outcome, act, ctx| {
            let again = act.round_run.finish();
            let plan = act.tenures.apply_round(outcome, Instant::now());
            act.carry_out_round(plan, ctx);
            if again {
                ctx.notify(Round);
            } else {
                act.schedule_round(ctx);
            }
        }));
    }

    /// Carries out a round's plan: its steps in order, the wake-up, the health component, then
    /// one reconciliation of the scrapers.
    fn carry_out_round(&mut self, plan: RoundPlan, ctx: &mut Context<Self>) {
        let RoundPlan {
            steps,
            problems,
            wake_at,
        } = plan;
        if let Some(at) = wake_at {
            self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
        }
        self.carry_out(steps, ctx);
        let members = self.tenures.members().len();
        self.recorder.gauge(&CLUSTER_MEMBERS, &[], members as f64);
        self.board.set_members(members);
        self.health.report(
            COMPONENT,
            if problems.is_empty() {
                ComponentStatus::Up
            } else {
                ComponentStatus::Down(problems.join("; "))
            },
            false,
        );
        self.reconcile(ctx);
    }

    /// Carries out steps in order: logs, counts, deadline checks, releases; a step-down queues
    /// a reconciliation (its scrapers stop, then its lease is released).
    fn carry_out(&mut self, steps: Vec<Step>, ctx: &mut Context<Self>) {
        let mut ended = false;
        for step in steps {
            match step {
                Step::MembersChanged(members) => {
                    tracing::info!(members = ?members, "cluster membership changed");
                }
                Step::IdentityRefused { identity, first } => {
                    if first {
                        tracing::error!(identity = %identity, "another live process announces this replica's identity; this replica takes no lease until it is gone (set a unique leader_election.identity)");
                    }
                }
                Step::IdentityFreed(identity) => {
                    tracing::info!(identity = %identity, "the identity is no longer used by another process; taking part in the election");
                }
                Step::CallFailed(reason) => {
                    self.recorder
                        .count(&LEASE_RENEW_FAILURES, &[("reason", reason)], 1);
                }
                Step::Renewed {
                    scope,
                    grant,
                    valid_until,
                } => self.schedule_deadline(scope, grant, valid_until, ctx),
                Step::Acquired {
                    scope,
                    grant,
                    valid_until,
                } => {
                    tracing::info!(scope = ?scope, epoch = grant.epoch, "lease acquired");
                    self.recorder
                        .count(&LEADER_TRANSITIONS, &[("event", "acquired")], 1);
                    self.schedule_deadline(scope, grant, valid_until, ctx);
                }
                Step::ReleaseUnwanted(grant) => self.to_release.push(grant),
                Step::StaticLeaderRefused { holder } => {
                    tracing::error!(holder = %holder, "leader_election.static_role=leader, but another process holds the global lease of this namespace: refusing to scrape beside it (two static leaders would double-write)");
                }
                Step::StepDown {
                    scope,
                    grant,
                    cause,
                } => {
                    self.log_step_down(&scope, &grant, cause);
                    if let Some(reason) = cause.failure_reason() {
                        self.recorder
                            .count(&LEASE_RENEW_FAILURES, &[("reason", reason)], 1);
                    }
                    self.recorder
                        .count(&LEADER_TRANSITIONS, &[("event", cause.event())], 1);
                    self.to_release.push(grant);
                    ended = true;
                }
            }
        }
        if ended {
            self.reconcile(ctx);
        }
    }

    fn log_step_down(&self, scope: &LeaseScope, grant: &Grant, cause: EndCause) {
        let epoch = grant.epoch;
        match cause {
            EndCause::RenewalRefused => {
                tracing::warn!(scope = ?scope, epoch, "lease renewal refused: the lease is no longer ours; stopping its scrapers");
            }
            EndCause::Deadline => {
                tracing::warn!(scope = ?scope, epoch, "no successful renewal within renew_deadline; stepping down");
            }
            EndCause::StaleWrite => {
                tracing::warn!(scope = ?scope, epoch, "the store rejected a write under this lease; stepping down");
            }
            EndCause::HandOver => {
                tracing::info!(scope = ?scope, epoch, "handing the org over to its assigned replica");
            }
            EndCause::Shutdown => {}
        }
    }

    /// Re-checks a tenure when its local deadline passes.
    fn schedule_deadline(
        &mut self,
        scope: LeaseScope,
        grant: Grant,
        valid_until: Instant,
        ctx: &mut Context<Self>,
    ) {
        let delay = valid_until.saturating_duration_since(Instant::now());
        ctx.run_later(delay, move |_, ctx| ctx.notify(DeadlineCheck(scope, grant)));
    }

    /// Brings the running scrapers to the desired set: stops first (awaited), then announces,
    /// releases ended tenures, and starts new scrapers.
    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        if !self.reconcile_run.start() {
            return;
        }
        let (to_stop, to_start) = scraper_changes(&self.tenures.desired_scrapers(), &self.running);
        let release = std::mem::take(&mut self.to_release);
        self.publish_status();
        if to_stop.is_empty() && to_start.is_empty() && release.is_empty() {
            // Nothing to do, and nothing can have asked meanwhile (no await since `start`).
            let _ = self.reconcile_run.finish();
            self.announce_if_changed();
            if self.tenures.phase() == Phase::Draining && self.release_in_flight == 0 {
                self.finish_shutdown(ctx);
            }
            return;
        }
        for org in &to_stop {
            self.running.remove(org);
        }
        let host = self.host.clone();
        let elector = self.elector.clone();
        let stops = to_stop.clone();
        let stop_fut = async move {
            futures::future::join_all(stops.iter().map(|org| host.stop(org))).await;
        };
        let stopped_any = !to_stop.is_empty();
        ctx.spawn(stop_fut.into_actor(self).map(move |(), act, ctx| {
            // Scrapers of ended tenures are stopped: announce, then release, then start.
            if stopped_any {
                act.announce_if_changed();
            }
            if !release.is_empty() {
                if let Some(elector) = elector {
                    act.recorder
                        .count(&LEASE_OPERATIONS, &[("operation", "release")], 1);
                    let release = release.clone();
                    ctx.spawn(
                        async move {
                            if let Err(error) = elector.release(&release).await {
                                tracing::warn!(error = %error_chain(&error), "releasing leases failed; they expire by themselves");
                            }
                        }
                        .into_actor(act)
                        .map(|(), act, ctx| act.after_release(ctx)),
                    );
                    act.release_in_flight += 1;
                }
            }
            act.start_scrapers(to_start, ctx);
        }));
    }

    fn after_release(&mut self, ctx: &mut Context<Self>) {
        self.release_in_flight = self.release_in_flight.saturating_sub(1);
        if self.tenures.phase() == Phase::Draining
            && !self.reconcile_run.is_running()
            && self.release_in_flight == 0
        {
            self.finish_shutdown(ctx);
        }
    }

    fn start_scrapers(&mut self, to_start: Vec<(String, Option<Grant>)>, ctx: &mut Context<Self>) {
        // A tenure may have ended while the stops ran: start only what is still desired.
        let desired = self.tenures.desired_scrapers();
        let to_start: Vec<(String, Option<Grant>)> = to_start
            .into_iter()
            .filter(|(org, grant)| desired.get(org) == Some(grant))
            .collect();
        if to_start.is_empty() {
            self.reconcile_done(ctx);
            return;
        }
        let host = self.host.clone();
        let starts = to_start.clone();
        let fut = async move {
            let mut results = Vec::new();
            for (org, grant) in starts {
                let result = host.start(&org, grant.clone()).await;
                results.push((org, grant, result));
            }
            results
        };
        ctx.spawn(fut.into_actor(self).map(|results, act, ctx| {
            for (org, grant, result) in results {
                match result {
                    Ok(()) => {
                        act.running.insert(org, grant);
                    }
                    Err(error) => {
                        tracing::warn!(org = %org, error = %error, "starting the org's scraper failed; retrying at the next round");
                    }
                }
            }
            act.reconcile_done(ctx);
        }));
    }

    fn reconcile_done(&mut self, ctx: &mut Context<Self>) {
        let again = self.reconcile_run.finish();
        self.announce_if_changed();
        if again || !self.to_release.is_empty() || self.tenures.desired_scrapers() != self.running {
            self.reconcile(ctx);
        } else if self.tenures.phase() == Phase::Draining && self.release_in_flight == 0 {
            self.finish_shutdown(ctx);
        }
    }

    /// Posts what this replica holds and runs to the board; readers derive the roles
    /// (`is_leader`, `leader_epoch`, `owned_orgs`, `org_lease_held`, the role of `/healthz`)
    /// from it at read time.
    fn publish_status(&self) {
        self.board.post(self.tenures.posted(&self.running));
    }

    /// Announces `RoleChanged` when role, epoch or the running scrapers changed.
    fn announce_if_changed(&mut self) {
        let role = self.tenures.role();
        let grant = self.tenures.held(&LeaseScope::Global).cloned();
        let epoch = grant.as_ref().map_or(0, |g| g.epoch);
        let owned: Vec<String> = self.running.keys().cloned().collect();
        self.publish_status();
        let now = (role, epoch, owned.clone());
        if self.announced.as_ref() == Some(&now) {
            return;
        }
        tracing::info!(role = role.as_str(), epoch, owned_orgs = ?owned, "role changed");
        self.announced = Some(now);
        for recipient in (self.announce)() {
            recipient.do_send(RoleChanged {
                role,
                grant: grant.clone(),
                owned_orgs: owned.clone(),
            });
        }
    }

    /// Shutdown: every tenure ends (released), scrapers stop, leases are released, the member
    /// leaves; then the actor stops.
    fn begin_shutdown(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.next_round.take() {
            ctx.cancel_future(handle);
        }
        let steps = self.tenures.begin_shutdown();
        self.carry_out(steps, ctx);
        self.reconcile(ctx);
    }

    fn finish_shutdown(&mut self, ctx: &mut Context<Self>) {
        if !self.tenures.finish_shutdown() {
            return;
        }
        match self.elector.clone() {
            Some(elector) if self.tenures.elected() => {
                self.recorder
                    .count(&LEASE_OPERATIONS, &[("operation", "leave")], 1);
                ctx.spawn(
                    async move {
                        if let Err(error) = elector.leave().await {
                            tracing::debug!(error = %error_chain(&error), "leaving the cluster failed; the membership expires by itself");
                        }
                    }
                    .into_actor(self)
                    .map(|(), _, ctx| ctx.stop()),
                );
            }
            _ => ctx.stop(),
        }
    }
}

impl Actor for RoleManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.publish_status();
        if let (true, Some(elector)) = (self.tenures.elected(), self.elector.clone()) {
            ctx.add_stream(elector.events());
            self.health
                .report(COMPONENT, ComponentStatus::Starting, false);
            ctx.notify(Round);
        } else {
            self.reconcile(ctx);
            self.announce_if_changed();
        }
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        match self.tenures.phase() {
            Phase::Stopped => Running::Stop,
            Phase::Draining => Running::Continue,
            Phase::Serving => {
                tracing::info!(
                    "stopping: ending every tenure, stopping scrapers, releasing leases"
                );
                self.begin_shutdown(ctx);
                Running::Continue
            }
        }
    }
}

impl Handler<Round> for RoleManager {
    type Result = ();

    fn handle(&mut self, _: Round, ctx: &mut Context<Self>) {
        self.start_round(ctx);
    }
}

impl Handler<DeadlineCheck> for RoleManager {
    type Result = ();

    fn handle(&mut self, msg: DeadlineCheck, ctx: &mut Context<Self>) {
        let DeadlineCheck(scope, grant) = msg;
        let steps = self.tenures.deadline_passed(&scope, &grant, Instant::now());
        self.carry_out(steps, ctx);
    }
}

impl Handler<StaleWrite> for RoleManager {
    type Result = ();

    fn handle(&mut self, msg: StaleWrite, ctx: &mut Context<Self>) {
        let steps = self.tenures.write_rejected(&msg.0);
        self.carry_out(steps, ctx);
    }
}

impl StreamHandler<LeaseEvent> for RoleManager {
    fn handle(&mut self, event: LeaseEvent, ctx: &mut Context<Self>) {
        tracing::debug!(event = ?event, "lease event; retrying at once");
        self.start_round(ctx);
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // The elector's stream reconnects by itself; if it ever ends, rounds still run on
        // their own schedule.
    }
}
