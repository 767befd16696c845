//! The exact `gh_copilot_*` series a correct exporter serves (docs/copilot-metrics.md), for the
//! default `copilot.*` settings or any other ([`Settings`]), computed from the model directly
//! (never by reading the fake's own files).
//!
//! Per enabled org (and the enterprise when its report is on): the families of the latest day
//! (`T − 1`, from the 1-day report), the report days, per-user families from each user's latest
//! row of `users-28-day` (ending `T − 2`), and seats bucketed against `now`.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::knobs::KnobState;
use super::model::{
    day_of, day_str, scope_id, Activity, Breakdown, Counts, DayRecord, Scope, CHAT_MODES, COUNTERS,
    INTERACTIONS,
};
use super::seats::{seats, BUCKETS};
use crate::timefmt::DAY;
use crate::world::World;

/// One expected series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CopilotSeries {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The body of `GET /_fake/copilot/truth`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CopilotTruth {
    pub series: Vec<CopilotSeries>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserLabelMode {
    Login,
    Id,
    Hashed,
    None,
}

/// The `copilot.*` settings the truth depends on (defaults = the exporter's defaults).
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    pub include_org_28d: bool,
    pub include_org_users_28d: bool,
    pub include_enterprise_28d: bool,
    pub include_enterprise_users_28d: bool,
    pub include_breakdown_ide: bool,
    pub include_breakdown_feature: bool,
    pub include_breakdown_language: bool,
    pub include_breakdown_model: bool,
    pub include_pull_request_activity: bool,
    pub include_seats: bool,
    pub user_label_mode: UserLabelMode,
    /// Secret: never printed by `Debug`.
    pub user_label_salt: String,
    /// 0 = no cap.
    pub max_label_values: usize,
    /// 0 = no cap.
    pub max_users_per_report: usize,
    pub emit_day_label: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("user_label_mode", &self.user_label_mode)
            .field("max_label_values", &self.max_label_values)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            include_org_28d: true,
            include_org_users_28d: false,
            include_enterprise_28d: false,
            include_enterprise_users_28d: false,
            include_breakdown_ide: false,
            include_breakdown_feature: false,
            include_breakdown_language: false,
            include_breakdown_model: false,
            include_pull_request_activity: true,
            include_seats: true,
            user_label_mode: UserLabelMode::Login,
            user_label_salt: String::new(),
            max_label_values: 50,
            max_users_per_report: 0,
            emit_day_label: false,
        }
    }
}

impl Settings {
    /// Reads query parameters named like the settings; unknown names and bad values are errors.
    pub fn from_query(query: &[(String, String)]) -> Result<Settings, String> {
        let mut s = Settings::default();
        for (k, v) in query {
            let flag = || match v.as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("`{k}` must be true or false")),
            };
            let num = || {
                v.parse::<usize>()
                    .map_err(|_| format!("`{k}` must be a whole number"))
            };
            match k.as_str() {
                "include_org_28d" => s.include_org_28d = flag()?,
                "include_org_users_28d" => s.include_org_users_28d = flag()?,
                "include_enterprise_28d" => s.include_enterprise_28d = flag()?,
                "include_enterprise_users_28d" => s.include_enterprise_users_28d = flag()?,
                "include_breakdown_ide" => s.include_breakdown_ide = flag()?,
                "include_breakdown_feature" => s.include_breakdown_feature = flag()?,
                "include_breakdown_language" => s.include_breakdown_language = flag()?,
                "include_breakdown_model" => s.include_breakdown_model = flag()?,
                "include_pull_request_activity" => s.include_pull_request_activity = flag()?,
                "include_seats" => s.include_seats = flag()?,
                "emit_day_label" => s.emit_day_label = flag()?,
                "max_label_values" => s.max_label_values = num()?,
                "max_users_per_report" => s.max_users_per_report = num()?,
                "user_label_salt" => s.user_label_salt = v.clone(),
                "user_label_mode" => {
                    s.user_label_mode = match v.as_str() {
                        "login" => UserLabelMode::Login,
                        "id" => UserLabelMode::Id,
                        "hashed" => UserLabelMode::Hashed,
                        "none" => UserLabelMode::None,
                        _ => return Err("`user_label_mode` must be login|id|hashed|none".into()),
                    }
                }
                _ => return Err(format!("unknown setting `{k}`")),
            }
        }
        if s.user_label_mode == UserLabelMode::Hashed && s.user_label_salt.is_empty() {
            return Err("`user_label_mode=hashed` needs `user_label_salt`".into());
        }
        Ok(s)
    }
}

