//! A deterministic fake of the GitHub REST API for tests, benchmarks and the exporter's `--demo`.
//!
//! It serves the endpoints the exporter uses (also under the GHES prefix `/api/v3`), with
//! GitHub's pagination, auth, rate limits, ETags and quirks, a subset of the GraphQL API v4
//! (`POST /graphql`, GHES `POST /api/graphql`: [`graphql`]), and it knows the exact value every
//! `gh_activity_*` series should have (`GET /_fake/truth`, or [`truth::compute`] in-process).
//! README.md lists flags, endpoints and the control API.
//!
//! # Modules
//! - [`world`]: orgs, members, bots and repositories from the seed and sizes.
//! - [`activity`]: activity generated lazily per (repository, hour) from a hash of the seed;
//!   [`push`]: when each direct commit is pushed.
//! - [`snapshot`]: what a repository looks like at one instant; [`store`] caches it and its pages.
//! - [`truth`] and [`identity`]: the expected series, and commit-author resolution.
//! - [`copilot`]: Copilot usage-metrics reports (signed download links under `/_blob/copilot/`),
//!   seats, and their truth (`GET /_fake/copilot/truth`).
//! - [`server`], [`routes`], `api`, [`render`], [`pagination`]: the HTTP side;
//!   [`auth`], [`budget`], [`secondary`], `faults` (cargo feature `faults`, on by default),
//!   [`counters`], [`clock`]: what it enforces and records; `control`: the `/_fake/` API; [`graphql`]: GraphQL over the same snapshots.
//!
//! # Time model
//! Data is a pure function of (seed, sizes, instant). History starts `history_weeks` whole
//! weeks before the current (Sunday-based, UTC) week; nothing exists before. An event at second
//! `t` is visible at instant `at` iff `t <= at`: a pull request at `created_at`, its
//! merge/close, reviews and comments at their own times. Pending reviews appear without
//! `submitted_at` and are never submitted.
//!
//! A commit's event is its **push**, not its committer date: a default-branch commit with push
//! time `P` is visible at `at` iff `P <= at`, and `author date <= committer date <= P`. Of the
//! direct commits about 15 % are committed 1 min to 8 h after their author date (amended or
//! rebased work; the others 0–120 s after), and independently ([`push`]) about 15 % are pushed
//! 10 min to 6 h after their committer date (the others 0–120 s after); every busy repository has
//! at least one late push among the direct commits of each 6-hour period (phase per repository)
//! that has any. A squash commit (author = PR author, committer `web-flow`) is made by GitHub:
//! author date = committer date = push = `merged_at`; the root commit is pushed when the
//! repository is created. Everything that shows commits follows this visibility: the REST
//! listing and detail, GraphQL `history`, `stats/contributors` (a commit counts in its author
//! week once pushed), the repository's `pushed_at` (the latest visible push: a default-branch
//! commit's, or a pull request head's at its `created_at`) and `updated_at`, and the ETags. The
//! listing stays ordered by committer date, newest first, so a late push lands below commits
//! pushed before it (its parent is the next commit in that order), and `since`/`until` still
//! filter on the committer date: a commit with committer date `C` pushed at `P > C` is missed
//! by every listing with `since` in `(C, P]` made at an instant after `P`, i.e. by an exporter
//! that lists `since` a previous cycle at `S` with `C < S < P`. Here `P − C <= 6 h`, so listing
//! `since` the previous cycle minus 6 h, or the whole 24 h window, misses nothing.
//!
//! # Truth semantics (what `GET /_fake/truth?at=T` returns)
//! The window is `[T − 86400, T]`, inclusive at both ends, on whole-second event times.
//! Labels are `org`, `repo` (name without owner) and `user`. Only series with a value > 0 are
//! listed, except LOC series (listed for every contributor, zeros included).
//! - `gh_activity_commits_24h`: commits listed by `GET /repos/{o}/{r}/commits` at `T` (default
//!   branch, **pushed by `T`**, see the time model) whose `commit.author.date` is in the window,
//!   one per commit, for the user
//!   resolved by [`identity::resolve_commit_user`]: `author.login` → `committer.login` →
//!   noreply-email login (author email, then committer email; the part after `+` when present;
//!   suffix `@users.noreply.github.com` matched case-insensitively) → email local part (text
//!   before the first `@`) lowercased with runs outside `[a-z0-9._-]` replaced by `-` and `-`
//!   trimmed (author, then committer; an empty result falls through) → `unlinked_git_author` when
//!   the author or committer name is non-blank → `unattributed_commit`. A commit authored at
//!   `A` and pushed at `P` thus counts at every `T` in `[P, A + 86400]` (here `P − A <= 14 h`),
//!   not from its author or committer date on. Listing the whole window (`since = T − 24 h` on
//!   the committer date) at `T` finds them all, since committer date ≥ author date.
//! - `gh_activity_prs_opened_24h`: pull requests with `created_at` in the window, by PR author.
//! - `gh_activity_prs_merged_24h`: pull requests with `merged_at` in the window, by PR author.
//! - `gh_activity_reviews_submitted_24h`: reviews with `submitted_at` in the window, any state
//!   (APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED), by reviewer; pending reviews (no
//!   `submitted_at`) never count.
//! - `gh_activity_issue_comments_24h`: comments of `GET /repos/{o}/{r}/issues/comments` (issue
//!   and pull-request conversation comments) with `created_at` in the window, by commenter.
//!   Edits (`updated_at`) do not count.
//! - `gh_activity_last_event_unixtime`: per (org, repo, user) with at least one of the five
//!   counts above, the largest event time among exactly the events counted there (commit author
//!   date, PR `created_at` for opened, `merged_at` for merged, review `submitted_at`, comment
//!   `created_at`). PR `updated_at`, push times and LOC are not events; a commit not yet pushed
//!   at `T` is not counted, so it cannot set this value either.
//! - `gh_activity_loc_added_weekly` / `gh_activity_loc_removed_weekly`: for every contributor
//!   of `stats/contributors` at `T` (linked `author.login`s with at least one commit in the kept
//!   history), the additions/deletions of the latest complete week `[W, W + 7 d)` with
//!   `W + 7 d <= T`, i.e. the week before the current one, over the commits pushed by `T`
//!   (stats count a commit only once pushed). For "large" repositories, whose stats
//!   report `a = d = 0` with non-zero `c`, the value is what a correct exporter computes from
//!   `GET /repos/{o}/{r}/commits/{sha}`: `stats.additions`/`stats.deletions` summed over the
//!   default-branch commits pushed by `T` with `author.login` = the contributor and
//!   `commit.author.date` in `[W, W + 7 d)` (the same commits stats counts in `c`). Empty
//!   repositories (204) have no LOC series.
//!
//! Bots (`dependabot[bot]`, `github-actions[bot]`) are ordinary users; `web-flow` commits
//! nothing as author.

