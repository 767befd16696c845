//! The exact expected value of every `gh_activity_*` series at an instant, computed
//! from the same snapshots the API serves. Semantics are documented in the crate docs
//! ("Truth semantics") and in README.md; keep the three in step.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::identity::{resolve_commit_user, CommitPeople};
use crate::snapshot::{self, RepoSnapshot};
use crate::timefmt::{week_start, DAY, WEEK};
use crate::world::World;

pub const COMMITS: &str = "gh_activity_commits_24h";
pub const PRS_OPENED: &str = "gh_activity_prs_opened_24h";
pub const PRS_MERGED: &str = "gh_activity_prs_merged_24h";
pub const REVIEWS: &str = "gh_activity_reviews_submitted_24h";
pub const ISSUE_COMMENTS: &str = "gh_activity_issue_comments_24h";
pub const LOC_ADDED: &str = "gh_activity_loc_added_weekly";
pub const LOC_REMOVED: &str = "gh_activity_loc_removed_weekly";
pub const LAST_EVENT: &str = "gh_activity_last_event_unixtime";

/// One expected series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Series {
    pub metric: &'static str,
    pub org: String,
    pub repo: String,
    pub user: String,
    pub value: u64,
}

/// The body of `GET /_fake/truth`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    pub now: f64,
    /// Sorted by (metric, org, repo, user).
    pub series: Vec<Series>,
}

/// The truth at `at` for the given world, building every repository's snapshot.
pub fn compute(world: &World, at: f64, history_weeks: u32) -> Truth {
    let snaps: Vec<RepoSnapshot> = (0..world.repos.len())
        .map(|gid| snapshot::build(world, gid, at, history_weeks))
        .collect();
    compute_from(world, at, snaps.iter())
}

/// The truth at `at` from snapshots taken at `at` (one per repository).
pub fn compute_from<'a>(
    world: &World,
    at: f64,
    snaps: impl Iterator<Item = &'a RepoSnapshot>,
) -> Truth {
    let mut series = Vec::new();
    for snap in snaps {
        repo_series(world, snap, at, &mut series);
    }
    series.sort();
    Truth { now: at, series }
}

/// Whether an event at second `t` is inside the window `[at − 24 h, at]`.
pub fn in_window(t: i64, at: f64) -> bool {
    let t = t as f64;
    at - DAY as f64 <= t && t <= at
}

fn repo_series(world: &World, snap: &RepoSnapshot, at: f64, out: &mut Vec<Series>) {
    let repo = &world.repos[snap.repo];
    let org = &world.orgs[repo.org].login;
    // user → [commits, opened, merged, reviews, comments, last event]
    let mut per_user: BTreeMap<String, [u64; 6]> = BTreeMap::new();
    let mut count = |user: String, slot: usize, t: i64| {
        let e = per_user.entry(user).or_insert([0; 6]);
        e[slot] += 1;
        e[5] = e[5].max(t as u64);
    };
    for c in &snap.commits {
        if !in_window(c.author_date, at) {
            continue;
        }
        let login = |u: Option<u32>| u.map(|i| world.user(i).login.as_str());
        let people = CommitPeople {
            author_login: login(c.author_login),
            committer_login: login(c.committer_login),
            author_name: &c.author.name,
            author_email: &c.author.email,
            committer_name: &c.committer.name,
            committer_email: &c.committer.email,
        };
        count(resolve_commit_user(&people), 0, c.author_date);
    }
    for pv in &snap.pulls {
        let author = &world.user(pv.pull.author).login;
        if in_window(pv.pull.created_at, at) {
            count(author.clone(), 1, pv.pull.created_at);
        }
        if let Some(m) = pv.merged_at.filter(|m| in_window(*m, at)) {
            count(author.clone(), 2, m);
        }
        for r in &pv.pull.reviews {
            if let Some(s) = r.submitted_at.filter(|s| in_window(*s, at)) {
                count(world.user(r.user).login.clone(), 3, s);
            }
        }
    }
    for cv in &snap.comments {
        if in_window(cv.comment.created_at, at) {
            count(
                world.user(cv.comment.user).login.clone(),
                4,
                cv.comment.created_at,
            );
        }
    }
    const METRICS: [&str; 5] = [COMMITS, PRS_OPENED, PRS_MERGED, REVIEWS, ISSUE_COMMENTS];
    for (user, values) in per_user {
        for (slot, metric) in METRICS.iter().enumerate() {
            if values[slot] > 0 {
                out.push(series(metric, org, &repo.name, &user, values[slot]));
            }
        }
        out.push(series(LAST_EVENT, org, &repo.name, &user, values[5]));
    }
    loc_series(world, snap, at, out);
}

/// LOC of each `stats/contributors` contributor in the latest complete week `[w, w + 7 d)` with
/// `w + 7 d <= at`. For large repositories (whose stats report zeros) the additions and deletions
/// are the commit-detail `stats` summed over the same commits: default-branch commits visible at
/// `at`, `author.login` = the contributor, author date inside that week.
fn loc_series(world: &World, snap: &RepoSnapshot, at: f64, out: &mut Vec<Series>) {
    if snap.is_empty_repo() {
        return;
    }
    let repo = &world.repos[snap.repo];
    let org = &world.orgs[repo.org].login;
    let week = week_start(at.floor() as i64) - WEEK;
    for row in snapshot::contributor_stats(world, snap) {
        let login = &world.user(row.user).login;
        let (mut added, mut removed) = (0u64, 0u64);
        for c in &snap.commits {
            if c.author_login == Some(row.user)
                && c.author_date >= week
                && c.author_date < week + WEEK
            {
                added += u64::from(c.additions);
                removed += u64::from(c.deletions);
            }
        }
        out.push(series(LOC_ADDED, org, &repo.name, login, added));
        out.push(series(LOC_REMOVED, org, &repo.name, login, removed));
    }
}

fn series(metric: &'static str, org: &str, repo: &str, user: &str, value: u64) -> Series {
    Series {
        metric,
        org: org.to_string(),
        repo: repo.to_string(),
        user: user.to_string(),
        value,
    }
}
