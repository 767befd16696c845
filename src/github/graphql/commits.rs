//! Default-branch commits over GraphQL: up to [`COMMIT_BATCH`] repositories in one request
//! (one alias per repository). A repository whose answer might differ from REST's is left to
//! REST: more than one page, an error on its alias, or a commit GitHub linked to a bot
//! (GraphQL's `GitActor.user` is typed `User`, so REST's bot author shows as `null`).

use gse_actors::scrape::port::{ApiError, CommitInfo, CommitsByRepo};
use serde::Deserialize;
use url::Url;

use super::error::{api_error, bad, GraphqlError};
use super::{post, time, Envelope, PageInfo};
use crate::github::client::Client;
use crate::github::wire::format_time;

/// Repositories per batched commit query (25 history connections cost one point).
pub const COMMIT_BATCH: usize = 25;

/// The fields of one repository's commit history, for [`commits_query`].
const HISTORY_FIELDS: &str = "defaultBranchRef { target { ... on Commit { history(first: 100, since: $SINCE, until: $UNTIL) { totalCount pageInfo { hasNextPage } nodes { oid authoredDate committedDate author { name email user { login } } committer { name email user { login } } } } } } }";

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
    use gse_actors::scrape::port::ApiErrorKind;

    use super::*;

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
}