#![forbid(unsafe_code)]
// `json!` objects as large as GitHub's pull request need a deeper macro recursion.
#![recursion_limit = "256"]

pub mod activity;
mod api;
pub mod auth;
pub mod budget;
pub mod clock;
pub mod config;
mod control;
pub mod copilot;
pub mod counters;
#[cfg(feature = "faults")]
pub mod faults;
pub mod graphql;
pub mod hash;
pub mod identity;
#[cfg(feature = "faults")]
mod inject;
#[cfg(not(feature = "faults"))]
#[path = "inject_off.rs"]
mod inject;
pub mod pagination;
pub mod push;
pub mod render;
pub mod routes;
pub mod secondary;
pub mod server;
pub mod snapshot;
mod state;
pub mod store;
pub mod timefmt;
pub mod truth;
pub mod world;

pub use config::{AppAuth, Clock, FakeConfig, SecondaryLimits};
pub use server::FakeGithub;
pub use truth::{Series, Truth};

/// The truth at `at` for a configuration, computed in-process without a server.
pub fn truth_at(config: &FakeConfig, at: f64) -> Truth {
    let world = world::World::generate(config);
    truth::compute(&world, at, config.history_weeks)
}

/// Organization logins for a configuration (stable for a seed), without a server.
pub fn org_names(config: &FakeConfig) -> Vec<String> {
    world::World::generate(config)
        .orgs
        .into_iter()
        .map(|o| o.login)
        .collect()
}
