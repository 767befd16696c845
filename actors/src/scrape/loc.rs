//! Lines of code per contributor (README, "How it scrapes"): the `stats/contributors` state machine with the
//! zero-LOC detection and the commit-detail fallback, kept per repository in the org state so it
//! survives a leader change.
//!
//! - **When to fetch** ([`LocState::due`]): no data yet (retried every cycle), a week boundary
//!   passed since the last fetch, `loc.refresh_interval` elapsed, or this cycle saw a new commit
//!   that changes what stats report (authored before the current week, or by an unknown
//!   contributor). Otherwise the stored rows are exact and no call is made.
//! - **Values**: each contributor's latest complete week `[W, W + 7 d)`, `W + 7 d <= now`.
//! - **Zero-LOC detection**: when the `large_repo_zero_detection_windows` most recent complete
//!   weeks that have commits all report zero additions and deletions (GitHub does this for very
//!   large repositories), the repository switches to the fallback for `large_repo_cooldown`:
//!   additions and deletions come from `GET …/commits/{sha}` of the week's commits, within the
//!   per-org hourly budget. Detail results are immutable and cached by sha, so each commit is
//!   fetched once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::port::ContributorStats;
use super::window::{activity_sample, latest_complete_week, week_start, WEEK_SECS};
use crate::metrics::{activity, scrape};
use crate::ports::Sample;

/// Where a repository's LOC values come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocMode {
    #[default]
    StatsContributors,
    SampledCommitStats,
}

impl LocMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LocMode::StatsContributors => "stats_contributors",
            LocMode::SampledCommitStats => "sampled_commit_stats",
        }
    }
}

/// One commit's contribution to the fallback week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackCommit {
    pub login: String,
    pub author_date: i64,
    /// `None` until its detail was fetched.
    pub lines: Option<(u64, u64)>,
}

/// LOC knowledge of one repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocState {
    /// When the stored rows were fetched (our cycle `now`).
    pub fetched_at: Option<f64>,
    /// 204: the repository is empty and has no contributors.
    pub empty: bool,
    pub rows: Vec<ContributorStats>,
    pub mode: LocMode,
    pub fallback_until: Option<f64>,
    /// Fallback: commits of week `fallback_week` by linked authors, by sha.
    pub fallback_week: i64,
    pub fallback_commits: BTreeMap<String, FallbackCommit>,
    /// The fallback listing hit `fallback_max_commits_per_repo_per_week`.
    pub fallback_capped: bool,
    /// A cycle saw a commit that changes what stats report; the next LOC round refreshes.
    #[serde(default)]
    pub refresh_wanted: bool,
    /// GitHub answered 202 (computing) at this time and has not answered since: the next LOC
    /// round asks again. The stored rows (if any) stay served meanwhile.
    #[serde(default)]
    pub computing_since: Option<f64>,
}

/// The `loc.*` settings the state machine reads.
#[derive(Debug, Clone)]
pub struct LocSettings {
    pub refresh_interval_secs: f64,
    pub fallback_enabled: bool,
    pub zero_detection_windows: u32,
    pub cooldown_secs: f64,
    pub max_commits_per_repo_per_week: u32,
    pub max_detail_calls_per_org_per_hour: u32,
    /// While GitHub computes (202), LOC rounds repeat after `stats_retry_base`, doubling for
    /// `stats_retry_doublings` rounds (`loc.stats_poll_attempts`), then at that pace.
    pub stats_retry_base: std::time::Duration,
    pub stats_retry_doublings: u32,
}

impl LocSettings {
    /// The delay before LOC round `round` (1 = the first retry) while repositories compute.
    pub fn stats_retry_delay(&self, round: u32) -> std::time::Duration {
        let doublings = round
            .saturating_sub(1)
            .min(self.stats_retry_doublings.saturating_sub(1))
            .min(16);
        self.stats_retry_base.saturating_mul(1 << doublings)
    }
}

impl Default for LocSettings {
    fn default() -> Self {
        LocSettings {
            refresh_interval_secs: 86_400.0,
            fallback_enabled: true,
            zero_detection_windows: 2,
            cooldown_secs: 7.0 * 86_400.0,
            max_commits_per_repo_per_week: 250,
            max_detail_calls_per_org_per_hour: 1000,
            stats_retry_base: std::time::Duration::from_secs(1),
            stats_retry_doublings: 3,
        }
    }
}

