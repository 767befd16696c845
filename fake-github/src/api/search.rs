//! `GET /search/issues` for the qualifiers the exporter uses: `org:`, `repo:`, `is:pr`,
//! `is:issue` (also `type:`), `updated:` with `>=`, `>`, `<=`, `<`, `A..B` or a plain date (that
//! whole UTC day). Other terms are ignored. Results sort by `updated` (default), `created` or
//! `comments`, `order` desc by default; only the first 1,000 results are reachable.

use serde_json::json;

use super::{error, ApiReq, Reply};
use crate::auth::Credential;
use crate::render::{search_item_for_issue, search_item_for_pull, search_item_json, SearchItem};
use crate::store::Page;
use crate::timefmt::{parse_iso, DAY};

const RESULT_CAP: usize = 1000;

#[derive(Debug, Default)]
struct Query {
    orgs: Vec<String>,
    repos: Vec<(String, String)>,
    pulls: Option<bool>,
    updated_min: Option<f64>,
    updated_max: Option<f64>,
}

fn parse_query(q: &str) -> Result<Query, String> {
    let mut out = Query::default();
    for term in q.split_whitespace() {
        let Some((k, v)) = term.split_once(':') else {
            continue;
        };
        match k {
            "org" | "user" => out.orgs.push(v.to_lowercase()),
            "repo" => {
                let (o, r) = v
                    .split_once('/')
                    .ok_or_else(|| format!("invalid repo qualifier {v}"))?;
                out.repos.push((o.to_lowercase(), r.to_lowercase()));
            }
            "is" | "type" => match v {
                "pr" | "pull-request" => out.pulls = Some(true),
                "issue" => out.pulls = Some(false),
                _ => {}
            },
            "updated" => {
                let bad = || format!("invalid updated qualifier {v}");
                if let Some((a, b)) = v.split_once("..") {
                    out.updated_min = Some(parse_iso(a).ok_or_else(bad)?);
                    out.updated_max = Some(end_of(b).ok_or_else(bad)?);
                } else if let Some(x) = v.strip_prefix(">=") {
                    out.updated_min = Some(parse_iso(x).ok_or_else(bad)?);
                } else if let Some(x) = v.strip_prefix('>') {
                    out.updated_min = Some(parse_iso(x).ok_or_else(bad)? + 1.0);
                } else if let Some(x) = v.strip_prefix("<=") {
                    out.updated_max = Some(end_of(x).ok_or_else(bad)?);
                } else if let Some(x) = v.strip_prefix('<') {
                    out.updated_max = Some(parse_iso(x).ok_or_else(bad)? - 1.0);
                } else {
                    let start = parse_iso(v).ok_or_else(bad)?;
                    out.updated_min = Some(start);
                    out.updated_max = Some(end_of(v).ok_or_else(bad)?);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Inclusive upper bound of a date (its last second) or a timestamp (itself).
fn end_of(v: &str) -> Option<f64> {
    let t = parse_iso(v)?;
    Some(if v.len() == 10 {
        t + DAY as f64 - 1.0
    } else {
        t
    })
}

pub fn search_issues(req: &ApiReq<'_>) -> Reply {
    let Some(raw_q) = req.q("q").filter(|q| !q.trim().is_empty()) else {
        return error(422, "Validation Failed");
    };
    let query = match parse_query(raw_q) {
        Ok(q) => q,
        Err(e) => return error(422, &e),
    };
    let pr = req.page_req();
    if (pr.page - 1) * pr.per_page >= RESULT_CAP {
        return error(422, "Only the first 1000 search results are available");
    }
    let world = &req.state.world;
    let sort = req.q("sort").unwrap_or("updated");
    let order = req.q("order").unwrap_or("desc");
    let scope_inst = match req.cred {
        Credential::Installation { id } => Some(*id),
        _ => None,
    };
    let mut cached_repos = Vec::new();
    for org in &world.orgs {
        if scope_inst.is_some_and(|i| i != org.installation_id) {
            continue;
        }
        if !query.orgs.is_empty() && !query.orgs.contains(&org.login.to_lowercase()) {
            continue;
        }
        let cached = req.state.store.org(org.idx, req.now);
        for c in &cached.repos {
            let repo = &world.repos[c.snap.repo];
            if query.repos.is_empty()
                || query
                    .repos
                    .iter()
                    .any(|(o, r)| *o == org.login.to_lowercase() && *r == repo.name.to_lowercase())
            {
                cached_repos.push(c.clone());
            }
        }
    }
    let mut items: Vec<SearchItem<'_>> = Vec::new();
    for c in &cached_repos {
        let repo = &world.repos[c.snap.repo];
        let count = |n: u64| {
            c.snap
                .comments
                .iter()
                .filter(|cm| cm.comment.issue_number == n)
                .count()
        };
        if query.pulls != Some(false) {
            items.extend(
                c.snap
                    .pulls
                    .iter()
                    .map(|p| search_item_for_pull(repo, p, count(p.pull.number))),
            );
        }
        if query.pulls != Some(true) {
            items.extend(
                c.snap
                    .issues
                    .iter()
                    .map(|i| search_item_for_issue(repo, i, count(i.issue.number))),
            );
        }
    }
    items.retain(|it| {
        let u = it.updated_at as f64;
        query.updated_min.is_none_or(|m| u >= m) && query.updated_max.is_none_or(|m| u <= m)
    });
    items.sort_by(|a, b| {
        let ord = match sort {
            "created" => a.created_at.cmp(&b.created_at),
            "comments" => a.comments.cmp(&b.comments),
            _ => a.updated_at.cmp(&b.updated_at),
        }
        .then_with(|| a.id.cmp(&b.id));
        if order == "asc" {
            ord
        } else {
            ord.reverse()
        }
    });
    let total = items.len();
    let reachable = &items[..total.min(RESULT_CAP)];
    let ctx = req.ctx();
    let page_items: Vec<_> = pr
        .slice(reachable)
        .iter()
        .map(|it| search_item_json(&ctx, it))
        .collect();
    let body = json!({"total_count": total, "incomplete_results": false, "search_type": "lexical", "items": page_items});
    let page = Page::new(
        serde_json::to_vec(&body).unwrap_or_default(),
        pr.last_page(reachable.len()) as u32,
    );
    Reply::Page {
        status: 200,
        page: std::sync::Arc::new(page),
        page_no: pr.page,
        paginate: true,
    }
}
