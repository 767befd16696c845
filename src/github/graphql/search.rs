//! The org-wide search over GraphQL: one query per 50 issues and pull requests updated in a
//! time range, carrying each pull request's reviews and each item's newest conversation
//! comments. REST needs one `/pulls/{n}/reviews` call per updated pull request for the same
//! facts, so this is what keeps a cold cycle of a busy org within a few requests per
//! repository. A bot's GraphQL `login` lacks REST's `[bot]` suffix; [`crate::github::identity`]
//! adds it.

use gse_actors::scrape::port::{ApiError, CommentInfo, IssueItem, Listed, ReviewInfo};
use serde::Deserialize;
use url::Url;

use super::error::{api_error, bad};
use super::{post, time, Envelope, PageInfo};
use crate::github::client::Client;
use crate::github::wire::format_time;

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

/// The login and bot flag of a GraphQL actor, by the rule REST uses too
/// ([`crate::github::identity`]).
fn actor(a: Option<Actor>) -> (String, bool) {
    match a {
        Some(Actor { typename, login }) => {
            crate::github::identity::account(Some(&login), typename.as_deref())
        }
        None => crate::github::identity::account(None, None),
    }
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

/// The search string of one time range (`hi` open-ended when `None`), newest update first;
/// `qualifier` is `org` or `user` (see [`gse_actors::scrape::owner::search_qualifier`]).
pub fn search_string(qualifier: &str, org: &str, lo: i64, hi: Option<i64>) -> String {
    let updated = match hi {
        None => format!(">={}", format_time(lo)),
        Some(hi) => format!("{}..{}", format_time(lo), format_time(hi)),
    };
    format!("{qualifier}:{org} updated:{updated} sort:updated-desc")
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

#[cfg(test)]
mod tests {
    use gse_actors::scrape::port::ApiErrorKind;

    use super::*;
    use crate::github::wire::parse_time;

    fn decode_str(s: &str) -> Result<SearchPage, ApiError> {
        decode(serde_json::from_str(s).expect("test JSON"))
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