impl LocState {
    /// Whether `stats/contributors` must be called this cycle. `new_commit_signal` is true when
    /// this cycle fetched a commit that changes what stats report.
    pub fn due(&self, now: f64, settings: &LocSettings, new_commit_signal: bool) -> bool {
        let Some(fetched) = self.fetched_at else {
            return true;
        };
        new_commit_signal
            || week_start(fetched.floor() as i64) != week_start(now.floor() as i64)
            || now - fetched >= settings.refresh_interval_secs
    }

    /// Whether a commit authored at `author_date` by `login` changes what stats report at `now`.
    pub fn commit_changes_stats(&self, login: Option<&str>, author_date: i64, now: f64) -> bool {
        match login {
            None => false,
            Some(login) => {
                author_date < week_start(now.floor() as i64)
                    || !self.rows.iter().any(|r| r.login == login)
            }
        }
    }

    /// Stores a 200 answer and runs the zero-LOC detection.
    pub fn accept_rows(&mut self, rows: Vec<ContributorStats>, now: f64, settings: &LocSettings) {
        self.fetched_at = Some(now);
        self.empty = false;
        self.rows = rows;
        self.refresh_wanted = false;
        self.computing_since = None;
        if self.fallback_until.is_some_and(|until| now >= until) {
            self.fallback_until = None;
            self.mode = LocMode::StatsContributors;
        }
        if settings.fallback_enabled
            && self.mode == LocMode::StatsContributors
            && zero_loc_detected(&self.rows, now, settings.zero_detection_windows)
        {
            self.mode = LocMode::SampledCommitStats;
            self.fallback_until = Some(now + settings.cooldown_secs);
        }
        if !settings.fallback_enabled {
            self.mode = LocMode::StatsContributors;
        }
        self.keep_recent_weeks(now);
    }

    /// Drops the weeks no sample can show: GitHub returns every week since a repository was
    /// created (years × contributors), but the values come from the latest complete week at
    /// `now`, and a new week makes the rows due again. The zero-LOC detection has already run
    /// over all of them; contributors stay (they are served with zeros).
    fn keep_recent_weeks(&mut self, now: f64) {
        let oldest = latest_complete_week(now) - WEEK_SECS;
        for row in &mut self.rows {
            row.weeks.retain(|w| w.start >= oldest);
            row.weeks.shrink_to_fit();
        }
    }

    /// Stores a 204 answer.
    pub fn accept_empty(&mut self, now: f64) {
        self.fetched_at = Some(now);
        self.empty = true;
        self.rows.clear();
        self.refresh_wanted = false;
        self.computing_since = None;
    }

    /// Stores a 202 answer: GitHub computes; the values served so far stay.
    pub fn mark_computing(&mut self, now: f64) {
        self.computing_since.get_or_insert(now);
    }

    /// Whether `other` would serve different samples than `self` (what a round must publish).
    pub fn shown_differently(&self, other: &LocState) -> bool {
        self.fetched_at.is_some() != other.fetched_at.is_some()
            || self.empty != other.empty
            || self.rows != other.rows
            || self.mode != other.mode
            || self.fallback_week != other.fallback_week
            || self.fallback_commits != other.fallback_commits
            || self.fallback_capped != other.fallback_capped
    }

    /// Whether the fallback is active.
    pub fn in_fallback(&self) -> bool {
        self.mode == LocMode::SampledCommitStats
    }

    /// Whether fallback values miss commits (cap hit or details not fetched yet).
    pub fn fallback_incomplete(&self) -> bool {
        self.fallback_capped || self.fallback_commits.values().any(|c| c.lines.is_none())
    }

