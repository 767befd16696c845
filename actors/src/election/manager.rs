//! RoleManager: drives the [`LeaderElector`], decides which orgs this replica scrapes and under
//! which [`Grant`], and starts or stops the scrapers through a [`ScraperHost`].
//!
//! Modes ([`RoleMode`]):
//! - `StaticLeader` / `StaticFollower`: no elector; a static leader scrapes every org unfenced
//!   (the embedded store).
//! - `Single`: one global lease; its holder scrapes every org under the global grant.
//! - `PerOrg`: the global lease (`is_leader`, singleton jobs) plus one lease per org; every
//!   replica computes the same balanced assignment ([`super::assign`]) from the live members,
//!   acquires the orgs assigned to it, and hands over orgs no longer assigned to it once the
//!   membership has been stable for `rebalance_delay` (never stealing a live lease).
//!
//! How a tenure ends, in this order: the tenure is forgotten at once (no new scraper starts
//! under it), its scrapers are stopped and awaited, `RoleChanged` is announced, and only then
//! is the lease released (a no-op in Redis when it was lost). A tenure is lost when a renewal
//! says it is no longer ours, when its local deadline passes (send time of the last successful
//! renewal + `renew_deadline`, on the monotonic clock), or when the store rejected a write made
//! under it ([`StaleWrite`]).
//!
//! Every grant's [`super::Validity`] follows its tenure: confirmed at acquisition (send time +
//! `renew_deadline`), extended after each successful renewal, ended the moment the tenure ends.
//! Readers judge it at read time through the [`RoleBoard`] this actor posts to, and work done
//! under a grant stops at its lapse ([`super::validity::under_lease`]).
//!
//! The actor never awaits I/O in a handler: each round of elector calls and each reconciliation
//! of the scrapers is a spawned future whose result comes back to the actor. Rounds run every
//! `retry_period × U(1, 1.2)`, sooner when a lease we wait for expires (its TTL + 50 ms) or when
//! another replica signals a release.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, Recipient,
    Running, SpawnHandle, StreamHandler, WrapFuture,
};
use futures::future::LocalBoxFuture;
use rand::Rng;
use tokio::time::Instant;

use super::assign::assign;
use super::board::{Posted, RoleBoard};
use super::{Acquire, ElectionError, Grant, LeaderElector, LeaseEvent, LeaseScope, Membership};
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

/// How this replica gets its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleMode {
    StaticLeader,
    StaticFollower,
    Single,
    PerOrg,
}

/// Settings of the RoleManager.
#[derive(Debug, Clone)]
pub struct RoleSettings {
    pub mode: RoleMode,
    /// Every configured org.
    pub orgs: Vec<String>,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
    pub rebalance_delay: Duration,
    /// 0 = no cap.
    pub max_orgs_per_replica: usize,
    /// A static leader configured on a shared store: it takes the global lease like an elected
    /// one, and says loudly when another process holds it.
    pub static_leader_on_lease: bool,
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

/// One held lease.
#[derive(Debug, Clone)]
struct Tenure {
    grant: Grant,
    /// Locally valid until (monotonic): send time of the last successful renewal (or the
    /// acquisition) + `renew_deadline`.
    valid_until: Instant,
}

/// What a round of elector calls found.
struct RoundResult {
    membership: Result<Membership, ElectionError>,
    /// Per renewed grant: (scope, grant, still ours?) with the send time, or the error.
    renewed: Result<Vec<(LeaseScope, Grant, bool)>, ElectionError>,
    renew_sent: Instant,
    acquired: Vec<(LeaseScope, Result<Acquire, ElectionError>, Instant)>,
}

/// Why a tenure ended (the `event` label of the transitions counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndKind {
    /// Given up on purpose (rebalance, shutdown).
    Released,
    /// Taken from us: expired, renewal refused, deadline missed, write rejected.
    Lost,
}

impl EndKind {
    fn label(self) -> &'static str {
        match self {
            EndKind::Released => "released",
            EndKind::Lost => "lost",
        }
    }
}

/// The RoleManager actor.
pub struct RoleManager {
    settings: RoleSettings,
    elector: Option<Arc<dyn LeaderElector>>,
    host: Arc<dyn ScraperHost>,
    health: HealthReporter,
    announce: Arc<dyn Fn() -> Vec<Recipient<RoleChanged>> + Send + Sync>,
    recorder: Arc<dyn Recorder>,
    /// Where readers find the roles (judged at read time).
    board: RoleBoard,

