//! REST listings: the owner's repositories (ETag-cached) and one repository's pull requests
//! (newest update first, stopping at `since`), a pull request's reviews and the conversation
//! comments created since a time.
//!
//! Which listing names the repositories depends on the owner and the credential
//! ([`repo_listing`]): an organization's `GET /orgs/{org}/repos?type=all` (App or token); for a
//! user account, which has no `/orgs/` endpoint, the App installation's `GET
//! /installation/repositories` (what the App was granted, private repositories included), the
//! token owner's own `GET /user/repos?affiliation=owner` (private ones included), or, with
//! someone else's token, `GET /users/{user}/repos?type=owner` (public ones only, all GitHub
//! shows that token).

use gse_actors::scrape::owner::{repo_listing, AuthKind, RepoListing};
use gse_actors::scrape::port::{ApiError, CommentInfo, IssueItem, RepoInfo, ReviewInfo};

use super::{decode_error, login, time, OrgApi};
use crate::github::wire::{self, format_time, parse_time};

impl OrgApi {
    /// The owner's repositories, from the listing its kind and the credential call for
    /// ([`repo_listing`]); the owner is asked once ([`crate::github::owner`]).
    pub(super) async fn list_repos(self) -> Result<Vec<RepoInfo>, ApiError> {
        let c = &self.client;
        let owner = c.owner.resolve(c).await?;
        let auth = if c.credential.is_app() {
            AuthKind::App
        } else {
            AuthKind::Token
        };
        let per_page = ("per_page", "100");
        let mut repos = Vec::new();
        match repo_listing(owner.kind, auth, owner.token_is_owner) {
            RepoListing::Organization => {
                let url = c.url(
                    &format!("orgs/{}/repos", c.org),
                    &[("type", "all"), ("sort", "full_name"), per_page],
                )?;
                c.paginate_cached::<Vec<wire::Repo>>("/orgs/{org}/repos", url, "core", |page| {
                    repos.extend(page)
                })
                .await?;
            }
            RepoListing::Installation => {
                let url = c.url("installation/repositories", &[per_page])?;
                c.paginate_cached::<wire::InstallationRepos>(
                    "/installation/repositories",
                    url,
                    "core",
                    |page| repos.extend(page.repositories),
                )
                .await?;
            }
            RepoListing::TokenOwner => {
                let url = c.url(
                    "user/repos",
                    &[("affiliation", "owner"), ("sort", "full_name"), per_page],
                )?;
                c.paginate_cached::<Vec<wire::Repo>>("/user/repos", url, "core", |page| {
                    repos.extend(page)
                })
                .await?;
            }
            RepoListing::PublicOfUser => {
                let url = c.url(
                    &format!("users/{}/repos", c.org),
                    &[("type", "owner"), ("sort", "full_name"), per_page],
                )?;
                c.paginate_cached::<Vec<wire::Repo>>(
                    "/users/{username}/repos",
                    url,
                    "core",
                    |page| repos.extend(page),
                )
                .await?;
            }
        }
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
