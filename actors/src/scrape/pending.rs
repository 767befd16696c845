//! The backfill sink used when `backfill.enabled` is false: ScrapeActors send their
//! [`EnqueueMissing`] messages here instead of to the BackfillDispatcher. This actor logs each
//! one at info level and counts it in `gh_exporter_backfill_enqueues_pending{org,reason}`
//! (served on `/metrics/replica`, since the messages live in this process), so a missed window
//! is never dropped silently even with backfill off.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix::{Actor, Context, Handler};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

use crate::messages::EnqueueMissing;

type Counts = Arc<Mutex<BTreeMap<(String, String), u64>>>;

/// Counts and logs the missed windows nobody consumes yet.
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
            "missed window pending backfill (no dispatcher yet)"
        );
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry((m.org, m.reason)).or_default() += 1;
    }
}

/// `gh_exporter_backfill_enqueues_pending{org,reason}` for the replica registry.
#[derive(Debug, Clone)]
pub struct PendingBackfillCollector {
    counts: Counts,
}

impl PendingBackfillCollector {
    /// Total pending messages (for tests).
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
            "gh_exporter_backfill_enqueues_pending",
            "Missed windows reported by scrapers and not yet consumed (interim, until the backfill dispatcher exists).",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for ((org, reason), count) in counts {
            let labels = [("org", org), ("reason", reason)];
            ConstGauge::new(count as i64).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
