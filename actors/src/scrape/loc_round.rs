//! Lines of code off the critical path: a *LOC round* asks `stats/contributors` **once** for
//! every repository whose LOC is due (no data yet, still computing, a new commit that changes
//! what stats report, a week boundary, the refresh interval), never sleeping on a 202; runs the
//! commit-detail fallback; saves the state; and returns the org's served series recomputed at
//! the served cycle's `now` when anything a sample shows changed.
//!
//! The ScrapeActor runs a round after each activity cycle (which has already published) and
//! again, with a growing delay, while repositories are still computing — so GitHub computes
//! every repository's stats in the background from the first round on, and each repository's
//! LOC series appear in the first round after its answer is ready, not a scrape interval later.
//! Rounds and cycles of one org never overlap (both read and write the org's state).

use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};

use super::cycle::{served_samples, CycleSettings, Missing};
use super::loc::{FallbackCommit, LocState};
use super::log::{state_key, OrgState};
use super::port::{ApiError, GithubApi, ScrapeStateStore, StatsOutcome};
use super::window::{latest_complete_week, until_secs, WEEK_SECS};
use crate::backfill::Reason;
use crate::ports::Sample;

/// The result of [`run_loc_round`].
#[derive(Debug, Clone, Default)]
pub struct LocRoundOutcome {
    /// The org's served series at the served cycle's `now`, when a round changed what they
    /// show (`None`: nothing to publish).
    pub served: Option<(f64, Vec<Sample>)>,
    /// Repositories asked this round.
    pub asked: usize,
    /// Repositories whose stats GitHub is still computing (asked again by the next round).
    pub waiting: usize,
    /// LOC windows that failed, for backfill.
    pub missing: Vec<Missing>,
    /// The first error seen, for logs.
    pub error: Option<String>,
}

/// Whether a repository has LOC work in a round at `now`.
pub fn loc_work_due(loc: &LocState, now: f64, settings: &CycleSettings) -> bool {
    loc.computing_since.is_some()
        || loc.due(now, &settings.loc, loc.refresh_wanted)
        || (loc.in_fallback()
            && !loc.empty
            && (loc.fallback_week != latest_complete_week(now)
                || loc.fallback_commits.values().any(|c| c.lines.is_none())))
}

/// Runs one LOC round for `org` at `now` (the time of the fetches, not of the served cycle).
pub async fn run_loc_round(
    org: String,
    now: f64,
    api: Arc<dyn GithubApi>,
    state_store: Arc<dyn ScrapeStateStore>,
    settings: Arc<CycleSettings>,
) -> LocRoundOutcome {
    let key = state_key(&org);
    let mut state = match state_store.get(&key).await {
        Ok(Some(stored)) => match OrgState::decode(&stored) {
            Some(state) => state,
            None => return LocRoundOutcome::default(),
        },
        Ok(None) => return LocRoundOutcome::default(),
        Err(error) => {
            return LocRoundOutcome {
                error: Some(format!("cannot load scrape state: {error}")),
                ..LocRoundOutcome::default()
            }
        }
    };
    let Some(served_now) = state.last_now else {
        return LocRoundOutcome::default();
    };
    let hour = (now / 3600.0).floor() as i64;
    if state.fallback_hour != hour {
        state.fallback_hour = hour;
        state.fallback_calls = 0;
    }
    let budget = Arc::new(Mutex::new(state.fallback_calls));
    let due: Vec<(String, LocState)> = state
        .repos
        .iter()
        .filter(|(_, log)| loc_work_due(&log.loc, now, &settings))
        .map(|(name, log)| (name.clone(), log.loc.clone()))
        .collect();
    let asked = due.len();
    if asked == 0 {
        return LocRoundOutcome::default();
    }
    let results: Vec<RepoLoc> = stream::iter(due.into_iter().map(|(repo, loc)| {
        refresh_repo(
            repo,
            loc,
            now,
            api.clone(),
            settings.clone(),
            budget.clone(),
        )
    }))
    .buffer_unordered(settings.concurrency.max(1))
    .collect()
    .await;

    let mut outcome = LocRoundOutcome {
        asked,
        ..LocRoundOutcome::default()
    };
    let mut changed = false;
    for done in results {
        outcome.missing.extend(done.missing);
        if outcome.error.is_none() {
            outcome.error = done.error;
        }
        if let Some(log) = state.repos.get_mut(&done.repo) {
            changed |= log.loc.shown_differently(&done.loc);
            log.loc = done.loc;
        }
    }
    outcome.waiting = state
        .repos
        .values()
        .filter(|log| log.loc.computing_since.is_some())
        .count();
    state.fallback_calls = *budget.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = state_store.put(&key, state.encode()).await {
        // Not saved: the next round asks again; nothing is published that the state lacks.
        tracing::warn!(org = %org, error = %e, "cannot save LOC state; the next round asks again");
        outcome.error.get_or_insert_with(|| e.to_string());
        return outcome;
    }
    if changed {
        outcome.served = Some((
            served_now,
            served_samples(&org, &state, served_now, settings.exclude_bots),
        ));
    }
    outcome
}

