//! Shared store-level families: how many series each business family holds.

use super::FamilySpec;
use crate::exposition::MetricKind;

pub const SERIES: FamilySpec = FamilySpec {
    name: "gh_exporter_series",
    help: "Series currently stored per business metric family (shared by every replica).",
    kind: MetricKind::Gauge,
    labels: &["metric"],
};

pub const FAMILIES: [FamilySpec; 1] = [SERIES];
