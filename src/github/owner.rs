//! The owner of a configured org's repositories, learnt from GitHub once and kept: its kind
//! (`GET /users/{owner}` → `"type": "Organization" | "User"`) and, for a user account scraped
//! with a token, whether the token is the owner's own (`GET /user`). What the kind decides is
//! in [`gse_actors::scrape::owner`]; the scraper's listings and searches, the App's
//! installation discovery and the Copilot reader all read the same [`Owner`].
//!
//! A failed resolution is not kept (the next call asks again); an owner GitHub does not know
//! (404) fails with an error that says so, shown as the org's last scrape error.

use gse_actors::scrape::owner::OwnerKind;
use gse_actors::scrape::port::{ApiError, ApiErrorKind};
use serde::Deserialize;

use super::client::{Answer, Client};

/// What is known of an owner once resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub kind: OwnerKind,
    /// The token belongs to the owner (only asked for a user account scraped with a token).
    pub token_is_owner: bool,
}

/// An org's owner: its login and, once asked, what GitHub said about it.
#[derive(Debug)]
pub struct Owner {
    login: String,
    resolved: tokio::sync::OnceCell<Resolved>,
}

#[derive(Debug, Deserialize)]
struct Account {
    login: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The endpoint label of the owner lookup.
pub const USERS_ENDPOINT: &str = "/users/{username}";
const USER_ENDPOINT: &str = "/user";

impl Owner {
    pub fn new(login: &str) -> Owner {
        Owner {
            login: login.to_string(),
            resolved: tokio::sync::OnceCell::new(),
        }
    }

    pub fn login(&self) -> &str {
        &self.login
    }

    /// The kind, if already resolved.
    pub fn known_kind(&self) -> Option<OwnerKind> {
        self.resolved.get().map(|r| r.kind)
    }

    /// What the owner is, asking GitHub through `client` the first time (one call at a time:
    /// concurrent callers wait for the same answer).
    pub async fn resolve(&self, client: &Client) -> Result<Resolved, ApiError> {
        self.resolved
            .get_or_try_init(|| self.ask(client))
            .await
            .copied()
    }

    async fn ask(&self, client: &Client) -> Result<Resolved, ApiError> {
        let login = &self.login;
        let url = client.url(&format!("users/{login}"), &[])?;
        let account = match client.get::<Account>(USERS_ENDPOINT, url, "core").await {
            Ok(Answer::Page(page)) => page.value,
            Ok(_) => return Err(odd(USERS_ENDPOINT, "no account in the answer")),
            Err(e) if e.kind == ApiErrorKind::NotFound => {
                return Err(ApiError {
                    kind: ApiErrorKind::NotFound,
                    endpoint: USERS_ENDPOINT,
                    detail: format!(
                        "owner {login} does not exist on GitHub (GET /users/{login} answered 404); check github.orgs"
                    ),
                })
            }
            Err(e) => return Err(e),
        };
        let Some(kind) = OwnerKind::from_github_type(&account.kind) else {
            return Err(ApiError {
                kind: ApiErrorKind::Config,
                endpoint: USERS_ENDPOINT,
                detail: format!(
                    "owner {login} is a {} account, neither an organization nor a user",
                    account.kind
                ),
            });
        };
        let token_is_owner = kind == OwnerKind::User
            && !client.credential.is_app()
            && self
                .token_login(client)
                .await?
                .is_some_and(|me| me.eq_ignore_ascii_case(login));
        tracing::info!(org = %login, owner_type = kind.as_str(), token_is_owner, "owner type resolved");
        Ok(Resolved {
            kind,
            token_is_owner,
        })
    }

    /// The login the token belongs to; `None` when GitHub does not say (a token that may not
    /// read its own profile: 401/403/404), which lists the owner's public repositories only.
    async fn token_login(&self, client: &Client) -> Result<Option<String>, ApiError> {
        let url = client.url("user", &[])?;
        match client.get::<Account>(USER_ENDPOINT, url, "core").await {
            Ok(Answer::Page(page)) => Ok(Some(page.value.login)),
            Ok(_) => Ok(None),
            Err(e)
                if matches!(
                    e.kind,
                    ApiErrorKind::NotFound | ApiErrorKind::Forbidden | ApiErrorKind::Unauthorized
                ) =>
            {
                tracing::warn!(org = %self.login, error = %e, "cannot tell whose token this is; listing the user's public repositories only");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

fn odd(endpoint: &'static str, detail: &str) -> ApiError {
    ApiError {
        kind: ApiErrorKind::Decode,
        endpoint,
        detail: detail.to_string(),
    }
}
