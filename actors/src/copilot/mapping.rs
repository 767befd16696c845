//! From Copilot report records to `gh_copilot_*` series, exactly as `docs/copilot-metrics.md`
//! says: pure functions of a day record (or the seats) and the settings, no I/O, no clock (the
//! seats' reference time is a parameter). The per-user families are in [`super::users`].

use std::collections::{BTreeMap, HashMap};

use secrecy::SecretString;

use super::model::{BreakdownRow, DayRecord, Seat};
use super::users::UserLabelMode;
use crate::calendar::{day_start, timestamp};
use crate::metrics::copilot as families;
use crate::ports::Sample;

/// Who a report is about: `scope` (`organization` | `enterprise`) and the `org` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub scope: &'static str,
    pub org: String,
}

impl Scope {
    /// `R` of the report names (`organization-28-day`, `enterprise-1-day`).
    pub fn report_kind(&self) -> &'static str {
        self.scope
    }

    fn labels(&self, day: Option<&str>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = Vec::with_capacity(extra.len() + 3);
        labels.push(("scope".into(), self.scope.into()));
        labels.push(("org".into(), self.org.clone()));
        if let Some(day) = day {
            labels.push(("day".into(), day.into()));
        }
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        labels.sort();
        labels
    }

    pub(super) fn sample(
        &self,
        metric: &str,
        day: Option<&str>,
        extra: &[(&str, &str)],
        v: f64,
    ) -> Sample {
        Sample {
            metric: metric.to_string(),
            labels: self.labels(day, extra),
            value: v,
        }
    }
}

/// The settings that shape the series.
#[derive(Debug, Clone)]
pub struct MapSettings {
    pub breakdown_ide: bool,
    pub breakdown_feature: bool,
    pub breakdown_language: bool,
    pub breakdown_model: bool,
    pub pull_requests: bool,
    pub max_label_values: usize,
    pub emit_day_label: bool,
    pub user_label_mode: UserLabelMode,
    pub user_label_salt: Option<SecretString>,
}

impl Default for MapSettings {
    fn default() -> Self {
        MapSettings {
            breakdown_ide: false,
            breakdown_feature: false,
            breakdown_language: false,
            breakdown_model: false,
            pull_requests: true,
            max_label_values: 50,
            emit_day_label: false,
            user_label_mode: UserLabelMode::Login,
            user_label_salt: None,
        }
    }
}

/// Active-user fields: (window, surface).
const ACTIVE: [(&str, &str); 16] = [
    ("1d", "all"),
    ("7d", "all"),
    ("28d", "all"),
    ("28d", "chat"),
    ("28d", "agent"),
    ("1d", "cli"),
    ("1d", "cloud_agent"),
    ("7d", "cloud_agent"),
    ("28d", "cloud_agent"),
    ("1d", "code_review_active"),
    ("7d", "code_review_active"),
    ("28d", "code_review_active"),
    ("1d", "code_review_passive"),
    ("7d", "code_review_passive"),
    ("28d", "code_review_passive"),
    ("1d", "copilot_app"),
];

fn active_values(r: &DayRecord) -> [Option<f64>; 16] {
    [
        r.daily_active_users,
        r.weekly_active_users,
        r.monthly_active_users,
        r.monthly_active_chat_users,
        r.monthly_active_agent_users,
        r.daily_active_cli_users,
        r.daily_active_copilot_cloud_agent_users,
        r.weekly_active_copilot_cloud_agent_users,
        r.monthly_active_copilot_cloud_agent_users,
        r.daily_active_copilot_code_review_users,
        r.weekly_active_copilot_code_review_users,
        r.monthly_active_copilot_code_review_users,
        r.daily_passive_copilot_code_review_users,
        r.weekly_passive_copilot_code_review_users,
        r.monthly_passive_copilot_code_review_users,
        r.daily_active_copilot_app_users,
    ]
}

/// The label dimensions of the usage families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dim {
    Ide,
    Feature,
    Language,
    Model,
}

const DIMS: [Dim; 4] = [Dim::Ide, Dim::Feature, Dim::Language, Dim::Model];

fn dim_value(row: &BreakdownRow, dim: Dim) -> Option<&str> {
    match dim {
        Dim::Ide => row.ide.as_deref(),
        Dim::Feature => row.feature.as_deref(),
        Dim::Language => row.language.as_deref(),
        Dim::Model => row.model.as_deref(),
    }
}

