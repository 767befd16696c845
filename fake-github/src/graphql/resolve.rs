//! The data behind the schema: GraphQL objects are views of the same repository snapshots the
//! REST endpoints render, so both APIs show exactly the same things at the same instant (search
//! results and their order, reviews including pending ones, conversation comments, the default
//! branch's commit history (see [`super::commits`])).
//!
//! GitHub differences reproduced: a bot's `login` has no `[bot]` suffix (REST
//! `dependabot[bot]` is GraphQL `dependabot`, `__typename: "Bot"`); node ids are the REST
//! `node_id`s.

use std::sync::Arc;

use super::commits::{self, GitRole};
use super::cost::Cost;
use super::out::Out;
use super::paging::{cursor, window, BadCursor, Window};
use super::plan::Field;
use crate::api::search::{self, SortKey, Target, RESULT_CAP};
use crate::auth::Credential;
use crate::budget::BudgetView;
use crate::render::WEB;
use crate::state::State;
use crate::store::CachedRepo;
use crate::timefmt::iso;
use crate::world::{UserIdx, UserKind, World};

/// What resolvers can see besides their object.
pub struct Ctx<'a> {
    pub state: &'a State,
    pub cred: &'a Credential,
    pub now: f64,
    pub cost: Cost,
    /// The `graphql` budget after this query's cost.
    pub budget: BudgetView,
}

/// A GraphQL object: cheap to clone (snapshots are shared).
#[derive(Debug, Clone)]
pub enum Obj {
    Query,
    RateLimit,
    Conn(Arc<ConnPage>),
    Edge(Arc<ConnPage>, usize),
    PageInfo(Arc<ConnPage>),
    /// Index into the snapshot's `issues`.
    Issue(Arc<CachedRepo>, usize),
    /// Index into the snapshot's `pulls`.
    Pull(Arc<CachedRepo>, usize),
    /// Index into the snapshot's `comments`.
    Comment(Arc<CachedRepo>, usize),
    /// Pull index, review index.
    Review(Arc<CachedRepo>, usize, usize),
    /// Index into `World::repos`.
    Repository(usize),
    Actor(UserIdx),
    /// Index into `World::orgs`.
    Org(usize),
    /// The default branch of the snapshot's repository (not empty).
    Ref(Arc<CachedRepo>),
    /// Index into the snapshot's `commits`.
    Commit(Arc<CachedRepo>, usize),
    /// A commit's author or committer.
    GitActor(Arc<CachedRepo>, usize, GitRole),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    Search,
    Comments,
    Reviews,
    History,
}

/// One page of a connection.
#[derive(Debug)]
pub struct ConnPage {
    pub kind: ConnKind,
    pub total: usize,
    /// (cursor, node) of the returned items.
    pub items: Vec<(String, Obj)>,
    pub window: Window,
}

/// A resolved field value, completed by the executor.
#[derive(Debug, Clone)]
pub enum Val {
    Null,
    Leaf(Out),
    Obj(Obj),
    List(Vec<Val>),
}

/// A field that could not be resolved: GitHub's error `type` and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub kind: &'static str,
    pub message: String,
}

impl From<BadCursor> for FieldError {
    fn from(e: BadCursor) -> FieldError {
        FieldError {
            kind: "INVALID_CURSOR_ARGUMENTS",
            message: e.to_string(),
        }
    }
}

impl Obj {
    pub fn type_name(&self, world: &World) -> &'static str {
        match self {
            Obj::Query => "Query",
            Obj::RateLimit => "RateLimit",
            Obj::Conn(p) => match p.kind {
                ConnKind::Search => "SearchResultItemConnection",
                ConnKind::Comments => "IssueCommentConnection",
                ConnKind::Reviews => "PullRequestReviewConnection",
                ConnKind::History => "CommitHistoryConnection",
            },
            Obj::Edge(p, _) => match p.kind {
                ConnKind::Search => "SearchResultItemEdge",
                ConnKind::Comments => "IssueCommentEdge",
                ConnKind::Reviews => "PullRequestReviewEdge",
                ConnKind::History => "CommitEdge",
            },
            Obj::PageInfo(_) => "PageInfo",
            Obj::Issue(..) => "Issue",
            Obj::Pull(..) => "PullRequest",
            Obj::Comment(..) => "IssueComment",
            Obj::Review(..) => "PullRequestReview",
            Obj::Repository(_) => "Repository",
            Obj::Actor(u) => match world.user(*u).kind {
                UserKind::Bot => "Bot",
                UserKind::User => "User",
            },
            Obj::Org(o) => match world.orgs[*o].kind {
                crate::world::OwnerKind::Organization => "Organization",
                crate::world::OwnerKind::User => "User",
            },
            Obj::Ref(_) => "Ref",
            Obj::Commit(..) => "Commit",
            Obj::GitActor(..) => "GitActor",
        }
    }
}

