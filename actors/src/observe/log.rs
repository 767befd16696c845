//! [`LogObserver`]: one debug-level `tracing` event per lifecycle event, with structured fields,
//! so a daemon at `info` stays quiet and `--log debug` gets a full trace. Abnormal exits and a
//! supervisor giving up are also logged at warn/error by the supervisor itself; this observer is
//! the uniform debug trace, not the alerting path.

use tracing::debug;

use super::events::{JobEvent, ScrapeEvent, SupervisionEvent};
use super::Observer;

/// Logs every lifecycle event at debug level under the `gse::lifecycle` target.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogObserver;

impl Observer for LogObserver {
    fn on_supervision(&self, event: &SupervisionEvent<'_>) {
        match *event {
            SupervisionEvent::Started { supervisor, child } => {
                debug!(target: "gse::lifecycle", supervisor, child, "child started");
            }
            SupervisionEvent::Exited {
                supervisor,
                child,
                reason,
            } => {
                debug!(target: "gse::lifecycle", supervisor, child, %reason, "child exited");
            }
            SupervisionEvent::Restarting {
                supervisor,
                child,
                attempt,
                delay,
            } => {
                debug!(
                    target: "gse::lifecycle",
                    supervisor,
                    child,
                    attempt,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "child restarting"
                );
            }
            SupervisionEvent::GaveUp { supervisor, reason } => {
                debug!(target: "gse::lifecycle", supervisor, reason, "supervisor gave up");
            }
        }
    }

    fn on_backfill_job(&self, event: &JobEvent<'_>) {
        match *event {
            JobEvent::Claimed { batch } => {
                debug!(target: "gse::lifecycle", batch, "backfill jobs claimed");
            }
            JobEvent::Started { org, job_id } => {
                debug!(target: "gse::lifecycle", org, job_id, "backfill job started");
            }
            JobEvent::Finished {
                org,
                job_id,
                outcome,
                duration,
            } => {
                debug!(
                    target: "gse::lifecycle",
                    org,
                    job_id,
                    outcome = outcome.as_str(),
                    duration_s = duration.as_secs_f64(),
                    "backfill job finished"
                );
            }
            JobEvent::Retried {
                org,
                job_id,
                error_class,
                attempt,
            } => {
                debug!(
                    target: "gse::lifecycle",
                    org, job_id, error_class, attempt, "backfill job retried"
                );
            }
        }
    }

    fn on_scrape_cycle(&self, event: &ScrapeEvent<'_>) {
        match *event {
            ScrapeEvent::Started { org } => {
                debug!(target: "gse::lifecycle", org, "scrape cycle started");
            }
            ScrapeEvent::Finished {
                org,
                result,
                duration,
            } => {
                debug!(
                    target: "gse::lifecycle",
                    org,
                    result = result.as_str(),
                    duration_s = duration.as_secs_f64(),
                    "scrape cycle finished"
                );
            }
        }
    }
}