/// The kept names of each dimension: the first `max` by summed `code_generation_activity_count`
/// over every breakdown row carrying the dimension (ties: name ascending).
fn kept_names(r: &DayRecord, max: usize) -> HashMap<Dim, Vec<String>> {
    let mut sums: HashMap<Dim, HashMap<&str, f64>> = HashMap::new();
    for rows in breakdown_arrays(r) {
        for row in rows {
            for dim in DIMS {
                if let Some(name) = dim_value(row, dim) {
                    *sums.entry(dim).or_default().entry(name).or_insert(0.0) +=
                        row.counters.code_generation_activity_count.unwrap_or(0.0);
                }
            }
        }
    }
    sums.into_iter()
        .map(|(dim, names)| {
            let mut ranked: Vec<(&str, f64)> = names.into_iter().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let kept = ranked
                .into_iter()
                .take(max)
                .map(|(n, _)| n.to_string())
                .collect();
            (dim, kept)
        })
        .collect()
}

fn breakdown_arrays(r: &DayRecord) -> impl Iterator<Item = &Vec<BreakdownRow>> {
    [
        &r.totals_by_ide,
        &r.totals_by_feature,
        &r.totals_by_language_feature,
        &r.totals_by_language_model,
        &r.totals_by_model_feature,
    ]
    .into_iter()
    .flatten()
}

pub(super) fn add(into: &mut [Option<f64>; 7], from: [Option<f64>; 7]) {
    for (a, b) in into.iter_mut().zip(from) {
        if let Some(b) = b {
            *a = Some(a.unwrap_or(0.0) + b);
        }
    }
}

/// A breakdown: its name, its rows, the dimensions it fills, whether it is on, whether its rows
/// carry `user_initiated_interaction_count`.
type Breakdown<'a> = (
    &'static str,
    &'a Option<Vec<BreakdownRow>>,
    &'static [Dim],
    bool,
    bool,
);

