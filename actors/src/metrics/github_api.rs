//! GitHub API families: request counters and the rate budget as last observed in
//! response headers. A resource whose headers were never seen has no series: a failing org is
//! never reported as "remaining 0".

use super::FamilySpec;
use crate::exposition::MetricKind;

pub const REQUESTS: FamilySpec = FamilySpec {
    name: "gh_exporter_github_requests",
    help: "GitHub API requests by endpoint template and status class (2xx, 3xx, 4xx, 5xx, error).",
    kind: MetricKind::Counter,
    labels: &["endpoint", "org", "status_class"],
};
pub const RATE_REMAINING: FamilySpec = FamilySpec {
    name: "gh_exporter_github_rate_limit_remaining",
    help: "Requests left in the rate budget, from the latest x-ratelimit-remaining header.",
    kind: MetricKind::Gauge,
    labels: &["org", "resource"],
};
pub const RATE_RESET: FamilySpec = FamilySpec {
    name: "gh_exporter_github_rate_limit_reset_timestamp_seconds",
    help: "Unix time the rate budget refills, from the latest x-ratelimit-reset header.",
    kind: MetricKind::Gauge,
    labels: &["org", "resource"],
};
pub const SECONDARY_HITS: FamilySpec = FamilySpec {
    name: "gh_exporter_github_secondary_limit_hits",
    help: "Secondary rate-limit answers (403/429) received.",
    kind: MetricKind::Counter,
    labels: &["org"],
};

pub const FAMILIES: [FamilySpec; 4] = [REQUESTS, RATE_REMAINING, RATE_RESET, SECONDARY_HITS];
