//! The org-wide search through GitHub's GraphQL API: one query per 50 issues and pull requests
//! updated in a time range, carrying each pull request's reviews and each item's newest
//! conversation comments. REST needs one `/pulls/{n}/reviews` call per updated pull request for
//! the same facts, so this is what keeps a cold cycle of a busy org within a few requests per
//! repository.
//!
//! The second query lists the default-branch commits of up to [`COMMIT_BATCH`] repositories in
//! one request (one alias per repository). A repository whose answer might differ from REST's
//! is left to REST: more than one page, an error on its alias, or a commit GitHub linked to a
//! bot (GraphQL's `GitActor.user` is typed `User`, so REST's bot author shows as `null`).
//!
//! GraphQL answers failures with HTTP 200 and an `errors` array (`RATE_LIMITED` when the points
//! budget is spent); both become [`ApiError`]s so the caller can fall back to REST. Quirks handled
//! here: a bot's GraphQL `login` lacks REST's `[bot]` suffix, and GHES serves GraphQL at
//! `/api/graphql`, not under the `/api/v3` REST prefix.

use bytes::Bytes;
use gse_actors::scrape::port::{
    ApiError, ApiErrorKind, CommentInfo, CommitInfo, CommitsByRepo, IssueItem, Listed, ReviewInfo,
};
use serde::Deserialize;
use url::Url;

use super::client::{Answer, Client};
use super::wire::{format_time, parse_time};

/// Endpoint label of every GraphQL request (telemetry, errors).
pub const ENDPOINT: &str = "/graphql";
/// The governor and `x-ratelimit-resource` name of the GraphQL points budget.
pub const RESOURCE: &str = "graphql";
/// Items per search page. GitHub allows 100, but a page of 100 items with nested reviews and
/// comments risks its 10-second query timeout on busy orgs; 50 still costs one point.
pub const PAGE_SIZE: u32 = 50;

/// The search query. `last: 30` takes the newest reviews and comments of each item; an item
/// with more is completed over REST (see [`IssueItem`]).
const SEARCH_QUERY: &str = r#"query($q: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  search(query: $q, type: ISSUE, first: $first, after: $after) {
    issueCount
    pageInfo { hasNextPage endCursor }
    nodes {
      __typename
      ... on Issue {
        number createdAt updatedAt
        author { __typename login }
        repository { name }
        comments(last: 30) { pageInfo { hasPreviousPage } nodes { databaseId createdAt author { __typename login } } }
      }
      ... on PullRequest {
        number createdAt updatedAt mergedAt
        author { __typename login }
        repository { name }
        comments(last: 30) { pageInfo { hasPreviousPage } nodes { databaseId createdAt author { __typename login } } }
        reviews(last: 30) { pageInfo { hasPreviousPage } nodes { databaseId state submittedAt author { __typename login } } }
      }
    }
  }
}"#;

/// Repositories per batched commit query (25 history connections cost one point).
pub const COMMIT_BATCH: usize = 25;

/// The fields of one repository's commit history, for [`commits_query`].
const HISTORY_FIELDS: &str = "defaultBranchRef { target { ... on Commit { history(first: 100, since: $SINCE, until: $UNTIL) { totalCount pageInfo { hasNextPage } nodes { oid authoredDate committedDate author { name email user { login } } committer { name email user { login } } } } } } }";

/// The GraphQL endpoint that goes with a REST base URL: `https://api.github.com/graphql`, or
/// `https://ghes.example/api/graphql` for a GHES base ending in `/api/v3`.
pub fn graphql_url(base: &Url) -> Result<Url, url::ParseError> {
    let path = base.path().trim_end_matches('/');
    match path.strip_suffix("/api/v3") {
        Some(prefix) => {
            let mut url = base.clone();
            url.set_path(&format!("{prefix}/api/graphql"));
            Ok(url)
        }
        None => base.join("graphql"),
    }
}

/// Any GraphQL answer: `data` (possibly partial) and `errors`.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
struct Envelope<D> {
    #[serde(default)]
    data: Option<D>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(Debug, Deserialize)]
struct GraphqlError {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
    /// Where it happened; the first element is the top-level field or alias.
    #[serde(default)]
    path: Option<Vec<serde_json::Value>>,
}

impl GraphqlError {
    fn rate_limited(&self) -> bool {
        self.kind.as_deref() == Some("RATE_LIMITED")
    }

    /// The top-level alias the error belongs to, if any.
    fn alias(&self) -> Option<&str> {
        self.path.as_ref()?.first()?.as_str()
    }
}