/// The `user` label of `hashed` mode: the first 16 hex digits of SHA-256(salt ‖ login).
pub fn hashed_user(salt: &str, login: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(login.as_bytes());
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Everything the truth reads besides the world.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub world: &'a World,
    pub knobs: &'a KnobState,
    pub enterprise_slug: &'a str,
    pub now: f64,
}

pub fn compute(input: Input<'_>, s: &Settings) -> CopilotTruth {
    let mut out = Vec::new();
    let world = input.world;
    for org in &world.orgs {
        if org.kind == crate::world::OwnerKind::User
            || input
                .knobs
                .org_status
                .contains_key(&org.login.to_ascii_lowercase())
        {
            continue;
        }
        let ctx = ScopeCtx {
            world,
            scope: Scope::Org(org.idx),
            scope_label: "organization",
            name: &org.login,
            report_prefix: "organization",
            now: input.now,
        };
        ctx.report_series(s, s.include_org_28d, s.include_org_users_28d, &mut out);
        if s.include_seats {
            ctx.seat_series(&mut out);
        }
    }
    if input.knobs.enterprise_status.is_none() {
        let ctx = ScopeCtx {
            world,
            scope: Scope::Enterprise,
            scope_label: "enterprise",
            name: input.enterprise_slug,
            report_prefix: "enterprise",
            now: input.now,
        };
        ctx.report_series(
            s,
            s.include_enterprise_28d,
            s.include_enterprise_users_28d,
            &mut out,
        );
    }
    out.sort_by(|a, b| {
        a.metric
            .cmp(&b.metric)
            .then_with(|| a.labels.iter().cmp(b.labels.iter()))
    });
    CopilotTruth { series: out }
}

struct ScopeCtx<'a> {
    world: &'a World,
    scope: Scope,
    scope_label: &'static str,
    name: &'a str,
    report_prefix: &'static str,
    now: f64,
}

/// `(window, surface)` of an active-user field.
fn window_surface(field: &str) -> Option<(&'static str, &'static str)> {
    let (window, rest) = if let Some(r) = field.strip_prefix("daily_") {
        ("1d", r)
    } else if let Some(r) = field.strip_prefix("weekly_") {
        ("7d", r)
    } else {
        ("28d", field.strip_prefix("monthly_")?)
    };
    let surface = match rest {
        "active_users" => "all",
        "active_chat_users" => "chat",
        "active_agent_users" => "agent",
        "active_cli_users" => "cli",
        "active_copilot_cloud_agent_users" => "cloud_agent",
        "active_copilot_code_review_users" => "code_review_active",
        "passive_copilot_code_review_users" => "code_review_passive",
        "active_copilot_app_users" => "copilot_app",
        _ => return None,
    };
    Some((window, surface))
}

/// (breakdown, ide, feature, language, model) of a usage series.
type UsageKey = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Label values kept by the cap, per dimension.
struct Cap {
    keep: [Option<std::collections::HashSet<&'static str>>; 4],
}

const IDE: usize = 0;
const FEATURE: usize = 1;
const LANGUAGE: usize = 2;
const MODEL: usize = 3;

impl Cap {
    fn new(b: &Breakdown, max: usize) -> Cap {
        let mut sums: [BTreeMap<&'static str, u64>; 4] = Default::default();
        let mut add = |dim: usize, name: &'static str, c: &Counts| {
            *sums[dim].entry(name).or_default() += c.ca[0];
        };
        for (i, c) in &b.ide {
            add(IDE, i, c);
        }
        for (f, c) in &b.feature {
            add(FEATURE, f, c);
        }
        for ((l, f), c) in &b.language_feature {
            add(LANGUAGE, l, c);
            add(FEATURE, f, c);
        }
        for ((l, m), c) in &b.language_model {
            add(LANGUAGE, l, c);
            add(MODEL, m, c);
        }
        for ((m, f), c) in &b.model_feature {
            add(MODEL, m, c);
            add(FEATURE, f, c);
        }
        let keep = sums.map(|s| {
            (max > 0).then(|| {
                let mut v: Vec<(&'static str, u64)> = s.into_iter().collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                v.into_iter().take(max).map(|(n, _)| n).collect()
            })
        });
        Cap { keep }
    }

    fn label(&self, dim: usize, name: &'static str) -> &'static str {
        match &self.keep[dim] {
            Some(k) if !k.contains(name) => "other",
            _ => name,
        }
    }
}

impl ScopeCtx<'_> {
    fn labels(&self, extra: &[(&str, &str)], day: Option<i64>) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("scope".to_string(), self.scope_label.to_string());
        m.insert("org".to_string(), self.name.to_string());
        for (k, v) in extra {
            m.insert((*k).to_string(), (*v).to_string());
        }
        if let Some(d) = day {
            m.insert("day".to_string(), day_str(d));
        }
        m
    }

