//! [`MetricsObserver`]: translates lifecycle events into [`Recorder`] calls. The mapping below
//! is the whole taxonomy wiring; names and label keys come from [`taxonomy`](super::taxonomy).
//!
//! | event                          | recorder call                                              |
//! |--------------------------------|------------------------------------------------------------|
//! | supervision `Started`          | gauge `actor_up{actor}` = 1, count `actor_restarts_total{actor}` += 0 |
//! | supervision `Exited`           | gauge `actor_up{actor}` = 0                                |
//! | supervision `Restarting`       | count `actor_restarts_total{actor}` += 1                   |
//! | supervision `GaveUp`           | nothing (the children's exits already set `up` to 0)       |
//! | job `Claimed{batch}`           | count `backfill_jobs_claimed_total` += batch               |
//! | job `Started`                  | count `backfill_jobs_started_total` += 1                   |
//! | job `Finished{outcome, dur}`   | count `backfill_jobs_finished_total{outcome}`, observe `backfill_job_duration_seconds` |
//! | job `Retried{error_class}`     | count `backfill_jobs_retried_total{error_class}` += 1      |
//! | scrape cycle events            | nothing: scrape series are shared and owned by the store   |

use std::sync::Arc;

use super::events::{JobEvent, SupervisionEvent};
use super::recorder::Recorder;
use super::taxonomy::{
    ACTOR_RESTARTS, ACTOR_UP, BACKFILL_JOBS_CLAIMED, BACKFILL_JOBS_FINISHED, BACKFILL_JOBS_RETRIED,
    BACKFILL_JOBS_STARTED, BACKFILL_JOB_DURATION, LABEL_ACTOR, LABEL_ERROR_CLASS, LABEL_OUTCOME,
};
use super::Observer;

/// Records lifecycle events as metrics. Holds no state of its own: all accumulation lives in
/// the recorder.
#[derive(Clone)]
pub struct MetricsObserver {
    recorder: Arc<dyn Recorder>,
}

impl MetricsObserver {
    /// An observer recording into `recorder`.
    pub fn new(recorder: Arc<dyn Recorder>) -> Self {
        Self { recorder }
    }
}

impl std::fmt::Debug for MetricsObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsObserver").finish_non_exhaustive()
    }
}

impl Observer for MetricsObserver {
    fn on_supervision(&self, event: &SupervisionEvent<'_>) {
        match *event {
            SupervisionEvent::Started { child, .. } => {
                self.recorder.gauge(&ACTOR_UP, &[(LABEL_ACTOR, child)], 1.0);
                // Expose the counter at 0 from the first start, so `increase()` sees the first
                // restart instead of a series appearing at 1.
                self.recorder
                    .count(&ACTOR_RESTARTS, &[(LABEL_ACTOR, child)], 0);
            }
            SupervisionEvent::Exited { child, .. } => {
                self.recorder.gauge(&ACTOR_UP, &[(LABEL_ACTOR, child)], 0.0);
            }
            SupervisionEvent::Restarting { child, .. } => {
                self.recorder
                    .count(&ACTOR_RESTARTS, &[(LABEL_ACTOR, child)], 1);
            }
            SupervisionEvent::GaveUp { .. } => {}
        }
    }

    fn on_backfill_job(&self, event: &JobEvent<'_>) {
        match *event {
            JobEvent::Claimed { batch } => {
                self.recorder
                    .count(&BACKFILL_JOBS_CLAIMED, &[], u64::from(batch));
            }
            JobEvent::Started { .. } => self.recorder.count(&BACKFILL_JOBS_STARTED, &[], 1),
            JobEvent::Finished {
                outcome, duration, ..
            } => {
                self.recorder.count(
                    &BACKFILL_JOBS_FINISHED,
                    &[(LABEL_OUTCOME, outcome.as_str())],
                    1,
                );
                self.recorder
                    .observe(&BACKFILL_JOB_DURATION, &[], duration.as_secs_f64());
            }
            JobEvent::Retried { error_class, .. } => {
                self.recorder.count(
                    &BACKFILL_JOBS_RETRIED,
                    &[(LABEL_ERROR_CLASS, error_class)],
                    1,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{ExitReason, JobOutcome, MemRecorder, SeriesValue};
    use std::time::Duration;

    /// A start sets `up` to 1 and exposes the restart counter at 0, an exit sets `up` to 0, and
    /// each restart adds one to the child's counter.
    #[test]
    fn supervision_events_drive_up_gauge_and_restart_counter() {
        let rec = Arc::new(MemRecorder::new());
        let obs = MetricsObserver::new(rec.clone());
        let (supervisor, child) = ("root", "store");
        obs.on_supervision(&SupervisionEvent::Started { supervisor, child });
        let snap = rec.snapshot();
        assert_eq!(
            snap.gauge("gh_exporter_actor_up", &[("actor", "store")]),
            Some(1.0)
        );
        assert_eq!(
            snap.counter("gh_exporter_actor_restarts", &[("actor", "store")]),
            Some(0)
        );
        let reason = ExitReason::Panicked("boom".into());
        obs.on_supervision(&SupervisionEvent::Exited {
            supervisor,
            child,
            reason: &reason,
        });
        for attempt in 1..=2 {
            obs.on_supervision(&SupervisionEvent::Restarting {
                supervisor,
                child,
                attempt,
                delay: Duration::from_millis(100),
            });
        }
        let snap = rec.snapshot();
        assert_eq!(
            snap.gauge("gh_exporter_actor_up", &[("actor", "store")]),
            Some(0.0)
        );
        assert_eq!(
            snap.counter("gh_exporter_actor_restarts", &[("actor", "store")]),
            Some(2)
        );
    }

    /// Job events map to the seed's taxonomy: claimed by batch, started, finished by outcome
    /// with a duration observation, retried by error class.
    #[test]
    fn job_events_follow_the_backfill_taxonomy() {
        let rec = Arc::new(MemRecorder::new());
        let obs = MetricsObserver::new(rec.clone());
        let (org, job_id) = ("acme", "j1");
        obs.on_backfill_job(&JobEvent::Claimed { batch: 3 });
        obs.on_backfill_job(&JobEvent::Started { org, job_id });
        obs.on_backfill_job(&JobEvent::Finished {
            org,
            job_id,
            outcome: JobOutcome::Retry,
            duration: Duration::from_millis(1500),
        });
        obs.on_backfill_job(&JobEvent::Retried {
            org,
            job_id,
            error_class: "github_5xx",
            attempt: 2,
        });
        let snap = rec.snapshot();
        assert_eq!(
            snap.counter("gh_exporter_backfill_jobs_claimed", &[]),
            Some(3)
        );
        assert_eq!(
            snap.counter("gh_exporter_backfill_jobs_started", &[]),
            Some(1)
        );
        assert_eq!(
            snap.counter(
                "gh_exporter_backfill_jobs_finished",
                &[("outcome", "retry")]
            ),
            Some(1)
        );
        assert_eq!(
            snap.counter(
                "gh_exporter_backfill_jobs_retried",
                &[("error_class", "github_5xx")]
            ),
            Some(1)
        );
        match snap.get("gh_exporter_backfill_job_duration_seconds", &[]) {
            Some(SeriesValue::Histogram { sum, count, .. }) => {
                assert_eq!((*sum, *count), (1.5, 1));
            }
            other => panic!("expected a histogram, got {other:?}"),
        }
    }
}
