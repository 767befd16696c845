//! The backfill domain: what a job is ([`BackfillJob`]), why it exists ([`Reason`]), the
//! dispatcher's input ([`BackfillRequest`]) and how an attempt fails ([`JobError`]).
//!
//! Two kinds of job share one shape: an activity window of a repo (`repo` = a repo name or
//! `*`), and a Copilot report day ([`CopilotDay`]: reason `copilot_report_failed`, `repo` =
//! `copilot:<scope>`, the window exactly that UTC day). A repo name never holds a `:`, so the
//! kinds never share a dedup key.
//!
//! No wire format lives here: the JSON encoding belongs to the queue adapters.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Message;

/// Why a window is backfilled (the seed's reasons). A closed set because it is a label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    ScrapeError,
    GithubUnhealthy,
    PartialScrapeError,
    ActivityCommitsFailed,
    ActivityPullsFailed,
    ActivityReviewsFailed,
    ActivityIssueCommentsFailed,
    ContributorStatsFailed,
    FallbackListCommitsFailed,
    FallbackCommitDetailFailed,
    FallbackTruncated,
    /// A Copilot 1-day report failed (5xx, expired links, malformed file).
    CopilotReportFailed,
}

impl Reason {
    /// Every reason, for tests and documentation.
    pub const ALL: [Reason; 12] = [
        Reason::ScrapeError,
        Reason::GithubUnhealthy,
        Reason::PartialScrapeError,
        Reason::ActivityCommitsFailed,
        Reason::ActivityPullsFailed,
        Reason::ActivityReviewsFailed,
        Reason::ActivityIssueCommentsFailed,
        Reason::ContributorStatsFailed,
        Reason::FallbackListCommitsFailed,
        Reason::FallbackCommitDetailFailed,
        Reason::FallbackTruncated,
        Reason::CopilotReportFailed,
    ];

    /// The wire and label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ScrapeError => "scrape_error",
            Reason::GithubUnhealthy => "github_unhealthy",
            Reason::PartialScrapeError => "partial_scrape_error",
            Reason::ActivityCommitsFailed => "activity_commits_failed",
            Reason::ActivityPullsFailed => "activity_pulls_failed",
            Reason::ActivityReviewsFailed => "activity_reviews_failed",
            Reason::ActivityIssueCommentsFailed => "activity_issue_comments_failed",
            Reason::ContributorStatsFailed => "contributor_stats_failed",
            Reason::FallbackListCommitsFailed => "fallback_list_commits_failed",
            Reason::FallbackCommitDetailFailed => "fallback_commit_detail_failed",
            Reason::FallbackTruncated => "fallback_truncated",
            Reason::CopilotReportFailed => "copilot_report_failed",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `repo` of a Copilot job: `copilot:` and the scope.
pub const COPILOT_REPO_PREFIX: &str = "copilot:";

/// The Copilot report day a job names: the scope (`organization` | `enterprise`; the job's
/// `org` is the org login or enterprise slug) and the day's midnight UTC, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopilotDay {
    pub scope: &'static str,
    pub day_start: u64,
}

impl CopilotDay {
    /// The `repo` field of this kind of job.
    pub fn repo(&self) -> String {
        format!("{COPILOT_REPO_PREFIX}{}", self.scope)
    }

    /// The job's window: exactly the day.
    pub fn window(&self) -> (SystemTime, SystemTime) {
        let start = UNIX_EPOCH + Duration::from_secs(self.day_start);
        (start, start + Duration::from_secs(86_400))
    }

    /// The request that enqueues this day for `org`.
    pub fn request(&self, org: &str) -> BackfillRequest {
        let (window_start, window_end) = self.window();
        BackfillRequest {
            org: org.to_string(),
            repo: self.repo(),
            window_start,
            window_end,
            reason: Reason::CopilotReportFailed,
        }
    }
}

