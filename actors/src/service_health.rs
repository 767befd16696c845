//! [`ServiceHealthRegistry`]: per-service outcome of periodic work (last success, last
//! failure, last error, consecutive failures, runs), written by [`tick`](crate::tick) runners
//! and read by `/healthz`.
//!
//! One std `Mutex` around a `BTreeMap`: writers hold it for one field update after a run,
//! readers for one copy, never across `.await`; the map's order gives `snapshot` its sorted
//! output. A service's record survives restarts of its runner (same name, same record).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::clock::{SystemClock, WallClock};

/// The health of one periodic service, as `/healthz` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHealthSnapshot {
    /// The service's name (snake_case slug).
    pub name: String,
    /// Its configured interval, to judge staleness (`now - last_success > k * interval`).
    pub interval: Duration,
    /// Completed runs, successful or not.
    pub runs: u64,
    /// Unix seconds of the last successful run.
    pub last_success_unix: Option<u64>,
    /// Unix seconds of the last failed run.
    pub last_failure_unix: Option<u64>,
    /// The last failure's message, kept after recovery (pair it with `consecutive_failures`).
    pub last_error: Option<String>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
}

/// Shared registry of periodic services' health. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceHealthRegistry {
    services: Arc<Mutex<BTreeMap<String, ServiceHealthSnapshot>>>,
    clock: Arc<dyn WallClock>,
}

impl Default for ServiceHealthRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl ServiceHealthRegistry {
    /// An empty registry on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty registry reading time from `clock` (tests use a
    /// [`TokioClock`](crate::clock::TokioClock)).
    pub fn with_clock(clock: Arc<dyn WallClock>) -> Self {
        Self {
            services: Arc::default(),
            clock,
        }
    }

    /// Every service's health, sorted by name.
    pub fn snapshot(&self) -> Vec<ServiceHealthSnapshot> {
        self.lock().values().cloned().collect()
    }

    /// Makes `name` visible (with no runs yet) before its first tick; keeps an existing record.
    pub(crate) fn register(&self, name: &str, interval: Duration) {
        self.lock()
            .entry(name.to_owned())
            .or_insert_with(|| ServiceHealthSnapshot {
                name: name.to_owned(),
                interval,
                runs: 0,
                last_success_unix: None,
                last_failure_unix: None,
                last_error: None,
                consecutive_failures: 0,
            })
            .interval = interval;
    }

    pub(crate) fn record_success(&self, name: &str) {
        let now = self.clock.unix_seconds();
        self.update(name, |health| {
            health.runs += 1;
            health.last_success_unix = Some(now);
            health.consecutive_failures = 0;
        });
    }

    /// Records a failure; returns the new count of consecutive failures.
    pub(crate) fn record_failure(&self, name: &str, error: &str) -> u32 {
        let now = self.clock.unix_seconds();
        let mut consecutive = 0;
        self.update(name, |health| {
            health.runs += 1;
            health.last_failure_unix = Some(now);
            health.last_error = Some(error.to_owned());
            health.consecutive_failures = health.consecutive_failures.saturating_add(1);
            consecutive = health.consecutive_failures;
        });
        consecutive
    }

    fn update(&self, name: &str, apply: impl FnOnce(&mut ServiceHealthSnapshot)) {
        if let Some(health) = self.lock().get_mut(name) {
            apply(health);
        }
    }

    /// Each critical section is a handful of assignments, so a poisoned map is still
    /// consistent: recover it rather than take `/healthz` down.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ServiceHealthSnapshot>> {
        self.services.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
