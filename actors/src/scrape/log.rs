//! The per-repository event log and cursors kept between cycles (in the [`ScrapeStateStore`]),
//! so each cycle fetches only what is new and recomputes every window locally.
//!
//! Invariant: for each kind, the log holds every event visible at `*_through` whose time can
//! still fall in a window (events older than a window are pruned). A failed fetch leaves its
//! cursor where it was, so the next cycle catches up from there; a window is never stretched.
//!
//! [`ScrapeStateStore`]: super::port::ScrapeStateStore

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::loc::LocState;
use super::port::Versioned;

/// Schema version of the serialized [`OrgState`]; a different version is discarded (the next
/// cycle is then cold, which is correct, only more expensive).
pub const STATE_VERSION: u32 = 1;

/// One counted event: when, and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ev {
    pub t: i64,
    pub user: String,
    #[serde(default)]
    pub bot: bool,
}

/// What the scraper remembers of one repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepoLog {
    /// Every default-branch commit visible at this instant is known (if still in a window).
    pub commits_through: Option<f64>,
    /// Likewise for pull requests, reviews and comments.
    pub issues_through: Option<f64>,
    /// sha → author date and resolved user.
    pub commits: BTreeMap<String, Ev>,
    /// Listed commits authored before the window (rebased, cherry-picked or pushed late):
    /// sha → committer date, so re-listing the window does not take them for new.
    #[serde(default)]
    pub seen_outside: BTreeMap<String, i64>,
    /// PR number → created_at and author.
    pub opened: BTreeMap<u64, Ev>,
    /// PR number → merged_at and author.
    pub merged: BTreeMap<u64, Ev>,
    /// review id → submitted_at and reviewer.
    pub reviews: BTreeMap<u64, Ev>,
    /// comment id → created_at and commenter.
    pub comments: BTreeMap<u64, Ev>,
    #[serde(default)]
    pub loc: LocState,
}

impl RepoLog {
    /// Drops events that can no longer fall into a window ending at or after `now`.
    pub fn prune(&mut self, now: f64) {
        let keep = |e: &Ev| (e.t as f64) >= now - super::window::WINDOW_SECS;
        self.commits.retain(|_, e| keep(e));
        // A listing of the window filters on the committer date: older ones never come back.
        self.seen_outside
            .retain(|_, committed| (*committed as f64) >= now - super::window::WINDOW_SECS);
        self.opened.retain(|_, e| keep(e));
        self.merged.retain(|_, e| keep(e));
        self.reviews.retain(|_, e| keep(e));
        self.comments.retain(|_, e| keep(e));
    }
}

/// Everything kept for one org.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgState {
    /// The `now` of the cycle that wrote this state (the logs are exact for it).
    #[serde(default)]
    pub last_now: Option<f64>,
    pub repos: BTreeMap<String, RepoLog>,
    /// LOC fallback budget: the UTC hour it counts for and the detail calls used in it.
    #[serde(default)]
    pub fallback_hour: i64,
    #[serde(default)]
    pub fallback_calls: u32,
}

impl OrgState {
    /// Encodes for the state store.
    pub fn encode(&self) -> Versioned {
        Versioned {
            version: STATE_VERSION,
            // Serializing maps with string/integer keys and plain values cannot fail.
            bytes: serde_json::to_vec(self).unwrap_or_default(),
        }
    }

    /// Decodes a stored value; an unknown version or undecodable bytes yield `None` (cold start).
    pub fn decode(value: &Versioned) -> Option<OrgState> {
        if value.version != STATE_VERSION {
            return None;
        }
        serde_json::from_slice(&value.bytes).ok()
    }
}

/// The state-store key of an org.
pub fn state_key(org: &str) -> String {
    format!("scrape/{org}")
}
