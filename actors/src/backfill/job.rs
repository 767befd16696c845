//! The backfill domain: what a job is ([`BackfillJob`]), why it exists ([`Reason`]), the
//! dispatcher's input ([`BackfillRequest`]) and how an attempt fails ([`JobError`]).
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
}

impl Reason {
    /// Every reason, for tests and documentation.
    pub const ALL: [Reason; 11] = [
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
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct JobError {
    pub class: &'static str,
    pub message: String,
}

impl JobError {
    pub fn new(class: &'static str, message: impl Into<String>) -> JobError {
        JobError {
            class,
            message: message.into(),
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
}
