//! Copilot families (docs/copilot-metrics.md): the exporter's own families about Copilot runs.
//! The `gh_copilot_*` report families are plain gauges (the generic help of unknown names).

use super::FamilySpec;
use crate::exposition::MetricKind;

pub const STALENESS: FamilySpec = FamilySpec {
    name: "gh_exporter_copilot_report_staleness_seconds",
    help: "Seconds since the end of the Copilot report day served (now - end of that UTC day).",
    kind: MetricKind::Gauge,
    labels: &["org", "report", "scope"],
};
pub const RECORDS_SKIPPED: FamilySpec = FamilySpec {
    name: "gh_exporter_copilot_records_skipped",
    help: "Copilot report records skipped: malformed, record_cap (max_records_per_report), user_cap (max_users_per_report).",
    kind: MetricKind::Counter,
    labels: &["org", "reason", "report", "scope"],
};
pub const RUNS: FamilySpec = FamilySpec {
    name: "gh_exporter_copilot_runs",
    help: "Copilot runs by result (success, error: at least one report failed).",
    kind: MetricKind::Counter,
    labels: &["org", "result", "scope"],
};
pub const DOWNLOAD_BYTES: FamilySpec = FamilySpec {
    name: "gh_exporter_copilot_download_bytes",
    help: "Bytes of Copilot report files downloaded.",
    kind: MetricKind::Counter,
    labels: &["org", "scope"],
};

pub const FAMILIES: [FamilySpec; 4] = [STALENESS, RECORDS_SKIPPED, RUNS, DOWNLOAD_BYTES];