/// One `ApiError` for a set of GraphQL errors: a rate limit when any says so, else a decode
/// error; the detail is the first message, shortened.
fn api_error(errors: &[GraphqlError]) -> ApiError {
    let detail: String = errors
        .first()
        .and_then(|e| e.message.as_deref())
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    ApiError {
        kind: if errors.iter().any(GraphqlError::rate_limited) {
            ApiErrorKind::RateLimited
        } else {
            ApiErrorKind::Decode
        },
        endpoint: ENDPOINT,
        detail: format!("GraphQL error: {detail}"),
    }
}

/// POSTs `query` with `variables` and decodes the envelope.
async fn post<D: serde::de::DeserializeOwned>(
    client: &Client,
    url: &Url,
    query: &str,
    variables: serde_json::Value,
) -> Result<Envelope<D>, ApiError> {
    let body = serde_json::json!({ "query": query, "variables": variables });
    let body = Bytes::from(serde_json::to_vec(&body).map_err(|e| bad(e.to_string()))?);
    match client
        .post_json::<Envelope<D>>(ENDPOINT, url.clone(), body, RESOURCE)
        .await?
    {
        Answer::Page(page) => Ok(page.value),
        Answer::Accepted | Answer::NoContent => Err(bad("GraphQL answered without a body")),
    }
}

