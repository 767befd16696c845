//! The backfill worker of Copilot report days ([`CopilotDayWorker`]): a job with reason
//! `copilot_report_failed` names a scope and a day; the worker hands it to this replica's
//! CopilotActor of that scope ([`RecoverDay`]), which reads the day's 1-day report again under
//! its grant and publishes it through the same mapping and batch as a run. Only the scope's
//! lease holder calls GitHub for it, so a replica that does not run that actor passes the job
//! on (a deferred `copilot_not_owned_here`: first retry tier, attempt not used), until the
//! owner's consumer takes it or `backfill.max_message_age` dead-letters it.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};

use super::actor::{CopilotActor, RecoverDay};
use crate::backfill::{BackfillJob, BackfillWorker, JobError};
use crate::calendar::day_name;
use crate::supervisor::ActorSlot;

/// The CopilotActor slot of every scope this process may run, keyed by (scope, org).
pub type CopilotSlots = Arc<BTreeMap<(String, String), ActorSlot<CopilotActor>>>;

/// Recovers Copilot report days through the local CopilotActor of their scope.
pub struct CopilotDayWorker {
    pub actors: CopilotSlots,
}

impl BackfillWorker for CopilotDayWorker {
    fn process(&self, job: &BackfillJob) -> BoxFuture<'static, Result<(), JobError>> {
        let day = match job.copilot_day() {
            Ok(Some(day)) => day,
            Ok(None) => {
                let e = JobError::new(
                    "not_a_copilot_job",
                    format!("{} is not a Copilot day", job.job_id),
                );
                return futures::future::ready(Err(e)).boxed();
            }
            Err(e) => {
                return futures::future::ready(Err(JobError::new(
                    "not_a_copilot_job",
                    e.to_string(),
                )))
                .boxed()
            }
        };
        let name = day_name(i64::try_from(day.day_start / 86_400).unwrap_or(i64::MAX));
        let actor = self
            .actors
            .get(&(day.scope.to_string(), job.org.clone()))
            .and_then(ActorSlot::get);
        let org = job.org.clone();
        async move {
            let Some(actor) = actor else {
                return Err(JobError::deferred(
                    "copilot_not_owned_here",
                    format!(
                        "the Copilot reports of {} {org} are not read by this replica",
                        day.scope
                    ),
                ));
            };
            match actor.send(RecoverDay { day: name.clone() }).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(reason)) => Err(JobError::new("copilot_report_failed", reason)),
                Err(e) => Err(JobError::new(
                    "copilot_actor_gone",
                    format!(
                        "the Copilot actor of {} {org} stopped before reading {name}: {e}",
                        day.scope
                    ),
                )),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backfill::{CopilotDay, Reason};
    use std::time::{Duration, UNIX_EPOCH};

    /// Without the scope's actor on this replica the job is passed on (deferred, no attempt
    /// used); a job of another kind is refused.
    #[actix_rt::test]
    async fn a_scope_read_elsewhere_is_passed_on() {
        let worker = CopilotDayWorker {
            actors: Arc::new(BTreeMap::from([(
                ("organization".to_string(), "acme".to_string()),
                ActorSlot::new(),
            )])),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_796_700_000);
        let day = CopilotDay {
            scope: "organization",
            day_start: 1_796_515_200,
        };
        for org in ["acme", "other"] {
            let job = BackfillJob::new(
                org,
                &day.repo(),
                day.window(),
                Reason::CopilotReportFailed,
                5,
                now,
            );
            let error = worker.process(&job).await.expect_err("no actor here");
            assert_eq!(
                (error.class, error.deferred),
                ("copilot_not_owned_here", true)
            );
        }
        let activity = BackfillJob::new("acme", "api", day.window(), Reason::ScrapeError, 5, now);
        let error = worker
            .process(&activity)
            .await
            .expect_err("not a Copilot job");
        assert_eq!((error.class, error.deferred), ("not_a_copilot_job", false));
    }
}
