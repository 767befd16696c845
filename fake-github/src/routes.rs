//! Path → route, with the route templates of GitHub's OpenAPI description (used as counter
//! keys: `GET /repos/{owner}/{repo}/commits`).

use actix_web::http::Method;

use crate::copilot::ReportKind;

/// A GHES-style prefix; every route is also served under it.
pub const GHES_PREFIX: &str = "/api/v3";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    OrgRepos {
        org: String,
    },
    InstallationRepos,
    OrgInstallation {
        org: String,
    },
    /// `GET /users/{username}`: any account, `type` says which kind.
    User {
        login: String,
    },
    UserRepos {
        login: String,
    },
    UserInstallation {
        login: String,
    },
    /// `GET /user`: the token's own account.
    AuthenticatedUser,
    AuthenticatedUserRepos,
    Commits {
        owner: String,
        repo: String,
    },
    Commit {
        owner: String,
        repo: String,
        sha: String,
    },
    Pulls {
        owner: String,
        repo: String,
    },
    PullReviews {
        owner: String,
        repo: String,
        number: String,
    },
    IssueComments {
        owner: String,
        repo: String,
    },
    StatsContributors {
        owner: String,
        repo: String,
    },
    AccessTokens {
        installation_id: String,
    },
    RateLimit,
    Meta,
    SearchIssues,
    /// `…/copilot/metrics/reports/{report}[/latest]` of an org or the enterprise.
    CopilotReport {
        scope: CopilotScope,
        kind: ReportKind,
    },
    CopilotSeats {
        org: String,
    },
}

/// Whose Copilot report a path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopilotScope {
    Org(String),
    Enterprise(String),
}

/// Which budget a route draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Core,
    Search,
    /// `GET /rate_limit` (free on GitHub too).
    Free,
    /// `POST /graphql`, in points (not a [`Route`]: see [`crate::graphql`]).
    Graphql,
}

impl Resource {
    /// The name in `x-ratelimit-resource` and `GET /rate_limit`.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Core | Resource::Free => "core",
            Resource::Search => "search",
            Resource::Graphql => "graphql",
        }
    }
}

impl Route {
    /// The OpenAPI path template.
    pub fn template(&self) -> &'static str {
        match self {
            Route::OrgRepos { .. } => "/orgs/{org}/repos",
            Route::InstallationRepos => "/installation/repositories",
            Route::OrgInstallation { .. } => "/orgs/{org}/installation",
            Route::User { .. } => "/users/{username}",
            Route::UserRepos { .. } => "/users/{username}/repos",
            Route::UserInstallation { .. } => "/users/{username}/installation",
            Route::AuthenticatedUser => "/user",
            Route::AuthenticatedUserRepos => "/user/repos",
            Route::Commits { .. } => "/repos/{owner}/{repo}/commits",
            Route::Commit { .. } => "/repos/{owner}/{repo}/commits/{ref}",
            Route::Pulls { .. } => "/repos/{owner}/{repo}/pulls",
            Route::PullReviews { .. } => "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
            Route::IssueComments { .. } => "/repos/{owner}/{repo}/issues/comments",
            Route::StatsContributors { .. } => "/repos/{owner}/{repo}/stats/contributors",
            Route::AccessTokens { .. } => "/app/installations/{installation_id}/access_tokens",
            Route::RateLimit => "/rate_limit",
            Route::Meta => "/meta",
            Route::SearchIssues => "/search/issues",
            Route::CopilotReport { scope, kind } => copilot_template(scope, *kind),
            Route::CopilotSeats { .. } => "/orgs/{org}/copilot/billing/seats",
        }
    }

    pub fn method(&self) -> Method {
        match self {
            Route::AccessTokens { .. } => Method::POST,
            _ => Method::GET,
        }
    }

    pub fn resource(&self) -> Resource {
        match self {
            Route::SearchIssues => Resource::Search,
            Route::RateLimit => Resource::Free,
            _ => Resource::Core,
        }
    }

    /// Routes that authenticate as the App (JWT) rather than with a token.
    pub fn needs_app_jwt(&self) -> bool {
        matches!(
            self,
            Route::AccessTokens { .. }
                | Route::OrgInstallation { .. }
                | Route::UserInstallation { .. }
        )
    }

    /// All routes' (method, template), for counters and docs.
    pub fn all_templates() -> [(&'static str, &'static str); 27] {
        [
            ("GET", "/orgs/{org}/repos"),
            ("GET", "/installation/repositories"),
            ("GET", "/orgs/{org}/installation"),
            ("GET", "/users/{username}"),
            ("GET", "/users/{username}/repos"),
            ("GET", "/users/{username}/installation"),
            ("GET", "/user"),
            ("GET", "/user/repos"),
            ("GET", "/repos/{owner}/{repo}/commits"),
            ("GET", "/repos/{owner}/{repo}/commits/{ref}"),
            ("GET", "/repos/{owner}/{repo}/pulls"),
            ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
            ("GET", "/repos/{owner}/{repo}/issues/comments"),
            ("GET", "/repos/{owner}/{repo}/stats/contributors"),
            ("POST", "/app/installations/{installation_id}/access_tokens"),
            ("GET", "/rate_limit"),
            ("GET", "/meta"),
            ("GET", "/search/issues"),
            (
                "GET",
                "/orgs/{org}/copilot/metrics/reports/organization-28-day/latest",
            ),
            (
                "GET",
                "/orgs/{org}/copilot/metrics/reports/users-28-day/latest",
            ),
            (
                "GET",
                "/orgs/{org}/copilot/metrics/reports/organization-1-day",
            ),
            ("GET", "/orgs/{org}/copilot/metrics/reports/users-1-day"),
            (
                "GET",
                "/enterprises/{enterprise}/copilot/metrics/reports/enterprise-28-day/latest",
            ),
            (
                "GET",
                "/enterprises/{enterprise}/copilot/metrics/reports/users-28-day/latest",
            ),
            (
                "GET",
                "/enterprises/{enterprise}/copilot/metrics/reports/enterprise-1-day",
            ),
            (
                "GET",
                "/enterprises/{enterprise}/copilot/metrics/reports/users-1-day",
            ),
            ("GET", "/orgs/{org}/copilot/billing/seats"),
        ]
    }
}

