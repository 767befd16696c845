//! The state of one repository at one instant: which commits, pull requests, reviews, issues and
//! comments exist and what they look like then. Built from [`crate::activity`] buckets; an event
//! at second `t` is visible at instant `at` iff `t <= at`. For a commit that event is its push
//! (`Commit::pushed_at`), not its committer date: a commit pushed late is absent until then, and
//! then listed in committer-date order among the others.
//!
//! A snapshot also knows the interval `[valid_from, valid_until)` over which it stays exact (no
//! event happens inside it), so the server can reuse it, and its rendered pages, for every request
//! in that interval.

use crate::activity::{self, Comment, Commit, Issue, Outcome, Pull, Review, MAX_LIFECYCLE};
use crate::timefmt::{week_start, HOUR, WEEK};
use crate::world::{Profile, UserIdx, World};

#[derive(Debug, Clone)]
pub struct PullView {
    pub pull: Pull,
    pub merged_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub updated_at: i64,
}

impl PullView {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct IssueView {
    pub issue: Issue,
    pub closed_at: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct CommentView {
    pub comment: Comment,
    pub updated_at: i64,
}

#[derive(Debug)]
pub struct RepoSnapshot {
    pub repo: usize,
    pub at: f64,
    pub valid_from: f64,
    pub valid_until: f64,
    /// Default-branch commits pushed by `at`, newest committer date first (the order of
    /// `GET …/commits`; a commit's parent is the next one in this order).
    pub commits: Vec<Commit>,
    /// Pull requests by number, ascending.
    pub pulls: Vec<PullView>,
    pub issues: Vec<IssueView>,
    /// Issue and pull-request conversation comments, by (created_at, id).
    pub comments: Vec<CommentView>,
    /// The latest push visible at `at`: a default-branch commit's push or a pull request's
    /// head-branch push (`created_at`).
    pub pushed_at: i64,
    pub updated_at: i64,
    pub open_issues: u64,
    /// First second of the kept history.
    pub horizon_start: i64,
}

impl RepoSnapshot {
    pub fn is_empty_repo(&self) -> bool {
        self.commits.is_empty()
    }

    /// Indexes into `commits` (newest committer date first) of the history from `start` (0 =
    /// the head of the default branch) with the committer date in `[since, until]`, both bounds
    /// inclusive and optional. REST `GET …/commits?sha=&since=&until=` and GraphQL
    /// `Commit.history(since:, until:)` both list exactly these.
    pub fn commits_between(
        &self,
        start: usize,
        since: Option<f64>,
        until: Option<f64>,
    ) -> Vec<usize> {
        (start..self.commits.len())
            .filter(|i| {
                let t = self.commits[*i].committer_date as f64;
                since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
            })
            .collect()
    }

