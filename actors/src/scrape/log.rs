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

#[cfg(test)]
mod tests {
    use super::*;

    /// The state's `last_now` is compared with the `now` a cycle served (a LOC round publishes
    /// only over the cycle it was computed for; backfill compares cursors with window ends),
    /// so it must come back from the store bit for bit. serde_json's default float parser can
    /// be one unit in the last place off (1796191520.8171105 came back as …103 and a LOC round
    /// was dropped); the `float_roundtrip` feature makes it exact.
    #[test]
    fn last_now_round_trips_exactly() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = vec![1_796_191_520.817_110_5];
        for _ in 0..20_000 {
            // xorshift: fractional seconds of instants around 2026.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(1.7e9 + (x % 200_000_000_000_000) as f64 / 1e6);
        }
        for now in values {
            let state = OrgState {
                last_now: Some(now),
                ..OrgState::default()
            };
            let back = OrgState::decode(&state.encode()).expect("decodes");
            assert_eq!(
                back.last_now.map(f64::to_bits),
                Some(now.to_bits()),
                "{now}"
            );
        }
    }
}
