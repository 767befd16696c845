//! [`JobRouter`]: the consumers' [`BackfillWorker`] that sends each job to the worker of its
//! kind — activity windows to the catch-up worker, Copilot report days to the Copilot worker.

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};

use super::job::Reason;
use super::{BackfillJob, BackfillWorker, JobError};

/// Routes jobs by kind.
pub struct JobRouter {
    pub activity: Arc<dyn BackfillWorker>,
    /// `None` when Copilot is off: its jobs fail (`copilot_disabled`) and end in the
    /// dead-letter queue after their attempts, never dropped.
    pub copilot: Option<Arc<dyn BackfillWorker>>,
}

impl BackfillWorker for JobRouter {
    fn process(&self, job: &BackfillJob) -> BoxFuture<'static, Result<(), JobError>> {
        if job.reason != Reason::CopilotReportFailed {
            return self.activity.process(job);
        }
        match &self.copilot {
            Some(worker) => worker.process(job),
            None => futures::future::ready(Err(JobError::new(
                "copilot_disabled",
                "copilot.enabled is false on this replica",
            )))
            .boxed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backfill::CopilotDay;
    use std::time::{Duration, UNIX_EPOCH};

    struct Named(&'static str);

    impl BackfillWorker for Named {
        fn process(&self, _: &BackfillJob) -> BoxFuture<'static, Result<(), JobError>> {
            futures::future::ready(Err(JobError::new(self.0, ""))).boxed()
        }
    }

    /// Activity jobs go to the catch-up worker, Copilot days to the Copilot worker, and with
    /// Copilot off a Copilot day fails with a reason (so it retries, then dead-letters).
    #[actix_rt::test]
    async fn jobs_go_to_the_worker_of_their_kind() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_700_000);
        let day = CopilotDay {
            scope: "organization",
            day_start: 1_796_515_200,
        };
        let copilot = BackfillJob::new(
            "acme",
            &day.repo(),
            day.window(),
            Reason::CopilotReportFailed,
            5,
            now,
        );
        let activity = BackfillJob::new("acme", "api", day.window(), Reason::ScrapeError, 5, now);
        let class = |r: Result<(), JobError>| r.err().map(|e| e.class);
        let router = JobRouter {
            activity: Arc::new(Named("activity")),
            copilot: Some(Arc::new(Named("copilot"))),
        };
        assert_eq!(class(router.process(&activity).await), Some("activity"));
        assert_eq!(class(router.process(&copilot).await), Some("copilot"));
        let off = JobRouter {
            activity: Arc::new(Named("activity")),
            copilot: None,
        };
        assert_eq!(class(off.process(&copilot).await), Some("copilot_disabled"));
    }
}
