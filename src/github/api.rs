//! [`OrgApi`]: the `GithubApi` port for one org, over the [`Client`] request core. Each method
//! builds its REST call (`per_page=100`, `since`/`until`, `sort=updated` with early
//! stop) and maps GitHub's JSON to the port's facts. The one org-wide search goes through
//! GraphQL when GitHub serves it (items arrive with their reviews and comments, see
//! [`graphql`]) and through REST `search/issues` otherwise.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use gse_actors::scrape::port::{
    ApiError, ApiErrorKind, ApiTelemetry, CommentInfo, CommitDetail, CommitInfo, CommitsByRepo,
    ContributorStats, GithubApi, IssueItem, RepoInfo, ReviewInfo, SearchResult, StatsOutcome,
    WeekStats,
};

use super::client::{Answer, Client};
use super::graphql;
use super::wire::{self, format_time, parse_time};

/// GitHub serves at most this many search results per query.
const SEARCH_CAP: u64 = 1000;

/// One search query's outcome.
enum RangeAnswer {
    Items(Vec<IssueItem>),
    /// More than GitHub serves for one query; `newest` is the latest `updated_at` seen.
    TooMany {
        newest: i64,
    },
    Incomplete(Vec<IssueItem>),
}

/// Which API answers the org-wide search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchBackend {
    /// GraphQL: items come with their reviews and newest comments.
    Graphql,
    /// REST `search/issues`: items only.
    Rest,
}

/// Where GraphQL is served, and whether it turned out not to be (404 from an old GHES or a
/// proxy): then REST is used for the rest of the process' life. After any other failure REST
/// is used for [`GRAPHQL_SUSPENSION`], so an outage of GraphQL costs one failed call, not one
/// per cycle and batch.
struct GraphqlEndpoint {
    url: url::Url,
    unavailable: AtomicBool,
    suspended_until: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How long REST stands in after a GraphQL failure.
const GRAPHQL_SUSPENSION: Duration = Duration::from_secs(300);

impl GraphqlEndpoint {
    fn usable(&self) -> bool {
        if self.unavailable.load(Ordering::Relaxed) {
            return false;
        }
        let suspended = self
            .suspended_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        suspended.is_none_or(|until| std::time::Instant::now() >= until)
    }

    /// Records a failed GraphQL call: for good on a 404, for a while otherwise.
    fn failed(&self, org: &str, error: &ApiError) {
        if error.kind == ApiErrorKind::NotFound {
            self.unavailable.store(true, Ordering::Relaxed);
            tracing::info!(org, error = %error, "GraphQL is not served here; using REST from now on");
        } else if error.kind != ApiErrorKind::RateLimited {
            *self
                .suspended_until
                .lock()
                .unwrap_or_else(|p| p.into_inner()) =
                Some(std::time::Instant::now() + GRAPHQL_SUSPENSION);
            tracing::warn!(org, error = %error, suspend_s = GRAPHQL_SUSPENSION.as_secs(), "GraphQL failed; using REST for a while");
        } else {
            tracing::info!(org, error = %error, "GraphQL budget spent; using REST until it resets");
        }
    }
}

/// The GitHub port of one org.
#[derive(Clone)]
pub struct OrgApi {
    client: Arc<Client>,
    graphql: Option<Arc<GraphqlEndpoint>>,
}

impl OrgApi {
    pub fn new(client: Arc<Client>) -> OrgApi {
        let graphql = graphql::graphql_url(&client.base).ok().map(|url| {
            Arc::new(GraphqlEndpoint {
                url,
                unavailable: AtomicBool::new(false),
                suspended_until: std::sync::Mutex::new(None),
            })
        });
        OrgApi { client, graphql }
    }