/// Why a job with reason `copilot_report_failed` does not name a Copilot day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a copilot_report_failed job must have repo copilot:organization|enterprise and a window of one UTC day, not {repo:?} {start}..{end}")]
pub struct NotACopilotDay {
    pub repo: String,
    pub start: u64,
    pub end: u64,
}

/// An unknown reason string (a message from a newer or foreign producer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backfill reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_string()))
    }
}

/// Sent by the ScrapeActor (through the lead's wiring of `EnqueueMissing`) to the
/// [`BackfillDispatcher`](super::BackfillDispatcher): a window of one repo that could not be
/// scraped. Reply: none — the outcome is counted (enqueued, deduped or dropped).
#[derive(Debug, Clone, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub struct BackfillRequest {
    pub org: String,
    /// A repo name, or `*` for the whole org.
    pub repo: String,
    /// The start of the window a metric needs; the job never covers less.
    pub window_start: SystemTime,
    /// The end of that window.
    pub window_end: SystemTime,
    pub reason: Reason,
}

/// One queued job. `attempt` starts at 1 and is incremented on every retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillJob {
    /// `<dedup_key>:<created_at unix nanos>`: unique per enqueue, stable across retries.
    pub job_id: String,
    /// `<org>:<repo>:<window_start>:<window_end>:<reason>`.
    pub dedup_key: String,
    pub org: String,
    pub repo: String,
    pub window_start: SystemTime,
    pub window_end: SystemTime,
    pub reason: Reason,
    pub attempt: u32,
    pub max_attempts: u32,
    pub created_at: SystemTime,
    /// The W3C `traceparent` of the span that enqueued (or last published) the job, carried in
    /// the message so the consuming span joins that trace (see [`crate::trace`]).
    pub trace_parent: Option<String>,
}

impl BackfillJob {
    /// A first attempt for the (already coalesced) window, created at `now`.
    pub fn new(
        org: &str,
        repo: &str,
        window: (SystemTime, SystemTime),
        reason: Reason,
        max_attempts: u32,
        now: SystemTime,
    ) -> BackfillJob {
        let dedup_key = dedup_key(org, repo, window, reason);
        let job_id = format!("{dedup_key}:{}", unix_nanos(now));
        BackfillJob {
            job_id,
            dedup_key,
            org: org.to_string(),
            repo: repo.to_string(),
            window_start: window.0,
            window_end: window.1,
            reason,
            attempt: 1,
            max_attempts: max_attempts.max(1),
            created_at: now,
            trace_parent: None,
        }
    }

    /// The same job for its next attempt.
    pub fn next_attempt(&self) -> BackfillJob {
        BackfillJob {
            attempt: self.attempt.saturating_add(1),
            ..self.clone()
        }
    }

    /// The Copilot day this job recovers: `Ok(None)` for an activity job, an error for a
    /// `copilot_report_failed` job that does not name a scope and exactly one UTC day.
    pub fn copilot_day(&self) -> Result<Option<CopilotDay>, NotACopilotDay> {
        if self.reason != Reason::CopilotReportFailed {
            return Ok(None);
        }
        let (start, end) = (
            unix_seconds(self.window_start),
            unix_seconds(self.window_end),
        );
        let scope = match self.repo.strip_prefix(COPILOT_REPO_PREFIX) {
            Some("organization") => Some("organization"),
            Some("enterprise") => Some("enterprise"),
            _ => None,
        };
        match scope {
            Some(scope)
                if start % 86_400 == 0
                    && end == start + 86_400
                    && self.window_start == UNIX_EPOCH + Duration::from_secs(start) =>
            {
                Ok(Some(CopilotDay {
                    scope,
                    day_start: start,
                }))
            }
            _ => Err(NotACopilotDay {
                repo: self.repo.clone(),
                start,
                end,
            }),
        }
    }

    /// Whether this was the last attempt allowed.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// How old the job is at `now` (zero if created in the future by a skewed clock).
    pub fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.created_at).unwrap_or_default()
    }
}

