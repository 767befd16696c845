//! The election's decisions as plain data, with no actor and no I/O: the tenures this replica
//! holds, what a round's outcome means for them, which scrapers should run, and how far
//! shutdown has come. The RoleManager ([`super::manager`]) is the shell that calls the elector,
//! carries out the [`Step`]s in the order given, and logs and counts them.
//!
//! What a round's outcome means, in this order:
//! 1. the membership: adopt it (rebalancing waits until it has been stable), or refuse every
//!    lease while another live process announces this replica's identity;
//! 2. renewals: a confirmed tenure's validity moves to send time + `renew_deadline`; a refused
//!    one steps down; when the renewal call failed, tenures stay until their local deadline and
//!    those already past it step down now;
//! 3. acquisitions: a lease won becomes a tenure valid until send time + `renew_deadline`,
//!    unless it is already held or shutdown has begun (then it is released unused); a lease
//!    held by another process wakes the next round when it expires;
//! 4. per-org hand-over: once the membership has been stable for `rebalance_delay` (and no
//!    identity conflict stands), the orgs the assignment no longer gives this replica step
//!    down, released for their new owner.
//!
//! A tenure's [`super::Validity`] follows it here: confirmed at acquisition, moved at each
//! renewal, ended the moment the tenure steps down (so no scraper starts under it afterwards,
//! and readers stop reporting it before the shell has done anything else).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::assign::assign;
use super::board::Posted;
use super::{Acquire, ElectionError, Grant, LeaseScope, Membership};
use crate::health::Role;
use crate::store::error_chain;

/// How this replica gets its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleMode {
    StaticLeader,
    StaticFollower,
    Single,
    PerOrg,
}

/// Settings of the election.
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

/// How far shutdown has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Taking part in the election.
    Serving,
    /// Every tenure has ended; scrapers stop and leases are released.
    Draining,
    /// The member has left (or is leaving); the actor stops.
    Stopped,
}

/// Why a tenure ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// A renewal said the lease is no longer ours.
    RenewalRefused,
    /// No successful renewal within `renew_deadline`.
    Deadline,
    /// The store rejected a write made under it.
    StaleWrite,
    /// The assignment gives the org to another replica.
    HandOver,
    /// This replica is stopping.
    Shutdown,
}

impl EndCause {
    /// Given up on purpose (`released`) or taken from us (`lost`): the `event` label of the
    /// transitions counter.
    pub fn event(self) -> &'static str {
        match self {
            EndCause::HandOver | EndCause::Shutdown => "released",
            EndCause::RenewalRefused | EndCause::Deadline | EndCause::StaleWrite => "lost",
        }
    }

    /// The `reason` label of the renewal-failures counter, for causes counted there.
    pub fn failure_reason(self) -> Option<&'static str> {
        match self {
            EndCause::RenewalRefused => Some("not_held"),
            EndCause::Deadline => Some("deadline"),
            EndCause::StaleWrite => Some("stale_write"),
            EndCause::HandOver | EndCause::Shutdown => None,
        }
    }
}

/// What a round of elector calls found.
#[derive(Debug)]
pub struct RoundOutcome {
    pub membership: Result<Membership, ElectionError>,
    /// Per renewed grant: (scope, grant, still ours?), or the error of the renewal call.
    pub renewed: Result<Vec<(LeaseScope, Grant, bool)>, ElectionError>,
    /// When the renewal was sent.
    pub renew_sent: Instant,
    /// Per attempted scope: the answer and when the attempt was sent.
    pub acquired: Vec<(LeaseScope, Result<Acquire, ElectionError>, Instant)>,
}

/// What the next round asks the elector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRequest {
    /// The tenures to renew.
    pub renew: Vec<(LeaseScope, Grant)>,
    /// Whether to try the global lease (not held).
    pub global_wanted: bool,
    /// Whether to try the orgs the assignment gives this replica (per-org mode).
    pub per_org: bool,
    /// Scopes held now (never tried again).
    pub held: BTreeSet<LeaseScope>,
    pub orgs: Vec<String>,
    pub max_orgs_per_replica: usize,
}

impl RoundRequest {
    /// The scopes to try, given the members the round's heartbeat just saw (so a vanished
    /// member's orgs are taken in the very round that sees it gone).
    pub fn wanted(&self, me: &str, members: Option<&[String]>) -> Vec<LeaseScope> {
        let mut wanted = Vec::new();
        if self.global_wanted {
            wanted.push(LeaseScope::Global);
        }
        if let (true, Some(members)) = (self.per_org, members) {
            for (org, member) in assign(&self.orgs, members, self.max_orgs_per_replica) {
                let scope = LeaseScope::Org(org);
                if member == me && !self.held.contains(&scope) {
                    wanted.push(scope);
                }
            }
        }
        wanted
    }
}