    /// GraphQL is tried when it is served and its points budget is not paused: a spent GraphQL
    /// budget must not hold the cycle up while REST can answer.
    fn graphql_usable(&self) -> bool {
        self.graphql.as_ref().is_some_and(|g| g.usable())
            && self.client.governor.wait_for(graphql::RESOURCE).is_zero()
    }
}

fn decode_error(endpoint: &'static str, what: &str) -> ApiError {
    ApiError {
        kind: ApiErrorKind::Decode,
        endpoint,
        detail: format!("bad {what}"),
    }
}

fn time(endpoint: &'static str, s: &str) -> Result<i64, ApiError> {
    parse_time(s).ok_or_else(|| decode_error(endpoint, "timestamp"))
}

fn login(user: &Option<wire::User>) -> (String, bool) {
    match user {
        Some(u) => super::identity::account(Some(&u.login), u.kind.as_deref()),
        None => super::identity::account(None, None),
    }
}

fn commit_info(endpoint: &'static str, c: wire::Commit) -> Result<CommitInfo, ApiError> {
    let author = c.commit.author.as_ref();
    let committer = c.commit.committer.as_ref();
    let date = |p: Option<&wire::GitPerson>| p.and_then(|p| p.date.as_deref()).and_then(parse_time);
    let author_date = date(author).ok_or_else(|| decode_error(endpoint, "commit author date"))?;
    let committer_date = date(committer).unwrap_or(author_date);
    let text = |p: Option<&wire::GitPerson>, email: bool| {
        p.and_then(|p| {
            if email {
                p.email.clone()
            } else {
                p.name.clone()
            }
        })
        .unwrap_or_default()
    };
    Ok(CommitInfo {
        sha: c.sha,
        author_is_bot: c.author.as_ref().is_some_and(wire::User::is_bot),
        author_login: c.author.map(|u| u.login),
        committer_login: c.committer.map(|u| u.login),
        author_name: text(author, false),
        author_email: text(author, true),
        committer_name: text(committer, false),
        committer_email: text(committer, true),
        author_date,
        committer_date,
    })
}

impl OrgApi {
    async fn list_repos(self) -> Result<Vec<RepoInfo>, ApiError> {
        const EP: &str = "/orgs/{org}/repos";
        let c = &self.client;
        let url = c.url(
            &format!("orgs/{}/repos", c.org),
            &[("type", "all"), ("sort", "full_name"), ("per_page", "100")],
        )?;
        let mut repos = Vec::new();
        c.paginate_cached::<Vec<wire::Repo>>(EP, url, "core", |page| repos.extend(page))
            .await?;
        Ok(repos
            .into_iter()
            .map(|r| RepoInfo {
                pushed_at: r.pushed_at.as_deref().and_then(parse_time),
                name: r.name,
                archived: r.archived,
                fork: r.fork,
            })
            .collect())
    }

    /// All issues and pull requests updated at or after `since`. GitHub serves at most 1,000
    /// results per query, so a query reporting more is split in two time ranges (the newer one
    /// left open-ended, so items updated while the cycle runs are never cut off) until each
    /// part fits; a part that cannot be split further makes the result incomplete.
    async fn search(self, since: i64) -> Result<SearchResult, ApiError> {
        if self.graphql_usable() {
            match self.search_with(since, SearchBackend::Graphql).await {
                Ok(result) => return Ok(result),
                Err(e) => {
                    if let Some(g) = &self.graphql {
                        g.failed(&self.client.org, &e);
                    }
                }
            }
        }
        self.search_with(since, SearchBackend::Rest).await
    }

    async fn search_with(
        &self,
        since: i64,
        backend: SearchBackend,
    ) -> Result<SearchResult, ApiError> {
        let mut items = Vec::new();
        let mut complete = true;
        let mut ranges: Vec<(i64, Option<i64>)> = vec![(since, None)];
        while let Some((lo, hi)) = ranges.pop() {
            let answer = match backend {
                SearchBackend::Graphql => self.graphql_range(lo, hi).await?,
                SearchBackend::Rest => self.search_range(lo, hi).await?,
            };
            match answer {
                RangeAnswer::Items(found) => items.extend(found),
                RangeAnswer::TooMany { newest } => {
                    let top = hi.unwrap_or(newest);
                    let mid = lo + (top - lo) / 2;
                    if mid <= lo || ranges.len() > 64 {
                        complete = false;
                        continue;
                    }
                    ranges.push((lo, Some(mid)));
                    ranges.push((mid + 1, hi));
                }
                RangeAnswer::Incomplete(found) => {
                    complete = false;
                    items.extend(found);
                }
            }
        }
        // Ranges do not overlap, but an item updated between two queries can appear twice.
        items.sort_by(|a, b| {
            (&a.repo, a.number, b.updated_at).cmp(&(&b.repo, b.number, a.updated_at))
        });
        items.dedup_by(|a, b| a.repo == b.repo && a.number == b.number);
        Ok(SearchResult { items, complete })
    }

