//! Scrape-cycle events for the observer seam: the ScrapeActor reports every cycle start and end
//! through [`ScrapeObserver`]; the supervision tree wires it to the metrics/log observers.
//! Implementations must not block (they run on the actor's thread).

use std::sync::Arc;
use std::time::Duration;

use super::health::HealthState;
use crate::observe::{Observer, ScrapeEvent, ScrapeResult};

/// The end of one org cycle.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub org: String,
    /// `success`, `partial`, `failure` or `skipped_unhealthy`.
    pub result: &'static str,
    pub duration_secs: f64,
    /// The cycle's `now`.
    pub window_end: f64,
    pub missing_windows: usize,
    /// Short, secret-free error text of the first failure.
    pub error: Option<String>,
    pub health: HealthState,
}

/// Receives scrape-cycle events.
pub trait ScrapeObserver: Send + Sync + 'static {
    fn cycle_started(&self, _org: &str) {}
    fn cycle_finished(&self, _report: &CycleReport) {}
    /// A LOC round asked `asked` repositories; `waiting` are still computing (202).
    fn loc_progress(&self, _org: &str, _asked: usize, _waiting: usize) {}
}

/// Forwards cycle events into the observer seam (`Observer::on_scrape_cycle`), so scrape cycles
/// reach the same log and metrics observers as supervision and backfill events.
#[derive(Clone)]
pub struct SeamObserver(pub Arc<dyn Observer>);

impl ScrapeObserver for SeamObserver {
    fn cycle_started(&self, org: &str) {
        self.0.on_scrape_cycle(&ScrapeEvent::Started { org });
    }

    fn cycle_finished(&self, report: &CycleReport) {
        let result = match report.result {
            "success" => ScrapeResult::Success,
            "partial" => ScrapeResult::Partial,
            "skipped_unhealthy" => ScrapeResult::SkippedUnhealthy,
            _ => ScrapeResult::Failure,
        };
        self.0.on_scrape_cycle(&ScrapeEvent::Finished {
            org: &report.org,
            result,
            duration: Duration::from_secs_f64(report.duration_secs.max(0.0)),
        });
    }
}

/// Sends every event to several observers, in order.
pub struct ScrapeObservers(pub Vec<Arc<dyn ScrapeObserver>>);

impl ScrapeObserver for ScrapeObservers {
    fn cycle_started(&self, org: &str) {
        self.0.iter().for_each(|o| o.cycle_started(org));
    }

    fn cycle_finished(&self, report: &CycleReport) {
        self.0.iter().for_each(|o| o.cycle_finished(report));
    }

    fn loc_progress(&self, org: &str, asked: usize, waiting: usize) {
        self.0
            .iter()
            .for_each(|o| o.loc_progress(org, asked, waiting));
    }
}
