//! From Copilot report records to `gh_copilot_*` series, exactly as `docs/copilot-metrics.md`
//! says: pure functions of a record (or the reduced users, or the seats) and the settings, no
//! I/O, no clock (the seats' reference time is a parameter).

use std::collections::{BTreeMap, HashMap};

use gse_actors::metrics::copilot as families;
use gse_actors::ports::Sample;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::model::{BreakdownRow, DayRecord, Seat, UserRow};
use crate::config::UserLabelMode;

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

    fn sample(&self, metric: &str, day: Option<&str>, extra: &[(&str, &str)], v: f64) -> Sample {
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

fn add(into: &mut [Option<f64>; 7], from: [Option<f64>; 7]) {
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

/// Midnight UTC of `YYYY-MM-DD`, in Unix seconds.
pub fn day_start(day: &str) -> Option<i64> {
    let mut parts = day.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.get(..2)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a Unix day number.
pub fn day_name(unix_day: i64) -> String {
    let z = unix_day + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unix seconds of an RFC 3339 timestamp (`2026-11-30T12:00:00Z`, fractions and offsets
/// allowed).
pub fn timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let date = day_start(text.get(..10)?)?;
    let rest = text.get(10..)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let h: i64 = rest.get(0..2)?.parse().ok()?;
    let mi: i64 = rest.get(3..5)?.parse().ok()?;
    let s: i64 = rest.get(6..8)?.parse().ok()?;
    let mut tail = &rest[8..];
    if let Some(frac) = tail.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        tail = &frac[digits..];
    }
    let offset = match tail {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match tail.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = tail.get(1..3)?.parse().ok()?;
            let om: i64 = tail.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(date + h * 3600 + mi * 60 + s - offset)
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

/// Each user's latest row of a users report, in bounded memory: one entry per user.
#[derive(Debug, Default)]
pub struct UserReduction {
    /// Key (id, else login) → index into `users`.
    index: HashMap<String, usize>,
    users: Vec<UserRow>,
    max_users: usize,
    /// Rows of users past `max_users`.
    pub user_cap_skipped: u64,
}

impl UserReduction {
    /// `max_users` = 0: no cap.
    pub fn new(max_users: usize) -> UserReduction {
        UserReduction {
            max_users,
            ..UserReduction::default()
        }
    }

    /// Takes one row (keeps it when it is the user's latest day so far).
    pub fn add(&mut self, row: UserRow) {
        let key = match (&row.user_id, &row.user_login) {
            (Some(id), _) => id.to_string(),
            (None, Some(login)) => format!("login:{login}"),
            (None, None) => return,
        };
        match self.index.get(&key) {
            Some(&i) => {
                if row.day > self.users[i].day {
                    self.users[i] = row;
                }
            }
            None => {
                if self.max_users != 0 && self.users.len() >= self.max_users {
                    self.user_cap_skipped += 1;
                    return;
                }
                self.index.insert(key, self.users.len());
                self.users.push(row);
            }
        }
    }

    /// Users kept.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// No user kept.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The per-user families.
    pub fn series(&self, scope: &Scope, s: &MapSettings) -> Vec<Sample> {
        let mut out = Vec::new();
        if s.user_label_mode == UserLabelMode::None {
            let mut sums = [None; 7];
            let mut last: Option<&str> = None;
            for user in &self.users {
                add(&mut sums, user.counters().values());
                if let Some(day) = user.day.as_deref() {
                    if last.is_none_or(|l| day > l) {
                        last = Some(day);
                    }
                }
            }
            let day = last.filter(|_| s.emit_day_label);
            push_user(&mut out, scope, day, &[], sums, last);
            return out;
        }
        for user in &self.users {
            let label = match s.user_label_mode {
                UserLabelMode::Login => user.user_login.clone(),
                UserLabelMode::Id => user.user_id.map(|id| id.to_string()),
                UserLabelMode::Hashed => user
                    .user_login
                    .as_deref()
                    .map(|login| hashed(s.user_label_salt.as_ref(), login)),
                UserLabelMode::None => None,
            };
            let Some(label) = label else { continue };
            let day = user.day.as_deref().filter(|_| s.emit_day_label);
            push_user(
                &mut out,
                scope,
                day,
                &[("user", &label)],
                user.counters().values(),
                user.day.as_deref(),
            );
        }
        out
    }
}

fn push_user(
    out: &mut Vec<Sample>,
    scope: &Scope,
    day: Option<&str>,
    extra: &[(&str, &str)],
    values: [Option<f64>; 7],
    last_day: Option<&str>,
) {
    for (family, value) in families::USER.iter().zip(values) {
        if let Some(v) = value {
            out.push(scope.sample(family.name, day, extra, v));
        }
    }
    if let Some(ts) = last_day.and_then(day_start) {
        out.push(scope.sample(families::USER_LAST_ACTIVE_DAY.name, day, extra, ts as f64));
    }
}

/// First 16 hex digits of SHA-256(salt ‖ login).
pub fn hashed(salt: Option<&SecretString>, login: &str) -> String {
    let mut hasher = Sha256::new();
    if let Some(salt) = salt {
        hasher.update(salt.expose_secret().as_bytes());
    }
    hasher.update(login.as_bytes());
    let digest = hasher.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
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

    #[test]
    fn dates_round_trip() {
        assert_eq!(day_start("1970-01-02"), Some(86_400));
        assert_eq!(
            day_name(day_start("2026-03-01").unwrap() / 86_400),
            "2026-03-01"
        );
        assert_eq!(
            timestamp("2026-12-01T01:00:00+01:00"),
            day_start("2026-12-01")
        );
    }

    #[test]
    fn users_keep_their_latest_day_and_honour_the_cap_and_modes() {
        let rows = [
            r#"{"user_id":1,"user_login":"ann","day":"2026-11-29","loc_added_sum":1}"#,
            r#"{"user_id":2,"user_login":"bob","day":"2026-11-30","loc_added_sum":2}"#,
            r#"{"user_id":1,"user_login":"ann","day":"2026-11-30","loc_added_sum":3}"#,
            r#"{"user_id":3,"user_login":"cat","day":"2026-11-30","loc_added_sum":4}"#,
        ];
        let mut users = UserReduction::new(2);
        for row in rows {
            users.add(serde_json::from_str(row).unwrap());
        }
        assert_eq!(users.len(), 2);
        assert_eq!(users.user_cap_skipped, 1);
        let out = users.series(&scope(), &MapSettings::default());
        assert_eq!(
            find(&out, "gh_copilot_user_loc_added_sum", &[("user", "ann")]),
            Some(3.0)
        );
        let id = MapSettings {
            user_label_mode: UserLabelMode::Id,
            ..MapSettings::default()
        };
        let out = users.series(&scope(), &id);
        assert_eq!(
            find(&out, "gh_copilot_user_loc_added_sum", &[("user", "2")]),
            Some(2.0)
        );
        let none = MapSettings {
            user_label_mode: UserLabelMode::None,
            ..MapSettings::default()
        };
        let out = users.series(&scope(), &none);
        assert_eq!(find(&out, "gh_copilot_user_loc_added_sum", &[]), Some(5.0));
        assert!(out
            .iter()
            .all(|s| s.labels.iter().all(|(k, _)| k != "user")));
        let salt = SecretString::from("pepper");
        let h = hashed(Some(&salt), "ann");
        assert_eq!(h.len(), 16);
        assert_ne!(h, hashed(Some(&SecretString::from("salt")), "ann"));
        let hashed_mode = MapSettings {
            user_label_mode: UserLabelMode::Hashed,
            user_label_salt: Some(salt),
            ..MapSettings::default()
        };
        let out = users.series(&scope(), &hashed_mode);
        assert!(find(&out, "gh_copilot_user_loc_added_sum", &[("user", &h)]).is_some());
    }
}