fn int(n: impl TryInto<i64>) -> Val {
    Val::Leaf(Out::Int(n.try_into().unwrap_or(i64::MAX)))
}

fn text(s: impl Into<String>) -> Val {
    Val::Leaf(Out::Str(s.into()))
}

fn time(t: i64) -> Val {
    text(iso(t))
}

fn opt_time(t: Option<i64>) -> Val {
    t.map_or(Val::Null, time)
}

fn boolean(b: bool) -> Val {
    Val::Leaf(Out::Bool(b))
}

/// Resolves `f` on `obj`. Schema fields the fake does not implement are internal errors.
pub fn resolve(obj: &Obj, f: &Field, ctx: &Ctx<'_>) -> Result<Val, FieldError> {
    let world = &ctx.state.world;
    let name = f.name.as_str();
    let v = match obj {
        Obj::Query => match name {
            "rateLimit" => Val::Obj(Obj::RateLimit),
            "repository" => Val::Obj(Obj::Repository(find_repo(f, ctx)?)),
            "search" => Val::Obj(Obj::Conn(Arc::new(search_page(f, ctx)?))),
            _ => return Err(unimplemented(obj, f, world)),
        },
        Obj::RateLimit => {
            let b = ctx.budget;
            match name {
                "cost" => int(ctx.cost.points),
                "limit" => int(b.limit),
                "nodeCount" => int(ctx.cost.nodes),
                "remaining" => int(b.remaining),
                "resetAt" => time(b.reset),
                "used" => int(b.used),
                _ => return Err(unimplemented(obj, f, world)),
            }
        }
        Obj::Conn(p) => match name {
            "issueCount" if p.kind == ConnKind::Search => int(p.total),
            "totalCount" if p.kind != ConnKind::Search => int(p.total),
            "codeCount" | "discussionCount" | "repositoryCount" | "userCount" | "wikiCount" => {
                int(0)
            }
            "pageInfo" => Val::Obj(Obj::PageInfo(p.clone())),
            "nodes" => Val::List(p.items.iter().map(|(_, o)| Val::Obj(o.clone())).collect()),
            "edges" => Val::List(
                (0..p.items.len())
                    .map(|i| Val::Obj(Obj::Edge(p.clone(), i)))
                    .collect(),
            ),
            _ => return Err(unimplemented(obj, f, world)),
        },
        Obj::Edge(p, i) => match (name, p.items.get(*i)) {
            ("cursor", Some((c, _))) => text(c.clone()),
            ("node", Some((_, o))) => Val::Obj(o.clone()),
            _ => return Err(unimplemented(obj, f, world)),
        },
        Obj::PageInfo(p) => match name {
            "hasNextPage" => boolean(p.window.has_next),
            "hasPreviousPage" => boolean(p.window.has_prev),
            "startCursor" => p.items.first().map_or(Val::Null, |(c, _)| text(c.clone())),
            "endCursor" => p.items.last().map_or(Val::Null, |(c, _)| text(c.clone())),
            _ => return Err(unimplemented(obj, f, world)),
        },
        Obj::Issue(c, i) => {
            issue_field(c, *i, f, ctx).ok_or_else(|| unimplemented(obj, f, world))??
        }
        Obj::Pull(c, i) => {
            pull_field(c, *i, f, ctx).ok_or_else(|| unimplemented(obj, f, world))??
        }
        Obj::Comment(c, i) => {
            let cv = &c.snap.comments[*i];
            let cm = &cv.comment;
            match name {
                "author" => Val::Obj(Obj::Actor(cm.user)),
                "body" => text("Looks good to me"),
                "createdAt" => time(cm.created_at),
                "databaseId" => int(cm.id),
                "id" => text(format!("IC_kwDO{}", cm.id)),
                "updatedAt" => time(cv.updated_at),
                "url" => {
                    let kind = if cm.is_pull { "pull" } else { "issues" };
                    text(format!(
                        "{WEB}/{}/{kind}/{}#issuecomment-{}",
                        full_name(world, c.snap.repo),
                        cm.issue_number,
                        cm.id
                    ))
                }
                _ => return Err(unimplemented(obj, f, world)),
            }
        }
        Obj::Review(c, p, r) => {
            let pv = &c.snap.pulls[*p];
            let rv = &pv.pull.reviews[*r];
            match name {
                "author" => Val::Obj(Obj::Actor(rv.user)),
                "body" => text(""),
                "createdAt" => time(rv.visible_from),
                "databaseId" => int(rv.id),
                "id" => text(format!("PRR_kwDO{}", rv.id)),
                "state" => text(rv.state.as_str()),
                "submittedAt" => opt_time(rv.submitted_at),
                "updatedAt" => time(rv.submitted_at.unwrap_or(rv.visible_from)),
                "url" => text(format!(
                    "{WEB}/{}/pull/{}#pullrequestreview-{}",
                    full_name(world, c.snap.repo),
                    pv.pull.number,
                    rv.id
                )),
                _ => return Err(unimplemented(obj, f, world)),
            }
        }
        Obj::Repository(gid) => {
            let repo = &world.repos[*gid];
            match name {
                "databaseId" => int(repo.id),
                "defaultBranchRef" => commits::default_branch_ref(*gid, ctx),
                "id" => text(format!("R_kgDO{}", repo.id)),
                "isArchived" => boolean(repo.archived),
                "isFork" => boolean(repo.fork),
                "issue" | "pullRequest" => item_by_number(*gid, f, ctx)?,
                "name" => text(repo.name.clone()),
                "nameWithOwner" => text(full_name(world, *gid)),
                "owner" => Val::Obj(Obj::Org(repo.org)),
                "url" => text(format!("{WEB}/{}", full_name(world, *gid))),
                _ => return Err(unimplemented(obj, f, world)),
            }
        }
        Obj::Actor(u) => {
            let user = world.user(*u);
            match name {
                "databaseId" => int(user.id),
                "id" => text(format!("MDQ6VXNlcn{}", user.id)),
                "login" => text(graphql_login(&user.login, user.kind)),
                "url" => text(match user.kind {
                    UserKind::Bot => {
                        format!("{WEB}/apps/{}", graphql_login(&user.login, user.kind))
                    }
                    UserKind::User => format!("{WEB}/{}", user.login),
                }),
                _ => return Err(unimplemented(obj, f, world)),
            }
        }
        Obj::Org(o) => {
            let org = &world.orgs[*o];
            match name {
                "databaseId" => int(org.id),
                "id" => text(format!("MDQ6VXNlcn{}", org.id)),
                "login" => text(org.login.clone()),
                "url" => text(format!("{WEB}/{}", org.login)),
                _ => return Err(unimplemented(obj, f, world)),
            }
        }
        Obj::Ref(c) => commits::ref_field(c, f, ctx).ok_or_else(|| unimplemented(obj, f, world))?,
        Obj::Commit(c, i) => {
            commits::commit_field(c, *i, f, ctx).ok_or_else(|| unimplemented(obj, f, world))??
        }
        Obj::GitActor(c, i, role) => commits::git_actor_field(c, *i, *role, f, ctx)
            .ok_or_else(|| unimplemented(obj, f, world))?,
    };
    Ok(v)
}