    /// The LOC samples of this repository at `now` (nothing until rows exist), plus the
    /// `gh_exporter_loc_source_mode` and `gh_exporter_loc_fallback_incomplete` gauges.
    ///
    /// In the fallback, a week whose commits were not listed (the listing failed or was cut
    /// short) has no known values: no LOC sample is served for it — never the zeros stats
    /// reported — and `gh_exporter_loc_fallback_incomplete` is 1 until a round lists it.
    pub fn samples(&self, org: &str, repo: &str, now: f64, exclude_bots: bool) -> Vec<Sample> {
        let mut out = Vec::new();
        if self.fetched_at.is_none() || self.empty {
            return out;
        }
        let week = latest_complete_week(now);
        let fallback = self.in_fallback() && self.fallback_week == week;
        let unlisted = self.in_fallback() && self.fallback_week != week;
        for row in self.rows.iter().filter(|_| !unlisted) {
            if exclude_bots && row.is_bot {
                continue;
            }
            let (added, removed) = if fallback {
                self.fallback_commits
                    .values()
                    .filter(|c| {
                        c.login == row.login
                            && c.author_date >= week
                            && c.author_date < week + WEEK_SECS
                    })
                    .filter_map(|c| c.lines)
                    .fold((0, 0), |(a, d), (ca, cd)| (a + ca, d + cd))
            } else {
                row.weeks
                    .iter()
                    .find(|w| w.start == week)
                    .map_or((0, 0), |w| (w.additions, w.deletions))
            };
            out.push(activity_sample(
                activity::LOC_ADDED_WEEKLY.name,
                org,
                repo,
                &row.login,
                added as f64,
            ));
            out.push(activity_sample(
                activity::LOC_REMOVED_WEEKLY.name,
                org,
                repo,
                &row.login,
                removed as f64,
            ));
        }
        let labels = |extra: Option<(&str, &str)>| {
            let mut l = vec![("org".to_string(), org.to_string())];
            if let Some((k, v)) = extra {
                l.push((k.to_string(), v.to_string()));
            }
            l.push(("repo".to_string(), repo.to_string()));
            l
        };
        out.push(Sample {
            metric: scrape::LOC_SOURCE_MODE.name.to_string(),
            labels: labels(Some(("mode", self.mode.as_str()))),
            value: 1.0,
        });
        out.push(Sample {
            metric: scrape::LOC_FALLBACK_INCOMPLETE.name.to_string(),
            labels: labels(None),
            value: if unlisted || (fallback && self.fallback_incomplete()) {
                1.0
            } else {
                0.0
            },
        });
        out
    }
}