/// One consequence of a round (or of a deadline, a rejected write, shutdown), in the order the
/// shell carries them out.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The live membership changed.
    MembersChanged(Vec<String>),
    /// Another live process announces this replica's identity: no lease is taken while it
    /// does (`first`: the conflict was not known before).
    IdentityRefused { identity: String, first: bool },
    /// The identity conflict is over.
    IdentityFreed(String),
    /// An elector call failed (counted under this reason).
    CallFailed(&'static str),
    /// A renewal confirmed the tenure: its validity moved to `valid_until` (re-check then).
    Renewed {
        scope: LeaseScope,
        grant: Grant,
        valid_until: Instant,
    },
    /// The tenure ended (its validity has ended): its scrapers stop, then its lease is released.
    StepDown {
        scope: LeaseScope,
        grant: Grant,
        cause: EndCause,
    },
    /// A lease won: a new tenure, valid until `valid_until` (re-check then).
    Acquired {
        scope: LeaseScope,
        grant: Grant,
        valid_until: Instant,
    },
    /// A lease won that is not wanted (already held, or shutdown began): release it.
    ReleaseUnwanted(Grant),
    /// The global lease is held by another process although this replica is a static leader.
    StaticLeaderRefused { holder: String },
}

/// What a round means: the steps, the problems for the health component (none: up), and the
/// earliest instant a lease we wait for expires (the next round runs then).
#[derive(Debug, Default)]
pub struct RoundPlan {
    pub steps: Vec<Step>,
    pub problems: Vec<String>,
    pub wake_at: Option<Instant>,
}

/// A lease we wait for is looked at again this long after its reported expiry.
const EXPIRY_SLACK: Duration = Duration::from_millis(50);

/// The election's state: the tenures held, the membership, shutdown's phase.
#[derive(Debug)]
pub struct Tenures {
    settings: RoleSettings,
    /// This replica's identity (elected modes).
    me: Option<String>,
    held: BTreeMap<LeaseScope, Grant>,
    members: Vec<String>,
    /// When the membership last changed (rebalancing waits until it is stable).
    members_since: Instant,
    /// Set while another live process announces this replica's identity.
    refused: Option<String>,
    phase: Phase,
}

impl Tenures {
    /// No tenure, no member seen, serving.
    pub fn new(settings: RoleSettings, me: Option<String>, now: Instant) -> Tenures {
        Tenures {
            settings,
            me,
            held: BTreeMap::new(),
            members: Vec::new(),
            members_since: now,
            refused: None,
            phase: Phase::Serving,
        }
    }

