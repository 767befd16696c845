//! Commit listings: one repository over REST `GET /repos/{owner}/{repo}/commits` (optionally
//! capped and filtered by author date), many repositories over GraphQL in batches.

use gse_actors::scrape::port::{ApiError, CommitInfo, CommitsByRepo};

use super::{decode_error, OrgApi};
use crate::github::graphql;
use crate::github::wire::{self, format_time, parse_time};

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
    /// Commits of many repositories over GraphQL, [`graphql::COMMIT_BATCH`] per request.
    /// A failed batch stops the batching (see [`super::fallback::GraphqlEndpoint::failed`]); what was not
    /// answered is listed over REST.
    pub(super) async fn commits_many(
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

    pub(super) async fn commits(
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
}
