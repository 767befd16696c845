//! `GET /search/issues` for the qualifiers the exporter uses: `org:` (organizations only: a
//! user account named by `org:` matches nothing), `user:` (any account), `repo:`, `is:pr`,
//! `is:issue` (also `type:`), `updated:` with `>=`, `>`, `<=`, `<`, `A..B` or a plain date (that
//! whole UTC day). Other terms are ignored. Results sort by `updated` (default), `created` or
//! `comments`, `order` desc by default; only the first 1,000 results are reachable.
//!
//! The query parser and the search itself ([`parse_query`], [`run`]) are shared with GraphQL's
//! `search(type: ISSUE)`, which also reads the `sort:` qualifier ([`SearchQuery::sort`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use super::{error, ApiReq, Reply};
use crate::auth::Credential;
use crate::render::{search_item_for_issue, search_item_for_pull, search_item_json};
use crate::state::State;
use crate::store::{CachedRepo, Page};
use crate::timefmt::{parse_iso, DAY};
use crate::world::OwnerKind;

/// Only this many results of a search can be reached (REST pages, GraphQL cursors).
pub const RESULT_CAP: usize = 1000;

/// What results are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Updated,
    Comments,
}

impl SortKey {
    /// The REST `sort` parameter (unknown values sort by `updated`, the fake's default).
    pub fn from_param(v: &str) -> SortKey {
        match v {
            "created" => SortKey::Created,
            "comments" => SortKey::Comments,
            _ => SortKey::Updated,
        }
    }
}

/// A parsed search query string.
#[derive(Debug, Default)]
pub struct SearchQuery {
    /// `org:` logins: organizations only (a user account named here matches nothing).
    orgs: Vec<String>,
    /// `user:` logins: any account, organization or user.
    users: Vec<String>,
    repos: Vec<(String, String)>,
    pulls: Option<bool>,
    updated_min: Option<f64>,
    updated_max: Option<f64>,
    /// The `sort:` qualifier (`sort:updated-desc`, `sort:created-asc`, `sort:comments`): key
    /// and ascending. REST ignores it (it has the `sort`/`order` parameters); GraphQL uses it.
    pub sort: Option<(SortKey, bool)>,
}