    pub fn commit_by_sha(&self, sha: &str) -> Option<&Commit> {
        self.commits
            .iter()
            .find(|c| c.sha == sha || (sha.len() >= 7 && c.sha.starts_with(sha)))
    }
}

/// Tracks the latest visible and earliest future event time while building.
struct Validity {
    at: f64,
    from: f64,
    until: f64,
}

impl Validity {
    fn see(&mut self, t: i64) -> bool {
        let tf = t as f64;
        if tf <= self.at {
            self.from = self.from.max(tf);
            true
        } else {
            self.until = self.until.min(tf);
            false
        }
    }
}

/// First second of the history kept at `at`: whole weeks before the current week.
pub fn horizon_start(at: f64, history_weeks: u32) -> i64 {
    week_start(at.floor() as i64) - i64::from(history_weeks.max(2)) * WEEK
}

/// Builds the snapshot of repository `gid` at `at`.
pub fn build(world: &World, gid: usize, at: f64, history_weeks: u32) -> RepoSnapshot {
    let repo = &world.repos[gid];
    let at_sec = at.floor() as i64;
    let horizon = horizon_start(at, history_weeks);
    let last_bucket = at_sec.div_euclid(HOUR);
    let mut v = Validity {
        at,
        from: horizon as f64,
        until: ((last_bucket + 1) * HOUR).min(week_start(at_sec) + WEEK) as f64,
    };
    let mut commits = Vec::new();
    let mut pulls = Vec::new();
    let mut issues = Vec::new();
    let mut comments = Vec::new();
    let mut pushed_at = repo.created_at;
    let mut open_issues = 0u64;

    for bucket in horizon.div_euclid(HOUR)..=last_bucket {
        let b = activity::generate_bucket(world, repo, bucket);
        for c in b.commits {
            if v.see(c.pushed_at) {
                pushed_at = pushed_at.max(c.pushed_at);
                commits.push(c);
            }
        }
        for mut p in b.pulls {
            if !v.see(p.created_at) {
                continue;
            }
            pushed_at = pushed_at.max(p.created_at);
            let mut updated_at = p.created_at;
            let (mut merged_at, mut closed_at) = (None, None);
            match p.outcome {
                Outcome::Merged(t) if v.see(t) => {
                    merged_at = Some(t);
                    closed_at = Some(t);
                    updated_at = updated_at.max(t);
                    if let Some(mc) = p.merge_commit.take() {
                        pushed_at = pushed_at.max(mc.pushed_at);
                        commits.push(mc);
                    }
                }
                Outcome::Closed(t) if v.see(t) => {
                    closed_at = Some(t);
                    updated_at = updated_at.max(t);
                }
                _ => {}
            }
            p.reviews.retain(|r: &Review| v.see(r.visible_from));
            for r in &p.reviews {
                if let Some(s) = r.submitted_at {
                    updated_at = updated_at.max(s);
                }
            }
            for c in std::mem::take(&mut p.comments) {
                if let Some(cv) = comment_view(&mut v, c) {
                    updated_at = updated_at.max(cv.updated_at);
                    comments.push(cv);
                }
            }
            if closed_at.is_none() {
                open_issues += 1;
            }
            pulls.push(PullView {
                pull: p,
                merged_at,
                closed_at,
                updated_at,
            });
        }
        for mut i in b.issues {
            if !v.see(i.created_at) {
                continue;
            }
            let mut updated_at = i.created_at;
            let closed_at = i.closed_at.filter(|t| v.see(*t));
            if let Some(t) = closed_at {
                updated_at = updated_at.max(t);
            } else {
                open_issues += 1;
            }
            for c in std::mem::take(&mut i.comments) {
                if let Some(cv) = comment_view(&mut v, c) {
                    updated_at = updated_at.max(cv.updated_at);
                    comments.push(cv);
                }
            }
            issues.push(IssueView {
                issue: i,
                closed_at,
                updated_at,
            });
        }
    }
    if repo.profile != Profile::Empty {
        commits.push(activity::root_commit(world, repo));
    }
    commits.sort_by(|a, b| {
        b.committer_date
            .cmp(&a.committer_date)
            .then_with(|| b.sha.cmp(&a.sha))
    });
    pulls.sort_by_key(|p| p.pull.number);
    issues.sort_by_key(|i| i.issue.number);
    comments.sort_by_key(|c| (c.comment.created_at, c.comment.id));
    let settings = if (repo.settings_updated_at as f64) <= at {
        repo.settings_updated_at
    } else {
        repo.created_at
    };
    let updated_at = pushed_at.max(settings);
    const {
        assert!(
            MAX_LIFECYCLE < WEEK * 2,
            "two history weeks must cover every lifecycle"
        )
    };
    RepoSnapshot {
        repo: gid,
        at,
        valid_from: v.from,
        valid_until: v.until,
        commits,
        pulls,
        issues,
        comments,
        pushed_at,
        updated_at,
        open_issues,
        horizon_start: horizon,
    }
}

fn comment_view(v: &mut Validity, c: Comment) -> Option<CommentView> {
    if !v.see(c.created_at) {
        return None;
    }
    let updated_at = match c.edited_at {
        Some(e) if v.see(e) => e,
        _ => c.created_at,
    };
    Some(CommentView {
        comment: c,
        updated_at,
    })
}

/// One contributor's row of `stats/contributors`: week start → (additions, deletions, commits).
#[derive(Debug, Clone)]
pub struct ContributorWeeks {
    pub user: UserIdx,
    pub weeks: Vec<(i64, u64, u64, u64)>,
}

/// What `stats/contributors` reports for a snapshot: every linked commit author (`author.login`)
/// with every week from the horizon's week to the current one, in ascending order of total
/// commits. Large repositories report zero additions and deletions.
pub fn contributor_stats(world: &World, snap: &RepoSnapshot) -> Vec<ContributorWeeks> {
    let repo = &world.repos[snap.repo];
    let first_week = snap.horizon_start;
    let last_week = week_start(snap.at.floor() as i64);
    let n_weeks = ((last_week - first_week) / WEEK + 1).max(1) as usize;
    let mut rows: Vec<ContributorWeeks> = Vec::new();
    for c in &snap.commits {
        let Some(user) = c.author_login else { continue };
        if c.author_date < first_week {
            continue;
        }
        let idx = ((week_start(c.author_date) - first_week) / WEEK) as usize;
        if idx >= n_weeks {
            continue;
        }
        let row = match rows.iter_mut().position(|r| r.user == user) {
            Some(p) => &mut rows[p],
            None => {
                rows.push(ContributorWeeks {
                    user,
                    weeks: (0..n_weeks)
                        .map(|i| (first_week + i as i64 * WEEK, 0, 0, 0))
                        .collect(),
                });
                rows.last_mut().expect("just pushed")
            }
        };
        let w = &mut row.weeks[idx];
        if !repo.large {
            w.1 += u64::from(c.additions);
            w.2 += u64::from(c.deletions);
        }
        w.3 += 1;
    }
    let total = |r: &ContributorWeeks| r.weeks.iter().map(|w| w.3).sum::<u64>();
    rows.sort_by(|a, b| {
        total(a)
            .cmp(&total(b))
            .then_with(|| world.user(a.user).login.cmp(&world.user(b.user).login))
    });
    // GitHub reports the top 100 contributors only.
    if rows.len() > 100 {
        rows.drain(..rows.len() - 100);
    }
    rows
}
