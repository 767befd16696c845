//! The GitHub REST endpoints. Each handler is synchronous and cheap on a cache hit: it looks up
//! the snapshot covering "now" and a rendered page keyed by its normalised query; the pipeline in
//! [`crate::server`] adds auth, limits, ETag/304, `Link` and rate headers around it.

mod copilot;
mod git;
mod misc;
mod pulls;
mod repos;
pub(crate) mod search;
mod users;

use std::sync::Arc;

use actix_web::web::Bytes;
use serde_json::Value;

use crate::auth::Credential;
use crate::pagination::PageReq;
use crate::render::{error_body, Ctx};
use crate::routes::Route;
use crate::state::State;
use crate::store::Page;
use crate::world::Repo;

/// One API request as the handlers see it.
pub struct ApiReq<'a> {
    pub state: &'a State,
    pub route: &'a Route,
    pub query: &'a [(String, String)],
    pub now: f64,
    pub cred: &'a Credential,
}

impl ApiReq<'_> {
    /// The last value of a query parameter.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn page_req(&self) -> PageReq {
        PageReq::from_query(|k| self.q(k).map(str::to_string))
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            world: &self.state.world,
            api: &self.state.api_url,
        }
    }
}

/// What a handler answers.
pub enum Reply {
    /// A 2xx with an ETag; `paginate` adds a `Link` header when there is more than one page.
    Page {
        status: u16,
        page: Arc<Page>,
        page_no: usize,
        paginate: bool,
    },
    /// Any other answer (errors, 202, 204), without ETag.
    Plain { status: u16, body: Bytes },
}

impl Reply {
    pub fn status(&self) -> u16 {
        match self {
            Reply::Page { status, .. } | Reply::Plain { status, .. } => *status,
        }
    }
}

pub fn error(status: u16, message: &str) -> Reply {
    Reply::Plain {
        status,
        body: json_bytes(&error_body(message, status)),
    }
}

pub fn not_found() -> Reply {
    error(404, "Not Found")
}

pub fn json_bytes(v: &Value) -> Bytes {
    // Serialising a `Value` cannot fail (string keys only).
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// A single object (not paginated), rendered fresh.
pub fn object(status: u16, v: &Value) -> Reply {
    Reply::Page {
        status,
        page: Arc::new(Page::new(serde_json::to_vec(v).unwrap_or_default(), 1)),
        page_no: 1,
        paginate: false,
    }
}

/// Renders a JSON array of `items` as one page.
pub fn array_page(items: impl Iterator<Item = Value>, last_page: usize) -> Page {
    let arr: Vec<Value> = items.collect();
    Page::new(
        serde_json::to_vec(&arr).unwrap_or_default(),
        last_page as u32,
    )
}

/// Resolves `owner/repo`, honouring an installation token's org scope (others are 404 as on
/// GitHub).
pub fn find_repo<'s>(req: &ApiReq<'s>, owner: &str, name: &str) -> Result<&'s Repo, Reply> {
    let world = &req.state.world;
    let repo = world.repo_by_name(owner, name).ok_or_else(not_found)?;
    if let Credential::Installation { id } = req.cred {
        if world.orgs[repo.org].installation_id != *id {
            return Err(not_found());
        }
    }
    Ok(repo)
}

/// Parses an ISO 8601 query parameter; `Err` is GitHub's 422.
pub fn time_param(req: &ApiReq<'_>, key: &str) -> Result<Option<f64>, Reply> {
    match req.q(key) {
        None | Some("") => Ok(None),
        Some(v) => crate::timefmt::parse_iso(v)
            .map(Some)
            .ok_or_else(|| error(422, &format!("Invalid value for `{key}`: {v}"))),
    }
}

pub fn handle(req: &ApiReq<'_>) -> Reply {
    match req.route {
        Route::OrgRepos { org } => repos::org_repos(req, org),
        Route::InstallationRepos => repos::installation_repos(req),
        Route::OrgInstallation { org } => repos::org_installation(req, org),
        Route::User { login } => users::user(req, login),
        Route::UserRepos { login } => users::user_repos(req, login),
        Route::UserInstallation { login } => users::user_installation(req, login),
        Route::AuthenticatedUser => users::authenticated_user(req),
        Route::AuthenticatedUserRepos => users::authenticated_user_repos(req),
        Route::Commits { owner, repo } => git::commits(req, owner, repo),
        Route::Commit { owner, repo, sha } => git::commit(req, owner, repo, sha),
        Route::StatsContributors { owner, repo } => git::stats_contributors(req, owner, repo),
        Route::Pulls { owner, repo } => pulls::pulls(req, owner, repo),
        Route::PullReviews {
            owner,
            repo,
            number,
        } => pulls::reviews(req, owner, repo, number),
        Route::IssueComments { owner, repo } => pulls::issue_comments(req, owner, repo),
        Route::AccessTokens { installation_id } => misc::access_tokens(req, installation_id),
        Route::RateLimit => misc::rate_limit(req),
        Route::Meta => misc::meta(req),
        Route::SearchIssues => search::search_issues(req),
        Route::CopilotReport { scope, kind } => copilot::report(req, scope, *kind),
        Route::CopilotSeats { org } => copilot::seats(req, org),
    }
}
