//! [`MemoryStash`]: the in-process [`JobStash`]. It keeps the outage buffer of a dispatcher
//! across the dispatcher's restarts (rest_for_one restarts it whenever an earlier sibling
//! restarts) but not across the process: what is left in it when the process stops is lost,
//! and `run` counts and logs it ([`MemoryStash::drain_lost`]). Bounded: beyond its capacity
//! the oldest jobs are dropped and reported to the caller of `save`.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures::future::{ready, BoxFuture, FutureExt as _};

use super::job::BackfillJob;
use super::port::{JobStash, StashError};

/// The in-process job stash.
#[derive(Debug)]
pub struct MemoryStash {
    capacity: usize,
    jobs: Mutex<VecDeque<BackfillJob>>,
}

impl MemoryStash {
    /// A stash holding at most `capacity` jobs.
    pub fn new(capacity: usize) -> MemoryStash {
        MemoryStash {
            capacity,
            jobs: Mutex::new(VecDeque::new()),
        }
    }

    /// Jobs stashed now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is stashed.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Empties the stash, returning what was in it (called when the process stops: these
    /// jobs are lost).
    pub fn drain_lost(&self) -> Vec<BackfillJob> {
        self.lock().drain(..).collect()
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<BackfillJob>> {
        // Whole jobs are pushed and popped; a poisoned lock cannot leave half of one.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl JobStash for MemoryStash {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn save(
        &self,
        jobs: Vec<BackfillJob>,
    ) -> BoxFuture<'static, Result<Vec<BackfillJob>, StashError>> {
        let mut stash = self.lock();
        stash.extend(jobs);
        let over = stash.len().saturating_sub(self.capacity);
        let dropped = stash.drain(..over).collect();
        ready(Ok(dropped)).boxed()
    }

    fn take_all(&self) -> BoxFuture<'static, Result<Vec<BackfillJob>, StashError>> {
        ready(Ok(self.drain_lost())).boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::backfill::Reason;

    fn job(repo: &str) -> BackfillJob {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        BackfillJob::new(
            "acme",
            repo,
            (now - Duration::from_secs(3600), now),
            Reason::ScrapeError,
            5,
            now,
        )
    }

    /// Saved jobs come back once, oldest first; beyond capacity the oldest are dropped and
    /// the count says so.
    #[tokio::test]
    async fn saves_take_back_once_and_report_what_did_not_fit() {
        let stash = MemoryStash::new(2);
        assert_eq!(
            stash.save(vec![job("a"), job("b")]).await.ok(),
            Some(vec![])
        );
        let dropped = stash.save(vec![job("c")]).await.unwrap_or_default();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].repo, "a");
        let back: Vec<String> = stash
            .take_all()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|j| j.repo)
            .collect();
        assert_eq!(back, ["b", "c"]);
        assert!(stash.take_all().await.unwrap_or_default().is_empty());
    }
}
