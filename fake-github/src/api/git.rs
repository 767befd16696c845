//! Commits of the default branch, one commit with stats, and `stats/contributors`.

use std::sync::atomic::Ordering;

use actix_web::web::Bytes;

use super::{array_page, error, find_repo, time_param, ApiReq, Reply};
use crate::render::{commit_json, contributor_json};

/// `GET /repos/{owner}/{repo}/commits` (`sha`, `since`, `until` on the committer date, inclusive).
pub fn commits(req: &ApiReq<'_>, owner: &str, name: &str) -> Reply {
    let repo = match find_repo(req, owner, name) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let cached = req.state.store.repo(repo.gid, req.now);
    let snap = &cached.snap;
    if snap.is_empty_repo() {
        return error(409, "Git Repository is empty.");
    }
    let (since, until) = match (time_param(req, "since"), time_param(req, "until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let start = match req.q("sha") {
        None | Some("") => 0,
        Some(s)
            if s == repo.default_branch
                || s == format!("refs/heads/{}", repo.default_branch)
                || s == "HEAD" =>
        {
            0
        }
        Some(s) => match snap
            .commits
            .iter()
            .position(|c| c.sha == s || (s.len() >= 7 && c.sha.starts_with(s)))
        {
            Some(p) => p,
            None => return error(404, &format!("No commit found for SHA: {s}")),
        },
    };
    let pr = req.page_req();
    let key = format!(
        "commits|{start}|{since:?}|{until:?}|{}|{}",
        pr.per_page, pr.page
    );
    let page = cached.pages.get_or_render(key, || {
        let idx = snap.commits_between(start, since, until);
        let ctx = req.ctx();
        array_page(
            pr.slice(&idx).iter().map(|i| {
                commit_json(
                    &ctx,
                    repo,
                    &snap.commits[*i],
                    snap.commits.get(i + 1),
                    false,
                )
            }),
            pr.last_page(idx.len()),
        )
    });
    Reply::Page {
        status: 200,
        page,
        page_no: pr.page,
        paginate: true,
    }
}

/// `GET /repos/{owner}/{repo}/commits/{ref}` with `stats`.
pub fn commit(req: &ApiReq<'_>, owner: &str, name: &str, sha: &str) -> Reply {
    let repo = match find_repo(req, owner, name) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let cached = req.state.store.repo(repo.gid, req.now);
    let snap = &cached.snap;
    if snap.is_empty_repo() {
        return error(409, "Git Repository is empty.");
    }
    let pos = if sha == repo.default_branch || sha == "HEAD" {
        Some(0)
    } else {
        snap.commits
            .iter()
            .position(|c| c.sha == sha || (sha.len() >= 7 && c.sha.starts_with(sha)))
    };
    let Some(pos) = pos else {
        return error(422, &format!("No commit found for SHA: {sha}"));
    };
    let key = format!("commit|{pos}");
    let page = cached.pages.get_or_render(key, || {
        let ctx = req.ctx();
        let v = commit_json(
            &ctx,
            repo,
            &snap.commits[pos],
            snap.commits.get(pos + 1),
            true,
        );
        crate::store::Page::new(serde_json::to_vec(&v).unwrap_or_default(), 1)
    });
    Reply::Page {
        status: 200,
        page,
        page_no: 1,
        paginate: false,
    }
}

/// `GET /repos/{owner}/{repo}/stats/contributors`: 204 for an empty repository; 202 for the
/// first `stats_compute_calls` calls per repository ("computing"), then 200.
pub fn stats_contributors(req: &ApiReq<'_>, owner: &str, name: &str) -> Reply {
    let repo = match find_repo(req, owner, name) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let cached = req.state.store.repo(repo.gid, req.now);
    if cached.snap.is_empty_repo() {
        return Reply::Plain {
            status: 204,
            body: Bytes::new(),
        };
    }
    let calls = req.state.stats_calls[repo.gid].fetch_add(1, Ordering::Relaxed);
    if calls < req.state.config.stats_compute_calls {
        return Reply::Plain {
            status: 202,
            body: Bytes::from_static(b"{}"),
        };
    }
    let page = cached.pages.get_or_render("stats".to_string(), || {
        let ctx = req.ctx();
        array_page(
            cached
                .stats(&req.state.world)
                .iter()
                .map(|row| contributor_json(&ctx, row)),
            1,
        )
    });
    Reply::Page {
        status: 200,
        page,
        page_no: 1,
        paginate: false,
    }
}
