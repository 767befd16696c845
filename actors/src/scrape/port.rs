//! The ports the ScrapeActor talks through: [`GithubApi`] (one adapter per org, bound to that
//! org's credentials and rate budget), [`ScrapeStateStore`] (versioned opaque bytes per key, so
//! event logs and cursors survive restarts and leader changes) and [`Clock`].
//!
//! The GitHub port speaks in the few typed facts the scraper needs, not in HTTP: pagination,
//! retries, rate-limit pauses and ETags are the adapter's business. Every call returns a boxed
//! `'static` future so the actor can spawn it and get the result back as a message.

use std::collections::BTreeMap;

use futures::future::{BoxFuture, FutureExt};

/// A repository as the org listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub name: String,
    pub archived: bool,
    pub fork: bool,
    /// Unix seconds of the last push (any branch, PR heads included); `None` when never pushed.
    pub pushed_at: Option<i64>,
}

/// A default-branch commit as `GET /repos/{o}/{r}/commits` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitInfo {
    pub sha: String,
    pub author_login: Option<String>,
    pub author_is_bot: bool,
    pub committer_login: Option<String>,
    pub author_name: String,
    pub author_email: String,
    pub committer_name: String,
    pub committer_email: String,
    /// `commit.author.date`: the time the activity window counts.
    pub author_date: i64,
    /// `commit.committer.date`: what `since`/`until` filter on.
    pub committer_date: i64,
}

/// A pull request or an issue: from the org-wide search (REST or GraphQL) or from
/// `GET /repos/{o}/{r}/pulls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueItem {
    pub repo: String,
    pub number: u64,
    pub is_pull: bool,
    pub author: String,
    pub author_is_bot: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub merged_at: Option<i64>,
    /// Every review of the pull request, when the listing carried them all (GraphQL); `None`
    /// means "not known here": ask `/pulls/{n}/reviews`.
    pub reviews: Option<Vec<ReviewInfo>>,
    /// The item's newest conversation comments, when the listing carried them (GraphQL); `None`
    /// means "not known here": list the repository's comments.
    pub comments: Option<Listed<CommentInfo>>,
}

/// The newest part of a chronological list: every element created after `complete_from` (the
/// oldest fetched element's time) is in `items`; `None`: the whole list is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub complete_from: Option<i64>,
}

impl<T> Listed<T> {
    /// Whether `items` holds every element created at or after `since`. Strict: elements as
    /// old as the oldest fetched one may have been cut off.
    pub fn covers(&self, since: i64) -> bool {
        self.complete_from.is_none_or(|from| from < since)
    }
}

/// The answer of the org-wide `updated:>=` search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub items: Vec<IssueItem>,
    /// False when GitHub reports more results than it lets us page through (1,000 cap) or says
    /// `incomplete_results`: the caller must then not trust the absence of a repo.
    pub complete: bool,
}

/// One submitted or pending review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewInfo {
    pub id: u64,
    pub user: String,
    pub user_is_bot: bool,
    /// `None` for pending reviews, which never count.
    pub submitted_at: Option<i64>,
}

/// An issue or pull-request conversation comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentInfo {
    pub id: u64,
    pub user: String,
    pub user_is_bot: bool,
    pub created_at: i64,
}

/// One week of one contributor in `stats/contributors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WeekStats {
    /// Week start (Sunday 00:00 UTC), Unix seconds.
    pub start: i64,
    pub additions: u64,
    pub deletions: u64,
    pub commits: u64,
}

/// One contributor row of `stats/contributors`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContributorStats {
    pub login: String,
    pub is_bot: bool,
    pub weeks: Vec<WeekStats>,
}

/// What one `stats/contributors` call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsOutcome {
    /// 202: GitHub computes; keep the last values and ask again in the next LOC round.
    Computing,
    /// 204: an empty repository, no contributors.
    Empty,
    Ready(Vec<ContributorStats>),
}

/// `GET /repos/{o}/{r}/commits/{sha}` reduced to what the LOC fallback needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitDetail {
    pub additions: u64,
    pub deletions: u64,
}

/// Why a GitHub call failed, after the adapter's retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// 404: the thing does not exist (or the credential may not see it).
    NotFound,
    /// 409: an empty repository.
    Conflict,
    /// 422.
    Unprocessable,
    /// 401 that a fresh token did not fix.
    Unauthorized,
    /// 403 that is not a rate limit.
    Forbidden,
    /// Still rate limited after every attempt.
    RateLimited,
    /// 5xx after every attempt.
    Server,
    /// Connection, TLS or timeout errors after every attempt.
    Transport,
    /// A 2xx whose body was malformed or truncated, after every attempt.
    Decode,
    /// The adapter is misconfigured (bad key, bad URL).
    Config,
    /// A listing that could not be read to its end: its `next` page is on another origin (a
    /// proxy that did not rewrite `Link`), or it is longer than `github.max_pages_per_listing`.
    /// Nothing computed from it is complete, so the call fails as a whole.
    Incomplete,
    /// Not sent: the lease this work runs under has lapsed or ended (or, in an elected mode,
    /// the call was made outside any lease). Never counted as a GitHub failure.
    LeaseLapsed,
}

impl ApiErrorKind {
    /// 404/409/422 mean "no data here", not a failure of the scrape.
    pub fn is_absent(self) -> bool {
        matches!(
            self,
            ApiErrorKind::NotFound | ApiErrorKind::Conflict | ApiErrorKind::Unprocessable
        )
    }
}

