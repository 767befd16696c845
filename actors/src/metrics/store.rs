//! Shared store-level families: how many series each business family holds, and the store's
//! shared operational counters.

use super::FamilySpec;
use crate::exposition::MetricKind;

pub const SERIES: FamilySpec = FamilySpec {
    name: "gh_exporter_series",
    help: "Series currently stored per business metric family (shared by every replica).",
    kind: MetricKind::Gauge,
    labels: &["metric"],
};

/// Shared counter (accumulated in the store, identical on every replica): org-batch writes by
/// outcome (`success`, `stale_epoch`).
pub const WRITES: FamilySpec = FamilySpec {
    name: "gh_exporter_store_write",
    help: "Org-batch writes to the shared store, by result (counted in the store, identical on every replica).",
    kind: MetricKind::Counter,
    labels: &["result"],
};

/// Shared counter: new series dropped because `store.max_series_budget` was reached.
pub const SERIES_REJECTED: FamilySpec = FamilySpec {
    name: "gh_exporter_store_series_rejected",
    help: "New series dropped because store.max_series_budget was reached (counted in the store).",
    kind: MetricKind::Counter,
    labels: &[],
};

pub const FAMILIES: [FamilySpec; 3] = [SERIES, WRITES, SERIES_REJECTED];