    /// One time range of the search over GraphQL, page by page.
    async fn graphql_range(&self, lo: i64, hi: Option<i64>) -> Result<RangeAnswer, ApiError> {
        let Some(endpoint) = &self.graphql else {
            return Err(ApiError {
                kind: ApiErrorKind::Config,
                endpoint: graphql::ENDPOINT,
                detail: "no GraphQL URL for this base URL".into(),
            });
        };
        let q = graphql::search_string(&self.client.org, lo, hi);
        let mut items: Vec<IssueItem> = Vec::new();
        let mut seen = 0u64;
        let mut newest = lo;
        let mut after: Option<String> = None;
        loop {
            let page =
                graphql::search_page(&self.client, &endpoint.url, &q, after.as_deref()).await?;
            if page.issue_count > SEARCH_CAP {
                newest = page
                    .items
                    .iter()
                    .map(|i| i.updated_at)
                    .fold(newest, i64::max);
                return Ok(RangeAnswer::TooMany { newest });
            }
            seen += page.nodes;
            items.extend(page.items);
            match page.next {
                Some(cursor) if seen < page.issue_count => after = Some(cursor),
                _ => {
                    return Ok(if seen < page.issue_count {
                        RangeAnswer::Incomplete(items)
                    } else {
                        RangeAnswer::Items(items)
                    })
                }
            }
        }
    }

    async fn search_range(&self, lo: i64, hi: Option<i64>) -> Result<RangeAnswer, ApiError> {
        const EP: &str = "/search/issues";
        let c = &self.client;
        let updated = match hi {
            None => format!(">={}", format_time(lo)),
            Some(hi) => format!("{}..{}", format_time(lo), format_time(hi)),
        };
        let q = format!("org:{} updated:{updated}", c.org);
        let url = c.url(
            "search/issues",
            &[
                ("q", &q),
                ("sort", "updated"),
                ("order", "desc"),
                ("per_page", "100"),
            ],
        )?;
        let mut items = Vec::new();
        let mut total = 0u64;
        let mut incomplete = false;
        let mut newest = lo;
        let mut bad = None;
        let mut too_many = false;
        c.paginate::<wire::Search>(EP, url, "search", |page| {
            total = page.total_count;
            incomplete |= page.incomplete_results;
            for it in page.items {
                let repo = it
                    .repository_url
                    .as_deref()
                    .and_then(|u| u.rsplit('/').next())
                    .map(str::to_string);
                let (Some(repo), Some(created_at), Some(updated_at)) =
                    (repo, parse_time(&it.created_at), parse_time(&it.updated_at))
                else {
                    bad = Some(decode_error(EP, "search item"));
                    return false;
                };
                newest = newest.max(updated_at);
                let (author, author_is_bot) = login(&it.user);
                items.push(IssueItem {
                    repo,
                    number: it.number,
                    is_pull: it.pull_request.is_some(),
                    author,
                    author_is_bot,
                    created_at,
                    updated_at,
                    merged_at: it
                        .pull_request
                        .and_then(|p| p.merged_at)
                        .as_deref()
                        .and_then(parse_time),
                    reviews: None,
                    comments: None,
                });
            }
            if total > SEARCH_CAP {
                too_many = true;
                return false;
            }
            (items.len() as u64) < total
        })
        .await?;
        if let Some(e) = bad {
            return Err(e);
        }
        Ok(if too_many {
            RangeAnswer::TooMany { newest }
        } else if incomplete || (items.len() as u64) < total {
            RangeAnswer::Incomplete(items)
        } else {
            RangeAnswer::Items(items)
        })
    }

