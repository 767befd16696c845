//! Accounts: `GET /users/{username}` (any account, its `type`), a user account's repositories
//! (`/users/{username}/repos`) and App installation (`/users/{username}/installation`), and the
//! token's own account (`GET /user`, `GET /user/repos`).
//!
//! The personal access token belongs to the world's first user-owned account when there is one
//! (`FakeConfig::user_owners`), else to an account that owns nothing ([`TOKEN_OWNER`]). Every
//! repository is public, so `/users/{username}/repos` and `/user/repos` list the same
//! repositories of a user account; the routes differ as on GitHub, where only the token
//! owner's `/user/repos` shows private ones.

use serde_json::json;

use super::repos::{installation, list_owned};
use super::{error, not_found, object, ApiReq, Reply};
use crate::auth::Credential;
use crate::render::{owner_json, user_json};
use crate::timefmt::iso;
use crate::world::{Org, OwnerKind, User, UserKind};

/// The login of the token's account when the world has no user-owned account.
pub const TOKEN_OWNER: &str = "fake-token-owner";

/// `GET /users/{username}`: an owner (organization or user account) or a user of the world.
pub fn user(req: &ApiReq<'_>, login: &str) -> Reply {
    let world = &req.state.world;
    let api = &req.state.api_url;
    if let Some(owner) = world.owner_by_login(login) {
        let mut v = owner_json(api, owner);
        let created = iso(1_200_000_000 + owner.idx as i64 * 86_400);
        let name = owner.login.clone();
        let extra = json!({
            "name": name, "company": null, "blog": "", "location": null, "email": null,
            "hireable": null, "bio": null, "twitter_username": null,
            "public_repos": owner.repos.len(), "public_gists": 0, "followers": 0,
            "following": 0, "created_at": created, "updated_at": created
        });
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        return object(200, &v);
    }
    match world.user_by_login(login) {
        Some(u) => object(200, &user_json(api, u)),
        None => not_found(),
    }
}

/// The user-owned account `login` (organizations are not user accounts here).
fn user_owner<'s>(req: &ApiReq<'s>, login: &str) -> Option<&'s Org> {
    req.state
        .world
        .owner_by_login(login)
        .filter(|o| o.kind == OwnerKind::User)
}

/// `GET /users/{username}/repos` (`type` = `owner` by default; `all` and `member` list the
/// same here): the public repositories of an account.
pub fn user_repos(req: &ApiReq<'_>, login: &str) -> Reply {
    let Some(owner) = req.state.world.owner_by_login(login) else {
        return not_found();
    };
    if let Credential::Installation { id } = req.cred {
        if owner.installation_id != *id {
            return not_found();
        }
    }
    let kind = req.q("type").unwrap_or("owner").to_string();
    if !["all", "owner", "member"].contains(&kind.as_str()) {
        return error(422, "Validation Failed");
    }
    list_owned(req, owner, "user-repos", "all", "full_name")
}

/// `GET /users/{username}/installation` (App JWT): the App's installation on a user account.
pub fn user_installation(req: &ApiReq<'_>, login: &str) -> Reply {
    match user_owner(req, login) {
        Some(owner) => installation(req, owner),
        None => not_found(),
    }
}

/// The account the personal access token belongs to, if it owns repositories here.
fn token_owner<'s>(req: &ApiReq<'s>) -> Option<&'s Org> {
    req.state
        .world
        .orgs
        .iter()
        .find(|o| o.kind == OwnerKind::User)
}

/// `GET /user`: the token's account; an installation token has none (403, as on GitHub).
pub fn authenticated_user(req: &ApiReq<'_>) -> Reply {
    if !matches!(req.cred, Credential::Pat) {
        return error(403, "Resource not accessible by integration");
    }
    match token_owner(req) {
        Some(owner) => user(req, &owner.login),
        None => object(
            200,
            &user_json(
                &req.state.api_url,
                &User {
                    login: TOKEN_OWNER.to_string(),
                    id: 1,
                    name: TOKEN_OWNER.to_string(),
                    kind: UserKind::User,
                    plain_email_local: String::new(),
                },
            ),
        ),
    }
}

/// `GET /user/repos` (`affiliation`, `visibility`, `type`, `sort`, `direction`, pagination):
/// the repositories of the token's account (affiliation `owner`, part of the default); the
/// worlds' orgs add nothing for `collaborator` or `organization_member`. GitHub's 422 when
/// `type` is combined with `visibility` or `affiliation`.
pub fn authenticated_user_repos(req: &ApiReq<'_>) -> Reply {
    if !matches!(req.cred, Credential::Pat) {
        return error(403, "Resource not accessible by integration");
    }
    if req.q("type").is_some() && (req.q("visibility").is_some() || req.q("affiliation").is_some())
    {
        return error(
            422,
            "If you specify visibility or affiliation, you cannot specify type.",
        );
    }
    let owned = req
        .q("affiliation")
        .is_none_or(|a| a.split(',').any(|a| a.trim() == "owner"));
    let visible = !matches!(req.q("visibility"), Some("private"));
    match token_owner(req) {
        Some(owner) if owned && visible => list_owned(req, owner, "user-own", "all", "full_name"),
        _ => object(200, &json!([])),
    }
}
