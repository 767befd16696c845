//! The RoleBoard: this replica's roles as readers see them (`/healthz`, the status page,
//! `gh_exporter_is_leader`, `gh_exporter_leader_epoch`, `gh_exporter_owned_orgs`,
//! `gh_exporter_org_lease_held`), and how many live members the cluster had at the last lease
//! round (the rate governor's share of a credential when it paces alone).
//!
//! The RoleManager posts what it holds (its grants) and what runs (its scrapers and their
//! grants); a reader derives the roles from the grants' [`super::Validity`] **at the moment it
//! reads**, on the monotonic clock. So a replica resumed after a pause longer than its lease
//! reports no lease it may have lost — not even for the request that was queued during the
//! pause and is answered before its RoleManager has run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::tenures::RoleMode;
use super::Grant;
use crate::health::Role;

/// What the RoleManager holds and runs, as it last posted it.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    /// The global lease's grant, while held.
    pub global: Option<Grant>,
    /// Per-org leases held (per_org mode).
    pub orgs: BTreeMap<String, Grant>,
    /// Scrapers running: org → the grant they run under (`None`: static leader, unfenced).
    pub running: BTreeMap<String, Option<Grant>>,
}

/// The roles at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleReading {
    pub role: Role,
    /// The global lease's epoch while it is live, else 0.
    pub epoch: u64,
    /// Orgs whose scraper runs under a live grant (or unfenced, static leader), sorted.
    pub owned_orgs: Vec<String>,
    /// Per_org mode: every configured org and whether this replica holds its lease live now.
    /// Empty in other modes.
    pub org_leases: Vec<(String, bool)>,
}

struct Inner {
    mode: RoleMode,
    orgs: Vec<String>,
    posted: Mutex<Posted>,
    members: AtomicUsize,
}

/// Shared between the RoleManager (writer) and the readers. Cheap to clone.
#[derive(Clone)]
pub struct RoleBoard(Arc<Inner>);

impl std::fmt::Debug for RoleBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleBoard")
            .field("mode", &self.0.mode)
            .finish_non_exhaustive()
    }
}

impl RoleBoard {
    /// An empty board for `mode` over the configured `orgs`.
    pub fn new(mode: RoleMode, orgs: Vec<String>) -> RoleBoard {
        RoleBoard(Arc::new(Inner {
            mode,
            orgs,
            posted: Mutex::new(Posted::default()),
            members: AtomicUsize::new(1),
        }))
    }

    /// Records the live members the last lease round saw (this replica included).
    pub fn set_members(&self, members: usize) {
        self.0.members.store(members.max(1), Ordering::Relaxed);
    }

    /// The live members of the last lease round, at least 1 (before any round: 1).
    pub fn members(&self) -> usize {
        self.0.members.load(Ordering::Relaxed).max(1)
    }

    /// The mode the board was built for.
    pub fn mode(&self) -> RoleMode {
        self.0.mode
    }

    /// Replaces what the RoleManager holds and runs.
    pub fn post(&self, posted: Posted) {
        *self.0.posted.lock().unwrap_or_else(|p| p.into_inner()) = posted;
    }

    /// The roles now.
    pub fn read(&self) -> RoleReading {
        self.read_at(Instant::now())
    }

    /// The roles at `now`: a grant counts only while its validity is live at `now`.
    pub fn read_at(&self, now: Instant) -> RoleReading {
        let posted = self.0.posted.lock().unwrap_or_else(|p| p.into_inner());
        let live = |grant: &Grant| grant.validity.is_live_at(now);
        let global = posted.global.as_ref().filter(|g| live(g));
        let role = match self.0.mode {
            RoleMode::StaticLeader => Role::Leader,
            RoleMode::StaticFollower => Role::Follower,
            RoleMode::Single | RoleMode::PerOrg if global.is_some() => Role::Leader,
            RoleMode::Single | RoleMode::PerOrg => Role::Follower,
        };
        let owned_orgs = posted
            .running
            .iter()
            .filter(|(_, grant)| grant.as_ref().is_none_or(live))
            .map(|(org, _)| org.clone())
            .collect();
        let org_leases = if self.0.mode == RoleMode::PerOrg {
            self.0
                .orgs
                .iter()
                .map(|org| (org.clone(), posted.orgs.get(org).is_some_and(live)))
                .collect()
        } else {
            Vec::new()
        };
        RoleReading {
            role,
            epoch: global.map_or(0, |g| g.epoch),
            owned_orgs,
            org_leases,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn grant(epoch: u64, key: &str, until: Instant) -> Grant {
        let g = Grant::leased(epoch, key.into(), format!("{epoch}|t|me").into());
        g.validity.extend_to(until);
        g
    }

    #[tokio::test(start_paused = true)]
    async fn a_lapsed_lease_is_not_reported_even_before_the_manager_runs() {
        let board = RoleBoard::new(RoleMode::PerOrg, vec!["a".into(), "b".into()]);
        let deadline = Instant::now() + Duration::from_secs(2);
        let global = grant(4, "ns:lease:leader", deadline);
        let org_a = grant(5, "ns:lease:org:a", deadline);
        board.post(Posted {
            global: Some(global.clone()),
            orgs: [("a".to_string(), org_a.clone())].into(),
            running: [("a".to_string(), Some(org_a))].into(),
        });
        let live = board.read();
        assert_eq!(live.role, Role::Leader);
        assert_eq!(live.epoch, 4);
        assert_eq!(live.owned_orgs, vec!["a".to_string()]);
        assert_eq!(
            live.org_leases,
            vec![("a".to_string(), true), ("b".to_string(), false)]
        );

        // Paused past the deadline: nothing was posted since, and nothing is reported.
        tokio::time::advance(Duration::from_secs(5)).await;
        let lapsed = board.read();
        assert_eq!(lapsed.role, Role::Follower);
        assert_eq!(lapsed.epoch, 0);
        assert!(lapsed.owned_orgs.is_empty());
        assert_eq!(
            lapsed.org_leases,
            vec![("a".to_string(), false), ("b".to_string(), false)]
        );

        // A renewal that moved the deadline before it passed keeps the role.
        global
            .validity
            .extend_to(Instant::now() + Duration::from_secs(2));
        assert_eq!(board.read().role, Role::Leader);
        global.validity.end();
        assert_eq!(board.read().role, Role::Follower);
    }

    #[test]
    fn static_roles_need_no_lease() {
        let board = RoleBoard::new(RoleMode::StaticLeader, vec!["a".into()]);
        board.post(Posted {
            running: [("a".to_string(), None)].into(),
            ..Posted::default()
        });
        let reading = board.read();
        assert_eq!(reading.role, Role::Leader);
        assert_eq!(reading.owned_orgs, vec!["a".to_string()]);
        assert!(reading.org_leases.is_empty());
        let follower = RoleBoard::new(RoleMode::StaticFollower, vec!["a".into()]);
        assert_eq!(follower.read().role, Role::Follower);
    }
}