    /// Commits of many repositories over GraphQL, [`graphql::COMMIT_BATCH`] per request.
    /// A failed batch stops the batching (see [`GraphqlEndpoint::failed`]); what was not
    /// answered is listed over REST.
    async fn commits_many(
        self,
        repos: Vec<(String, i64)>,
        until: i64,
    ) -> Result<CommitsByRepo, ApiError> {
        let mut out = CommitsByRepo::new();
        let Some(endpoint) = &self.graphql else {
            return Ok(out);
        };
        for chunk in repos.chunks(graphql::COMMIT_BATCH) {
            if !self.graphql_usable() {
                break;
            }
            match graphql::commits_batch(&self.client, &endpoint.url, chunk, until).await {
                Ok(found) => out.extend(found),
                Err(e) => {
                    endpoint.failed(&self.client.org, &e);
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn commits(
        self,
        repo: String,
        since: i64,
        until: i64,
        authored_before: Option<i64>,
        cap: usize,
    ) -> Result<(Vec<CommitInfo>, bool), ApiError> {
        const EP: &str = "/repos/{owner}/{repo}/commits";
        let c = &self.client;
        let url = c.url(
            &format!("repos/{}/{repo}/commits", c.org),
            &[
                ("since", &format_time(since)),
                ("until", &format_time(until)),
                ("per_page", "100"),
            ],
        )?;
        let mut out = Vec::new();
        let mut bad = None;
        let mut capped = false;
        c.paginate::<Vec<wire::Commit>>(EP, url, "core", |page| {
            for commit in page {
                match commit_info(EP, commit) {
                    Ok(info) => {
                        let authored_in_range = authored_before
                            .is_none_or(|b| info.author_date >= since && info.author_date < b);
                        if !authored_in_range {
                            continue;
                        }
                        if out.len() >= cap {
                            capped = true;
                            return false;
                        }
                        out.push(info)
                    }
                    Err(e) => {
                        bad = Some(e);
                        return false;
                    }
                }
            }
            true
        })
        .await?;
        match bad {
            Some(e) => Err(e),
            None => Ok((out, capped)),
        }
    }

    async fn pulls(self, repo: String, since: i64) -> Result<Vec<IssueItem>, ApiError> {
        const EP: &str = "/repos/{owner}/{repo}/pulls";
        let c = &self.client;
        let url = c.url(
            &format!("repos/{}/{repo}/pulls", c.org),
            &[
                ("state", "all"),
                ("sort", "updated"),
                ("direction", "desc"),
                ("per_page", "100"),
            ],
        )?;
        let mut out = Vec::new();
        let mut bad = None;
        c.paginate::<Vec<wire::Pull>>(EP, url, "core", |page| {
            for p in page {
                let (Some(created_at), Some(updated_at)) =
                    (parse_time(&p.created_at), parse_time(&p.updated_at))
                else {
                    bad = Some(decode_error(EP, "pull timestamps"));
                    return false;
                };
                if updated_at < since {
                    // Sorted by update, newest first: everything after is older still.
                    return false;
                }
                let (author, author_is_bot) = login(&p.user);
                out.push(IssueItem {
                    repo: repo.clone(),
                    number: p.number,
                    is_pull: true,
                    author,
                    author_is_bot,
                    created_at,
                    updated_at,
                    merged_at: p.merged_at.as_deref().and_then(parse_time),
                    reviews: None,
                    comments: None,
                });
            }
            true
        })
        .await?;
        match bad {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    async fn reviews(self, repo: String, number: u64) -> Result<Vec<ReviewInfo>, ApiError> {
        const EP: &str = "/repos/{owner}/{repo}/pulls/{number}/reviews";
        let c = &self.client;
        let url = c.url(
            &format!("repos/{}/{repo}/pulls/{number}/reviews", c.org),
            &[("per_page", "100")],
        )?;
        let mut out = Vec::new();
        c.paginate::<Vec<wire::Review>>(EP, url, "core", |page| {
            out.extend(page.into_iter().map(|r| {
                let (user, user_is_bot) = login(&r.user);
                ReviewInfo {
                    id: r.id,
                    user,
                    user_is_bot,
                    submitted_at: r.submitted_at.as_deref().and_then(parse_time),
                }
            }));
            true
        })
        .await?;
        Ok(out)
    }

    async fn comments(self, repo: String, since: i64) -> Result<Vec<CommentInfo>, ApiError> {
        const EP: &str = "/repos/{owner}/{repo}/issues/comments";
        let c = &self.client;
        let since = format_time(since);
        let url = c.url(
            &format!("repos/{}/{repo}/issues/comments", c.org),
            &[("since", &since), ("per_page", "100")],
        )?;
        let mut out = Vec::new();
        let mut bad = None;
        c.paginate::<Vec<wire::Comment>>(EP, url, "core", |page| {
            for cm in page {
                match time(EP, &cm.created_at) {
                    Ok(created_at) => {
                        let (user, user_is_bot) = login(&cm.user);
                        out.push(CommentInfo {
                            id: cm.id,
                            user,
                            user_is_bot,
                            created_at,
                        });
                    }
                    Err(e) => {
                        bad = Some(e);
                        return false;
                    }
                }
            }
            true
        })
        .await?;
        match bad {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    async fn stats(self, repo: String) -> Result<StatsOutcome, ApiError> {
        const EP: &str = "/repos/{owner}/{repo}/stats/contributors";
        let c = &self.client;
        let url = c.url(&format!("repos/{}/{repo}/stats/contributors", c.org), &[])?;
        match c.get::<Vec<wire::Contributor>>(EP, url, "core").await? {
            Answer::Page(page) => {
                let rows = page
                    .value
                    .into_iter()
                    .filter_map(|row| {
                        let author = row.author?;
                        Some(ContributorStats {
                            is_bot: author.is_bot(),
                            login: author.login,
                            weeks: row
                                .weeks
                                .iter()
                                .map(|w| WeekStats {
                                    start: w.w,
                                    additions: w.a,
                                    deletions: w.d,
                                    commits: w.c,
                                })
                                .collect(),
                        })
                    })
                    .collect();
                Ok(StatsOutcome::Ready(rows))
            }
            Answer::NoContent => Ok(StatsOutcome::Empty),
            // Computing: the scraper's next LOC round asks again; nothing waits here.
            Answer::Accepted => Ok(StatsOutcome::Computing),
        }
    }

    async fn detail(self, repo: String, sha: String) -> Result<CommitDetail, ApiError> {
        const EP: &str = "/repos/{owner}/{repo}/commits/{ref}";
        let c = &self.client;
        let url = c.url(&format!("repos/{}/{repo}/commits/{sha}", c.org), &[])?;
        match c.get::<wire::CommitDetail>(EP, url, "core").await? {
            Answer::Page(p) => {
                let stats = p
                    .value
                    .stats
                    .ok_or_else(|| decode_error(EP, "commit stats"))?;
                Ok(CommitDetail {
                    additions: stats.additions,
                    deletions: stats.deletions,
                })
            }
            _ => Err(decode_error(EP, "commit detail status")),
        }
    }
}

impl GithubApi for OrgApi {
    fn list_repos(&self) -> BoxFuture<'static, Result<Vec<RepoInfo>, ApiError>> {
        self.clone().list_repos().boxed()
    }

    fn search_updated_since(
        &self,
        since: i64,
    ) -> BoxFuture<'static, Result<SearchResult, ApiError>> {
        self.clone().search(since).boxed()
    }

    fn commits(
        &self,
        repo: &str,
        since: i64,
        until: i64,
    ) -> BoxFuture<'static, Result<Vec<CommitInfo>, ApiError>> {
        self.clone()
            .commits(repo.to_string(), since, until, None, usize::MAX)
            .map(|r| r.map(|(list, _)| list))
            .boxed()
    }

    fn commits_many(
        &self,
        repos: Vec<(String, i64)>,
        until: i64,
    ) -> BoxFuture<'static, Result<CommitsByRepo, ApiError>> {
        self.clone().commits_many(repos, until).boxed()
    }

    fn commits_capped(
        &self,
        repo: &str,
        since: i64,
        until: i64,
        authored_before: i64,
        cap: usize,
    ) -> BoxFuture<'static, Result<(Vec<CommitInfo>, bool), ApiError>> {
        self.clone()
            .commits(repo.to_string(), since, until, Some(authored_before), cap)
            .boxed()
    }

    fn pulls_updated_since(
        &self,
        repo: &str,
        since: i64,
    ) -> BoxFuture<'static, Result<Vec<IssueItem>, ApiError>> {
        self.clone().pulls(repo.to_string(), since).boxed()
    }

    fn reviews(
        &self,
        repo: &str,
        number: u64,
    ) -> BoxFuture<'static, Result<Vec<ReviewInfo>, ApiError>> {
        self.clone().reviews(repo.to_string(), number).boxed()
    }

    fn issue_comments_since(
        &self,
        repo: &str,
        since: i64,
    ) -> BoxFuture<'static, Result<Vec<CommentInfo>, ApiError>> {
        self.clone().comments(repo.to_string(), since).boxed()
    }

    fn contributor_stats(&self, repo: &str) -> BoxFuture<'static, Result<StatsOutcome, ApiError>> {
        self.clone().stats(repo.to_string()).boxed()
    }

    fn commit_detail(
        &self,
        repo: &str,
        sha: &str,
    ) -> BoxFuture<'static, Result<CommitDetail, ApiError>> {
        self.clone()
            .detail(repo.to_string(), sha.to_string())
            .boxed()
    }

    fn telemetry(&self) -> ApiTelemetry {
        self.client.telemetry()
    }
}