/// True when the `windows` most recent complete weeks with commits all show zero additions and
/// deletions summed over contributors.
pub fn zero_loc_detected(rows: &[ContributorStats], now: f64, windows: u32) -> bool {
    let last_complete = latest_complete_week(now);
    let mut per_week: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for row in rows {
        for w in row.weeks.iter().filter(|w| w.start <= last_complete) {
            let e = per_week.entry(w.start).or_default();
            e.0 += w.commits;
            e.1 += w.additions + w.deletions;
        }
    }
    let with_commits: Vec<u64> = per_week
        .values()
        .rev()
        .filter(|(commits, _)| *commits > 0)
        .take(windows as usize)
        .map(|(_, lines)| *lines)
        .collect();
    windows > 0 && with_commits.len() == windows as usize && with_commits.iter().all(|l| *l == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::port::WeekStats;

    const NOW: f64 = 1_700_000_000.0; // a Tuesday
    fn week(back: i64) -> i64 {
        latest_complete_week(NOW) - back * WEEK_SECS
    }
    fn row(login: &str, weeks: &[(i64, u64, u64, u64)]) -> ContributorStats {
        ContributorStats {
            login: login.into(),
            is_bot: false,
            weeks: weeks
                .iter()
                .map(|&(start, additions, deletions, commits)| WeekStats {
                    start,
                    additions,
                    deletions,
                    commits,
                })
                .collect(),
        }
    }

    /// Zero additions with commits in N recent weeks switches to the fallback; normal repos stay.
    #[test]
    fn zero_loc_weeks_switch_to_fallback() {
        let settings = LocSettings::default();
        let mut large = LocState::default();
        large.accept_rows(
            vec![row("a", &[(week(1), 0, 0, 5), (week(0), 0, 0, 3)])],
            NOW,
            &settings,
        );
        assert!(large.in_fallback());
        let mut normal = LocState::default();
        normal.accept_rows(
            vec![row("a", &[(week(1), 0, 0, 5), (week(0), 10, 2, 3)])],
            NOW,
            &settings,
        );
        assert!(!normal.in_fallback());
    }

    /// Stats values come from the latest complete week, zeros included.
    #[test]
    fn stats_samples_use_latest_complete_week() {
        let mut s = LocState::default();
        s.accept_rows(
            vec![
                row("a", &[(week(1), 7, 7, 1), (week(0), 10, 2, 3)]),
                row("b", &[(week(0), 0, 0, 0)]),
            ],
            NOW,
            &LocSettings::default(),
        );
        let samples = s.samples("o", "r", NOW, false);
        let get = |m: &str, u: &str| {
            samples
                .iter()
                .find(|x| x.metric == m && x.labels.iter().any(|l| l.1 == u))
                .map(|x| x.value)
        };
        assert_eq!(get("gh_activity_loc_added_weekly", "a"), Some(10.0));
        assert_eq!(get("gh_activity_loc_removed_weekly", "a"), Some(2.0));
        assert_eq!(get("gh_activity_loc_added_weekly", "b"), Some(0.0));
    }

    /// In the fallback, a week not listed (its commit listing failed or was cut short) serves
    /// no LOC value — never the zeros of stats as if exact — and is marked incomplete.
    #[test]
    fn an_unlisted_fallback_week_is_incomplete_and_not_served() {
        let mut large = LocState::default();
        large.accept_rows(
            vec![row("a", &[(week(1), 0, 0, 5), (week(0), 0, 0, 3)])],
            NOW,
            &LocSettings::default(),
        );
        assert!(large.in_fallback());
        // As after a failed listing: the round resets the week to 0.
        large.fallback_week = 0;
        let samples = large.samples("o", "r", NOW, false);
        assert!(
            !samples
                .iter()
                .any(|x| x.metric.starts_with("gh_activity_loc_")),
            "no LOC value for an unlisted week: {samples:?}"
        );
        let incomplete = samples
            .iter()
            .find(|x| x.metric == "gh_exporter_loc_fallback_incomplete")
            .map(|x| x.value);
        assert_eq!(incomplete, Some(1.0));

        // Once listed with every detail known, the values are served as complete.
        large.fallback_week = latest_complete_week(NOW);
        large.fallback_commits.insert(
            "s1".into(),
            FallbackCommit {
                login: "a".into(),
                author_date: latest_complete_week(NOW) + 10,
                lines: Some((4, 1)),
            },
        );
        let samples = large.samples("o", "r", NOW, false);
        let get = |m: &str| samples.iter().find(|x| x.metric == m).map(|x| x.value);
        assert_eq!(get("gh_activity_loc_added_weekly"), Some(4.0));
        assert_eq!(get("gh_exporter_loc_fallback_incomplete"), Some(0.0));
    }

    /// Only the weeks a sample can show are kept; every contributor stays.
    #[test]
    fn accepted_rows_keep_only_recent_weeks() {
        let mut s = LocState::default();
        let history: Vec<(i64, u64, u64, u64)> = (0..200).map(|b| (week(b), 5, 1, 1)).collect();
        s.accept_rows(
            vec![row("a", &history), row("old", &[(week(150), 9, 9, 1)])],
            NOW,
            &LocSettings::default(),
        );
        let weeks: Vec<i64> = s.rows[0].weeks.iter().map(|w| w.start).collect();
        assert_eq!(weeks, vec![week(0), week(1)]);
        assert_eq!(s.rows.len(), 2, "contributors without recent weeks stay");
        let samples = s.samples("o", "r", NOW, false);
        let old = samples
            .iter()
            .find(|x| {
                x.metric == "gh_activity_loc_added_weekly" && x.labels.iter().any(|l| l.1 == "old")
            })
            .map(|x| x.value);
        assert_eq!(old, Some(0.0));
    }

    /// A fetch is due without data, after a week boundary, after the refresh interval, or on signal.
    #[test]
    fn stats_fetch_is_due_only_when_values_can_change() {
        let settings = LocSettings::default();
        let mut s = LocState::default();
        assert!(s.due(NOW, &settings, false));
        s.accept_rows(vec![row("a", &[])], NOW, &settings);
        assert!(!s.due(NOW + 60.0, &settings, false));
        assert!(s.due(NOW + 60.0, &settings, true));
        assert!(s.due(NOW + 86_400.0, &settings, false));
        assert!(s.due(
            week_start(NOW as i64) as f64 + WEEK_SECS as f64,
            &settings,
            false
        ));
        assert!(s.commit_changes_stats(Some("new"), NOW as i64, NOW));
        assert!(!s.commit_changes_stats(Some("a"), NOW as i64, NOW));
        assert!(s.commit_changes_stats(Some("a"), week(0), NOW));
    }
}
