//! The observer seam (seed 003): lifecycle events go through an [`Observer`] before anything
//! else sees them.
//!
//! - [`events`]: the event vocabulary (supervision, backfill jobs, scrape cycles).
//! - [`Multi`]: fans one event out to several observers, in order.
//! - [`MetricsObserver`]: turns events into [`Recorder`] calls per the [`taxonomy`].
//! - [`LogObserver`]: a debug-level `tracing` line per event, for `--log debug` diagnosis.
//! - [`MemRecorder`] and [`MemCollector`]: the in-memory recorder and its bridge into a
//!   `prometheus-client` `Registry` for `/metrics/replica`.
//!
//! **Contract:** every observer method runs synchronously on the caller's path (a supervisor, a
//! consumer, a scrape actor) and must not block: a short mutex-guarded map write or a log call,
//! never I/O or `.await`.
//!
//! ```
//! use std::sync::Arc;
//! use gse_actors::observe::{ExitReason, LogObserver, MemRecorder, MetricsObserver, Multi,
//!     Observer, SupervisionEvent};
//!
//! let recorder = Arc::new(MemRecorder::new());
//! let observer: Arc<dyn Observer> = Arc::new(Multi::new(vec![
//!     Arc::new(LogObserver),
//!     Arc::new(MetricsObserver::new(recorder.clone())),
//! ]));
//! observer.on_supervision(&SupervisionEvent::Started { supervisor: "root", child: "store" });
//! let up = recorder.snapshot().gauge("gh_exporter_actor_up", &[("actor", "store")]);
//! assert_eq!(up, Some(1.0));
//! ```

pub mod events;
mod exposition;
mod log;
mod metrics;
mod recorder;
pub mod taxonomy;

use std::sync::Arc;

pub use events::{ExitReason, JobEvent, JobOutcome, ScrapeEvent, ScrapeResult, SupervisionEvent};
pub use exposition::MemCollector;
pub use log::LogObserver;
pub use metrics::MetricsObserver;
pub use recorder::{Label, MemRecorder, Recorder, Series, SeriesValue, Snapshot};

/// Receives lifecycle events. Each method has a no-op default so an observer implements only the
/// families it cares about. Must not block (see the module doc).
pub trait Observer: Send + Sync + 'static {
    /// A supervisor started, lost, restarted a child, or gave up.
    fn on_supervision(&self, event: &SupervisionEvent<'_>) {
        let _ = event;
    }
    /// A backfill job was claimed, started, finished or retried.
    fn on_backfill_job(&self, event: &JobEvent<'_>) {
        let _ = event;
    }
    /// An org's scrape cycle started or finished.
    fn on_scrape_cycle(&self, event: &ScrapeEvent<'_>) {
        let _ = event;
    }
}

/// Fans every event out to several observers, synchronously and in the order given. With no
/// observers it is a valid no-op. A child that blocked would block its siblings, so each must
/// honour the non-blocking contract.
#[derive(Clone, Default)]
pub struct Multi {
    observers: Vec<Arc<dyn Observer>>,
}

impl Multi {
    /// A fan-out over `observers`, in order.
    pub fn new(observers: Vec<Arc<dyn Observer>>) -> Self {
        Self { observers }
    }
}

impl std::fmt::Debug for Multi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multi")
            .field("observers", &self.observers.len())
            .finish()
    }
}

impl Observer for Multi {
    fn on_supervision(&self, event: &SupervisionEvent<'_>) {
        for observer in &self.observers {
            observer.on_supervision(event);
        }
    }

    fn on_backfill_job(&self, event: &JobEvent<'_>) {
        for observer in &self.observers {
            observer.on_backfill_job(event);
        }
    }

    fn on_scrape_cycle(&self, event: &ScrapeEvent<'_>) {
        for observer in &self.observers {
            observer.on_scrape_cycle(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Remembers which events it saw, tagged with its own id.
    struct Tape {
        id: &'static str,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Observer for Tape {
        fn on_supervision(&self, event: &SupervisionEvent<'_>) {
            self.push(format!("{}:{event:?}", self.id));
        }
        fn on_backfill_job(&self, event: &JobEvent<'_>) {
            self.push(format!("{}:{event:?}", self.id));
        }
        fn on_scrape_cycle(&self, event: &ScrapeEvent<'_>) {
            self.push(format!("{}:{event:?}", self.id));
        }
    }

    impl Tape {
        fn push(&self, line: String) {
            self.seen.lock().expect("test tape lock").push(line);
        }
    }

    /// Multi delivers every family of event to every child, children in the order given.
    #[test]
    fn multi_fans_out_each_event_to_every_child_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let multi = Multi::new(vec![
            Arc::new(Tape {
                id: "a",
                seen: seen.clone(),
            }),
            Arc::new(Tape {
                id: "b",
                seen: seen.clone(),
            }),
        ]);
        multi.on_supervision(&SupervisionEvent::Started {
            supervisor: "root",
            child: "x",
        });
        multi.on_backfill_job(&JobEvent::Claimed { batch: 2 });
        multi.on_scrape_cycle(&ScrapeEvent::Started { org: "acme" });
        let seen = seen.lock().expect("test tape lock").clone();
        assert_eq!(
            seen,
            vec![
                r#"a:Started { supervisor: "root", child: "x" }"#,
                r#"b:Started { supervisor: "root", child: "x" }"#,
                "a:Claimed { batch: 2 }",
                "b:Claimed { batch: 2 }",
                r#"a:Started { org: "acme" }"#,
                r#"b:Started { org: "acme" }"#,
            ]
        );
    }
}
