//! Pull requests, their reviews, and the repository's issue comments.

use super::{array_page, error, find_repo, not_found, time_param, ApiReq, Reply};
use crate::render::{comment_json, pull_json, review_json};
use crate::snapshot::{CommentView, PullView};

/// `GET /repos/{owner}/{repo}/pulls` (`state`, `sort`, `direction`, pagination).
pub fn pulls(req: &ApiReq<'_>, owner: &str, name: &str) -> Reply {
    let repo = match find_repo(req, owner, name) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let state = req.q("state").unwrap_or("open").to_string();
    if !["open", "closed", "all"].contains(&state.as_str()) {
        return error(422, "Validation Failed");
    }
    let sort = req.q("sort").unwrap_or("created").to_string();
    if !["created", "updated", "popularity", "long-running"].contains(&sort.as_str()) {
        return error(422, "Validation Failed");
    }
    // GitHub: desc when sort is created or not given, otherwise asc.
    let default_dir = if req.q("sort").is_none() || sort == "created" {
        "desc"
    } else {
        "asc"
    };
    let direction = req.q("direction").unwrap_or(default_dir).to_string();
    let pr = req.page_req();
    let cached = req.state.store.repo(repo.gid, req.now);
    let snap = &cached.snap;
    let key = format!(
        "pulls|{state}|{sort}|{direction}|{}|{}",
        pr.per_page, pr.page
    );
    let page = cached.pages.get_or_render(key, || {
        let mut list: Vec<&PullView> = snap
            .pulls
            .iter()
            .filter(|p| match state.as_str() {
                "open" => p.is_open(),
                "closed" => !p.is_open(),
                _ => true,
            })
            .collect();
        list.sort_by(|a, b| {
            let ord = match sort.as_str() {
                "updated" => a.updated_at.cmp(&b.updated_at),
                _ => a.pull.created_at.cmp(&b.pull.created_at),
            }
            .then_with(|| a.pull.number.cmp(&b.pull.number));
            if direction == "asc" {
                ord
            } else {
                ord.reverse()
            }
        });
        let ctx = req.ctx();
        let base_sha = snap.commits.first().map(|c| c.sha.as_str()).unwrap_or("");
        array_page(
            pr.slice(&list)
                .iter()
                .map(|p| pull_json(&ctx, repo, snap, p, base_sha)),
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

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews`, oldest first; pending reviews have
/// no `submitted_at`.
pub fn reviews(req: &ApiReq<'_>, owner: &str, name: &str, number: &str) -> Reply {
    let repo = match find_repo(req, owner, name) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let Ok(number) = number.parse::<u64>() else {
        return not_found();
    };
    let cached = req.state.store.repo(repo.gid, req.now);
    let snap = &cached.snap;
    let Ok(pos) = snap.pulls.binary_search_by_key(&number, |p| p.pull.number) else {
        return not_found();
    };
    let pr = req.page_req();
    let key = format!("reviews|{number}|{}|{}", pr.per_page, pr.page);
    let page = cached.pages.get_or_render(key, || {
        let pv = &snap.pulls[pos];
        let mut list: Vec<_> = pv.pull.reviews.iter().collect();
        list.sort_by_key(|r| (r.visible_from, r.id));
        let ctx = req.ctx();
        array_page(
            pr.slice(&list)
                .iter()
                .map(|r| review_json(&ctx, repo, pv, r)),
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

/// `GET /repos/{owner}/{repo}/issues/comments` (`since` on `updated_at`; `sort` created|updated;
/// `direction` honoured only with `sort`, default ascending).
pub fn issue_comments(req: &ApiReq<'_>, owner: &str, name: &str) -> Reply {
    let repo = match find_repo(req, owner, name) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let since = match time_param(req, "since") {
        Ok(s) => s,
        Err(e) => return e,
    };
    let sort = req.q("sort").unwrap_or("created").to_string();
    if !["created", "updated"].contains(&sort.as_str()) {
        return error(422, "Validation Failed");
    }
    let direction = if req.q("sort").is_some() {
        req.q("direction").unwrap_or("asc")
    } else {
        "asc"
    }
    .to_string();
    let pr = req.page_req();
    let cached = req.state.store.repo(repo.gid, req.now);
    let snap = &cached.snap;
    let key = format!(
        "comments|{since:?}|{sort}|{direction}|{}|{}",
        pr.per_page, pr.page
    );
    let page = cached.pages.get_or_render(key, || {
        let mut list: Vec<&CommentView> = snap
            .comments
            .iter()
            .filter(|c| since.is_none_or(|s| c.updated_at as f64 >= s))
            .collect();
        list.sort_by(|a, b| {
            let ord = match sort.as_str() {
                "updated" => a.updated_at.cmp(&b.updated_at),
                _ => a.comment.created_at.cmp(&b.comment.created_at),
            }
            .then_with(|| a.comment.id.cmp(&b.comment.id));
            if direction == "desc" {
                ord.reverse()
            } else {
                ord
            }
        });
        let ctx = req.ctx();
        array_page(
            pr.slice(&list).iter().map(|c| comment_json(&ctx, repo, c)),
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
