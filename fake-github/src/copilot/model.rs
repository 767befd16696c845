//! The Copilot world: which members hold a seat, what each seat holder did with Copilot on each
//! day (a pure function of seed, user id and day), and the day records of an organization or of
//! the enterprise as exact aggregates of their seat holders' days.
//!
//! A user's day is the same in every org that gives them a seat (org reports count a user in
//! every org, as GitHub does); the enterprise counts each user once.

use std::collections::BTreeMap;

use crate::hash::{hash, Rng};
use crate::timefmt::{iso, DAY};
use crate::world::{UserIdx, World};

/// The counter block, in the order of the reports.
pub const COUNTERS: [&str; 6] = [
    "code_generation_activity_count",
    "code_acceptance_activity_count",
    "loc_suggested_to_add_sum",
    "loc_suggested_to_delete_sum",
    "loc_added_sum",
    "loc_deleted_sum",
];
pub const INTERACTIONS: &str = "user_initiated_interaction_count";

pub const IDES: &[&str] = &[
    "vscode",
    "jetbrains",
    "visualstudio",
    "neovim",
    "xcode",
    "eclipse",
];
pub const FEATURES: &[&str] = &[
    "code_completion",
    "agent_edit",
    "chat_panel_agent_mode",
    "chat_panel_ask_mode",
    "chat_panel_edit_mode",
    "chat_panel_plan_mode",
    "chat_panel_custom_mode",
    "chat_panel_unknown_mode",
    "copilot_cli",
];
/// `chat_panel_<mode>_mode`.
pub const CHAT_MODES: [&str; 6] = ["agent", "ask", "edit", "plan", "custom", "unknown"];
pub const LANGUAGES: &[&str] = &[
    "typescript",
    "python",
    "javascript",
    "java",
    "go",
    "rust",
    "csharp",
    "cpp",
    "c",
    "ruby",
    "php",
    "kotlin",
    "swift",
    "scala",
    "shell",
    "powershell",
    "sql",
    "html",
    "css",
    "scss",
    "markdown",
    "yaml",
    "json",
    "toml",
    "dockerfile",
    "terraform",
    "hcl",
    "lua",
    "perl",
    "r",
    "julia",
    "dart",
    "elixir",
    "erlang",
    "haskell",
    "ocaml",
    "fsharp",
    "clojure",
    "groovy",
    "objective-c",
    "vue",
    "svelte",
    "graphql",
    "protobuf",
    "makefile",
    "cmake",
    "bicep",
    "solidity",
    "zig",
    "nim",
    "crystal",
    "fortran",
    "cobol",
    "vb",
    "matlab",
    "latex",
    "xml",
    "astro",
    "jsonnet",
    "starlark",
    "nix",
    "prisma",
    "razor",
    "jupyter",
];
pub const MODELS: &[&str] = &[
    "gpt-4.1",
    "gpt-4o",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-codex",
    "claude-sonnet-4",
    "claude-sonnet-4.5",
    "claude-opus-4.1",
    "claude-haiku-4.5",
    "gemini-2.5-pro",
    "gemini-3-pro",
    "o3",
    "o4-mini",
    "grok-code-fast-1",
];

/// A counter block plus `user_initiated_interaction_count`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ca: [u64; 6],
    pub interactions: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        for (a, b) in self.ca.iter_mut().zip(o.ca) {
            *a += b;
        }
        self.interactions += o.interactions;
    }
}

/// One unit of use: every breakdown of a record groups these rows by some of their keys, so
/// each breakdown adds up to the total.
#[derive(Debug, Clone)]
pub struct Row {
    pub ide: &'static str,
    pub feature: &'static str,
    pub language: &'static str,
    pub model: &'static str,
    pub counts: Counts,
}

/// `totals_by_cli` (token counts feed `token_usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cli {
    pub sessions: u64,
    pub requests: u64,
    pub prompts: u64,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
}

impl Cli {
    fn add(&mut self, o: &Cli) {
        self.sessions += o.sessions;
        self.requests += o.requests;
        self.prompts += o.prompts;
        self.prompt_tokens += o.prompt_tokens;
        self.output_tokens += o.output_tokens;
    }
}