/// A failed GitHub call: what kind, which endpoint, and a short detail safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GitHub {endpoint} failed ({kind:?}): {detail}")]
pub struct ApiError {
    pub kind: ApiErrorKind,
    pub endpoint: &'static str,
    pub detail: String,
}

/// Cumulative request telemetry of one org's adapter (real counters, never reset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiTelemetry {
    /// (endpoint template, status class) → requests.
    pub requests: BTreeMap<(String, String), u64>,
    /// resource → (remaining, reset Unix seconds), only for resources whose headers were seen.
    pub rate: BTreeMap<String, (u64, i64)>,
    pub secondary_limit_hits: u64,
}

/// GitHub, as one org's scraper sees it. Implementations share rate budgets per installation.
pub trait GithubApi: Send + Sync + 'static {
    /// Every repository of the org.
    fn list_repos(&self) -> BoxFuture<'static, Result<Vec<RepoInfo>, ApiError>>;
    /// Issues and pull requests of the org with `updated_at >= since` (one org-wide query; the
    /// adapter may carry reviews and comments along, see [`IssueItem`]).
    fn search_updated_since(
        &self,
        since: i64,
    ) -> BoxFuture<'static, Result<SearchResult, ApiError>>;
    /// Default-branch commits with committer date in `[since, until]`.
    fn commits(
        &self,
        repo: &str,
        since: i64,
        until: i64,
    ) -> BoxFuture<'static, Result<Vec<CommitInfo>, ApiError>>;
    /// Default-branch commits of many repositories at once, each with committer date in
    /// `[since, until]` (GraphQL batches). A repository missing from the answer, or mapped to
    /// `None`, could not be answered exactly this way: list it with [`GithubApi::commits`].
    /// The default answers nothing, so every repository is listed one by one.
    fn commits_many(
        &self,
        repos: Vec<(String, i64)>,
        until: i64,
    ) -> BoxFuture<'static, Result<CommitsByRepo, ApiError>> {
        let _ = (repos, until);
        futures::future::ready(Ok(CommitsByRepo::new())).boxed()
    }
    /// At most `cap` default-branch commits *authored* in `[since, authored_before)`, found by
    /// listing committer dates in `[since, until]` (a commit can be committed long after it was
    /// authored); the flag says whether the cap cut the list. Commits authored outside the
    /// range neither count toward the cap nor are returned.
    fn commits_capped(
        &self,
        repo: &str,
        since: i64,
        until: i64,
        authored_before: i64,
        cap: usize,
    ) -> BoxFuture<'static, Result<(Vec<CommitInfo>, bool), ApiError>>;
    /// Pull requests with `updated_at >= since`, newest update first; paging stops early.
    fn pulls_updated_since(
        &self,
        repo: &str,
        since: i64,
    ) -> BoxFuture<'static, Result<Vec<IssueItem>, ApiError>>;
    fn reviews(
        &self,
        repo: &str,
        number: u64,
    ) -> BoxFuture<'static, Result<Vec<ReviewInfo>, ApiError>>;
    /// Conversation comments with `updated_at >= since`.
    fn issue_comments_since(
        &self,
        repo: &str,
        since: i64,
    ) -> BoxFuture<'static, Result<Vec<CommentInfo>, ApiError>>;
    /// `stats/contributors`, polling 202 answers a few times.
    fn contributor_stats(&self, repo: &str) -> BoxFuture<'static, Result<StatsOutcome, ApiError>>;
    fn commit_detail(
        &self,
        repo: &str,
        sha: &str,
    ) -> BoxFuture<'static, Result<CommitDetail, ApiError>>;
    /// Cumulative telemetry for `gh_exporter_github_*`.
    fn telemetry(&self) -> ApiTelemetry;
}

/// Commits per repository from [`GithubApi::commits_many`]; `None`: ask REST.
pub type CommitsByRepo = BTreeMap<String, Option<Vec<CommitInfo>>>;

/// A value in the [`ScrapeStateStore`]: opaque bytes with the schema version that wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub version: u32,
    pub bytes: Vec<u8>,
}

/// Errors of a [`ScrapeStateStore`].
#[derive(Debug, thiserror::Error)]
#[error("scrape state {operation} failed on the {backend} store")]
pub struct StateError {
    pub backend: &'static str,
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl StateError {
    /// Whether the backend refused a fenced write because the grant's lease is not live
    /// (the source is [`StaleLease`]).
    pub fn is_stale_lease(&self) -> bool {
        self.source.downcast_ref::<StaleLease>().is_some()
    }
}

/// The source of a [`StateError`] for a fenced write whose lease is no longer ours.
#[derive(Debug, thiserror::Error)]
#[error("write rejected: the lease of epoch {epoch} is no longer held by this writer")]
pub struct StaleLease {
    pub epoch: u64,
}

/// Where the scraper keeps its per-org event logs and cursors (memory, or Redis later), so that
/// incremental scraping survives a restart or a leader change.
pub trait ScrapeStateStore: Send + Sync + 'static {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<Option<Versioned>, StateError>>;
    fn put(&self, key: &str, value: Versioned) -> BoxFuture<'static, Result<(), StateError>>;

    /// `put`, fenced: lands only while `grant`'s lease is live (checked by the backend,
    /// atomically with the write). Backends without leases (memory) compare nothing.
    fn put_fenced(
        &self,
        key: &str,
        value: Versioned,
        grant: &crate::election::Grant,
    ) -> BoxFuture<'static, Result<(), StateError>> {
        let _ = grant;
        self.put(key, value)
    }
}

/// The time source of scrape cycles (Unix seconds, fractional).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> f64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        crate::clock::unix_now()
    }
}