/// Every series of one day record (active users, usage, chat modes, pull requests, CLI).
pub fn day_record_series(scope: &Scope, r: &DayRecord, s: &MapSettings) -> Vec<Sample> {
    let day = r.day.as_deref().filter(|_| s.emit_day_label);
    let mut out = Vec::new();
    for ((window, surface), value) in ACTIVE.iter().zip(active_values(r)) {
        if let Some(v) = value {
            out.push(scope.sample(
                families::ACTIVE_USERS.name,
                day,
                &[("window", window), ("surface", surface)],
                v,
            ));
        }
    }

    // Usage: total, then each enabled breakdown.
    let usage = |out: &mut Vec<Sample>,
                 breakdown: &str,
                 labels: [&str; 4],
                 values: [Option<f64>; 7],
                 with_uii: bool| {
        for (i, (family, value)) in families::USAGE.iter().zip(values).enumerate() {
            if i == 6 && !with_uii {
                continue;
            }
            if let Some(v) = value {
                out.push(scope.sample(
                    family.name,
                    day,
                    &[
                        ("breakdown", breakdown),
                        ("ide", labels[0]),
                        ("feature", labels[1]),
                        ("language", labels[2]),
                        ("model", labels[3]),
                    ],
                    v,
                ));
            }
        }
    };
    usage(
        &mut out,
        "total",
        ["", "", "", ""],
        r.counters.values(),
        true,
    );
    let kept = kept_names(r, s.max_label_values);
    let capped = |row: &BreakdownRow, dim: Dim| -> String {
        let name = dim_value(row, dim).unwrap_or("");
        match kept.get(&dim) {
            Some(names) if !names.iter().any(|n| n == name) && !name.is_empty() => {
                "other".to_string()
            }
            _ => name.to_string(),
        }
    };
    let breakdowns: [Breakdown; 5] = [
        ("ide", &r.totals_by_ide, &[Dim::Ide], s.breakdown_ide, true),
        (
            "feature",
            &r.totals_by_feature,
            &[Dim::Feature],
            s.breakdown_feature,
            true,
        ),
        (
            "language_feature",
            &r.totals_by_language_feature,
            &[Dim::Language, Dim::Feature],
            s.breakdown_language && s.breakdown_feature,
            false,
        ),
        (
            "language_model",
            &r.totals_by_language_model,
            &[Dim::Language, Dim::Model],
            s.breakdown_language && s.breakdown_model,
            false,
        ),
        (
            "model_feature",
            &r.totals_by_model_feature,
            &[Dim::Model, Dim::Feature],
            s.breakdown_model && s.breakdown_feature,
            true,
        ),
    ];
    for (name, rows, dims, on, with_uii) in breakdowns {
        let Some(rows) = rows.as_ref().filter(|_| on) else {
            continue;
        };
        let mut grouped: BTreeMap<[String; 4], [Option<f64>; 7]> = BTreeMap::new();
        for row in rows {
            let mut key: [String; 4] = Default::default();
            for dim in dims {
                key[DIMS.iter().position(|d| d == dim).unwrap_or(0)] = capped(row, *dim);
            }
            add(
                grouped.entry(key).or_insert([None; 7]),
                row.counters.values(),
            );
        }
        for (key, values) in grouped {
            let labels = [
                key[0].as_str(),
                key[1].as_str(),
                key[2].as_str(),
                key[3].as_str(),
            ];
            usage(&mut out, name, labels, values, with_uii);
        }
    }

    let modes = [
        ("agent", r.chat_panel_agent_mode),
        ("ask", r.chat_panel_ask_mode),
        ("edit", r.chat_panel_edit_mode),
        ("plan", r.chat_panel_plan_mode),
        ("custom", r.chat_panel_custom_mode),
        ("unknown", r.chat_panel_unknown_mode),
    ];
    for (mode, value) in modes {
        if let Some(v) = value {
            out.push(scope.sample(
                families::CHAT_PANEL_INTERACTIONS.name,
                day,
                &[("mode", mode)],
                v,
            ));
        }
    }

    if let Some(pr) = r.pull_requests.as_ref().filter(|_| s.pull_requests) {
        let kinds = [
            ("created", pr.total_created),
            ("reviewed", pr.total_reviewed),
            ("merged", pr.total_merged),
            ("suggestions", pr.total_suggestions),
            ("applied_suggestions", pr.total_applied_suggestions),
            ("created_by_copilot", pr.total_created_by_copilot),
            ("reviewed_by_copilot", pr.total_reviewed_by_copilot),
            (
                "merged_created_by_copilot",
                pr.total_merged_created_by_copilot,
            ),
            (
                "merged_reviewed_by_copilot",
                pr.total_merged_reviewed_by_copilot,
            ),
            ("copilot_suggestions", pr.total_copilot_suggestions),
            (
                "copilot_applied_suggestions",
                pr.total_copilot_applied_suggestions,
            ),
        ];
        for (kind, value) in kinds {
            if let Some(v) = value {
                out.push(scope.sample(families::PULL_REQUESTS.name, day, &[("kind", kind)], v));
            }
        }
        let medians = [
            ("all", pr.median_minutes_to_merge),
            (
                "copilot_authored",
                pr.median_minutes_to_merge_copilot_authored,
            ),
            (
                "copilot_reviewed",
                pr.median_minutes_to_merge_copilot_reviewed,
            ),
        ];
        for (kind, value) in medians {
            if let Some(v) = value {
                out.push(scope.sample(
                    families::PULL_REQUESTS_MEDIAN_MINUTES_TO_MERGE.name,
                    day,
                    &[("kind", kind)],
                    v,
                ));
            }
        }
    }

    if let Some(cli) = &r.totals_by_cli {
        let plain = [
            (families::CLI_SESSIONS.name, cli.session_count),
            (families::CLI_REQUESTS.name, cli.request_count),
            (families::CLI_PROMPTS.name, cli.prompt_count),
        ];
        for (metric, value) in plain {
            if let Some(v) = value {
                out.push(scope.sample(metric, day, &[], v));
            }
        }
        if let Some(tokens) = &cli.token_usage {
            let kinds = [
                ("prompt", tokens.prompt_tokens_sum),
                ("output", tokens.output_tokens_sum),
            ];
            for (kind, value) in kinds {
                if let Some(v) = value {
                    out.push(scope.sample(families::CLI_TOKENS.name, day, &[("kind", kind)], v));
                }
            }
        }
    }
    out
}

