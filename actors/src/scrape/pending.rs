//! The backfill sink used when `backfill.enabled` is false: ScrapeActors send their
//! [`EnqueueMissing`] messages here instead of to the BackfillDispatcher. This actor logs each
//! one at info level and counts it in the counter
//! `gh_exporter_backfill_windows_not_queued_total{org,reason}` (served on `/metrics/replica`,
//! since the messages live in this process), so a missed window is never dropped silently even
//! with backfill off.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix::{Actor, Context, Handler};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

use crate::messages::EnqueueMissing;

type Counts = Arc<Mutex<BTreeMap<(String, String), u64>>>;

/// Counts and logs the missed windows that backfill (disabled) will not recover.
#[derive(Debug, Default)]
pub struct PendingBackfill {
    counts: Counts,
}

impl PendingBackfill {
    /// The actor and the collector that exposes its counts.
    pub fn new() -> (PendingBackfill, PendingBackfillCollector) {
        let counts = Counts::default();
        (
            PendingBackfill {
                counts: counts.clone(),
            },
            PendingBackfillCollector { counts },
        )
    }
}

impl PendingBackfill {
    /// A fresh actor that keeps counting into `collector`'s counts (used by the supervisor's
    /// factory, so a restart does not reset the series).
    pub fn sharing(collector: &PendingBackfillCollector) -> PendingBackfill {
        PendingBackfill {
            counts: collector.counts.clone(),
        }
    }
}

impl Actor for PendingBackfill {
    type Context = Context<Self>;
}

impl Handler<EnqueueMissing> for PendingBackfill {
    type Result = ();

    fn handle(&mut self, m: EnqueueMissing, _ctx: &mut Context<Self>) {
        tracing::info!(
            org = %m.org,
            repo = %m.repo,
            window_start = m.window_start,
            window_end = m.window_end,
            reason = %m.reason,
            "missed window not queued: backfill is disabled (backfill.enabled=false)"
        );
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts
            .entry((m.org, m.reason.as_str().to_string()))
            .or_default() += 1;
    }
}

/// `gh_exporter_backfill_windows_not_queued_total{org,reason}` for the replica registry.
#[derive(Debug, Clone)]
pub struct PendingBackfillCollector {
    counts: Counts,
}

impl PendingBackfillCollector {
    /// Total windows counted (for tests).
    pub fn total(&self) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum()
    }
}

impl Collector for PendingBackfillCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut family = encoder.encode_descriptor(
            "gh_exporter_backfill_windows_not_queued",
            "Missed windows reported by scrapers while backfill is disabled (backfill.enabled=false): logged and counted, never queued.",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for ((org, reason), count) in counts {
            let labels = [("org", org), ("reason", reason)];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;

    /// The count is a monotonic counter (`_total`, TYPE counter), by org and reason.
    #[actix_rt::test]
    async fn missed_windows_are_served_as_a_counter() {
        let (actor, collector) = PendingBackfill::new();
        let addr = actor.start();
        for _ in 0..2 {
            let message = EnqueueMissing {
                org: "acme".into(),
                repo: "widgets".into(),
                window_start: 0.0,
                window_end: 60.0,
                reason: crate::backfill::Reason::ScrapeError,
                trace_parent: None,
            };
            let sent = tokio::time::timeout(std::time::Duration::from_secs(10), addr.send(message));
            assert!(matches!(sent.await, Ok(Ok(()))), "the sink answers");
        }
        let mut registry = Registry::default();
        registry.register_collector(Box::new(collector));
        let mut text = String::new();
        assert!(prometheus_client::encoding::text::encode(&mut text, &registry).is_ok());
        assert!(
            text.contains("# TYPE gh_exporter_backfill_windows_not_queued counter"),
            "{text}"
        );
        assert!(
            text.contains(
                "gh_exporter_backfill_windows_not_queued_total{org=\"acme\",reason=\"scrape_error\"} 2"
            ),
            "{text}"
        );
        assert!(!text.contains("interim"), "{text}");
    }
}
