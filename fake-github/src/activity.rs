//! Activity over time, generated lazily per (repository, hour bucket) from a hash of the seed.
//!
//! A bucket holds everything that *originates* in that hour: direct pushes to the default branch,
//! pull requests opened (with their whole future: reviews, conversation comments, merge or close)
//! and issues opened (with their comments). Lifecycle events may fall hours or days after the
//! bucket (a direct commit's push included: [`crate::push`]); what is visible at an instant is
//! decided by [`crate::snapshot`]. Because a bucket is a pure function of (seed, repository,
//! hour), any instant can be reproduced and nothing has to be kept in memory between requests.

use crate::hash::Rng;
use crate::timefmt::{DAY, HOUR};
use crate::world::{Profile, Repo, UserIdx, World};

/// Hours are numbered from this base in PR/issue numbers, keeping numbers positive and stable.
const NUMBER_BASE_HOUR: i64 = 1_500_000_000 / HOUR;
/// Number slots per hour: 0..4 for pull requests, 4..8 for issues.
const SLOTS_PER_HOUR: i64 = 8;
const MAX_PULLS_PER_HOUR: u32 = 4;
const MAX_ISSUES_PER_HOUR: u32 = 4;
/// Lifecycle events happen at most this long after their origin; the snapshot relies on it.
pub const MAX_LIFECYCLE: i64 = 7 * DAY + HOUR;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitIdent {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: String,
    pub message: String,
    pub author: GitIdent,
    pub committer: GitIdent,
    /// The GitHub account linked to the author email (`author` in the REST payload), if any.
    pub author_login: Option<UserIdx>,
    pub committer_login: Option<UserIdx>,
    pub author_date: i64,
    /// What `since`/`until` filter on; `>= author_date`.
    pub committer_date: i64,
    /// When the commit reaches the default branch and becomes visible (`>= committer_date`):
    /// usually within two minutes of `committer_date`, for some direct commits hours later
    /// ([`crate::push`]); merge and root commits at their committer date.
    pub pushed_at: i64,
    pub additions: u32,
    pub deletions: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
    Dismissed,
    Pending,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Approved => "APPROVED",
            ReviewState::ChangesRequested => "CHANGES_REQUESTED",
            ReviewState::Commented => "COMMENTED",
            ReviewState::Dismissed => "DISMISSED",
            ReviewState::Pending => "PENDING",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Review {
    pub id: u64,
    pub user: UserIdx,
    pub state: ReviewState,
    /// `None` for pending reviews, which are never submitted.
    pub submitted_at: Option<i64>,
    /// When the review object starts to exist (its submission, or the start of a pending review).
    pub visible_from: i64,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub user: UserIdx,
    pub issue_number: u64,
    pub is_pull: bool,
    pub created_at: i64,
    /// An edit time (≥ `created_at`); the edit becomes visible once it has happened.
    pub edited_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Merged(i64),
    Closed(i64),
}

#[derive(Debug, Clone)]
pub struct Pull {
    pub number: u64,
    pub id: u64,
    pub author: UserIdx,
    pub title: String,
    pub created_at: i64,
    pub outcome: Outcome,
    pub reviews: Vec<Review>,
    pub comments: Vec<Comment>,
    pub head_sha: String,
    pub head_ref: String,
    /// The squash commit put on the default branch at `merged_at`.
    pub merge_commit: Option<Commit>,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub id: u64,
    pub author: UserIdx,
    pub title: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, Default)]
pub struct Bucket {
    pub commits: Vec<Commit>,
    pub pulls: Vec<Pull>,
    pub issues: Vec<Issue>,
}

/// Hourly rates (commits, pull requests, issues) of a profile.
fn rates(repo: &Repo) -> (f64, f64, f64) {
    match repo.profile {
        Profile::Busy => (1.6, 0.35, 0.25),
        Profile::Medium if repo.large => (0.8, 0.1, 0.05),
        Profile::Medium => (0.25, 0.07, 0.06),
        Profile::Quiet => (0.03, 0.012, 0.015),
        Profile::Chatty => (0.0, 0.03, 0.2),
        Profile::Dormant => (0.0, 0.0, 0.0),
        Profile::Empty => (0.0, 0.0, 0.04),
    }
}

#[derive(Debug, Clone, Copy)]
enum IdKind {
    Pull = 1,
    Issue = 2,
    Review = 3,
    Comment = 4,
}

