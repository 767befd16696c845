//! Scrape-cycle families: written by each ScrapeActor into its org batch, so they are
//! shared like the activity series. Counters are real counters kept by the actor.

use super::FamilySpec;
use crate::exposition::MetricKind;

pub const SCRAPE_RUNS: FamilySpec = FamilySpec {
    name: "gh_exporter_scrape_runs",
    help: "Org scrape cycles by result (success, partial, failure, skipped_unhealthy).",
    kind: MetricKind::Counter,
    labels: &["org", "result"],
};
pub const SCRAPE_DURATION: FamilySpec = FamilySpec {
    name: "gh_exporter_scrape_duration_seconds",
    help: "Duration of the org's latest scrape cycle.",
    kind: MetricKind::Gauge,
    labels: &["org"],
};
pub const LAST_SUCCESS: FamilySpec = FamilySpec {
    name: "gh_exporter_last_successful_scrape_timestamp_seconds",
    help: "Unix time of the org's latest cycle that scraped without any failure.",
    kind: MetricKind::Gauge,
    labels: &["org"],
};
pub const WINDOW_END: FamilySpec = FamilySpec {
    name: "gh_exporter_scrape_window_end_timestamp_seconds",
    help: "The `now` (Unix seconds) of the cycle whose activity series are served: every window ends there.",
    kind: MetricKind::Gauge,
    labels: &["org"],
};
pub const LOC_SOURCE_MODE: FamilySpec = FamilySpec {
    name: "gh_exporter_loc_source_mode",
    help: "Where a repository's LOC values come from (1 for the active mode).",
    kind: MetricKind::Gauge,
    labels: &["mode", "org", "repo"],
};
pub const LOC_FALLBACK_INCOMPLETE: FamilySpec = FamilySpec {
    name: "gh_exporter_loc_fallback_incomplete",
    help: "1 when the commit-detail LOC fallback missed commits (cap or hourly budget reached, or the week's commit listing failed or was cut short: then no LOC value is served for the repository).",
    kind: MetricKind::Gauge,
    labels: &["org", "repo"],
};
pub const ACTIVITY_INCOMPLETE: FamilySpec = FamilySpec {
    name: "gh_exporter_activity_incomplete",
    help: "1 when a repository's served activity series miss what one of its listings failed to read in the served cycle (a failed or cut-short listing: the window goes to backfill and the next cycle catches up), else 0.",
    kind: MetricKind::Gauge,
    labels: &["org", "repo"],
};
pub const LOC_STATS_WAITING: FamilySpec = FamilySpec {
    name: "gh_exporter_loc_stats_waiting_repositories",
    help: "Repositories whose stats/contributors GitHub is still computing (202); their LOC series keep their last values (or are absent) until it answers.",
    kind: MetricKind::Gauge,
    labels: &["org"],
};
pub const GITHUB_HEALTH: FamilySpec = FamilySpec {
    name: "gh_exporter_github_org_healthy",
    help: "1 while the org's GitHub health is healthy, 0 in cooldown or recovery.",
    kind: MetricKind::Gauge,
    labels: &["org"],
};

pub const FAMILIES: [FamilySpec; 9] = [
    SCRAPE_RUNS,
    SCRAPE_DURATION,
    LAST_SUCCESS,
    WINDOW_END,
    LOC_SOURCE_MODE,
    LOC_FALLBACK_INCOMPLETE,
    ACTIVITY_INCOMPLETE,
    LOC_STATS_WAITING,
    GITHUB_HEALTH,
];