/// What one seat holder did on one day (only days with activity exist).
#[derive(Debug, Clone)]
pub struct UserDay {
    pub user: UserIdx,
    pub day: i64,
    pub rows: Vec<Row>,
    pub cli: Option<Cli>,
    pub used_cloud_agent: bool,
    pub review_active: bool,
    pub review_passive: bool,
    pub used_app: bool,
    /// Some `used_*` booleans are `null` in GitHub's files; this user-day writes them so.
    pub null_flags: bool,
    pub ai_credits: f64,
    pub phase: u8,
}

impl UserDay {
    pub fn uses(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.rows.iter().any(|r| pred(r.feature))
    }
    pub fn used_chat(&self) -> bool {
        self.uses(|f| f.starts_with("chat_panel_"))
    }
    pub fn used_agent(&self) -> bool {
        self.uses(|f| f == "agent_edit" || f == "chat_panel_agent_mode")
    }
    pub fn used_cli(&self) -> bool {
        self.cli.is_some()
    }
    pub fn totals(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.rows {
            c.add(&r.counts);
        }
        c
    }
}

/// Skewed pick: low indexes are common, the tail is long.
fn skewed<'a>(rng: &mut Rng, items: &'a [&'static str], power: f64) -> &'static str {
    let i = ((rng.unit().powf(power)) * items.len() as f64) as usize;
    let _: &'a [&'static str] = items;
    items[i.min(items.len() - 1)]
}

/// Probability that the user uses Copilot on that day (weekends less).
fn active_probability(seed: u64, user_id: u64, day: i64) -> f64 {
    let engagement = 0.35 + (hash(&[seed, 0xC1, user_id]) % 60) as f64 / 100.0;
    let weekday = (day + 4).rem_euclid(7); // 0 = Sunday
    if weekday == 0 || weekday == 6 {
        engagement * 0.4
    } else {
        engagement
    }
}

/// Whether [`user_day`] is `Some`, without generating the day.
pub fn is_active(seed: u64, user_id: u64, day: i64) -> bool {
    Rng::new(&[seed, 0xC2, user_id, day as u64]).chance(active_probability(seed, user_id, day))
}

/// The user's day, or `None` when they did not use Copilot that day.
pub fn user_day(seed: u64, user_id: u64, user: UserIdx, day: i64) -> Option<UserDay> {
    let mut rng = Rng::new(&[seed, 0xC2, user_id, day as u64]);
    if !rng.chance(active_probability(seed, user_id, day)) {
        return None;
    }
    let n = rng.range(3, 12) as usize;
    let home_ide = IDES[(hash(&[seed, 0xC3, user_id]) % IDES.len() as u64) as usize];
    let mut rows = Vec::with_capacity(n);
    let mut cli = None::<Cli>;
    for _ in 0..n {
        let ide = if rng.chance(0.8) {
            home_ide
        } else {
            skewed(&mut rng, IDES, 1.0)
        };
        let feature = skewed(&mut rng, FEATURES, 1.6);
        let language = skewed(&mut rng, LANGUAGES, 2.2);
        let model = skewed(&mut rng, MODELS, 1.5);
        let u = |rng: &mut Rng, lo: i64, hi: i64| rng.range(lo, hi) as u64;
        let counts = if feature == "code_completion" {
            let gen = u(&mut rng, 5, 60);
            let acc = gen * u(&mut rng, 20, 50) / 100;
            Counts {
                ca: [
                    gen,
                    acc,
                    gen * u(&mut rng, 2, 6),
                    u(&mut rng, 0, gen as i64),
                    acc * u(&mut rng, 1, 4),
                    u(&mut rng, 0, acc as i64),
                ],
                interactions: 0,
            }
        } else {
            let gen = u(&mut rng, 1, 20);
            let acc = u(&mut rng, 0, gen as i64);
            Counts {
                ca: [
                    gen,
                    acc,
                    gen * u(&mut rng, 3, 12),
                    u(&mut rng, 0, 3 * gen as i64),
                    acc * u(&mut rng, 2, 10),
                    u(&mut rng, 0, 2 * acc as i64),
                ],
                interactions: u(&mut rng, 1, 15),
            }
        };
        if feature == "copilot_cli" {
            let c = cli.get_or_insert_with(Cli::default);
            let requests = u(&mut rng, 1, 12);
            c.sessions += u(&mut rng, 1, 3);
            c.requests += requests;
            c.prompts += u(&mut rng, 1, requests as i64);
            c.prompt_tokens += requests * u(&mut rng, 300, 4000);
            c.output_tokens += requests * u(&mut rng, 100, 1500);
        }
        rows.push(Row {
            ide,
            feature,
            language,
            model,
            counts,
        });
    }
    Some(UserDay {
        user,
        day,
        rows,
        cli,
        used_cloud_agent: rng.chance(0.2),
        review_active: rng.chance(0.25),
        review_passive: rng.chance(0.35),
        used_app: rng.chance(0.1),
        null_flags: rng.chance(0.1),
        ai_credits: (rng.range(0, 4000) as f64) / 100.0,
        phase: rng.range(1, 4) as u8,
    })
}

