//! The catch-up worker behind the consumer pool: it confirms that the window a job names has
//! been recovered, and asks the org's ScrapeActor for a cycle when it has not.
//!
//! Why this works: a scrape cycle never advances a repository's cursor past a fetch that
//! failed ([`crate::scrape::log`]), and every window is recomputed from the event log at
//! each cycle's `now`. So the next successful cycle fetches exactly what was missed, and the
//! full metric window the miss affected is recomputed — never a shorter one. A job is done when
//! the stored cursors for its repository (every repository for `*`) have passed its
//! `window_end`; until then the attempt fails with class `not_recovered_yet` and the job goes to
//! the next retry tier, then to the dead-letter queue after `backfill.max_attempts`, counted.
//! The check is idempotent, so redeliveries are harmless.
//!
//! The scrape state is read from the state store: with Redis configured every replica sees the
//! leader's cursors, so any consumer can confirm a recovery. Without Redis the state lives in the
//! leader's process (and the queue is in memory too, so only that process consumes).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::backfill::job::Reason;
use crate::backfill::{BackfillJob, BackfillWorker, JobError};
use crate::messages::ScrapeNow;
use crate::scrape::actor::ScrapeActor;
use crate::scrape::log::{state_key, OrgState, RepoLog};
use crate::scrape::port::ScrapeStateStore;
use crate::supervisor::ActorSlot;
use actix::Addr;
use futures::future::{BoxFuture, FutureExt};

/// The ScrapeActor slot of every org this replica scrapes.
pub type ScraperSlots = Arc<BTreeMap<String, ActorSlot<ScrapeActor>>>;

/// Confirms recoveries from the scrape state; nudges the org's scraper otherwise.
pub struct CatchUpWorker {
    pub state: Arc<dyn ScrapeStateStore>,
    pub scrapers: ScraperSlots,
}

impl BackfillWorker for CatchUpWorker {
    fn process(&self, job: &BackfillJob) -> BoxFuture<'static, Result<(), JobError>> {
        let state = self.state.clone();
        let scraper = self.scrapers.get(&job.org).and_then(ActorSlot::get);
        let (org, repo, reason) = (job.org.clone(), job.repo.clone(), job.reason);
        let end = job
            .window_end
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        async move {
            let stored = state.get(&state_key(&org)).await.map_err(|error| {
                JobError::new(
                    "state_unavailable",
                    format!("reading the scrape state of {org}: {error}"),
                )
            })?;
            let nudge = |scraper: Option<Addr<ScrapeActor>>| {
                if let Some(scraper) = scraper {
                    scraper.do_send(ScrapeNow);
                }
            };
            let Some(org_state) = stored.as_ref().and_then(OrgState::decode) else {
                nudge(scraper);
                return Err(JobError::new(
                    "no_scrape_state",
                    format!("no scrape state of {org} on this replica yet"),
                ));
            };
            if recovered(&org_state, &repo, reason, end) {
                Ok(())
            } else {
                nudge(scraper);
                Err(JobError::new(
                    "not_recovered_yet",
                    format!(
                        "{org}/{repo} ({}) not yet scraped through {end}",
                        reason.as_str()
                    ),
                ))
            }
        }
        .boxed()
    }
}

/// Whether the stored state covers the job's window for what its reason says failed.
pub fn recovered(state: &OrgState, repo: &str, reason: Reason, window_end: f64) -> bool {
    let past = |t: Option<f64>| t.is_some_and(|t| t >= window_end);
    let covers = |log: &RepoLog| match reason {
        Reason::ActivityCommitsFailed => past(log.commits_through),
        Reason::ActivityPullsFailed
        | Reason::ActivityReviewsFailed
        | Reason::ActivityIssueCommentsFailed => past(log.issues_through),
        Reason::ContributorStatsFailed => log.loc.empty || past(log.loc.fetched_at),
        Reason::FallbackListCommitsFailed
        | Reason::FallbackCommitDetailFailed
        | Reason::FallbackTruncated => past(log.loc.fetched_at) && !log.loc.fallback_capped,
        Reason::ScrapeError | Reason::GithubUnhealthy | Reason::PartialScrapeError => {
            past(log.commits_through) && past(log.issues_through)
        }
        // Recovered by the Copilot worker, never by the scrape state.
        Reason::CopilotReportFailed => false,
    };
    if repo == "*" {
        past(state.last_now) && state.repos.values().all(covers)
    } else {
        state.repos.get(repo).is_some_and(covers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(commits: f64, issues: f64) -> OrgState {
        let mut state = OrgState {
            last_now: Some(commits.min(issues)),
            ..OrgState::default()
        };
        let log = RepoLog {
            commits_through: Some(commits),
            issues_through: Some(issues),
            ..RepoLog::default()
        };
        state.repos.insert("r".into(), log);
        state
    }

    /// A window counts as recovered only once the cursor of what failed has passed its end.
    #[test]
    fn recovery_follows_the_failed_cursor() {
        let s = state(200.0, 100.0);
        assert!(recovered(&s, "r", Reason::ActivityCommitsFailed, 150.0));
        assert!(!recovered(
            &s,
            "r",
            Reason::ActivityIssueCommentsFailed,
            150.0
        ));
        assert!(!recovered(&s, "r", Reason::ScrapeError, 150.0));
        assert!(recovered(&s, "r", Reason::ScrapeError, 100.0));
        assert!(!recovered(&s, "other", Reason::ActivityCommitsFailed, 1.0));
        assert!(recovered(&s, "*", Reason::GithubUnhealthy, 100.0));
        assert!(!recovered(&s, "*", Reason::GithubUnhealthy, 101.0));
    }
}
