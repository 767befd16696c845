//! Copilot families (docs/copilot-metrics.md is the contract): the `gh_copilot_*` report
//! families (gauges, values of the latest report day; every one may also carry `day` when
//! `copilot.emit_day_label` is set) and the exporter's own families about Copilot runs.

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
    help: "Copilot runs by result (success, error: at least one report failed, skipped: a user account, which has no Copilot reports).",
    kind: MetricKind::Counter,
    labels: &["org", "result", "scope"],
};
pub const DOWNLOAD_BYTES: FamilySpec = FamilySpec {
    name: "gh_exporter_copilot_download_bytes",
    help: "Bytes of Copilot report files downloaded.",
    kind: MetricKind::Counter,
    labels: &["org", "scope"],
};

pub const REPORT_INCOMPLETE: FamilySpec = FamilySpec {
    name: "gh_exporter_copilot_report_incomplete",
    help: "1 while a 1-day Copilot report after the served day failed (5xx, expired links, malformed file): the served report families are of an older day, and the day went to backfill (reason copilot_report_failed); else 0.",
    kind: MetricKind::Gauge,
    labels: &["org", "report", "scope"],
};

pub const FAMILIES: [FamilySpec; 5] = [
    STALENESS,
    RECORDS_SKIPPED,
    RUNS,
    DOWNLOAD_BYTES,
    REPORT_INCOMPLETE,
];

// ---- report families (gauges) ----

pub const ACTIVE_USERS: FamilySpec = FamilySpec {
    name: "gh_copilot_active_users",
    help: "Copilot active users of the latest report day, by window (1d, 7d, 28d) and surface.",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "surface", "window"],
};
pub const USAGE_CODE_GENERATION_ACTIVITY_COUNT: FamilySpec = FamilySpec {
    name: "gh_copilot_usage_code_generation_activity_count",
    help: "Copilot code generation events of the latest report day, by breakdown (never sum across breakdowns).",
    kind: MetricKind::Gauge,
    labels: &["breakdown", "feature", "ide", "language", "model", "org", "scope"],
};
pub const USAGE_CODE_ACCEPTANCE_ACTIVITY_COUNT: FamilySpec = FamilySpec {
    name: "gh_copilot_usage_code_acceptance_activity_count",
    help: "Copilot accepted suggestions of the latest report day, by breakdown (never sum across breakdowns).",
    kind: MetricKind::Gauge,
    labels: &["breakdown", "feature", "ide", "language", "model", "org", "scope"],
};
pub const USAGE_LOC_SUGGESTED_TO_ADD_SUM: FamilySpec = FamilySpec {
    name: "gh_copilot_usage_loc_suggested_to_add_sum",
    help: "Copilot lines suggested to add of the latest report day, by breakdown (never sum across breakdowns).",
    kind: MetricKind::Gauge,
    labels: &["breakdown", "feature", "ide", "language", "model", "org", "scope"],
};
pub const USAGE_LOC_SUGGESTED_TO_DELETE_SUM: FamilySpec = FamilySpec {
    name: "gh_copilot_usage_loc_suggested_to_delete_sum",
    help: "Copilot lines suggested to delete of the latest report day, by breakdown (never sum across breakdowns).",
    kind: MetricKind::Gauge,
    labels: &["breakdown", "feature", "ide", "language", "model", "org", "scope"],
};
pub const USAGE_LOC_ADDED_SUM: FamilySpec = FamilySpec {
    name: "gh_copilot_usage_loc_added_sum",
    help:
        "Copilot lines added of the latest report day, by breakdown (never sum across breakdowns).",
    kind: MetricKind::Gauge,
    labels: &[
        "breakdown",
        "feature",
        "ide",
        "language",
        "model",
        "org",
        "scope",
    ],
};
pub const USAGE_LOC_DELETED_SUM: FamilySpec = FamilySpec {
    name: "gh_copilot_usage_loc_deleted_sum",
    help: "Copilot lines deleted of the latest report day, by breakdown (never sum across breakdowns).",
    kind: MetricKind::Gauge,
    labels: &["breakdown", "feature", "ide", "language", "model", "org", "scope"],
};
pub const USAGE_USER_INITIATED_INTERACTION_COUNT: FamilySpec = FamilySpec {
    name: "gh_copilot_usage_user_initiated_interaction_count",
    help: "Copilot user-initiated interactions of the latest report day, by breakdown (never sum across breakdowns).",
    kind: MetricKind::Gauge,
    labels: &["breakdown", "feature", "ide", "language", "model", "org", "scope"],
};
pub const USER_CODE_GENERATION_ACTIVITY_COUNT: FamilySpec = FamilySpec {
    name: "gh_copilot_user_code_generation_activity_count",
    help: "Copilot code generation events of one user in the users report (user label per copilot.user_label_mode).",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "user"],
};
pub const USER_CODE_ACCEPTANCE_ACTIVITY_COUNT: FamilySpec = FamilySpec {
    name: "gh_copilot_user_code_acceptance_activity_count",
    help: "Copilot accepted suggestions of one user in the users report (user label per copilot.user_label_mode).",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "user"],
};
pub const USER_LOC_SUGGESTED_TO_ADD_SUM: FamilySpec = FamilySpec {
    name: "gh_copilot_user_loc_suggested_to_add_sum",
    help: "Copilot lines suggested to add of one user in the users report (user label per copilot.user_label_mode).",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "user"],
};
pub const USER_LOC_SUGGESTED_TO_DELETE_SUM: FamilySpec = FamilySpec {
    name: "gh_copilot_user_loc_suggested_to_delete_sum",
    help: "Copilot lines suggested to delete of one user in the users report (user label per copilot.user_label_mode).",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "user"],
};
pub const USER_LOC_ADDED_SUM: FamilySpec = FamilySpec {
    name: "gh_copilot_user_loc_added_sum",
    help: "Copilot lines added of one user in the users report (user label per copilot.user_label_mode).",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "user"],
};
pub const USER_LOC_DELETED_SUM: FamilySpec = FamilySpec {
    name: "gh_copilot_user_loc_deleted_sum",
    help: "Copilot lines deleted of one user in the users report (user label per copilot.user_label_mode).",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "user"],
};
pub const USER_USER_INITIATED_INTERACTION_COUNT: FamilySpec = FamilySpec {
    name: "gh_copilot_user_user_initiated_interaction_count",
    help: "Copilot user-initiated interactions of one user in the users report (user label per copilot.user_label_mode).",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "user"],
};
pub const CHAT_PANEL_INTERACTIONS: FamilySpec = FamilySpec {
    name: "gh_copilot_chat_panel_interactions",
    help: "Copilot chat panel interactions of the latest report day, by mode.",
    kind: MetricKind::Gauge,
    labels: &["mode", "org", "scope"],
};
pub const PULL_REQUESTS: FamilySpec = FamilySpec {
    name: "gh_copilot_pull_requests",
    help: "Pull request activity of the latest report day, by kind (created, reviewed, merged, suggestions, …).",
    kind: MetricKind::Gauge,
    labels: &["kind", "org", "scope"],
};
pub const PULL_REQUESTS_MEDIAN_MINUTES_TO_MERGE: FamilySpec = FamilySpec {
    name: "gh_copilot_pull_requests_median_minutes_to_merge",
    help: "Median minutes to merge of the latest report day (all, copilot_authored, copilot_reviewed).",
    kind: MetricKind::Gauge,
    labels: &["kind", "org", "scope"],
};
pub const CLI_SESSIONS: FamilySpec = FamilySpec {
    name: "gh_copilot_cli_sessions",
    help: "Copilot CLI sessions of the latest report day.",
    kind: MetricKind::Gauge,
    labels: &["org", "scope"],
};
pub const CLI_REQUESTS: FamilySpec = FamilySpec {
    name: "gh_copilot_cli_requests",
    help: "Copilot CLI requests of the latest report day.",
    kind: MetricKind::Gauge,
    labels: &["org", "scope"],
};
pub const CLI_PROMPTS: FamilySpec = FamilySpec {
    name: "gh_copilot_cli_prompts",
    help: "Copilot CLI prompts of the latest report day.",
    kind: MetricKind::Gauge,
    labels: &["org", "scope"],
};
pub const CLI_TOKENS: FamilySpec = FamilySpec {
    name: "gh_copilot_cli_tokens",
    help: "Copilot CLI tokens of the latest report day, by kind (prompt, output).",
    kind: MetricKind::Gauge,
    labels: &["kind", "org", "scope"],
};
pub const SEATS: FamilySpec = FamilySpec {
    name: "gh_copilot_seats",
    help: "Copilot seats by plan type and age of the last activity (0-7d, 8-30d, 31-90d, none).",
    kind: MetricKind::Gauge,
    labels: &["activity", "org", "plan_type", "scope"],
};
pub const USER_LAST_ACTIVE_DAY: FamilySpec = FamilySpec {
    name: "gh_copilot_user_last_active_day_timestamp_seconds",
    help: "Midnight UTC (Unix seconds) of a user's last active day in the users report.",
    kind: MetricKind::Gauge,
    labels: &["org", "scope", "user"],
};
pub const REPORT_DAY: FamilySpec = FamilySpec {
    name: "gh_copilot_report_day_timestamp_seconds",
    help: "Midnight UTC (Unix seconds) of the report day served, by report.",
    kind: MetricKind::Gauge,
    labels: &["org", "report", "scope"],
};