/// GitHub's GraphQL `login` of a bot drops the `[bot]` suffix the REST API shows.
pub fn graphql_login(rest_login: &str, kind: UserKind) -> &str {
    match kind {
        UserKind::Bot => rest_login.strip_suffix("[bot]").unwrap_or(rest_login),
        UserKind::User => rest_login,
    }
}

fn unimplemented(obj: &Obj, f: &Field, world: &World) -> FieldError {
    FieldError {
        kind: "INTERNAL",
        message: format!(
            "Field '{}' on type '{}' is not implemented by the fake",
            f.name,
            obj.type_name(world)
        ),
    }
}

pub(super) fn full_name(world: &World, gid: usize) -> String {
    let repo = &world.repos[gid];
    format!("{}/{}", world.orgs[repo.org].login, repo.name)
}

/// Fields shared by `Issue` and `PullRequest`; `None` when `f` is not one of them.
fn common_field(
    c: &Arc<CachedRepo>,
    f: &Field,
    ctx: &Ctx<'_>,
    number: u64,
    is_pull: bool,
) -> Option<Result<Val, FieldError>> {
    let gid = c.snap.repo;
    let v = match f.name.as_str() {
        "repository" => Val::Obj(Obj::Repository(gid)),
        "number" => int(number),
        "comments" => {
            return Some(
                comments_page(c, number, is_pull, f).map(|p| Val::Obj(Obj::Conn(Arc::new(p)))),
            )
        }
        "url" => {
            let kind = if is_pull { "pull" } else { "issues" };
            text(format!(
                "{WEB}/{}/{kind}/{number}",
                full_name(&ctx.state.world, gid)
            ))
        }
        _ => return None,
    };
    Some(Ok(v))
}