    held: BTreeMap<LeaseScope, Tenure>,
    /// Scrapers running now: org → the grant they were started under.
    running: BTreeMap<String, Option<Grant>>,
    /// Grants whose tenure ended and that wait (behind their scrapers' stop) to be released.
    to_release: Vec<Grant>,
    members: Vec<String>,
    /// When the membership last changed (rebalancing waits until it is stable).
    members_since: Instant,
    /// Earliest instant a lease we wait for expires (next round then).
    wake_at: Option<Instant>,
    /// Lease rounds: one at a time, a request during one runs another after it.
    round_run: RunAgain,
    /// Reconciliations of the scrapers, likewise.
    reconcile_run: RunAgain,
    next_round: Option<SpawnHandle>,
    /// Last announced (role, epoch, owned orgs).
    announced: Option<(Role, u64, Vec<String>)>,
    shutting_down: bool,
    shutdown_done: bool,
    refused: Option<String>,
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
        RoleManager {
            board,
            settings,
            elector,
            host,
            health,
            announce,
            recorder,
            held: BTreeMap::new(),
            running: BTreeMap::new(),
            to_release: Vec::new(),
            members: Vec::new(),
            members_since: Instant::now(),
            wake_at: None,
            round_run: RunAgain::default(),
            reconcile_run: RunAgain::default(),
            next_round: None,
            announced: None,
            shutting_down: false,
            shutdown_done: false,
            refused: None,
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

    fn elected(&self) -> bool {
        matches!(self.settings.mode, RoleMode::Single | RoleMode::PerOrg)
    }

    /// The scrapers this replica should run now: org → grant.
    fn desired_scrapers(&self) -> BTreeMap<String, Option<Grant>> {
        if self.shutting_down {
            return BTreeMap::new();
        }
        match self.settings.mode {
            RoleMode::StaticLeader => self
                .settings
                .orgs
                .iter()
                .map(|o| (o.clone(), None))
                .collect(),
            RoleMode::StaticFollower => BTreeMap::new(),
            RoleMode::Single => match self.held.get(&LeaseScope::Global) {
                Some(t) => self
                    .settings
                    .orgs
                    .iter()
                    .map(|o| (o.clone(), Some(t.grant.clone())))
                    .collect(),
                None => BTreeMap::new(),
            },
            RoleMode::PerOrg => self
                .held
                .iter()
                .filter_map(|(scope, t)| match scope {
                    LeaseScope::Org(org) => Some((org.clone(), Some(t.grant.clone()))),
                    LeaseScope::Global => None,
                })
                .collect(),
        }
    }

    /// Orgs the assignment gives this replica (per-org mode).
    fn assigned(&self) -> BTreeSet<String> {
        let Some(elector) = &self.elector else {
            return BTreeSet::new();
        };
        if self.members.is_empty() {
            return BTreeSet::new();
        }
        let me = elector.identity();
        assign(
            &self.settings.orgs,
            &self.members,
            self.settings.max_orgs_per_replica,
        )
        .into_iter()
        .filter(|(_, member)| member == me)
        .map(|(org, _)| org)
        .collect()
    }

    fn schedule_round(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.next_round.take() {
            ctx.cancel_future(handle);
        }
        let retry = self.settings.retry_period.as_secs_f64();
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
        if self.shutting_down {
            return;
        }
        let Some(elector) = self.elector.clone() else {
            return;
        };
        if !self.round_run.start() {
            return;
        }
        self.wake_at = None;
        let renew: Vec<(LeaseScope, Grant)> = self
            .held
            .iter()
            .map(|(s, t)| (s.clone(), t.grant.clone()))
            .collect();
        let global_wanted = !self.held.contains_key(&LeaseScope::Global);
        let per_org = self.settings.mode == RoleMode::PerOrg;
        let held_scopes: BTreeSet<LeaseScope> = self.held.keys().cloned().collect();
        let (orgs, cap) = (
            self.settings.orgs.clone(),
            self.settings.max_orgs_per_replica,
        );
        let recorder = self.recorder.clone();
        let count = move |operation: &str| {
            recorder.count(&LEASE_OPERATIONS, &[("operation", operation)], 1)
        };
        let fut = async move {
            count("heartbeat");
            let membership = elector.heartbeat().await;
            // The orgs to try: those the assignment over the members just seen gives us, so
            // a vanished member's orgs are taken in the very round that sees it gone.
            let mut wanted: Vec<LeaseScope> = Vec::new();
            if global_wanted {
                wanted.push(LeaseScope::Global);
            }
            if let (true, Ok(seen)) = (per_org, &membership) {
                let me = elector.identity().to_string();
                for (org, member) in assign(&orgs, &seen.members, cap) {
                    let scope = LeaseScope::Org(org);
                    if member == me && !held_scopes.contains(&scope) {
                        wanted.push(scope);
                    }
                }
            }
            let refused = matches!(membership, Err(ElectionError::DuplicateIdentity { .. }));
            let renew_sent = Instant::now();
            let renewed = if renew.is_empty() {
                Ok(Vec::new())
            } else {
                let grants: Vec<Grant> = renew.iter().map(|(_, g)| g.clone()).collect();
                count("renew");
                elector.renew(&grants).await.map(|alive| {
                    renew
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
            RoundResult {
                membership,
                renewed,
                renew_sent,
                acquired,
            }
        };
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| {
            let again = act.round_run.finish();
            act.apply_round(result, ctx);
            if again {
                ctx.notify(Round);
            } else {
                act.schedule_round(ctx);
            }
        }));
    }

    fn apply_round(&mut self, result: RoundResult, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let mut problems: Vec<String> = Vec::new();
        match result.membership {
            Ok(membership) => {
                if let (RoleMode::PerOrg, Some(expiry)) =
                    (self.settings.mode, membership.next_expiry)
                {
                    let at = now + expiry + Duration::from_millis(50);
                    self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
                }
                if membership.members != self.members {
                    tracing::info!(members = ?membership.members, "cluster membership changed");
                    self.members = membership.members;
                    self.members_since = now;
                }
                self.recorder
                    .gauge(&CLUSTER_MEMBERS, &[], self.members.len() as f64);
                if let Some(identity) = self.refused.take() {
                    tracing::info!(identity = %identity, "the identity is no longer used by another process; taking part in the election");
                }
            }
            Err(ElectionError::DuplicateIdentity { identity }) => {
                if self.refused.is_none() {
                    tracing::error!(identity = %identity, "another live process announces this replica's identity; this replica takes no lease until it is gone (set a unique leader_election.identity)");
                }
                problems.push(format!(
                    "another live process uses the identity {identity:?}; this replica takes no lease"
                ));
                self.refused = Some(identity);
            }
            Err(error) => {
                self.recorder
                    .count(&LEASE_RENEW_FAILURES, &[("reason", error.reason())], 1);
                problems.push(format!(
                    "membership heartbeat failed: {}",
                    error_chain(&error)
                ));
            }
        }

        let mut lost: Vec<LeaseScope> = Vec::new();
        match result.renewed {
            Ok(renewed) => {
                for (scope, grant, alive) in renewed {
                    let Some(tenure) = self.held.get_mut(&scope) else {
                        continue;
                    };
                    if tenure.grant != grant {
                        continue;
                    }
                    if alive {
                        tenure.valid_until = result.renew_sent + self.settings.renew_deadline;
                        tenure.grant.validity.extend_to(tenure.valid_until);
                        self.schedule_deadline(scope, grant, ctx);
                    } else {
                        self.recorder
                            .count(&LEASE_RENEW_FAILURES, &[("reason", "not_held")], 1);
                        tracing::warn!(scope = ?scope, epoch = grant.epoch, "lease renewal refused: the lease is no longer ours");
                        lost.push(scope);
                    }
                }
            }
            Err(error) => {
                self.recorder
                    .count(&LEASE_RENEW_FAILURES, &[("reason", error.reason())], 1);
                tracing::warn!(error = %error_chain(&error), held = self.held.len(), "lease renewal failed; the leases stay valid until their local deadline");
                problems.push(format!("lease renewal failed: {}", error_chain(&error)));
                // Tenures past their deadline go now (the deadline timer may be queued behind).
                for (scope, tenure) in &self.held {
                    if tenure.valid_until <= now {
                        lost.push(scope.clone());
                    }
                }
            }
        }
        for scope in lost {
            self.end_tenure(&scope, EndKind::Lost, ctx);
        }

        for (scope, acquired, sent) in result.acquired {
            match acquired {
                Ok(Acquire::Acquired(grant)) => {
                    if self.shutting_down || self.held.contains_key(&scope) {
                        self.to_release.push(grant);
                        continue;
                    }
                    tracing::info!(scope = ?scope, epoch = grant.epoch, "lease acquired");
                    self.recorder
                        .count(&LEADER_TRANSITIONS, &[("event", "acquired")], 1);
                    let valid_until = sent + self.settings.renew_deadline;
                    grant.validity.extend_to(valid_until);
                    self.held.insert(
                        scope.clone(),
                        Tenure {
                            grant: grant.clone(),
                            valid_until,
                        },
                    );
                    self.schedule_deadline(scope, grant, ctx);
                }
                Ok(Acquire::Held { holder, ttl }) => {
                    let at = now + ttl + Duration::from_millis(50);
                    self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
                    if scope == LeaseScope::Global && self.settings.static_leader_on_lease {
                        tracing::error!(holder = %holder, "leader_election.static_role=leader, but another process holds the global lease of this namespace: refusing to scrape beside it (two static leaders would double-write)");
                        problems.push(format!(
                            "static leader refused: the global lease is held by {holder:?}"
                        ));
                    }
                }
                Err(error) => {
                    self.recorder
                        .count(&LEASE_RENEW_FAILURES, &[("reason", error.reason())], 1);
                    problems.push(format!("lease acquisition failed: {}", error_chain(&error)));
                }
            }
        }

        // Per-org hand-over: once the membership has been stable for `rebalance_delay`,
        // release the orgs the assignment no longer gives us.
        if self.settings.mode == RoleMode::PerOrg
            && self.refused.is_none()
            && !self.members.is_empty()
            && now.saturating_duration_since(self.members_since) >= self.settings.rebalance_delay
        {
            let assigned = self.assigned();
            let surplus: Vec<LeaseScope> = self
                .held
                .keys()
                .filter(|s| matches!(s, LeaseScope::Org(org) if !assigned.contains(org)))
                .cloned()
                .collect();
            for scope in surplus {
                tracing::info!(scope = ?scope, "handing the org over to its assigned replica");
                self.end_tenure(&scope, EndKind::Released, ctx);
            }
        }

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

    /// Re-checks a tenure when its local deadline passes.
    fn schedule_deadline(&mut self, scope: LeaseScope, grant: Grant, ctx: &mut Context<Self>) {
        let Some(tenure) = self.held.get(&scope) else {
            return;
        };
        let delay = tenure.valid_until.saturating_duration_since(Instant::now());
        ctx.run_later(delay, move |_, ctx| ctx.notify(DeadlineCheck(scope, grant)));
    }

    /// Forgets a tenure now and queues its scrapers' stop, then its release.
    fn end_tenure(&mut self, scope: &LeaseScope, kind: EndKind, ctx: &mut Context<Self>) {
        let Some(tenure) = self.held.remove(scope) else {
            return;
        };
        // Readers stop reporting it and work under it stops, before anything else happens.
        tenure.grant.validity.end();
        self.recorder
            .count(&LEADER_TRANSITIONS, &[("event", kind.label())], 1);
        if kind == EndKind::Lost {
            tracing::warn!(scope = ?scope, epoch = tenure.grant.epoch, "lease lost; stopping its scrapers");
        }
        self.to_release.push(tenure.grant);
        self.reconcile(ctx);
    }

    /// Brings the running scrapers to the desired set: stops first (awaited), then announces,
    /// releases ended tenures, and starts new scrapers.
    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        if !self.reconcile_run.start() {
            return;
        }
        let desired = self.desired_scrapers();
        let to_stop: Vec<String> = self
            .running
            .iter()
            .filter(|(org, grant)| desired.get(*org) != Some(*grant))
            .map(|(org, _)| org.clone())
            .collect();
        let to_start: Vec<(String, Option<Grant>)> = desired
            .iter()
            .filter(|(org, grant)| self.running.get(*org) != Some(*grant) || to_stop.contains(org))
            .map(|(o, g)| (o.clone(), g.clone()))
            .collect();
        let release = std::mem::take(&mut self.to_release);
        self.publish_status();
        if to_stop.is_empty() && to_start.is_empty() && release.is_empty() {
            // Nothing to do, and nothing can have asked meanwhile (no await since `start`).
            let _ = self.reconcile_run.finish();
            self.announce_if_changed();
            if self.shutting_down && !self.shutdown_done {
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
        if self.shutting_down && !self.reconcile_run.is_running() && self.release_in_flight == 0 {
            self.finish_shutdown(ctx);
        }
    }

    fn start_scrapers(&mut self, to_start: Vec<(String, Option<Grant>)>, ctx: &mut Context<Self>) {
        // A tenure may have ended while the stops ran: start only what is still desired.
        let desired = self.desired_scrapers();
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
        if again || !self.to_release.is_empty() || self.desired_scrapers() != self.running {
            self.reconcile(ctx);
        } else if self.shutting_down && self.release_in_flight == 0 && !self.shutdown_done {
            self.finish_shutdown(ctx);
        }
    }

    fn role(&self) -> Role {
        match self.settings.mode {
            RoleMode::StaticLeader => Role::Leader,
            RoleMode::StaticFollower => Role::Follower,
            RoleMode::Single | RoleMode::PerOrg => {
                if self.held.contains_key(&LeaseScope::Global) && !self.shutting_down {
                    Role::Leader
                } else {
                    Role::Follower
                }
            }
        }
    }

    /// Posts what this replica holds and runs to the board; readers derive the roles
    /// (`is_leader`, `leader_epoch`, `owned_orgs`, `org_lease_held`, the role of `/healthz`)
    /// from it at read time.
    fn publish_status(&self) {
        let held = |scope: &LeaseScope| {
            if self.shutting_down {
                None
            } else {
                self.held.get(scope).map(|t| t.grant.clone())
            }
        };
        let orgs = self
            .held
            .iter()
            .filter(|_| !self.shutting_down)
            .filter_map(|(scope, t)| match scope {
                LeaseScope::Org(org) => Some((org.clone(), t.grant.clone())),
                LeaseScope::Global => None,
            })
            .collect();
        self.board.post(Posted {
            global: held(&LeaseScope::Global),
            orgs,
            running: self.running.clone(),
        });
    }

    /// Announces `RoleChanged` when role, epoch or the running scrapers changed.
    fn announce_if_changed(&mut self) {
        let role = self.role();
        let grant = self.held.get(&LeaseScope::Global).map(|t| t.grant.clone());
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
        self.shutting_down = true;
        if let Some(handle) = self.next_round.take() {
            ctx.cancel_future(handle);
        }
        let scopes: Vec<LeaseScope> = self.held.keys().cloned().collect();
        for scope in scopes {
            self.end_tenure(&scope, EndKind::Released, ctx);
        }
        self.reconcile(ctx);
    }

    fn finish_shutdown(&mut self, ctx: &mut Context<Self>) {
        if self.shutdown_done {
            return;
        }
        self.shutdown_done = true;
        match self.elector.clone() {
            Some(elector) if self.elected() => {
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
        if let (true, Some(elector)) = (self.elected(), self.elector.clone()) {
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
        if self.shutdown_done {
            return Running::Stop;
        }
        if !self.shutting_down {
            tracing::info!("stopping: ending every tenure, stopping scrapers, releasing leases");
            self.begin_shutdown(ctx);
        }
        Running::Continue
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
        let expired = self
            .held
            .get(&scope)
            .is_some_and(|t| t.grant == grant && t.valid_until <= Instant::now());
        if expired {
            self.recorder
                .count(&LEASE_RENEW_FAILURES, &[("reason", "deadline")], 1);
            tracing::warn!(scope = ?scope, epoch = grant.epoch, "no successful renewal within renew_deadline; stepping down");
            self.end_tenure(&scope, EndKind::Lost, ctx);
        }
    }
}

impl Handler<StaleWrite> for RoleManager {
    type Result = ();

    fn handle(&mut self, msg: StaleWrite, ctx: &mut Context<Self>) {
        let scope = self
            .held
            .iter()
            .find(|(_, t)| t.grant == msg.0)
            .map(|(s, _)| s.clone());
        if let Some(scope) = scope {
            tracing::warn!(scope = ?scope, epoch = msg.0.epoch, "the store rejected a write under this lease; stepping down");
            self.recorder
                .count(&LEASE_RENEW_FAILURES, &[("reason", "stale_write")], 1);
            self.end_tenure(&scope, EndKind::Lost, ctx);
        }
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
