//! The metric taxonomy: every series the observers record, with its name, help, type and label
//! keys, in one place.
//!
//! Counter names are given **without** the `_total` suffix: the OpenMetrics encoder of
//! `prometheus-client` appends it, so `ACTOR_RESTARTS` is exposed as
//! `gh_exporter_actor_restarts_total`. Scrape-cycle series (`scrape_runs_total{org,result}` ...)
//! are absent on purpose: they are shared series the store serves on `/metrics`, not
//! per-process ones.

/// Label key: the supervised child's name.
pub const LABEL_ACTOR: &str = "actor";
/// Label key: a backfill attempt's [`JobOutcome`](super::JobOutcome).
pub const LABEL_OUTCOME: &str = "outcome";
/// Label key: the class of error that caused a backfill retry.
pub const LABEL_ERROR_CLASS: &str = "error_class";

/// Upper bounds (seconds) of the duration histograms: 50 ms up to 5 min, where a backfill job's
/// duration lives (one repo window, rate-limit waits included).
pub const DURATION_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricKind {
    /// Monotonic count; exposed with a `_total` suffix.
    Counter,
    /// Last value set wins.
    Gauge,
    /// Distribution over fixed bucket upper bounds (a `+Inf` bucket is implied).
    Histogram { buckets: &'static [f64] },
}

/// One metric family of the taxonomy.
#[derive(Debug, PartialEq)]
pub struct MetricDef {
    /// Family name; for counters without `_total` (see the module doc).
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The label keys every series of this family carries.
    pub labels: &'static [&'static str],
}

/// `gh_exporter_actor_restarts_total{actor}`.
pub static ACTOR_RESTARTS: MetricDef = MetricDef {
    name: "gh_exporter_actor_restarts",
    help: "Restarts of a supervised actor or service, by child name.",
    kind: MetricKind::Counter,
    labels: &[LABEL_ACTOR],
};

/// `gh_exporter_actor_up{actor}`.
pub static ACTOR_UP: MetricDef = MetricDef {
    name: "gh_exporter_actor_up",
    help:
        "1 while a supervised actor or service runs, 0 while it is stopped or waiting to restart.",
    kind: MetricKind::Gauge,
    labels: &[LABEL_ACTOR],
};

/// `gh_exporter_backfill_jobs_claimed_total`.
pub static BACKFILL_JOBS_CLAIMED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_claimed",
    help: "Backfill jobs taken from the queue by this replica's consumers.",
    kind: MetricKind::Counter,
    labels: &[],
};

/// `gh_exporter_backfill_jobs_started_total`.
pub static BACKFILL_JOBS_STARTED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_started",
    help: "Backfill job attempts started by this replica.",
    kind: MetricKind::Counter,
    labels: &[],
};

/// `gh_exporter_backfill_jobs_finished_total{outcome}`.
pub static BACKFILL_JOBS_FINISHED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_finished",
    help: "Backfill job attempts finished by this replica, by outcome.",
    kind: MetricKind::Counter,
    labels: &[LABEL_OUTCOME],
};

/// `gh_exporter_backfill_jobs_retried_total{error_class}`.
pub static BACKFILL_JOBS_RETRIED: MetricDef = MetricDef {
    name: "gh_exporter_backfill_jobs_retried",
    help: "Backfill jobs scheduled for another attempt, by the class of error that failed them.",
    kind: MetricKind::Counter,
    labels: &[LABEL_ERROR_CLASS],
};

/// `gh_exporter_backfill_job_duration_seconds`.
pub static BACKFILL_JOB_DURATION: MetricDef = MetricDef {
    name: "gh_exporter_backfill_job_duration_seconds",
    help: "Duration of backfill job attempts on this replica.",
    kind: MetricKind::Histogram {
        buckets: DURATION_BUCKETS,
    },
    labels: &[],
};

/// `gh_exporter_leader_epoch`.
pub static LEADER_EPOCH: MetricDef = MetricDef {
    name: "gh_exporter_leader_epoch",
    help: "Fencing epoch of the global lease this replica holds (0 when it holds none).",
    kind: MetricKind::Gauge,
    labels: &[],
};