/// Seats by plan and activity age against `now` (Unix seconds): every plan seen gets all four
/// buckets.
pub fn seats_series(scope: &Scope, seats: &[Seat], now: i64) -> Vec<Sample> {
    const BUCKETS: [&str; 4] = ["0-7d", "8-30d", "31-90d", "none"];
    let mut counts: BTreeMap<String, [f64; 4]> = BTreeMap::new();
    for seat in seats {
        let plan = seat.plan_type.clone().unwrap_or_else(|| "unknown".into());
        let bucket = match seat.last_activity_at.as_deref().and_then(timestamp) {
            None => 3,
            Some(at) => {
                let age = now - at;
                if age <= 7 * 86_400 {
                    0
                } else if age <= 30 * 86_400 {
                    1
                } else if age <= 90 * 86_400 {
                    2
                } else {
                    3
                }
            }
        };
        counts.entry(plan).or_insert([0.0; 4])[bucket] += 1.0;
    }
    let mut out = Vec::new();
    for (plan, values) in counts {
        for (bucket, value) in BUCKETS.iter().zip(values) {
            out.push(scope.sample(
                families::SEATS.name,
                None,
                &[("plan_type", &plan), ("activity", bucket)],
                value,
            ));
        }
    }
    out
}

/// `gh_copilot_report_day_timestamp_seconds{report}` (with `day` = that day under
/// `emit_day_label`).
pub fn report_day_series(
    scope: &Scope,
    report: &str,
    day: &str,
    s: &MapSettings,
) -> Option<Sample> {
    let ts = day_start(day)?;
    Some(scope.sample(
        families::REPORT_DAY.name,
        Some(day).filter(|_| s.emit_day_label),
        &[("report", report)],
        ts as f64,
    ))
}

#[cfg(test)]
mod tests {

    /// The catalogue's usage and per-user families follow the report model's counters.
    #[test]
    fn catalogue_families_follow_the_counter_names() {
        for (i, name) in super::super::model::COUNTER_NAMES.iter().enumerate() {
            assert_eq!(families::USAGE[i].name, format!("gh_copilot_usage_{name}"));
            assert_eq!(families::USER[i].name, format!("gh_copilot_user_{name}"));
        }
    }
    use super::*;

    fn scope() -> Scope {
        Scope {
            scope: "organization",
            org: "acme".into(),
        }
    }

    fn find(samples: &[Sample], metric: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|s| {
                s.metric == metric
                    && pairs
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|s| s.value)
    }

