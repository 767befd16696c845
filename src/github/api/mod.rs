//! [`OrgApi`]: the `GithubApi` port for one org, over the [`Client`] request core. Each method
//! builds its REST call (`per_page=100`, `since`/`until`, `sort=updated` with early
//! stop) and maps GitHub's JSON to the port's facts. The one org-wide search goes through
//! GraphQL when GitHub serves it (items arrive with their reviews and comments, see
//! [`graphql`]) and through REST `search/issues` otherwise.
//!
//! - [`search`]: the org-wide search, split into time ranges GitHub serves whole.
//! - [`commits`]: commit listings (REST per repository, GraphQL in batches).
//! - [`listings`]: the org's repositories and one repository's pulls, reviews and comments.
//! - [`stats`]: the line counts (contributor statistics, one commit's additions/deletions).
//! - [`fallback`]: when GraphQL is used and when REST stands in for it.

mod commits;
mod fallback;
mod listings;
mod search;
mod stats;

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use gse_actors::scrape::port::{
    ApiError, ApiErrorKind, ApiTelemetry, CommentInfo, CommitDetail, CommitInfo, CommitsByRepo,
    GithubApi, IssueItem, RepoInfo, ReviewInfo, SearchResult, StatsOutcome,
};

use super::client::Client;
use super::graphql;
use super::wire::{self, parse_time};
use fallback::GraphqlEndpoint;

/// The GitHub port of one org.
#[derive(Clone)]
pub struct OrgApi {
    client: Arc<Client>,
    graphql: Option<Arc<GraphqlEndpoint>>,
}

impl OrgApi {
    pub fn new(client: Arc<Client>) -> OrgApi {
        let graphql = graphql::graphql_url(&client.base)
            .ok()
            .map(|url| Arc::new(GraphqlEndpoint::new(url)));
        OrgApi { client, graphql }
    }

    /// GraphQL is tried when it is served and its points budget is not paused: a spent GraphQL
    /// budget must not hold the cycle up while REST can answer.
    fn graphql_usable(&self) -> bool {
        self.graphql.as_ref().is_some_and(|g| g.usable())
            && self.client.governor.wait_for(graphql::RESOURCE).is_zero()
    }
}

/// A decode error of `endpoint`: `bad {what}`.
fn decode_error(endpoint: &'static str, what: &str) -> ApiError {
    ApiError {
        kind: ApiErrorKind::Decode,
        endpoint,
        detail: format!("bad {what}"),
    }
}

/// A timestamp of `endpoint`'s answer, or a decode error.
fn time(endpoint: &'static str, s: &str) -> Result<i64, ApiError> {
    parse_time(s).ok_or_else(|| decode_error(endpoint, "timestamp"))
}

/// The login and bot flag of a REST user, by the rule GraphQL uses too
/// ([`super::identity`]).
fn login(user: &Option<wire::User>) -> (String, bool) {
    match user {
        Some(u) => super::identity::account(Some(&u.login), u.kind.as_deref()),
        None => super::identity::account(None, None),
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