/// Every breakdown of a set of rows.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    pub total: Counts,
    pub ide: BTreeMap<&'static str, Counts>,
    pub feature: BTreeMap<&'static str, Counts>,
    /// (language, feature)
    pub language_feature: BTreeMap<(&'static str, &'static str), Counts>,
    /// (language, model)
    pub language_model: BTreeMap<(&'static str, &'static str), Counts>,
    /// (model, feature)
    pub model_feature: BTreeMap<(&'static str, &'static str), Counts>,
}

impl Breakdown {
    pub fn add_rows(&mut self, rows: &[Row]) {
        for r in rows {
            self.total.add(&r.counts);
            self.ide.entry(r.ide).or_default().add(&r.counts);
            self.feature.entry(r.feature).or_default().add(&r.counts);
            self.language_feature
                .entry((r.language, r.feature))
                .or_default()
                .add(&r.counts);
            self.language_model
                .entry((r.language, r.model))
                .or_default()
                .add(&r.counts);
            self.model_feature
                .entry((r.model, r.feature))
                .or_default()
                .add(&r.counts);
        }
    }

    pub fn of_rows(rows: &[Row]) -> Breakdown {
        let mut b = Breakdown::default();
        b.add_rows(rows);
        b
    }

    /// `chat_panel_<mode>_mode`: the interactions of that feature.
    pub fn chat_mode(&self, mode: &str) -> u64 {
        self.feature
            .iter()
            .find(|(f, _)| {
                f.strip_prefix("chat_panel_")
                    .and_then(|m| m.strip_suffix("_mode"))
                    == Some(mode)
            })
            .map_or(0, |(_, c)| c.interactions)
    }
}

