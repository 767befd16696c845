//! The `gh_exporter_backfill_*` families this subsystem records through the
//! [`Recorder`](crate::observe::Recorder) (served on `/metrics/replica`: they are per-process
//! counters; Prometheus sums them across pods). Job lifecycle families (claimed, started,
//! finished, retried, duration) stay in [`taxonomy`](crate::observe::taxonomy) and go through
//! the observer seam. Counter names omit `_total` (the encoder appends it).

use crate::observe::taxonomy::{MetricDef, MetricKind};

/// Label key: the org of the job.
pub const LABEL_ORG: &str = "org";
/// Label key: the backfill reason.
pub const LABEL_REASON: &str = "reason";
/// Label key: how processing ended.
pub const LABEL_RESULT: &str = "result";
/// Label key: the queue name.
pub const LABEL_QUEUE: &str = "queue";

/// `gh_exporter_backfill_jobs_enqueued_total{org,reason}`.
pub static ENQUEUED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_enqueued",
    help: "Backfill jobs published with a broker confirmation, by org and reason.",
    kind: MetricKind::Counter,
    labels: &[LABEL_ORG, LABEL_REASON],
};

/// `gh_exporter_backfill_jobs_deduped_total{org,reason}`.
pub static DEDUPED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_deduped",
    help: "Backfill requests suppressed because an identical job was queued within the dedup TTL.",
    kind: MetricKind::Counter,
    labels: &[LABEL_ORG, LABEL_REASON],
};

/// `gh_exporter_backfill_enqueues_dropped_total{org,reason}`.
pub static DROPPED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_enqueues_dropped",
    help: "Backfill requests not queued: per-org cap reached or the outage buffer was full.",
    kind: MetricKind::Counter,
    labels: &[LABEL_ORG, LABEL_REASON],
};

/// `gh_exporter_backfill_jobs_lost_total{org,reason}`.
pub static LOST: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_lost",
    help: "Backfill jobs neither published nor saved when the dispatcher stopped (broker and job stash both unreachable, stash full, or an in-memory stash when the process ends).",
    kind: MetricKind::Counter,
    labels: &[LABEL_ORG, LABEL_REASON],
};

/// `gh_exporter_backfill_jobs_processed_total{org,result}`.
pub static PROCESSED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_processed",
    help: "Backfill jobs settled by this replica, by org and result (success, retry, dead_letter, skipped).",
    kind: MetricKind::Counter,
    labels: &[LABEL_ORG, LABEL_RESULT],
};

/// `gh_exporter_backfill_dead_lettered_total{org,reason}`.
pub static DEAD_LETTERED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_dead_lettered",
    help: "Backfill jobs moved to the dead-letter queue (attempts exhausted, too old, or undecodable).",
    kind: MetricKind::Counter,
    labels: &[LABEL_ORG, LABEL_REASON],
};

/// `gh_exporter_backfill_buffered_jobs`.
pub static BUFFERED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_buffered_jobs",
    help:
        "Backfill jobs held in memory while the broker is unreachable, published when it returns.",
    kind: MetricKind::Gauge,
    labels: &[],
};

/// `gh_exporter_backfill_jobs_in_flight`.
pub static IN_FLIGHT: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_in_flight",
    help: "Backfill jobs delivered to this replica's consumers and not yet settled.",
    kind: MetricKind::Gauge,
    labels: &[],
};

/// Every family of this module.
pub static ALL: &[&MetricDef] = &[
    &ENQUEUED,
    &DEDUPED,
    &DROPPED,
    &LOST,
    &PROCESSED,
    &DEAD_LETTERED,
    &BUFFERED,
    &IN_FLIGHT,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::taxonomy;

    /// Names are prefixed, unique across this module and the observer taxonomy, and counters
    /// never carry `_total` themselves (the encoder appends it).
    #[test]
    fn names_are_prefixed_unique_and_counters_lack_total() {
        let mut seen = std::collections::BTreeSet::new();
        for def in ALL.iter().chain(taxonomy::ALL.iter()) {
            assert!(seen.insert(def.name), "duplicate {}", def.name);
            assert!(def.name.starts_with("gh_exporter_"), "{}", def.name);
            assert!(!def.name.ends_with("_total"), "{}", def.name);
        }
    }
}