fn issue_field(
    c: &Arc<CachedRepo>,
    i: usize,
    f: &Field,
    ctx: &Ctx<'_>,
) -> Option<Result<Val, FieldError>> {
    let iv = &c.snap.issues[i];
    let is = &iv.issue;
    let v = match f.name.as_str() {
        "author" => Val::Obj(Obj::Actor(is.author)),
        "closed" => boolean(iv.closed_at.is_some()),
        "closedAt" => opt_time(iv.closed_at),
        "createdAt" => time(is.created_at),
        "databaseId" => int(is.id),
        "id" => text(format!("I_kwDO{}", is.id)),
        "state" => text(if iv.closed_at.is_some() {
            "CLOSED"
        } else {
            "OPEN"
        }),
        "title" => text(is.title.clone()),
        "updatedAt" => time(iv.updated_at),
        _ => return common_field(c, f, ctx, is.number, false),
    };
    Some(Ok(v))
}

fn pull_field(
    c: &Arc<CachedRepo>,
    i: usize,
    f: &Field,
    ctx: &Ctx<'_>,
) -> Option<Result<Val, FieldError>> {
    let pv = &c.snap.pulls[i];
    let p = &pv.pull;
    let v = match f.name.as_str() {
        "author" => Val::Obj(Obj::Actor(p.author)),
        "closed" => boolean(pv.closed_at.is_some()),
        "closedAt" => opt_time(pv.closed_at),
        "createdAt" => time(p.created_at),
        "databaseId" => int(p.id),
        "id" => text(format!("PR_kwDO{}", p.id)),
        "merged" => boolean(pv.merged_at.is_some()),
        "mergedAt" => opt_time(pv.merged_at),
        "reviews" => {
            return Some(reviews_page(c, i, f, ctx).map(|p| Val::Obj(Obj::Conn(Arc::new(p)))))
        }
        "state" => text(match (pv.merged_at, pv.closed_at) {
            (Some(_), _) => "MERGED",
            (None, Some(_)) => "CLOSED",
            (None, None) => "OPEN",
        }),
        "title" => text(p.title.clone()),
        "updatedAt" => time(pv.updated_at),
        _ => return common_field(c, f, ctx, p.number, true),
    };
    Some(Ok(v))
}

fn not_found(message: String) -> FieldError {
    FieldError {
        kind: "NOT_FOUND",
        message,
    }
}

/// `Query.repository(owner:, name:)`; an installation sees its own org only (as REST).
fn find_repo(f: &Field, ctx: &Ctx<'_>) -> Result<usize, FieldError> {
    let world = &ctx.state.world;
    let (owner, name) = (
        f.arg_str("owner").unwrap_or(""),
        f.arg_str("name").unwrap_or(""),
    );
    world
        .repo_by_name(owner, name)
        .filter(|r| match ctx.cred {
            Credential::Installation { id } => world.orgs[r.org].installation_id == *id,
            _ => true,
        })
        .map(|r| r.gid)
        .ok_or_else(|| {
            not_found(format!(
                "Could not resolve to a Repository with the name '{owner}/{name}'."
            ))
        })
}

/// `Repository.issue(number:)` / `Repository.pullRequest(number:)` at the current instant.
fn item_by_number(gid: usize, f: &Field, ctx: &Ctx<'_>) -> Result<Val, FieldError> {
    let n = f.arg_i64("number").unwrap_or(0);
    let c = ctx.state.store.repo(gid, ctx.now);
    let found = u64::try_from(n).ok().and_then(|n| {
        if f.name == "issue" {
            c.snap
                .issues
                .binary_search_by_key(&n, |i| i.issue.number)
                .ok()
                .map(|i| Obj::Issue(c.clone(), i))
        } else {
            c.snap
                .pulls
                .binary_search_by_key(&n, |p| p.pull.number)
                .ok()
                .map(|i| Obj::Pull(c.clone(), i))
        }
    });
    found.map(Val::Obj).ok_or_else(|| {
        let what = if f.name == "issue" {
            "an Issue"
        } else {
            "a PullRequest"
        };
        not_found(format!(
            "Could not resolve to {what} with the number of {n}."
        ))
    })
}

