//! The JSON shapes of GitHub's Copilot usage-metrics report API that the exporter reads: link
//! responses, day records (with their breakdown rows), user rows and seats. Every field is
//! optional and unknown fields are ignored, so a new or missing field never fails a record; an
//! absent or `null` number produces no series.

use serde::Deserialize;

/// `…/{R}-28-day/latest`, `…/users-28-day/latest` and `…/{R}-1-day?day=` answers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinkResponse {
    #[serde(default)]
    pub download_links: Vec<String>,
    pub report_start_day: Option<String>,
    pub report_end_day: Option<String>,
    pub report_day: Option<String>,
}

/// The counter block shared by totals, breakdown rows and user rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct Counters {
    pub code_generation_activity_count: Option<f64>,
    pub code_acceptance_activity_count: Option<f64>,
    pub loc_suggested_to_add_sum: Option<f64>,
    pub loc_suggested_to_delete_sum: Option<f64>,
    pub loc_added_sum: Option<f64>,
    pub loc_deleted_sum: Option<f64>,
    pub user_initiated_interaction_count: Option<f64>,
}

/// Names of the seven counters, in [`Counters::values`] order.
pub const COUNTER_NAMES: [&str; 7] = [
    "code_generation_activity_count",
    "code_acceptance_activity_count",
    "loc_suggested_to_add_sum",
    "loc_suggested_to_delete_sum",
    "loc_added_sum",
    "loc_deleted_sum",
    "user_initiated_interaction_count",
];

impl Counters {
    /// The seven counters in [`COUNTER_NAMES`] order.
    pub fn values(&self) -> [Option<f64>; 7] {
        [
            self.code_generation_activity_count,
            self.code_acceptance_activity_count,
            self.loc_suggested_to_add_sum,
            self.loc_suggested_to_delete_sum,
            self.loc_added_sum,
            self.loc_deleted_sum,
            self.user_initiated_interaction_count,
        ]
    }
}

/// One breakdown row (`totals_by_ide[]`, `totals_by_feature[]`, …): the dimension values it
/// carries and its counters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BreakdownRow {
    pub ide: Option<String>,
    pub feature: Option<String>,
    pub language: Option<String>,
    pub model: Option<String>,
    #[serde(flatten)]
    pub counters: Counters,
}

/// `token_usage` of the CLI totals.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens_sum: Option<f64>,
    pub output_tokens_sum: Option<f64>,
}

/// `totals_by_cli`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CliTotals {
    pub session_count: Option<f64>,
    pub request_count: Option<f64>,
    pub prompt_count: Option<f64>,
    pub token_usage: Option<TokenUsage>,
}

/// `pull_requests`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PullRequests {
    pub total_created: Option<f64>,
    pub total_reviewed: Option<f64>,
    pub total_merged: Option<f64>,
    pub total_suggestions: Option<f64>,
    pub total_applied_suggestions: Option<f64>,
    pub total_created_by_copilot: Option<f64>,
    pub total_reviewed_by_copilot: Option<f64>,
    pub total_merged_created_by_copilot: Option<f64>,
    pub total_merged_reviewed_by_copilot: Option<f64>,
    pub total_copilot_suggestions: Option<f64>,
    pub total_copilot_applied_suggestions: Option<f64>,
    pub median_minutes_to_merge: Option<f64>,
    pub median_minutes_to_merge_copilot_authored: Option<f64>,
    pub median_minutes_to_merge_copilot_reviewed: Option<f64>,
}

/// A day record of the organization/enterprise reports; also the shape of a 28-day file's
/// top-level object (`day_totals` holds its day records).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DayRecord {
    pub day: Option<String>,
    pub report_end_day: Option<String>,
    pub day_totals: Option<Vec<DayRecord>>,

    pub daily_active_users: Option<f64>,
    pub weekly_active_users: Option<f64>,
    pub monthly_active_users: Option<f64>,
    pub monthly_active_chat_users: Option<f64>,
    pub monthly_active_agent_users: Option<f64>,
    pub daily_active_cli_users: Option<f64>,
    pub daily_active_copilot_cloud_agent_users: Option<f64>,
    pub weekly_active_copilot_cloud_agent_users: Option<f64>,
    pub monthly_active_copilot_cloud_agent_users: Option<f64>,
    pub daily_active_copilot_code_review_users: Option<f64>,
    pub weekly_active_copilot_code_review_users: Option<f64>,
    pub monthly_active_copilot_code_review_users: Option<f64>,
    pub daily_passive_copilot_code_review_users: Option<f64>,
    pub weekly_passive_copilot_code_review_users: Option<f64>,
    pub monthly_passive_copilot_code_review_users: Option<f64>,
    pub daily_active_copilot_app_users: Option<f64>,

    pub chat_panel_agent_mode: Option<f64>,
    pub chat_panel_ask_mode: Option<f64>,
    pub chat_panel_edit_mode: Option<f64>,
    pub chat_panel_plan_mode: Option<f64>,
    pub chat_panel_custom_mode: Option<f64>,
    pub chat_panel_unknown_mode: Option<f64>,

    #[serde(flatten)]
    pub counters: Counters,

    pub totals_by_ide: Option<Vec<BreakdownRow>>,
    pub totals_by_feature: Option<Vec<BreakdownRow>>,
    pub totals_by_language_feature: Option<Vec<BreakdownRow>>,
    pub totals_by_language_model: Option<Vec<BreakdownRow>>,
    pub totals_by_model_feature: Option<Vec<BreakdownRow>>,
    pub totals_by_cli: Option<CliTotals>,
    pub pull_requests: Option<PullRequests>,
}

/// One row of `users-28-day` (one user, one day). Only what the per-user families use is
/// decoded; breakdown arrays and everything else are skipped.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserRow {
    pub user_id: Option<u64>,
    pub user_login: Option<String>,
    pub day: Option<String>,
    pub code_generation_activity_count: Option<f64>,
    pub code_acceptance_activity_count: Option<f64>,
    pub loc_suggested_to_add_sum: Option<f64>,
    pub loc_suggested_to_delete_sum: Option<f64>,
    pub loc_added_sum: Option<f64>,
    pub loc_deleted_sum: Option<f64>,
    pub user_initiated_interaction_count: Option<f64>,
}

impl UserRow {
    /// The counter block of the row.
    pub fn counters(&self) -> Counters {
        Counters {
            code_generation_activity_count: self.code_generation_activity_count,
            code_acceptance_activity_count: self.code_acceptance_activity_count,
            loc_suggested_to_add_sum: self.loc_suggested_to_add_sum,
            loc_suggested_to_delete_sum: self.loc_suggested_to_delete_sum,
            loc_added_sum: self.loc_added_sum,
            loc_deleted_sum: self.loc_deleted_sum,
            user_initiated_interaction_count: self.user_initiated_interaction_count,
        }
    }
}

/// One page of `/orgs/{org}/copilot/billing/seats`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SeatsPage {
    #[serde(default)]
    pub seats: Vec<Seat>,
}

/// One seat.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Seat {
    pub plan_type: Option<String>,
    pub last_activity_at: Option<String>,
}