/// GitHub-like numeric ids below 2^53 (JSON-safe), unique per kind, repository, hour and sequence.
fn make_id(kind: IdKind, repo: &Repo, bucket: i64, seq: u64) -> u64 {
    ((kind as u64) << 50)
        | (((repo.gid as u64) & 0x3FFF) << 36)
        | (((bucket as u64) & 0x0FFF_FFFF) << 8)
        | (seq & 0xFF)
}

fn bucket_rng(world: &World, repo: &Repo, bucket: i64) -> Rng {
    Rng::new(&[world.seed, 100, repo.gid as u64, bucket as u64])
}

/// The number of direct commits: the first draw of a bucket's stream.
fn draw_commit_count(rng: &mut Rng, repo: &Repo) -> u32 {
    rng.poisson(rates(repo).0).min(40)
}

/// How many direct commits bucket `bucket` of `repo` holds, without generating it.
pub fn commit_count(world: &World, repo: &Repo, bucket: i64) -> u32 {
    if repo.contributors.is_empty() {
        return 0;
    }
    draw_commit_count(&mut bucket_rng(world, repo, bucket), repo)
}

/// Generates the bucket `bucket` (hours since the Unix epoch) of `repo`.
pub fn generate_bucket(world: &World, repo: &Repo, bucket: i64) -> Bucket {
    let mut rng = bucket_rng(world, repo, bucket);
    let (_, pull_rate, issue_rate) = rates(repo);
    let start = bucket * HOUR;
    let mut out = Bucket::default();
    if repo.contributors.is_empty() {
        return out;
    }

    let n_commits = draw_commit_count(&mut rng, repo);
    for i in 0..n_commits {
        let author_date = start + rng.range(0, HOUR - 1);
        // Most commits are committed with their author date; some are amended or rebased hours
        // later. When each is pushed is decided apart ([`crate::push`]).
        let committer_date = if rng.chance(0.15) {
            author_date + rng.range(60, 8 * HOUR)
        } else {
            author_date + rng.range(0, 120)
        };
        let user = *rng
            .pick(&repo.contributors)
            .unwrap_or(&repo.contributors[0]);
        let mut c = direct_commit(world, repo, &mut rng, user, author_date, committer_date);
        c.message = format!("{} #{}", pick_message(&mut rng), i + 1);
        out.commits.push(c);
    }
    // Push times come from their own stream ([`crate::push`]), leaving this one unchanged.
    for (c, delay) in out
        .commits
        .iter_mut()
        .zip(crate::push::delays(world, repo, bucket))
    {
        c.pushed_at = c.committer_date + delay;
    }

    let n_pulls = rng.poisson(pull_rate).min(MAX_PULLS_PER_HOUR);
    let mut seq = 0u64;
    for slot in 0..n_pulls {
        let number = ((bucket - NUMBER_BASE_HOUR) * SLOTS_PER_HOUR + i64::from(slot) + 1) as u64;
        let pull = generate_pull(world, repo, &mut rng, bucket, number, &mut seq);
        out.pulls.push(pull);
    }
    let n_issues = rng.poisson(issue_rate).min(MAX_ISSUES_PER_HOUR);
    for slot in 0..n_issues {
        let number =
            ((bucket - NUMBER_BASE_HOUR) * SLOTS_PER_HOUR + 4 + i64::from(slot) + 1) as u64;
        let author = *rng
            .pick(&repo.contributors)
            .unwrap_or(&repo.contributors[0]);
        let created_at = start + rng.range(0, HOUR - 1);
        let closed_at = rng
            .chance(0.4)
            .then(|| created_at + rng.range(HOUR, 5 * DAY));
        let n_comments = rng.poisson(1.5).min(8);
        let comments = generate_comments(
            repo,
            &mut rng,
            bucket,
            &mut seq,
            number,
            false,
            created_at,
            n_comments,
            7 * DAY,
        );
        out.issues.push(Issue {
            number,
            id: make_id(IdKind::Issue, repo, bucket, u64::from(slot)),
            author,
            title: format!("{} ({})", pick_issue_title(&mut rng), number),
            created_at,
            closed_at,
            comments,
        });
    }
    out
}

