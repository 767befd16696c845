//! HealthActor: collects component states from every actor and adapter and answers the live /
//! ready / health views that `/livez`, `/readyz` and `/healthz` serve.
//!
//! Readiness means "this replica can serve correct data": every component marked
//! `required_for_ready` is up. Mode is `unhealthy` when not ready, `degraded` when ready but an
//! optional component (GitHub, say) is down, `healthy` otherwise.

use crate::clock::unix_now;
use std::collections::BTreeMap;
use std::sync::Arc;

use actix::{Actor, Context, Handler, Recipient};

use crate::election::board::RoleBoard;
use crate::messages::{GetHealth, ReportComponent, RoleChanged};
use crate::observe::{ExitReason, Observer, SupervisionEvent};
use crate::scrape::progress::{OrgProgress, ScrapeProgress};
use crate::service_health::{ServiceHealthRegistry, ServiceHealthSnapshot};
use crate::supervisor::ActorSlot;

/// This replica's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// A component's state as its owner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentStatus {
    /// Registered but not yet known to work.
    Starting,
    Up,
    /// Down, with a short reason safe to show (no secrets).
    Down(String),
    /// Stopped on purpose by its supervisor (shutdown, or a sibling's restart); not an error.
    Stopped,
    /// Not applicable here, with the reason safe to show (Copilot of a user account); not an
    /// error: neither readiness nor the mode suffers.
    Skipped(String),
}

impl ComponentStatus {
    pub fn is_up(&self) -> bool {
        matches!(self, ComponentStatus::Up)
    }

    /// Up, stopped on purpose by its supervisor (a scraper whose org this replica handed
    /// over) or skipped as not applicable: none makes the replica unready.
    pub fn is_fine(&self) -> bool {
        matches!(
            self,
            ComponentStatus::Up | ComponentStatus::Stopped | ComponentStatus::Skipped(_)
        )
    }
}

/// The health mode `/healthz` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Healthy => "healthy",
            Mode::Degraded => "degraded",
            Mode::Unhealthy => "unhealthy",
        }
    }
}

/// One component in a [`HealthReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentView {
    pub status: ComponentStatus,
    pub required_for_ready: bool,
    /// Unix seconds of the last change of `status`.
    pub since_unix: f64,
}

/// The answer to [`GetHealth`].
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub role: Role,
    pub epoch: u64,
    /// Orgs this replica scrapes now.
    pub owned_orgs: Vec<String>,
    pub mode: Mode,
    pub ready: bool,
    pub components: BTreeMap<String, ComponentView>,
    /// Periodic services (tick runners) with their last outcomes.
    pub services: Vec<ServiceHealthSnapshot>,
    /// Each org's scraping as this replica last saw it (orgs it scraped at some point).
    pub scrapes: BTreeMap<String, OrgProgress>,
}

