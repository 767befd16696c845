//! Every cross-actor message, grouped by receiver. Each doc names the sender and the reply.
//! Messages are typed structs, never stringly-typed maps, and none derives `Serialize`: wire
//! formats belong to adapters.

use std::sync::Arc;

use actix::Message;

use crate::election::Grant;
use crate::health::{ComponentStatus, HealthReport, Role};
use crate::ports::OrgBatch;

// ---- HealthActor ------------------------------------------------------------------------------

/// Sent by any actor or adapter that owns a component: its current state. Reply: none.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ReportComponent {
    /// Stable component name (`store`, `github`, `actor.store`, …).
    pub component: String,
    pub status: ComponentStatus,
    /// Whether `/readyz` requires this component to be up.
    pub required_for_ready: bool,
}

/// Sent by the RoleManager when this replica's role (or the set of orgs it owns) changes.
/// Reply: none.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct RoleChanged {
    pub role: Role,
    /// The global lease's grant while leader.
    pub grant: Option<Grant>,
    /// Orgs this replica scrapes now (every org for a `single`-mode leader).
    pub owned_orgs: Vec<String>,
}

impl RoleChanged {
    /// The epoch of the global grant (0 when none).
    pub fn epoch(&self) -> u64 {
        self.grant.as_ref().map_or(0, |g| g.epoch)
    }
}

/// Sent by HTTP handlers: the live / ready / health view. Reply: [`HealthReport`].
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Arc<HealthReport>")]
pub struct GetHealth;

// ---- StoreActor -------------------------------------------------------------------------------

/// Sent by ScrapeActors and backfill consumers: one org cycle's series. Reply: none; the
/// StoreActor retries a failed write until it succeeds or a newer batch for the org supersedes it.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct UpsertBatch(pub OrgBatch);

/// Sent by the StoreActor's own timer, and after a local write: reload the snapshot if the
/// store changed. Reply: none.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct RefreshSnapshot;

// ---- ScrapeActor ------------------------------------------------------------------------------

/// Sent by the ScrapeActor's own timer, or by anyone wanting a cycle now (tests, an operator
/// endpoint). Ignored while a cycle of the org runs: never two cycles of one org at once.
/// Reply: none.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct ScrapeNow;

// ---- BackfillDispatcher -----------------------------------------------------------------------

/// Sent by ScrapeActors: a window of `org`/`repo` (`*` for the whole org) that could not be
/// scraped and must be recomputed in full. Times are Unix seconds. Reply: none.
#[derive(Debug, Clone, PartialEq, Message)]
#[rtype(result = "()")]
pub struct EnqueueMissing {
    pub org: String,
    pub repo: String,
    pub window_start: f64,
    pub window_end: f64,
    /// Why the window is missing.
    pub reason: crate::backfill::Reason,
    /// The trace context of the unit of work that missed it (see [`crate::trace`]), carried
    /// to the backfill job so its spans join that trace.
    pub trace_parent: Option<String>,
}

/// Sent by the wiring on shutdown or role loss: stop the ScrapeActor now. Its in-flight cycle
/// future is dropped, which cancels every GitHub wait. Reply: none.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct StopScraping;