pub(super) fn page(
    kind: ConnKind,
    total: usize,
    w: Window,
    node: impl Fn(usize) -> Obj,
) -> ConnPage {
    ConnPage {
        kind,
        total,
        items: (w.start..w.end).map(|k| (cursor(k), node(k))).collect(),
        window: w,
    }
}

/// `Query.search(type: ISSUE)`: the REST search at the same instant, sorted by the `sort:`
/// qualifier (default: the REST default, `updated` descending), the first 1,000 reachable.
fn search_page(f: &Field, ctx: &Ctx<'_>) -> Result<ConnPage, FieldError> {
    let q = f.arg_str("query").unwrap_or("");
    let issues = matches!(f.arg_str("type"), Some("ISSUE" | "ISSUE_ADVANCED"));
    let hits = if issues && !q.trim().is_empty() {
        let query = search::parse_query(q).map_err(|message| FieldError {
            kind: "UNPROCESSABLE",
            message,
        })?;
        let (sort, asc) = query.sort.unwrap_or((SortKey::Updated, false));
        search::run(ctx.state, ctx.cred, ctx.now, &query, sort, asc)
    } else {
        Vec::new()
    };
    let reachable = hits.len().min(RESULT_CAP);
    let w = window(reachable, f)?;
    Ok(page(ConnKind::Search, hits.len(), w, |k| {
        let h = &hits[k];
        match h.target {
            Target::Pull(i) => Obj::Pull(h.repo.clone(), i),
            Target::Issue(i) => Obj::Issue(h.repo.clone(), i),
        }
    }))
}

/// Conversation comments of issue or pull request `number`, oldest first (as REST lists them).
fn comments_page(
    c: &Arc<CachedRepo>,
    number: u64,
    is_pull: bool,
    f: &Field,
) -> Result<ConnPage, FieldError> {
    let idx: Vec<usize> = c
        .snap
        .comments
        .iter()
        .enumerate()
        .filter(|(_, cv)| cv.comment.issue_number == number && cv.comment.is_pull == is_pull)
        .map(|(i, _)| i)
        .collect();
    let w = window(idx.len(), f)?;
    Ok(page(ConnKind::Comments, idx.len(), w, |k| {
        Obj::Comment(c.clone(), idx[k])
    }))
}

/// Reviews of a pull request in REST order (oldest first, pending ones included), filtered by
/// `states` and `author` (a login, GraphQL form) when given.
fn reviews_page(
    c: &Arc<CachedRepo>,
    p: usize,
    f: &Field,
    ctx: &Ctx<'_>,
) -> Result<ConnPage, FieldError> {
    let world = &ctx.state.world;
    let reviews = &c.snap.pulls[p].pull.reviews;
    let states: Option<Vec<&str>> = f
        .args
        .get("states")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect());
    let author = f.arg_str("author");
    let mut idx: Vec<usize> = (0..reviews.len())
        .filter(|r| {
            let rv = &reviews[*r];
            let user = world.user(rv.user);
            states
                .as_ref()
                .is_none_or(|s| s.contains(&rv.state.as_str()))
                && author
                    .is_none_or(|a| a.eq_ignore_ascii_case(graphql_login(&user.login, user.kind)))
        })
        .collect();
    idx.sort_by_key(|r| (reviews[*r].visible_from, reviews[*r].id));
    let w = window(idx.len(), f)?;
    Ok(page(ConnKind::Reviews, idx.len(), w, |k| {
        Obj::Review(c.clone(), p, idx[k])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bots lose the `[bot]` suffix, users keep their login.
    #[test]
    fn bot_logins_drop_the_suffix() {
        assert_eq!(
            graphql_login("dependabot[bot]", UserKind::Bot),
            "dependabot"
        );
        assert_eq!(graphql_login("alice[bot]", UserKind::User), "alice[bot]");
        assert_eq!(graphql_login("alice", UserKind::User), "alice");
    }
}