/// `gh_copilot_usage_<counter>`, in the order of the report model's counter names.
pub const USAGE: [FamilySpec; 7] = [
    USAGE_CODE_GENERATION_ACTIVITY_COUNT,
    USAGE_CODE_ACCEPTANCE_ACTIVITY_COUNT,
    USAGE_LOC_SUGGESTED_TO_ADD_SUM,
    USAGE_LOC_SUGGESTED_TO_DELETE_SUM,
    USAGE_LOC_ADDED_SUM,
    USAGE_LOC_DELETED_SUM,
    USAGE_USER_INITIATED_INTERACTION_COUNT,
];

/// `gh_copilot_user_<counter>`, in the same order.
pub const USER: [FamilySpec; 7] = [
    USER_CODE_GENERATION_ACTIVITY_COUNT,
    USER_CODE_ACCEPTANCE_ACTIVITY_COUNT,
    USER_LOC_SUGGESTED_TO_ADD_SUM,
    USER_LOC_SUGGESTED_TO_DELETE_SUM,
    USER_LOC_ADDED_SUM,
    USER_LOC_DELETED_SUM,
    USER_USER_INITIATED_INTERACTION_COUNT,
];

/// The report families with a fixed name.
pub const REPORT_FAMILIES: [FamilySpec; 11] = [
    ACTIVE_USERS,
    CHAT_PANEL_INTERACTIONS,
    PULL_REQUESTS,
    PULL_REQUESTS_MEDIAN_MINUTES_TO_MERGE,
    CLI_SESSIONS,
    CLI_REQUESTS,
    CLI_PROMPTS,
    CLI_TOKENS,
    SEATS,
    USER_LAST_ACTIVE_DAY,
    REPORT_DAY,
];