impl HealthReport {
    /// Names of required components that are not up, for the `/readyz` body.
    pub fn failing_required(&self) -> Vec<&str> {
        self.components
            .iter()
            .filter(|(_, c)| c.required_for_ready && !c.status.is_fine())
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// Keeps component states; answers health queries from memory, never doing I/O.
pub struct HealthActor {
    role: Role,
    epoch: u64,
    owned_orgs: Vec<String>,
    components: BTreeMap<String, ComponentView>,
    services: ServiceHealthRegistry,
    scrapes: ScrapeProgress,
    cached: Option<Arc<HealthReport>>,
    /// Where the roles are read from at every query (else the last [`RoleChanged`]).
    board: Option<RoleBoard>,
}

impl HealthActor {
    /// A fresh actor; `expected` lists components required for readiness that must report
    /// before the replica is ready (they start as [`ComponentStatus::Starting`]).
    pub fn new(role: Role, expected: &[&str], services: ServiceHealthRegistry) -> HealthActor {
        let now = unix_now();
        let components = expected
            .iter()
            .map(|name| {
                let view = ComponentView {
                    status: ComponentStatus::Starting,
                    required_for_ready: true,
                    since_unix: now,
                };
                (name.to_string(), view)
            })
            .collect();
        HealthActor {
            role,
            epoch: 0,
            owned_orgs: Vec::new(),
            components,
            services,
            scrapes: ScrapeProgress::new(),
            cached: None,
            board: None,
        }
    }

    /// Reads role, epoch, owned orgs and org leases from `board` at every query, judged at
    /// that moment (so a lease whose deadline passed is never reported, whatever the mailbox
    /// order after a pause).
    pub fn with_role_board(mut self, board: RoleBoard) -> HealthActor {
        self.board = Some(board);
        self
    }

    /// Reports the scraping progress `scrapes` holds (shared with the ScrapeActors).
    pub fn with_scrape_progress(mut self, scrapes: ScrapeProgress) -> HealthActor {
        self.scrapes = scrapes;
        self
    }

    fn report(&self) -> HealthReport {
        let ready = self
            .components
            .values()
            .all(|c| !c.required_for_ready || c.status.is_fine());
        let optional_down = self
            .components
            .values()
            .any(|c| !c.required_for_ready && !c.status.is_fine());
        let mode = match (ready, optional_down) {
            (false, _) => Mode::Unhealthy,
            (true, true) => Mode::Degraded,
            (true, false) => Mode::Healthy,
        };
        HealthReport {
            role: self.role,
            epoch: self.epoch,
            owned_orgs: self.owned_orgs.clone(),
            mode,
            ready,
            components: self.components.clone(),
            services: self.services.snapshot(),
            scrapes: self.scrapes.snapshot(),
        }
    }
}

impl Actor for HealthActor {
    type Context = Context<Self>;
}

impl Handler<ReportComponent> for HealthActor {
    type Result = ();

    fn handle(&mut self, msg: ReportComponent, _: &mut Context<Self>) {
        let entry = self.components.entry(msg.component.clone());
        let changed = match entry {
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                let view = slot.get_mut();
                let changed =
                    view.status != msg.status || view.required_for_ready != msg.required_for_ready;
                if view.status != msg.status {
                    view.since_unix = unix_now();
                }
                view.status = msg.status.clone();
                view.required_for_ready = msg.required_for_ready;
                changed
            }
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(ComponentView {
                    status: msg.status.clone(),
                    required_for_ready: msg.required_for_ready,
                    since_unix: unix_now(),
                });
                true
            }
        };
        if changed {
            match &msg.status {
                ComponentStatus::Down(reason) => {
                    tracing::warn!(component = %msg.component, reason = %reason, "component down")
                }
                ComponentStatus::Up => tracing::info!(component = %msg.component, "component up"),
                ComponentStatus::Starting => {
                    tracing::debug!(component = %msg.component, "component starting")
                }
                ComponentStatus::Stopped => {
                    tracing::debug!(component = %msg.component, "component stopped")
                }
                ComponentStatus::Skipped(reason) => {
                    tracing::info!(component = %msg.component, reason = %reason, "component skipped")
                }
            }
            self.cached = None;
        }
    }
}

impl Handler<RoleChanged> for HealthActor {
    type Result = ();

    fn handle(&mut self, msg: RoleChanged, _: &mut Context<Self>) {
        self.role = msg.role;
        self.epoch = msg.epoch();
        self.owned_orgs = msg.owned_orgs;
        self.cached = None;
    }
}

impl Handler<GetHealth> for HealthActor {
    type Result = Arc<HealthReport>;

    fn handle(&mut self, _: GetHealth, _: &mut Context<Self>) -> Arc<HealthReport> {
        // Service health and scrape progress change outside this actor: only component state is
        // cached.
        let mut report = match &self.cached {
            Some(cached) => HealthReport::clone(cached),
            None => {
                let report = self.report();
                self.cached = Some(Arc::new(report.clone()));
                report
            }
        };
        report.services = self.services.snapshot();
        report.scrapes = self.scrapes.snapshot();
        if let Some(board) = &self.board {
            let reading = board.read();
            report.role = reading.role;
            report.epoch = reading.epoch;
            report.owned_orgs = reading.owned_orgs;
        }
        Arc::new(report)
    }
}

/// Sends component reports to whichever HealthActor incarnation is current (reports made while
/// it restarts are dropped; the root supervisor's rest_for_one strategy restarts every reporter
/// after it, so each reports again).
#[derive(Clone)]
pub struct HealthReporter {
    target: Arc<dyn Fn() -> Option<Recipient<ReportComponent>> + Send + Sync>,
}

impl HealthReporter {
    /// Reports to the HealthActor currently in `slot`.
    pub fn from_slot(slot: ActorSlot<HealthActor>) -> HealthReporter {
        HealthReporter {
            target: Arc::new(move || slot.get().map(|addr| addr.recipient())),
        }
    }

    /// Reports to a fixed recipient (tests, or an actor outside the tree).
    pub fn from_recipient(recipient: Recipient<ReportComponent>) -> HealthReporter {
        HealthReporter {
            target: Arc::new(move || Some(recipient.clone())),
        }
    }

    /// Reports `status` of `component`; never blocks.
    pub fn report(&self, component: &str, status: ComponentStatus, required_for_ready: bool) {
        if let Some(recipient) = (self.target)() {
            recipient.do_send(ReportComponent {
                component: component.to_string(),
                status,
                required_for_ready,
            });
        }
    }
}