    fn report_series(
        &self,
        s: &Settings,
        with_reports: bool,
        with_users: bool,
        out: &mut Vec<CopilotSeries>,
    ) {
        if !with_reports && !with_users {
            return;
        }
        let today = day_of(self.now);
        let (end, latest) = (today - 2, today - 1);
        let act = Activity::for_scope(self.world, self.scope, end - 27, latest);
        let day_label = |d: i64| s.emit_day_label.then_some(d);
        let mut push = |metric: String, labels: BTreeMap<String, String>, value: f64| {
            out.push(CopilotSeries {
                metric,
                labels,
                value,
            })
        };
        if with_reports {
            let rec = act.day_record(self.world.seed, scope_id(self.world, self.scope), latest);
            self.day_families(s, &rec, day_label(latest), &mut push);
            for (report, d) in [
                (format!("{}-28-day", self.report_prefix), end),
                (format!("{}-1-day", self.report_prefix), latest),
            ] {
                push(
                    "gh_copilot_report_day_timestamp_seconds".into(),
                    self.labels(&[("report", &report)], day_label(d)),
                    (d * DAY) as f64,
                );
            }
        }
        if with_users {
            push(
                "gh_copilot_report_day_timestamp_seconds".into(),
                self.labels(&[("report", "users-28-day")], day_label(end)),
                (end * DAY) as f64,
            );
            self.user_families(s, &act, end, &mut push);
        }
    }

    fn day_families(
        &self,
        s: &Settings,
        rec: &DayRecord,
        day: Option<i64>,
        push: &mut impl FnMut(String, BTreeMap<String, String>, f64),
    ) {
        for (field, n) in &rec.active {
            if let Some((window, surface)) = window_surface(field) {
                push(
                    "gh_copilot_active_users".into(),
                    self.labels(&[("window", window), ("surface", surface)], day),
                    *n as f64,
                );
            }
        }
        let b = &rec.breakdown;
        let cap = Cap::new(b, s.max_label_values);
        // (breakdown, ide, feature, language, model) → counts, interactions present?
        let mut rows: BTreeMap<UsageKey, (Counts, bool)> = BTreeMap::new();
        let mut add = |key: UsageKey, c: &Counts, inter: bool| {
            let e = rows.entry(key).or_insert((Counts::default(), inter));
            e.0.add(c);
        };
        add(("total", "", "", "", ""), &b.total, true);
        if s.include_breakdown_ide {
            for (i, c) in &b.ide {
                add(("ide", cap.label(IDE, i), "", "", ""), c, true);
            }
        }
        if s.include_breakdown_feature {
            for (f, c) in &b.feature {
                add(("feature", "", cap.label(FEATURE, f), "", ""), c, true);
            }
        }
        if s.include_breakdown_language && s.include_breakdown_feature {
            for ((l, f), c) in &b.language_feature {
                let key = (
                    "language_feature",
                    "",
                    cap.label(FEATURE, f),
                    cap.label(LANGUAGE, l),
                    "",
                );
                add(key, c, false);
            }
        }
        if s.include_breakdown_language && s.include_breakdown_model {
            for ((l, m), c) in &b.language_model {
                let key = (
                    "language_model",
                    "",
                    "",
                    cap.label(LANGUAGE, l),
                    cap.label(MODEL, m),
                );
                add(key, c, false);
            }
        }
        if s.include_breakdown_model && s.include_breakdown_feature {
            for ((m, f), c) in &b.model_feature {
                let key = (
                    "model_feature",
                    "",
                    cap.label(FEATURE, f),
                    "",
                    cap.label(MODEL, m),
                );
                add(key, c, true);
            }
        }
        for ((breakdown, ide, feature, language, model), (c, inter)) in rows {
            let labels = self.labels(
                &[
                    ("breakdown", breakdown),
                    ("ide", ide),
                    ("feature", feature),
                    ("language", language),
                    ("model", model),
                ],
                day,
            );
            for (name, v) in COUNTERS.iter().zip(c.ca) {
                push(format!("gh_copilot_usage_{name}"), labels.clone(), v as f64);
            }
            if inter {
                push(
                    format!("gh_copilot_usage_{INTERACTIONS}"),
                    labels,
                    c.interactions as f64,
                );
            }
        }
        for mode in CHAT_MODES {
            push(
                "gh_copilot_chat_panel_interactions".into(),
                self.labels(&[("mode", mode)], day),
                b.chat_mode(mode) as f64,
            );
        }
        if s.include_pull_request_activity {
            let pr = &rec.pull_requests;
            for (field, v) in &pr.totals {
                let kind = field.strip_prefix("total_").unwrap_or(field);
                push(
                    "gh_copilot_pull_requests".into(),
                    self.labels(&[("kind", kind)], day),
                    *v as f64,
                );
            }
            for (field, v) in &pr.medians {
                let kind = match *field {
                    "median_minutes_to_merge" => "all",
                    "median_minutes_to_merge_copilot_authored" => "copilot_authored",
                    _ => "copilot_reviewed",
                };
                if let Some(v) = v {
                    push(
                        "gh_copilot_pull_requests_median_minutes_to_merge".into(),
                        self.labels(&[("kind", kind)], day),
                        *v,
                    );
                }
            }
        }
        if let Some(cli) = &rec.cli {
            push(
                "gh_copilot_cli_sessions".into(),
                self.labels(&[], day),
                cli.sessions as f64,
            );
            push(
                "gh_copilot_cli_requests".into(),
                self.labels(&[], day),
                cli.requests as f64,
            );
            push(
                "gh_copilot_cli_prompts".into(),
                self.labels(&[], day),
                cli.prompts as f64,
            );
            push(
                "gh_copilot_cli_tokens".into(),
                self.labels(&[("kind", "prompt")], day),
                cli.prompt_tokens as f64,
            );
            push(
                "gh_copilot_cli_tokens".into(),
                self.labels(&[("kind", "output")], day),
                cli.output_tokens as f64,
            );
        }
    }

