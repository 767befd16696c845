//! REST listings: the org's repositories (ETag-cached) and one repository's pull requests
//! (newest update first, stopping at `since`), a pull request's reviews and the conversation
//! comments created since a time.

use gse_actors::scrape::port::{ApiError, CommentInfo, IssueItem, RepoInfo, ReviewInfo};

use super::{decode_error, login, time, OrgApi};
use crate::github::wire::{self, format_time, parse_time};

impl OrgApi {
    pub(super) async fn list_repos(self) -> Result<Vec<RepoInfo>, ApiError> {
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

    pub(super) async fn pulls(self, repo: String, since: i64) -> Result<Vec<IssueItem>, ApiError> {
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

    pub(super) async fn reviews(
        self,
        repo: String,
        number: u64,
    ) -> Result<Vec<ReviewInfo>, ApiError> {
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

    pub(super) async fn comments(
        self,
        repo: String,
        since: i64,
    ) -> Result<Vec<CommentInfo>, ApiError> {
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
}
