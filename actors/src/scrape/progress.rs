//! [`ScrapeProgress`]: what `/healthz` shows of each org's scraping — the last cycle's result,
//! duration and `window_end`, the last success, and how many repositories still wait for
//! GitHub to compute their contributor stats. Written by the ScrapeActors through
//! [`ScrapeObserver`], read by the HealthActor when it builds a report.
//!
//! One std `Mutex` around a `BTreeMap`, held for one update or one copy, never across `.await`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::events::{CycleReport, ScrapeObserver};

/// One org's scraping as `/healthz` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgProgress {
    /// `success`, `partial`, `failure` or `skipped_unhealthy`; `None` before the first cycle.
    pub last_result: Option<&'static str>,
    pub last_duration_secs: Option<f64>,
    /// The last cycle's `now` (Unix seconds).
    pub last_window_end: Option<f64>,
    /// The `now` of the last successful cycle.
    pub last_success: Option<f64>,
    pub last_error: Option<String>,
    /// Repositories whose `stats/contributors` GitHub was still computing after the last LOC
    /// round (their LOC series keep their last values, or are absent).
    pub loc_stats_waiting: usize,
    /// LOC rounds run so far.
    pub loc_rounds: u64,
}

/// Shared, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ScrapeProgress {
    orgs: Arc<Mutex<BTreeMap<String, OrgProgress>>>,
}

impl ScrapeProgress {
    pub fn new() -> ScrapeProgress {
        ScrapeProgress::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, OrgProgress>> {
        // Plain values: a panic mid-update leaves them usable.
        self.orgs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of every org's progress, sorted by org.
    pub fn snapshot(&self) -> BTreeMap<String, OrgProgress> {
        self.lock().clone()
    }
}

impl ScrapeObserver for ScrapeProgress {
    fn cycle_finished(&self, report: &CycleReport) {
        let mut orgs = self.lock();
        let entry = orgs.entry(report.org.clone()).or_default();
        entry.last_result = Some(report.result);
        entry.last_duration_secs = Some(report.duration_secs);
        entry.last_window_end = Some(report.window_end);
        if report.result == "success" {
            entry.last_success = Some(report.window_end);
        }
        entry.last_error = report.error.clone();
    }

    fn loc_progress(&self, org: &str, _asked: usize, waiting: usize) {
        let mut orgs = self.lock();
        let entry = orgs.entry(org.to_string()).or_default();
        entry.loc_stats_waiting = waiting;
        entry.loc_rounds += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::health::HealthState;

    /// Cycles and LOC rounds land in the org's entry; a failure keeps the last success.
    #[test]
    fn progress_keeps_last_cycle_and_waiting_repositories() {
        let progress = ScrapeProgress::new();
        let report = |result: &'static str, at: f64| CycleReport {
            org: "acme".into(),
            result,
            duration_secs: 1.5,
            window_end: at,
            missing_windows: 0,
            error: (result == "failure").then(|| "boom".to_string()),
            health: HealthState::Healthy,
        };
        progress.cycle_finished(&report("success", 100.0));
        progress.loc_progress("acme", 300, 120);
        progress.cycle_finished(&report("failure", 400.0));
        let acme = progress.snapshot().remove("acme").expect("entry");
        assert_eq!(acme.last_result, Some("failure"));
        assert_eq!(acme.last_success, Some(100.0));
        assert_eq!(acme.last_window_end, Some(400.0));
        assert_eq!(acme.last_error.as_deref(), Some("boom"));
        assert_eq!(acme.loc_stats_waiting, 120);
        assert_eq!(acme.loc_rounds, 1);
    }
}