#[derive(Debug, Deserialize)]
struct Data {
    search: Search,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Search {
    issue_count: u64,
    page_info: PageInfo,
    #[serde(default)]
    nodes: Vec<Option<Node>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    #[serde(default)]
    has_next_page: bool,
    #[serde(default)]
    has_previous_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    #[serde(rename = "__typename")]
    typename: String,
    #[serde(default)]
    number: Option<u64>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    author: Option<Actor>,
    #[serde(default)]
    repository: Option<RepoRef>,
    #[serde(default)]
    comments: Option<Connection<CommentNode>>,
    #[serde(default)]
    reviews: Option<Connection<ReviewNode>>,
}

#[derive(Debug, Deserialize)]
struct Actor {
    #[serde(rename = "__typename", default)]
    typename: Option<String>,
    login: String,
}

#[derive(Debug, Deserialize)]
struct RepoRef {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
struct Connection<T> {
    #[serde(default)]
    page_info: PageInfo,
    #[serde(default)]
    nodes: Vec<Option<T>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentNode {
    database_id: Option<u64>,
    created_at: String,
    #[serde(default)]
    author: Option<Actor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewNode {
    database_id: Option<u64>,
    #[serde(default)]
    submitted_at: Option<String>,
    #[serde(default)]
    author: Option<Actor>,
}

/// One page of a search range.
pub struct SearchPage {
    pub items: Vec<IssueItem>,
    /// Nodes on this page, including any of a type the exporter does not read.
    pub nodes: u64,
    pub issue_count: u64,
    pub next: Option<String>,
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError {
        kind: ApiErrorKind::Decode,
        endpoint: ENDPOINT,
        detail: detail.into(),
    }
}

/// The login and bot flag of a GraphQL actor, by the rule REST uses too
/// ([`super::identity`]).
fn actor(a: Option<Actor>) -> (String, bool) {
    match a {
        Some(Actor { typename, login }) => {
            super::identity::account(Some(&login), typename.as_deref())
        }
        None => super::identity::account(None, None),
    }
}

fn time(s: &str, what: &str) -> Result<i64, ApiError> {
    parse_time(s).ok_or_else(|| bad(format!("bad {what} timestamp")))
}

fn comments(c: Connection<CommentNode>) -> Result<Listed<CommentInfo>, ApiError> {
    let mut items = Vec::with_capacity(c.nodes.len());
    for n in c.nodes.into_iter().flatten() {
        let id = n
            .database_id
            .ok_or_else(|| bad("comment without databaseId"))?;
        let created_at = time(&n.created_at, "comment")?;
        let (user, user_is_bot) = actor(n.author);
        items.push(CommentInfo {
            id,
            user,
            user_is_bot,
            created_at,
        });
    }
    let complete_from = if c.page_info.has_previous_page {
        Some(items.iter().map(|c| c.created_at).min().unwrap_or(i64::MAX))
    } else {
        None
    };
    Ok(Listed {
        items,
        complete_from,
    })
}

/// Every review, or `None` when older ones were cut off (a pending review may be submitted
/// long after it was started, so a partial list cannot be trusted for any window).
fn reviews(c: Connection<ReviewNode>) -> Result<Option<Vec<ReviewInfo>>, ApiError> {
    if c.page_info.has_previous_page {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(c.nodes.len());
    for n in c.nodes.into_iter().flatten() {
        let id = n
            .database_id
            .ok_or_else(|| bad("review without databaseId"))?;
        let submitted_at = match n.submitted_at.as_deref() {
            Some(s) => Some(time(s, "review")?),
            None => None,
        };
        let (user, user_is_bot) = actor(n.author);
        out.push(ReviewInfo {
            id,
            user,
            user_is_bot,
            submitted_at,
        });
    }
    Ok(Some(out))
}

fn item(node: Node) -> Result<Option<IssueItem>, ApiError> {
    let is_pull = match node.typename.as_str() {
        "PullRequest" => true,
        "Issue" => false,
        _ => return Ok(None),
    };
    let number = node.number.ok_or_else(|| bad("item without number"))?;
    let repo = node
        .repository
        .ok_or_else(|| bad("item without repository"))?
        .name;
    let created_at = time(node.created_at.as_deref().unwrap_or(""), "createdAt")?;
    let updated_at = time(node.updated_at.as_deref().unwrap_or(""), "updatedAt")?;
    let merged_at = match node.merged_at.as_deref() {
        Some(s) => Some(time(s, "mergedAt")?),
        None => None,
    };
    let (author, author_is_bot) = actor(node.author);
    let comments = node.comments.map(comments).transpose()?;
    let reviews = match node.reviews {
        Some(r) if is_pull => reviews(r)?,
        _ => None,
    };
    Ok(Some(IssueItem {
        repo,
        number,
        is_pull,
        author,
        author_is_bot,
        created_at,
        updated_at,
        merged_at,
        reviews,
        comments,
    }))
}

/// The search string of one time range (`hi` open-ended when `None`), newest update first.
pub fn search_string(org: &str, lo: i64, hi: Option<i64>) -> String {
    let updated = match hi {
        None => format!(">={}", format_time(lo)),
        Some(hi) => format!("{}..{}", format_time(lo), format_time(hi)),
    };
    format!("org:{org} updated:{updated} sort:updated-desc")
}

/// Fetches one page of the search `q`.
pub async fn search_page(
    client: &Client,
    url: &Url,
    q: &str,
    after: Option<&str>,
) -> Result<SearchPage, ApiError> {
    let variables = serde_json::json!({ "q": q, "first": PAGE_SIZE, "after": after });
    decode(post(client, url, SEARCH_QUERY, variables).await?)
}

fn decode(response: Envelope<Data>) -> Result<SearchPage, ApiError> {
    if !response.errors.is_empty() {
        return Err(api_error(&response.errors));
    }
    let search = response
        .data
        .ok_or_else(|| bad("GraphQL answer without data"))?
        .search;
    let nodes = search.nodes.len() as u64;
    let mut items = Vec::with_capacity(search.nodes.len());
    for node in search.nodes.into_iter().flatten() {
        if let Some(item) = item(node)? {
            items.push(item);
        }
    }
    Ok(SearchPage {
        items,
        nodes,
        issue_count: search.issue_count,
        next: search
            .page_info
            .has_next_page
            .then_some(search.page_info.end_cursor)
            .flatten(),
    })
}

/// A JSON string literal is a valid GraphQL string literal for names and timestamps.
fn literal(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The batched commit query: alias `r{i}` for `repos[i]` (name, since), all up to `until`.
pub fn commits_query(repos: &[(String, i64)], until: i64) -> String {
    let mut q = String::from("query($owner: String!) {\n");
    for (i, (name, since)) in repos.iter().enumerate() {
        let fields = HISTORY_FIELDS
            .replace("$SINCE", &literal(&format_time(*since)))
            .replace("$UNTIL", &literal(&format_time(until)));
        q.push_str(&format!(
            "  r{i}: repository(owner: $owner, name: {}) {{ {fields} }}\n",
            literal(name)
        ));
    }
    q.push('}');
    q
}

/// A batched commit answer: alias → repository.
type BatchData = std::collections::BTreeMap<String, Option<RepoCommits>>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepoCommits {
    #[serde(default)]
    default_branch_ref: Option<BranchRef>,
}

#[derive(Debug, Deserialize)]
struct BranchRef {
    #[serde(default)]
    target: Option<Target>,
}

#[derive(Debug, Deserialize)]
struct Target {
    #[serde(default)]
    history: Option<History>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct History {
    #[serde(default)]
    page_info: PageInfo,
    #[serde(default)]
    nodes: Vec<Option<CommitNode>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitNode {
    oid: String,
    authored_date: String,
    committed_date: String,
    #[serde(default)]
    author: Option<GitActor>,
    #[serde(default)]
    committer: Option<GitActor>,
}

#[derive(Debug, Deserialize)]
struct GitActor {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    user: Option<UserRef>,
}

#[derive(Debug, Deserialize)]
struct UserRef {
    login: String,
}

/// Whether `email` is a bot's noreply address (`ID+name[bot]@users.noreply.github.com`), which
/// GitHub links to the bot account: REST would show that bot where GraphQL shows `null`.
fn bot_noreply(email: &str) -> bool {
    let lower = email.to_ascii_lowercase();
    lower
        .strip_suffix("@users.noreply.github.com")
        .is_some_and(|local| local.ends_with("[bot]"))
}

/// One repository's commits, or `None` when REST must answer instead.
fn repo_commits(repo: Option<RepoCommits>) -> Result<Option<Vec<CommitInfo>>, ApiError> {
    let Some(repo) = repo else {
        return Ok(None);
    };
    // No default branch: an empty repository, as REST's 409.
    let Some(branch) = repo.default_branch_ref else {
        return Ok(Some(Vec::new()));
    };
    let Some(history) = branch.target.and_then(|t| t.history) else {
        return Ok(None);
    };
    if history.page_info.has_next_page {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(history.nodes.len());
    for c in history.nodes.into_iter().flatten() {
        let unlinked_bot = |a: &Option<GitActor>| {
            a.as_ref()
                .is_some_and(|a| a.user.is_none() && a.email.as_deref().is_some_and(bot_noreply))
        };
        if unlinked_bot(&c.author) || unlinked_bot(&c.committer) {
            return Ok(None);
        }
        let author_date = time(&c.authored_date, "authoredDate")?;
        let committer_date = time(&c.committed_date, "committedDate")?;
        let text = |a: &Option<GitActor>, email: bool| {
            a.as_ref()
                .and_then(|a| {
                    if email {
                        a.email.clone()
                    } else {
                        a.name.clone()
                    }
                })
                .unwrap_or_default()
        };
        out.push(CommitInfo {
            author_login: c
                .author
                .as_ref()
                .and_then(|a| a.user.as_ref())
                .map(|u| u.login.clone()),
            author_is_bot: false,
            committer_login: c
                .committer
                .as_ref()
                .and_then(|a| a.user.as_ref())
                .map(|u| u.login.clone()),
            author_name: text(&c.author, false),
            author_email: text(&c.author, true),
            committer_name: text(&c.committer, false),
            committer_email: text(&c.committer, true),
            author_date,
            committer_date,
            sha: c.oid,
        });
    }
    Ok(Some(out))
}

/// Decodes a batched commit answer for `names` (alias `r{i}` = `names[i]`). An error on one
/// alias leaves that repository to REST; an error without a path fails the batch.
fn decode_commits(
    response: Envelope<BatchData>,
    names: &[String],
) -> Result<CommitsByRepo, ApiError> {
    let (of_alias, general): (Vec<GraphqlError>, Vec<GraphqlError>) = response
        .errors
        .into_iter()
        .partition(|e| e.alias().is_some() && !e.rate_limited());
    if !general.is_empty() {
        return Err(api_error(&general));
    }
    let failed_aliases: std::collections::BTreeSet<&str> =
        of_alias.iter().filter_map(GraphqlError::alias).collect();
    let mut data = response
        .data
        .ok_or_else(|| bad("GraphQL answer without data"))?;
    let mut out = CommitsByRepo::new();
    for (i, name) in names.iter().enumerate() {
        let alias = format!("r{i}");
        let commits = if failed_aliases.contains(alias.as_str()) {
            None
        } else {
            repo_commits(data.remove(&alias).flatten())?
        };
        out.insert(name.clone(), commits);
    }
    Ok(out)
}

/// Lists the commits of `repos` (name, since) up to `until` in one request.
pub async fn commits_batch(
    client: &Client,
    url: &Url,
    repos: &[(String, i64)],
    until: i64,
) -> Result<CommitsByRepo, ApiError> {
    let query = commits_query(repos, until);
    let response = post(
        client,
        url,
        &query,
        serde_json::json!({ "owner": client.org }),
    )
    .await?;
    let names: Vec<String> = repos.iter().map(|(n, _)| n.clone()).collect();
    decode_commits(response, &names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_str(s: &str) -> Result<SearchPage, ApiError> {
        decode(serde_json::from_str(s).expect("test JSON"))
    }

    /// REST base URLs map to GitHub's GraphQL endpoints, GHES included.
    #[test]
    fn graphql_url_follows_the_rest_base() {
        let u = |s: &str| graphql_url(&Url::parse(s).unwrap()).unwrap().to_string();
        assert_eq!(
            u("https://api.github.com/"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            u("https://ghes.example/api/v3/"),
            "https://ghes.example/api/graphql"
        );
        assert_eq!(
            u("http://127.0.0.1:9/api/v3"),
            "http://127.0.0.1:9/api/graphql"
        );
        assert_eq!(u("http://127.0.0.1:9/x/"), "http://127.0.0.1:9/x/graphql");
    }

    /// A page maps to port items: bot logins get REST's suffix, a cut review list is unknown,
    /// a cut comment list says from when it is complete, pending reviews keep no time.
    #[test]
    fn page_maps_to_items() {
        let page = decode_str(
            r#"{"data":{"rateLimit":{"cost":1,"remaining":4999,"resetAt":"2026-11-23T15:00:00Z"},
            "search":{"issueCount":3,"pageInfo":{"hasNextPage":true,"endCursor":"Y3Vy"},
            "nodes":[
              {"__typename":"PullRequest","number":7,"createdAt":"2026-11-23T10:00:00Z",
               "updatedAt":"2026-11-23T12:00:00Z","mergedAt":"2026-11-23T11:00:00Z",
               "author":{"__typename":"Bot","login":"dependabot"},"repository":{"name":"api"},
               "comments":{"pageInfo":{"hasPreviousPage":true},"nodes":[
                 {"databaseId":5,"createdAt":"2026-11-23T10:30:00Z","author":null},
                 {"databaseId":6,"createdAt":"2026-11-23T10:40:00Z","author":{"__typename":"User","login":"ann"}}]},
               "reviews":{"pageInfo":{"hasPreviousPage":false},"nodes":[
                 {"databaseId":9,"state":"PENDING","submittedAt":null,"author":{"__typename":"User","login":"bob"}},
                 {"databaseId":10,"state":"APPROVED","submittedAt":"2026-11-23T10:50:00Z","author":{"__typename":"User","login":"cy"}}]}},
              {"__typename":"Issue","number":8,"createdAt":"2026-11-23T09:00:00Z",
               "updatedAt":"2026-11-23T09:30:00Z","author":{"__typename":"User","login":"dee"},
               "repository":{"name":"web"},
               "comments":{"pageInfo":{"hasPreviousPage":false},"nodes":[]}},
              {"__typename":"PullRequest","number":9,"createdAt":"2026-11-23T09:00:00Z",
               "updatedAt":"2026-11-23T09:30:00Z","mergedAt":null,"author":{"__typename":"User","login":"dee"},
               "repository":{"name":"web"},
               "comments":{"pageInfo":{"hasPreviousPage":false},"nodes":[]},
               "reviews":{"pageInfo":{"hasPreviousPage":true},"nodes":[]}}
            ]}}}"#,
        )
        .expect("decodes");
        assert_eq!(page.issue_count, 3);
        assert_eq!(page.nodes, 3);
        assert_eq!(page.next.as_deref(), Some("Y3Vy"));
        let pr = &page.items[0];
        assert_eq!(
            (pr.author.as_str(), pr.author_is_bot),
            ("dependabot[bot]", true)
        );
        assert!(pr.is_pull && pr.merged_at.is_some());
        let comments = pr.comments.as_ref().unwrap();
        assert_eq!(comments.items[0].user, "ghost");
        let t1030 = parse_time("2026-11-23T10:30:00Z").unwrap();
        assert_eq!(comments.complete_from, Some(t1030));
        assert!(comments.covers(t1030 + 1) && !comments.covers(t1030));
        let reviews = pr.reviews.as_ref().unwrap();
        assert_eq!(reviews[0].submitted_at, None);
        assert_eq!(reviews[1].user, "cy");
        let issue = &page.items[1];
        assert!(!issue.is_pull && issue.reviews.is_none());
        assert!(issue.comments.as_ref().unwrap().covers(0));
        assert!(
            page.items[2].reviews.is_none(),
            "a cut review list is not trusted"
        );
    }

    /// The batched query has one alias per repository with escaped literals.
    #[test]
    fn commits_query_aliases_each_repository() {
        let q = commits_query(&[("api".into(), 100), ("we\"b".into(), 200)], 300);
        assert!(q.starts_with("query($owner: String!) {"));
        assert!(q.contains(r#"r0: repository(owner: $owner, name: "api")"#));
        assert!(q.contains(r#"r1: repository(owner: $owner, name: "we\"b")"#));
        assert!(q.contains(r#"since: "1970-01-01T00:03:20Z", until: "1970-01-01T00:05:00Z""#));
        assert_eq!(q.matches("history(first: 100").count(), 2);
    }

    /// Each repository gets its commits, or `None` (REST) when GraphQL cannot be exact: a
    /// second page, an error on its alias, or a bot-linked commit shown without its account.
    #[test]
    fn batched_commits_decode_or_defer_to_rest() {
        let commit = |oid: &str, email: &str, user: &str| {
            format!(
                r#"{{"oid":"{oid}","authoredDate":"2026-11-23T10:00:00Z","committedDate":"2026-11-23T10:05:00Z",
                "author":{{"name":"N","email":"{email}","user":{user}}},
                "committer":{{"name":"GitHub","email":"noreply@github.com","user":{{"login":"web-flow"}}}}}}"#
            )
        };
        let history = |more: bool, nodes: Vec<String>| {
            format!(
                r#"{{"defaultBranchRef":{{"target":{{"history":{{"totalCount":{},"pageInfo":{{"hasNextPage":{more}}},"nodes":[{}]}}}}}}}}"#,
                nodes.len(),
                nodes.join(",")
            )
        };
        let body = format!(
            r#"{{"data":{{"r0":{},"r1":{},"r2":{},"r3":{{"defaultBranchRef":null}},"r4":null}},
            "errors":[{{"type":"NOT_FOUND","path":["r4"],"message":"Could not resolve"}}]}}"#,
            history(
                false,
                vec![
                    commit("a", "1+ann@users.noreply.github.com", r#"{"login":"ann"}"#),
                    commit("b", "x@corp.example", "null")
                ]
            ),
            history(true, vec![commit("c", "x@corp.example", "null")]),
            history(
                false,
                vec![commit(
                    "d",
                    "49699333+dependabot[bot]@users.noreply.github.com",
                    "null"
                )]
            ),
        );
        let names: Vec<String> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = decode_commits(serde_json::from_str(&body).unwrap(), &names).unwrap();
        let first = out["a"].as_ref().expect("answered");
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].author_login.as_deref(), Some("ann"));
        assert_eq!(first[0].committer_login.as_deref(), Some("web-flow"));
        assert_eq!(first[1].author_login, None);
        assert_eq!(first[1].author_email, "x@corp.example");
        assert!(first[0].committer_date > first[0].author_date);
        assert_eq!(out["b"], None, "a second page is left to REST");
        assert_eq!(out["c"], None, "a bot-linked commit is left to REST");
        assert_eq!(out["d"], Some(Vec::new()), "no default branch: empty");
        assert_eq!(out["e"], None, "an alias error is left to REST");

        let limited = r#"{"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded"}]}"#;
        let e = decode_commits(serde_json::from_str(limited).unwrap(), &names).unwrap_err();
        assert_eq!(e.kind, ApiErrorKind::RateLimited);
    }

    /// GraphQL errors are errors, a spent budget is a rate limit, and bad data never panics.
    #[test]
    fn errors_and_bad_data_are_errors() {
        let e = decode_str(
            r#"{"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded"}]}"#,
        )
        .err()
        .unwrap();
        assert_eq!(e.kind, ApiErrorKind::RateLimited);
        let e = decode_str(r#"{"errors":[{"message":"Field 'x' doesn't exist on type 'Query'"}]}"#)
            .err()
            .unwrap();
        assert_eq!(e.kind, ApiErrorKind::Decode);
        assert!(e.detail.contains("doesn't exist"));
        let e = decode_str(r#"{"data":null}"#).err().unwrap();
        assert_eq!(e.kind, ApiErrorKind::Decode);
        let e = decode_str(
            r#"{"data":{"search":{"issueCount":1,"pageInfo":{},"nodes":[
              {"__typename":"Issue","number":1,"createdAt":"yesterday","updatedAt":"2026-11-23T09:30:00Z",
               "repository":{"name":"web"}}]}}}"#,
        )
        .err()
        .unwrap();
        assert_eq!(e.kind, ApiErrorKind::Decode);
    }
}