    fn record() -> DayRecord {
        serde_json::from_str(
            r#"{"day":"2026-11-30","daily_active_users":10,"weekly_active_users":null,
            "monthly_active_users":30,"chat_panel_ask_mode":4,"code_generation_activity_count":100,
            "user_initiated_interaction_count":7,"unknown_field":{"x":[1,2]},
            "totals_by_ide":[{"ide":"vscode","code_generation_activity_count":60,"user_initiated_interaction_count":5},
                             {"ide":"jetbrains","code_generation_activity_count":40}],
            "totals_by_language_model":[
               {"language":"rust","model":"m1","code_generation_activity_count":50,"loc_added_sum":5},
               {"language":"go","model":"m2","code_generation_activity_count":30,"loc_added_sum":3},
               {"language":"c","model":"m2","code_generation_activity_count":20,"loc_added_sum":2}],
            "pull_requests":{"total_created":3,"median_minutes_to_merge":12.5},
            "totals_by_cli":{"session_count":2,"token_usage":{"prompt_tokens_sum":9,"output_tokens_sum":null}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn default_settings_serve_totals_and_no_breakdowns() {
        let out = day_record_series(&scope(), &record(), &MapSettings::default());
        let au = |w, s| {
            find(
                &out,
                "gh_copilot_active_users",
                &[("window", w), ("surface", s)],
            )
        };
        assert_eq!(au("1d", "all"), Some(10.0));
        assert_eq!(au("7d", "all"), None, "null produces no series");
        assert_eq!(au("28d", "all"), Some(30.0));
        assert_eq!(
            find(
                &out,
                "gh_copilot_usage_code_generation_activity_count",
                &[("breakdown", "total"), ("ide", "")]
            ),
            Some(100.0)
        );
        assert!(!out.iter().any(|s| s
            .labels
            .iter()
            .any(|(k, v)| k == "breakdown" && v != "total")));
        assert_eq!(
            find(&out, "gh_copilot_pull_requests", &[("kind", "created")]),
            Some(3.0)
        );
        assert_eq!(
            find(
                &out,
                "gh_copilot_pull_requests_median_minutes_to_merge",
                &[("kind", "all")]
            ),
            Some(12.5)
        );
        assert_eq!(find(&out, "gh_copilot_cli_sessions", &[]), Some(2.0));
        assert_eq!(
            find(&out, "gh_copilot_cli_tokens", &[("kind", "prompt")]),
            Some(9.0)
        );
        assert_eq!(
            find(&out, "gh_copilot_cli_tokens", &[("kind", "output")]),
            None
        );
        assert_eq!(
            find(
                &out,
                "gh_copilot_chat_panel_interactions",
                &[("mode", "ask")]
            ),
            Some(4.0)
        );
        // Labels sorted by name; scope and org present.
        for s in &out {
            let names: Vec<&str> = s.labels.iter().map(|(k, _)| k.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted);
            assert!(names.contains(&"scope") && names.contains(&"org"));
        }
    }

    #[test]
    fn pull_requests_are_gated() {
        let s = MapSettings {
            pull_requests: false,
            ..MapSettings::default()
        };
        let out = day_record_series(&scope(), &record(), &s);
        assert!(!out
            .iter()
            .any(|s| s.metric.starts_with("gh_copilot_pull_requests")));
    }

    #[test]
    fn breakdowns_and_the_label_cap_sum_into_other() {
        let s = MapSettings {
            breakdown_ide: true,
            breakdown_language: true,
            breakdown_model: true,
            max_label_values: 1,
            emit_day_label: true,
            ..MapSettings::default()
        };
        let out = day_record_series(&scope(), &record(), &s);
        let ide = |i| {
            find(
                &out,
                "gh_copilot_usage_code_generation_activity_count",
                &[("breakdown", "ide"), ("ide", i)],
            )
        };
        assert_eq!(ide("vscode"), Some(60.0));
        assert_eq!(ide("other"), Some(40.0));
        assert_eq!(
            find(
                &out,
                "gh_copilot_usage_user_initiated_interaction_count",
                &[("breakdown", "ide"), ("ide", "vscode")]
            ),
            Some(5.0)
        );
        // language: rust 50 kept; go + c → other. model: m2 (50) kept over m1 (50)? tie → m1.
        let lm = |l, m| {
            find(
                &out,
                "gh_copilot_usage_loc_added_sum",
                &[
                    ("breakdown", "language_model"),
                    ("language", l),
                    ("model", m),
                ],
            )
        };
        assert_eq!(lm("rust", "m1"), Some(5.0));
        assert_eq!(lm("other", "other"), Some(5.0));
        assert!(!out.iter().any(|s| s.metric.ends_with("interaction_count")
            && s.labels.iter().any(|(_, v)| v == "language_model")));
        assert!(out.iter().all(|s| s
            .labels
            .iter()
            .any(|(k, v)| k == "day" && v == "2026-11-30")));
    }

    #[test]
    fn seats_bucket_by_age_and_serve_every_bucket() {
        let seats: Vec<Seat> = serde_json::from_str(
            r#"[{"plan_type":"business","last_activity_at":"2026-11-29T10:00:00Z"},
                {"plan_type":"business","last_activity_at":"2026-10-20T10:00:00+00:00"},
                {"plan_type":null,"last_activity_at":null},
                {"plan_type":"enterprise","last_activity_at":"2026-01-01T00:00:00.123Z"}]"#,
        )
        .unwrap();
        let now = timestamp("2026-12-01T00:00:00Z").unwrap();
        let out = seats_series(&scope(), &seats, now);
        assert_eq!(out.len(), 12);
        let seat = |p, a| {
            find(
                &out,
                "gh_copilot_seats",
                &[("plan_type", p), ("activity", a)],
            )
        };
        assert_eq!(seat("business", "0-7d"), Some(1.0));
        assert_eq!(seat("business", "31-90d"), Some(1.0));
        assert_eq!(seat("business", "none"), Some(0.0));
        assert_eq!(seat("unknown", "none"), Some(1.0));
        assert_eq!(seat("enterprise", "none"), Some(1.0));
    }
}
