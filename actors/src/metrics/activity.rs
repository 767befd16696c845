//! Business metrics (README, "Metrics"): per `{org, repo, user}` activity gauges. Values are refreshed by
//! the leader every scrape interval; help texts say so, as the exporter guidelines ask of cached
//! metrics.

use super::FamilySpec;
use crate::exposition::MetricKind;

const LABELS: &[&str] = &["org", "repo", "user"];

const fn gauge(name: &'static str, help: &'static str) -> FamilySpec {
    FamilySpec {
        name,
        help,
        kind: MetricKind::Gauge,
        labels: LABELS,
    }
}

pub const COMMITS_24H: FamilySpec = gauge(
    "gh_activity_commits_24h",
    "Commits on the default branch authored in the last 24 hours (refreshed every scrape interval).",
);
pub const PRS_OPENED_24H: FamilySpec = gauge(
    "gh_activity_prs_opened_24h",
    "Pull requests opened in the last 24 hours, by author (refreshed every scrape interval).",
);
pub const PRS_MERGED_24H: FamilySpec = gauge(
    "gh_activity_prs_merged_24h",
    "Pull requests merged in the last 24 hours, by PR author (refreshed every scrape interval).",
);
pub const REVIEWS_SUBMITTED_24H: FamilySpec = gauge(
    "gh_activity_reviews_submitted_24h",
    "Pull request reviews submitted in the last 24 hours, by reviewer (refreshed every scrape interval).",
);
pub const ISSUE_COMMENTS_24H: FamilySpec = gauge(
    "gh_activity_issue_comments_24h",
    "Issue and pull request conversation comments created in the last 24 hours (refreshed every scrape interval).",
);
pub const LOC_ADDED_WEEKLY: FamilySpec = gauge(
    "gh_activity_loc_added_weekly",
    "Lines added in the contributor's latest complete week.",
);
pub const LOC_REMOVED_WEEKLY: FamilySpec = gauge(
    "gh_activity_loc_removed_weekly",
    "Lines removed in the contributor's latest complete week.",
);
pub const LAST_EVENT_UNIXTIME: FamilySpec = gauge(
    "gh_activity_last_event_unixtime",
    "Unix time in seconds of the contributor's latest counted event.",
);

/// The eight activity families.
pub const FAMILIES: [FamilySpec; 8] = [
    COMMITS_24H,
    PRS_OPENED_24H,
    PRS_MERGED_24H,
    REVIEWS_SUBMITTED_24H,
    ISSUE_COMMENTS_24H,
    LOC_ADDED_WEEKLY,
    LOC_REMOVED_WEEKLY,
    LAST_EVENT_UNIXTIME,
];