/// Turns supervision events into `actor.<name>` health components: a child that is down (between
/// an abnormal exit and its restart) makes the replica not ready; a supervisor giving up is
/// reported too. Non-blocking: one `do_send` per event.
pub struct HealthObserver {
    reporter: HealthReporter,
}

impl HealthObserver {
    pub fn new(reporter: HealthReporter) -> HealthObserver {
        HealthObserver { reporter }
    }
}

impl Observer for HealthObserver {
    fn on_supervision(&self, event: &SupervisionEvent<'_>) {
        match event {
            SupervisionEvent::Started { child, .. } => {
                self.reporter
                    .report(&format!("actor.{child}"), ComponentStatus::Up, true)
            }
            SupervisionEvent::Exited { child, reason, .. } if reason.is_abnormal() => {
                self.reporter.report(
                    &format!("actor.{child}"),
                    ComponentStatus::Down(reason.to_string()),
                    true,
                )
            }
            SupervisionEvent::Exited {
                child,
                reason: ExitReason::Shutdown,
                ..
            } => self
                .reporter
                .report(&format!("actor.{child}"), ComponentStatus::Stopped, true),
            SupervisionEvent::GaveUp { supervisor, reason } => self.reporter.report(
                &format!("actor.{supervisor}"),
                ComponentStatus::Down(format!("gave up: {reason}")),
                true,
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(msg: &str, status: ComponentStatus, required: bool) -> ReportComponent {
        ReportComponent {
            component: msg.into(),
            status,
            required_for_ready: required,
        }
    }

    /// A skipped component (Copilot of a user account) is neither unready nor degraded.
    #[actix_rt::test]
    async fn a_skipped_component_harms_nothing() {
        let addr =
            HealthActor::new(Role::Leader, &["store"], ServiceHealthRegistry::default()).start();
        addr.send(report("store", ComponentStatus::Up, true))
            .await
            .unwrap();
        let reason = "skipped: owner is a user account";
        addr.send(report(
            "copilot.octocat",
            ComponentStatus::Skipped(reason.into()),
            false,
        ))
        .await
        .unwrap();
        let health = addr.send(GetHealth).await.unwrap();
        assert!(health.ready);
        assert_eq!(health.mode, Mode::Healthy);
        assert_eq!(
            health.components["copilot.octocat"].status,
            ComponentStatus::Skipped(reason.into())
        );
    }

    /// Ready only once every expected component is up; an optional one down only degrades.
    #[actix_rt::test]
    async fn readiness_and_mode_follow_components() {
        let addr =
            HealthActor::new(Role::Leader, &["store"], ServiceHealthRegistry::default()).start();
        let first = addr.send(GetHealth).await.unwrap();
        assert!(!first.ready);
        assert_eq!(first.mode, Mode::Unhealthy);
        assert_eq!(first.failing_required(), vec!["store"]);

        addr.send(report("store", ComponentStatus::Up, true))
            .await
            .unwrap();
        let ready = addr.send(GetHealth).await.unwrap();
        assert!(ready.ready);
        assert_eq!(ready.mode, Mode::Healthy);

        addr.send(report(
            "github",
            ComponentStatus::Down("timeout".into()),
            false,
        ))
        .await
        .unwrap();
        let degraded = addr.send(GetHealth).await.unwrap();
        assert!(degraded.ready);
        assert_eq!(degraded.mode, Mode::Degraded);

        addr.send(report(
            "store",
            ComponentStatus::Down("connection refused".into()),
            true,
        ))
        .await
        .unwrap();
        let down = addr.send(GetHealth).await.unwrap();
        assert!(!down.ready);
        assert_eq!(down.mode, Mode::Unhealthy);
        assert_eq!(down.failing_required(), vec!["store"]);
    }

    /// A role change shows up in the next report.
    #[actix_rt::test]
    async fn role_change_is_reported() {
        let addr = HealthActor::new(Role::Leader, &[], ServiceHealthRegistry::default()).start();
        addr.send(RoleChanged {
            role: Role::Follower,
            grant: Some(crate::election::Grant::leased(
                3,
                "ns:lease:x".into(),
                "3|t|me".into(),
            )),
            owned_orgs: vec!["acme".into()],
        })
        .await
        .unwrap();
        let report = addr.send(GetHealth).await.unwrap();
        assert_eq!(report.role, Role::Follower);
        assert_eq!(report.epoch, 3);
        assert_eq!(report.owned_orgs, vec!["acme".to_string()]);
    }
}