fn generate_pull(
    world: &World,
    repo: &Repo,
    rng: &mut Rng,
    bucket: i64,
    number: u64,
    seq: &mut u64,
) -> Pull {
    let start = bucket * HOUR;
    let has_dependabot = repo.contributors.contains(&world.dependabot);
    let author = if has_dependabot && rng.chance(0.2) {
        world.dependabot
    } else {
        *rng.pick(&repo.contributors)
            .unwrap_or(&repo.contributors[0])
    };
    let created_at = start + rng.range(0, HOUR - 1);
    let outcome = {
        let u = rng.unit();
        if u < 0.6 && repo.profile != Profile::Chatty {
            Outcome::Merged(created_at + rng.range(600, 36 * HOUR))
        } else if u < 0.75 {
            Outcome::Closed(created_at + rng.range(600, 72 * HOUR))
        } else {
            Outcome::Open
        }
    };
    let reviewers: Vec<UserIdx> = repo
        .contributors
        .iter()
        .copied()
        .filter(|u| *u != author && world.user(*u).kind == crate::world::UserKind::User)
        .collect();
    let mut reviews = Vec::new();
    if !reviewers.is_empty() {
        let n = if rng.chance(0.25) { 0 } else { rng.range(1, 4) };
        let mut times: Vec<i64> = (0..n)
            .map(|_| created_at + rng.range(300, 30 * HOUR))
            .collect();
        times.sort_unstable();
        for t in times {
            let state = match rng.unit() {
                u if u < 0.4 => ReviewState::Approved,
                u if u < 0.7 => ReviewState::Commented,
                u if u < 0.9 => ReviewState::ChangesRequested,
                _ => ReviewState::Dismissed,
            };
            let user = *rng.pick(&reviewers).unwrap_or(&reviewers[0]);
            reviews.push(Review {
                id: make_id(IdKind::Review, repo, bucket, next(seq)),
                user,
                state,
                submitted_at: Some(t),
                visible_from: t,
            });
        }
        if rng.chance(0.12) {
            let user = *rng.pick(&reviewers).unwrap_or(&reviewers[0]);
            let t = created_at + rng.range(60, 20 * HOUR);
            reviews.push(Review {
                id: make_id(IdKind::Review, repo, bucket, next(seq)),
                user,
                state: ReviewState::Pending,
                submitted_at: None,
                visible_from: t,
            });
        }
    }
    let n_comments = rng.poisson(1.2).min(6);
    let comments = generate_comments(
        repo,
        rng,
        bucket,
        seq,
        number,
        true,
        created_at,
        n_comments,
        72 * HOUR,
    );
    let merge_commit = match outcome {
        Outcome::Merged(at) => {
            let u = world.user(author);
            let mut c = Commit {
                sha: rng.sha(),
                message: format!("Merge pull request #{number}"),
                author: GitIdent {
                    name: u.name.clone(),
                    email: u.noreply_email(),
                },
                committer: GitIdent {
                    name: "GitHub".into(),
                    email: "noreply@github.com".into(),
                },
                author_login: Some(author),
                committer_login: Some(world.web_flow),
                author_date: at,
                committer_date: at,
                pushed_at: at,
                additions: 0,
                deletions: 0,
            };
            set_size(rng, &mut c);
            Some(c)
        }
        _ => None,
    };
    Pull {
        number,
        id: make_id(IdKind::Pull, repo, bucket, number % 8),
        author,
        title: format!("{} ({number})", pick_message(rng)),
        created_at,
        outcome,
        reviews,
        comments,
        head_sha: rng.sha(),
        head_ref: format!("feature/{number}"),
        merge_commit,
    }
}

#[allow(clippy::too_many_arguments)] // A private helper shared by issues and pulls; a struct would only rename the list.
fn generate_comments(
    repo: &Repo,
    rng: &mut Rng,
    bucket: i64,
    seq: &mut u64,
    issue_number: u64,
    is_pull: bool,
    created_at: i64,
    n: u32,
    spread: i64,
) -> Vec<Comment> {
    let mut times: Vec<i64> = (0..n)
        .map(|_| created_at + rng.range(120, spread))
        .collect();
    times.sort_unstable();
    times
        .into_iter()
        .map(|t| Comment {
            id: make_id(IdKind::Comment, repo, bucket, next(seq)),
            user: *rng
                .pick(&repo.contributors)
                .unwrap_or(&repo.contributors[0]),
            issue_number,
            is_pull,
            created_at: t,
            edited_at: rng.chance(0.2).then(|| t + rng.range(60, 3 * HOUR)),
        })
        .collect()
}

fn next(seq: &mut u64) -> u64 {
    *seq += 1;
    *seq
}