    pub fn settings(&self) -> &RoleSettings {
        &self.settings
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the role comes from an election (not a static role).
    pub fn elected(&self) -> bool {
        matches!(self.settings.mode, RoleMode::Single | RoleMode::PerOrg)
    }

    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// The tenure of `scope`, if held.
    pub fn held(&self, scope: &LeaseScope) -> Option<&Grant> {
        self.held.get(scope)
    }

    /// The scope whose tenure is `grant`, if it is still held.
    pub fn scope_of(&self, grant: &Grant) -> Option<LeaseScope> {
        self.held
            .iter()
            .find(|(_, g)| *g == grant)
            .map(|(s, _)| s.clone())
    }

    /// This replica's role now.
    pub fn role(&self) -> Role {
        match self.settings.mode {
            RoleMode::StaticLeader => Role::Leader,
            RoleMode::StaticFollower => Role::Follower,
            RoleMode::Single | RoleMode::PerOrg => {
                if self.held.contains_key(&LeaseScope::Global) && self.phase == Phase::Serving {
                    Role::Leader
                } else {
                    Role::Follower
                }
            }
        }
    }

    /// The scrapers this replica should run now: org → grant (`None`: unfenced).
    pub fn desired_scrapers(&self) -> BTreeMap<String, Option<Grant>> {
        if self.phase != Phase::Serving {
            return BTreeMap::new();
        }
        let every_org = |grant: Option<&Grant>| {
            self.settings
                .orgs
                .iter()
                .map(|o| (o.clone(), grant.cloned()))
                .collect()
        };
        match self.settings.mode {
            RoleMode::StaticLeader => every_org(None),
            RoleMode::StaticFollower => BTreeMap::new(),
            RoleMode::Single => match self.held.get(&LeaseScope::Global) {
                Some(grant) => every_org(Some(grant)),
                None => BTreeMap::new(),
            },
            RoleMode::PerOrg => self
                .held
                .iter()
                .filter_map(|(scope, grant)| match scope {
                    LeaseScope::Org(org) => Some((org.clone(), Some(grant.clone()))),
                    LeaseScope::Global => None,
                })
                .collect(),
        }
    }

    /// What this replica holds and runs, for the board (nothing held once shutdown began).
    pub fn posted(&self, running: &BTreeMap<String, Option<Grant>>) -> Posted {
        let serving = self.phase == Phase::Serving;
        let orgs = self
            .held
            .iter()
            .filter(|_| serving)
            .filter_map(|(scope, grant)| match scope {
                LeaseScope::Org(org) => Some((org.clone(), grant.clone())),
                LeaseScope::Global => None,
            })
            .collect();
        Posted {
            global: self
                .held
                .get(&LeaseScope::Global)
                .filter(|_| serving)
                .cloned(),
            orgs,
            running: running.clone(),
        }
    }

    /// What the next round asks, or `None` when no round runs (static role, shutdown).
    pub fn round_request(&self) -> Option<RoundRequest> {
        if self.phase != Phase::Serving || !self.elected() || self.me.is_none() {
            return None;
        }
        Some(RoundRequest {
            renew: self
                .held
                .iter()
                .map(|(s, g)| (s.clone(), g.clone()))
                .collect(),
            global_wanted: !self.held.contains_key(&LeaseScope::Global),
            per_org: self.settings.mode == RoleMode::PerOrg,
            held: self.held.keys().cloned().collect(),
            orgs: self.settings.orgs.clone(),
            max_orgs_per_replica: self.settings.max_orgs_per_replica,
        })
    }

    /// Orgs the assignment over the known members gives this replica.
    fn assigned(&self) -> BTreeSet<String> {
        let Some(me) = &self.me else {
            return BTreeSet::new();
        };
        if self.members.is_empty() {
            return BTreeSet::new();
        }
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

    fn step_down(&mut self, scope: &LeaseScope, cause: EndCause, steps: &mut Vec<Step>) {
        if let Some(grant) = self.held.remove(scope) {
            // Readers stop reporting it, and work under it stops, before anything else.
            grant.validity.end();
            steps.push(Step::StepDown {
                scope: scope.clone(),
                grant,
                cause,
            });
        }
    }

    /// What a round's outcome means (see the module doc for the order).
    pub fn apply_round(&mut self, outcome: RoundOutcome, now: Instant) -> RoundPlan {
        let mut plan = RoundPlan::default();
        let steps = &mut plan.steps;

        match outcome.membership {
            Ok(membership) => {
                if let (RoleMode::PerOrg, Some(expiry)) =
                    (self.settings.mode, membership.next_expiry)
                {
                    let at = now + expiry + EXPIRY_SLACK;
                    plan.wake_at = Some(at);
                }
                if membership.members != self.members {
                    self.members = membership.members;
                    self.members_since = now;
                    steps.push(Step::MembersChanged(self.members.clone()));
                }
                if let Some(identity) = self.refused.take() {
                    steps.push(Step::IdentityFreed(identity));
                }
            }
            Err(ElectionError::DuplicateIdentity { identity }) => {
                plan.problems.push(format!(
                    "another live process uses the identity {identity:?}; this replica takes no lease"
                ));
                steps.push(Step::IdentityRefused {
                    identity: identity.clone(),
                    first: self.refused.is_none(),
                });
                self.refused = Some(identity);
            }
            Err(error) => {
                steps.push(Step::CallFailed(error.reason()));
                plan.problems.push(format!(
                    "membership heartbeat failed: {}",
                    error_chain(&error)
                ));
            }
        }

        match outcome.renewed {
            Ok(renewed) => {
                for (scope, grant, alive) in renewed {
                    if self.held.get(&scope) != Some(&grant) {
                        continue;
                    }
                    if alive {
                        let valid_until = outcome.renew_sent + self.settings.renew_deadline;
                        grant.validity.extend_to(valid_until);
                        steps.push(Step::Renewed {
                            scope,
                            grant,
                            valid_until,
                        });
                    } else {
                        self.step_down(&scope, EndCause::RenewalRefused, steps);
                    }
                }
            }
            Err(error) => {
                steps.push(Step::CallFailed(error.reason()));
                plan.problems
                    .push(format!("lease renewal failed: {}", error_chain(&error)));
                // Tenures past their deadline go now (the deadline timer may be queued behind).
                let past: Vec<LeaseScope> = self
                    .held
                    .iter()
                    .filter(|(_, grant)| !grant.validity.is_live_at(now))
                    .map(|(scope, _)| scope.clone())
                    .collect();
                for scope in past {
                    self.step_down(&scope, EndCause::Deadline, steps);
                }
            }
        }

        for (scope, answer, sent) in outcome.acquired {
            match answer {
                Ok(Acquire::Acquired(grant)) => {
                    if self.phase != Phase::Serving || self.held.contains_key(&scope) {
                        grant.validity.end();
                        steps.push(Step::ReleaseUnwanted(grant));
                        continue;
                    }
                    let valid_until = sent + self.settings.renew_deadline;
                    grant.validity.extend_to(valid_until);
                    self.held.insert(scope.clone(), grant.clone());
                    steps.push(Step::Acquired {
                        scope,
                        grant,
                        valid_until,
                    });
                }
                Ok(Acquire::Held { holder, ttl }) => {
                    let at = now + ttl + EXPIRY_SLACK;
                    plan.wake_at = Some(plan.wake_at.map_or(at, |w| w.min(at)));
                    if scope == LeaseScope::Global && self.settings.static_leader_on_lease {
                        plan.problems.push(format!(
                            "static leader refused: the global lease is held by {holder:?}"
                        ));
                        steps.push(Step::StaticLeaderRefused { holder });
                    }
                }
                Err(error) => {
                    steps.push(Step::CallFailed(error.reason()));
                    plan.problems
                        .push(format!("lease acquisition failed: {}", error_chain(&error)));
                }
            }
        }

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
                self.step_down(&scope, EndCause::HandOver, steps);
            }
        }
        plan
    }