fn copilot_template(scope: &CopilotScope, kind: ReportKind) -> &'static str {
    match (scope, kind) {
        (CopilotScope::Org(_), ReportKind::Scope28) => {
            "/orgs/{org}/copilot/metrics/reports/organization-28-day/latest"
        }
        (CopilotScope::Org(_), ReportKind::Users28) => {
            "/orgs/{org}/copilot/metrics/reports/users-28-day/latest"
        }
        (CopilotScope::Org(_), ReportKind::Scope1) => {
            "/orgs/{org}/copilot/metrics/reports/organization-1-day"
        }
        (CopilotScope::Org(_), ReportKind::Users1) => {
            "/orgs/{org}/copilot/metrics/reports/users-1-day"
        }
        (CopilotScope::Enterprise(_), ReportKind::Scope28) => {
            "/enterprises/{enterprise}/copilot/metrics/reports/enterprise-28-day/latest"
        }
        (CopilotScope::Enterprise(_), ReportKind::Users28) => {
            "/enterprises/{enterprise}/copilot/metrics/reports/users-28-day/latest"
        }
        (CopilotScope::Enterprise(_), ReportKind::Scope1) => {
            "/enterprises/{enterprise}/copilot/metrics/reports/enterprise-1-day"
        }
        (CopilotScope::Enterprise(_), ReportKind::Users1) => {
            "/enterprises/{enterprise}/copilot/metrics/reports/users-1-day"
        }
    }
}

/// Strips the GHES prefix when present.
pub fn strip_prefix(path: &str) -> &str {
    match path.strip_prefix(GHES_PREFIX) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

/// Matches a (prefix-stripped) path. Trailing slashes are tolerated.
pub fn parse(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let s = |x: &str| x.to_string();
    Some(match segs.as_slice() {
        ["orgs", org, "repos"] => Route::OrgRepos { org: s(org) },
        ["orgs", org, "installation"] => Route::OrgInstallation { org: s(org) },
        ["installation", "repositories"] => Route::InstallationRepos,
        ["users", login] => Route::User { login: s(login) },
        ["users", login, "repos"] => Route::UserRepos { login: s(login) },
        ["users", login, "installation"] => Route::UserInstallation { login: s(login) },
        ["user"] => Route::AuthenticatedUser,
        ["user", "repos"] => Route::AuthenticatedUserRepos,
        ["repos", o, r, "commits"] => Route::Commits {
            owner: s(o),
            repo: s(r),
        },
        ["repos", o, r, "commits", sha] => Route::Commit {
            owner: s(o),
            repo: s(r),
            sha: s(sha),
        },
        ["repos", o, r, "pulls"] => Route::Pulls {
            owner: s(o),
            repo: s(r),
        },
        ["repos", o, r, "pulls", n, "reviews"] => Route::PullReviews {
            owner: s(o),
            repo: s(r),
            number: s(n),
        },
        ["repos", o, r, "issues", "comments"] => Route::IssueComments {
            owner: s(o),
            repo: s(r),
        },
        ["repos", o, r, "stats", "contributors"] => Route::StatsContributors {
            owner: s(o),
            repo: s(r),
        },
        ["app", "installations", id, "access_tokens"] => Route::AccessTokens {
            installation_id: s(id),
        },
        ["rate_limit"] => Route::RateLimit,
        ["meta"] => Route::Meta,
        ["search", "issues"] => Route::SearchIssues,
        ["orgs", org, "copilot", "billing", "seats"] => Route::CopilotSeats { org: s(org) },
        ["orgs", org, "copilot", "metrics", "reports", rest @ ..] => {
            let scope = CopilotScope::Org(s(org));
            let kind = match rest {
                ["organization-28-day", "latest"] => ReportKind::Scope28,
                ["users-28-day", "latest"] => ReportKind::Users28,
                ["organization-1-day"] => ReportKind::Scope1,
                ["users-1-day"] => ReportKind::Users1,
                _ => return None,
            };
            Route::CopilotReport { scope, kind }
        }
        ["enterprises", ent, "copilot", "metrics", "reports", rest @ ..] => {
            let scope = CopilotScope::Enterprise(s(ent));
            let kind = match rest {
                ["enterprise-28-day", "latest"] => ReportKind::Scope28,
                ["users-28-day", "latest"] => ReportKind::Users28,
                ["enterprise-1-day"] => ReportKind::Scope1,
                ["users-1-day"] => ReportKind::Users1,
                _ => return None,
            };
            Route::CopilotReport { scope, kind }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paths map to the OpenAPI templates, with or without the GHES prefix.
    #[test]
    fn paths_map_to_templates() {
        let r = parse(strip_prefix("/api/v3/repos/o/r/pulls/12/reviews")).map(|r| r.template());
        assert_eq!(r, Some("/repos/{owner}/{repo}/pulls/{pull_number}/reviews"));
        assert_eq!(
            parse("/repos/o/r/commits/abc").map(|r| r.template()),
            Some("/repos/{owner}/{repo}/commits/{ref}")
        );
        assert_eq!(parse("/api/v3x/meta"), None);
        assert_eq!(parse("/repos/o/r/branches"), None);
    }
}