/// The `pull_requests` block of a day record; a median is `None` (`null`) when nothing merged.
#[derive(Debug, Clone)]
pub struct PullRequests {
    pub totals: Vec<(&'static str, u64)>,
    pub medians: Vec<(&'static str, Option<f64>)>,
    pub by_comment_type: Vec<(&'static str, u64, u64)>,
}

pub fn pull_requests(seed: u64, scope_id: u64, day: i64) -> PullRequests {
    let mut rng = Rng::new(&[seed, 0xC4, scope_id, day as u64]);
    let created = rng.range(4, 40) as u64;
    let reviewed = rng.range(0, created as i64 + 10) as u64;
    let merged = rng.range(0, created as i64) as u64;
    let created_by_copilot = rng.range(0, created as i64 / 3) as u64;
    let reviewed_by_copilot = if rng.chance(0.3) {
        0
    } else {
        rng.range(0, reviewed as i64) as u64
    };
    let merged_created = rng.range(0, merged.min(created_by_copilot) as i64) as u64;
    let merged_reviewed = rng.range(0, merged.min(reviewed_by_copilot) as i64) as u64;
    let suggestions = rng.range(0, 60) as u64;
    let applied = rng.range(0, suggestions as i64) as u64;
    let copilot_suggestions = rng.range(0, 40) as u64;
    let copilot_applied = rng.range(0, copilot_suggestions as i64) as u64;
    let mut median = |n: u64| (n > 0).then(|| rng.range(30, 6000) as f64 / 2.0);
    let medians = vec![
        ("median_minutes_to_merge", median(merged)),
        (
            "median_minutes_to_merge_copilot_authored",
            median(merged_created),
        ),
        (
            "median_minutes_to_merge_copilot_reviewed",
            median(merged_reviewed),
        ),
    ];
    let style = copilot_suggestions / 2;
    PullRequests {
        totals: vec![
            ("total_created", created),
            ("total_reviewed", reviewed),
            ("total_merged", merged),
            ("total_suggestions", suggestions),
            ("total_applied_suggestions", applied),
            ("total_created_by_copilot", created_by_copilot),
            ("total_reviewed_by_copilot", reviewed_by_copilot),
            ("total_merged_created_by_copilot", merged_created),
            ("total_merged_reviewed_by_copilot", merged_reviewed),
            ("total_copilot_suggestions", copilot_suggestions),
            ("total_copilot_applied_suggestions", copilot_applied),
        ],
        medians,
        by_comment_type: vec![
            ("style", style, copilot_applied.min(style)),
            (
                "bug",
                copilot_suggestions - style,
                copilot_applied - copilot_applied.min(style),
            ),
        ],
    }
}

/// A report's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Index into [`World::orgs`].
    Org(usize),
    Enterprise,
}

/// The enterprise's numeric id (`enterprise_id` in the files).
pub fn enterprise_id(seed: u64) -> u64 {
    7_000 + hash(&[seed, 0xC5]) % 1_000
}

/// Members of an org holding a Copilot seat (about 85 %), in member order; none for a
/// user-owned account (Copilot reports exist for organizations and enterprises only).
pub fn seat_holders(world: &World, org: usize) -> Vec<UserIdx> {
    let o = &world.orgs[org];
    if o.kind == crate::world::OwnerKind::User {
        return Vec::new();
    }
    o.members
        .iter()
        .copied()
        .filter(|u| hash(&[world.seed, 0xC6, o.id, world.user(*u).id]) % 100 < 85)
        .collect()
}

/// The users a scope's reports count: an org's seat holders, or every seat holder of any org
/// once (first seen in org order).
pub fn scope_users(world: &World, scope: Scope) -> Vec<UserIdx> {
    match scope {
        Scope::Org(o) => seat_holders(world, o),
        Scope::Enterprise => {
            let mut seen = std::collections::HashSet::new();
            (0..world.orgs.len())
                .flat_map(|o| seat_holders(world, o))
                .filter(|u| seen.insert(*u))
                .collect()
        }
    }
}

/// The id written as `organization_id` / used to seed the scope's own data.
pub fn scope_id(world: &World, scope: Scope) -> u64 {
    match scope {
        Scope::Org(o) => world.orgs[o].id,
        Scope::Enterprise => enterprise_id(world.seed),
    }
}

/// A day record of a scope (what `organization-1-day` holds, and each `day_totals` entry).
#[derive(Debug, Clone)]
pub struct DayRecord {
    pub day: i64,
    pub breakdown: Breakdown,
    /// `None` when nobody used the CLI that day (the field is absent).
    pub cli: Option<Cli>,
    /// Active-user fields in report order.
    pub active: Vec<(&'static str, u64)>,
    pub pull_requests: PullRequests,
}

/// Every seat holder's days over `[first, last]`, computed once.
#[derive(Debug)]
pub struct Activity {
    pub first: i64,
    pub last: i64,
    pub users: Vec<UserIdx>,
    /// `[user][day - first]`
    days: Vec<Vec<Option<UserDay>>>,
}

impl Activity {
    pub fn new(world: &World, users: Vec<UserIdx>, first: i64, last: i64) -> Activity {
        let days = users
            .iter()
            .map(|u| {
                let id = world.user(*u).id;
                (first..=last)
                    .map(|d| user_day(world.seed, id, *u, d))
                    .collect()
            })
            .collect();
        Activity {
            first,
            last,
            users,
            days,
        }
    }

    /// What a day record needs: `[day − 27, day]`.
    pub fn for_scope(world: &World, scope: Scope, from_day: i64, to_day: i64) -> Activity {
        Activity::new(world, scope_users(world, scope), from_day - 27, to_day)
    }

    fn get(&self, ui: usize, day: i64) -> Option<&UserDay> {
        if day < self.first || day > self.last {
            return None;
        }
        self.days[ui][(day - self.first) as usize].as_ref()
    }

    /// Users with some activity matching `pred` within `[day − span + 1, day]`.
    fn count(&self, day: i64, span: i64, pred: impl Fn(&UserDay) -> bool) -> u64 {
        (0..self.users.len())
            .filter(|ui| ((day - span + 1)..=day).any(|d| self.get(*ui, d).is_some_and(&pred)))
            .count() as u64
    }

    /// User rows of `[from, to]` in file order: by day, then in seat-holder order.
    pub fn user_rows(&self, from: i64, to: i64) -> Vec<&UserDay> {
        (from.max(self.first)..=to.min(self.last))
            .flat_map(|d| (0..self.users.len()).filter_map(move |ui| self.get(ui, d)))
            .collect()
    }

    /// The scope's day record for `day` (needs `first <= day − 27`).
    pub fn day_record(&self, seed: u64, scope_id: u64, day: i64) -> DayRecord {
        let mut breakdown = Breakdown::default();
        let mut cli = None::<Cli>;
        for ui in 0..self.users.len() {
            if let Some(ud) = self.get(ui, day) {
                breakdown.add_rows(&ud.rows);
                if let Some(c) = &ud.cli {
                    cli.get_or_insert_with(Cli::default).add(c);
                }
            }
        }
        let any = |_: &UserDay| true;
        let active = vec![
            ("daily_active_users", self.count(day, 1, any)),
            ("weekly_active_users", self.count(day, 7, any)),
            ("monthly_active_users", self.count(day, 28, any)),
            (
                "monthly_active_chat_users",
                self.count(day, 28, UserDay::used_chat),
            ),
            (
                "monthly_active_agent_users",
                self.count(day, 28, UserDay::used_agent),
            ),
            (
                "daily_active_cli_users",
                self.count(day, 1, UserDay::used_cli),
            ),
            (
                "daily_active_copilot_cloud_agent_users",
                self.count(day, 1, |u| u.used_cloud_agent),
            ),
            (
                "weekly_active_copilot_cloud_agent_users",
                self.count(day, 7, |u| u.used_cloud_agent),
            ),
            (
                "monthly_active_copilot_cloud_agent_users",
                self.count(day, 28, |u| u.used_cloud_agent),
            ),
            (
                "daily_active_copilot_code_review_users",
                self.count(day, 1, |u| u.review_active),
            ),
            (
                "weekly_active_copilot_code_review_users",
                self.count(day, 7, |u| u.review_active),
            ),
            (
                "monthly_active_copilot_code_review_users",
                self.count(day, 28, |u| u.review_active),
            ),
            (
                "daily_passive_copilot_code_review_users",
                self.count(day, 1, |u| u.review_passive),
            ),
            (
                "weekly_passive_copilot_code_review_users",
                self.count(day, 7, |u| u.review_passive),
            ),
            (
                "monthly_passive_copilot_code_review_users",
                self.count(day, 28, |u| u.review_passive),
            ),
            (
                "daily_active_copilot_app_users",
                self.count(day, 1, |u| u.used_app),
            ),
        ];
        DayRecord {
            day,
            breakdown,
            cli,
            active,
            pull_requests: pull_requests(seed, scope_id, day),
        }
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn day_str(day: i64) -> String {
    iso(day * DAY)[..10].to_string()
}

/// Parses a strict `YYYY-MM-DD` into a day number.
pub fn parse_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let secs = crate::timefmt::parse_iso(s)?;
    Some((secs as i64).div_euclid(DAY))
}

/// The day number of an instant.
pub fn day_of(at: f64) -> i64 {
    (at.floor() as i64).div_euclid(DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every breakdown of a record adds up to its total, and user days are reproducible.
    #[test]
    fn breakdowns_add_up_and_days_repeat() {
        let mut rows = Vec::new();
        for d in 0..40 {
            if let Some(u) = user_day(7, 1234, 0, 20_000 + d) {
                assert_eq!(
                    user_day(7, 1234, 0, 20_000 + d).map(|x| x.totals()),
                    Some(u.totals())
                );
                rows.extend(u.rows);
            }
        }
        for d in 0..40 {
            assert_eq!(
                is_active(7, 1234, 20_000 + d),
                user_day(7, 1234, 0, 20_000 + d).is_some()
            );
        }
        let b = Breakdown::of_rows(&rows);
        let sum = |it: &mut dyn Iterator<Item = &Counts>| {
            let mut c = Counts::default();
            it.for_each(|x| c.add(x));
            c
        };
        assert_eq!(sum(&mut b.ide.values()), b.total);
        assert_eq!(sum(&mut b.feature.values()), b.total);
        assert_eq!(sum(&mut b.language_feature.values()), b.total);
        assert_eq!(sum(&mut b.language_model.values()), b.total);
        assert_eq!(sum(&mut b.model_feature.values()), b.total);
        assert!(b.total.ca[0] > 0);
    }

    #[test]
    fn days_parse_strictly() {
        assert_eq!(parse_day("2023-11-14"), Some(19_675));
        assert_eq!(day_str(19_675), "2023-11-14");
        assert_eq!(parse_day("2023-11-14T00:00:00Z"), None);
        assert_eq!(parse_day("2023-1-14"), None);
        assert_eq!(parse_day("yesterday"), None);
    }
}
