//! The lifecycle events that flow through the observer seam.
//!
//! Events borrow their strings from the caller (`SupervisionEvent<'a>`), so emitting one costs no
//! allocation on the hot path. Observers that need to keep data copy what they need.

use std::fmt;
use std::time::Duration;

/// Why a supervised child stopped. Drives the restart decision of [`RestartType`].
///
/// [`RestartType`]: crate::supervisor::RestartType
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// The child finished on its own without declaring a failure.
    Normal,
    /// The child stopped because its supervisor asked it to.
    Shutdown,
    /// The child declared a failure (an actor through `ChildContext::fail`, a task by returning
    /// `Err`, a nested supervisor by giving up).
    Failed(String),
    /// The child's task, a handler, or work it spawned with `spawn_watched` panicked.
    Panicked(String),
    /// The child ignored its stop request past its shutdown timeout and was aborted.
    Killed,
}

impl ExitReason {
    /// `true` for the reasons a `Transient` child is restarted on: failure, panic, kill.
    pub fn is_abnormal(&self) -> bool {
        matches!(self, Self::Failed(_) | Self::Panicked(_) | Self::Killed)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Normal => f.write_str("normal"),
            Self::Shutdown => f.write_str("shutdown"),
            Self::Failed(reason) => write!(f, "failed: {reason}"),
            Self::Panicked(message) => write!(f, "panicked: {message}"),
            Self::Killed => f.write_str("killed after shutdown timeout"),
        }
    }
}

/// A supervision lifecycle event, emitted by a supervisor for one of its children.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SupervisionEvent<'a> {
    /// A new incarnation of `child` was started.
    Started { supervisor: &'a str, child: &'a str },
    /// An incarnation of `child` ended.
    Exited {
        supervisor: &'a str,
        child: &'a str,
        reason: &'a ExitReason,
    },
    /// `child` will be started again after `delay`; `attempt` counts restarts since the child was
    /// last stable (1 for the first).
    Restarting {
        supervisor: &'a str,
        child: &'a str,
        attempt: u32,
        delay: Duration,
    },
    /// The supervisor exceeded its restart intensity, stopped every child and escalates.
    GaveUp {
        supervisor: &'a str,
        reason: &'a str,
    },
}

/// What became of one backfill job attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The job's window was recomputed and stored.
    Success,
    /// The attempt failed and the job was scheduled for another attempt.
    Retry,
    /// The attempt failed for the last time; the job went to the dead-letter queue.
    DeadLetter,
    /// The job was acknowledged without work (stale, duplicate or superseded).
    Skipped,
}

impl JobOutcome {
    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Retry => "retry",
            Self::DeadLetter => "dead_letter",
            Self::Skipped => "skipped",
        }
    }
}

/// A backfill job lifecycle event (the observers seed's taxonomy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JobEvent<'a> {
    /// A consumer took `batch` jobs from the queue.
    Claimed { batch: u32 },
    /// An attempt at a job began.
    Started { org: &'a str, job_id: &'a str },
    /// An attempt ended with `outcome` after `duration`.
    Finished {
        org: &'a str,
        job_id: &'a str,
        outcome: JobOutcome,
        duration: Duration,
    },
    /// A failed attempt was scheduled for retry. `error_class` is a bounded, static class name
    /// (`github_5xx`, `rate_limited`, ...) because it becomes a label value.
    Retried {
        org: &'a str,
        job_id: &'a str,
        error_class: &'static str,
        attempt: u32,
    },
}

/// How one org's scrape cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrapeResult {
    /// Every endpoint answered; the window was stored.
    Success,
    /// Some endpoints failed: what succeeded was stored, the missed windows go to backfill.
    Partial,
    /// The cycle failed; its window goes to backfill.
    Failure,
    /// The cycle was skipped because GitHub is considered unhealthy (cooldown).
    SkippedUnhealthy,
}

impl ScrapeResult {
    /// The `result` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Partial => "partial",
            Self::Failure => "failure",
            Self::SkippedUnhealthy => "skipped_unhealthy",
        }
    }
}

/// A scrape-cycle lifecycle event for one org.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScrapeEvent<'a> {
    /// A cycle for `org` began.
    Started { org: &'a str },
    /// A cycle for `org` ended with `result` after `duration`.
    Finished {
        org: &'a str,
        result: ScrapeResult,
        duration: Duration,
    },
}