/// `gh_exporter_leader_transitions_total{event}`.
pub static LEADER_TRANSITIONS: MetricDef = MetricDef {
    name: "gh_exporter_leader_transitions",
    help: "Lease tenures of this replica that began (acquired), were given up (released) or were taken away (lost), global and per-org leases alike.",
    kind: MetricKind::Counter,
    labels: &["event"],
};

/// `gh_exporter_lease_renew_failures_total{reason}`.
pub static LEASE_RENEW_FAILURES: MetricDef = MetricDef {
    name: "gh_exporter_lease_renew_failures",
    help: "Failed lease operations of this replica, by reason (timeout, backend_error, not_held, deadline, stale_write, duplicate_identity).",
    kind: MetricKind::Counter,
    labels: &["reason"],
};

/// `gh_exporter_lease_operations_total{operation}`.
pub static LEASE_OPERATIONS: MetricDef = MetricDef {
    name: "gh_exporter_lease_operations",
    help: "Calls this replica made to the lease backend, by operation (heartbeat, renew, acquire, release, leave).",
    kind: MetricKind::Counter,
    labels: &["operation"],
};

/// `gh_exporter_owned_orgs`.
pub static OWNED_ORGS: MetricDef = MetricDef {
    name: "gh_exporter_owned_orgs",
    help: "Orgs this replica scrapes now.",
    kind: MetricKind::Gauge,
    labels: &[],
};

/// `gh_exporter_org_lease_held{org}`.
pub static ORG_LEASE_HELD: MetricDef = MetricDef {
    name: "gh_exporter_org_lease_held",
    help: "1 while this replica holds the org's lease (per_org mode), else 0.",
    kind: MetricKind::Gauge,
    labels: &["org"],
};

/// `gh_exporter_cluster_members`.
pub static CLUSTER_MEMBERS: MetricDef = MetricDef {
    name: "gh_exporter_cluster_members",
    help: "Live replicas of this namespace as this replica last saw them (heartbeats within the lease duration).",
    kind: MetricKind::Gauge,
    labels: &[],
};

/// `gh_exporter_replica_store_writes_total{result}`.
pub static REPLICA_STORE_WRITES: MetricDef = MetricDef {
    name: "gh_exporter_replica_store_writes",
    help: "Org batches this process wrote to the store, by result (success, stale, budget, error); the shared gh_exporter_store_write_total counts every replica's.",
    kind: MetricKind::Counter,
    labels: &["result"],
};

/// `gh_exporter_rate_governor_fallbacks_total`.
pub static RATE_GOVERNOR_FALLBACKS: MetricDef = MetricDef {
    name: "gh_exporter_rate_governor_fallbacks",
    help: "GitHub requests this process paced locally, at its share of the rate, because the credential's shared budget in Redis did not answer in time.",
    kind: MetricKind::Counter,
    labels: &[],
};

/// Every family of the taxonomy, for checks and documentation.
pub static ALL: &[&MetricDef] = &[
    &LEADER_EPOCH,
    &LEADER_TRANSITIONS,
    &LEASE_RENEW_FAILURES,
    &LEASE_OPERATIONS,
    &OWNED_ORGS,
    &ORG_LEASE_HELD,
    &CLUSTER_MEMBERS,
    &REPLICA_STORE_WRITES,
    &RATE_GOVERNOR_FALLBACKS,
    &ACTOR_RESTARTS,
    &ACTOR_UP,
    &BACKFILL_JOBS_CLAIMED,
    &BACKFILL_JOBS_STARTED,
    &BACKFILL_JOBS_FINISHED,
    &BACKFILL_JOBS_RETRIED,
    &BACKFILL_JOB_DURATION,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Names are unique, prefixed, snake_case, and counters never carry `_total` themselves
    /// (the encoder adds it; a doubled `_total_total` would break dashboards).
    #[test]
    fn names_are_unique_prefixed_and_counters_lack_total() {
        let mut seen = BTreeSet::new();
        for def in ALL {
            assert!(seen.insert(def.name), "duplicate name {}", def.name);
            assert!(def.name.starts_with("gh_exporter_"), "{}", def.name);
            assert!(
                def.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                def.name
            );
            assert!(!def.name.ends_with("_total"), "{}", def.name);
            if let MetricKind::Histogram { buckets } = def.kind {
                assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{}", def.name);
            }
        }
    }
}
