//! Repository listings of an owner and of an installation, and an owner's App installation.

use serde_json::json;

use super::{array_page, error, not_found, object, ApiReq, Reply};
use crate::auth::Credential;
use crate::render::{owner_json, repo_json};
use crate::store::CachedRepo;
use crate::timefmt::iso;
use crate::world::{Org, OwnerKind};

/// `GET /orgs/{org}/repos` (`type`, `sort`, `direction`, pagination).
pub fn org_repos(req: &ApiReq<'_>, org_login: &str) -> Reply {
    let world = &req.state.world;
    let Some(org) = world.org_by_login(org_login) else {
        return not_found();
    };
    if let Credential::Installation { id } = req.cred {
        if org.installation_id != *id {
            return not_found();
        }
    }
    let kind = req.q("type").unwrap_or("all").to_string();
    list_owned(req, org, "repos", &kind, "created")
}

/// One page of `owner`'s repositories filtered by `type` (`forks`, `sources`; `private` and
/// `internal` match nothing, every repository being public; anything else matches all),
/// sorted by the request's `sort` (default `default_sort`) and `direction` (GitHub's default:
/// `asc` for `full_name`, else `desc`). `tag` keeps the listings' cached pages apart.
pub(super) fn list_owned(
    req: &ApiReq<'_>,
    owner: &Org,
    tag: &str,
    kind: &str,
    default_sort: &str,
) -> Reply {
    let world = &req.state.world;
    let sort = req.q("sort").unwrap_or(default_sort).to_string();
    if !["created", "updated", "pushed", "full_name"].contains(&sort.as_str()) {
        return error(422, "Validation Failed");
    }
    let direction = req
        .q("direction")
        .unwrap_or(if sort == "full_name" { "asc" } else { "desc" })
        .to_string();
    let pr = req.page_req();
    let cached = req.state.store.org(owner.idx, req.now);
    let key = format!(
        "{tag}|{kind}|{sort}|{direction}|{}|{}",
        pr.per_page, pr.page
    );
    let page = cached.pages.get_or_render(key, || {
        let mut list: Vec<&CachedRepo> = cached
            .repos
            .iter()
            .map(|r| r.as_ref())
            .filter(|r| {
                let repo = &world.repos[r.snap.repo];
                match kind {
                    "forks" => repo.fork,
                    "sources" => !repo.fork,
                    "private" | "internal" => false,
                    _ => true,
                }
            })
            .collect();
        sort_repos(req, &mut list, &sort, &direction);
        let ctx = req.ctx();
        array_page(
            pr.slice(&list)
                .iter()
                .map(|r| repo_json(&ctx, &world.repos[r.snap.repo], &r.snap)),
            pr.last_page(list.len()),
        )
    });
    Reply::Page {
        status: 200,
        page,
        page_no: pr.page,
        paginate: true,
    }
}

fn sort_repos(req: &ApiReq<'_>, list: &mut [&CachedRepo], sort: &str, direction: &str) {
    let world = &req.state.world;
    list.sort_by(|a, b| {
        let (ra, rb) = (&world.repos[a.snap.repo], &world.repos[b.snap.repo]);
        let ord = match sort {
            "updated" => a.snap.updated_at.cmp(&b.snap.updated_at),
            "pushed" => a.snap.pushed_at.cmp(&b.snap.pushed_at),
            "full_name" => ra.name.to_lowercase().cmp(&rb.name.to_lowercase()),
            _ => ra.created_at.cmp(&rb.created_at),
        }
        .then_with(|| ra.id.cmp(&rb.id));
        if direction == "asc" {
            ord
        } else {
            ord.reverse()
        }
    });
}

/// `GET /installation/repositories`: only with an installation token.
pub fn installation_repos(req: &ApiReq<'_>) -> Reply {
    let Credential::Installation { id } = req.cred else {
        return error(403, "You must authenticate with an installation access token in order to list repositories for an installation.");
    };
    let world = &req.state.world;
    let Some(org) = world.org_by_installation(*id) else {
        return not_found();
    };
    let pr = req.page_req();
    let cached = req.state.store.org(org.idx, req.now);
    let key = format!("installation|{}|{}", pr.per_page, pr.page);
    let page = cached.pages.get_or_render(key, || {
        let ctx = req.ctx();
        let repos: Vec<_> = pr.slice(&cached.repos).iter().map(|r| repo_json(&ctx, &world.repos[r.snap.repo], &r.snap)).collect();
        let body = json!({"total_count": cached.repos.len(), "repository_selection": "all", "repositories": repos});
        crate::store::Page::new(serde_json::to_vec(&body).unwrap_or_default(), pr.last_page(cached.repos.len()) as u32)
    });
    Reply::Page {
        status: 200,
        page,
        page_no: pr.page,
        paginate: true,
    }
}

/// `GET /orgs/{org}/installation` (App JWT).
pub fn org_installation(req: &ApiReq<'_>, org_login: &str) -> Reply {
    match req.state.world.org_by_login(org_login) {
        Some(org) => installation(req, org),
        None => not_found(),
    }
}

/// The App installation on `org` (an organization or a user account), for an App JWT.
pub(super) fn installation(req: &ApiReq<'_>, org: &Org) -> Reply {
    let Credential::App { app_id } = req.cred else {
        return error(401, "A JSON web token could not be decoded");
    };
    let api = &req.state.api_url;
    let created = iso(1_600_000_000 + org.idx as i64 * 86_400);
    object(
        200,
        &json!({
            "id": org.installation_id,
            "account": owner_json(api, org),
            "repository_selection": "all",
            "access_tokens_url": format!("{api}/app/installations/{}/access_tokens", org.installation_id),
            "repositories_url": format!("{api}/installation/repositories"),
            "html_url": match org.kind {
                OwnerKind::Organization => format!("https://github.com/organizations/{}/settings/installations/{}", org.login, org.installation_id),
                OwnerKind::User => format!("https://github.com/settings/installations/{}", org.installation_id),
            },
            "app_id": app_id,
            "app_slug": "github-stats-exporter",
            "target_id": org.id,
            "target_type": match org.kind {
                OwnerKind::Organization => "Organization",
                OwnerKind::User => "User",
            },
            "permissions": {"metadata": "read", "contents": "read", "pull_requests": "read", "issues": "read"},
            "events": [],
            "created_at": created,
            "updated_at": created,
            "single_file_name": null,
            "has_multiple_single_files": false,
            "single_file_paths": [],
            "suspended_by": null,
            "suspended_at": null
        }),
    )
}