/// Parses the qualifiers; `Err` is the message of REST's 422.
pub fn parse_query(q: &str) -> Result<SearchQuery, String> {
    let mut out = SearchQuery::default();
    for term in q.split_whitespace() {
        let Some((k, v)) = term.split_once(':') else {
            continue;
        };
        match k {
            "org" => out.orgs.push(v.to_lowercase()),
            "user" => out.users.push(v.to_lowercase()),
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
            "sort" => out.sort = parse_sort(v),
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

/// `updated-desc`, `created-asc`, `comments` (descending when no direction is given); other
/// values (`interactions`, `reactions-+1`, …) keep the default order.
fn parse_sort(v: &str) -> Option<(SortKey, bool)> {
    let (key, dir) = v.split_once('-').unwrap_or((v, "desc"));
    let key = match key {
        "created" => SortKey::Created,
        "updated" => SortKey::Updated,
        "comments" => SortKey::Comments,
        _ => return None,
    };
    match dir {
        "asc" => Some((key, true)),
        "desc" => Some((key, false)),
        _ => None,
    }
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

/// One search result: an issue or a pull request of a repository snapshot.
#[derive(Debug, Clone)]
pub struct Hit {
    pub repo: Arc<CachedRepo>,
    pub target: Target,
    pub id: u64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Conversation comments visible now.
    pub comments: usize,
}

/// Which item of [`Hit::repo`]'s snapshot a hit is (index into `pulls` or `issues`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Pull(usize),
    Issue(usize),
}

/// Every result of `query` at `now` visible to `cred` (an installation sees its org only),
/// sorted by `sort` (ties by id), all of them: callers cap at [`RESULT_CAP`].
pub fn run(
    state: &State,
    cred: &Credential,
    now: f64,
    query: &SearchQuery,
    sort: SortKey,
    ascending: bool,
) -> Vec<Hit> {
    let world = &state.world;
    let scope_inst = match cred {
        Credential::Installation { id } => Some(*id),
        _ => None,
    };
    let mut hits = Vec::new();
    for org in &world.orgs {
        if scope_inst.is_some_and(|i| i != org.installation_id) {
            continue;
        }
        let login = org.login.to_lowercase();
        let unscoped = query.orgs.is_empty() && query.users.is_empty();
        let named = query.users.contains(&login)
            || (org.kind == OwnerKind::Organization && query.orgs.contains(&login));
        if !unscoped && !named {
            continue;
        }
        let cached = state.store.org(org.idx, now);
        for c in &cached.repos {
            let name = world.repos[c.snap.repo].name.to_lowercase();
            if !query.repos.is_empty()
                && !query.repos.iter().any(|(o, r)| *o == login && *r == name)
            {
                continue;
            }
            collect_repo(c, query, &mut hits);
        }
    }
    hits.sort_by(|a, b| {
        let ord = match sort {
            SortKey::Created => a.created_at.cmp(&b.created_at),
            SortKey::Comments => a.comments.cmp(&b.comments),
            SortKey::Updated => a.updated_at.cmp(&b.updated_at),
        }
        .then_with(|| a.id.cmp(&b.id));
        if ascending {
            ord
        } else {
            ord.reverse()
        }
    });
    hits
}

fn collect_repo(c: &Arc<CachedRepo>, query: &SearchQuery, hits: &mut Vec<Hit>) {
    let snap = &c.snap;
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for cm in &snap.comments {
        *counts.entry(cm.comment.issue_number).or_default() += 1;
    }
    let count = |n: u64| counts.get(&n).copied().unwrap_or(0);
    let in_range = |u: i64| {
        let u = u as f64;
        query.updated_min.is_none_or(|m| u >= m) && query.updated_max.is_none_or(|m| u <= m)
    };
    if query.pulls != Some(false) {
        for (i, p) in snap.pulls.iter().enumerate() {
            if in_range(p.updated_at) {
                hits.push(Hit {
                    repo: c.clone(),
                    target: Target::Pull(i),
                    id: p.pull.id,
                    created_at: p.pull.created_at,
                    updated_at: p.updated_at,
                    comments: count(p.pull.number),
                });
            }
        }
    }
    if query.pulls != Some(true) {
        for (i, is) in snap.issues.iter().enumerate() {
            if in_range(is.updated_at) {
                hits.push(Hit {
                    repo: c.clone(),
                    target: Target::Issue(i),
                    id: is.issue.id,
                    created_at: is.issue.created_at,
                    updated_at: is.updated_at,
                    comments: count(is.issue.number),
                });
            }
        }
    }
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
    let sort = SortKey::from_param(req.q("sort").unwrap_or("updated"));
    let ascending = req.q("order") == Some("asc");
    let hits = run(req.state, req.cred, req.now, &query, sort, ascending);
    let total = hits.len();
    let reachable = &hits[..total.min(RESULT_CAP)];
    let ctx = req.ctx();
    let world = &req.state.world;
    let page_items: Vec<_> = pr
        .slice(reachable)
        .iter()
        .map(|h| {
            let snap = &h.repo.snap;
            let repo = &world.repos[snap.repo];
            let item = match h.target {
                Target::Pull(i) => search_item_for_pull(repo, &snap.pulls[i], h.comments),
                Target::Issue(i) => search_item_for_issue(repo, &snap.issues[i], h.comments),
            };
            search_item_json(&ctx, &item)
        })
        .collect();
    let body = json!({"total_count": total, "incomplete_results": false, "search_type": "lexical", "items": page_items});
    let page = Page::new(
        serde_json::to_vec(&body).unwrap_or_default(),
        pr.last_page(reachable.len()) as u32,
    );
    Reply::Page {
        status: 200,
        page: Arc::new(page),
        page_no: pr.page,
        paginate: true,
    }
}