/// One repository's LOC after a round.
struct RepoLoc {
    repo: String,
    loc: LocState,
    missing: Vec<Missing>,
    error: Option<String>,
}

/// Asks `stats/contributors` once when due and runs the commit-detail fallback.
async fn refresh_repo(
    repo: String,
    mut loc: LocState,
    now: f64,
    api: Arc<dyn GithubApi>,
    settings: Arc<CycleSettings>,
    budget: Arc<Mutex<u32>>,
) -> RepoLoc {
    let week = latest_complete_week(now);
    let week_window = (week as f64, (week + WEEK_SECS) as f64);
    let mut failures: Vec<(Reason, Option<ApiError>)> = Vec::new();
    let loc_settings = &settings.loc;
    let mut refreshed = false;
    if loc.computing_since.is_some() || loc.due(now, loc_settings, loc.refresh_wanted) {
        match api.contributor_stats(&repo).await {
            Ok(StatsOutcome::Ready(rows)) => {
                loc.accept_rows(rows, now, loc_settings);
                refreshed = true;
            }
            Ok(StatsOutcome::Empty) => loc.accept_empty(now),
            Ok(StatsOutcome::Computing) => loc.mark_computing(now),
            Err(e) if e.kind.is_absent() => loc.accept_empty(now),
            Err(e) => failures.push((Reason::ContributorStatsFailed, Some(e))),
        }
    }
    if loc.in_fallback() && !loc.empty {
        failures.extend(
            fallback(&repo, &mut loc, now, refreshed, &*api, &settings, &budget)
                .await
                .into_iter()
                .map(|(r, e)| (r, Some(e))),
        );
        if loc.fallback_incomplete() {
            failures.push((Reason::FallbackTruncated, None));
        }
    }
    let mut error = None;
    let mut missing: Vec<Missing> = Vec::new();
    for (reason, e) in failures {
        if let Some(e) = e {
            tracing::debug!(repo = %repo, error = %e, reason = %reason, "LOC endpoint failed");
            error.get_or_insert_with(|| e.to_string());
        }
        if !missing.iter().any(|m| m.reason == reason) {
            missing.push(Missing {
                repo: repo.clone(),
                window_start: week_window.0,
                window_end: week_window.1,
                reason,
            });
        }
    }
    RepoLoc {
        repo,
        loc,
        missing,
        error,
    }
}

/// The commit-detail fallback of one repository: list the week's commits (when the week is new
/// or the stats were refreshed), then fetch details still missing within the org's hourly
/// budget. Returns the failures.
async fn fallback(
    repo: &str,
    loc: &mut LocState,
    now: f64,
    refreshed: bool,
    api: &dyn GithubApi,
    settings: &CycleSettings,
    budget: &Mutex<u32>,
) -> Vec<(Reason, ApiError)> {
    let settings = &settings.loc;
    let mut failures = Vec::new();
    let week = latest_complete_week(now);
    let new_week = loc.fallback_week != week;
    if new_week {
        loc.fallback_week = week;
        loc.fallback_commits.clear();
        loc.fallback_capped = false;
    }
    if new_week || refreshed {
        let cap = settings.max_commits_per_repo_per_week as usize;
        match api
            .commits_capped(repo, week, until_secs(now), week + WEEK_SECS, cap)
            .await
        {
            Ok((list, capped)) => {
                loc.fallback_capped = capped;
                for c in list {
                    let Some(login) = c.author_login else {
                        continue;
                    };
                    if c.author_date < week || c.author_date >= week + WEEK_SECS {
                        continue;
                    }
                    // The cap is per week, across re-listings of the same week.
                    if loc.fallback_commits.len() >= cap
                        && !loc.fallback_commits.contains_key(&c.sha)
                    {
                        loc.fallback_capped = true;
                        continue;
                    }
                    loc.fallback_commits.entry(c.sha).or_insert(FallbackCommit {
                        login,
                        author_date: c.author_date,
                        lines: None,
                    });
                }
            }
            Err(e) if e.kind.is_absent() => {}
            Err(e) => {
                // Not listed: the next round lists the week again.
                loc.fallback_week = 0;
                failures.push((Reason::FallbackListCommitsFailed, e));
                return failures;
            }
        }
    }
    let limit = settings.max_detail_calls_per_org_per_hour;
    let pending: Vec<String> = loc
        .fallback_commits
        .iter()
        .filter(|(_, c)| c.lines.is_none())
        .map(|(sha, _)| sha.clone())
        .collect();
    for sha in pending {
        {
            let mut used = budget.lock().unwrap_or_else(|p| p.into_inner());
            if *used >= limit {
                break;
            }
            *used += 1;
        }
        match api.commit_detail(repo, &sha).await {
            Ok(detail) => {
                if let Some(c) = loc.fallback_commits.get_mut(&sha) {
                    c.lines = Some((detail.additions, detail.deletions));
                }
            }
            Err(e) => {
                failures.push((Reason::FallbackCommitDetailFailed, e));
                break;
            }
        }
    }
    failures
}