/// A direct push by `user`, with the spread of author identities seen on GitHub: linked accounts,
/// committer-only links, noreply emails, plain emails, name-only and anonymous commits.
fn direct_commit(
    world: &World,
    repo: &Repo,
    rng: &mut Rng,
    user: UserIdx,
    author_date: i64,
    committer_date: i64,
) -> Commit {
    let u = world.user(user);
    let org = &world.orgs[repo.org].login;
    let plain = format!("{}@{org}.example", u.plain_email_local);
    let ident = |name: &str, email: String| GitIdent {
        name: name.to_string(),
        email,
    };
    let (author, committer, author_login, committer_login) = match rng.unit() {
        // Linked account.
        x if x < 0.70 => (
            ident(&u.name, u.noreply_email()),
            ident(&u.name, u.noreply_email()),
            Some(user),
            Some(user),
        ),
        // Unknown author email, but the committer is linked (e.g. a rebase done on GitHub).
        x if x < 0.75 => (
            ident(&u.name, plain.clone()),
            ident(&u.name, u.noreply_email()),
            None,
            Some(user),
        ),
        // Noreply email with ID+login, account not linked in the payload.
        x if x < 0.80 => (
            ident(&u.name, u.noreply_email()),
            ident(&u.name, plain.clone()),
            None,
            None,
        ),
        // Old-style noreply email without the ID.
        x if x < 0.83 => {
            let e = format!("{}@users.noreply.github.com", u.login);
            (ident(&u.name, e.clone()), ident(&u.name, e), None, None)
        }
        // Plain author email, noreply committer email: the committer noreply wins over step 4.
        x if x < 0.86 => (
            ident(&u.name, plain.clone()),
            ident(&u.name, u.noreply_email()),
            None,
            None,
        ),
        // Plain emails only: normalised local part.
        x if x < 0.92 => (
            ident(&u.name, plain.clone()),
            ident(&u.name, plain.clone()),
            None,
            None,
        ),
        // An odd local part that normalises with runs replaced and dashes trimmed.
        x if x < 0.94 => {
            let e = format!(
                "--{}!!Dev--@build.example",
                u.plain_email_local.replace('.', "  ")
            );
            (ident(&u.name, e.clone()), ident(&u.name, e), None, None)
        }
        // Local part that normalises to nothing; the committer email decides.
        x if x < 0.955 => (
            ident(&u.name, "+++@nowhere.example".into()),
            ident(&u.name, plain.clone()),
            None,
            None,
        ),
        // Name only.
        x if x < 0.99 => (
            ident(&u.name, String::new()),
            ident(&u.name, String::new()),
            None,
            None,
        ),
        // Nothing at all.
        _ => (
            ident("", String::new()),
            ident("", String::new()),
            None,
            None,
        ),
    };
    let mut c = Commit {
        sha: rng.sha(),
        message: String::new(),
        author,
        committer,
        author_login,
        committer_login,
        author_date,
        committer_date,
        // Set by `generate_bucket` from the bucket's push delays.
        pushed_at: committer_date,
        additions: 0,
        deletions: 0,
    };
    set_size(rng, &mut c);
    c
}

fn set_size(rng: &mut Rng, c: &mut Commit) {
    let big = rng.chance(0.1);
    c.additions = if big {
        rng.range(200, 3000)
    } else {
        rng.range(0, 120)
    } as u32;
    c.deletions = if big {
        rng.range(50, 1500)
    } else {
        rng.range(0, 60)
    } as u32;
}

/// The commit that created the repository, long before any kept history.
pub fn root_commit(world: &World, repo: &Repo) -> Commit {
    let mut rng = Rng::new(&[world.seed, 101, repo.gid as u64]);
    Commit {
        sha: rng.sha(),
        message: "Initial commit".into(),
        author: GitIdent {
            name: "Import Script".into(),
            email: String::new(),
        },
        committer: GitIdent {
            name: "Import Script".into(),
            email: String::new(),
        },
        author_login: None,
        committer_login: None,
        author_date: repo.created_at,
        committer_date: repo.created_at,
        pushed_at: repo.created_at,
        additions: rng.range(10, 500) as u32,
        deletions: 0,
    }
}

fn pick_message(rng: &mut Rng) -> &'static str {
    const M: &[&str] = &[
        "Fix flaky retry",
        "Add pagination",
        "Bump dependencies",
        "Refactor handler",
        "Update docs",
        "Tune cache size",
        "Handle empty body",
        "Add metrics",
        "Remove dead code",
        "Speed up build",
    ];
    rng.pick(M).copied().unwrap_or("Change")
}

fn pick_issue_title(rng: &mut Rng) -> &'static str {
    const T: &[&str] = &[
        "Crash on startup",
        "Slow query",
        "Docs are unclear",
        "Feature request",
        "Timeout in CI",
        "Wrong total",
        "Memory grows",
    ];
    rng.pick(T).copied().unwrap_or("Issue")
}
