//! Who owns a configured org's repositories — an organization or a user account — and what
//! that decides: which listing names the repositories, which search qualifier selects the
//! owner's issues and pull requests, and whether Copilot reports exist for it.
//!
//! GitHub says the owner's type in `GET /users/{owner}` (`"type": "User" | "Organization"`);
//! the adapter asks once and keeps the answer. A user account has no `/orgs/{owner}/…`
//! endpoint at all, so every choice below is made from the known type, never by trying the
//! org endpoint and falling back on a 404.

/// The kind of account that owns the repositories of a configured `github.orgs[].org`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Organization,
    User,
}

impl OwnerKind {
    /// The kind GitHub's `type` field names (`"Organization"`, `"User"`); `None` for any other
    /// account type (a bot owns no repositories worth scraping).
    pub fn from_github_type(kind: &str) -> Option<OwnerKind> {
        match kind {
            "Organization" => Some(OwnerKind::Organization),
            "User" => Some(OwnerKind::User),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Organization => "organization",
            OwnerKind::User => "user",
        }
    }
}

/// How the scraper authenticates for an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// A personal access token (classic or fine-grained).
    Token,
    /// A GitHub App installation token.
    App,
}

/// Which GitHub listing names an owner's repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoListing {
    /// `GET /orgs/{org}/repos?type=all`: every repository the credential can see.
    Organization,
    /// `GET /installation/repositories`: what the App installation on the account can see,
    /// private ones included.
    Installation,
    /// `GET /user/repos?affiliation=owner`: the token owner's own repositories, private ones
    /// included.
    TokenOwner,
    /// `GET /users/{owner}/repos?type=owner`: another user's public repositories (all a token
    /// of someone else can see there).
    PublicOfUser,
}

/// The listing for an owner of `kind` under `auth`; `token_is_owner` says whether the token
/// belongs to the owner itself (`GET /user`), which only matters for a user account.
pub fn repo_listing(kind: OwnerKind, auth: AuthKind, token_is_owner: bool) -> RepoListing {
    match (kind, auth) {
        (OwnerKind::Organization, _) => RepoListing::Organization,
        (OwnerKind::User, AuthKind::App) => RepoListing::Installation,
        (OwnerKind::User, AuthKind::Token) if token_is_owner => RepoListing::TokenOwner,
        (OwnerKind::User, AuthKind::Token) => RepoListing::PublicOfUser,
    }
}

/// The search qualifier that selects the owner's issues and pull requests: `org:` names
/// organizations only (GitHub refuses it for a user account), `user:` a user account.
pub fn search_qualifier(kind: OwnerKind) -> &'static str {
    match kind {
        OwnerKind::Organization => "org",
        OwnerKind::User => "user",
    }
}

/// Why the Copilot reports of an owner of `kind` are not asked for, if so.
pub fn copilot_skip_reason(kind: OwnerKind) -> Option<&'static str> {
    match kind {
        OwnerKind::Organization => None,
        OwnerKind::User => Some(
            "skipped: owner is a user account; Copilot usage reports exist for organizations and enterprises only",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_follows_owner_and_credential() {
        use AuthKind::*;
        use OwnerKind::*;
        for auth in [Token, App] {
            for mine in [false, true] {
                assert_eq!(
                    repo_listing(Organization, auth, mine),
                    RepoListing::Organization
                );
            }
        }
        assert_eq!(repo_listing(User, App, false), RepoListing::Installation);
        assert_eq!(repo_listing(User, App, true), RepoListing::Installation);
        assert_eq!(repo_listing(User, Token, true), RepoListing::TokenOwner);
        assert_eq!(repo_listing(User, Token, false), RepoListing::PublicOfUser);
    }

    #[test]
    fn search_and_copilot_follow_the_owner() {
        assert_eq!(search_qualifier(OwnerKind::Organization), "org");
        assert_eq!(search_qualifier(OwnerKind::User), "user");
        assert_eq!(copilot_skip_reason(OwnerKind::Organization), None);
        let reason = copilot_skip_reason(OwnerKind::User).unwrap_or_default();
        assert!(reason.starts_with("skipped: owner is a user account"));
    }

    #[test]
    fn github_types_map_to_kinds() {
        assert_eq!(
            OwnerKind::from_github_type("Organization"),
            Some(OwnerKind::Organization)
        );
        assert_eq!(OwnerKind::from_github_type("User"), Some(OwnerKind::User));
        assert_eq!(OwnerKind::from_github_type("Bot"), None);
        assert_eq!(OwnerKind::from_github_type("user"), None);
    }
}