/// The dedup key: org, repo, window **and reason**, so different failures of one window are
/// separate jobs.
pub fn dedup_key(
    org: &str,
    repo: &str,
    window: (SystemTime, SystemTime),
    reason: Reason,
) -> String {
    format!(
        "{org}:{repo}:{}:{}:{}",
        unix_seconds(window.0),
        unix_seconds(window.1),
        reason.as_str()
    )
}

/// Unix seconds (0 before the epoch).
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Why one attempt failed. `class` is a bounded, static name because it becomes the
/// `error_class` label; `message` is the detail kept in the dead letter's `last_error` header.
/// A `deferred` error says this replica cannot run the job at all (another replica can): the
/// job is passed on through the first retry tier without using an attempt, and only
/// `backfill.max_message_age` ends it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct JobError {
    pub class: &'static str,
    pub message: String,
    pub deferred: bool,
}

impl JobError {
    pub fn new(class: &'static str, message: impl Into<String>) -> JobError {
        JobError {
            class,
            message: message.into(),
            deferred: false,
        }
    }

    /// This replica cannot run the job; another one may.
    pub fn deferred(class: &'static str, message: impl Into<String>) -> JobError {
        JobError {
            deferred: true,
            ..JobError::new(class, message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason parses back from its wire name; an unknown one is an error, not a default.
    #[test]
    fn reasons_round_trip_and_unknown_is_rejected() {
        for reason in Reason::ALL {
            assert_eq!(reason.as_str().parse::<Reason>(), Ok(reason));
        }
        assert!("rate_limited".parse::<Reason>().is_err());
    }

    /// A retry increments the attempt and keeps the identity; the last attempt is detected.
    #[test]
    fn next_attempt_increments_and_keeps_identity() {
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let job = BackfillJob::new(
            "acme",
            "api",
            (t, t + Duration::from_secs(900)),
            Reason::ScrapeError,
            2,
            t,
        );
        assert_eq!(job.attempt, 1);
        assert!(!job.is_last_attempt());
        let next = job.next_attempt();
        assert_eq!((next.attempt, &next.job_id), (2, &job.job_id));
        assert!(next.is_last_attempt());
        assert!(job.dedup_key.ends_with(":scrape_error"));
    }

    /// A Copilot day survives the job's shape; its dedup key never equals an activity
    /// window's; a `copilot_report_failed` job without a scope or one whole day is refused.
    #[test]
    fn copilot_days_are_jobs_of_their_own() {
        let day = CopilotDay {
            scope: "enterprise",
            day_start: 1_796_515_200,
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_796_700_000);
        let request = day.request("acme");
        let job = BackfillJob::new(
            &request.org,
            &request.repo,
            (request.window_start, request.window_end),
            request.reason,
            5,
            now,
        );
        assert_eq!(job.copilot_day(), Ok(Some(day)));
        assert_eq!(
            job.dedup_key,
            "acme:copilot:enterprise:1796515200:1796601600:copilot_report_failed"
        );
        let activity = BackfillJob::new("acme", "api", day.window(), Reason::ScrapeError, 5, now);
        assert_eq!(activity.copilot_day(), Ok(None));
        assert_ne!(activity.dedup_key, job.dedup_key);
        for (repo, window) in [
            ("api", day.window()),
            ("copilot:users", day.window()),
            (
                "copilot:organization",
                (day.window().0, day.window().1 + Duration::from_secs(900)),
            ),
            (
                "copilot:organization",
                (
                    day.window().0 + Duration::from_secs(900),
                    day.window().1 + Duration::from_secs(900),
                ),
            ),
        ] {
            let bad = BackfillJob::new("acme", repo, window, Reason::CopilotReportFailed, 5, now);
            assert!(bad.copilot_day().is_err(), "{repo} {window:?}");
        }
    }
}