    /// The tenure's local deadline passed: it steps down unless a renewal moved it (or it
    /// already ended).
    pub fn deadline_passed(
        &mut self,
        scope: &LeaseScope,
        grant: &Grant,
        now: Instant,
    ) -> Vec<Step> {
        let mut steps = Vec::new();
        if self
            .held
            .get(scope)
            .is_some_and(|g| g == grant && !g.validity.is_live_at(now))
        {
            self.step_down(scope, EndCause::Deadline, &mut steps);
        }
        steps
    }

    /// The store rejected a write under `grant`: its tenure (if still held) steps down.
    pub fn write_rejected(&mut self, grant: &Grant) -> Vec<Step> {
        let mut steps = Vec::new();
        if let Some(scope) = self.scope_of(grant) {
            self.step_down(&scope, EndCause::StaleWrite, &mut steps);
        }
        steps
    }

    /// Shutdown begins: every tenure ends (released) and no scraper is desired any more.
    pub fn begin_shutdown(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.phase != Phase::Serving {
            return steps;
        }
        self.phase = Phase::Draining;
        let scopes: Vec<LeaseScope> = self.held.keys().cloned().collect();
        for scope in scopes {
            self.step_down(&scope, EndCause::Shutdown, &mut steps);
        }
        steps
    }

    /// Draining is over (scrapers stopped, leases released): returns `true` the one time the
    /// phase moves to [`Phase::Stopped`].
    pub fn finish_shutdown(&mut self) -> bool {
        if self.phase == Phase::Draining {
            self.phase = Phase::Stopped;
            true
        } else {
            false
        }
    }
}

/// Scrapers (org → grant) to stop and to start to go from `running` to `desired`: a scraper
/// whose grant changed is stopped and started again under the new one.
pub fn scraper_changes(
    desired: &BTreeMap<String, Option<Grant>>,
    running: &BTreeMap<String, Option<Grant>>,
) -> (Vec<String>, Vec<(String, Option<Grant>)>) {
    let to_stop: Vec<String> = running
        .iter()
        .filter(|(org, grant)| desired.get(*org) != Some(*grant))
        .map(|(org, _)| org.clone())
        .collect();
    let to_start = desired
        .iter()
        .filter(|(org, grant)| running.get(*org) != Some(*grant) || to_stop.contains(org))
        .map(|(o, g)| (o.clone(), g.clone()))
        .collect();
    (to_stop, to_start)
}

#[cfg(test)]
#[path = "tenures_tests.rs"]
mod tests;