    fn user_families(
        &self,
        s: &Settings,
        act: &Activity,
        end: i64,
        push: &mut impl FnMut(String, BTreeMap<String, String>, f64),
    ) {
        // Users in file order; the latest row of each kept user.
        let mut order: Vec<crate::world::UserIdx> = Vec::new();
        let mut latest: BTreeMap<crate::world::UserIdx, &super::model::UserDay> = BTreeMap::new();
        for ud in act.user_rows(end - 27, end) {
            if !latest.contains_key(&ud.user) {
                if s.max_users_per_report > 0 && order.len() >= s.max_users_per_report {
                    continue;
                }
                order.push(ud.user);
            }
            let newer = latest.get(&ud.user).is_none_or(|d| d.day <= ud.day);
            if newer {
                latest.insert(ud.user, ud);
            }
        }
        let mut sums: BTreeMap<Option<String>, ([u64; 7], i64)> = BTreeMap::new();
        for u in order {
            let Some(ud) = latest.get(&u) else { continue };
            let user = self.world.user(u);
            let label = match s.user_label_mode {
                UserLabelMode::Login => Some(user.login.clone()),
                UserLabelMode::Id => Some(user.id.to_string()),
                UserLabelMode::Hashed => Some(hashed_user(&s.user_label_salt, &user.login)),
                UserLabelMode::None => None,
            };
            let t = ud.totals();
            let e = sums.entry(label).or_insert(([0; 7], i64::MIN));
            for (i, v) in t.ca.iter().enumerate() {
                e.0[i] += v;
            }
            e.0[6] += t.interactions;
            e.1 = e.1.max(ud.day);
        }
        for (label, (values, day)) in sums {
            let mut extra: Vec<(&str, &str)> = Vec::new();
            if let Some(l) = &label {
                extra.push(("user", l));
            }
            let d = s.emit_day_label.then_some(day);
            let labels = self.labels(&extra, d);
            for (name, v) in COUNTERS.iter().chain([&INTERACTIONS]).zip(values) {
                push(format!("gh_copilot_user_{name}"), labels.clone(), v as f64);
            }
            push(
                "gh_copilot_user_last_active_day_timestamp_seconds".into(),
                labels,
                (day * DAY) as f64,
            );
        }
    }

    fn seat_series(&self, out: &mut Vec<CopilotSeries>) {
        let Scope::Org(o) = self.scope else { return };
        let mut counts: BTreeMap<&str, [u64; 4]> = BTreeMap::new();
        for seat in seats(self.world, o) {
            counts
                .entry(seat.plan_type.unwrap_or("unknown"))
                .or_default()[seat.bucket()] += 1;
        }
        for (plan, buckets) in counts {
            for (activity, n) in BUCKETS.iter().zip(buckets) {
                out.push(CopilotSeries {
                    metric: "gh_copilot_seats".into(),
                    labels: self.labels(&[("plan_type", plan), ("activity", activity)], None),
                    value: n as f64,
                });
            }
        }
    }
}
